"""Benchmark 6, send now: ``switchboard send`` with no time, as a process, until it prints Letta's run id.

What a user waits for when they send a message now: start Python, claim the
new schedule in one commit and push it, POST it to Letta, record the result
in a second commit and push that, print the run id. Measured in a local clone
with a bare remote and the Letta stand-in, beside ``send --no-deliver`` (the
commit alone, which is all a send did before it delivered from where it runs;
delivery then waited for a dispatched workflow, about a minute). The moment
the stand-in received the message is noted too: the run id exists from then.

The App Server path (``run_app_server``) times the same command against a
real ``letta server`` (scripts/letta_app_server.py) until it prints the
proof: the turn that ended, its conversation and otid. That includes the
agent's whole turn with the fake model, which the Letta API path does not
wait for (its run goes on after the POST is answered).
"""

from __future__ import annotations

import json
import statistics
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from benchmarks.common import Series, cli, measure
from benchmarks.idle import env_for
from benchmarks.world import Letta, git, make_world


def run(top: Path, letta: Letta, *, stored: int, runs: int, log: Callable[[str], None] = print) -> dict[str, Any]:
    """Time ``send --json`` (delivered from the process) and ``send --no-deliver --json``, alternately."""
    world = make_world(top / "sendnow", letta)
    now = datetime.now(UTC)
    world.seed([*world.quiet_recurring(stored // 2, now), *world.future_one_time(stored - stored // 2, now)])
    [agent] = world.agents(1)
    env = env_for(world, top / "home-sendnow", letta.base_url)
    sent, stored_only = Series("send now"), Series("send --no-deliver")
    received: list[float] = []
    commits: list[int] = []
    for index in range(runs):
        before = int(git(world.clone, "rev-list", "--count", "HEAD"))
        started = datetime.now(UTC)
        with measure(sent):
            done = cli("send", "--agent-id", agent, "--message", f"now {index}", "--json", env=env)
        result = json.loads(done.stdout or "{}").get("result") if done.returncode == 0 else None
        if not result or result.get("status") != "delivered" or not result.get("run_id"):
            raise RuntimeError(f"send did not deliver from the process: {done.stderr[-500:]}")
        commits.append(int(git(world.clone, "rev-list", "--count", "HEAD")) - before)
        arrival = next(d for d in _deliveries(letta) if d.run_id == result["run_id"])
        received.append((arrival.received_at - started).total_seconds())
        with measure(stored_only):
            done = cli("send", "--agent-id", agent, "--message", f"later {index}", "--no-deliver", "--json", env=env)
        if done.returncode != 0:
            raise RuntimeError(f"send --no-deliver failed: {done.stderr[-500:]}")
    letta_had = statistics.median(received)
    log(
        f"  send now: {sent.wall:.2f}s median wall to the run id (Letta had it after {letta_had:.2f}s); "
        f"--no-deliver {stored_only.wall:.2f}s"
    )
    return {
        "stored": stored,
        "runs": runs,
        "send": sent.as_json(),
        "no_deliver": stored_only.as_json(),
        "letta_received_after_s": [round(x, 4) for x in received],
        "median_letta_received_after_s": round(letta_had, 4),
        "commits_per_send": commits,
    }


def _deliveries(letta: Letta) -> list[Any]:
    found: list[Any] = getattr(letta, "deliveries", [])
    return found


@dataclass(frozen=True)
class AppServerLetta:
    """A running App Server as a benchmark world's Letta: its ws:// URL, its token and its one agent."""

    base_url: str
    token: str
    agent_id: str

    @property
    def agents(self) -> list[str]:
        """The agent the launcher made."""
        return [self.agent_id]

    def add_agent(self) -> str:
        """The App Server's one test agent serves every send."""
        return self.agent_id


def run_app_server(top: Path, app: AppServerLetta, *, runs: int, log: Callable[[str], None] = print) -> dict[str, Any]:
    """Time ``send --json`` against a real App Server until it prints the turn's proof."""
    world = make_world(top / "sendnow-app", app)
    env = {**env_for(world, top / "home-sendnow-app", app.base_url), "LETTA_API_KEY": app.token}
    sent = Series("send now (App Server)")
    commits: list[int] = []
    for index in range(runs):
        before = int(git(world.clone, "rev-list", "--count", "HEAD"))
        with measure(sent):
            done = cli("send", "--agent-id", app.agent_id, "--message", f"now {index}", "--json", env=env)
        result = json.loads(done.stdout or "{}").get("result") if done.returncode == 0 else None
        if not result or result.get("status") != "delivered" or not result.get("turn_id"):
            raise RuntimeError(f"send did not deliver to the App Server: {done.stderr[-500:]}")
        commits.append(int(git(world.clone, "rev-list", "--count", "HEAD")) - before)
    log(f"  send now to the App Server: {sent.wall:.2f}s median wall to the turn's proof")
    return {"runs": runs, "send": sent.as_json(), "commits_per_send": commits}
