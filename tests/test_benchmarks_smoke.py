"""The benchmarks run (at a tiny size): `python benchmarks/run.py --smoke` does its work and reports it.

No timing is asserted here, or anywhere: timings belong to docs/benchmarks.md,
measured by `make bench`. This only keeps the benchmark scripts from rotting.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_the_benchmarks_run_at_a_small_size(tmp_path: Path) -> None:
    out = tmp_path / "results.json"
    done = subprocess.run(
        [sys.executable, "benchmarks/run.py", "--smoke", "--json", str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    results = json.loads(out.read_text())
    assert set(results) >= {"machine", "scan", "fanout", "idle", "growth", "import", "sendnow"}
    assert results["idle"]["small"]["importtime"]["unwanted"] == []  # no dateparser, FastAPI or PyGithub
    assert results["import"]["count"] == results["sizes"]["import_count"]
    assert results["sendnow"]["commits_per_send"] == [2] * results["sizes"]["send_runs"]  # claim, record
    headings = ("### 1. Scan", "### 2. Fan-out", "### 3. Idle tick", "### 4. Repository growth", "### 5. Import",
                "### 6. Send now")  # fmt: skip
    for heading in headings:
        assert heading in done.stdout


@pytest.mark.slow
def test_the_lateness_benchmark_runs_quick(tmp_path: Path) -> None:
    out = tmp_path / "lateness.json"
    done = subprocess.run(
        [sys.executable, "benchmarks/lateness.py", "--quick", "--json", str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    results = json.loads(out.read_text())
    month = results["month"]
    # The reference month: 10 one-time a day, 3 daily in Berlin (30 fires each: 02:30 on the day it happens
    # twice fires once), one every 5 minutes.
    assert (month["one_time"], month["berlin"], month["every_five"]) == (300, 90, 8640)
    assert results["github_quiet"]["count"] == results["github_busy"]["count"] == month["messages"]
    assert results["github_quiet"]["billed_minutes"] == 1440 and results["github_busy"]["billed_minutes"] < 1440
    # Letta's clock ran on the stand-in: every fire of its window reached Letta once (the benchmark checks), some
    # from Letta's worker and at least one stalled fire from the watchdog.
    letta = results["letta_clock"]
    assert letta["count"] == sum(letta["sent_by"].values()) > 0
    assert letta["sent_by"]["letta"] > 0 and letta["sent_by"]["watchdog"] > 0
    assert "| Letta Cloud's clock + the tick's watchdog (on the stand-in) |" in done.stdout
    watch = results["watch"]
    assert watch["count"] == watch["one_time"] + watch["minute_fires"]  # every message, none early (it checks)
    assert "| `switchboard watch` beside your server (measured) |" in done.stdout
