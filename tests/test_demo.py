"""`switchboard demo` runs the whole product offline, as a real process, and shows Letta run ids."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path


def test_the_demo_runs_and_prints_run_ids(tmp_path: Path) -> None:
    # No keys, no Letta, no repository: the demo brings its own (a temporary folder, a stand-in).
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "XDG_CONFIG_HOME": str(tmp_path / "config")}
    proc = subprocess.run(
        [sys.executable, "-m", "switchboard", "demo"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr
    run_ids = re.findall(r"\brun-[0-9a-f-]{36}\b", proc.stdout)
    assert len(set(run_ids)) == 3  # two one-time messages and one recurring fire, each with Letta's run id
    assert "STAND-IN server" in proc.stdout  # it says plainly that no real agent is involved
    assert "delivered" in proc.stdout and "switchboard: claim due schedules" in proc.stdout
    # The throwaway repository is gone afterwards.
    where = re.search(r"in (\S+switchboard-demo-\S+) \(deleted at the end\)", proc.stdout)
    assert where is not None and not Path(where.group(1)).exists()
