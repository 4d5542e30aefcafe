"""Pure decisions about time: when a schedule fires, and what is due at ``now``.

Nothing here reads a clock, a disk or the network, and nothing logs: every
instant is a parameter. Datetimes given must be aware (naive ones raise
``ValueError``); datetimes returned are in UTC.

How a cron expression becomes instants (and the rules for daylight saving) is
``switchboard.cron``'s part; this module decides what is *due*.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime

from switchboard import cron as _cron
from switchboard import zones
from switchboard.cron import dst_warning, fires, next_fire, shortest_gap
from switchboard.zones import as_utc

__all__ = [
    "Fire",
    "bucket_of",
    "buckets_through",
    "dst_warning",
    "due_fire",
    "fires",
    "is_one_time_due",
    "next_fire",
    "shortest_gap",
]

_BUCKET_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_BUCKET_HOUR = re.compile(r"^\d{2}$")


@dataclass(frozen=True)
class Fire:
    """A fire of a recurring schedule that is due now, with the older fires it absorbs."""

    scheduled_for: datetime
    """The fire being delivered (UTC): the latest fire at or before ``now``."""
    skipped: int
    """How many earlier fires after ``after`` were missed and coalesced into this one."""


# ----------------------------------------------------------------- public API


def due_fire(cron: str, tz: str, after: datetime, now: datetime, *, max_scan: int = 100_000) -> Fire | None:
    """The fire to deliver at ``now`` for a schedule last run (or created) at ``after``.

    None when the next fire after ``after`` is later than ``now``. Otherwise the latest fire at
    or before ``now`` (a fire exactly at ``now`` is due), and how many fires strictly between
    ``after`` and it were missed: late ticks coalesce them into one delivery.

    Cost does not grow with the number of missed fires: the latest fire is found by walking
    back from ``now``, and the missed ones are counted per matching local day (see
    ``switchboard.cron.count_fires_between``). ``max_scan`` bounds the local days walked while counting (the default
    is centuries); past it ``skipped`` is a lower bound.
    """
    spec, zone = _cron.parse(cron), zones.zone(tz)
    after_utc, now_utc = as_utc("after", after), as_utc("now", now)
    first = next(_cron.fires_after(spec, zone, after_utc), None)
    if first is None or first > now_utc:
        return None
    latest = _cron.latest_fire_through(spec, zone, now_utc)
    if latest is None or latest <= first:  # None cannot happen: `first` itself is <= now
        return Fire(scheduled_for=first, skipped=0)
    skipped = 1 + _cron.count_fires_between(spec, zone, first, latest, max_scan)  # `first` is skipped too
    return Fire(scheduled_for=latest, skipped=skipped)


def is_one_time_due(execute_at: datetime, now: datetime) -> bool:
    """Whether a one-time message for ``execute_at`` is due at ``now`` (on time or late)."""
    return as_utc("execute_at", execute_at) <= as_utc("now", now)


def bucket_of(instant: datetime) -> tuple[str, str]:
    """The one-time bucket ``("YYYY-MM-DD", "HH")`` of ``instant``, by its UTC date and hour."""
    utc = as_utc("instant", instant)
    return f"{utc:%Y-%m-%d}", f"{utc:%H}"


def buckets_through(now: datetime, buckets: Iterable[tuple[str, str]]) -> list[tuple[str, str]]:
    """The ``(date, hour)`` buckets at or before ``now``'s UTC hour, oldest first.

    Names that are not a real ``YYYY-MM-DD`` date and a ``00``–``23`` hour are left out: they
    are not buckets, whatever else put them in the tree.
    """
    current = bucket_of(now)
    return sorted(b for b in buckets if _is_bucket(b) and b <= current)


# -------------------------------------------------------------------- helpers


def _is_bucket(bucket: tuple[str, str]) -> bool:
    """Whether ``bucket`` is a well-formed (date, hour) pair, so string order is time order."""
    day, hour = bucket
    if not (_BUCKET_DATE.match(day) and _BUCKET_HOUR.match(hour) and int(hour) < 24):
        return False
    try:
        date.fromisoformat(day)
    except ValueError:
        return False
    return True
