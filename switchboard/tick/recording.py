"""Step 3 of a pass, recording: every outcome and its result in one commit, and retention.

A result whose run had not ended gets a note in the same commit, so a later
pass follows the run to its end (see following.py).
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any, cast, get_args

from switchboard.exceptions import (
    BackendError,
)
from switchboard.models import OneTimeSchedule, RecurringSchedule, Result, RunStatus
from switchboard.store import Store, Transaction, delivery_of, prune_results
from switchboard.tick.following import note_pending
from switchboard.tick.model import OTID_NAMESPACE, Outcome, TickOptions

#: The run statuses a result can hold (a server's other words are not recorded as one).
RUN_STATUSES = frozenset(get_args(RunStatus))


def _result(
    outcome: Outcome, now: datetime, attempt: int, *, status: str | None = None, error: str | None = None
) -> Result:
    job = outcome.job
    run = outcome.run
    return Result(
        schedule_id=job.schedule.id,
        schedule_type=job.schedule.kind,
        status=status or outcome.status,  # type: ignore[arg-type]
        run_id=outcome.run.id if outcome.run else None,
        agent_id=job.schedule.agent_id,
        message=job.schedule.message,
        name=job.schedule.name,
        scheduled_for=job.scheduled_for,
        executed_at=now,
        lateness_s=round(max(0.0, (now - job.scheduled_for).total_seconds()), 3),
        skipped=job.skipped,
        attempt=attempt,
        http_status=outcome.http_status,
        error=error or outcome.error,
        manual=job.manual,
        run_status=cast("RunStatus", run.status) if run is not None and run.status in RUN_STATUSES else None,
        stop_reason=run.stop_reason if run is not None else None,
        run_checked_at=now if run is not None and run.done else None,
        conversation_id=run.conversation_id if run is not None else None,
        otid=job.otid if outcome.status in ("delivered", "failed") else None,
        turn_id=run.turn_id if run is not None else None,
    )


def _apply(tx: Transaction, outcome: Outcome, pass_id: str, now: datetime, options: TickOptions) -> Result | None:
    """Stage one outcome on the current state; returns the result it appends."""
    job = outcome.job
    store = tx.store
    current = store.load(job.path) if store.backend.read(job.path) is not None else None
    if current is None and outcome.status in ("requeued", "deferred"):
        # Deleted while this pass held it, and not delivered: nothing to put back, nothing to report.
        return None
    # Only a claim still ours may be changed: after claim_ttl another pass may own the schedule.
    ours = current is not None and current.claimed_by == pass_id
    released: dict[str, Any] = {"claimed_by": None, "claimed_at": None}

    if isinstance(job.schedule, OneTimeSchedule):
        base = current if isinstance(current, OneTimeSchedule) else job.schedule
        attempt = base.attempts + 1
        if outcome.status in ("delivered", "failed"):
            if ours:
                tx.delete(job.path)
            return _result(outcome, now, attempt)
        if outcome.status == "deferred":
            if ours:
                tx.save(base.model_copy(update=released))
            return None
        since = base.failing_since or now
        if now - since >= options.give_up_after:
            if ours:
                tx.delete(job.path)
            hours = options.give_up_after.total_seconds() / 3600
            return _result(
                outcome,
                now,
                attempt,
                status="failed",
                error=f"gave up after {hours:g} hours of transient failures: {outcome.error}",
            )
        if ours:
            tx.save(base.model_copy(update={**released, "attempts": attempt, "failing_since": since}))
        return _result(outcome, now, attempt)

    held = current if isinstance(current, RecurringSchedule) else job.schedule
    attempt = (held.attempts if isinstance(held, RecurringSchedule) else 0) + 1
    if ours and job.manual:
        # An extra fire by request: the schedule's own fires (last_run, attempts, status) are untouched.
        assert isinstance(current, RecurringSchedule)
        tx.save(current.model_copy(update=released))
    elif ours:
        assert isinstance(current, RecurringSchedule)
        update = dict(released)
        if outcome.status in ("delivered", "failed"):
            update["last_run"] = job.scheduled_for
            update["attempts"] = 0
            update["fires"] = current.fires + 1
        elif outcome.status == "requeued":
            update["attempts"] = attempt
        if outcome.status == "failed" and outcome.permanent:
            update["status"] = "paused"
            update["paused_reason"] = f"paused after a permanent failure: {outcome.error}"
        tx.save(current.model_copy(update=update))
    return None if outcome.status == "deferred" else _result(outcome, now, attempt)


def _summary(outcomes: Sequence[Outcome]) -> str:
    counts = {s: sum(1 for o in outcomes if o.status == s) for s in ("delivered", "failed", "requeued", "deferred")}
    return (
        f"delivered {counts['delivered']}, failed {counts['failed']}, "
        f"put back {counts['requeued']}, deferred {counts['deferred']}"
    )


def record(
    store: Store,
    outcomes: Sequence[Outcome],
    pass_id: str,
    now: datetime,
    options: TickOptions,
    sleep: Callable[[float], None] = time.sleep,
) -> list[Result]:
    """Commit every outcome and its result in one commit, pruning old results; retries on failure.

    Raises BackendError when the commit still cannot be pushed after
    ``options.record_attempts`` tries (``run_pass`` turns that into TickError).
    """

    def compute(tx: Transaction) -> list[Result]:
        results: list[Result] = []
        for outcome in outcomes:
            result = _apply(tx, outcome, pass_id, now, options)
            if result is not None:
                # Same pass, same schedule -> same file name: a retried commit cannot double a result.
                nonce = uuid.uuid5(OTID_NAMESPACE, f"{pass_id}/{result.schedule_id}").hex[:8]
                path = tx.add_result(result, outcome.job.schedule.api_key, nonce=nonce)
                note_pending(tx, path, result, outcome.job.schedule)
                results.append(result)
        for path in prune_results(store, now, options.retention):
            tx.delete(path)
        return results

    message = f"switchboard: tick {_summary(outcomes)} ({pass_id})"
    attempts = max(1, options.record_attempts)
    for attempt in range(attempts):
        try:
            return store.transact(message, compute, attempts=max(1, options.commit_attempts))
        except BackendError:
            if attempt == attempts - 1:
                raise
            sleep(min(10.0, 0.5 * 2**attempt))
    raise AssertionError("unreachable")


def prune(store: Store, now: datetime, options: TickOptions) -> int:
    """Delete results older than the retention, in one commit; how many deliveries' results went."""
    if next(prune_results(store, now, options.retention), None) is None:
        return 0  # the common case costs no extra refresh

    def compute(tx: Transaction) -> int:
        paths = list(prune_results(store, now, options.retention))
        for path in paths:
            tx.delete(path)
        return len({delivery_of(path, store.codec.suffix)[0] for path in paths})  # deliveries, not their lines

    days = options.retention.total_seconds() / 86400
    return store.transact(f"switchboard: prune results older than {days:g} days", compute)
