"""The commands the README and the docs show work as written.

Every ```sh block of README.md and of each page in docs/ that mentions
`switchboard` is run with bash, line by line under `set -euo pipefail`, in a
fresh clone with a bare remote and a Letta stand-in, after `switchboard init`
(as a newcomer would have run it: the key is in the config file, not in the
environment). A command that cannot run there goes in a ```text block. The
README's first code block must be exactly the two commands a newcomer needs
(`make demo`, `make test`); CI runs those. The README stays within 200 lines,
and every link between the pages points at a page that exists.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import LETTA_KEY, ROOT, Repo, git

from switchboard.envelope import written
from switchboard.testing.letta import LettaStandIn

README = ROOT / "README.md"
DOCS = ROOT / "docs"
FENCE = re.compile(r"^```(\w*)\n(.*?)^```", re.M | re.S)
#: Pages the project's other work adds; a link to one of them may come before the page.
LINKED_AHEAD = {"time.md", "delivery.md", "failures.md", "letta.md", "agents.md", "native-schedules.md",
                "self-hosting.md", "cost.md"}  # fmt: skip


def blocks(page: Path, lang: str | None = None) -> list[tuple[str, str]]:
    """(language, body) of every fenced block of ``page``, optionally of one language."""
    found = [(m.group(1), m.group(2)) for m in FENCE.finditer(page.read_text(encoding="utf-8"))]
    return [b for b in found if lang is None or b[0] == lang]


def runnable(page: Path) -> list[str]:
    """The ```sh blocks of ``page`` that run switchboard."""
    return [body for _lang, body in blocks(page, "sh") if re.search(r"^\s*switchboard\b|\bswitchboard ", body, re.M)]


PAGES = [README, *sorted(DOCS.glob("*.md"))]
RUNNABLE = [page for page in PAGES if runnable(page)]


def test_first_block_is_the_two_commands() -> None:
    _lang, body = blocks(README)[0]
    assert [line.strip() for line in body.strip().splitlines()] == ["make demo", "make test"]


def test_the_readme_is_short() -> None:
    assert len(README.read_text(encoding="utf-8").splitlines()) <= 200


def anchors(page: Path) -> set[str]:
    """The anchors GitHub makes of a page's headings."""
    text = FENCE.sub("", page.read_text(encoding="utf-8"))
    return {re.sub(r"[^\w\- ]", "", h.strip().lower()).replace(" ", "-") for h in re.findall(r"^#+ (.*)$", text, re.M)}


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_links_point_at_pages_and_headings_that_exist(page: Path) -> None:
    text = page.read_text(encoding="utf-8")
    for target, anchor in re.findall(r"\]\(([^)#\s]*?\.md)?(?:#([^)\s]*))?\)", text):
        if not target and not anchor:
            continue
        path = (page.parent / target).resolve() if target else page
        if path.name in LINKED_AHEAD and not path.exists():
            continue
        assert path.exists(), f"{page.name} links to {target}, which does not exist"
        assert not anchor or anchor in anchors(path), f"{page.name} links to {target}#{anchor}: no such heading"


def newcomer_env(repo: Repo, standin: LettaStandIn, tmp_path: Path, agent: str) -> dict[str, str]:
    """The environment of someone who has run `switchboard init` in their clone and set their Letta key."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SWITCHBOARD_", "LETTA_", "GITHUB_"))}
    env.update(
        LETTA_API_KEY=LETTA_KEY,
        LETTA_BASE_URL=standin.base_url,
        AGENT_ID=agent,
        XDG_CONFIG_HOME=str(tmp_path / "config"),
        HOME=str(tmp_path / "home"),
        PATH=f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}",
    )
    env.pop("COLUMNS", None)
    made = subprocess.run(["switchboard", "init"], cwd=repo.clone, env=env, capture_output=True, text=True)
    assert made.returncode == 0, made.stderr
    return env


@pytest.mark.parametrize("page", RUNNABLE, ids=lambda p: p.name)
def test_commands_run_as_written(page: Path, repo: Repo, standin: LettaStandIn, tmp_path: Path) -> None:
    agent = standin.add_agent()
    env = newcomer_env(repo, standin, tmp_path, agent)
    for script in runnable(page):
        proc = subprocess.run(
            ["bash", "-c", f"set -euo pipefail\n{script}"],
            cwd=repo.clone,
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert proc.returncode == 0, f"{page.name} block failed:\n{proc.stdout}\n{proc.stderr}"
    # What the blocks did is really there: each delivery with its run id, pushed.
    git(repo.clone, "pull", "--quiet")
    results = subprocess.run(
        ["switchboard", "results", "list", "--json", "--limit", "1000"],
        cwd=repo.clone,
        env=env,
        capture_output=True,
        text=True,
    )
    assert results.returncode == 0 and results.stdout, results.stderr
    runs = {r["run_id"] for r in json.loads(results.stdout) if r["status"] == "delivered"}
    delivered = [d for d in standin.deliveries if d.agent_id == agent]
    assert {d.run_id for d in delivered} <= runs
    if page == README:
        assert any(written(d.text) == "Due right now" for d in delivered)
        assert any("tick delivered" in subject for subject in repo.remote_log())
