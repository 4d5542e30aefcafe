"""The one time-zone resolver: IANA names to zones, and wall-clock times to instants.

Every part of switchboard that reads a zone name (the parser, the due
computation, the CLI, the APIs) asks ``zone``, so a name is accepted or
refused the same way everywhere. ``instant_of`` is the one rule for wall
times that daylight saving skips or repeats:

* a wall time that exists once is that instant;
* one in the repeated hour of a jump back is its *first* occurrence (``fold=0``);
* one in the gap of a jump forward is the first valid instant after the gap.
"""

from __future__ import annotations

import os
import zoneinfo
from collections.abc import Mapping
from datetime import UTC, datetime, tzinfo
from functools import lru_cache
from pathlib import Path

from switchboard.exceptions import UnknownZoneError

__all__ = ["as_utc", "instant_of", "system_zone", "wall_of", "zone"]

# Names that ZoneInfo opens but that are not places: "localtime" would make a
# schedule fire at a different instant on every machine that runs the tick.
_NOT_ZONES = {"localtime", "posixrules", "Factory"}


def zone(name: str) -> zoneinfo.ZoneInfo:
    """Return the IANA time zone called ``name``; raise UnknownZoneError if there is none."""
    try:
        return _zone(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError, TypeError, OSError) as exc:
        # OSError: a directory such as "America" is not a zone.
        raise UnknownZoneError(_unknown_zone_message(name)) from exc


@lru_cache(maxsize=256)
def _zone(name: str) -> zoneinfo.ZoneInfo:
    if name in _NOT_ZONES:
        raise zoneinfo.ZoneInfoNotFoundError(name)
    return zoneinfo.ZoneInfo(name)


def _unknown_zone_message(name: object) -> str:
    """Say the zone is unknown, and suggest the right spelling when only the case is wrong."""
    message = f'unknown time zone "{name}" — use an IANA name such as "Europe/Berlin" or "UTC"'
    wanted = str(name).strip().lower()
    for key in sorted(zoneinfo.available_timezones() - _NOT_ZONES):
        if key.lower() == wanted:
            return f'{message} (did you mean "{key}"?)'
    return message


# Other names of UTC, said as "UTC" so that a preview reads the same on every machine.
_UTC_ALIASES = {"Etc/UTC", "Etc/UCT", "Etc/Universal", "Etc/Zulu", "UCT", "Universal", "Zulu", "Etc/GMT", "GMT"}


def system_zone(env: Mapping[str, str], localtime: Path = Path("/etc/localtime")) -> str:
    """This machine's IANA zone name: ``TZ`` in ``env`` if it names one, else where /etc/localtime points, else UTC."""
    candidates = [env.get("TZ", "").lstrip(":")]
    target = os.path.realpath(localtime)  # /usr/share/zoneinfo/Europe/Berlin
    if "/zoneinfo/" in target:
        candidates.append(target.split("/zoneinfo/", 1)[1])
    for name in filter(None, candidates):
        try:
            key = zone(name).key
        except UnknownZoneError:
            continue
        return "UTC" if key in _UTC_ALIASES else key
    return "UTC"


def as_utc(name: str, value: datetime) -> datetime:
    """``value`` in UTC; a naive datetime is a programming error, not user input (``name`` says which)."""
    if not isinstance(value, datetime):
        raise TypeError(f"{name} must be a datetime, got {type(value).__name__}")
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{name} must be timezone-aware, got naive {value.isoformat()}")
    # Compare only UTC datetimes: same-zone comparisons ignore `fold`, which would make
    # 01:30 EDT and 01:30 EST look equal.
    return value.astimezone(UTC)


def wall_of(instant: datetime, tz: tzinfo) -> datetime:
    """The naive wall-clock time that ``instant`` shows in ``tz``."""
    return instant.astimezone(tz).replace(tzinfo=None)


def instant_of(wall: datetime, tz: tzinfo) -> datetime:
    """The UTC instant at which ``tz`` shows the naive ``wall`` time (see the module doc for DST)."""
    first = wall.replace(tzinfo=tz, fold=0).astimezone(UTC)
    if wall_of(first, tz) == wall:
        return first
    # In a gap. fold=0 and fold=1 read `wall` with the offsets before and after the jump; the
    # jump itself (the first valid instant after the gap) lies between those two readings, and
    # "the wall clock has passed `wall`" turns true exactly there. zoneinfo does not expose
    # transition times, so find it by bisection over whole seconds (tzdata's unit).
    readings = [wall.replace(tzinfo=tz, fold=fold).timestamp() for fold in (0, 1)]
    before, after = int(min(readings)), int(max(readings))
    while after - before > 1:
        middle = (before + after) // 2
        if wall_of(datetime.fromtimestamp(middle, UTC), tz) > wall:
            after = middle
        else:
            before = middle
    return datetime.fromtimestamp(after, UTC)
