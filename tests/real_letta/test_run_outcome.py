"""Runs followed to their end on a real Letta server, through the real `switchboard` command.

A result is written when Letta answers the send; how the run ended is learnt
later (by the next tick, or `results list --refresh`). These tests assert only
what the server does: a server that refuses an unknown agent at once (404)
and one that accepts the message and fails the run later must both end in a
failed result, and a recurring schedule paused, without the test asking
which kind of server it has.
"""

from __future__ import annotations

import json
import time
import uuid
from typing import Any

import httpx
import pytest
from conftest import run_cli

from real_letta.conftest import RealLetta
from real_letta.test_delivery_e2e import at, cli
from switchboard.testing.letta import LettaStandIn

pytestmark = pytest.mark.real_letta


def refreshed(env: dict[str, str], minutes: float) -> dict[str, dict[str, Any]]:
    """`results list --refresh` at T0+minutes: each schedule's newest result."""
    listed = cli(env, "results", "list", "--refresh", "--now", at(minutes))
    return {r["schedule_id"]: r for r in reversed(listed)}


def unknown_agent() -> str:
    """An agent id of the right shape that no server has."""
    return f"agent-{uuid.uuid4()}"


def tick(env: dict[str, str], minutes: float) -> dict[str, Any]:
    """One `switchboard tick --now T0+minutes --json`; it exits 1 exactly when its report has a failure."""
    done = run_cli("tick", "--now", at(minutes), "--json", env=env)
    report: dict[str, Any] = json.loads(done.stdout)
    assert done.returncode == (1 if report["failed"] else 0), done.stderr
    return report


def test_a_message_to_an_unknown_agent_ends_as_a_failed_result(env: dict[str, str], real_letta: RealLetta) -> None:
    made = cli(
        env,
        "send",
        "--agent-id",
        unknown_agent(),
        "-m",
        "Is anyone there?",
        "--no-deliver",
        "--no-dispatch",
        "--now",
        at(0),
    )
    [sent] = tick(env, 1)["results"]
    if sent["run_id"] is not None:
        # Accepted: the run fails later, and the next look at it says so.
        assert sent["status"] == "delivered" and sent["run_status"] in ("created", "running")
        real_letta.wait_for_run(sent["run_id"])
    else:
        assert sent["http_status"] == 404
    result = refreshed(env, 2)[made["id"]]
    assert result["status"] == "failed"
    assert result["run_id"] == sent["run_id"]
    assert "not found" in result["error"]


def test_a_recurring_schedule_to_an_unknown_agent_is_paused(env: dict[str, str], real_letta: RealLetta) -> None:
    made = cli(env, "recurring", "create", "--agent-id", unknown_agent(), "-m", "Every minute", "--cron", "* * * * *",
               "--now", at(0))  # fmt: skip
    [sent] = tick(env, 1.5)["results"]
    if sent["run_id"] is not None:
        real_letta.wait_for_run(sent["run_id"])
        later = tick(env, 1.7)  # follows the run first, and pauses the schedule before anything is due
        assert [r["status"] for r in later["followed"]] == ["failed"] and later["results"] == []
    shown = cli(env, "recurring", "get", made["id"])
    assert shown["status"] == "paused" and "not found" in shown["paused_reason"]
    assert refreshed(env, 2)[made["id"]]["status"] == "failed"


def test_a_message_to_a_real_agent_ends_completed_with_its_run_id(env: dict[str, str], real_letta: RealLetta) -> None:
    agent = real_letta.create_agent("run-outcome")
    made = cli(
        env, "send", "--agent-id", agent, "-m", "Did you get this?", "--no-deliver", "--no-dispatch", "--now", at(0)
    )
    [sent] = tick(env, 1)["results"]
    assert sent["status"] == "delivered" and sent["run_id"].startswith("run-")
    final = real_letta.wait_for_run(sent["run_id"])
    assert final["status"] == "completed"
    result = refreshed(env, 2)[made["id"]]
    assert (result["status"], result["run_status"], result["run_id"]) == ("delivered", "completed", sent["run_id"])
    assert result["error"] is None and result["run_checked_at"] is not None


def _unknown_agent_exchange(client: httpx.Client) -> dict[str, Any]:
    """A message to an unknown agent, how its run ends, and what a look at the agent answers."""
    agent = unknown_agent()
    body = {"messages": [{"role": "user", "content": [{"type": "text", "text": "anyone?"}]}]}
    sent = client.post(f"/v1/agents/{agent}/messages/async", json=body)
    seen: dict[str, Any] = {"send": sent.status_code, "agent": client.get(f"/v1/agents/{agent}").status_code}
    if sent.status_code == 200:
        deadline = time.monotonic() + 30
        run: dict[str, Any] = sent.json()
        while run.get("status") not in ("completed", "failed", "cancelled") and time.monotonic() < deadline:
            time.sleep(0.1)
            run = client.get(f"/v1/runs/{run['id']}").json()
        seen["final_status"] = run.get("status")
    return seen


def test_the_standin_models_the_real_servers_answer_to_an_unknown_agent(real_letta: RealLetta) -> None:
    """Whichever way the server answers (404 at once, or a run that fails), the stand-in has a mode that matches."""
    with real_letta.client() as client:
        real = _unknown_agent_exchange(client)
    with (
        LettaStandIn(unknown_agent_runs=real["send"] == 200, run_duration=0.2) as standin,
        httpx.Client(base_url=standin.base_url, trust_env=False) as client,
    ):
        fake = _unknown_agent_exchange(client)
    assert fake == real
