"""What should be armed at Letta for a schedule at ``now``, and what a pass must do about it (pure).

Nothing here reads a clock, a disk or the network: ``target`` computes the
fire to arm from the schedule's own cron and zone (so a daylight-saving change
moves the UTC instant, which Letta's UTC-only cron could not do), and ``plan``
compares it with what is armed.
"""

from __future__ import annotations

import enum
import hashlib
import json
from dataclasses import dataclass
from datetime import datetime, timedelta

from switchboard.due import due_fire, next_fire
from switchboard.models import OneTimeSchedule, Schedule, claim_is_live, utc
from switchboard.native.record import NativeFire
from switchboard.tick.model import Job, TickOptions

#: How long past its instant a native fire may stay without a history entry before the watchdog acts.
DEFAULT_GRACE: timedelta = TickOptions.native_grace


@dataclass(frozen=True)
class Target:
    """The fire a schedule wants armed: its instant, fires skipped before it, its otid and fingerprint."""

    fire: datetime
    skipped: int
    otid: str
    fingerprint: str


def fingerprint(schedule: Schedule, fire: datetime) -> str:
    """A hash of everything a native schedule carries for this fire: a change to any of it means re-arm."""
    fields = schedule.message_fields.model_dump(mode="json") if schedule.message_fields else None
    what = [schedule.kind, schedule.agent_id, schedule.message, schedule.role, fields,
            schedule.api_key, schedule.base_url, utc(fire).isoformat()]  # fmt: skip
    return hashlib.sha256(json.dumps(what, separators=(",", ":")).encode("utf-8")).hexdigest()


def target(schedule: Schedule | None, now: datetime) -> Target | None:
    """The fire ``schedule`` wants armed at ``now`` (None: nothing, e.g. paused, gone or not on Letta's clock).

    A recurring schedule with a fire already due (never armed, or armed and lost)
    wants that fire, with the ones it skipped counted as the tick counts them.
    """
    if schedule is None or schedule.clock != "letta":
        return None
    if isinstance(schedule, OneTimeSchedule):
        fire, skipped = schedule.execute_at, 0
    else:
        if schedule.status != "active":
            return None
        due = due_fire(schedule.cron, schedule.timezone, schedule.anchor, now)
        if due is not None:
            fire, skipped = due.scheduled_for, due.skipped
        else:
            fire, skipped = next_fire(schedule.cron, schedule.timezone, schedule.anchor), 0
    otid = Job("", schedule, fire).otid  # the same otid the tick would send: a watchdog delivery repeats it
    return Target(fire, skipped, otid, fingerprint(schedule, fire))


def fire_done(schedule: Schedule | None, record: NativeFire) -> bool:
    """Has the fire of ``record`` been recorded on the schedule (or the schedule gone)?"""
    if schedule is None:
        return True
    if isinstance(schedule, OneTimeSchedule):
        return False  # a one-time schedule is removed when its fire is recorded
    return schedule.anchor >= record.fire


class Step(enum.Enum):
    """What a pass does next for one schedule."""

    NOTHING = "nothing"  # armed and not yet due, or someone else is at it
    ARM = "arm"  # nothing armed: adopt the native schedule made for this otid, or create one (or release if due)
    OBSERVE = "observe"  # its instant has passed: read the history (and the watchdog past the grace period)
    REPLACE = "replace"  # armed, but not what the schedule wants now: delete it there (reading the history)
    DROP = "drop"  # released and recorded (or no longer wanted): forget the record
    RELEASE = "release"  # released: the tick delivers this fire now


def plan(
    schedule: Schedule | None,
    record: NativeFire | None,
    now: datetime,
    *,
    claim_ttl: timedelta,
    pass_id: str | None = None,
) -> Step:
    """The next step for a schedule and what is armed for it, at ``now``.

    ``pass_id``: claims held by this pass do not count as someone else's.
    """
    now = utc(now)
    if schedule is not None and claim_is_live(schedule, now, claim_ttl) and schedule.claimed_by != pass_id:
        return Step.NOTHING  # a pass is delivering it (a released fire, or `recurring run`)
    if record is not None and record.claimed_by != pass_id and record.claim_is_live(now, claim_ttl.total_seconds()):
        return Step.NOTHING
    wanted = target(schedule, now)
    if record is None:
        return Step.ARM if wanted is not None else Step.NOTHING
    if record.state == "arming":
        return Step.ARM  # a pass died while arming: adopt what it made, or make it
    if record.state == "released":
        if fire_done(schedule, record) or wanted is None or wanted.fire != record.fire:
            return Step.DROP
        return Step.RELEASE
    if record.fire <= now:
        return Step.OBSERVE
    if wanted is None or wanted.fire != record.fire or wanted.fingerprint != record.fingerprint:
        return Step.REPLACE
    return Step.NOTHING


def overdue(record: NativeFire, now: datetime, grace: timedelta) -> bool:
    """Is ``record``'s fire past due by more than ``grace`` at ``now``?"""
    return utc(now) > record.fire + grace
