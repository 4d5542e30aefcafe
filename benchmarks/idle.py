"""Benchmark 3, the idle tick: ``switchboard tick`` as a process, with nothing due.

What a scheduled workflow run pays most of the time: start Python, import
switchboard, list the (empty) folder of unfinished runs, read the index, find
nothing due, commit nothing. One untimed tick first follows the runs the
world's last passes sent to their end, and its wall time is kept too. Timed as a
real subprocess (median of several), then once more under ``python -X
importtime`` to see what the imports cost and to check that dateparser,
FastAPI and PyGithub stay unimported.
"""

from __future__ import annotations

import json
import re
import time
from collections import defaultdict
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

from benchmarks.common import Series, cli, measure
from benchmarks.world import API_KEY, World, git

#: Modules an idle tick must not import (slow, or optional extras).
UNWANTED = ("dateparser", "fastapi", "github", "uvicorn")

_LINE = re.compile(r"^import time:\s+(\d+)\s+\|\s+(\d+)\s+\|( *)(\S+)\s*$")


def env_for(world: World, home: Path, base_url: str) -> dict[str, str]:
    """The environment a tick in ``world`` runs with (a fresh HOME: no personal config read)."""
    return {
        "SWITCHBOARD_REPO": str(world.clone),
        "SWITCHBOARD_ENCRYPTION_KEY": ",".join(world.codec.keys),
        "LETTA_API_KEY": API_KEY,
        "LETTA_BASE_URL": base_url,
        "XDG_CONFIG_HOME": str(home / "config"),
        "HOME": str(home),
    }


def parse_importtime(stderr: str) -> dict[str, Any]:
    """Totals of ``-X importtime``: the whole, the top-level imports by cumulative time, and each package."""
    top_level: list[tuple[int, str]] = []
    by_package: dict[str, int] = defaultdict(int)
    modules: list[str] = []
    for line in stderr.splitlines():
        found = _LINE.match(line)
        if not found:
            continue
        own, cumulative, indent, name = int(found[1]), int(found[2]), found[3], found[4]
        modules.append(name)
        by_package[name.split(".")[0]] += own
        if len(indent) <= 1:  # a top-level import (python prints one space before it)
            top_level.append((cumulative, name))
    top_level.sort(reverse=True)
    packages = sorted(by_package.items(), key=lambda kv: -kv[1])
    return {
        "total_ms": round(sum(c for c, _ in top_level) / 1000, 1),
        "modules": len(modules),
        "top_level_ms": [[name, round(c / 1000, 1)] for c, name in top_level[:12]],
        "packages_self_ms": [[name, round(us / 1000, 1)] for name, us in packages[:12]],
        "unwanted": sorted({m for m in modules if m.split(".")[0] in UNWANTED}),
    }


def run(
    world: World, now: datetime, home: Path, base_url: str, *, runs: int, log: Callable[[str], None] = print
) -> dict[str, Any]:
    """Time ``switchboard tick --now NOW --json`` in ``world`` (nothing may be due at ``now``)."""
    env = env_for(world, home, base_url)
    args = ("tick", "--now", now.isoformat(), "--json")
    # Untimed: the runs the world's last passes sent are followed to their end (one commit), so the
    # timed ticks below have nothing due and nothing to follow, as most scheduled runs.
    start = time.perf_counter()
    settled = cli(*args, env=env)
    settle_s = time.perf_counter() - start
    if settled.returncode != 0:
        raise RuntimeError(f"the settling tick failed: {settled.stderr[-500:]}")
    followed = len(json.loads(settled.stdout).get("followed", []))
    head = git(world.clone, "rev-parse", "HEAD")
    series = Series("idle tick")
    for _ in range(runs):
        with measure(series):
            done = cli(*args, env=env)
        if done.returncode != 0 or '"delivered": 0' not in done.stdout:
            raise RuntimeError(f"the idle tick failed or delivered something: {done.stderr[-500:]}")
    start = time.perf_counter()
    traced = cli(*args, env=env, python_flags=("-X", "importtime"))
    traced_s = time.perf_counter() - start
    if traced.returncode != 0:
        raise RuntimeError(f"the idle tick failed under -X importtime: {traced.stderr[-500:]}")
    if git(world.clone, "rev-parse", "HEAD") != head:
        raise RuntimeError("the idle tick moved the branch")
    imports = parse_importtime(traced.stderr)
    log(
        f"  idle: {series.wall:.2f}s median wall, imports {imports['total_ms']:.0f} ms, unwanted {imports['unwanted']}"
        f" (before: a tick following {followed} runs to their end, {settle_s:.2f}s)"
    )
    return {
        **series.as_json(),
        "importtime": imports,
        "importtime_run_wall_s": round(traced_s, 3),
        "follow_tick": {"runs": followed, "wall_s": round(settle_s, 3)},
    }
