"""Benchmark 4, repository growth: bytes added per schedule and per delivery, and what retention bounds.

Measured on the bare remote (what GitHub stores), two ways: *as pushed*
(every object git received, small pushes unpacked into loose zlib objects, as a
plain git server keeps them) and *packed* (after ``git gc`` on a copy, as a
server that repacks keeps them: unchanged parts of big trees become deltas;
encrypted files never do). Schedules are added one commit each, as ``switchboard
send`` and ``switchboard recurring add`` do. Deliveries are whole passes, each
to ``due`` agents (half one-time, half recurring), with their due schedules
stored beforehand so only the passes are counted.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

from benchmarks.world import API_KEY, MESSAGE, STEP, T0, World, git, make_world, tree_size
from switchboard import service
from switchboard.context import letta_client
from switchboard.store import RESULTS
from switchboard.testing.letta import LettaStandIn
from switchboard.tick import TickOptions, prune, run_pass


def remote_size(world: World) -> dict[str, int]:
    """Bytes of the remote's objects as pushed, and after ``git gc`` on a copy."""
    loose = tree_size(world.remote / "objects")
    with tempfile.TemporaryDirectory(prefix="growth-gc-") as scratch:
        copy = Path(scratch) / "remote.git"
        shutil.copytree(world.remote, copy)
        git(copy, "gc", "--quiet", "--prune=now")
        packed = tree_size(copy / "objects")
    return {"as_pushed": loose, "packed": packed}


def _delta(after: dict[str, int], before: dict[str, int], count: int) -> dict[str, int]:
    return {kind: round((after[kind] - before[kind]) / max(1, count)) for kind in after}


def run(
    top: Path,
    letta: LettaStandIn,
    *,
    stored: int,
    added: int,
    passes: int,
    due: int,
    log: Callable[[str], None] = print,
) -> dict[str, Any]:
    """Measure growth in a world with ``stored`` schedules already there."""
    world = make_world(top / "growth", letta)
    agents = world.agents(due)
    half = due // 2
    world.seed([*world.quiet_recurring(stored // 2, T0), *world.future_one_time(stored - stored // 2, T0)])
    store = world.store
    common = {"api_key": API_KEY, "base_url": letta.base_url, "message": MESSAGE, "now": T0}

    start = remote_size(world)
    for i in range(added):
        service.add_one_time(store, agent_id=agents[i % due], execute_at=T0 + timedelta(days=30, minutes=i), **common)
    after_one_time = remote_size(world)
    for i in range(added):
        service.add_recurring(store, agent_id=agents[i % due], cron=f"{i % 60} 20 * * *", timezone="UTC", **common)
    after_recurring = remote_size(world)
    log(f"  growth: added {added} one-time and {added} recurring schedules, one commit each")

    # Every pass's due schedules are stored first, so the passes alone are counted below.
    due_one_time = [s for k in range(1, passes + 1) for s in world.due_one_time(agents[:half], T0 + k * STEP)]
    world.seed([*due_one_time, *world.due_recurring(agents[half:], T0)], "bench: due schedules for every pass")
    before_passes = remote_size(world)
    for k in range(1, passes + 1):
        report = run_pass(store, T0 + k * STEP, letta_client, TickOptions())
        if report.count("delivered") != due:
            raise RuntimeError(f"pass {k} delivered {report.count('delivered')} of {due}")
    after_passes = remote_size(world)
    deliveries = passes * due
    log(f"  growth: {passes} passes delivered {deliveries} messages")

    results_tree = tree_size(world.clone / RESULTS)
    result_files = len(store.files(RESULTS))
    pruned = prune(store, T0 + timedelta(days=91), TickOptions())
    return {
        "stored": stored,
        "per_one_time_schedule": _delta(after_one_time, start, added),
        "per_recurring_schedule": _delta(after_recurring, after_one_time, added),
        "per_delivery": _delta(after_passes, before_passes, deliveries),
        "passes": passes,
        "deliveries": deliveries,
        "commits_per_pass": 2,
        "result_file_bytes": round(results_tree / max(1, result_files)),
        "retention_days": TickOptions().retention.days,
        "results_pruned_after_retention": pruned,
        "results_left_after_retention": len(store.files(RESULTS)),
    }
