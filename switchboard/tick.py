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

Whatever happens between 1 and 3, the claims do not outlive the pass when it
can help it: if delivering raises, what was tried is recorded and the rest
is released. If the record commit cannot be pushed, the pass raises
``TickError`` naming what it sent, and keeps the outcome in the clone's
``.git`` directory (encrypted); the next pass from that clone records it
before it claims anything, so nothing is sent twice. A claim left behind by a
pass that died altogether is taken over after ``claim_ttl``: that is the one
case where Letta may see a message twice, with the same ``otid`` both times.

No loop lives here: ``--watch`` and the API's ticker call ``run_pass``.
"""

from __future__ import annotations

import functools
import json
import secrets
import threading
import time
import uuid
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from switchboard import index as fire_index
from switchboard.due import due_fire
from switchboard.exceptions import (
    BackendError,
    LettaPermanentError,
    LettaTransientError,
    SwitchboardError,
)
from switchboard.letta import LettaClient, Run, send_with_retry
from switchboard.models import STORED, OneTimeSchedule, RecurringSchedule, Result, Schedule, utc
from switchboard.store import Store, Transaction, prune_results

#: The otid namespace: the same fire of the same schedule always carries the same otid.
OTID_NAMESPACE = uuid.UUID("6b1f3c1e-4b8e-4f43-9d0e-2f7d1f1c5a10")
BUSY = {"created", "running"}
#: Where a pass that could not push its record keeps it, inside the clone's .git directory.
UNRECORDED_DIR = "switchboard-unrecorded"

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
    #: A pass starts no delivery later than this after its claim (default: half of claim_ttl),
    #: so its claims never expire while it is still sending.
    send_window: timedelta | None = None
    give_up_after: timedelta = timedelta(hours=72)
    retention: timedelta = timedelta(days=90)
    #: Tries at pushing the record (backing off 0.5 s, 1 s, …) before the pass raises TickError.
    record_attempts: int = 3
    #: Pushes per record attempt when the remote keeps moving (or keeps refusing).
    commit_attempts: int = 8
    #: Called with the claimed jobs before anything is sent.
    on_claimed: Callable[[list[Job]], None] | None = None
    #: Called with every Letta key the pass decrypts, before any is used (the runner masks them).
    on_secrets: Callable[[list[str]], None] | None = None


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
    #: Results of an earlier pass from this clone that could not push them, committed by this one.
    recovered: list[Result] = field(default_factory=list)
    pruned: int = 0

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
            "requeued": sum(1 for r in self.results if r.status == "requeued"),
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
            "recovered": [r.public() for r in self.recovered],
            "pruned": self.pruned,
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
    A live claim counts whatever the schedule's state (paused since, or due
    later by this pass's clock): the other pass is sending it all the same.
    """
    now = utc(now)
    candidates: list[Job] = []
    busy_agents: set[tuple[str, str]] = set()
    for path, one in one_time:
        job = Job(path, one, one.execute_at)
        if _claim_is_live(one, now, claim_ttl):
            busy_agents.add(job.agent_key)
        elif one.execute_at <= now:
            candidates.append(job)
    for path, rec in recurring:
        if _claim_is_live(rec, now, claim_ttl):
            busy_agents.add((rec.base_url, rec.agent_id))
            continue
        if rec.status != "active":
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
    one_time = [(p, store.load_one_time(p)) for p in fire_index.due_one_time_files(store, now)]
    return one_time, fire_index.due_recurring(store, now, tx)


def _reveal(on_secrets: Callable[[list[str]], None] | None, schedules: Iterable[Schedule]) -> None:
    if on_secrets is not None:
        on_secrets(sorted({s.api_key for s in schedules if s.api_key}))


def _load_due(store: Store, now: datetime, options: TickOptions, tx: Transaction | None = None) -> list[Job]:
    one_time, recurring = due_candidates(store, now, tx)
    _reveal(options.on_secrets, [s for _, s in one_time] + [s for _, s in recurring])
    return select_due(one_time, recurring, now, claim_ttl=options.claim_ttl)


def next_due(
    store: Store, after: datetime, *, on_secrets: Callable[[list[str]], None] | None = None
) -> datetime | None:
    """The earliest instant after ``after`` at which something falls due (None: nothing is scheduled)."""
    return fire_index.next_due(store, after, on_secrets=on_secrets)


# -- 2. deliver -----------------------------------------------------------


class RecentRuns:
    """The last run sent to each agent, kept across the passes of one process.

    ``--watch`` and ``--hold-up-to`` run passes seconds apart: a pass must not
    send to an agent whose run from the previous pass is still going.
    """

    def __init__(self) -> None:
        """Start with no runs known."""
        self._runs: dict[tuple[str, str], tuple[str | None, Run]] = {}
        self._lock = threading.Lock()

    def get(self, agent_key: tuple[str, str]) -> tuple[str | None, Run] | None:
        """The (Letta key, run) last sent to ``agent_key``, if any."""
        with self._lock:
            return self._runs.get(agent_key)

    def set(self, agent_key: tuple[str, str], api_key: str | None, run: Run) -> None:
        """Remember the run just sent to ``agent_key``."""
        with self._lock:
            self._runs[agent_key] = (api_key, run)


class _Clients:
    """One Letta client per (base URL, key), shared by the pass's threads."""

    def __init__(self, factory: ClientFactory) -> None:
        self._factory = factory
        self._clients: dict[tuple[str, str | None], LettaClient] = {}
        self._making: dict[tuple[str, str | None], threading.Lock] = {}
        self._lock = threading.Lock()

    def get(self, base_url: str, api_key: str | None) -> LettaClient:
        key = (base_url, api_key)
        with self._lock:
            if key in self._clients:
                return self._clients[key]
            making = self._making.setdefault(key, threading.Lock())
        # One thread makes each client: loading TLS certificates costs tens of milliseconds of CPU, and
        # the first wave of a fan-out would otherwise make one per thread and throw all but one away.
        # Threads wanting the same client wait for it; threads wanting another are not held up.
        with making:
            with self._lock:
                client = self._clients.get(key)
            if client is None:
                client = self._factory(base_url, api_key)
                with self._lock:
                    self._clients[key] = client
        return client

    def close(self) -> None:
        with self._lock:
            clients, self._clients = list(self._clients.values()), {}
        for client in clients:
            client.close()


def _wait_idle(
    client: LettaClient,
    run: Run,
    options: TickOptions,
    sleep: Callable[[float], None],
    stop: threading.Event | None = None,
) -> bool:
    """Wait (bounded) until ``run`` has left created/running; False if it did not in time (or the pass stops)."""
    deadline = time.monotonic() + options.run_wait
    while stop is None or not stop.is_set():
        try:
            if client.get_run(run.id).status not in BUSY:
                return True
        except LettaPermanentError:
            return True  # the run cannot be read (gone, or not this key's): nothing to wait for
        except LettaTransientError:
            pass  # Letta is struggling; sending now would not go better, so keep waiting
        if time.monotonic() >= deadline:
            return False
        sleep(options.run_poll)
    return False


@dataclass
class _Sink:
    """Where delivering threads put each outcome the moment it is known."""

    outcomes: list[Outcome] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def put(self, outcome: Outcome) -> None:
        with self.lock:
            self.outcomes.append(outcome)

    def snapshot(self) -> list[Outcome]:
        with self.lock:
            return list(self.outcomes)


def _with_detail(exc: LettaPermanentError) -> str:
    """The error with Letta's own detail (already scrubbed of key and text), when it is not quoted yet."""
    text = str(exc)
    if exc.detail and exc.detail not in text:
        text += f" (Letta said: {exc.detail})"
    return text


def _stop_all_on_error(stop: threading.Event, work: Callable[[], None]) -> None:
    """Run one agent's deliveries; on an interrupt or a bug, no other agent starts a delivery."""
    try:
        work()
    except BaseException:
        stop.set()
        raise


def _deliver_in_order(
    jobs: Sequence[Job],
    clients: _Clients,
    options: TickOptions,
    sleep: Callable[[float], None],
    recent: RecentRuns,
    sink: _Sink,
    stop: threading.Event,
    send_until: float,
) -> None:
    previous = recent.get(jobs[0].agent_key)

    def defer_from(index: int) -> None:
        for job in jobs[index:]:
            sink.put(Outcome(job, "deferred"))

    for index, job in enumerate(jobs):
        sched = job.schedule
        if stop.is_set() or time.monotonic() > send_until:
            defer_from(index)
            return
        try:
            client = clients.get(sched.base_url, sched.api_key)
            if previous is not None:
                waiting_on = clients.get(sched.base_url, previous[0])
                if not _wait_idle(waiting_on, previous[1], options, sleep, stop):
                    defer_from(index)
                    return
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
            # No run was made; `previous` (if any) is still the one to wait for.
            sink.put(Outcome(job, "failed", http_status=exc.status, error=_with_detail(exc)))
        except LettaTransientError as exc:
            sink.put(Outcome(job, "requeued", http_status=exc.status, error=str(exc)))
            # Letta is not answering this agent: keep the rest for the next pass.
            defer_from(index + 1)
            return
        except SwitchboardError as exc:
            # A base URL or key this schedule can never be sent with (ConfigError).
            sink.put(Outcome(job, "failed", error=str(exc)))
        except Exception as exc:
            # A bug, not Letta's answer. Put it back (the otid makes a resend recognisable) and stop
            # talking to this agent; the type alone is shown, since the text may quote the request.
            sink.put(Outcome(job, "requeued", error=f"unexpected {type(exc).__name__} while sending — will retry"))
            defer_from(index + 1)
            return
        else:
            sink.put(Outcome(job, "delivered", run=run))
            previous = (sched.api_key, run)
            recent.set(job.agent_key, sched.api_key, run)


def deliver(
    jobs: Sequence[Job],
    client_factory: ClientFactory,
    options: TickOptions,
    sleep: Callable[[float], None] = time.sleep,
    *,
    recent: RecentRuns | None = None,
    sink: list[Outcome] | None = None,
) -> list[Outcome]:
    """Deliver every job: agents in parallel, each agent's jobs in order; one outcome per job.

    ``sink``, when given, receives each outcome as soon as it is known, so a
    caller still knows what was sent when this raises (an interrupt, a bug).
    """
    by_agent: dict[tuple[str, str], list[Job]] = defaultdict(list)
    for job in jobs:
        by_agent[job.agent_key].append(job)
    if not by_agent:
        return []
    collected = _Sink(sink if sink is not None else [])
    clients = _Clients(client_factory)
    stop = threading.Event()
    window = options.send_window if options.send_window is not None else options.claim_ttl / 2
    send_until = time.monotonic() + window.total_seconds()
    runs = recent if recent is not None else RecentRuns()
    workers = max(1, min(options.parallel, len(by_agent)))
    pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="deliver")
    try:
        futures = [
            pool.submit(
                _stop_all_on_error,
                stop,
                functools.partial(_deliver_in_order, group, clients, options, sleep, runs, collected, stop, send_until),
            )
            for group in by_agent.values()
        ]
        for future in futures:
            future.result()
    except BaseException:
        stop.set()  # agents not started are cancelled, agents under way stop after their current message
        raise
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
        clients.close()
    order = {job.path: index for index, job in enumerate(jobs)}
    return sorted(collected.snapshot(), key=lambda o: order[o.job.path])


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

    if ours:
        assert isinstance(current, RecurringSchedule)
        update = dict(released)
        if outcome.status in ("delivered", "failed"):
            update["last_run"] = job.scheduled_for
        if outcome.status == "failed":
            update["status"] = "paused"
            update["paused_reason"] = f"paused after a permanent failure: {outcome.error}"
        tx.save(current.model_copy(update=update))
    return None if outcome.status == "deferred" else _result(outcome, now, 1)


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
                tx.add_result(result, outcome.job.schedule.api_key, nonce=nonce)
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
    """Delete results older than the retention, in one commit; how many went."""
    if next(prune_results(store, now, options.retention), None) is None:
        return 0  # the common case costs no extra refresh

    def compute(tx: Transaction) -> int:
        paths = list(prune_results(store, now, options.retention))
        for path in paths:
            tx.delete(path)
        return len(paths)

    days = options.retention.total_seconds() / 86400
    return store.transact(f"switchboard: prune results older than {days:g} days", compute)


# -- outcomes a pass could not push ---------------------------------------


def _unrecorded_dir(store: Store) -> Path | None:
    """The clone's .git/switchboard-unrecorded, or None for a backend without a local clone."""
    root = getattr(store.backend, "root", None)
    if not isinstance(root, Path) or not (root / ".git").is_dir():
        return None
    return root / ".git" / UNRECORDED_DIR


def _keep_unrecorded(store: Store, pass_id: str, now: datetime, outcomes: Sequence[Outcome]) -> Path | None:
    """Write the outcomes (encrypted, like data/) where the next pass from this clone finds them."""
    folder = _unrecorded_dir(store)
    if folder is None:
        return None
    body = {
        "format": 1,
        "pass_id": pass_id,
        "now": now.isoformat(),
        "outcomes": [
            {
                "path": o.job.path,
                "schedule": o.job.schedule.model_dump(mode="json"),
                "scheduled_for": o.job.scheduled_for.isoformat(),
                "skipped": o.job.skipped,
                "status": o.status,
                "run": None if o.run is None else {"id": o.run.id, "status": o.run.status, "agent_id": o.run.agent_id},
                "http_status": o.http_status,
                "error": o.error,
            }
            for o in outcomes
        ],
    }
    try:
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"{pass_id}.json.enc"
        path.write_bytes(store.codec.encrypt(json.dumps(body).encode("utf-8")))
    except OSError:
        return None
    return path


def _read_unrecorded(store: Store, path: Path) -> tuple[str, datetime, list[Outcome]]:
    body = json.loads(store.codec.decrypt(path.read_bytes(), path=str(path)))
    outcomes = []
    for item in body["outcomes"]:
        data = item["schedule"]
        # Checked when it was made: a limit lowered since must not make it unreadable (STORED).
        schedule: Schedule = (
            OneTimeSchedule.model_validate(data, context=STORED)
            if data.get("kind") == "one-time"
            else RecurringSchedule.model_validate(data, context=STORED)
        )
        job = Job(item["path"], schedule, datetime.fromisoformat(item["scheduled_for"]), int(item["skipped"]))
        run = None if item["run"] is None else Run(**item["run"])
        outcomes.append(Outcome(job, item["status"], run, item["http_status"], item["error"]))
    return str(body["pass_id"]), datetime.fromisoformat(body["now"]), outcomes


def record_unrecorded(store: Store, options: TickOptions, sleep: Callable[[float], None] = time.sleep) -> list[Result]:
    """Commit what earlier passes from this clone sent but could not push; their results."""
    folder = _unrecorded_dir(store)
    if folder is None or not folder.is_dir():
        return []
    results: list[Result] = []
    for path in sorted(folder.glob("*.json.enc")):
        try:
            pass_id, then, outcomes = _read_unrecorded(store, path)
        except (SwitchboardError, ValueError, KeyError, TypeError) as exc:
            raise TickError(
                f"cannot read {path} ({type(exc).__name__}), kept by an earlier tick that could not push its "
                "results — restore the encryption key it was written with, or delete the file"
            ) from None
        try:
            results += record(store, outcomes, pass_id, then, options, sleep)
        except SwitchboardError as exc:
            raise TickError(
                f"still cannot record what an earlier tick sent ({exc}) — it is kept in {path}; "
                "fix the remote and run the tick again"
            ) from exc
        path.unlink()
    return results


def _sent(outcomes: Sequence[Outcome]) -> str:
    return ", ".join(f"{o.job.schedule.id} (run {o.run.id})" for o in outcomes if o.run) or "nothing"


def _record_or_raise(
    store: Store,
    outcomes: Sequence[Outcome],
    pass_id: str,
    now: datetime,
    options: TickOptions,
    sleep: Callable[[float], None],
) -> list[Result]:
    try:
        return record(store, outcomes, pass_id, now, options, sleep)
    except Exception as exc:
        kept = _keep_unrecorded(store, pass_id, now, outcomes)
        later = (
            f"the outcome is kept in {kept} and the next tick from this clone records it first"
            if kept is not None
            else f"the claims expire after {options.claim_ttl} and a later tick may send them again (same otid)"
        )
        reason = str(exc) if isinstance(exc, SwitchboardError) else type(exc).__name__
        raise TickError(f"sent but could not record the outcome ({reason}) — sent: {_sent(outcomes)}; {later}") from exc


# -- the pass ----------------------------------------------------------------


def claim(store: Store, now: datetime, pass_id: str, options: TickOptions) -> list[Job]:
    """Mark every due schedule as this pass's, in one commit (recomputed if beaten)."""

    def compute(tx: Transaction) -> list[Job]:
        claimed = []
        for job in _load_due(store, now, options, tx):
            mine = job.schedule.model_copy(update={"claimed_by": pass_id, "claimed_at": now})
            tx.save(mine)
            claimed.append(Job(job.path, mine, job.scheduled_for, job.skipped))
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
    """One pass at ``now``: claim, deliver, record.

    Raises TickError when messages went out but their outcome could not be
    pushed; the message names the run ids that were sent.
    """
    now = utc(now)
    report = TickReport(now=now, dry_run=options.dry_run)
    if options.dry_run:
        store.backend.refresh()
        report.planned = _load_due(store, now, options)
        return report
    report.recovered = record_unrecorded(store, options, sleep)
    pass_id = f"{now:%Y%m%dT%H%M%SZ}-{secrets.token_hex(4)}"
    jobs = claim(store, now, pass_id, options)
    report.planned = jobs
    if not jobs:
        report.pruned = prune(store, now, options)
        return report
    sink: list[Outcome] = []
    try:
        if options.on_claimed is not None:
            options.on_claimed(jobs)
        deliver(jobs, client_factory, options, sleep, recent=recent, sink=sink)
    except BaseException:
        # Record what was tried and release the rest, then let the error go on.
        _record_or_raise(store, _with_unfinished(jobs, sink), pass_id, now, options, sleep)
        raise
    order = {job.path: index for index, job in enumerate(jobs)}
    report.outcomes = sorted(_with_unfinished(jobs, sink), key=lambda o: order[o.job.path])
    report.results = _record_or_raise(store, report.outcomes, pass_id, now, options, sleep)
    return report
