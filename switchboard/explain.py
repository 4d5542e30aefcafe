"""`switchboard explain`: how a phrase is understood, before anything is saved."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from switchboard.cron import dst_warning, fires
from switchboard.timeparse import PAST_GRACE, describe_cron, parse_instant, parse_recurring, zone


def explain_at(text: str, *, tz: str, now: datetime) -> dict[str, Any]:
    """A one-time phrase: the instant it means, in UTC and in the caller's zone."""
    instant = parse_instant(text, tz=tz, now=now)
    warnings = []
    past = instant < now.astimezone(UTC) - PAST_GRACE
    if past:
        warnings.append("that time is in the past: send refuses it (with --allow-past it is delivered at once)")
    return {
        "kind": "one-time",
        "execute_at": instant.isoformat(),
        "local": instant.astimezone(zone(tz)).isoformat(),
        "timezone": tz,
        "past": past,
        "warnings": warnings,
    }


def explain_every(text: str, *, tz: str, now: datetime, count: int = 5) -> dict[str, Any]:
    """A recurring phrase: its cron, zone, description and next fire times."""
    cron, timezone = parse_recurring(text, tz=tz)
    upcoming = fires(cron, timezone, now, count)
    local_zone = zone(timezone)
    warnings = [w for w in (dst_warning(cron, timezone, f) for f in upcoming) if w]
    return {
        "kind": "recurring",
        "cron": cron,
        "timezone": timezone,
        "description": describe_cron(cron),
        "next": [f.isoformat() for f in upcoming],
        "next_local": [f.astimezone(local_zone).isoformat() for f in upcoming],
        "warnings": warnings,
    }
