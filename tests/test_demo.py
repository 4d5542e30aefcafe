"""`switchboard demo` runs the whole product offline, as a real process, and shows Letta run ids."""

from __future__ import annotations

import json
import re
import shlex
import signal
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


def test_demo_keep_runs_until_ctrl_c_and_other_commands_use_it(tmp_path: Path) -> None:
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "XDG_CONFIG_HOME": str(tmp_path / "config")}
    demo = subprocess.Popen(
        [sys.executable, "-m", "switchboard", "demo", "--keep"],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert demo.stdout is not None
        exports: dict[str, str] = {}
        for line in demo.stdout:
            if found := re.match(r"\s+export (\w+)=(\S+)$", line):
                exports[found.group(1)] = shlex.split(found.group(2))[0]
            if line.startswith("Press Ctrl-C"):
                break
        assert set(exports) == {
            "SWITCHBOARD_REPO", "SWITCHBOARD_ENCRYPTION_KEY", "LETTA_BASE_URL", "LETTA_API_KEY", "AGENT_ID"
        }  # fmt: skip
        # The export lines are all another shell needs: a message sent there reaches the kept stand-in.
        other = env | exports
        sent = subprocess.run(
            [sys.executable, "-m", "switchboard", "send", "--agent-id", exports["AGENT_ID"], "-m", "Hi", "--json"],
            cwd=tmp_path, env=other, capture_output=True, text=True, timeout=60,
        )  # fmt: skip
        assert sent.returncode == 0, sent.stderr
        assert re.fullmatch(r"run-[0-9a-f-]{36}", json.loads(sent.stdout)["result"]["run_id"])
        listed = subprocess.run(
            [sys.executable, "-m", "switchboard", "results", "list", "--json"],
            cwd=tmp_path, env=other, capture_output=True, text=True, timeout=60,
        )  # fmt: skip
        assert len(json.loads(listed.stdout)) == 4  # the demo's three and this one
        assert Path(exports["SWITCHBOARD_REPO"]).is_dir()
    finally:
        demo.send_signal(signal.SIGINT)
        rest, errors = demo.communicate(timeout=60)
    assert demo.returncode == 0, errors
    assert "Traceback" not in errors
    assert rest.strip().endswith("Stopped; the demo repository is deleted.")
    assert not Path(exports["SWITCHBOARD_REPO"]).exists()
