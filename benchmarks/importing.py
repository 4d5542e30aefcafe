"""Benchmark 5, import: many schedules in one commit with ``switchboard import``.

The file has the hosted service's list shape (``{"one_time": [...],
"recurring": [...]}``), half of each kind. Each run imports it into a fresh
repository through the real command in a subprocess; the progress lines the
command prints on stderr are timestamped as they arrive, so the report shows
how long checking, encrypting and committing took.
"""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

from benchmarks.common import ROOT, Series, Timing
from benchmarks.idle import env_for
from benchmarks.world import MESSAGE, QUIET_HOURS, T0, make_world
from switchboard.testing.letta import LettaStandIn


def export(count: int, seed: int = 11) -> dict[str, list[dict[str, Any]]]:
    """A hosted-service export of ``count`` schedules: half one-time (future), half recurring."""
    rng = random.Random(seed)
    created = (T0 - timedelta(days=3)).isoformat().replace("+00:00", "Z")
    one_time, recurring = [], []
    for i in range(count):
        common = {
            "id": str(uuid.UUID(int=rng.getrandbits(128), version=4)),
            "agent_id": f"agent-{uuid.UUID(int=rng.getrandbits(128), version=4)}",
            "message": MESSAGE,
            "role": "user",
            "created_at": created,
        }
        if i % 2:
            hour = QUIET_HOURS[i % len(QUIET_HOURS)]
            recurring.append({**common, "cron": f"{rng.randrange(60)} {hour} * * *", "timezone": "UTC"})
        else:
            at = T0 + timedelta(days=1, seconds=rng.randrange(60 * 86400))
            one_time.append({**common, "execute_at": at.isoformat().replace("+00:00", "Z")})
    return {"one_time": one_time, "recurring": recurring}


def run(top: Path, letta: LettaStandIn, *, count: int, runs: int, log: Callable[[str], None] = print) -> dict[str, Any]:
    """Import ``count`` schedules ``runs`` times, each into a fresh repository."""
    payload = top / f"export-{count}.json"
    payload.write_text(json.dumps(export(count)))
    series = Series("import")
    stages: list[dict[str, float]] = []
    for attempt in range(1, runs + 1):
        world = make_world(top / f"import-{attempt}", letta)
        env = {k: v for k, v in os.environ.items() if not k.startswith(("SWITCHBOARD_", "LETTA_", "GITHUB_"))}
        env.update(env_for(world, top / "home", letta.base_url))
        args = [sys.executable, "-m", "switchboard", "import", str(payload), "--now", T0.isoformat(), "--json"]
        marks: dict[str, float] = {}
        start = time.perf_counter()
        proc = subprocess.Popen(args, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        assert proc.stderr is not None and proc.stdout is not None
        for line in proc.stderr:
            words = line.split()
            if words and words[0] in ("checked", "encrypted", "committing"):
                marks[words[0]] = time.perf_counter() - start
        out = proc.stdout.read()
        proc.wait()
        wall = time.perf_counter() - start
        if proc.returncode != 0:
            raise RuntimeError(f"switchboard import failed: exit {proc.returncode}")
        done = json.loads(out)
        if done["one_time"] + done["recurring"] != count:
            raise RuntimeError(f"import added {done} of {count}")
        series.runs.append(Timing(wall, float("nan")))
        stages.append({name: round(t, 2) for name, t in marks.items()})
        log(f"  import: {count} schedules in {wall:.1f}s ({stages[-1]})")
    return {
        "count": count,
        "median_wall_s": round(series.wall, 2),
        "wall_s": [round(r.wall, 2) for r in series.runs],
        "stages_s": stages,
        "per_schedule_ms": round(1000 * series.wall / count, 3),
    }
