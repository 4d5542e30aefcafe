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
