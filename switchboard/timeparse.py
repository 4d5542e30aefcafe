"""Read times as people write them: one instant, or a cron expression and a zone.

- ``parse_instant`` reads "in 5 minutes", "tomorrow at 9am", "next monday at
  3pm" or ISO 8601 as an aware UTC datetime. The common phrases go through a
  small grammar of our own (exact, and aware of daylight saving); the long tail
  goes to dateparser, imported only then because it is slow to import.
- ``parse_recurring`` reads "every weekday at 10am" as ``("0 10 * * 1-5", zone)``
  with a grammar of our own. It refuses what cron cannot say exactly ("every 90
  minutes", "every 3 days") instead of quietly approximating it.
- ``validate_cron`` and ``describe_cron`` check and explain a cron expression;
  ``looks_recurring`` tells a repeating phrase from a one-time one.

Wall times are read in the caller's zone. One that a daylight-saving jump
forward skips becomes the first instant after the jump; one that a jump back
repeats is read as its first occurrence. A day named without a time of day
("tomorrow", "every monday") means 09:00.
"""

from __future__ import annotations

import re
import zoneinfo
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta

from croniter import croniter

from switchboard.exceptions import InvalidInputError, TimeParseError, UnknownZoneError

DEFAULT_TIME = time(9, 0)
"""The time of day meant when a phrase names a day but no time."""

_INSTANT_HELP = 'try "in 5 minutes", "tomorrow at 9am" or an ISO 8601 time such as 2026-03-11T09:00:00+01:00'
_SCHEDULE_HELP = (
    'try "every monday at 9am", "every weekday at 10am", "every 15 minutes" or a cron expression such as "0 9 * * 1-5"'
)
_CRON_HELP = (
    "a cron expression has 5 fields: minute (0-59), hour (0-23), day of month (1-31), "
    "month (1-12) and day of week (0-6, Sunday is 0)"
)


# ---------------------------------------------------------------- zones


# Names that ZoneInfo opens but that are not places: "localtime" would make a
# schedule fire at a different instant on every machine that runs the tick.
_NOT_ZONES = {"localtime", "posixrules", "Factory"}


def zone(name: str) -> zoneinfo.ZoneInfo:
    """Return the IANA time zone called ``name``; raise UnknownZoneError if there is none."""
    try:
        if name in _NOT_ZONES:
            raise zoneinfo.ZoneInfoNotFoundError(name)
        return zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError, OSError) as exc:
        raise UnknownZoneError(_unknown_zone_message(name)) from exc


def _unknown_zone_message(name: str) -> str:
    """Say the zone is unknown, and suggest the right spelling when only the case is wrong."""
    message = f'unknown time zone "{name}" — use an IANA name such as "Europe/Berlin" or "UTC"'
    wanted = name.strip().lower()
    for key in sorted(zoneinfo.available_timezones() - _NOT_ZONES):
        if key.lower() == wanted:
            return f'{message} (did you mean "{key}"?)'
    return message


def _wall(instant: datetime, tz: zoneinfo.ZoneInfo) -> datetime:
    """The naive wall-clock time that ``instant`` shows in ``tz``."""
    return instant.astimezone(tz).replace(tzinfo=None)


def _localize(wall: datetime, tz: zoneinfo.ZoneInfo) -> datetime:
    """Return the UTC instant at which ``tz`` shows the naive ``wall`` time (see the module doc for DST)."""
    first = wall.replace(tzinfo=tz, fold=0).astimezone(UTC)
    if _wall(first, tz) == wall:
        return first
    return _end_of_gap(wall, tz)


def _end_of_gap(wall: datetime, tz: zoneinfo.ZoneInfo) -> datetime:
    """Return the instant a clock jumps forward over the skipped wall time ``wall``."""
    # The two readings of a skipped time (old offset, new offset) lie on either
    # side of the jump; the jump is the first second whose wall time is later.
    readings = [wall.replace(tzinfo=tz, fold=fold).timestamp() for fold in (0, 1)]
    before, after = int(min(readings)), int(max(readings))
    while after - before > 1:
        middle = (before + after) // 2
        if _wall(datetime.fromtimestamp(middle, UTC), tz) > wall:
            after = middle
        else:
            before = middle
    return datetime.fromtimestamp(after, UTC)


# ---------------------------------------------------------------- cron

# (name, lowest, highest, how to say the range) for the five fields, in order.
_CRON_FIELDS = (
    ("minute", 0, 59, "0-59"),
    ("hour", 0, 23, "0-23"),
    ("day of month", 1, 31, "1-31"),
    ("month", 1, 12, "1-12"),
    ("day of week", 0, 7, "0-6 (Sunday is 0, or 7)"),
)

# The nicknames classic cron and croniter accept, spelled out so every stored
# schedule has the same five-field shape.
_CRON_NICKNAMES = {
    "@yearly": "0 0 1 1 *",
    "@annually": "0 0 1 1 *",
    "@monthly": "0 0 1 * *",
    "@weekly": "0 0 * * 0",
    "@daily": "0 0 * * *",
    "@midnight": "0 0 * * *",
    "@hourly": "0 * * * *",
}


def validate_cron(expr: str) -> str:
    """Return ``expr`` as a normalised 5-field cron expression; raise TimeParseError saying what is wrong."""
    shown = " ".join(expr.split())
    fields = _CRON_NICKNAMES.get(shown.lower(), shown).split()
    if len(fields) in (6, 7):
        raise TimeParseError(f'"{shown}" has {len(fields)} fields: seconds and years are not supported — {_CRON_HELP}')
    if len(fields) != 5:
        raise TimeParseError(f'"{shown}" is not a cron expression — {_CRON_HELP}')
    for value, spec in zip(fields, _CRON_FIELDS, strict=True):
        _check_cron_field(value, spec, shown)
    cron = " ".join(fields)
    if not croniter.is_valid(cron):
        raise TimeParseError(f'"{shown}" is not a valid cron expression — {_CRON_HELP}')
    if not croniter.is_valid(cron, strict=True):
        raise TimeParseError(
            f'"{shown}" never fires: none of its months has that day — check the day of month and the month'
        )
    return cron


def _check_cron_field(value: str, spec: tuple[str, int, int, str], cron: str) -> None:
    """Raise a specific TimeParseError for an out-of-range number or step; croniter judges the rest."""
    name, lowest, highest, allowed = spec
    for item in value.split(","):
        base, slash, step = item.partition("/")
        if slash and (not step.isdigit() or int(step) == 0):
            raise TimeParseError(f'{name} step must be a whole number from 1, got "{item}" in "{cron}"')
        numbers = re.fullmatch(r"(\d+)(?:-(\d+))?", base)
        for number in numbers.groups() if numbers else ():
            if number is not None and not lowest <= int(number) <= highest:
                raise TimeParseError(f'{name} must be {allowed}, got {number} in "{cron}"')


def describe_cron(cron: str) -> str:
    """Say in English when ``cron`` fires ("At 09:00 AM, Monday through Friday"); the cron itself if that fails."""
    try:
        # Imported here: only explain and list need it, and it reads locale files.
        from cron_descriptor import Options, get_description

        # English whatever the machine's locale (and no warning when it has none): needs cron-descriptor 2.
        options = Options(locale_code="en_US", use_24hour_time_format=False)
        description: str = get_description(cron, options)
    except Exception:  # a description is a courtesy: it must never break explain or list
        return cron
    return description


def _looks_like_cron(text: str) -> bool:
    """Whether ``text`` is written as a cron expression (right or wrong) rather than as words."""
    fields = text.split()
    if len(fields) == 1:
        return fields[0].startswith("@")
    numeric = all(re.fullmatch(r"[\d*/,?-]+", f) for f in fields[:2])
    return numeric and (len(fields) >= 5 or "*" in text)


_REPEATING_WORDS = re.compile(r"\b(?:hourly|daily|weekly|monthly|yearly|annually|weekdays|weekends)\b")


def looks_recurring(text: str) -> bool:
    """Whether a phrase asks for a repeating schedule ("every monday at 9am", "daily", a cron) rather than one time."""
    phrase = _normalise(text)
    starts = re.match(r"(?:every|each)\b", phrase)
    return bool(starts or _REPEATING_WORDS.search(phrase) or _looks_like_cron(" ".join(text.split())))


# ---------------------------------------------------------------- words

_WEEKDAYS = {
    "sunday": 0, "sun": 0,
    "monday": 1, "mon": 1,
    "tuesday": 2, "tue": 2, "tues": 2,
    "wednesday": 3, "wed": 3,
    "thursday": 4, "thu": 4, "thur": 4, "thurs": 4,
    "friday": 5, "fri": 5,
    "saturday": 6, "sat": 6,
}  # fmt: skip
_MONTHS = {
    name: number
    for number, names in enumerate(
        [("january", "jan"), ("february", "feb"), ("march", "mar"), ("april", "apr"), ("may",),
         ("june", "jun"), ("july", "jul"), ("august", "aug"), ("september", "sep", "sept"),
         ("october", "oct"), ("november", "nov"), ("december", "dec")],
        start=1,
    )
    for name in names
}  # fmt: skip
_ORDINAL_WORDS = {"first": 1, "second": 2, "third": 3, "fourth": 4, "fifth": 5}


def _alternatives(words: Iterable[str]) -> str:
    """A regex alternation of ``words``, longest first so "monday" wins over "mon"."""
    return "|".join(sorted(words, key=len, reverse=True))


_WEEKDAY = rf"(?:{_alternatives(_WEEKDAYS)})s?"
_MONTH = rf"(?:{_alternatives(_MONTHS)})"
_TIME = r"(?:\d{1,2}(?::\d{2})?\s?(?:am|pm)|\d{1,2}:\d{2}|noon|midday|midnight)"
_TIME_RE = re.compile(rf"(?:\bat\s+)?\b({_TIME})\b")


def _weekday(word: str) -> int:
    """Cron's number (Sunday is 0) for a weekday name, abbreviation or plural."""
    return _WEEKDAYS[word] if word in _WEEKDAYS else _WEEKDAYS[word[:-1]]


def _normalise(text: str) -> str:
    """Lower-case ``text``, write a.m./p.m. as am/pm, commas and & as "and", and single spaces."""
    text = text.strip().lower()
    text = re.sub(r"(?<=[\d\s])([ap])\.\s?m\b\.?", r"\1m", text)
    text = re.sub(r"\s*(?:,|&)\s*", " and ", text)
    return " ".join(text.split())


def _time_of_day(text: str) -> time:
    """Read "9am", "9:30 pm", "14:30", "noon" or "midnight" (already normalised) as a time."""
    if text in ("noon", "midday"):
        return time(12)
    if text == "midnight":
        return time(0)
    parts = re.fullmatch(r"(\d{1,2})(?::(\d{2}))?\s?(am|pm)?", text)
    if parts is None:
        raise TimeParseError(f'could not understand "{text}" as a time of day — try "9am", "9:30pm" or "14:30"')
    hour, minute, half = int(parts[1]), int(parts[2] or 0), parts[3]
    no_such_time = f'there is no time of day "{text}" — use 0:00-23:59, or 1-12 with am/pm'
    if half:
        if not 1 <= hour <= 12:
            raise TimeParseError(no_such_time)
        hour = hour % 12 + (12 if half == "pm" else 0)
    if hour > 23 or minute > 59:
        raise TimeParseError(no_such_time)
    return time(hour, minute)


# ---------------------------------------------------------------- instants


def parse_instant(text: str, *, tz: str = "UTC", now: datetime) -> datetime:
    """Read ``text`` as one instant, relative to the aware ``now`` and with wall times in ``tz``; return it in UTC."""
    if now.tzinfo is None or now.utcoffset() is None:
        raise ValueError(f"now must be an aware datetime, got {now!r}")
    local = zone(tz)
    raw = text.strip()
    phrase = _normalise(raw)
    if phrase == "now":
        return now.astimezone(UTC)
    _refuse_non_instants(raw, phrase)
    try:
        found = (
            _iso_instant(raw, local)
            or _relative_instant(phrase, local, now)
            or _day_and_time_instant(phrase, local, now)
            or _dateparser_instant(raw, phrase, local, now)
        )
    except OverflowError as exc:
        raise TimeParseError(f'"{raw}" is too far away — {_INSTANT_HELP}') from exc
    if found is None:
        raise TimeParseError(f'could not understand "{raw}" as a time — {_INSTANT_HELP}')
    return found


def _refuse_non_instants(raw: str, phrase: str) -> None:
    """Refuse what is not one instant but that dateparser would still turn into some date."""
    if not phrase or phrase.isdigit():
        raise TimeParseError(f'could not understand "{raw}" as a time — {_INSTANT_HELP}')
    if re.match(r"(?:every|each)\b", phrase) or _looks_like_cron(phrase):
        raise TimeParseError(
            f'"{raw}" is a repeating schedule, not one time — make it a recurring schedule, or {_INSTANT_HELP}'
        )


def _iso_instant(raw: str, tz: zoneinfo.ZoneInfo) -> datetime | None:
    """Read ISO 8601; a time without an offset is in ``tz``, a date alone is at 09:00 there."""
    if not re.match(r"\d{4}-\d{2}-\d{2}", raw):
        return None
    try:
        date.fromisoformat(raw[:10])
    except ValueError as exc:  # dateparser would swap month and day of "2026-13-01"
        raise TimeParseError(f'"{raw}" does not start with a real date ({exc}) — {_INSTANT_HELP}') from exc
    try:
        found = datetime.fromisoformat(raw)
    except ValueError:
        return None  # "2026-03-11 at 9am" and friends: let the other readers try
    if found.tzinfo is not None:
        return found.astimezone(UTC)
    if re.fullmatch(r"\d{4}-\d{2}-\d{2}", raw):
        found = datetime.combine(found.date(), DEFAULT_TIME)
    return _localize(found, tz)


_RELATIVE_UNITS = {
    "s": "seconds", "sec": "seconds", "second": "seconds",
    "m": "minutes", "min": "minutes", "minute": "minutes",
    "h": "hours", "hr": "hours", "hour": "hours",
    "d": "days", "day": "days",
    "w": "weeks", "wk": "weeks", "week": "weeks",
}  # fmt: skip
# "5 minutes", "5m", "an hour"; a word amount needs its space, or "and" would read as "an d(ay)".
_AMOUNT = rf"\b(\d+ ?|an? |one )({_alternatives(_RELATIVE_UNITS)})s?\b"
_AMOUNTS_RE = re.compile(rf"{_AMOUNT}(?: (?:and )?{_AMOUNT})*")


def _relative_instant(phrase: str, tz: zoneinfo.ZoneInfo, now: datetime) -> datetime | None:
    """Read "in 90 minutes", "in 3 days", "2 hours and 30 minutes from now" (months: dateparser)."""
    match = re.fullmatch(r"in (.+)|(.+) (?:from now|later)", phrase.replace("half an hour", "30 minutes"))
    body = (match[1] or match[2]) if match else ""
    if not _AMOUNTS_RE.fullmatch(body):
        return None
    amounts = dict.fromkeys(("seconds", "minutes", "hours", "days", "weeks"), 0)
    for count, unit in re.findall(_AMOUNT, body):
        amounts[_RELATIVE_UNITS[unit]] += int(count) if count.strip().isdigit() else 1
    elapsed = timedelta(seconds=amounts["seconds"], minutes=amounts["minutes"], hours=amounts["hours"])
    days = timedelta(days=amounts["days"], weeks=amounts["weeks"])
    # Days keep the clock time across a DST change ("in 3 days" at 15:20 is 15:20);
    # minutes and hours are elapsed time, so they are added to the instant.
    start = _localize(_wall(now, tz) + days, tz) if days else now.astimezone(UTC)
    return start + elapsed


_DAY_PHRASE_RE = re.compile(rf"(today|tomorrow)|(?:(next|this|on) )?({_WEEKDAY})")


def _day_and_time_instant(phrase: str, tz: zoneinfo.ZoneInfo, now: datetime) -> datetime | None:
    """Read "9am", "tomorrow", "next monday at 3pm", "friday 10:00" (a day, a time, or both)."""
    at = _TIME_RE.search(phrase)
    rest = " ".join((phrase[: at.start()] + " " + phrase[at.end() :]).split()) if at else phrase
    clock = _time_of_day(at[1]) if at else None
    today = _wall(now, tz).date()
    if not rest and clock is not None:
        # A bare time of day: the next time the clock shows it.
        found = _localize(datetime.combine(today, clock), tz)
        return found if found >= now else _localize(datetime.combine(today + timedelta(days=1), clock), tz)
    day = _DAY_PHRASE_RE.fullmatch(rest)
    if day is None:
        return None
    clock = clock or DEFAULT_TIME
    if day[1]:
        return _localize(datetime.combine(today + timedelta(days=1 if day[1] == "tomorrow" else 0), clock), tz)
    target = _next_weekday(today, _weekday(day[3]), skip_today=day[2] == "next")
    found = _localize(datetime.combine(target, clock), tz)
    if found < now:  # "friday at 9am" said on a Friday afternoon: next week's
        found = _localize(datetime.combine(target + timedelta(days=7), clock), tz)
    return found


def _next_weekday(today: date, cron_weekday: int, *, skip_today: bool) -> date:
    """The first date on or after ``today`` (after, with ``skip_today``) that falls on ``cron_weekday``."""
    ahead = (cron_weekday - 1 - today.weekday()) % 7  # Python counts Monday as 0, cron Sunday
    if ahead == 0 and skip_today:
        ahead = 7
    return today + timedelta(days=ahead)


def _dateparser_instant(raw: str, phrase: str, tz: zoneinfo.ZoneInfo, now: datetime) -> datetime | None:
    """Ask dateparser about what our own grammar did not read ("March 20, 2026 5pm", "tomorrow 9am PST")."""
    # Imported here, not at the top: it takes long to import and most commands never need it.
    import dateparser

    base = _wall(now, tz)
    found = dateparser.parse(
        raw,  # not ``phrase``: its commas became "and", which dateparser does not expect
        languages=["en"],
        settings={
            "PREFER_DATES_FROM": "future",
            "RELATIVE_BASE": base,
            "TIMEZONE": tz.key,
            "RETURN_AS_TIMEZONE_AWARE": True,
        },
    )
    if found is None:
        return None
    if getattr(found.tzinfo, "zone", None) != tz.key:
        return found.astimezone(UTC)  # the phrase named its own zone or offset ("9am PST")
    wall = found.replace(tzinfo=None)
    # dateparser reads a date without a time of day as midnight; we mean 09:00.
    if wall.time() == time(0) != base.time() and not _TIME_RE.search(phrase):
        wall = datetime.combine(wall.date(), DEFAULT_TIME)
    # Localise ourselves: dateparser (pytz) puts a skipped wall time at a time that does not exist.
    return _localize(wall, tz)


# ---------------------------------------------------------------- recurring


@dataclass
class _Schedule:
    """What a recurring phrase said, part by part, before it becomes cron fields."""

    step: tuple[str, int] | None = None  # ("minute", 15) for "every 15 minutes"
    period: str | None = None  # "day", "week", "month" or "year": "daily", "every month"…
    times: set[time] = field(default_factory=set)
    weekdays: set[int] = field(default_factory=set)
    nth_weekdays: list[str] = field(default_factory=list)  # croniter's "L5" (last Friday), "1#1"
    month_days: set[str] = field(default_factory=set)  # "15", or "L" for the last day
    months: set[int] = field(default_factory=set)

    def says_when(self) -> bool:
        """Whether anything beyond a time of day was said: "at 9am" alone is not a schedule."""
        return bool(self.step or self.period or self.weekdays or self.nth_weekdays or self.month_days or self.months)


# Takes what one clause matched and fills it into the _Schedule (or refuses it).
_Record = Callable[[re.Match[str], _Schedule], None]


def parse_recurring(text: str, *, tz: str = "UTC") -> tuple[str, str]:
    """Read ``text`` ("every weekday at 10am", or a cron expression) as ``(cron, zone name)``."""
    zone_name = zone(tz).key
    raw = " ".join(text.split())
    if _looks_like_cron(raw):
        return validate_cron(raw), zone_name
    schedule = _read_schedule(_normalise(raw))
    if schedule is None:
        raise TimeParseError(f'could not understand "{raw}" as a schedule — {_SCHEDULE_HELP}')
    return validate_cron(_to_cron(schedule, raw)), zone_name


def _read_schedule(phrase: str) -> _Schedule | None:
    """Take every clause we know out of ``phrase``; None if words we do not know are left over."""
    schedule = _Schedule()
    for pattern, record in _CLAUSES:
        phrase = _take(pattern, record, phrase, schedule)
    leftover = set(phrase.split()) - {"every", "each", "on", "at", "the", "of", "and", "in"}
    return schedule if schedule.says_when() and not leftover else None


def _take(pattern: re.Pattern[str], record: _Record, phrase: str, schedule: _Schedule) -> str:
    """Record each match of ``pattern`` in ``schedule`` and blank it out of ``phrase``."""

    def blank(match: re.Match[str]) -> str:
        record(match, schedule)
        return " "

    return pattern.sub(blank, phrase)


def _refuse_vague(match: re.Match[str], schedule: _Schedule) -> None:
    """ "twice a day": cron needs the times themselves."""
    raise TimeParseError(
        f'cron cannot tell which times "{match[0]}" means — name them, such as "every day at 9am and 5pm"'
    )


def _refuse_other_weekday(match: re.Match[str], schedule: _Schedule) -> None:
    """ "every other monday": cron has no memory of last week."""
    raise TimeParseError(
        f'cron cannot express "{match[0]}" exactly — it cannot count weeks; name days of the month '
        'instead, such as "on the 1st and 15th"'
    )


def _every(match: re.Match[str], schedule: _Schedule) -> None:
    """ "every 15 minutes", "every other hour", "every day", "once a week"."""
    count, unit = match["count"] or "1", match["unit"]
    number = 2 if count in ("other", "2nd", "second") else 1 if count == "one" else int(count)
    unit = {"min": "minute", "hr": "hour"}.get(unit, unit)
    if number == 0:
        raise TimeParseError(f'"{match[0]}" never repeats — use a number from 1, such as "every 5 {unit}s"')
    if unit == "minute" and number % 60 == 0:
        unit, number = "hour", number // 60
    if unit == "minute" and 60 % number:
        raise TimeParseError(
            f'cron cannot express "{match[0]}" exactly — use a divisor of 60 such as "every 30 minutes", '
            "or two schedules"
        )
    if unit == "hour" and 24 % number:
        raise TimeParseError(
            f'cron cannot express "{match[0]}" exactly — use a divisor of 24 such as "every 4 hours" '
            'or "every 6 hours", or several schedules'
        )
    if unit in ("minute", "hour"):
        schedule.step = (unit, number)
    elif number == 1:
        schedule.period = unit
    elif unit in ("day", "week"):
        # Cron has no counter of days or weeks: "*/3" in the day field starts again each month.
        raise TimeParseError(
            f'cron cannot express "{match[0]}" exactly — name the days instead, such as '
            '"every monday and thursday" or "on the 1st and 15th"'
        )
    else:
        raise TimeParseError(
            f'cron cannot express "{match[0]}" exactly — name the months instead, such as '
            '"on the 1st of january, april, july and october"'
        )


def _every_half_hour(match: re.Match[str], schedule: _Schedule) -> None:
    """ "every half hour", "every quarter hour"."""
    schedule.step = ("minute", 30 if match[1] == "half" else 15)


def _adverb(match: re.Match[str], schedule: _Schedule) -> None:
    """ "hourly", "daily", "weekly", "monthly", "yearly", "annually"."""
    word = match[1]
    if word == "hourly":
        schedule.step = ("hour", 1)
    else:
        schedule.period = {"daily": "day", "weekly": "week", "monthly": "month"}.get(word, "year")


def _of_the_month(match: re.Match[str], schedule: _Schedule) -> None:
    """ "of the month": the days named are days of each month."""
    schedule.period = "month"


def _time(match: re.Match[str], schedule: _Schedule) -> None:
    """ "at 9am", "17:30", "noon"."""
    schedule.times.add(_time_of_day(match[1]))


def _nth_weekday(match: re.Match[str], schedule: _Schedule) -> None:
    """ "the last friday", "the first monday" (of the month)."""
    weekday = _weekday(match["day"])
    which = match["nth"]
    if which == "last":
        schedule.nth_weekdays.append(f"L{weekday}")
    else:
        schedule.nth_weekdays.append(f"{weekday}#{_ORDINAL_WORDS.get(which) or int(which[0])}")


def _weekday_range(match: re.Match[str], schedule: _Schedule) -> None:
    """ "monday to friday", "mon-wed" (wrapping past Saturday if need be)."""
    first, last = _weekday(match[1]), _weekday(match[2])
    schedule.weekdays.update((first + offset) % 7 for offset in range((last - first) % 7 + 1))


def _weekday_group(match: re.Match[str], schedule: _Schedule) -> None:
    """ "weekdays", "working days", "weekends"."""
    schedule.weekdays.update({0, 6} if match[1].startswith("weekend") else range(1, 6))


def _weekday_name(match: re.Match[str], schedule: _Schedule) -> None:
    """ "monday", "tues", "fridays"."""
    schedule.weekdays.add(_weekday(match[1]))


def _month(match: re.Match[str], schedule: _Schedule) -> None:
    """ "january", "march 15", "march 15th"."""
    schedule.months.add(_MONTHS[match[1]])
    if match[2]:
        schedule.month_days.add(str(int(match[2])))


def _month_day(match: re.Match[str], schedule: _Schedule) -> None:
    """ "the 15th", "1st", "the first day", "the last day", "day 15"."""
    day = match["day"]
    if day == "last":
        schedule.month_days.add("L")
    else:
        schedule.month_days.add(str(_ORDINAL_WORDS.get(day) or int(day.rstrip("stndrh"))))


_ORDINAL = r"\d{1,2}(?:st|nd|rd|th)"
# "every second monday" and "every 2nd day" mean every other one, not the
# second of the month: only "first" and "last" may follow "every".
_NTH = r"first|1st|last|(?<!every )(?:second|third|fourth|fifth|2nd|3rd|4th|5th)"

# Clauses in the order they are taken out of a phrase: times first, so that
# their digits are not read as days; "every N units" before day names; "the
# last friday" before "friday" alone. Each record() fills in the _Schedule.
_CLAUSES: list[tuple[re.Pattern[str], _Record]] = [
    (re.compile(r"\b(?:twice|thrice|\d+ times) (?:a|an|per|every|each) \w+"), _refuse_vague),
    (re.compile(rf"\bevery (?:other|second|2nd) {_WEEKDAY}\b"), _refuse_other_weekday),
    (_TIME_RE, _time),
    (re.compile(r"\bevery (half|quarter)(?:[ -](?:of )?an?)?[ -]hour\b"), _every_half_hour),
    (
        re.compile(
            r"\b(?:every|each|once (?:a|an|per|every)) (?:(?P<count>\d+|other|one|second|2nd) )?"
            r"(?P<unit>minute|min|hour|hr|day|week|month|year)s?\b"
        ),
        _every,
    ),
    (re.compile(r"\b(hourly|daily|weekly|monthly|yearly|annually)\b"), _adverb),
    (re.compile(r"\bof (?:the|every|each) month\b"), _of_the_month),
    (re.compile(rf"\b(?:the )?(?P<nth>{_NTH}) (?P<day>{_WEEKDAY})\b"), _nth_weekday),
    (re.compile(rf"\b({_WEEKDAY}) ?(?:-|to|through|thru|until) ?({_WEEKDAY})\b"), _weekday_range),
    (re.compile(r"\b(weekdays?|weekends?|working days?|business days?)\b"), _weekday_group),
    (re.compile(rf"\b({_WEEKDAY})\b"), _weekday_name),
    (re.compile(rf"\b({_MONTH})(?: (?:the )?(\d{{1,2}})(?:st|nd|rd|th)?)?\b"), _month),
    (re.compile(rf"\b(?:the )?(?P<day>{_ORDINAL}|{_NTH})(?: day)?\b"), _month_day),
    (re.compile(r"\bday (?P<day>\d{1,2})\b"), _month_day),
]


def _to_cron(schedule: _Schedule, raw: str) -> str:
    """Write what ``raw`` said as five cron fields."""
    minute, hour = _clock_fields(schedule, raw)
    by_weekday = bool(schedule.weekdays or schedule.nth_weekdays)
    month_days = schedule.month_days
    monthly = schedule.period in ("month", "year") or (schedule.months and schedule.period is None)
    if monthly and not month_days and not by_weekday and not schedule.step:
        month_days = {"1"}  # "monthly", "every january": on the first of the month
    months = schedule.months or ({1} if schedule.period == "year" and not schedule.step else set())
    weekdays = schedule.weekdays or ({1} if schedule.period == "week" and not by_weekday else set())
    if schedule.weekdays and schedule.nth_weekdays:
        raise TimeParseError(
            f'cron cannot mix plain weekdays with one such as "the last friday" in "{raw}" — use two schedules'
        )
    if month_days and by_weekday:
        # Cron fires when *either* the day of month or the day of week matches.
        raise TimeParseError(
            f'cron cannot combine a day of the month with a day of the week in "{raw}" — it would fire '
            "on both; use two schedules"
        )
    day_of_week = ",".join(filter(None, [_numbers(weekdays), *schedule.nth_weekdays]))
    return " ".join([minute, hour, _month_days(month_days) or "*", _numbers(months) or "*", day_of_week or "*"])


def _clock_fields(schedule: _Schedule, raw: str) -> tuple[str, str]:
    """The minute and hour fields: from an interval, or from the times of day (09:00 if none)."""
    if schedule.step is not None:
        if schedule.times:
            raise TimeParseError(
                f'"{raw}" gives both an interval and a time of day — say one, such as "every 2 hours" '
                'or "every day at 9am and 5pm"'
            )
        unit, number = schedule.step
        every = "*" if number == 1 else "0" if number == 24 else f"*/{number}"
        return (every, "*") if unit == "minute" else ("0", every)
    times = schedule.times or {DEFAULT_TIME}
    minutes, hours = {t.minute for t in times}, {t.hour for t in times}
    if len(minutes) * len(hours) != len(times):
        # "0,30 9,17" would also fire at 9:30 and 17:00; refuse rather than add fires.
        raise TimeParseError(
            f'cron cannot fire at exactly the times in "{raw}" with one expression — use times with the '
            "same minutes, or two schedules"
        )
    return _numbers(minutes), _numbers(hours)


def _numbers(values: set[int]) -> str:
    """Write numbers as a cron list, runs of three or more as ranges: {1, 2, 3, 4, 5} → "1-5"."""
    runs: list[list[int]] = []
    for value in sorted(values):
        if runs and runs[-1][-1] == value - 1:
            runs[-1].append(value)
        else:
            runs.append([value])
    return ",".join(f"{run[0]}-{run[-1]}" if len(run) >= 3 else ",".join(map(str, run)) for run in runs)


def _month_days(days: set[str]) -> str:
    """Write days of the month as a cron list, the last day ("L") at the end."""
    numbers = _numbers({int(day) for day in days if day != "L"})
    return ",".join(filter(None, [numbers, "L" if "L" in days else ""]))


_DURATION = re.compile(
    r"^\s*(\d+(?:\.\d+)?)\s*(s|sec|secs|seconds?|m|min|mins|minutes?|h|hours?|d|days?)?\s*$", re.IGNORECASE
)
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_duration(text: str, *, days: bool = False) -> timedelta:
    """'4m', '90s', '1h', '0' (and with ``days``, '90d') -> a timedelta."""
    match = _DURATION.match(text or "")
    unit = (match.group(2) or "s").lower()[0] if match else ""
    if not match or (unit == "d" and not days):
        example = "90d or 2160h" if days else "90s, 4m or 1h"
        raise InvalidInputError(f'"{text}" is not a duration — use e.g. {example}')
    return timedelta(seconds=float(match.group(1)) * _UNIT_SECONDS[unit])
