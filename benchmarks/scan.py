"""Benchmark 1, the scan: a tick costs what is due, not what is stored.

Two worlds, identical but for how much is stored: ``small`` and ``large``
schedules (half recurring and not due, half one-time in future buckets), plus
``due`` schedules due at every pass (half one-time, half recurring, each to
its own agent). Each timed pass is a whole ``run_pass``: refresh, claim
commit, delivery to the Letta stand-in, record commit, all pushed to a bare
remote. Passes alternate between the two worlds so load from elsewhere on the
machine falls on both alike; the ratio is of the medians.

The read phase alone is timed too, with the index (what the pass does now)
and as a full scan (what it did before: every recurring file decrypted and
its cron evaluated, every one-time bucket walked).
"""

from __future__ import annotations

import json
import statistics
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from benchmarks.common import Series, cli, measure, timed
from benchmarks.growth import remote_size
from benchmarks.idle import env_for
from benchmarks.world import STEP, T0, World, make_world
from switchboard import index
from switchboard.context import letta_client
from switchboard.store import Store
from switchboard.testing.letta import LettaStandIn
from switchboard.tick import TickOptions, run_pass, select_due


def full_scan(store: Store, now: datetime) -> int:
    """What a pass read before the index: every recurring file, every one-time bucket walked; how many are due."""
    one_time = [(p, store.load_one_time(p)) for p in store.one_time_files(through=now)]
    recurring = [(p, store.load_recurring(p)) for p in store.recurring_files()]
    return len(select_due(one_time, recurring, now))


def indexed_scan(store: Store, now: datetime) -> int:
    """What a pass reads now; how many are due."""
    one_time = [(p, store.load_one_time(p)) for p in index.due_one_time_files(store, now)]
    return len(select_due(one_time, index.due_recurring(store, now), now))


class ScanWorld:
    """One world of the comparison and the passes run in it."""

    def __init__(self, top: Path, letta: LettaStandIn, stored: int, due: int, log: Callable[[str], None]) -> None:
        """Build the world: ``stored`` not-due schedules and ``due`` due ones, in one commit."""
        self.stored, self.due = stored, due
        self.world: World = make_world(top, letta)
        self.agents = self.world.agents(due)
        half = due // 2
        self.one_time_agents, recurring_agents = self.agents[:half], self.agents[half:]
        w = self.world
        schedules = [
            *w.quiet_recurring(stored // 2, T0),
            *w.future_one_time(stored - stored // 2, T0),
            *w.due_recurring(recurring_agents, T0),
        ]
        self.seed_s, _ = timed(lambda: w.seed(schedules, f"bench: {len(schedules)} schedules"))
        log(f"  scan: built {stored} + {due} schedules in {self.seed_s:.1f}s")
        self.series = Series(f"pass with {stored} stored")
        self.commands = Series(f"switchboard tick with {stored} stored")
        self.passes = 0
        self.last_now = T0

    def tick(self, now: datetime, timed_series: Series | None) -> None:
        """Seed this pass's due one-time schedules (untimed), then run one pass (timed when asked)."""
        self.world.seed(self.world.due_one_time(self.one_time_agents, now), "bench: due one-time")
        if timed_series is None:
            report = run_pass(self.world.store, now, letta_client, TickOptions())
        else:
            with measure(timed_series):
                report = run_pass(self.world.store, now, letta_client, TickOptions())
        delivered = report.count("delivered")
        if delivered != self.due:
            raise RuntimeError(f"a pass at {now.isoformat()} delivered {delivered} of {self.due}: the benchmark is off")
        self.passes += 1
        self.last_now = now

    def command(self, now: datetime, home: Path) -> None:
        """Seed this pass's due one-time schedules (untimed), then time ``switchboard tick`` as a process."""
        self.world.seed(self.world.due_one_time(self.one_time_agents, now), "bench: due one-time")
        env = env_for(self.world, home, self.world.letta.base_url)
        with measure(self.commands):
            done = cli("tick", "--now", now.isoformat(), "--json", env=env)
        if done.returncode != 0 or json.loads(done.stdout)["delivered"] != self.due:
            raise RuntimeError(f"switchboard tick at {now.isoformat()} did not deliver all: {done.stderr[-300:]}")
        self.passes += 1
        self.last_now = now

    def remote_bytes(self) -> dict[str, int]:
        """Bytes of the bare remote's objects, as pushed and packed (see growth.py)."""
        return remote_size(self.world)


def run(
    top: Path,
    letta: LettaStandIn,
    *,
    small: int,
    large: int,
    due: int,
    runs: int,
    before: bool,
    log: Callable[[str], None] = print,
) -> tuple[dict[str, Any], dict[str, ScanWorld]]:
    """Run the comparison; the results and the two worlds (the idle benchmark reuses them)."""
    worlds = {
        "small": ScanWorld(top / f"scan-{small}", letta, small, due, log),
        "large": ScanWorld(top / f"scan-{large}", letta, large, due, log),
    }
    # A first pass in each, untimed: git's first commit after writing thousands of files re-reads them.
    for w in worlds.values():
        w.tick(T0, None)
    grown = {name: w.remote_bytes() for name, w in worlds.items()}
    for k in range(1, runs + 1):
        order = list(worlds.values()) if k % 2 else list(reversed(worlds.values()))
        for w in order:
            w.tick(T0 + k * STEP, w.series)
        log(f"  scan: pass {k}/{runs}: " + ", ".join(f"{w.stored} stored {w.series.runs[-1].wall:.2f}s" for w in order))
    grown = {
        name: {kind: size - grown[name][kind] for kind, size in w.remote_bytes().items()} for name, w in worlds.items()
    }
    # The same, as the scheduled workflow runs it: the `switchboard tick` command, a process per tick.
    for k in range(runs + 1, 2 * runs + 1):
        order = list(worlds.values()) if k % 2 else list(reversed(worlds.values()))
        for w in order:
            w.command(T0 + k * STEP, top / "home")
        log(
            f"  scan: switchboard tick {k - runs}/{runs}: "
            + ", ".join(f"{w.stored} stored {w.commands.runs[-1].wall:.2f}s" for w in order)
        )

    # The read phase alone, with the index and as the full scan it replaces.
    reads: dict[str, Any] = {}
    for name, w in worlds.items():
        at = w.last_now + timedelta(minutes=2)  # nothing due: what every idle pass reads
        w.world.store.backend.refresh()
        series = Series(f"index read, {w.stored} stored")
        for _ in range(max(3, runs)):
            with measure(series):
                indexed_scan(w.world.store, at)
        reads[name] = {"indexed": series.as_json()}
        if before:
            t0 = time.perf_counter()
            full_scan(w.world.store, at)
            full = time.perf_counter() - t0
            reads[name]["full_scan_s"] = round(full, 3)
            reads[name]["full_scan_ms_per_schedule"] = round(1000 * full / max(1, w.stored), 4)
        log(
            f"  scan: read phase with {w.stored} stored: index {series.wall * 1000:.0f} ms"
            + (f", full scan {reads[name]['full_scan_s']:.2f}s" if before else "")
        )

    small_w, large_w = worlds["small"], worlds["large"]
    deliveries = {name: w.due * runs for name, w in worlds.items()}
    result = {
        "stored": {"small": small, "large": large},
        "due_per_pass": due,
        "runs": runs,
        "seed_s": {name: round(w.seed_s, 2) for name, w in worlds.items()},
        "tick": {name: w.series.as_json() for name, w in worlds.items()},
        "ratio_wall": round(large_w.series.wall / small_w.series.wall, 3),
        "ratio_cpu": round(large_w.series.cpu / small_w.series.cpu, 3),
        "command": {name: w.commands.as_json() for name, w in worlds.items()},
        "command_ratio_wall": round(large_w.commands.wall / small_w.commands.wall, 3),
        "ratio_per_run": [
            round(b.wall / a.wall, 3) for a, b in zip(small_w.series.runs, large_w.series.runs, strict=True)
        ],
        "read_phase": reads,
        "remote_bytes_per_delivery": {
            name: {kind: round(size / deliveries[name]) for kind, size in grown[name].items()} for name in worlds
        },
    }
    result["ratio_median_of_pairs"] = round(statistics.median(result["ratio_per_run"]), 3)
    return result, worlds
