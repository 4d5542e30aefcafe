"""switchboard.due: fire times on the schedule's wall clock, DST, what is due at ``now``.

The DST cases are written out by hand (instants in UTC, as a reader would check them
against a calendar); Hypothesis then checks the properties the tick relies on.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from itertools import pairwise
from zoneinfo import ZoneInfo

import pytest
from croniter import croniter
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from switchboard.due import (
    Fire,
    bucket_of,
    buckets_through,
    dst_warning,
    due_fire,
    fires,
    is_one_time_due,
    next_fire,
)
from switchboard.exceptions import TimeParseError, UnknownZoneError

NY = "America/New_York"


def z(text: str) -> datetime:
    """An aware datetime from ISO 8601 (``Z`` allowed)."""
    value = datetime.fromisoformat(text)
    assert value.tzinfo is not None
    return value


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    """An instant written in UTC."""
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


def local_walls(instants: list[datetime], tz: str) -> list[str]:
    """Wall-clock ``MM-DD HH:MM`` of each instant in ``tz``, for readable assertions."""
    return [f"{i.astimezone(ZoneInfo(tz)):%m-%d %H:%M}" for i in instants]


# ------------------------------------------------------------------ DST, by hand


class TestSpringForward:
    """America/New_York, 2026-03-08: 02:00 EST becomes 03:00 EDT (07:00Z)."""

    def test_time_in_the_gap_fires_once_at_the_first_valid_instant(self) -> None:
        got = fires("30 2 * * *", NY, z("2026-03-06T12:00Z"), 3)
        assert got == [utc(2026, 3, 7, 7, 30), utc(2026, 3, 8, 7, 0), utc(2026, 3, 9, 6, 30)]

    def test_start_of_the_gap_fires_at_0700z(self) -> None:
        assert next_fire("0 2 * * *", NY, z("2026-03-07T12:00Z")) == utc(2026, 3, 8, 7, 0)

    def test_quarter_hours_across_the_gap_collapse_without_duplicate(self) -> None:
        got = fires("*/15 * * * *", NY, z("2026-03-08T06:00Z"), 8)  # after 01:00 EST
        assert got == [
            utc(2026, 3, 8, 6, 15),  # 01:15 EST
            utc(2026, 3, 8, 6, 30),
            utc(2026, 3, 8, 6, 45),  # 01:45 EST
            utc(2026, 3, 8, 7, 0),  # 02:00, 02:15, 02:30, 02:45 and 03:00 EDT: one fire
            utc(2026, 3, 8, 7, 15),  # 03:15 EDT
            utc(2026, 3, 8, 7, 30),
            utc(2026, 3, 8, 7, 45),
            utc(2026, 3, 8, 8, 0),
        ]
        assert not [w for w in local_walls(got, NY) if w.startswith("03-08 02:")]

    def test_the_jump_instant_itself_is_not_fired_again(self) -> None:
        assert next_fire("*/15 * * * *", NY, utc(2026, 3, 8, 7, 0)) == utc(2026, 3, 8, 7, 15)
        assert next_fire("30 2 * * *", NY, utc(2026, 3, 8, 7, 0)) == utc(2026, 3, 9, 6, 30)

    def test_every_minute_through_the_gap(self) -> None:
        got = fires("* * * * *", NY, utc(2026, 3, 8, 6, 58), 4)
        assert got == [utc(2026, 3, 8, 6, 59), utc(2026, 3, 8, 7, 0), utc(2026, 3, 8, 7, 1), utc(2026, 3, 8, 7, 2)]


class TestFallBack:
    """America/New_York, 2026-11-01: 02:00 EDT becomes 01:00 EST (06:00Z); 01:00-01:59 happen twice."""

    def test_repeated_time_fires_once_at_its_first_occurrence(self) -> None:
        got = fires("30 1 * * *", NY, z("2026-10-31T00:00Z"), 3)
        assert got == [utc(2026, 10, 31, 5, 30), utc(2026, 11, 1, 5, 30), utc(2026, 11, 2, 6, 30)]

    def test_half_hours_across_the_repeated_hour(self) -> None:
        got = fires("*/30 * * * *", NY, z("2026-11-01T04:45Z"), 6)  # after 00:45 EDT
        assert got == [
            utc(2026, 11, 1, 5, 0),  # 01:00 EDT
            utc(2026, 11, 1, 5, 30),  # 01:30 EDT
            # 06:00Z and 06:30Z are 01:00 and 01:30 EST again: not fired
            utc(2026, 11, 1, 7, 0),  # 02:00 EST
            utc(2026, 11, 1, 7, 30),
            utc(2026, 11, 1, 8, 0),
            utc(2026, 11, 1, 8, 30),
        ]

    def test_after_inside_the_second_pass_skips_the_rest_of_the_repeat(self) -> None:
        # 06:10Z is 01:10 EST, the second 01:10: 01:30 was already fired at 05:30Z.
        assert next_fire("*/30 * * * *", NY, utc(2026, 11, 1, 6, 10)) == utc(2026, 11, 1, 7, 0)
        assert next_fire("30 1 * * *", NY, utc(2026, 11, 1, 6, 10)) == utc(2026, 11, 2, 6, 30)


class TestOtherZones:
    def test_berlin_weekdays_at_nine_across_the_spring_change(self) -> None:
        # Europe/Berlin moves to summer time on Sunday 2026-03-29: 09:00 is 08:00Z, then 07:00Z.
        got = fires("0 9 * * 1-5", "Europe/Berlin", z("2026-03-23T00:00Z"), 10)
        assert got == [utc(2026, 3, d, 8, 0) for d in (23, 24, 25, 26, 27)] + [
            utc(2026, 3, 30, 7, 0),
            utc(2026, 3, 31, 7, 0),
            utc(2026, 4, 1, 7, 0),
            utc(2026, 4, 2, 7, 0),
            utc(2026, 4, 3, 7, 0),
        ]

    def test_lord_howe_half_hour_gap(self) -> None:
        # 2026-10-04 02:00 +10:30 becomes 02:30 +11 (15:30Z on 10-03): 02:15 fires at 02:30.
        assert fires("15 2 * * *", "Australia/Lord_Howe", z("2026-10-02T00:00Z"), 2) == [
            utc(2026, 10, 2, 15, 45),  # 02:15 +10:30 on 10-03
            utc(2026, 10, 3, 15, 30),  # 02:30 +11 on 10-04
        ]

    def test_lord_howe_half_hour_repeat(self) -> None:
        # 2026-04-05 02:00 +11 becomes 01:30 +10:30: 01:45 happens twice, fires at 01:45 +11 only.
        assert fires("45 1 * * *", "Australia/Lord_Howe", z("2026-04-03T00:00Z"), 3) == [
            utc(2026, 4, 3, 14, 45),
            utc(2026, 4, 4, 14, 45),
            utc(2026, 4, 5, 15, 15),
        ]

    def test_havana_gap_at_midnight(self) -> None:
        # Cuba springs forward at 00:00 -> 01:00 (2026-03-08, 05:00Z): 00:30 fires at 01:00 CDT.
        assert fires("30 0 * * *", "America/Havana", z("2026-03-06T12:00Z"), 3) == [
            utc(2026, 3, 7, 5, 30),
            utc(2026, 3, 8, 5, 0),
            utc(2026, 3, 9, 4, 30),
        ]

    def test_apia_skipped_a_whole_day(self) -> None:
        # Samoa went from 2011-12-29 23:59:59 -10 straight to 2011-12-31 00:00 +14 (10:00Z).
        assert fires("0 12 * * *", "Pacific/Apia", z("2011-12-29T00:00Z"), 3) == [
            utc(2011, 12, 29, 22, 0),  # 12:00 on the 29th (-10)
            utc(2011, 12, 30, 10, 0),  # the 30th never happened: first instant after, 00:00 on the 31st
            utc(2011, 12, 30, 22, 0),  # 12:00 on the 31st (+14)
        ]

    def test_kolkata_has_no_dst(self) -> None:
        assert fires("0 9 * * *", "Asia/Kolkata", z("2026-03-07T00:00Z"), 2) == [
            utc(2026, 3, 7, 3, 30),
            utc(2026, 3, 8, 3, 30),
        ]

    def test_results_are_utc_whatever_zone_after_is_given_in(self) -> None:
        got = next_fire("0 9 * * *", "Europe/Berlin", z("2026-06-01T00:00+09:00"))
        assert got == utc(2026, 6, 1, 7, 0)
        assert got.tzinfo is UTC


class TestCronForms:
    def test_quartz_last_weekday_form_is_accepted(self) -> None:
        expected = [utc(2026, 1, 30, 17), utc(2026, 2, 27, 17), utc(2026, 3, 27, 17)]
        assert fires("0 17 * * 5L", "UTC", z("2026-01-01T00:00Z"), 3) == expected
        assert fires("0 17 * * L5", "UTC", z("2026-01-01T00:00Z"), 3) == expected

    def test_last_day_of_month_and_nth_weekday(self) -> None:
        assert fires("0 0 L * *", "UTC", z("2026-01-15T00:00Z"), 2) == [utc(2026, 1, 31), utc(2026, 2, 28)]
        assert fires("0 0 * * 2#3", "UTC", z("2026-03-01T00:00Z"), 2) == [utc(2026, 3, 17), utc(2026, 4, 21)]

    def test_day_of_month_or_day_of_week(self) -> None:
        # Both restricted: standard cron fires on either (the 1st, or any Monday).
        got = fires("0 0 1 * 1", "UTC", z("2026-06-20T00:00Z"), 4)
        assert got == [utc(2026, 6, 22), utc(2026, 6, 29), utc(2026, 7, 1), utc(2026, 7, 6)]  # 07-01 is a Wednesday

    def test_macros(self) -> None:
        assert next_fire("@daily", "UTC", z("2026-05-28T10:00Z")) == utc(2026, 5, 29)

    def test_impossible_date(self) -> None:
        after = z("2026-01-01T00:00Z")
        assert fires("0 0 31 2 *", "UTC", after, 3) == []
        assert due_fire("0 0 31 2 *", "UTC", after, z("2030-01-01T00:00Z")) is None
        with pytest.raises(TimeParseError, match=r'"0 0 31 2 \*" never fires'):
            next_fire("0 0 31 2 *", "UTC", after)

    @pytest.mark.parametrize("cron", ["", "every day", "* * * *", "0 0 * * * *", "0 0 1 1 * 2027"])
    def test_bad_cron(self, cron: str) -> None:
        with pytest.raises(TimeParseError, match="5 fields"):
            next_fire(cron, "UTC", z("2026-01-01T00:00Z"))

    def test_a_number_out_of_range_is_named(self) -> None:
        with pytest.raises(TimeParseError, match='minute must be 0-59, got 61 in "61 \\* \\* \\* \\*"'):
            next_fire("61 * * * *", "UTC", z("2026-01-01T00:00Z"))

    def test_a_star_in_a_list_means_every_value(self) -> None:
        # The parser accepted "0 *,5 * * *"; the due computation used to fail on it.
        assert fires("0 *,5 * * *", "UTC", z("2026-01-01T00:30Z"), 2) == [utc(2026, 1, 1, 1), utc(2026, 1, 1, 2)]

    @pytest.mark.parametrize("cron", ["0 0 1 * L5", "0 0 15 * 1#2", "0 0 L * 1", "0 0 15W * 1", "0 0 L * L5"])
    def test_both_day_fields_with_special_forms_are_refused(self, cron: str) -> None:
        # croniter 7 reads these inconsistently (one field ignored, or no date found at all).
        with pytest.raises(TimeParseError, match='put "\\*" in one of the two'):
            fires(cron, "UTC", z("2026-01-01T00:00Z"), 1)

    @pytest.mark.parametrize("tz", ["", "Mars/Olympus", "America", "../etc/passwd", "utc"])
    def test_unknown_zone(self, tz: str) -> None:
        with pytest.raises(UnknownZoneError, match="IANA"):
            fires("* * * * *", tz, z("2026-01-01T00:00Z"), 1)

    def test_count(self) -> None:
        assert fires("* * * * *", "UTC", z("2026-01-01T00:00Z"), 0) == []
        with pytest.raises(ValueError, match="count"):
            fires("* * * * *", "UTC", z("2026-01-01T00:00Z"), -1)


def test_naive_datetimes_are_refused() -> None:
    naive = datetime(2026, 1, 1, 10, 0)
    aware = z("2026-01-01T10:00Z")
    for call in (
        lambda: next_fire("* * * * *", "UTC", naive),
        lambda: fires("* * * * *", "UTC", naive, 1),
        lambda: due_fire("* * * * *", "UTC", naive, aware),
        lambda: due_fire("* * * * *", "UTC", aware, naive),
        lambda: dst_warning("* * * * *", "UTC", naive),
        lambda: is_one_time_due(naive, aware),
        lambda: is_one_time_due(aware, naive),
        lambda: bucket_of(naive),
        lambda: buckets_through(naive, []),
    ):
        with pytest.raises(ValueError, match="timezone-aware"):
            call()


# ---------------------------------------------------------------- dst_warning


class TestDstWarning:
    def test_gap(self) -> None:
        fire = next_fire("30 2 * * *", NY, z("2026-03-07T12:00Z"))
        assert dst_warning("30 2 * * *", NY, fire) == (
            "02:30 on 2026-03-08 does not exist in America/New_York (clocks jump forward 1 hour at 02:00); "
            "it fires once at the first valid time after the jump, 03:00 EDT (07:00 UTC)"
        )

    def test_gap_with_several_times(self) -> None:
        warning = dst_warning("*/15 * * * *", NY, utc(2026, 3, 8, 7, 0))
        assert warning is not None
        assert warning.startswith("02:00, 02:15, 02:30 and 02:45 on 2026-03-08 do not exist in America/New_York")
        assert "they fire once" in warning
        many = dst_warning("* * * * *", NY, utc(2026, 3, 8, 7, 0))
        assert many is not None and many.startswith("60 fire times from 02:00 to 02:59 on 2026-03-08")

    def test_repeated_hour(self) -> None:
        assert dst_warning("30 1 * * *", NY, utc(2026, 11, 1, 5, 30)) == (
            "01:30 on 2026-11-01 happens twice in America/New_York (clocks go back 1 hour); "
            "it fires once, at the first occurrence, 01:30 EDT (05:30 UTC)"
        )

    def test_half_hour_changes(self) -> None:
        gap = dst_warning("15 2 * * *", "Australia/Lord_Howe", utc(2026, 10, 3, 15, 30))
        assert gap is not None and "jump forward 30 minutes at 02:00" in gap
        repeat = dst_warning("45 1 * * *", "Australia/Lord_Howe", utc(2026, 4, 4, 14, 45))
        assert repeat is not None and "go back 30 minutes" in repeat

    def test_ordinary_fires_have_none(self) -> None:
        assert dst_warning("30 2 * * *", NY, utc(2026, 3, 9, 6, 30)) is None
        assert dst_warning("0 9 * * 1-5", "Europe/Berlin", utc(2026, 3, 30, 7, 0)) is None
        assert dst_warning("* * * * *", "UTC", utc(2026, 3, 8, 7, 0)) is None
        # 03:00 fires at 07:00Z, but no fire time of "0 3 * * *" was in the gap.
        assert dst_warning("0 3 * * *", NY, utc(2026, 3, 8, 7, 0)) is None
        # 01:30 is repeated, but "0 1 * * *" does not fire at 01:30.
        assert dst_warning("0 1 * * *", NY, utc(2026, 11, 1, 5, 30)) is None


# ---------------------------------------------------------------- due_fire


class TestDueFire:
    def test_never_run_schedule_waits_for_its_first_fire(self) -> None:
        created = z("2026-05-04T10:05Z")
        assert due_fire("0 * * * *", "UTC", created, z("2026-05-04T10:59Z")) is None
        assert due_fire("0 * * * *", "UTC", created, z("2026-05-04T11:00Z")) == Fire(utc(2026, 5, 4, 11), 0)

    def test_late_tick_delivers_the_latest_fire_and_counts_the_rest(self) -> None:
        last_run = z("2026-05-04T11:00Z")
        assert due_fire("0 * * * *", "UTC", last_run, z("2026-05-04T14:30Z")) == Fire(utc(2026, 5, 4, 14), skipped=2)

    def test_a_fire_exactly_at_now_is_due(self) -> None:
        last_run = z("2026-05-04T11:00Z")
        assert due_fire("0 * * * *", "UTC", last_run, z("2026-05-04T12:00Z")) == Fire(utc(2026, 5, 4, 12), 0)
        assert due_fire("0 * * * *", "UTC", last_run, z("2026-05-04T11:59:59.999999Z")) is None
        assert due_fire("0 * * * *", "UTC", last_run, last_run) is None

    def test_after_later_than_now(self) -> None:
        assert due_fire("* * * * *", "UTC", z("2026-05-04T12:00Z"), z("2026-05-04T11:00Z")) is None

    def test_now_in_any_zone(self) -> None:
        got = due_fire("0 * * * *", "UTC", z("2026-05-04T11:00Z"), z("2026-05-04T16:30+02:00"))
        assert got == Fire(utc(2026, 5, 4, 14), 2)

    def test_across_the_gap(self) -> None:
        # last run 01:45 EST; now 03:20 EDT: 02:00..02:45 and 03:00 are one fire (07:00Z), then 07:15Z.
        got = due_fire("*/15 * * * *", NY, utc(2026, 3, 8, 6, 45), utc(2026, 3, 8, 7, 20))
        assert got == Fire(utc(2026, 3, 8, 7, 15), skipped=1)

    def test_during_the_second_pass_of_a_repeated_hour(self) -> None:
        # now 06:40Z = 01:40 EST (the second one); 01:00 and 01:30 EDT fired at 05:00Z and 05:30Z.
        got = due_fire("*/30 * * * *", NY, utc(2026, 11, 1, 4, 45), utc(2026, 11, 1, 6, 40))
        assert got == Fire(utc(2026, 11, 1, 5, 30), skipped=1)
        assert due_fire("*/30 * * * *", NY, utc(2026, 11, 1, 5, 30), utc(2026, 11, 1, 6, 59)) is None
        assert due_fire("*/30 * * * *", NY, utc(2026, 11, 1, 5, 30), utc(2026, 11, 1, 7, 0)) == Fire(
            utc(2026, 11, 1, 7, 0), 0
        )

    def test_months_of_missed_minutes_are_counted_exactly_and_fast(self) -> None:
        started = time.perf_counter()
        got = due_fire("* * * * *", "UTC", z("2025-01-01T00:00Z"), z("2026-01-01T00:00:30Z"))
        assert got == Fire(utc(2026, 1, 1), skipped=365 * 24 * 60 - 1)
        # New York: the repeated hour's second pass (60 minutes) never fires; the gap loses no instant.
        got = due_fire("* * * * *", NY, z("2025-06-01T00:00Z"), z("2026-06-01T00:00Z"))
        assert got == Fire(utc(2026, 6, 1), skipped=365 * 24 * 60 - 1 - 60)
        got = due_fire("*/5 9-17 * * 1-5", NY, z("2025-06-01T00:00Z"), z("2026-06-01T00:00Z"))
        assert got is not None and got.scheduled_for == utc(2026, 5, 29, 21, 55)  # Friday 17:55 EDT
        assert time.perf_counter() - started < 2.0

    def test_max_scan_bounds_the_work(self) -> None:
        capped = due_fire("* * * * *", "UTC", z("2025-01-01T00:00Z"), z("2026-01-01T00:00Z"), max_scan=10)
        assert capped is not None and capped.scheduled_for == utc(2026, 1, 1)
        assert 0 < capped.skipped < 365 * 24 * 60 - 1  # a lower bound


# -------------------------------------------------------- one-time and buckets


def test_is_one_time_due() -> None:
    at = z("2026-05-04T12:00Z")
    assert is_one_time_due(at, z("2026-05-04T12:00Z"))
    assert is_one_time_due(at, z("2026-05-04T14:00+02:00"))
    assert is_one_time_due(at, z("2026-05-05T00:00Z"))
    assert not is_one_time_due(at, z("2026-05-04T11:59:59.999999Z"))


def test_bucket_of_is_by_utc() -> None:
    assert bucket_of(z("2026-03-10T23:30-05:00")) == ("2026-03-11", "04")
    assert bucket_of(z("2026-03-11T04:00Z")) == ("2026-03-11", "04")
    assert bucket_of(z("2026-01-01T00:59:59+01:00")) == ("2025-12-31", "23")


def test_buckets_through() -> None:
    existing = [
        ("2026-03-11", "05"),
        ("2026-03-11", "04"),
        ("2026-03-10", "23"),
        ("2026-03-12", "00"),
        ("2025-12-31", "09"),
        ("2026-03-11", "4"),  # not a bucket name
        ("2026-02-30", "01"),  # not a date
        ("2026-03-10", "24"),  # not an hour
        ("junk", "01"),
    ]
    assert buckets_through(z("2026-03-10T23:30-05:00"), existing) == [
        ("2025-12-31", "09"),
        ("2026-03-10", "23"),
        ("2026-03-11", "04"),
    ]
    assert buckets_through(z("2020-01-01T00:00Z"), existing) == []


# ---------------------------------------------------------------- properties

ZONES = ["UTC", NY, "Europe/Berlin", "Australia/Lord_Howe", "Asia/Kolkata", "America/Havana", "Pacific/Apia"]


def _cron(minute: str, hour: str, dom: str, month: str, dow: str) -> str:
    if dom != "*" and dow != "*" and any(c in dom + dow for c in "LW#"):
        dom = "*"  # a combination due.py refuses (see test_both_day_fields_with_special_forms_are_refused)
    return f"{minute} {hour} {dom} {month} {dow}"


crons = st.builds(
    _cron,
    st.sampled_from(["*", "0", "30", "*/15", "0,30", "*/7", "5-10", "59"]),
    st.sampled_from(["*", "0", "1", "2", "1-3", "*/5", "23"]),
    st.sampled_from(["*", "*", "*", "1", "L", "15", "*/3", "28-31"]),
    st.sampled_from(["*", "*", "*", "3", "3,4,10,11", "*/4", "12"]),
    st.sampled_from(["*", "*", "*", "0", "1-5", "L5", "6", "1#2"]),
)

# Instants near real offset changes (New York, Berlin, Lord Howe, Havana, Apia's lost day), so
# that DST cases are common rather than one draw in a few thousand.
TRANSITIONS = [
    utc(2026, 3, 8, 7),
    utc(2026, 11, 1, 6),
    utc(2026, 3, 29, 1),
    utc(2026, 10, 25, 1),
    utc(2026, 4, 4, 15),
    utc(2026, 10, 3, 15, 30),
    utc(2026, 3, 8, 5),
    utc(2026, 11, 1, 5),
    utc(2011, 12, 30, 10),
]
near_transitions = st.builds(
    lambda base, minutes, seconds: base + timedelta(minutes=minutes, seconds=seconds),
    st.sampled_from(TRANSITIONS),
    st.integers(-3 * 24 * 60, 3 * 24 * 60),
    st.sampled_from([0, 0, 0, 30, 59.5]),
)
anywhere = st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2040, 1, 1), timezones=st.just(UTC))
instants = st.one_of(near_transitions, near_transitions, anywhere)
zones = st.sampled_from(ZONES)

PROPERTY = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def reference_fires(cron: str, tz: str, after: datetime, count: int) -> list[datetime]:
    """The same rules, written the slow obvious way on croniter's own naive iteration."""
    zone = ZoneInfo(tz)
    out: list[datetime] = []
    matches = croniter(cron.replace("5L", "L5"), after.astimezone(zone).replace(tzinfo=None) - timedelta(days=2))
    while len(out) < count:
        local = matches.get_next(datetime)
        instant = local.replace(tzinfo=zone).astimezone(UTC)
        if instant.astimezone(zone).replace(tzinfo=None) != local:  # in a gap: walk to the jump
            instant = local.replace(tzinfo=zone, fold=1).astimezone(UTC)
            while instant.astimezone(zone).replace(tzinfo=None) <= local:
                instant += timedelta(minutes=1)
            instant = instant.replace(second=0)
        if instant > after and (not out or instant > out[-1]):
            out.append(instant)
    return out


def fires_through(cron: str, tz: str, after: datetime, end: datetime) -> list[datetime]:
    """Every fire in (after, end], fetched a page at a time so rare crons stay cheap."""
    out: list[datetime] = []
    while True:
        page = fires(cron, tz, out[-1] if out else after, 200)
        out.extend(f for f in page if f <= end)
        if len(page) < 200 or page[-1] > end:
            return out


@PROPERTY
@given(cron=crons, tz=zones, after=instants)
def test_fires_are_strictly_increasing_and_chain_through_next_fire(cron: str, tz: str, after: datetime) -> None:
    got = fires(cron, tz, after, 12)
    assert got, "every generated cron fires at least once a year"
    assert got[0] > after
    assert all(a < b for a, b in pairwise(got))
    assert got[0] == next_fire(cron, tz, after)
    for previous, current in pairwise(got):
        assert next_fire(cron, tz, previous) == current
    for fire in got:
        assert fire.tzinfo is UTC
        assert fire.astimezone(ZoneInfo(tz)).fold == 0  # never the second pass of a repeated hour


@PROPERTY
@given(cron=crons, tz=zones, after=instants)
def test_fires_agree_with_croniter_naive_iteration(cron: str, tz: str, after: datetime) -> None:
    assert fires(cron, tz, after, 8) == reference_fires(cron, tz, after, 8)


@PROPERTY
@given(
    cron=crons,
    tz=zones,
    after=instants,
    first=st.integers(0, 4 * 24 * 60),
    more=st.integers(0, 4 * 24 * 60),
)
def test_due_set_only_grows_as_now_grows(cron: str, tz: str, after: datetime, first: int, more: int) -> None:
    now1 = after + timedelta(minutes=first)
    now2 = now1 + timedelta(minutes=more)
    early, late = due_fire(cron, tz, after, now1), due_fire(cron, tz, after, now2)
    if early is not None:
        assert late is not None
        assert late.scheduled_for >= early.scheduled_for
        assert late.skipped >= early.skipped
    if late is not None:
        assert after < late.scheduled_for <= now2


@PROPERTY
@given(
    cron=crons,
    tz=zones,
    created=instants,
    steps=st.lists(st.integers(0, 12 * 60), min_size=1, max_size=12),
)
def test_replay_delivers_or_counts_every_fire_exactly_once(
    cron: str, tz: str, created: datetime, steps: list[int]
) -> None:
    nows: list[datetime] = []
    moment = created
    for step in steps:
        moment += timedelta(minutes=step)
        nows.append(moment)
    end = nows[-1]

    after, delivered, skipped = created, [], 0
    for now in nows:
        fire = due_fire(cron, tz, after, now)
        if fire is not None:
            delivered.append(fire.scheduled_for)
            skipped += fire.skipped
            after = fire.scheduled_for

    expected = fires_through(cron, tz, created, end)
    assert len(set(delivered)) == len(delivered)
    assert set(delivered) <= set(expected)
    assert len(delivered) + skipped == len(expected)
    if expected:
        assert delivered[-1] == expected[-1]  # the last tick always catches up to the latest fire


@PROPERTY
@given(cron=crons, tz=zones, after=instants, span=st.integers(0, 5 * 24 * 60))
def test_skipped_matches_walking_the_fires(cron: str, tz: str, after: datetime, span: int) -> None:
    now = after + timedelta(minutes=span, seconds=30)
    fire = due_fire(cron, tz, after, now)
    walked = fires_through(cron, tz, after, now)
    if not walked:
        assert fire is None
    else:
        assert fire == Fire(walked[-1], len(walked) - 1)


@settings(max_examples=60, deadline=None)
@given(instant=instants, hours=st.lists(st.integers(-48, 48), max_size=20))
def test_buckets_through_keeps_exactly_the_hours_up_to_now(instant: datetime, hours: list[int]) -> None:
    buckets = [bucket_of(instant + timedelta(hours=h)) for h in hours]
    got = buckets_through(instant, buckets)
    assert got == sorted(bucket_of(instant + timedelta(hours=h)) for h in hours if h <= 0)


daily_crons = st.builds(
    _cron,
    st.sampled_from(["0", "30", "59"]),
    st.sampled_from(["0", "1", "2", "23", "1,2"]),
    st.sampled_from(["*", "*", "1", "L", "15W", "*/3", "28-31"]),
    st.sampled_from(["*", "*", "3", "3,4,10,11", "*/4"]),
    st.sampled_from(["*", "*", "0", "1-5", "L5", "1#2"]),
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(cron=daily_crons, tz=zones, after=instants, days=st.integers(0, 800))
def test_skipped_over_long_spans_matches_walking_the_fires(cron: str, tz: str, after: datetime, days: int) -> None:
    # Months of missed fires cross several DST changes and month ends: the per-day count must agree.
    now = after + timedelta(days=days, minutes=7)
    walked = fires_through(cron, tz, after, now)
    fire = due_fire(cron, tz, after, now)
    assert fire == (Fire(walked[-1], len(walked) - 1) if walked else None)
