"""One pass of the scheduler: claim what is due, deliver it, record the outcome.

A pass is three steps, and only the middle one talks to Letta:

1. *Claim.* On a fresh state of the repository, pick what is due at ``now``
   (``select_due``, a pure function) and mark each one ``claimed_by`` this
   pass, in one commit. If the push is refused, someone else committed first:
   recompute on their state and try again. Whatever this pass did not manage
   to claim, it does not send, so two ticks never send the same message.
2. *Deliver.* Different agents in parallel (bounded), the same agent one at a
   time in due order, waiting (bounded) for the previous run to finish.
3. *Record.* One commit: delivered one-time schedules removed, recurring ones
   advanced (or paused on a permanent failure), transient failures put back,
   and one result per outcome appended.

A claim left behind by a pass that died is taken over after ``claim_ttl``, so
nothing is lost; that is the one case where Letta may see a message twice,
and the ``otid`` it carries is the same both times.

No loop lives here: ``--watch`` and the API's ticker call ``run_pass``.
"""

from __future__ import annotations

import secrets
import threading
import time
import uuid
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from switchboard.due import due_fire, next_fire
from switchboard.exceptions import (
    BackendError,
    LettaPermanentError,
    LettaTransientError,
    SwitchboardError,
)
from switchboard.letta import LettaClient, Run, send_with_retry
from switchboard.models import OneTimeSchedule, RecurringSchedule, Result, Schedule, utc
from switchboard.store import Store, Transaction, prune_results

#: The otid namespace: the same fire of the same schedule always carries the same otid.
OTID_NAMESPACE = uuid.UUID("6b1f3c1e-4b8e-4f43-9d0e-2f7d1f1c5a10")
BUSY = {"created", "running"}

ClientFactory = Callable[[str, "str | None"], LettaClient]


class TickError(SwitchboardError):
    """The pass delivered messages but could not record the outcome."""


@dataclass(frozen=True)
class TickOptions:
    """How a pass behaves; every number has a safe default."""

    dry_run: bool = False
    parallel: int = 16
    send_attempts: int = 4
    base_delay: float = 0.5
    max_delay: float = 30.0
    run_wait: float = 20.0
    run_poll: float = 0.5
    claim_ttl: timedelta = timedelta(minutes=30)
    give_up_after: timedelta = timedelta(hours=72)
    retention: timedelta = timedelta(days=90)
    record_attempts: int = 5
    #: Called with the claimed jobs before anything is sent (the runner masks their keys).
    on_claimed: Callable[[list[Job]], None] | None = None


@dataclass(frozen=True)
class Job:
    """One schedule's due fire, claimed by this pass."""

    path: str
    schedule: Schedule
    scheduled_for: datetime
    skipped: int = 0

    @property
    def otid(self) -> str:
        """The idempotency id Letta receives with this fire."""
        return str(uuid.uuid5(OTID_NAMESPACE, f"{self.schedule.id}@{self.scheduled_for.isoformat()}"))

    @property
    def agent_key(self) -> tuple[str, str]:
        """Deliveries with the same key go one at a time."""
        return (self.schedule.base_url, self.schedule.agent_id)


@dataclass(frozen=True)
class Outcome:
    """What happened to a job: delivered, failed for good, put back, or deferred."""

    job: Job
    status: str  # delivered | failed | requeued | deferred
    run: Run | None = None
    http_status: int | None = None
    error: str | None = None


@dataclass
class TickReport:
    """What a pass did."""

    now: datetime
    dry_run: bool = False
    planned: list[Job] = field(default_factory=list)
    outcomes: list[Outcome] = field(default_factory=list)
    results: list[Result] = field(default_factory=list)

    def count(self, status: str) -> int:
        """How many outcomes had ``status``."""
        return sum(1 for o in self.outcomes if o.status == status)

    @property
    def permanent_failures(self) -> int:
        """Failures that will not be retried."""
        return sum(1 for r in self.results if r.status == "failed")

    def as_json(self) -> dict[str, object]:
        """The ``--json`` shape: {delivered, failed, deferred, results}."""
        return {
            "now": self.now.isoformat(),
            "dry_run": self.dry_run,
            "delivered": self.count("delivered"),
            "failed": self.permanent_failures,
            "requeued": self.count("requeued"),
            "deferred": self.count("deferred"),
            "due": [
                {
                    "schedule_id": j.schedule.id,
                    "schedule_type": j.schedule.kind,
                    "agent_id": j.schedule.agent_id,
                    "scheduled_for": j.scheduled_for.isoformat(),
                    "skipped": j.skipped,
                }
                for j in self.planned
            ]
            if self.dry_run
            else [],
            "results": [r.public() for r in self.results],
        }


# -- 1. what is due (pure) ----------------------------------------------


def _claim_is_live(schedule: Schedule, now: datetime, ttl: timedelta) -> bool:
    return schedule.claimed_by is not None and schedule.claimed_at is not None and schedule.claimed_at + ttl > now


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
    """
    now = utc(now)
    candidates: list[Job] = []
    busy_agents: set[tuple[str, str]] = set()
    for path, one in one_time:
        if one.execute_at > now:
            continue
        job = Job(path, one, one.execute_at)
        if _claim_is_live(one, now, claim_ttl):
            busy_agents.add(job.agent_key)
        else:
            candidates.append(job)
    for path, rec in recurring:
        if rec.status != "active":
            continue
        if _claim_is_live(rec, now, claim_ttl):
            busy_agents.add((rec.base_url, rec.agent_id))
            continue
        fire = due_fire(rec.cron, rec.timezone, rec.anchor, now)
        if fire is not None:
            candidates.append(Job(path, rec, fire.scheduled_for, fire.skipped))
    due = [j for j in candidates if j.agent_key not in busy_agents]
    return sorted(due, key=lambda j: (j.scheduled_for, j.schedule.created_at, j.schedule.id))


def due_candidates(
    store: Store, now: datetime
) -> tuple[list[tuple[str, OneTimeSchedule]], list[tuple[str, RecurringSchedule]]]:
    """Load what might be due: one-time buckets up to now's hour, every recurring schedule."""
    one_time = [(p, store.load_one_time(p)) for p in store.one_time_files(through=now)]
    recurring = [(p, store.load_recurring(p)) for p in store.recurring_files()]
    return one_time, recurring


def next_due(store: Store, after: datetime) -> datetime | None:
    """The earliest instant after ``after`` at which something falls due."""
    best: datetime | None = None
    for path in store.one_time_files():
        one = store.load_one_time(path)
        if one.execute_at > after and (best is None or one.execute_at < best):
            best = one.execute_at
    for path in store.recurring_files():
        rec = store.load_recurring(path)
        if rec.status == "active":
            when = next_fire(rec.cron, rec.timezone, max(rec.anchor, after))
            if best is None or when < best:
                best = when
    return best


# -- 2. deliver -----------------------------------------------------------


class _Clients:
    """One Letta client per (base URL, key), shared by the pass's threads."""

    def __init__(self, factory: ClientFactory) -> None:
        self._factory = factory
        self._clients: dict[tuple[str, str | None], LettaClient] = {}
        self._lock = threading.Lock()

    def get(self, base_url: str, api_key: str | None) -> LettaClient:
        with self._lock:
            key = (base_url, api_key)
            if key not in self._clients:
                self._clients[key] = self._factory(base_url, api_key)
            return self._clients[key]

    def close(self) -> None:
        for client in self._clients.values():
            client.close()


def _wait_idle(client: LettaClient, run: Run, options: TickOptions, sleep: Callable[[float], None]) -> bool:
    """Wait (bounded) until ``run`` has left created/running; False if it did not."""
    deadline = time.monotonic() + options.run_wait
    status = run.status
    while status in BUSY:
        if time.monotonic() >= deadline:
            return False
        sleep(options.run_poll)
        try:
            status = client.get_run(run.id).status
        except (LettaTransientError, LettaPermanentError):
            return True  # cannot follow the run: do not hold the queue hostage
    return True


def _deliver_agent(
    jobs: Sequence[Job], clients: _Clients, options: TickOptions, sleep: Callable[[float], None]
) -> list[Outcome]:
    """Deliver one agent's jobs in order, one at a time."""
    outcomes: list[Outcome] = []
    previous: Run | None = None
    for index, job in enumerate(jobs):
        sched = job.schedule
        client = clients.get(sched.base_url, sched.api_key)
        if previous is not None and not _wait_idle(client, previous, options, sleep):
            outcomes.extend(Outcome(j, "deferred") for j in jobs[index:])
            break
        try:
            run = send_with_retry(
                client,
                sched.agent_id,
                sched.message,
                role=sched.role,
                otid=job.otid,
                attempts=options.send_attempts,
                base_delay=options.base_delay,
                max_delay=options.max_delay,
                sleep=sleep,
            )
        except LettaPermanentError as exc:
            outcomes.append(Outcome(job, "failed", http_status=exc.status, error=str(exc)))
            previous = None
        except LettaTransientError as exc:
            outcomes.append(Outcome(job, "requeued", http_status=exc.status, error=str(exc)))
            # Letta is not answering this agent: keep the rest for the next pass.
            outcomes.extend(Outcome(j, "deferred") for j in jobs[index + 1 :])
            break
        else:
            outcomes.append(Outcome(job, "delivered", run=run))
            previous = run
    return outcomes


def deliver(
    jobs: Sequence[Job],
    client_factory: ClientFactory,
    options: TickOptions,
    sleep: Callable[[float], None] = time.sleep,
) -> list[Outcome]:
    """Deliver every job: agents in parallel, each agent's jobs in order."""
    by_agent: dict[tuple[str, str], list[Job]] = defaultdict(list)
    for job in jobs:
        by_agent[job.agent_key].append(job)
    clients = _Clients(client_factory)
    try:
        workers = max(1, min(options.parallel, len(by_agent)))
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="deliver") as pool:
            batches = pool.map(lambda group: _deliver_agent(group, clients, options, sleep), by_agent.values())
            return [outcome for batch in batches for outcome in batch]
    finally:
        clients.close()


# -- 3. record -------------------------------------------------------------


def _result(
    outcome: Outcome, now: datetime, attempt: int, *, status: str | None = None, error: str | None = None
) -> Result:
    job = outcome.job
    return Result(
        schedule_id=job.schedule.id,
        schedule_type=job.schedule.kind,
        status=status or outcome.status,  # type: ignore[arg-type]
        run_id=outcome.run.id if outcome.run else None,
        agent_id=job.schedule.agent_id,
        message=job.schedule.message,
        scheduled_for=job.scheduled_for,
        executed_at=now,
        lateness_s=round(max(0.0, (now - job.scheduled_for).total_seconds()), 3),
        skipped=job.skipped,
        attempt=attempt,
        http_status=outcome.http_status,
        error=error or outcome.error,
    )


def _apply(tx: Transaction, outcome: Outcome, pass_id: str, now: datetime, options: TickOptions) -> Result | None:
    """Stage one outcome on the current state; returns the result it appends."""
    job = outcome.job
    store = tx.store
    raw = store.backend.read(job.path)
    current = store.load(job.path) if raw is not None else None
    ours = current is not None and current.claimed_by == pass_id
    released = {"claimed_by": None, "claimed_at": None}

    if isinstance(job.schedule, OneTimeSchedule):
        attempt = job.schedule.attempts + 1
        result = _result(outcome, now, attempt)
        if outcome.status in ("delivered", "failed"):
            if ours:
                tx.delete(job.path)
        elif outcome.status == "requeued" and now - job.scheduled_for > options.give_up_after:
            hours = options.give_up_after.total_seconds() / 3600
            result = _result(
                outcome,
                now,
                attempt,
                status="failed",
                error=f"gave up after {hours:g} hours of transient failures: {outcome.error}",
            )
            if ours:
                tx.delete(job.path)
        elif ours:
            assert isinstance(current, OneTimeSchedule)
            bump = 1 if outcome.status == "requeued" else 0
            tx.save(current.model_copy(update={**released, "attempts": current.attempts + bump}))
        return None if outcome.status == "deferred" else result

    result = _result(outcome, now, 1)
    if ours:
        assert isinstance(current, RecurringSchedule)
        update: dict[str, object] = dict(released)
        if outcome.status in ("delivered", "failed"):
            update["last_run"] = job.scheduled_for
        if outcome.status == "failed":
            update["status"] = "paused"
            update["paused_reason"] = f"paused after a permanent failure: {outcome.error}"
        tx.save(current.model_copy(update=update))
    return None if outcome.status == "deferred" else result


def record(
    store: Store, outcomes: Sequence[Outcome], pass_id: str, now: datetime, options: TickOptions
) -> list[Result]:
    """Commit every outcome and its result in one commit; retries on failure."""

    def compute(tx: Transaction) -> list[Result]:
        results: list[Result] = []
        for outcome in outcomes:
            result = _apply(tx, outcome, pass_id, now, options)
            if result is not None:
                # Same pass, same schedule -> same file name: a retried commit cannot double a result.
                nonce = uuid.uuid5(OTID_NAMESPACE, f"{pass_id}/{result.schedule_id}").hex[:8]
                tx.add_result(result, outcome.job.schedule.api_key, nonce=nonce)
                results.append(result)
        for path in prune_results(store, now, options.retention):
            tx.delete(path)
        return results

    delivered = sum(1 for o in outcomes if o.status == "delivered")
    failed = sum(1 for o in outcomes if o.status == "failed")
    message = f"switchboard: tick delivered {delivered}, failed {failed}, put back {len(outcomes) - delivered - failed}"
    last: BackendError | None = None
    for attempt in range(options.record_attempts):
        try:
            return store.transact(message, compute)
        except BackendError as exc:
            last = exc
            time.sleep(min(10.0, 0.5 * 2**attempt))
    sent = ", ".join(f"{o.job.schedule.id}={o.run.id}" for o in outcomes if o.run) or "nothing"
    raise TickError(
        f"delivered but could not record the outcome ({last}) — sent: {sent}; the claims expire "
        f"after {options.claim_ttl} and a later tick records them"
    )


# -- the pass ----------------------------------------------------------------


def claim(store: Store, now: datetime, pass_id: str, options: TickOptions) -> list[Job]:
    """Mark every due schedule as this pass's, in one commit (recomputed if beaten)."""

    def compute(tx: Transaction) -> list[Job]:
        claimed = []
        for job in select_due(*due_candidates(store, now), now, claim_ttl=options.claim_ttl):
            mine = job.schedule.model_copy(update={"claimed_by": pass_id, "claimed_at": now})
            tx.save(mine)
            claimed.append(Job(job.path, mine, job.scheduled_for, job.skipped))
        return claimed

    return store.transact(f"switchboard: claim due schedules at {now:%Y-%m-%dT%H:%MZ}", compute)


def run_pass(
    store: Store,
    now: datetime,
    client_factory: ClientFactory,
    options: TickOptions = TickOptions(),
    *,
    sleep: Callable[[float], None] = time.sleep,
) -> TickReport:
    """One pass at ``now``: claim, deliver, record."""
    now = utc(now)
    report = TickReport(now=now, dry_run=options.dry_run)
    if options.dry_run:
        store.backend.refresh()
        report.planned = select_due(*due_candidates(store, now), now, claim_ttl=options.claim_ttl)
        return report
    pass_id = f"{now:%Y%m%dT%H%M%SZ}-{secrets.token_hex(4)}"
    jobs = claim(store, now, pass_id, options)
    report.planned = jobs
    if not jobs:
        return report
    if options.on_claimed is not None:
        options.on_claimed(jobs)
    report.outcomes = deliver(jobs, client_factory, options, sleep)
    report.results = record(store, report.outcomes, pass_id, now, options)
    return report
