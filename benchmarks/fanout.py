"""Benchmark 2, the fan-out: many agents due at once, Letta slow to answer each.

``agents`` one-time messages, each to its own agent, are due at one pass; the
Letta stand-in takes ``latency`` seconds to answer every request. It runs in
a process of its own, as a Letta server would (in this process it would take
turns with the pass for Python's interpreter lock and slow both). The same pass
runs one agent at a time (``parallel=1``) and with the default parallelism;
the ratio is of the medians. The claim (one commit) and what follows it
(delivery, then the record commit) are timed apart, and the TCP connections
the pass opened are counted: the delivering threads share one client per
(base URL, key), so they reuse a few kept-alive connections.
"""

from __future__ import annotations

import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import httpcore._backends.sync as httpcore_sync

from benchmarks.common import ROOT, Series, measure
from benchmarks.world import STEP, T0, make_world
from switchboard.context import letta_client
from switchboard.tick import Job, TickOptions, run_pass
from switchboard.tick.following import follow


@dataclass
class ExternalStandIn:
    """The Letta stand-in in its own process (``python -m switchboard.testing.letta``)."""

    base_url: str
    agents: list[str]

    def add_agent(self) -> str:
        """Agents are given when it starts."""
        raise RuntimeError("the external stand-in knows only the agents it was started with")


@contextmanager
def external_standin(agents: list[str], latency: float) -> Iterator[ExternalStandIn]:
    """Start the stand-in process, and stop it (that process only) afterwards."""
    args = [sys.executable, "-m", "switchboard.testing.letta", "--port", "0", "--latency", str(latency)]
    args += ["--run-duration", "0"]
    for agent in agents:
        args += ["--agent", agent]
    proc = subprocess.Popen(args, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        assert proc.stdout is not None
        first = proc.stdout.readline()
        if " at http://" not in first:
            raise RuntimeError(f"the Letta stand-in did not start: {first!r}")
        yield ExternalStandIn(first.rsplit(" at ", 1)[1].strip(), agents)
    finally:
        proc.terminate()
        proc.wait(timeout=10)


class _Connections:
    """Counts the TCP connections httpx opens in this process (httpcore's synchronous backend)."""

    def __init__(self) -> None:
        self.count = 0
        self._lock = threading.Lock()
        connect = httpcore_sync.SyncBackend.connect_tcp

        def counting(backend: Any, *args: Any, **kwargs: Any) -> Any:
            with self._lock:
                self.count += 1
            return connect(backend, *args, **kwargs)

        httpcore_sync.SyncBackend.connect_tcp = counting  # type: ignore[method-assign]
        self._restore = lambda: setattr(httpcore_sync.SyncBackend, "connect_tcp", connect)

    def close(self) -> None:
        self._restore()


def run(
    top: Path, *, agents: int, latency: float, runs: int, serial_runs: int, log: Callable[[str], None] = print
) -> dict[str, Any]:
    """Time a pass to ``agents`` agents one at a time and in parallel."""
    ids = [f"agent-{uuid.uuid4()}" for _ in range(agents)]
    connections = _Connections()
    try:
        with external_standin(ids, latency) as letta:
            world = make_world(top / "fanout", letta)
            default = TickOptions()
            plans = [("serial", replace(default, parallel=1), serial_runs), ("parallel", default, runs)]
            out: dict[str, Any] = {"agents": agents, "latency_s": latency, "parallelism": default.parallel}
            step = 0
            for name, options, count in plans:
                series = Series(name)
                claim_s: list[float] = []
                after_claim_s: list[float] = []
                opened: list[int] = []
                for _ in range(count):
                    step += 1
                    now = T0 + step * STEP
                    # Untimed: the previous pass's runs are followed to their end first, so every timed
                    # pass sends the same and follows nothing (a pass follows at most follow_limit).
                    while follow(world.store, now, letta_client, options):
                        pass
                    world.seed(world.due_one_time(ids, now), "bench: due one-time")
                    marks: dict[str, float] = {}

                    def claimed(jobs: list[Job], marks: dict[str, float] = marks) -> None:
                        marks["claimed"] = time.perf_counter()

                    before = connections.count
                    start = time.perf_counter()
                    with measure(series):
                        report = run_pass(world.store, now, letta_client, replace(options, on_claimed=claimed))
                    end = time.perf_counter()
                    if report.count("delivered") != agents:
                        raise RuntimeError(f"the {name} pass delivered {report.count('delivered')} of {agents}")
                    claim_s.append(marks["claimed"] - start)
                    after_claim_s.append(end - marks["claimed"])
                    opened.append(connections.count - before)
                    log(f"  fan-out: {name} pass {len(series.runs)}/{count}: {series.runs[-1].wall:.2f}s")
                out[name] = {
                    **series.as_json(),
                    "claim_s": [round(x, 3) for x in claim_s],
                    "deliver_and_record_s": [round(x, 3) for x in after_claim_s],
                    "connections": opened,
                }
                out[f"_{name}"] = series
            serial, parallel = out.pop("_serial"), out.pop("_parallel")
            out["ratio_wall"] = round(parallel.wall / serial.wall, 4)
            out["floor_one_at_a_time_s"] = round(agents * latency, 2)
            return out
    finally:
        connections.close()
