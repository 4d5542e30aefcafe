"""Benchmark 2, the fan-out: many agents due at once, Letta slow to answer each.

``agents`` one-time messages, each to its own agent, are due at one pass; the
Letta stand-in takes ``latency`` seconds to answer every request. The same
pass runs one agent at a time (``parallel=1``) and with the default
parallelism; the ratio is of the medians. The time to claim (one commit) and
the time from the claim to the end (delivery, then the record commit) are
reported apart, and so are the TCP connections the stand-in accepted: one
client per (base URL, key) is shared by the delivering threads.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

from benchmarks.common import Series, measure
from benchmarks.world import STEP, T0, make_world
from switchboard.context import letta_client
from switchboard.letta_standin import LettaStandIn
from switchboard.tick import Job, TickOptions, run_pass


class _Connections:
    """Counts the TCP connections the stand-in accepts."""

    def __init__(self, letta: LettaStandIn) -> None:
        self.count = 0
        self._lock = threading.Lock()
        track = letta._track

        def counting(conn: Any, *, add: bool) -> None:
            if add:
                with self._lock:
                    self.count += 1
            track(conn, add=add)

        letta._track = counting  # type: ignore[method-assign]


def run(
    top: Path, *, agents: int, latency: float, runs: int, serial_runs: int, log: Callable[[str], None] = print
) -> dict[str, Any]:
    """Time a pass to ``agents`` agents one at a time and in parallel."""
    letta = LettaStandIn(latency=latency).start()
    connections = _Connections(letta)
    try:
        world = make_world(top / "fanout", letta)
        ids = world.agents(agents)
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
        letta.stop()
