"""Step 2 of a pass, delivering: agents in parallel (bounded), each agent's jobs in due order.

Before sending to an agent, a delivery waits (bounded) for the run it last
sent there to finish: Letta wants one request at a time per agent. When that
run was sent by the same pass, the end the wait saw goes into its outcome
(completed, or failed/cancelled as judged by run_end.py), so its result is
final from the start and needs no following. Each
outcome is handed over the moment it is known, so a pass interrupted
half-way still knows what went out.
"""

from __future__ import annotations

import threading
import time
from collections import defaultdict
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from switchboard.exceptions import (
    LettaPermanentError,
    LettaTransientError,
    SwitchboardError,
)
from switchboard.letta import LettaClient, Run, send_with_retry
from switchboard.tick.model import BUSY, ClientFactory, Job, Outcome, TickOptions
from switchboard.tick.run_end import judge


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


class Clients:
    """One Letta client per (base URL, key), shared by the pass's threads."""

    def __init__(self, factory: ClientFactory) -> None:
        """Make clients with ``factory``, each the first time it is asked for."""
        self._factory = factory
        self._clients: dict[tuple[str, str | None], LettaClient] = {}
        self._making: dict[tuple[str, str | None], threading.Lock] = {}
        self._lock = threading.Lock()

    def get(self, base_url: str, api_key: str | None) -> LettaClient:
        """The client for ``base_url`` and ``api_key``."""
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
        """Close every client made."""
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
) -> tuple[bool, Run | None]:
    """Wait (bounded) until ``run`` has left created/running: (idle, the run as it ended, when it was read).

    Not idle when it did not end in time (or the pass stops).
    """
    deadline = time.monotonic() + options.run_wait
    while stop is None or not stop.is_set():
        try:
            seen = client.get_run(run.id)
            if seen.status not in BUSY:
                return True, seen
        except LettaPermanentError:
            return True, None  # the run cannot be read (gone, or not this key's): nothing to wait for
        except LettaTransientError:
            pass  # Letta is struggling; sending now would not go better, so keep waiting
        if time.monotonic() >= deadline:
            return False, None
        sleep(options.run_poll)
    return False, None


@dataclass
class _Sink:
    """Where delivering threads put each outcome the moment it is known."""

    outcomes: list[Outcome] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def put(self, outcome: Outcome) -> None:
        with self.lock:
            self.outcomes.append(outcome)

    def replace(self, old: Outcome, new: Outcome) -> None:
        with self.lock:
            self.outcomes[next(i for i, o in enumerate(self.outcomes) if o is old)] = new

    def snapshot(self) -> list[Outcome]:
        with self.lock:
            return list(self.outcomes)


def _with_detail(exc: LettaPermanentError) -> str:
    """The error with Letta's own detail (already scrubbed of key and text), when it is not quoted yet."""
    text = str(exc)
    if exc.detail and exc.detail not in text:
        text += f" (Letta said: {exc.detail})"
    return text


@dataclass(frozen=True)
class _Delivery:
    """What the deliveries of one pass share, across its agents' threads."""

    clients: Clients
    options: TickOptions
    sleep: Callable[[float], None]
    recent: RecentRuns
    sink: _Sink
    #: Set when one agent's deliveries end in an interrupt or a bug: no other agent starts another.
    stop: threading.Event
    #: No delivery starts after this (time.monotonic()), so the pass's claims never expire while it sends.
    send_until: float

    def agent(self, jobs: Sequence[Job]) -> None:
        """Deliver one agent's jobs in order; on an interrupt or a bug, stop every agent."""
        try:
            self._in_order(jobs)
        except BaseException:
            self.stop.set()
            raise

    def _defer(self, jobs: Sequence[Job]) -> None:
        for job in jobs:
            self.sink.put(Outcome(job, "deferred"))

    def _ended(self, sent: Outcome, run: Run, client: LettaClient) -> None:
        """Put the end of a run this pass sent (seen while waiting on it) into its outcome."""
        assert sent.run is not None
        end = judge(client, sent.job.schedule.agent_id, run)
        if end.failed:
            ended = Outcome(sent.job, "failed", run=run, error=end.error, permanent=end.permanent)
        else:
            ended = Outcome(sent.job, "delivered", run=run)
        self.sink.replace(sent, ended)

    def _in_order(self, jobs: Sequence[Job]) -> None:
        options, sink = self.options, self.sink
        previous = self.recent.get(jobs[0].agent_key)
        #: This pass's outcome for ``previous``, when this pass sent it.
        sent: Outcome | None = None
        for index, job in enumerate(jobs):
            sched = job.schedule
            if self.stop.is_set() or time.monotonic() > self.send_until:
                self._defer(jobs[index:])
                return
            try:
                client = self.clients.get(sched.base_url, sched.api_key)
                if previous is not None:
                    waiting_on = self.clients.get(sched.base_url, previous[0])
                    idle, ended = _wait_idle(waiting_on, previous[1], options, self.sleep, self.stop)
                    if sent is not None and ended is not None:
                        self._ended(sent, ended, waiting_on)
                    sent = None
                    if not idle:
                        self._defer(jobs[index:])
                        return
                if options.before_send is not None:
                    options.before_send(job)
                run = send_with_retry(
                    client,
                    sched.agent_id,
                    sched.message,
                    role=sched.role,
                    otid=job.otid,
                    name=sched.message_fields.name if sched.message_fields else None,
                    sender_id=sched.message_fields.sender_id if sched.message_fields else None,
                    attempts=options.send_attempts,
                    base_delay=options.base_delay,
                    max_delay=options.max_delay,
                    sleep=self.sleep,
                )
            except LettaPermanentError as exc:
                # No run was made; `previous` (if any) is still the one to wait for.
                sink.put(Outcome(job, "failed", http_status=exc.status, error=_with_detail(exc)))
            except LettaTransientError as exc:
                sink.put(Outcome(job, "requeued", http_status=exc.status, error=str(exc), unreached=exc.unreached))
                # Letta is not answering this agent: keep the rest for the next pass.
                self._defer(jobs[index + 1 :])
                return
            except SwitchboardError as exc:
                # A base URL or key this schedule can never be sent with (ConfigError).
                sink.put(Outcome(job, "failed", error=str(exc)))
            except Exception as exc:
                # A bug, not Letta's answer. Put it back (the otid makes a resend recognisable) and stop
                # talking to this agent; the type alone is shown, since the text may quote the request.
                error = f"unexpected {type(exc).__name__} while sending — will retry"
                sink.put(Outcome(job, "requeued", error=error))
                self._defer(jobs[index + 1 :])
                return
            else:
                sent = Outcome(job, "delivered", run=run)
                sink.put(sent)
                previous = (sched.api_key, run)
                self.recent.set(job.agent_key, sched.api_key, run)


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
    window = options.send_window if options.send_window is not None else options.claim_ttl / 2
    delivery = _Delivery(
        clients=Clients(client_factory),
        options=options,
        sleep=sleep,
        recent=recent if recent is not None else RecentRuns(),
        sink=collected,
        stop=threading.Event(),
        send_until=time.monotonic() + window.total_seconds(),
    )
    workers = max(1, min(options.parallel, len(by_agent)))
    pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="deliver")
    try:
        futures = [pool.submit(delivery.agent, group) for group in by_agent.values()]
        for future in futures:
            future.result()
    except BaseException:
        delivery.stop.set()  # agents not started are cancelled, agents under way stop after their current message
        raise
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
        delivery.clients.close()
    order = {job.path: index for index, job in enumerate(jobs)}
    return sorted(collected.snapshot(), key=lambda o: order[o.job.path])
