"""switchboard.timeparse: phrases in, instants and cron expressions out."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from croniter import croniter
from hypothesis import assume, given
from hypothesis import strategies as st

from switchboard.exceptions import PastTimeError, TimeParseError, UnknownZoneError
from switchboard.timeparse import describe_cron, parse_instant, parse_recurring, refuse_past, validate_cron, zone

ROOT = Path(__file__).resolve().parents[1]
PHRASES = Path(__file__).resolve().parent / "data" / "phrases.tsv"
SHARED_PHRASES = Path(__file__).resolve().parents[2] / "shared" / "examples" / "phrases.tsv"
TUESDAY = datetime(2026, 3, 10, 15, 20, tzinfo=UTC)  # the --now of phrases.tsv


def phrase_rows(path: Path) -> list[tuple[str, str, str, str, str]]:
    """The (kind, phrase, tz, now, expected) rows of a phrases.tsv, comments left out."""
    rows = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.startswith("#"):
            kind, phrase, tz, now, expected = line.split("\t")
            rows.append((kind, phrase, tz, now, expected))
    return rows


def fires(cron: str, tz: str, start: datetime, count: int = 50) -> list[datetime]:
    """The next ``count`` fire times of ``cron`` read in ``tz``, after ``start``."""
    times = croniter(cron, start.astimezone(ZoneInfo(tz)))
    return [times.get_next(datetime) for _ in range(count)]


def utc(text: str) -> datetime:
    """An ISO 8601 instant, as an aware datetime."""
    return datetime.fromisoformat(text)


# ---------------------------------------------------------------- phrases.tsv


def test_repo_copy_of_phrases_matches_the_shared_file() -> None:
    if not SHARED_PHRASES.exists():
        pytest.skip(f"no shared phrases file at {SHARED_PHRASES}")
    assert phrase_rows(PHRASES) == phrase_rows(SHARED_PHRASES)


@pytest.mark.parametrize(("kind", "phrase", "tz", "now", "expected"), phrase_rows(PHRASES))
def test_phrases_tsv(kind: str, phrase: str, tz: str, now: str, expected: str) -> None:
    start = utc(now)
    if kind == "at":
        assert parse_instant(phrase, tz=tz, now=start) == utc(expected)
    elif kind == "every":
        cron, zone_name = parse_recurring(phrase, tz=tz)
        assert zone_name == tz
        assert fires(cron, tz, start) == fires(expected, tz, start)
    else:
        assert kind == "reject"
        shows_the_phrase = re.escape(f'"{phrase}"')  # a clear error says what it could not read
        with pytest.raises(TimeParseError, match=shows_the_phrase):
            parse_recurring(phrase, tz=tz)
        with pytest.raises(TimeParseError, match=shows_the_phrase):
            parse_instant(phrase, tz=tz, now=start)


# ---------------------------------------------------------------- recurring


@pytest.mark.parametrize(
    ("phrase", "cron"),
    [
        ("every monday and wednesday at 3pm", "0 15 * * 1,3"),
        ("every day at 9am and 5pm", "0 9,17 * * *"),
        ("every 2 hours", "0 */2 * * *"),
        ("on the first day of every month at 8am", "0 8 1 * *"),
        ("every hour on weekdays", "0 * * * 1-5"),
        ("at 9am every weekday", "0 9 * * 1-5"),
        ("every last friday of the month at 5pm", "0 17 * * L5"),
        ("every 15 minutes on weekdays", "*/15 * * * 1-5"),
        ("every weekday at 9:30am", "30 9 * * 1-5"),
        ("daily at noon", "0 12 * * *"),
        ("every day at midnight", "0 0 * * *"),
        ("every sunday at 18:00", "0 18 * * 0"),
        ("every month on the 15th at 10am", "0 10 15 * *"),
        ("  Every   MONDAY at 9 A.M. ", "0 9 * * 1"),
        ("each tuesday, thursday & saturday at 7:45 pm", "45 19 * * 2,4,6"),
        ("monday to friday at 8:15", "15 8 * * 1-5"),
        ("every friday through monday", "0 9 * * 0,1,5,6"),
        ("weekends at 10am", "0 10 * * 0,6"),
        ("every minute", "* * * * *"),
        ("every half hour", "*/30 * * * *"),
        ("every 60 minutes", "0 * * * *"),
        ("every 24 hours", "0 0 * * *"),
        ("once a week", "0 9 * * 1"),
        ("every year", "0 9 1 1 *"),
        ("yearly on march 15 at noon", "0 12 15 3 *"),
        ("on the 1st and 15th at 10am", "0 10 1,15 * *"),
        ("on the last day of the month at 23:59", "59 23 L * *"),
        ("the first monday of the month", "0 9 * * 1#1"),
        ("the second monday of every month at 10am", "0 10 * * 1#2"),
        ("every day in may at 12am", "0 0 * 5 *"),
        ("@daily", "0 0 * * *"),
        ("0   9 * *   1-5", "0 9 * * 1-5"),
    ],
)
def test_recurring_phrases(phrase: str, cron: str) -> None:
    assert parse_recurring(phrase) == (cron, "UTC")


def test_recurring_returns_the_zone_it_was_given() -> None:
    assert parse_recurring("every weekday at 10am", tz="Europe/Berlin") == ("0 10 * * 1-5", "Europe/Berlin")


CANNOT_COUNT_DAYS = 'name the days instead, such as "every monday and thursday" or "on the 1st and 15th"'


@pytest.mark.parametrize(
    ("phrase", "message"),
    [
        (
            "every blue moon",
            'could not understand "every blue moon" as a schedule — try "every monday at 9am", '
            '"every weekday at 10am", "every 15 minutes" or a cron expression such as "0 9 * * 1-5"',
        ),
        (
            "every 90 minutes",
            'cron cannot express "every 90 minutes" exactly — use a divisor of 60 such as "every 30 minutes", '
            "or two schedules",
        ),
        ("every 0 minutes", '"every 0 minutes" never repeats — use a number from 1, such as "every 5 minutes"'),
        (
            "every 5 hours",
            'cron cannot express "every 5 hours" exactly — use a divisor of 24 such as "every 4 hours" '
            'or "every 6 hours", or several schedules',
        ),
        ("every 3 days", f'cron cannot express "every 3 days" exactly — {CANNOT_COUNT_DAYS}'),
        ("every other day", f'cron cannot express "every other day" exactly — {CANNOT_COUNT_DAYS}'),
        ("every 2 weeks", f'cron cannot express "every 2 weeks" exactly — {CANNOT_COUNT_DAYS}'),
        (
            "every 3 months",
            'cron cannot express "every 3 months" exactly — name the months instead, such as '
            '"on the 1st of january, april, july and october"',
        ),
        (
            "every other monday",
            'cron cannot express "every other monday" exactly — it cannot count weeks; name days of the month '
            'instead, such as "on the 1st and 15th"',
        ),
        (
            "twice a day",
            'cron cannot tell which times "twice a day" means — name them, such as "every day at 9am and 5pm"',
        ),
        (
            "every day at 9:30am and 5pm",
            'cron cannot fire at exactly the times in "every day at 9:30am and 5pm" with one expression — '
            "use times with the same minutes, or two schedules",
        ),
        (
            "every hour at 9am",
            '"every hour at 9am" gives both an interval and a time of day — say one, such as "every 2 hours" '
            'or "every day at 9am and 5pm"',
        ),
        (
            "every monday on the 15th",
            'cron cannot combine a day of the month with a day of the week in "every monday on the 15th" — '
            "it would fire on both; use two schedules",
        ),
        (
            "every weekday and the last friday",
            'cron cannot mix plain weekdays with one such as "the last friday" in '
            '"every weekday and the last friday" — use two schedules',
        ),
        ("every monday at 13pm", 'there is no time of day "13pm" — use 0:00-23:59, or 1-12 with am/pm'),
        ("61 * * * *", 'minute must be 0-59, got 61 in "61 * * * *"'),
    ],
)
def test_recurring_refusals(phrase: str, message: str) -> None:
    with pytest.raises(TimeParseError) as caught:
        parse_recurring(phrase)
    assert str(caught.value) == message


@pytest.mark.parametrize("phrase", ["at 9am", "every", "every second", "every 2nd day", "", "every 1.5 hours"])
def test_recurring_refuses_what_is_not_a_schedule(phrase: str) -> None:
    with pytest.raises(TimeParseError):
        parse_recurring(phrase)


def test_recurring_checks_the_zone() -> None:
    with pytest.raises(UnknownZoneError):
        parse_recurring("every monday", tz="Mars/Base")


# ---------------------------------------------------------------- instants


@pytest.mark.parametrize(
    ("phrase", "tz", "now", "expected"),
    [
        # a day with no time of day means 09:00 there
        ("tomorrow", "UTC", TUESDAY, "2026-03-11T09:00:00Z"),
        ("friday", "UTC", TUESDAY, "2026-03-13T09:00:00Z"),
        ("march 20", "UTC", TUESDAY, "2026-03-20T09:00:00Z"),
        ("2026-03-20", "Europe/Berlin", TUESDAY, "2026-03-20T08:00:00Z"),
        # a zone or offset in the phrase beats --tz
        ("tomorrow at 9am PST", "UTC", TUESDAY, "2026-03-11T17:00:00Z"),
        ("tomorrow at 9am +02:00", "America/New_York", TUESDAY, "2026-03-11T07:00:00Z"),
        # an ISO time without an offset is read in --tz
        ("2026-03-11T09:00:00", "Europe/Berlin", TUESDAY, "2026-03-11T08:00:00Z"),
        # weekdays: "next" skips today, "this" is today (a bare weekday that is today is refused)
        ("next tuesday", "UTC", TUESDAY, "2026-03-17T09:00:00Z"),
        ("this tuesday at 5pm", "UTC", TUESDAY, "2026-03-10T17:00:00Z"),
        ("next tuesday at 3pm", "UTC", TUESDAY, "2026-03-17T15:00:00Z"),
        ("on monday at 9 a.m.", "UTC", TUESDAY, "2026-03-16T09:00:00Z"),
        ("9:30 pm tomorrow", "UTC", TUESDAY, "2026-03-11T21:30:00Z"),
        # a bare time of day is the next time the clock shows it
        ("9am", "UTC", TUESDAY, "2026-03-11T09:00:00Z"),
        ("at 5pm", "UTC", TUESDAY, "2026-03-10T17:00:00Z"),
        ("noon", "Asia/Kolkata", TUESDAY, "2026-03-11T06:30:00Z"),
        # ...unless it passed less than an hour ago: then it is today's (a slip, refused as past by send)
        ("3pm", "UTC", TUESDAY, "2026-03-10T15:00:00Z"),
        ("14:21", "UTC", TUESDAY, "2026-03-10T14:21:00Z"),
        ("14:19", "UTC", TUESDAY, "2026-03-11T14:19:00Z"),
        # relative: minutes and hours are elapsed time, days keep the clock time
        ("in an hour", "UTC", TUESDAY, "2026-03-10T16:20:00Z"),
        ("in half an hour", "UTC", TUESDAY, "2026-03-10T15:50:00Z"),
        ("2 hours and 30 minutes from now", "UTC", TUESDAY, "2026-03-10T17:50:00Z"),
        ("in 5m", "UTC", TUESDAY, "2026-03-10T15:25:00Z"),
        ("in 2 weeks", "UTC", TUESDAY, "2026-03-24T15:20:00Z"),
        ("in 1 month", "UTC", TUESDAY, "2026-04-10T15:20:00Z"),
        ("in 3 days", "America/New_York", utc("2026-03-06T20:00:00Z"), "2026-03-09T19:00:00Z"),
        ("in 24 hours", "America/New_York", utc("2026-03-07T20:00:00Z"), "2026-03-08T20:00:00Z"),
        ("NOW", "Europe/Berlin", TUESDAY, "2026-03-10T15:20:00Z"),
        # weeks run Monday to Sunday; a weekday of a month; counted weekdays
        ("wednesday next week", "UTC", TUESDAY, "2026-03-18T09:00:00Z"),
        ("monday of this week at 3pm", "UTC", TUESDAY, "2026-03-09T15:00:00Z"),
        ("the last friday of march", "UTC", TUESDAY, "2026-03-27T09:00:00Z"),
        ("2 thursdays from now", "UTC", TUESDAY, "2026-03-19T09:00:00Z"),
        ("in two and a half hours", "UTC", TUESDAY, "2026-03-10T17:50:00Z"),
    ],
)
def test_instants(phrase: str, tz: str, now: datetime, expected: str) -> None:
    assert parse_instant(phrase, tz=tz, now=now) == utc(expected)


@pytest.mark.parametrize(
    ("phrase", "tz", "now", "expected"),
    [
        # 02:30 does not exist on these days: the first valid instant is 03:00, the jump itself
        ("2026-03-29T02:30:00", "Europe/Berlin", TUESDAY, "2026-03-29T01:00:00Z"),
        ("tomorrow at 2:30am", "America/New_York", utc("2026-03-07T12:00:00Z"), "2026-03-08T07:00:00Z"),
        ("march 8 at 2:30am", "America/New_York", utc("2026-03-07T12:00:00Z"), "2026-03-08T07:00:00Z"),
        ("in 1 day", "America/New_York", utc("2026-03-07T07:30:00Z"), "2026-03-08T07:00:00Z"),
        # 01:30 happens twice on this day: the first one counts
        ("2026-11-01T01:30:00", "America/New_York", TUESDAY, "2026-11-01T05:30:00Z"),
        ("2026-10-25T02:30:00", "Europe/Berlin", TUESDAY, "2026-10-25T00:30:00Z"),
    ],
)
def test_instants_across_daylight_saving(phrase: str, tz: str, now: datetime, expected: str) -> None:
    assert parse_instant(phrase, tz=tz, now=now) == utc(expected)


SUGGESTION = 'try "in 5 minutes", "tomorrow at 9am" or an ISO 8601 time such as 2026-03-11T09:00:00+01:00'


@pytest.mark.parametrize(
    ("phrase", "message"),
    [
        (
            "sometime soon-ish",
            '"sometime soon-ish" is not an exact time ("sometime") — name an exact time, such as '
            '"tomorrow at 9am", "in 2 hours" or "friday at 15:00"',
        ),
        ("", f'could not understand "" as a time — {SUGGESTION}'),
        ("5", f'could not understand "5" as a time — {SUGGESTION}'),
        (
            "every monday",
            f'"every monday" is a repeating schedule, not one time — make it a recurring schedule, or {SUGGESTION}',
        ),
        (
            "0 9 * * 1-5",
            f'"0 9 * * 1-5" is a repeating schedule, not one time — make it a recurring schedule, or {SUGGESTION}',
        ),
        (
            "2026-13-01",
            f'"2026-13-01" does not start with a real date (month must be in 1..12) — {SUGGESTION}',
        ),
        ("in 10000000000 days", f'"in 10000000000 days" is too far away — {SUGGESTION}'),
        ("tomorrow at 25:00", 'there is no time of day "25:00" — use 0:00-23:59, or 1-12 with am/pm'),
        (
            "tuesday at 5pm",
            '"tuesday at 5pm": tuesday is today — say "today" or "this tuesday" for today, "next tuesday" for a '
            "week from now",
        ),
        (
            "at 9",
            '"at 9" does not say whether 9:00 is in the morning or the evening — write "9:00am" or "9:00pm" '
            '(or 24-hour "21:00")',
        ),
        ("14th april 15", '"14th april 15": is "15" an hour? — write "at 15" or "15:00"'),
        (
            "3 30",
            '"3 30": "30" is not an hour, and a day or a year must be written as a date — name an exact time, '
            'such as "tomorrow at 9am", "in 2 hours" or "friday at 15:00"',
        ),
        ("two three", '"two three": is "three" an hour? — write "at three"'),
        (
            "next wednesday",
            '"next wednesday": next wednesday could be Wed 2026-03-11 or Wed 2026-03-18 — name the date, '
            'such as "mar 18"',
        ),
        (
            "next sunday at 9am",
            '"next sunday at 9am": next sunday could be Sun 2026-03-15 or Sun 2026-03-22 — name the date, '
            'such as "mar 22"',
        ),
        ("4a", '"4a": is "4a" a time? — write "4am"'),
        (
            "sunday next week",
            '"sunday next week": some weeks start on sunday, some end on it — name the date of the sunday you mean',
        ),
        (
            "the fifth monday of february",
            '"the fifth monday of february": February 2026 has no fifth monday — name the date',
        ),
        (
            "the 1st of the month",
            '"the 1st of the month": the one this month has passed — say "of this month" or "of next month"',
        ),
        ("3/4", '"3/4" could be day/month or month/day — write the month as a word ("24 dec") or use 2026-12-24'),
    ],
)
def test_instant_refusals(phrase: str, message: str) -> None:
    with pytest.raises(TimeParseError) as caught:
        parse_instant(phrase, now=TUESDAY)
    assert str(caught.value) == message


def test_instant_needs_an_aware_now() -> None:
    with pytest.raises(ValueError, match="aware"):
        parse_instant("in 5 minutes", now=datetime(2026, 3, 10, 15, 20))


def test_instant_results_are_utc() -> None:
    found = parse_instant("2026-04-01T09:00:00-05:00", now=TUESDAY)
    assert found.tzinfo is UTC
    assert found == utc("2026-04-01T14:00:00Z")


# ---------------------------------------------------------------- zones, cron checks, descriptions


def test_unknown_zone_message() -> None:
    with pytest.raises(UnknownZoneError) as caught:
        zone("Mars/Base")
    assert str(caught.value) == 'unknown time zone "Mars/Base" — use an IANA name such as "Europe/Berlin" or "UTC"'


def test_unknown_zone_suggests_the_right_case() -> None:
    with pytest.raises(UnknownZoneError, match=r'\(did you mean "Europe/Berlin"\?\)$'):
        zone("europe/berlin")


@pytest.mark.parametrize("name", ["", "America", "../etc/passwd", "/etc/localtime", "localtime"])
def test_zone_refuses_what_is_not_an_iana_zone(name: str) -> None:
    with pytest.raises(UnknownZoneError):
        zone(name)


def test_zone_returns_zoneinfo() -> None:
    assert zone("Europe/Berlin") == ZoneInfo("Europe/Berlin")


@pytest.mark.parametrize(
    ("expr", "normalised"),
    [
        ("  0  9 * *   1-5 ", "0 9 * * 1-5"),
        ("@hourly", "0 * * * *"),
        ("0 9 * * 7", "0 9 * * 7"),
        ("0 9 * * MON-FRI", "0 9 * * MON-FRI"),
        ("0 17 * * L5", "0 17 * * L5"),
        ("0 9 29 2 *", "0 9 29 2 *"),
    ],
)
def test_validate_cron_accepts(expr: str, normalised: str) -> None:
    assert validate_cron(expr) == normalised


CRON_HELP = (
    "a cron expression has 5 fields: minute (0-59), hour (0-23), day of month (1-31), "
    "month (1-12) and day of week (0-6, Sunday is 0)"
)


@pytest.mark.parametrize(
    ("expr", "message"),
    [
        ("61 * * * *", 'minute must be 0-59, got 61 in "61 * * * *"'),
        ("0 24 * * *", 'hour must be 0-23, got 24 in "0 24 * * *"'),
        ("0 9 0 * *", 'day of month must be 1-31, got 0 in "0 9 0 * *"'),
        ("0 9 * 1-13 *", 'month must be 1-12, got 13 in "0 9 * 1-13 *"'),
        ("0 9 * * 8", 'day of week must be 0-6 (Sunday is 0, or 7), got 8 in "0 9 * * 8"'),
        ("*/0 * * * *", 'minute step must be a whole number from 1, got "*/0" in "*/0 * * * *"'),
        ("0 0 9 * * *", f'"0 0 9 * * *" has 6 fields: seconds and years are not supported — {CRON_HELP}'),
        ("0 9 * *", f'"0 9 * *" is not a cron expression — {CRON_HELP}'),
        ("0 9 * * funday", f'"0 9 * * funday" is not a valid cron expression — {CRON_HELP}'),
        (
            "0 9 30 2 *",
            '"0 9 30 2 *" never fires: none of its months has that day — check the day of month and the month',
        ),
    ],
)
def test_validate_cron_refuses(expr: str, message: str) -> None:
    with pytest.raises(TimeParseError) as caught:
        validate_cron(expr)
    assert str(caught.value) == message


def test_describe_cron() -> None:
    assert describe_cron("0 9 * * 1-5") == "At 09:00 AM, Monday through Friday"
    assert describe_cron("0 17 * * L5") == "At 05:00 PM, on the last Friday of the month"


def test_describe_cron_falls_back_to_the_expression() -> None:
    assert describe_cron("not a cron") == "not a cron"


# ---------------------------------------------------------------- properties

# Words a recurring phrase is made of, to throw together at random.
WORDS = [
    "every", "each", "on", "at", "the", "of", "and", "in", "other", "day", "days", "week", "month", "year",
    "minute", "minutes", "hour", "hours", "daily", "weekly", "monthly", "hourly", "weekday", "weekdays",
    "weekend", "monday", "tue", "fridays", "sunday", "to", "last", "first", "second", "1st", "15th", "31st",
    "january", "may", "9am", "5:30pm", "14:00", "noon", "midnight", "0", "1", "2", "5", "7", "15", "30",
    "45", "60", "90", "twice", "a", "*", "*/5", "L",
]  # fmt: skip


@given(st.lists(st.sampled_from(WORDS), min_size=1, max_size=8).map(" ".join))
def test_recurring_returns_valid_cron_or_refuses(phrase: str) -> None:
    try:
        cron, zone_name = parse_recurring(phrase)
    except TimeParseError:
        return
    assert croniter.is_valid(cron, strict=True)
    assert validate_cron(cron) == cron
    assert zone_name == "UTC"


def cron_field(lowest: int, highest: int) -> st.SearchStrategy[str]:
    """One cron field built from "*", numbers, ranges and steps within [lowest, highest]."""
    number = st.integers(lowest, highest)
    span = st.tuples(number, number).map(sorted).map(lambda pair: f"{pair[0]}-{pair[1]}")
    step = st.integers(1, highest - lowest + 1)
    item = st.one_of(
        st.just("*"),
        number.map(str),
        span,
        st.tuples(st.sampled_from(["*"]) | span, step).map(lambda pair: f"{pair[0]}/{pair[1]}"),
    )
    return st.lists(item, min_size=1, max_size=3).map(",".join)


@given(cron_field(0, 59), cron_field(0, 23), cron_field(1, 31), cron_field(1, 12), cron_field(0, 6))
def test_cron_round_trips_unchanged(minute: str, hour: str, day: str, month: str, weekday: str) -> None:
    cron = f"{minute} {hour} {day} {month} {weekday}"
    assume(croniter.is_valid(cron, strict=True))
    assert parse_recurring(cron) == (cron, "UTC")


ZONES = ["UTC", "Europe/Berlin", "America/New_York", "Australia/Lord_Howe", "Asia/Kathmandu", "Pacific/Apia"]
AWARE_NOWS = st.datetimes(
    min_value=datetime(1990, 1, 1),
    max_value=datetime(2100, 1, 1),
    timezones=st.one_of(
        st.sampled_from([ZoneInfo(name) for name in ZONES]),
        st.integers(-14 * 60, 14 * 60).map(lambda minutes: timezone(timedelta(minutes=minutes))),
    ),
)


@given(st.integers(1, 100_000), AWARE_NOWS, st.sampled_from(ZONES))
def test_in_n_minutes_is_n_minutes_later(minutes: int, now: datetime, tz: str) -> None:
    # Compare instants: ``now + timedelta`` on a ZoneInfo datetime is wall-clock arithmetic.
    assert parse_instant(f"in {minutes} minutes", tz=tz, now=now) == now.astimezone(UTC) + timedelta(minutes=minutes)


@given(st.datetimes(min_value=datetime(1990, 1, 1), max_value=datetime(2100, 1, 1)), st.sampled_from(ZONES))
def test_wall_times_land_on_themselves_or_just_after_a_jump(wall: datetime, tz: str) -> None:
    wall = wall.replace(microsecond=0)
    found = parse_instant(wall.isoformat(), tz=tz, now=TUESDAY)
    local = ZoneInfo(tz)
    shown = found.astimezone(local).replace(tzinfo=None)
    if shown != wall:  # skipped by a jump forward: we are at the jump, a second earlier was before it
        second_before = (found - timedelta(seconds=1)).astimezone(local).replace(tzinfo=None)
        assert second_before < wall < shown


# ---------------------------------------------------------------- no outside date parser


def test_instants_use_no_outside_date_parser() -> None:
    # Its guesses were the misreads: the grammar is our own, and nothing else is asked.
    code = (
        "import sys\n"
        "from datetime import datetime, timezone\n"
        "import switchboard.timeparse as t\n"
        "t.parse_instant('tomorrow at 9am PST', now=datetime.now(timezone.utc))\n"
        "t.parse_recurring('every weekday at 10am', tz='Europe/Berlin')\n"
        "print('dateparser' in sys.modules)\n"
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, check=True)
    assert done.stdout.split() == ["False"]


# ---------------------------------------------------------------- past times


@pytest.mark.parametrize("seconds_ago", [0, 1, 59, 60])
def test_a_time_within_the_grace_counts_as_now(seconds_ago: int) -> None:
    refuse_past(TUESDAY - timedelta(seconds=seconds_ago), text="now", tz="UTC", now=TUESDAY)


def test_a_past_time_is_refused_with_the_instant_and_what_to_type() -> None:
    instant = parse_instant("this morning", tz="America/New_York", now=TUESDAY)
    with pytest.raises(PastTimeError) as caught:
        refuse_past(instant, text="this morning", tz="America/New_York", now=TUESDAY, anyway=", or send it anyway")
    assert str(caught.value) == (
        '"this morning" is Tue 2026-03-10 09:00 EDT (America/New_York), 2 hours 20 minutes ago — a one-time '
        'message needs a time still to come: try "tomorrow at 09:00" or "in 10 minutes", or send it anyway'
    )
    with pytest.raises(PastTimeError, match=r"1 minute ago"):
        refuse_past(TUESDAY - timedelta(seconds=61), text="x", tz="UTC", now=TUESDAY)
