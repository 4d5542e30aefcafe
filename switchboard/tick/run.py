"""One pass: claim what is due in a commit, deliver it, record the outcome (see the package docstring)."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from datetime import datetime

from switchboard.exceptions import ContentionError
from switchboard.models import utc
from switchboard.store import Store, Transaction
from switchboard.tick.delivery import RecentRuns, deliver
from switchboard.tick.following import follow
from switchboard.tick.model import ClientFactory, Job, Outcome, TickOptions, TickReport, pass_id_at
from switchboard.tick.recording import prune
from switchboard.tick.selection import load_due
from switchboard.tick.takeover import already_delivered
from switchboard.tick.unrecorded import record_or_raise, record_unrecorded


def claim(store: Store, now: datetime, pass_id: str, options: TickOptions) -> list[Job]:
    """Mark every due schedule as this pass's, in one commit (recomputed if beaten)."""

    def compute(tx: Transaction) -> list[Job]:
        claimed = []
        for job in load_due(store, now, options, tx):
            mine = job.schedule.model_copy(update={"claimed_by": pass_id, "claimed_at": now})
            tx.save(mine)
            # A claim still on the schedule is stale (select_due skips live ones): its pass died.
            stale = job.schedule.claimed_at if job.schedule.claimed_by is not None else None
            claimed.append(Job(job.path, mine, job.scheduled_for, job.skipped, taken_over_at=stale))
        return claimed

    return store.transact(f"switchboard: claim due schedules at {now:%Y-%m-%dT%H:%MZ} ({pass_id})", compute)


def _with_unfinished(jobs: Sequence[Job], outcomes: Sequence[Outcome]) -> list[Outcome]:
    """Every job's outcome; a job that never got one is deferred (its claim released)."""
    done = {o.job.path for o in outcomes}
    return [*outcomes, *(Outcome(j, "deferred") for j in jobs if j.path not in done)]


def run_pass(
    store: Store,
    now: datetime,
    client_factory: ClientFactory,
    options: TickOptions = TickOptions(),
    *,
    sleep: Callable[[float], None] = time.sleep,
    recent: RecentRuns | None = None,
) -> TickReport:
    """One pass at ``now``: follow earlier runs, claim, deliver, record.

    Raises TickError when messages went out but their outcome could not be
    pushed; the message names the run ids that were sent.
    """
    now = utc(now)
    report = TickReport(now=now, dry_run=options.dry_run)
    store.take_unreadable()  # what earlier calls skipped is theirs to report
    if options.dry_run:
        store.backend.refresh()
        report.planned = load_due(store, now, options)
        report.unreadable = store.take_unreadable()
        return report
    report.recovered = record_unrecorded(store, options, sleep)
    # Before claiming: a schedule whose last run showed its agent gone is paused before it fires again.
    report.followed = follow(store, now, client_factory, options)
    pass_id = pass_id_at(now)
    # Late: switchboard.native builds on tick's own modules, so importing it here at the top would loop.
    from switchboard.native.reconcile import reconcile

    # Letta's clock first: fires Letta made are recorded, the next ones armed, lost ones released to this pass.
    native = reconcile(store, now, client_factory, options, pass_id=pass_id)
    report.native = native.results
    try:
        claimed = claim(store, now, pass_id, options)
    except ContentionError as exc:
        # Nothing was claimed, so nothing of it is sent: whoever kept winning is delivering, or the next pass will.
        report.contended = (
            f"the claim gave up after {exc.attempts} attempts in {exc.seconds:.0f} s (others committed first every "
            "time); nothing was claimed or sent — the next tick tries again"
        )
        claimed = []
        if not native.jobs:
            report.unreadable = store.take_unreadable()
            return report
    jobs = native.jobs + claimed
    report.planned = jobs
    # Files that do not open were skipped by the claim, and everything else claimed: say which, and why.
    report.unreadable = store.take_unreadable()
    if not jobs:
        report.pruned = prune(store, now, options)
        return report
    arrived: list[Outcome] = []  # taken over from a pass that died, and already in Letta (takeover.py)
    sink: list[Outcome] = []
    try:
        if options.on_claimed is not None:
            options.on_claimed(jobs)
        arrived = already_delivered(jobs, client_factory)
        found = {o.job.path for o in arrived}
        deliver(
            [j for j in jobs if j.path not in found], client_factory, options, sleep, recent=recent, sink=sink, now=now
        )
    except BaseException:
        # Record what was tried and release the rest, then let the error go on.
        record_or_raise(store, _with_unfinished(jobs, [*arrived, *sink]), pass_id, now, options, sleep)
        raise
    order = {job.path: index for index, job in enumerate(jobs)}
    report.outcomes = sorted(_with_unfinished(jobs, [*arrived, *sink]), key=lambda o: order[o.job.path])
    report.results = record_or_raise(store, report.outcomes, pass_id, now, options, sleep)
    return report
