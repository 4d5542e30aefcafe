"""Read times as people write them: one instant, or a cron expression and a zone.

- ``parse_instant`` reads "in 5 minutes", "tomorrow at 9am", "half past 3 this
  afternoon", "dec 24 at 3pm" or ISO 8601 as an aware UTC datetime, with the
  grammar of ``switchboard.phrase``: every word must be understood, and a phrase
  that could mean two instants is refused with a suggestion, never guessed.
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
from datetime import UTC, date, datetime, time, timedelta, tzinfo

from switchboard import phrase
from switchboard.cron import describe_cron, validate_cron
from switchboard.cron import looks_like_cron as _looks_like_cron
from switchboard.exceptions import InvalidInputError, PastTimeError, TimeParseError
from switchboard.zones import instant_of as _localize
from switchboard.zones import wall_of as _wall
from switchboard.zones import zone

__all__ = [
    "DEFAULT_TIME",
    "PAST_GRACE",
    "describe_cron",
    "looks_recurring",
    "parse_duration",
    "parse_instant",
    "parse_recurring",
    "refuse_past",
    "validate_cron",
    "written_as_iso",
    "zone",
]

DEFAULT_TIME = time(9, 0)
"""The time of day meant when a phrase names a day but no time."""

_INSTANT_HELP = 'try "in 5 minutes", "tomorrow at 9am" or an ISO 8601 time such as 2026-03-11T09:00:00+01:00'
_SCHEDULE_HELP = (
    'try "every monday at 9am", "every weekday at 10am", "every 15 minutes" or a cron expression such as "0 9 * * 1-5"'
)


_REPEATING_WORDS = re.compile(
    r"\b(?:hourly|daily|weekly|monthly|yearly|annually|weekdays|weekends|mornings|afternoons|evenings|nights|"
    r"(?:mon|tues|wednes|thurs|fri|satur|sun)days)\b"
)


# "3 fridays from now" counts days once; its plural is not a repeating one.
_COUNTED_DAYS = re.compile(r"\b\w+ \w+s (?:from now|hence|ago|back)\b")


def _says_repeating(phrase: str) -> bool:
    """Whether a normalised phrase has a repeating word ("daily", "weekdays"), leaving counted days aside."""
    return bool(_REPEATING_WORDS.search(_COUNTED_DAYS.sub(" ", phrase)))


def looks_recurring(text: str) -> bool:
    """Whether a phrase asks for a repeating schedule ("every monday at 9am", "daily", a cron) rather than one time."""
    phrase = _normalise(text)
    starts = re.match(r"(?:every|each)\b", phrase)
    return bool(starts or _says_repeating(phrase) or _looks_like_cron(" ".join(text.split())))


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
    _refuse_non_instants(raw, _normalise(raw))
    try:
        found = _iso_instant(raw, local) or _phrase_instant(raw, local, now)
    except (OverflowError, ValueError) as exc:
        if isinstance(exc, TimeParseError):
            raise
        raise TimeParseError(f'"{raw}" is too far away — {_INSTANT_HELP}') from exc
    return found


def written_as_iso(text: str) -> bool:
    """Whether ``text`` is an ISO 8601 date or instant ("2026-03-11T09:00:00+01:00") rather than a phrase."""
    raw = text.strip()
    if not re.match(r"\d{4}-\d{2}-\d{2}", raw):
        return False
    try:
        datetime.fromisoformat(raw)
    except ValueError:
        return False
    return True


RECENT_TIME = timedelta(hours=1)
"""A time of day alone that passed less than this ago is today's ("16:00" said at 16:22): a slip, not tomorrow's."""

PAST_GRACE = timedelta(seconds=60)
"""How far in the past a one-time phrase may resolve and still count as "now" (clocks and typing take time)."""


def refuse_past(instant: datetime, *, text: str, tz: str, now: datetime, anyway: str = "") -> None:
    """Raise PastTimeError when ``instant`` (what ``text`` resolved to) is more than PAST_GRACE before ``now``.

    The message shows the instant in ``tz`` and what to type instead; ``anyway`` says how to send it regardless
    on the surface that asks (", or add --allow-past to send it now").
    """
    if instant >= now.astimezone(UTC) - PAST_GRACE:
        return
    local = instant.astimezone(zone(tz))
    named = f" ({tz})" if local.tzname() != tz else ""
    raise PastTimeError(
        f'"{text.strip()}" is {local:%a %Y-%m-%d %H:%M} {local.tzname()}{named}, {_ago(now - instant)} ago — '
        f'a one-time message needs a time still to come: try "tomorrow at {local:%H:%M}" or "in 10 minutes"{anyway}'
    )


def _ago(span: timedelta) -> str:
    """A past span in the largest whole units that say it: "3 days", "7 hours 22 minutes", "5 minutes"."""
    minutes = int(span.total_seconds() // 60)
    days, minutes = divmod(minutes, 24 * 60)
    hours, minutes = divmod(minutes, 60)
    if days:
        return f"{days} day{'s' * (days != 1)}" + (f" {hours} hour{'s' * (hours != 1)}" if hours and days < 3 else "")
    parts = [f"{hours} hour{'s' * (hours != 1)}"] if hours else []
    if minutes or not hours:
        parts.append(f"{minutes} minute{'s' * (minutes != 1)}")
    return " ".join(parts)


def _refuse_non_instants(raw: str, phrase: str) -> None:
    """Refuse what is not one instant: nothing, a bare number, a repeating schedule."""
    if not phrase or phrase.isdigit():
        raise TimeParseError(f'could not understand "{raw}" as a time — {_INSTANT_HELP}')
    if re.match(r"(?:every|each)\b", phrase) or _looks_like_cron(phrase) or _says_repeating(phrase):
        raise TimeParseError(
            f'"{raw}" is a repeating schedule, not one time — make it a recurring schedule, or {_INSTANT_HELP}'
        )


def _iso_instant(raw: str, tz: zoneinfo.ZoneInfo) -> datetime | None:
    """Read ISO 8601; a time without an offset is in ``tz``, a date alone is at 09:00 there."""
    if not re.match(r"\d{4}-\d{2}-\d{2}", raw):
        return None
    try:
        date.fromisoformat(raw[:10])
    except ValueError as exc:
        raise TimeParseError(f'"{raw}" does not start with a real date ({exc}) — {_INSTANT_HELP}') from exc
    try:
        found = datetime.fromisoformat(raw)
    except ValueError:
        return None  # "2026-03-11 at 9am" and friends: the grammar reads them
    if found.tzinfo is not None:
        return found.astimezone(UTC)
    if re.fullmatch(r"\d{4}-\d{2}-\d{2}", raw):
        found = datetime.combine(found.date(), DEFAULT_TIME)
    return _localize(found, tz)


def _instant_words(raw: str) -> str:
    """Lower-case ``raw`` for the one-time grammar: a.m. as am, no commas, "forty-five" as "forty five"."""
    text = raw.strip().lower()
    text = re.sub(r"(?<=[\d\s])([ap])\.\s?m\b\.?", r"\1m", text)
    text = re.sub(r"\b([ap]) m\b", r"\1m", text)  # "3:30 p m"
    text = re.sub(r"\bin the ([ap]m)\b", r"\1", text)  # "3 in the am"
    text = re.sub(r"o['’ ]?clock", "oclock", text)
    text = re.sub(r"(?<=[a-z])-(?=[a-z])|(?<=\d)-(?=ish\b)", " ", text)
    text = re.sub(r"(?<=[a-z])\.", "", text)  # "dec." and a full stop after a word
    text = text.replace("@", " at ").replace("&", " and ")
    text = re.sub(r"(?<=\d) ?/ ?(?=\d)", "/", text)  # "2 / 15" as "2/15"
    text = re.sub(r"[,;!?]", " ", text)
    return " ".join(text.rstrip(".").split())


_DAY_WORD_OFFSETS = {
    "today": 0, "tomorrow": 1, "tmrw": 1, "tmr": 1, "yesterday": -1,
    "day after tomorrow": 2, "the day after tomorrow": 2, "day before yesterday": -2, "the day before yesterday": -2,
}  # fmt: skip


def _phrase_instant(raw: str, tz: zoneinfo.ZoneInfo, now: datetime) -> datetime:
    """Read a phrase with the one-time grammar (see switchboard.phrase) and resolve it against ``now``."""
    reading = phrase.read(_instant_words(raw), raw)
    parts = reading.parts
    if "now" in parts:
        if set(parts) - {"now", "zone"}:
            raise TimeParseError(f'"{raw}" says "now" and another time — say one, such as "now" or "in 5 minutes"')
        return now.astimezone(UTC)
    local: tzinfo = phrase.named_zone(parts["zone"], raw) if "zone" in parts else tz
    wall_now = now.astimezone(local).replace(tzinfo=None)
    today = wall_now.date()
    clock = reading.clock
    part = parts["part"]["part"] if "part" in parts else None
    day: date | None = None
    named_day = False  # a day other than today: a bare "9" is then 09:00

    def set_day(found: date, what: str) -> None:
        nonlocal day
        if day is not None and day != found:
            raise TimeParseError(f'"{raw}" names two different days ({day:%a %Y-%m-%d} and {what}) — name one')
        day = found

    if "day_word" in parts:
        offset = _DAY_WORD_OFFSETS[parts["day_word"][0]]
        set_day(today + timedelta(days=offset), parts["day_word"][0])
        named_day = offset != 0
    if "tonight" in parts:
        if part not in (None, "night", "evening"):
            raise TimeParseError(f'"{raw}" says tonight and the {part} — say one')
        part = part or "night"
        set_day(today - timedelta(days=parts["tonight"][0] == "last night"), parts["tonight"][0])
    if "same_time" in parts:
        if clock is not None:
            raise TimeParseError(f'"{raw}" says two times of day — say one')
        clock = phrase.TimeOfDay(wall_now.hour, wall_now.minute, wall_now.second)
        set_day(today + timedelta(days=1 if parts["same_time"]["day"] == "tomorrow" else 0), "that day")
    if "date" in parts:
        found, _ = phrase.date_of(parts["date"], today, raw)
        set_day(found, f"{found:%a %Y-%m-%d}")
        named_day = True
    if "weekday" in parts:
        match = parts["weekday"]
        if day is not None:
            if day.weekday() != phrase.weekday_of(match):
                raise TimeParseError(f'"{raw}": {day:%Y-%m-%d} is a {day:%A}, not a {match["wd"]} — check the date')
        else:
            day = phrase.weekday_date(match, today, raw)
        named_day = True
    if part is not None and "part" in parts and parts["part"]["this"] == "this":
        set_day(today, f"this {part}")
    if "relative" in parts:
        return _relative(parts["relative"], raw, clock, part, local, now, day)
    if clock is not None:
        if clock.midnight:
            if "tonight" in parts:
                day = today + timedelta(days=1)
            elif day is not None:
                raise TimeParseError(
                    f'"{raw}": midnight at the start or the end of that day? — write "23:59" or the next day at "00:00"'
                )
        clock = phrase.hour_in(clock, part, named_day, raw)
    elif part is not None:
        clock = phrase.TimeOfDay(phrase.PART_OF_DAY_HOURS[part])
        if day is None:
            # "evening" said in the afternoon is this evening; "in the morning" said at night could be
            # this one or the next: ask.
            found_at = _localize(datetime.combine(today, phrase.as_time(clock)), local)
            if found_at < now:
                raise TimeParseError(f'"{raw}" does not say which day — write "tomorrow {part}" or "this {part}"')
            return found_at
    elif day is not None:
        clock = phrase.TimeOfDay(DEFAULT_TIME.hour, DEFAULT_TIME.minute)
    else:
        raise TimeParseError(f'could not understand "{raw}" as a time — {_INSTANT_HELP}')
    wall = phrase.as_time(clock)
    if day is None:  # a time of day alone: the next time the clock shows it
        found_at = _localize(datetime.combine(today, wall), local)
        if found_at < now - RECENT_TIME:
            found_at = _localize(datetime.combine(today + timedelta(days=1), wall), local)
        return found_at
    return _localize(datetime.combine(day, wall), local)


_ELAPSED_UNITS = ("seconds", "minutes", "hours")


def _relative(
    match: re.Match[str],
    raw: str,
    clock: phrase.TimeOfDay | None,
    part: str | None,
    local: tzinfo,
    now: datetime,
    day: date | None,
) -> datetime:
    """ "in 2 hours", "3 days from now", "a week from tomorrow", "2 days ago", "in 2 days at 3pm"."""
    amounts = phrase.amount(match["amount"], raw)
    wall_now = _wall(now, local)
    direction = match.groupdict().get("dir") or "in"
    sign = -1 if direction == "ago" else 1
    elapsed = any(amounts.get(unit) for unit in _ELAPSED_UNITS)
    if day is not None or (elapsed and (clock is not None or part is not None)):
        raise TimeParseError(f'"{raw}" says both an amount of time and a day or time — say one')
    base = wall_now
    named_day = direction in ("from tomorrow", "after tomorrow", "from today")
    if named_day:
        base = datetime.combine(wall_now.date() + timedelta(days=0 if direction == "from today" else 1), DEFAULT_TIME)
        if clock is None:  # the time of day now, or 09:00? Ask.
            raise TimeParseError(f'"{raw}" does not say the time of day — add one, such as "{match[0]} at 9am"')
        if elapsed:
            raise TimeParseError(f'"{raw}" counts hours from a day — say "in N hours" or name the day and time')
    shifted = _shift_calendar(base, amounts, sign, raw)
    if clock is not None or part is not None:
        settled = (
            phrase.hour_in(clock, part, True, raw)
            if clock is not None
            else phrase.TimeOfDay(phrase.PART_OF_DAY_HOURS[part or "morning"])
        )
        return _localize(datetime.combine(shifted.date(), phrase.as_time(settled)), local)
    seconds = sum(amounts.get(unit, 0) * factor for unit, factor in zip(_ELAPSED_UNITS, (1, 60, 3600), strict=True))
    # Days keep the clock time across a DST change ("in 3 days" at 15:20 is 15:20);
    # minutes and hours are elapsed time, so they are added to the instant.
    start = now.astimezone(UTC) if shifted == wall_now else _localize(shifted, local)
    return start + sign * timedelta(seconds=round(seconds))


def _shift_calendar(base: datetime, amounts: dict[str, float], sign: int, raw: str) -> datetime:
    """``base`` moved by whole days, weeks, months and years on the wall clock (a month keeps the day of month)."""
    months = sign * int(amounts.get("months", 0) + 12 * amounts.get("years", 0))
    if months:
        year, month = divmod(base.month - 1 + months, 12)
        try:
            base = base.replace(year=base.year + year, month=month + 1)
        except ValueError as exc:
            if base.year + year > 9999 or base.year + year < 1:
                raise OverflowError from exc
            raise TimeParseError(
                f'"{raw}" lands on a day that month does not have ({month + 1:02d}-{base.day:02d}) — name the date'
            ) from exc
    days = amounts.get("days", 0) + 7 * amounts.get("weeks", 0)
    return base + sign * timedelta(days=int(days))


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
    bare_times: list[phrase.TimeOfDay] = field(default_factory=list)  # "at 7", "7:30": half of the day unsaid
    parts: set[str] = field(default_factory=set)  # "morning", "evening"…: every day, at that part's hour

    def says_when(self) -> bool:
        """Whether anything beyond a time of day was said: "at 9am" alone is not a schedule."""
        return bool(
            self.step
            or self.period
            or self.weekdays
            or self.nth_weekdays
            or self.month_days
            or self.months
            or self.parts
        )

    def settle_times(self, raw: str) -> None:
        """Read the times of day as the one-time parser does (``phrase.hour_in``), with the parts of the day.

        "every evening at 7" is 19:00 and "every morning" 09:00; "at 8" to "at 12" with a day are morning and
        noon; "every day at 3" does not say which 3 o'clock and is refused.
        """
        if self.parts and self.step:
            raise TimeParseError(
                f'"{raw}" gives both an interval and a part of the day — say one, or name the times, such as '
                '"every day at 8am, 10am and noon"'
            )
        if len(self.parts) > 1 and (self.times or self.bare_times):
            parts = " and ".join(p for p in phrase.PART_OF_DAY_HOURS if p in self.parts)
            raise TimeParseError(f'"{raw}" names {parts} and a time — say one, such as "every day at 9am and 7pm"')
        part = next(iter(self.parts)) if len(self.parts) == 1 else None
        for clock in self.bare_times:
            self.times.add(phrase.as_time(phrase.hour_in(clock, part, True, raw)))
        if part is not None:
            for exact in self.times:  # "every morning at 7pm" says two things
                clock = phrase.TimeOfDay(exact.hour, exact.minute, midnight=exact == time(0))
                phrase.hour_in(clock, part, True, raw)
        if not self.times and not self.step:
            self.times.update(time(phrase.PART_OF_DAY_HOURS[p]) for p in self.parts)


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
    schedule.settle_times(raw)
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
    """ "at 9am", "17:30", "noon"; "7:30" leaves the half of the day to the rest of the phrase."""
    text = match[1]
    bare = re.fullmatch(r"([1-9]|1[0-2]):(\d{2})", text)
    if bare:
        schedule.bare_times.append(phrase.TimeOfDay(int(bare[1]), int(bare[2]), kind="bare", text=text))
        return
    schedule.times.add(_time_of_day(text))


def _hour(match: re.Match[str], schedule: _Schedule) -> None:
    """ "at 17" (the 24-hour clock), "at 7" (the half of the day from the rest of the phrase)."""
    hour = int(match["h"])
    if hour > 23:
        raise TimeParseError(f'there is no time of day "{match["h"]}" — use 0:00-23:59, or 1-12 with am/pm')
    if 1 <= hour <= 12 and not match["h"].startswith("0"):
        schedule.bare_times.append(phrase.TimeOfDay(hour, kind="bare", text=match["h"]))
    else:
        schedule.times.add(time(hour))


def _part_of_day(match: re.Match[str], schedule: _Schedule) -> None:
    """ "every morning", "weekday evenings": every day at that part's hour, or at the time given in it."""
    schedule.parts.add(match["part"])


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
    (re.compile(r"\bat (?P<h>\d{1,2})(?: ?o'?clock)?\b(?![:.]\d)"), _hour),
    (re.compile(r"\b(?:in the )?(?P<part>morning|afternoon|evening|night)s?\b"), _part_of_day),
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
