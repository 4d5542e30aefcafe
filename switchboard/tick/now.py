"""Delivering one schedule at once, from wherever a command runs: the pass's three steps for one job.

``send`` with a due time and ``recurring run`` do not wait for a tick. They
take the same steps a pass does, so exactly-once keeps holding against a tick
running at the same moment:

1. *Claim*, in one commit: a new one-time schedule is stored already claimed
   by this process (nobody else can have seen it), a recurring one is marked
   claimed on a fresh state. Either is refused, or left unclaimed for the
   tick, while another pass holds a live claim on it or on its agent (Letta
   wants one request per agent at a time).
2. *Deliver* it with ``deliver``, as a pass would.
3. *Record*, in one commit, with ``record``. A manual fire (``recurring
   run``) is recorded with ``manual`` set and leaves the schedule's own fires
   alone; it is sent once, never put back for a later tick.

When no connection to Letta can be made from here (refused, DNS, connect
timeout: a self-hosted Letta only the runner reaches), nothing reached it:
the claim is released without a result, and the caller leaves the message to
the tick (``NowReport.left_to_tick``).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime

from switchboard.exceptions import BusyError
from switchboard.models import OneTimeSchedule, Result, Schedule, check_id, claim_is_live, utc
from switchboard.store import Store, Transaction
from switchboard.tick.delivery import deliver
from switchboard.tick.model import ClientFactory, Job, Outcome, TickOptions, pass_id_at
from switchboard.tick.selection import due_candidates
from switchboard.tick.unrecorded import record_or_raise

#: Options for a delivery a person is waiting on: fewer, shorter retries of Letta than a tick's, and more
#: pushes of the record (it was sent: losing the race to record it would leave it for the next pass).
NOW_OPTIONS = TickOptions(send_attempts=3, max_delay=5.0, run_wait=10.0, commit_attempts=40)


@dataclass(frozen=True)
class Claimed:
    """A schedule stored or marked as this process's, ready to deliver (``job`` None: left to the tick)."""

    schedule: Schedule
    pass_id: str
    job: Job | None
    #: Why it was left to the tick, when it was.
    reason: str | None = None


@dataclass(frozen=True)
class NowReport:
    """What delivering at once did: the outcome, and the result recorded (None when nothing reached Letta)."""

    schedule: Schedule
    outcome: Outcome | None
    result: Result | None
    #: Why the message was left to the tick, when it was.
    reason: str | None = None

    @property
    def left_to_tick(self) -> bool:
        """The message is still pending: a tick delivers (or retries) it."""
        return self.outcome is None or self.outcome.status in ("deferred", "requeued")

    @property
    def run_id(self) -> str | None:
        """Letta's run id, when it was delivered."""
        return self.result.run_id if self.result is not None else None


def _busy_agent(store: Store, schedule: Schedule, now: datetime, options: TickOptions, tx: Transaction) -> bool:
    """Does another pass hold a live claim on a schedule of this agent (on this server)?"""
    one_time, recurring = due_candidates(store, now, tx)
    key = (schedule.base_url, schedule.agent_id)
    others: list[Schedule] = [*(o for _, o in one_time), *(r for _, r in recurring)]
    return any(
        (s.base_url, s.agent_id) == key and s.id != schedule.id and claim_is_live(s, now, options.claim_ttl)
        for s in others
    )


def add_claimed(store: Store, schedule: OneTimeSchedule, now: datetime, options: TickOptions = NOW_OPTIONS) -> Claimed:
    """Store a new one-time schedule due at ``now`` already claimed by this process; one commit.

    While a pass is delivering to the same agent it is stored unclaimed
    instead, for the tick.
    """
    now = utc(now)
    pass_id = pass_id_at(now, "send")
    mine = schedule.model_copy(update={"claimed_by": pass_id, "claimed_at": now})

    def compute(tx: Transaction) -> Claimed:
        tx.tenant(schedule.api_key)  # a wrong key is named by the file every command reads first
        if _busy_agent(store, schedule, now, options, tx):
            tx.save(schedule)
            return Claimed(schedule, pass_id, None, f"a tick is delivering to agent {schedule.agent_id} right now")
        path = tx.save(mine)
        return Claimed(schedule, pass_id, Job(path, mine, schedule.execute_at))

    return store.transact(f"switchboard: add one-time {schedule.id}, claimed to send now ({pass_id})", compute)


def claim_manual(
    store: Store, api_key: str | None, schedule_id: str, now: datetime, options: TickOptions = NOW_OPTIONS
) -> Claimed:
    """Claim one extra fire of a recurring schedule, at ``now``; one commit.

    BusyError while a pass holds the schedule or is delivering to its agent;
    NotFoundError when it is not the caller's.
    """
    schedule_id = check_id(schedule_id)
    now = utc(now)
    pass_id = pass_id_at(now, "run")

    def compute(tx: Transaction) -> Claimed:
        path = store.locate(store.tenant(api_key), schedule_id, "recurring")
        current = store.load_recurring(path)
        if claim_is_live(current, now, options.claim_ttl) or _busy_agent(store, current, now, options, tx):
            raise BusyError(
                f"a tick is delivering recurring {schedule_id} (or to agent {current.agent_id}) right now "
                "— run it again in a minute"
            )
        mine = current.model_copy(update={"claimed_by": pass_id, "claimed_at": now})
        tx.save(mine)
        return Claimed(current, pass_id, Job(path, mine, now, manual=True))

    return store.transact(f"switchboard: claim recurring {schedule_id} to run now ({pass_id})", compute)


def _settled(outcome: Outcome) -> Outcome:
    """The outcome to record: nothing reached Letta -> deferred; a manual fire is never put back."""
    if outcome.status == "requeued" and outcome.unreached:
        return replace(outcome, status="deferred")
    if outcome.status == "requeued" and outcome.job.manual:
        return replace(outcome, status="failed", error=f"{outcome.error} (a manual run is not retried: run it again)")
    return outcome


def deliver_now(
    store: Store,
    claimed: Claimed,
    now: datetime,
    client_factory: ClientFactory,
    options: TickOptions = NOW_OPTIONS,
    *,
    sleep: Callable[[float], None] = time.sleep,
) -> NowReport:
    """Deliver what ``claimed`` holds and record the outcome in one commit (the pass's steps 2 and 3).

    Raises TickError when it was sent but the outcome could not be pushed,
    as ``run_pass`` does.
    """
    job = claimed.job
    if job is None:
        return NowReport(claimed.schedule, None, None, claimed.reason)
    now = utc(now)
    sink: list[Outcome] = []
    try:
        deliver([job], client_factory, options, sleep, sink=sink, now=now)
    except BaseException:
        # Record what was tried (or release the claim), then let the error go on.
        tried = [_settled(o) for o in sink] or [Outcome(job, "deferred")]
        record_or_raise(store, tried, claimed.pass_id, now, options, sleep)
        raise
    outcome = _settled(sink[0]) if sink else Outcome(job, "deferred")
    results = record_or_raise(store, [outcome], claimed.pass_id, now, options, sleep)
    reason = None
    if outcome.status == "deferred":
        reason = outcome.error or "the delivery did not start in time"
    elif outcome.status == "requeued":
        reason = outcome.error
    return NowReport(claimed.schedule, outcome, results[0] if results else None, reason)


def send_now(
    store: Store,
    schedule: OneTimeSchedule,
    now: datetime,
    client_factory: ClientFactory,
    options: TickOptions = NOW_OPTIONS,
    *,
    sleep: Callable[[float], None] = time.sleep,
) -> NowReport:
    """Store a one-time schedule due at ``now`` and deliver it from here: claim, deliver, record."""
    return deliver_now(store, add_claimed(store, schedule, now, options), now, client_factory, options, sleep=sleep)


def run_now(
    store: Store,
    api_key: str | None,
    schedule_id: str,
    now: datetime,
    client_factory: ClientFactory,
    options: TickOptions = NOW_OPTIONS,
    *,
    sleep: Callable[[float], None] = time.sleep,
) -> NowReport:
    """Send one extra fire of a recurring schedule now, its next fire unmoved: claim, deliver, record."""
    claimed = claim_manual(store, api_key, schedule_id, now, options)
    return deliver_now(store, claimed, now, client_factory, options, sleep=sleep)


__all__ = [
    "NOW_OPTIONS",
    "Claimed",
    "NowReport",
    "add_claimed",
    "claim_manual",
    "deliver_now",
    "pass_id_at",
    "run_now",
    "send_now",
]
