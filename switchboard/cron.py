"""The one cron module: read and check a 5-field cron expression, and find when it fires.

``validate_cron`` is what every schedule passes before it is stored (the
parser, the CLI, both APIs); ``parse`` is what the due computation reads it
with. They share one reading, so an expression accepted when a schedule is
made is one the tick can evaluate, and the other way round; ``validate_cron``
only adds that the expression must fire on some date ("0 9 30 2 *" never
does).

How a cron expression becomes instants
--------------------------------------
A recurring schedule is a 5-field cron expression *and* an IANA zone, and the
expression is read on that zone's wall clock. croniter's own time-zone support
has had DST bugs, so it is only ever given naive wall-clock datetimes, and each
local time ``L`` it matches is turned into an instant here:

* ``L`` exists once: that instant.
* ``L`` is in the repeated hour of a jump back (01:30 on 2026-11-01 in
  America/New_York): its *first* occurrence (``fold=0``, EDT), only.
* ``L`` is in the gap of a jump forward (02:30 on 2026-03-08 in
  America/New_York): the first valid instant after the gap (03:00 EDT). Several
  gap times, and 03:00 itself if it matches, collapse into that one fire.

That map never goes backwards, so the fires of a schedule are the distinct
images of its local matches: strictly increasing, no instant twice.

A 5-field cron matches a minute exactly when its day matches (day of month,
month, day of week, with ``L``, ``W`` and ``#`` forms as croniter reads them)
and its minute-of-day is one of ``minutes × hours``. croniter answers the day
question (from an expression ``0 0 <dom> <month> <dow>``); the minute question is
a sorted tuple searched with ``bisect``. This costs one croniter step per
*matching day* rather than one per fire, which is what lets ``due_fire`` count
months of missed ``* * * * *`` fires without walking them one by one.
"""

from __future__ import annotations

import re
from bisect import bisect_left, bisect_right
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from itertools import islice, pairwise
from zoneinfo import ZoneInfo

from croniter import croniter

from switchboard import zones
from switchboard.exceptions import TimeParseError
from switchboard.zones import as_utc, instant_of

__all__ = [
    "CRON_HELP",
    "Cron",
    "count_fires_between",
    "describe_cron",
    "dst_warning",
    "fires",
    "fires_after",
    "latest_fire_through",
    "looks_like_cron",
    "next_fire",
    "parse",
    "shortest_gap",
    "validate_cron",
]

_MINUTE = timedelta(minutes=1)
_DAY = timedelta(days=1)
_MINUTES_PER_DAY = 24 * 60

# Quartz writes "last Friday" as 5L; croniter spells it L5.
_QUARTZ_LAST_WEEKDAY = re.compile(r"^([0-7])L$", re.IGNORECASE)

CRON_HELP = (
    "a cron expression has 5 fields: minute (0-59), hour (0-23), day of month (1-31), "
    "month (1-12) and day of week (0-6, Sunday is 0)"
)
"""What a cron expression is made of, said in every refusal of one."""

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


def looks_like_cron(text: str) -> bool:
    """Whether ``text`` is written as a cron expression (right or wrong) rather than as words."""
    fields = text.split()
    if len(fields) == 1:
        return fields[0].startswith("@")
    numeric = all(re.fullmatch(r"[\d*/,?-]+", f) for f in fields[:2])
    return numeric and (len(fields) >= 5 or "*" in text)


@dataclass(frozen=True)
class Cron:
    """A checked 5-field cron expression, split into its day part and its minute-of-day part."""

    expr: str
    """The expression, normalised: single spaces, nicknames spelled out, Quartz "5L" as "L5"."""
    minutes_of_day: tuple[int, ...]
    """Sorted minutes after local midnight at which a matching day fires."""
    day_expr: str | None
    """``0 0 <dom> <month> <dow>`` for croniter, or None when every day matches."""


def _field_values(values: Iterable[object], size: int) -> list[int]:
    """The numbers a croniter-expanded minute or hour field allows."""
    items = list(values)
    if "*" in items:  # "*" alone, or in a list such as "*,5": every value
        return list(range(size))
    return sorted({int(str(v)) for v in items})


@lru_cache(maxsize=256)
def parse(expr: str) -> Cron:
    """Read ``expr`` as a 5-field cron expression; raise TimeParseError saying what is wrong.

    Cached because a tick asks about the same few expressions again and again.
    """
    shown = " ".join(expr.split()) if isinstance(expr, str) else ""
    if not shown:
        raise TimeParseError(f"empty cron expression — {CRON_HELP}")
    fields = _CRON_NICKNAMES.get(shown.lower(), shown).split()
    if len(fields) in (6, 7):
        raise TimeParseError(f'"{shown}" has {len(fields)} fields: seconds and years are not supported — {CRON_HELP}')
    if len(fields) != 5:
        raise TimeParseError(f'"{shown}" is not a cron expression — {CRON_HELP}')
    if _QUARTZ_LAST_WEEKDAY.match(fields[4]):
        fields[4] = "L" + fields[4][0]
    for value, spec in zip(fields, _CRON_FIELDS, strict=True):
        _check_cron_field(value, spec, shown)
    normalised = " ".join(fields)
    try:
        parsed = croniter(normalised, datetime(2000, 1, 1))
    except (ValueError, TypeError) as exc:  # every croniter parse error is a ValueError or TypeError
        raise TimeParseError(f'"{shown}" is not a valid cron expression — {CRON_HELP}') from exc
    dom, dow = str(parsed.expressions[2]).lower(), str(parsed.expressions[4]).lower()
    both_days_restricted = parsed.expanded[2] != ["*"] and parsed.expanded[4] != ["*"]
    if both_days_restricted and ("l" in dom or "w" in dom or "l" in dow or "#" in dow):
        # Standard cron fires when either day field matches; croniter 7 instead ignores one of the
        # two, or finds no date at all, once L, W or # is involved. Refuse rather than guess.
        raise TimeParseError(
            f'cron expression "{shown}" restricts both day of month and day of week and uses L, W or # — '
            'put "*" in one of the two, e.g. "0 17 * * L5" for the last Friday of each month'
        )
    minutes = _field_values(parsed.expanded[0], 60)
    hours = _field_values(parsed.expanded[1], 24)
    minutes_of_day = tuple(sorted(h * 60 + m for h in hours for m in minutes))
    every_day = all(parsed.expanded[i] == ["*"] for i in (2, 3, 4))
    day_expr = None if every_day else "0 0 " + " ".join(str(e) for e in parsed.expressions[2:5])
    return Cron(expr=normalised, minutes_of_day=minutes_of_day, day_expr=day_expr)


def validate_cron(expr: str) -> str:
    """Return ``expr`` normalised (see ``parse``) if it ever fires; raise TimeParseError saying what is wrong."""
    cron = parse(expr).expr
    if not croniter.is_valid(cron, strict=True):
        raise TimeParseError(
            f'"{" ".join(expr.split())}" never fires: none of its months has that day — check the day of month '
            "and the month"
        )
    return cron


# ------------------------------------------------------ local wall-clock times


def _days(spec: Cron, start: date, *, backward: bool = False) -> Iterator[date]:
    """Matching local dates from ``start`` (inclusive), ascending or descending, until none is left."""
    try:
        if spec.day_expr is None:
            step = -_DAY if backward else _DAY
            day = start
            while True:
                yield day
                day += step
        # croniter steps strictly past its start, so start one minute to the outside of `start`.
        midnight = datetime.combine(start, time())
        if backward:
            days = croniter(spec.day_expr, midnight + _MINUTE)
            while True:
                yield days.get_prev(datetime).date()
        else:
            days = croniter(spec.day_expr, midnight - _MINUTE)
            while True:
                yield days.get_next(datetime).date()
    except (ValueError, OverflowError):
        # croniter's "failed to find next date" (a ValueError), or the end of the calendar.
        return


def _local_after(spec: Cron, local: datetime) -> Iterator[datetime]:
    """Naive local times the cron matches, strictly after ``local``, ascending."""
    mods = spec.minutes_of_day
    first_day = local.date()
    for day in _days(spec, first_day):
        midnight = datetime.combine(day, time())
        start = bisect_right(mods, local.hour * 60 + local.minute) if day == first_day else 0
        for minute in mods[start:]:
            yield midnight + timedelta(minutes=minute)


def _local_through(spec: Cron, local: datetime) -> Iterator[datetime]:
    """Naive local times the cron matches, at or before ``local``, descending."""
    mods = spec.minutes_of_day
    last_day = local.date()
    for day in _days(spec, last_day, backward=True):
        midnight = datetime.combine(day, time())
        end = bisect_right(mods, local.hour * 60 + local.minute) if day == last_day else len(mods)
        for minute in reversed(mods[:end]):
            yield midnight + timedelta(minutes=minute)


def _exists(local: datetime, zone: ZoneInfo) -> bool:
    """Whether the naive wall-clock time ``local`` happens in ``zone`` (is not in a gap)."""
    there_and_back = local.replace(tzinfo=zone).astimezone(UTC).astimezone(zone)
    return there_and_back.replace(tzinfo=None) == local


def _is_repeated(local: datetime, zone: ZoneInfo) -> bool:
    """Whether the naive wall-clock time ``local`` happens twice in ``zone`` (a jump back)."""
    first = local.replace(tzinfo=zone, fold=0).utcoffset()
    second = local.replace(tzinfo=zone, fold=1).utcoffset()
    return first != second and _exists(local, zone)


def fires_after(spec: Cron, zone: ZoneInfo, after: datetime) -> Iterator[datetime]:
    """Fires strictly after the UTC instant ``after``, strictly increasing, in UTC."""
    # Local times at or before after's wall-clock time fire at or before `after`, so start there.
    # After a jump back the wall clock re-reads the repeated hour; the `> last` test skips it.
    local = after.astimezone(zone).replace(tzinfo=None)
    last = after
    for candidate in _local_after(spec, local):
        instant = instant_of(candidate, zone)
        if instant > last:  # equal: gap times collapsed into one fire
            yield instant
            last = instant


def latest_fire_through(spec: Cron, zone: ZoneInfo, now: datetime) -> datetime | None:
    """The latest fire at or before the UTC instant ``now``, or None when there is none."""
    local = now.astimezone(zone)
    # In the second pass of a repeated hour, now's wall clock has been set back, yet fires of
    # the rest of that hour (first occurrences) are already past. Start from the wall clock
    # read with the larger of the two offsets, and skip what lies after `now`.
    offset = max(
        local.replace(fold=0).utcoffset() or timedelta(0),
        local.replace(fold=1).utcoffset() or timedelta(0),
    )
    top = now.replace(tzinfo=None) + offset
    for candidate in _local_through(spec, top):
        instant = instant_of(candidate, zone)
        if instant <= now:
            return instant
    return None


def _plain_day(day: date, zone: ZoneInfo) -> bool:
    """Whether ``zone`` keeps one UTC offset through the whole local ``day``.

    Checked at both midnights with both folds. Two offset changes inside one day that cancel
    out would slip through; tzdata has no such pair (its offset changes are at least 7 days
    apart), and a day that is not plain is simply examined minute by minute.
    """
    start = datetime.combine(day, time())
    offsets = {
        moment.replace(tzinfo=zone, fold=fold).utcoffset() for moment in (start, start + _DAY) for fold in (0, 1)
    }
    return len(offsets) == 1


def count_fires_between(spec: Cron, zone: ZoneInfo, low: datetime, high: datetime, max_days: int) -> int:
    """How many fires lie strictly between the UTC instants ``low`` and ``high``.

    Walks the matching local days between them (at most ``max_days``; past that the count is a
    lower bound). On a day with a single UTC offset, fires map one to one onto local times, so
    they are counted with two bisections; a day with a DST change is examined time by time.
    """
    mods = spec.minutes_of_day
    # Gap times fire at the instant after the gap, whose local date may be later, so start early.
    first_day = low.astimezone(zone).date() - 2 * _DAY
    last_day = high.astimezone(zone).date() + 2 * _DAY
    count = 0
    last_counted: datetime | None = None  # consecutive equal instants are one fire
    for scanned, day in enumerate(_days(spec, first_day)):
        if day > last_day or scanned >= max_days:
            break
        midnight = datetime.combine(day, time())
        if _plain_day(day, zone):
            offset = midnight.replace(tzinfo=zone).utcoffset() or timedelta(0)
            # low < L - offset < high  <=>  low + offset < L < high + offset, minute-aligned L.
            after = (low.replace(tzinfo=None) + offset - midnight) // _MINUTE
            before = -((midnight - high.replace(tzinfo=None) - offset) // _MINUTE)  # ceiling
            start = bisect_right(mods, after)
            end = bisect_left(mods, before)
            if end <= start:
                continue
            count += end - start
            if instant_of(midnight + timedelta(minutes=mods[start]), zone) == last_counted:
                count -= 1  # the tail of a gap that began the day before
            last_counted = instant_of(midnight + timedelta(minutes=mods[end - 1]), zone)
        else:
            for minute in mods:
                instant = instant_of(midnight + timedelta(minutes=minute), zone)
                if low < instant < high and instant != last_counted:
                    count += 1
                    last_counted = instant
    return count


# ----------------------------------------------------------------- when it fires


def shortest_gap(cron: str) -> timedelta:
    """The least time between two fires of ``cron`` on the wall clock, judged on its minute and hour fields.

    Exact for a cron that fires every day; for one that skips days it is a lower
    bound (the last fire of one day and the first of the next are taken to be
    a day apart), so a limit checked against it is never too lenient.
    """
    mods = parse(cron).minutes_of_day
    gaps = [later - earlier for earlier, later in pairwise(mods)]
    gaps.append(_MINUTES_PER_DAY - mods[-1] + mods[0])
    return timedelta(minutes=min(gaps))


def next_fire(cron: str, tz: str, after: datetime) -> datetime:
    """The first fire of ``cron`` in zone ``tz`` strictly after ``after``, in UTC.

    Raises TimeParseError for a cron expression that cannot be read or never fires again,
    UnknownZoneError for an unknown zone and ValueError for a naive ``after``.
    """
    spec, zone, after_utc = parse(cron), zones.zone(tz), as_utc("after", after)
    found = next(fires_after(spec, zone, after_utc), None)
    if found is None:
        raise TimeParseError(
            f'cron expression "{cron}" never fires after {after_utc.isoformat()} — '
            "check its day-of-month and month fields (e.g. February has no 30th)"
        )
    return found


def fires(cron: str, tz: str, after: datetime, count: int) -> list[datetime]:
    """The next ``count`` fires of ``cron`` in zone ``tz`` strictly after ``after``, in UTC.

    Fewer when the expression stops firing (an impossible date gives an empty list).
    """
    if count < 0:
        raise ValueError(f"count must be 0 or more, got {count}")
    spec, zone, after_utc = parse(cron), zones.zone(tz), as_utc("after", after)
    return list(islice(fires_after(spec, zone, after_utc), count))


def dst_warning(cron: str, tz: str, fire: datetime) -> str | None:
    """A one-line warning when ``fire`` stands for a wall-clock time a DST change moves or repeats.

    ``fire`` is a fire of this schedule (from ``next_fire``, ``fires`` or ``due_fire``). The
    warning names the local times that fall in a jump forward and fire at the first valid
    instant after it, or the time that happens twice on a jump back and fires at its first
    occurrence only. None for an ordinary fire.
    """
    spec, zone, fire_utc = parse(cron), zones.zone(tz), as_utc("fire", fire)
    local = fire_utc.astimezone(zone)
    wall = local.replace(tzinfo=None)
    at = f"{_clock(wall)} {local.tzname()} ({_clock(fire_utc)} UTC)"

    jump = (local.utcoffset() or timedelta(0)) - (
        (fire_utc - timedelta(microseconds=1)).astimezone(zone).utcoffset() or timedelta(0)
    )
    if jump > timedelta(0):  # `fire` is the first instant after a jump forward
        gap_start = wall - jump
        lost: list[datetime] = []
        for candidate in _local_through(spec, wall - timedelta(microseconds=1)):
            if candidate < gap_start:
                break
            lost.append(candidate)
        if lost:
            lost.reverse()
            if len(lost) == 1:
                what, verb, they = _clock(lost[0]), "does", "it fires"
            elif len(lost) <= 4:
                names = [_clock(t) for t in lost]
                what, verb, they = ", ".join(names[:-1]) + " and " + names[-1], "do", "they fire"
            else:
                what = f"{len(lost)} fire times from {_clock(lost[0])} to {_clock(lost[-1])}"
                verb, they = "do", "they fire"
            return (
                f"{what} on {lost[0]:%Y-%m-%d} {verb} not exist in {tz} (clocks jump forward "
                f"{_duration(jump)} at {_clock(gap_start)}); {they} once at the first valid "
                f"time after the jump, {at}"
            )

    if local.fold == 0 and _is_repeated(wall, zone) and next(_local_through(spec, wall), None) == wall:
        back = (local.utcoffset() or timedelta(0)) - (wall.replace(tzinfo=zone, fold=1).utcoffset() or timedelta(0))
        return (
            f"{_clock(wall)} on {wall:%Y-%m-%d} happens twice in {tz} (clocks go back "
            f"{_duration(back)}); it fires once, at the first occurrence, {at}"
        )
    return None


# -------------------------------------------------------------------- helpers


def _clock(moment: datetime) -> str:
    """``HH:MM`` (``HH:MM:SS`` when the seconds are not zero) of ``moment``'s own wall clock."""
    return f"{moment:%H:%M:%S}" if moment.second else f"{moment:%H:%M}"


def _duration(span: timedelta) -> str:
    """``span`` in words: "1 hour", "30 minutes", "1 hour 30 minutes"."""
    minutes = int(span.total_seconds() // 60)
    hours, minutes = divmod(minutes, 60)
    parts = []
    if hours:
        parts.append(f"{hours} hour{'s' if hours != 1 else ''}")
    if minutes or not hours:
        parts.append(f"{minutes} minute{'s' if minutes != 1 else ''}")
    return " ".join(parts)
