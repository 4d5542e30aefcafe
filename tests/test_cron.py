"""One cron reading and one zone resolver: what the parser accepts, the due computation evaluates, and back."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from switchboard import cron, due, timeparse, zones
from switchboard.exceptions import TimeParseError, UnknownZoneError

AFTER = datetime(2026, 1, 1, tzinfo=UTC)

# Pieces of cron fields, good and bad, to throw together at random.
PIECES = ["*", "*/5", "*/0", "0", "5", "7", "12", "13", "24", "31", "32", "60", "1-5", "5-1", "L", "L5", "5L",
          "1#2", "15W", "MON", "MON-FRI", "JAN", "?", "x", "1,2", "*,5", "2/3", "", "@daily"]  # fmt: skip


@given(st.lists(st.sampled_from(PIECES), min_size=1, max_size=7).map(" ".join))
def test_the_parser_and_the_due_computation_accept_the_same_crons(expr: str) -> None:
    try:
        stored = timeparse.validate_cron(expr)
    except TimeParseError:
        stored = None
    try:
        upcoming = due.fires(expr, "UTC", AFTER, 1)
    except TimeParseError:
        upcoming = None
    if stored is None:
        # Refused when made: either the tick refuses it too, or it never fires.
        assert not upcoming
    else:
        # Accepted when made: the tick reads it, and it fires.
        assert upcoming, f"{expr!r} was accepted as {stored!r} but never fires"
        assert due.fires(stored, "UTC", AFTER, 3) == due.fires(expr, "UTC", AFTER, 3)


NAMES = ["UTC", "Europe/Berlin", "europe/berlin", "America", "Mars/Olympus", "", "localtime", "Factory",
         "posixrules", "../etc/passwd", "/etc/localtime", "Etc/GMT+5", "US/Eastern", "utc", "GMT"]  # fmt: skip


@pytest.mark.parametrize("name", NAMES)
def test_every_part_resolves_a_zone_name_the_same_way(name: str) -> None:
    answers = []
    for ask in (
        lambda: zones.zone(name),
        lambda: due.fires("0 9 * * *", name, AFTER, 1),
        lambda: timeparse.parse_recurring("every day at 9am", tz=name),
        lambda: timeparse.parse_instant("tomorrow at 9am", tz=name, now=AFTER),
    ):
        try:
            ask()
            answers.append("accepted")
        except UnknownZoneError as exc:
            answers.append(str(exc))
    assert len(set(answers)) == 1, answers


def test_there_is_one_of_each() -> None:
    assert timeparse.zone is zones.zone
    assert timeparse.validate_cron is cron.validate_cron
    assert due.next_fire is cron.next_fire and due.fires is cron.fires
