"""The tick loop inside ``switchboard serve --tick-every S``, for single-box hosting.

One background thread runs ``tick.run_pass`` with the real clock (or the
app's injected one): the first pass at once, then at the next instant
something falls due, and at the latest one interval (``every`` seconds)
after each pass *ended*, so passes never overlap and a message goes out at
its due instant (see ``watch.wake_at``; the interval bounds how long a
schedule pushed to the remote from elsewhere waits to be seen). It keeps the
same heartbeat in the clone's ``.git`` as ``switchboard watch``, so
``switchboard doctor`` sees it as this clone's watcher. A pass that fails
is logged (its type and switchboard's own message, which never holds a key or
message text) and the next interval simply tries again.
"""

from __future__ import annotations

import contextlib
import logging
import os
import socket
import threading
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

from switchboard.exceptions import SwitchboardError
from switchboard.store import Store
from switchboard.tick import ClientFactory, TickOptions, next_due, run_pass
from switchboard.watch import RETRY_SOON, Heartbeat, heartbeat_path, left_due, wake_at, write_heartbeat

log = logging.getLogger("switchboard.ticker")


class Ticker:
    """Runs a tick pass every ``every`` seconds in a daemon thread until stopped."""

    def __init__(
        self,
        store: Store,
        every: float,
        client_factory: ClientFactory,
        *,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        options: TickOptions | None = None,
    ) -> None:
        """Prepare the loop; nothing runs before :meth:`start`."""
        if every <= 0:
            raise ValueError("the tick interval must be positive")
        self.store = store
        self.every = every
        self.client_factory = client_factory
        self.clock = clock
        self.options = options or TickOptions()
        self.passes = 0
        self.failures = 0
        self.delivered = 0
        self.last_started: datetime | None = None
        self.last_finished: datetime | None = None
        self.last_error: str | None = None
        self.next_wake: datetime | None = None
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        self._running = threading.Lock()
        # The same heartbeat as `switchboard watch`: doctor sees this loop as the clone's watcher.
        self._heartbeat = heartbeat_path(store)
        self._beat = Heartbeat(pid=os.getpid(), host=socket.gethostname(), started=clock(), fetch_every=every)

    def start(self) -> None:
        """Start the thread (once)."""
        if self._thread is not None:
            return
        self._thread = threading.Thread(target=self._loop, name="switchboard-ticker", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 30.0) -> None:
        """Ask the loop to end and wait for a pass under way to finish (up to ``timeout``)."""
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)
            write_heartbeat(self._heartbeat, replace(self._beat, stopped=self.clock(), next_wake=None))

    def poke(self) -> None:
        """Run the next pass now instead of at the end of the interval."""
        self._wake.set()

    def run_once(self) -> None:
        """One pass, now, in the caller's thread (one at a time, shared with the loop)."""
        with self._running:
            self._pass()

    def _loop(self) -> None:
        while not self._stop.is_set():
            # Cleared before the pass: a poke during it is not lost, the next pass follows at once.
            self._wake.clear()
            self.run_once()
            self._wake.wait(self._seconds_to_wake())

    def _seconds_to_wake(self) -> float:
        """Until the planned next pass: never more than the interval, never less than nothing."""
        if self.next_wake is None:
            return self.every
        return min(self.every, max(0.0, (self.next_wake - self.clock()).total_seconds()))

    def _pass(self) -> None:
        started = self.clock()
        self.last_started = started
        self.next_wake = None
        try:
            report = run_pass(self.store, started, self.client_factory, self.options)
            # Under the store's lock when it has one: the API's routes rewrite the same working tree.
            with getattr(self.store, "lock", contextlib.nullcontext()):
                upcoming = next_due(self.store, started, on_secrets=self.options.on_secrets)
        except SwitchboardError as exc:
            self.failures += 1
            # /health is public: it shows the kind of failure; the log has switchboard's (safe) message.
            self.last_error = type(exc).__name__
            log.error("tick pass failed (%s: %s) — retrying in %gs", type(exc).__name__, exc, self.every)
        except Exception as exc:  # a thread that dies stops all delivery: log and go on
            self.failures += 1
            self.last_error = type(exc).__name__
            # Only the type: a foreign exception's text may quote anything, a message included.
            log.error("tick pass failed unexpectedly (%s) — retrying in %gs", type(exc).__name__, self.every)
        else:
            self.last_error = None
            retry = RETRY_SOON if left_due(report) else None
            self.next_wake = wake_at(started, upcoming, fetch_every=timedelta(seconds=self.every), retry=retry)
            delivered = report.count("delivered")
            self.delivered += delivered
            if report.outcomes:
                log.info(
                    "tick: delivered %d, failed %d, put back %d, deferred %d",
                    delivered,
                    report.permanent_failures,
                    report.count("requeued"),
                    report.count("deferred"),
                )
        finally:
            self.passes += 1
            self.last_finished = self.clock()
            if self.last_error is None:
                self._beat = replace(self._beat, last_pass=self.last_finished)
            self._beat = replace(self._beat, next_wake=self.next_wake, last_error=self.last_error)
            write_heartbeat(self._heartbeat, self._beat)

    def status(self) -> dict[str, Any]:
        """What the loop has done, for ``GET /health``."""
        return {
            "every_s": self.every,
            "passes": self.passes,
            "failures": self.failures,
            "running": self._thread is not None and self._thread.is_alive(),
            "last_started": self.last_started.isoformat() if self.last_started else None,
            "last_finished": self.last_finished.isoformat() if self.last_finished else None,
            "next_wake": self.next_wake.isoformat() if self.next_wake else None,
            "last_error": self.last_error,
            "delivered": self.delivered,
        }
