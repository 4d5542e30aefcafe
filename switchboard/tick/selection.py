"""Step 1 of a pass, deciding what is due: a pure function over loaded schedules, and the loading.

``select_due`` decides; ``due_candidates`` loads only what might be due (the
one-time buckets up to now's hour, the recurring files the index says to
open, see index.py), so a pass costs what is due, not what is stored.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime, timedelta

from switchboard import index as fire_index
from switchboard.due import due_fire
from switchboard.models import OneTimeSchedule, RecurringSchedule, Schedule, claim_is_live, utc
from switchboard.store import Store, Transaction
from switchboard.tick.model import Job, TickOptions


def select_due(
    one_time: Iterable[tuple[str, OneTimeSchedule]],
    recurring: Iterable[tuple[str, RecurringSchedule]],
    now: datetime,
    *,
    claim_ttl: timedelta = TickOptions.claim_ttl,
) -> list[Job]:
    """Every fire due at ``now`` that nobody is delivering, in due order.

    An agent with a live claim held by another pass gets nothing from this
    one: that pass is talking to it, and Letta wants one request at a time.
    A live claim counts whatever the schedule's state (paused since, or due
    later by this pass's clock): the other pass is sending it all the same.
    A schedule on Letta's clock is never due here: the reconcile step hands
    the pass the one fire it must send itself (see switchboard/native).
    """
    now = utc(now)
    candidates: list[Job] = []
    busy_agents: set[tuple[str, str]] = set()
    for path, one in one_time:
        job = Job(path, one, one.execute_at)
        if claim_is_live(one, now, claim_ttl):
            busy_agents.add(job.agent_key)
        elif one.execute_at <= now and one.clock != "letta":  # Letta's clock: see switchboard/native
            candidates.append(job)
    for path, rec in recurring:
        if claim_is_live(rec, now, claim_ttl):
            busy_agents.add((rec.base_url, rec.agent_id))
            continue
        if rec.status != "active" or rec.clock == "letta":  # Letta's clock: see switchboard/native
            continue
        fire = due_fire(rec.cron, rec.timezone, rec.anchor, now)
        if fire is not None:
            candidates.append(Job(path, rec, fire.scheduled_for, fire.skipped))
    due = [j for j in candidates if j.agent_key not in busy_agents]
    return sorted(due, key=lambda j: (j.scheduled_for, j.schedule.created_at, j.schedule.id))


def due_candidates(
    store: Store, now: datetime, tx: Transaction | None = None
) -> tuple[list[tuple[str, OneTimeSchedule]], list[tuple[str, RecurringSchedule]]]:
    """Load what might be due: one-time buckets up to now's hour, recurring files the index says to open.

    Whatever a full scan would find due (or busy) is among them (see index.py);
    index repairs found on the way are noted in ``tx``, to commit with it.
    """
    # A file that does not open is skipped (and named in the report), never the end of the pass.
    loaded = ((p, store.readable(p, store.load_one_time)) for p in fire_index.due_one_time_files(store, now))
    one_time = [(p, s) for p, s in loaded if s is not None]
    return one_time, fire_index.due_recurring(store, now, tx)


def _reveal(on_secrets: Callable[[list[str]], None] | None, schedules: Iterable[Schedule]) -> None:
    if on_secrets is not None:
        on_secrets(sorted({s.api_key for s in schedules if s.api_key}))


def load_due(store: Store, now: datetime, options: TickOptions, tx: Transaction | None = None) -> list[Job]:
    one_time, recurring = due_candidates(store, now, tx)
    _reveal(options.on_secrets, [s for _, s in one_time] + [s for _, s in recurring])
    return select_due(one_time, recurring, now, claim_ttl=options.claim_ttl)


def next_due(
    store: Store, after: datetime, *, on_secrets: Callable[[list[str]], None] | None = None
) -> datetime | None:
    """The earliest instant after ``after`` at which something falls due (None: nothing is scheduled)."""
    return fire_index.next_due(store, after, on_secrets=on_secrets)
