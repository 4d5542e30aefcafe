"""The README's commands work as written.

Every ```sh block that mentions `switchboard` is run with bash, line by line
under `set -euo pipefail`, in a fresh clone with a bare remote and a Letta
stand-in, as a newcomer would run it. The first code block must be exactly
the two commands a newcomer needs (`make demo`, `make test`); CI runs those.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

from conftest import LETTA_KEY, ROOT, Repo, git

from switchboard.envelope import written
from switchboard.testing.letta import LettaStandIn

README = ROOT / "README.md"
FENCE = re.compile(r"^```(\w*)\n(.*?)^```", re.M | re.S)


def blocks(lang: str | None = None) -> list[tuple[str, str]]:
    """(language, body) of every fenced block, optionally of one language."""
    found = [(m.group(1), m.group(2)) for m in FENCE.finditer(README.read_text(encoding="utf-8"))]
    return [b for b in found if lang is None or b[0] == lang]


def test_first_block_is_the_two_commands() -> None:
    _lang, body = blocks()[0]
    assert [line.strip() for line in body.strip().splitlines()] == ["make demo", "make test"]


def test_everyday_commands_run_as_written(repo: Repo, key: str, standin: LettaStandIn, tmp_path: Path) -> None:
    scripts = [body for lang, body in blocks("sh") if "switchboard" in body]
    assert scripts, "the README has no runnable switchboard block"
    agent = standin.add_agent()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SWITCHBOARD_", "LETTA_", "GITHUB_"))}
    env.update(
        SWITCHBOARD_ENCRYPTION_KEY=key,
        LETTA_API_KEY=LETTA_KEY,
        LETTA_BASE_URL=standin.base_url,
        AGENT_ID=agent,
        XDG_CONFIG_HOME=str(tmp_path / "config"),
        PATH=f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}",
    )
    for script in scripts:
        proc = subprocess.run(
            # The block may rotate keys: keep the list it ends with for the checks below.
            ["bash", "-c", f'set -euo pipefail\n{script}\nprintf %s "$SWITCHBOARD_ENCRYPTION_KEY" > keys.txt'],
            cwd=repo.clone,
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert proc.returncode == 0, f"README block failed:\n{proc.stdout}\n{proc.stderr}"
        env["SWITCHBOARD_ENCRYPTION_KEY"] = (repo.clone / "keys.txt").read_text()
        (repo.clone / "keys.txt").unlink()
    # What the block did is really there: a delivery with a run id, pushed.
    delivered = [d for d in standin.deliveries if d.agent_id == agent]
    assert any(written(d.text) == "Due right now" for d in delivered)
    git(repo.clone, "pull", "--quiet")
    results = subprocess.run(
        ["switchboard", "results", "list", "--json"], cwd=repo.clone, env=env, capture_output=True, text=True
    )
    assert results.returncode == 0 and results.stdout, results.stderr
    runs = {r["run_id"] for r in json.loads(results.stdout) if r["status"] == "delivered"}
    assert {d.run_id for d in delivered} <= runs
    assert any("tick delivered" in subject for subject in repo.remote_log())
