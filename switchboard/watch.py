"""`switchboard watch`: run passes beside your own Letta, each at the instant something falls due.

``tick.run_pass`` is one pass; this module is the loop around it for a box
that runs all the time (``switchboard watch``, ``tick --watch`` and the
API's ``serve --tick-every`` plans with :func:`wake_at` too). After each
pass the loop asks the data tree when the next thing falls due and sleeps
until then, rather than until the next poll. The pass for a due instant
starts ``CLAIM_AHEAD`` earlier: it claims what falls due at that instant
(the commit that makes delivery exactly-once) and holds the sends until the
instant itself, so the message goes out at the instant, never before. The
loop also wakes every ``fetch_every`` seconds: each pass fetches the remote
first, so a schedule pushed from elsewhere (a laptop, the API, the GitHub
tick) is seen within that bound; a commit made in the watcher's own clone by
another process (``switchboard send`` on the same machine) ends the wait
within a second.

A pass that raises is logged as one line (switchboard's own message, which
never holds a key or message text; only the type for anything else) and the
loop goes on, backing off 1 s, 2 s, 4 s … up to ``fetch_every``. What a
crashed pass sent but could not record is recorded by the next pass from
the same clone (see ``tick/unrecorded.py``). Restarting a process that died
is the service manager's job (``deploy/switchboard-watch.service``).

The loop leaves a heartbeat in the clone's ``.git`` directory (never in
``data/``, never committed): its pid, host, when it started, when its last
pass ended and when it will wake. ``switchboard doctor`` reads it to say
whether a watcher is running for this repository.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from switchboard.exceptions import SwitchboardError
from switchboard.store import Store
from switchboard.tick import ClientFactory, Job, RecentRuns, TickOptions, TickReport, next_due, run_pass

log = logging.getLogger("switchboard.watch")

#: The heartbeat file, inside the clone's .git directory.
HEARTBEAT_FILE = "switchboard-watch.json"
#: Seconds between fetches of the remote, by default: the bound on seeing a schedule pushed from elsewhere.
FETCH_EVERY = 30.0
#: A pass for a due instant starts this much earlier: it claims (one commit, pushed) ahead and sends at the instant.
CLAIM_AHEAD = timedelta(seconds=2)
#: Instants due within this of the one before are claimed by the same pass (each still sent at its instant).
BATCH_GAP = timedelta(seconds=1)
#: How many instants one pass looks ahead for, at most.
BATCH_STEPS = 20
#: The longest slice of a wait between passes: how soon a stop takes effect while the loop sleeps.
STOP_CHECK = 1.0
#: After a pass that left something due (deferred, put back), the next pass comes this soon.
RETRY_SOON = timedelta(seconds=5)


def wake_at(
    now: datetime,
    upcoming: datetime | None,
    *,
    fetch_every: timedelta,
    retry: timedelta | None = None,
) -> datetime:
    """When the loop runs its next pass: the earliest of the next due instant, the next fetch, a retry.

    ``now`` is when the last pass started, ``upcoming`` the next instant
    something falls due after it (None: nothing scheduled), ``retry`` how
    soon to come back for something the pass left due. Pure: no clock.
    """
    candidates = [now + fetch_every]
    if upcoming is not None:
        candidates.append(upcoming)
    if retry is not None:
        candidates.append(now + retry)
    return min(candidates)


def backoff(failures: int, fetch_every: timedelta) -> timedelta:
    """How long to wait after ``failures`` passes in a row raised: 1 s, 2 s, 4 s … at most ``fetch_every``."""
    seconds = 2.0 ** min(max(failures, 1) - 1, 16)
    return min(timedelta(seconds=seconds), fetch_every)


def left_due(report: TickReport) -> bool:
    """Whether the pass left something due behind it (deferred, or put back for a retry)."""
    return report.count("deferred") > 0 or any(r.status == "requeued" for r in report.results)


def _sliced_sleep(seconds: float) -> None:
    """Sleep at most STOP_CHECK seconds; the loop re-reads the clock and its stop flag after each slice."""
    time.sleep(min(seconds, STOP_CHECK))


def local_head(root: Path) -> str | None:
    """The commit the clone at ``root`` has checked out, read from .git's files (no git process: cheap to poll)."""
    git_dir = root / ".git"
    try:
        head = (git_dir / "HEAD").read_text(encoding="utf-8").strip()
        if not head.startswith("ref: "):
            return head  # a detached HEAD names its commit
        ref = git_dir / head.removeprefix("ref: ")
        if ref.is_file():
            return ref.read_text(encoding="utf-8").strip()
        packed = git_dir / "packed-refs"  # after git gc the branch may live here alone
        return packed.read_text(encoding="utf-8") if packed.is_file() else None
    except (OSError, UnicodeDecodeError):
        return None


# -- the heartbeat -------------------------------------------------------------------------


def heartbeat_path(store: Store) -> Path | None:
    """The clone's .git/switchboard-watch.json, or None for a backend without a local clone."""
    root = store.backend.root
    if root is None or not (root / ".git").is_dir():
        return None
    return root / ".git" / HEARTBEAT_FILE


@dataclass(frozen=True)
class Heartbeat:
    """What a watcher last said about itself (no keys, no message text)."""

    pid: int
    host: str
    started: datetime
    fetch_every: float
    last_pass: datetime | None = None
    next_wake: datetime | None = None
    last_error: str | None = None
    stopped: datetime | None = None

    def as_json(self) -> dict[str, Any]:
        """The file's JSON shape."""
        return {
            "format": 1,
            "pid": self.pid,
            "host": self.host,
            "started": self.started.isoformat(),
            "fetch_every": self.fetch_every,
            "last_pass": self.last_pass.isoformat() if self.last_pass else None,
            "next_wake": self.next_wake.isoformat() if self.next_wake else None,
            "last_error": self.last_error,
            "stopped": self.stopped.isoformat() if self.stopped else None,
        }


def write_heartbeat(path: Path | None, beat: Heartbeat) -> None:
    """Replace the heartbeat file in one rename, so a reader never sees half of it; never raises."""
    if path is None:
        return
    temporary = path.with_name(f".{path.name}.{os.getpid()}")
    try:
        temporary.write_text(json.dumps(beat.as_json()) + "\n", encoding="utf-8")
        os.replace(temporary, path)
    except OSError as exc:  # a full disk must not stop delivery
        log.warning("could not write the watch heartbeat (%s)", type(exc).__name__)


def read_heartbeat(path: Path) -> Heartbeat | None:
    """The heartbeat in ``path``, or None when there is none or it cannot be read."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        return Heartbeat(
            pid=int(data["pid"]),
            host=str(data["host"]),
            started=_instant(data["started"]) or datetime.fromtimestamp(0, UTC),
            fetch_every=float(data["fetch_every"]),
            last_pass=_instant(data.get("last_pass")),
            next_wake=_instant(data.get("next_wake")),
            last_error=data.get("last_error"),
            stopped=_instant(data.get("stopped")),
        )
    except (OSError, ValueError, TypeError, KeyError):
        return None


def _instant(text: object) -> datetime | None:
    if not isinstance(text, str):
        return None
    moment = datetime.fromisoformat(text)
    return moment if moment.tzinfo is not None else None


# -- the loop -------------------------------------------------------------------------------


class Watcher:
    """Runs a pass at each due instant and every ``fetch_every`` seconds until stopped."""

    def __init__(
        self,
        store: Store,
        client_factory: ClientFactory,
        *,
        fetch_every: float = FETCH_EVERY,
        options: TickOptions | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        on_report: Callable[[TickReport], None] | None = None,
        on_error: Callable[[str], None] | None = None,
        heartbeat: bool = True,
        sleep: Callable[[float], object] | None = None,
    ) -> None:
        """Prepare the loop; nothing runs before :meth:`run` (or :meth:`run_once`).

        ``sleep`` waits between passes (default: ``time.sleep`` in slices of at
        most ``STOP_CHECK`` seconds, so :meth:`stop` takes effect within one).
        """
        if fetch_every <= 0:
            raise ValueError("the fetch interval must be positive")
        self.store = store
        self.client_factory = client_factory
        self.fetch_every = timedelta(seconds=fetch_every)
        self.options = options or TickOptions()
        self.clock = clock
        self.on_report = on_report
        self.on_error = on_error
        self.recent = RecentRuns()  # passes of this loop wait for each other's runs to one agent
        # A plain flag, not a threading.Event: stop() runs in a signal handler, which must take no lock.
        self._stopping = False
        self._sleep = sleep if sleep is not None else _sliced_sleep
        # Holding claimed sends is not cut short by stop(): the claims are this pass's to deliver.
        self._hold: Callable[[float], object] = sleep if sleep is not None else time.sleep
        self._due_wake = False
        self._batch_until: datetime | None = None
        self.failures = 0
        self.passes = 0
        self.last_error: str | None = None
        self._lock = threading.Lock()
        self._heartbeat = heartbeat_path(store) if heartbeat else None
        self._root = store.backend.root if heartbeat_path(store) is not None else None
        self._seen_head: str | None = None
        self._beat = Heartbeat(pid=os.getpid(), host=socket.gethostname(), started=clock(), fetch_every=fetch_every)

    def stop(self) -> None:
        """Ask the loop to end after the pass under way (safe from a signal handler and from other threads)."""
        self._stopping = True

    @property
    def stopping(self) -> bool:
        """Whether :meth:`stop` was called."""
        return self._stopping

    def run(self) -> None:
        """Run passes until :meth:`stop`; no pass's error ends the loop."""
        write_heartbeat(self._heartbeat, self._beat)
        try:
            at: datetime | None = None
            while not self._stopping:
                wake = self.run_once(at)
                # For a due instant, start CLAIM_AHEAD early: the claim commit is pushed before it, each send at
                # its own instant. What falls due right after it (BATCH_GAP) is claimed in the same pass.
                at = self.batch_until
                if self.sleep_until(wake - CLAIM_AHEAD if at is not None else wake):
                    at = None  # woken by a commit in this clone: a pass now, to plan with what it wrote
        finally:
            self._beat = replace(self._beat, stopped=self.clock(), next_wake=None)
            write_heartbeat(self._heartbeat, self._beat)

    def sleep_until(self, wake: datetime) -> bool:
        """Wait until the clock reads ``wake``, :meth:`stop`, or a commit in this clone; True for the commit.

        The clock is re-read after each slice of the wait, as waits can end
        early. A commit by another process in the same clone (``switchboard
        send`` on this machine, an agent's skill) ends the wait at once, so
        what it scheduled is planned for without waiting for the next fetch.
        """
        while not self._stopping:
            seconds = (wake - self.clock()).total_seconds()
            if seconds <= 0:
                return False
            self._sleep(seconds)
            if self._root is not None and local_head(self._root) != self._seen_head:
                return True
        return False

    @property
    def batch_until(self) -> datetime | None:
        """The instant the next pass runs as when it is planned for a due instant (see :meth:`run_once`)."""
        return self._batch_until if self._due_wake else None

    def _batch_end(self, first: datetime) -> datetime:
        """The last due instant of the run of instants that begins at ``first``, each within BATCH_GAP of the last.

        At most CLAIM_AHEAD after ``first``: one pass claims them all and sends each at its instant, where
        a pass apiece would make each wait for the previous pass's record commit.
        """
        end = first
        for _ in range(BATCH_STEPS):
            try:
                following = next_due(self.store, end, on_secrets=self.options.on_secrets)
            except Exception:  # a look-ahead that fails only means a pass apiece; the next pass says why
                break
            if following is None or following - end > BATCH_GAP or following - first > CLAIM_AHEAD:
                break
            end = following
        return end

    def _hold_until(self, at: datetime) -> None:
        """Wait until ``at`` whatever happens: claims are made and must not go out early (nor be left)."""
        while (seconds := (at - self.clock()).total_seconds()) > 0:
            self._hold(seconds)

    def run_once(self, at: datetime | None = None) -> datetime:
        """One pass, then the plan: returns when the next pass should run (one pass at a time).

        With ``at`` later than the clock, the pass claims what is due at ``at``
        at once and holds each send until the clock reads its own due
        instant: a message is never sent before it is due, and its claim
        commit is not in the way at that instant. (The pass runs "at"
        ``at``, so its results say they were sent then: at most
        ``CLAIM_AHEAD`` after the first of them really was.)
        """
        with self._lock:
            now = self.clock()
            options = self.options
            if at is not None and at > now:
                now = at
                previous = options.before_send

                def hold(job: Job) -> None:
                    if previous is not None:
                        previous(job)
                    self._hold_until(job.scheduled_for)

                options = replace(options, before_send=hold)
            self._due_wake = False
            try:
                report = run_pass(self.store, now, self.client_factory, options, recent=self.recent)
                upcoming = next_due(self.store, now, on_secrets=self.options.on_secrets)
            except Exception as exc:  # a loop that dies stops all delivery: say it in one line and go on
                self.failures += 1
                self.last_error = type(exc).__name__
                wait = backoff(self.failures, self.fetch_every)
                # switchboard's own messages hold no key or text; a foreign exception's might: type only.
                why = f"{exc}" if isinstance(exc, SwitchboardError) else f"unexpected {type(exc).__name__}"
                line = f"pass failed ({why}) — retrying in {wait.total_seconds():g}s"
                log.error(line)
                if self.on_error is not None:
                    self.on_error(line)
                wake = self.clock() + wait
                self._beat = replace(self._beat, next_wake=wake, last_error=self.last_error)
                write_heartbeat(self._heartbeat, self._beat)
                return wake
            finally:
                self.passes += 1
                # What this pass committed (or found) is not news: only later commits end a wait early.
                self._seen_head = local_head(self._root) if self._root is not None else None
            self.failures = 0
            self.last_error = None
            retry = RETRY_SOON if left_due(report) else None
            wake = wake_at(now, upcoming, fetch_every=self.fetch_every, retry=retry)
            self._due_wake = upcoming is not None and wake == upcoming
            if self._due_wake and upcoming is not None:
                self._batch_until = self._batch_end(upcoming)
            self._beat = replace(self._beat, last_pass=self.clock(), next_wake=wake, last_error=None)
            write_heartbeat(self._heartbeat, self._beat)
        if self.on_report is not None:
            self.on_report(report)
        return wake
