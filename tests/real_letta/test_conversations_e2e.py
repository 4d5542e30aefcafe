"""Schedules that target a conversation, on the Letta API (the V1 server's conversations API, as Letta Cloud's)."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from conftest import run_cli

from real_letta.conftest import RealLetta

pytestmark = pytest.mark.real_letta

T0 = datetime(2026, 3, 10, 15, 20, tzinfo=UTC)


def at(minutes: float) -> str:
    """``T0 + minutes`` as the ISO 8601 text ``--now`` takes."""
    return (T0 + timedelta(minutes=minutes)).isoformat().replace("+00:00", "Z")


def cli(env: dict[str, str], *args: str) -> Any:
    """Run `switchboard ARGS --json`; its parsed stdout after checking it succeeded."""
    done = run_cli(*args, "--json", env=env)
    assert done.returncode == 0, f"switchboard {args[0]} exited {done.returncode}: {done.stderr}"
    return json.loads(done.stdout)


def conversation_otids(real_letta: RealLetta, conversation_id: str) -> list[str]:
    """The otids of the user messages stored in a conversation."""
    with real_letta.client() as client:
        resp = client.get(f"/v1/conversations/{conversation_id}/messages", params={"limit": 100})
    assert resp.status_code == 200, resp.text[:300]
    return [m["otid"] for m in resp.json() if m.get("message_type") == "user_message"]


def test_new_and_named_conversations_on_the_letta_api(real_letta: RealLetta, env: dict[str, str]) -> None:
    """`send --conversation new` makes a conversation; a recurring schedule then fires into it by id."""
    if real_letta.version == "0.11.7":
        pytest.skip("0.11.7 has no conversations API")
    agent_id = real_letta.create_agent("e2e-conversations")
    sent = cli(env, "send", "--agent-id", agent_id, "-m", f"thread {uuid.uuid4().hex[:6]}", "--conversation", "new")
    result = sent["result"]
    assert (result["status"], result["run_status"]) == ("delivered", "completed")
    conversation = result["conversation_id"]
    assert isinstance(conversation, str) and conversation.startswith("conv-")
    assert result["run_id"].startswith("run-")
    assert conversation_otids(real_letta, conversation) == [result["otid"]]

    rec = cli(env, "recurring", "create", "--agent-id", agent_id, "-m", "into the thread", "--cron", "*/5 * * * *",
              "--conversation", conversation, "--now", at(0))  # fmt: skip
    assert rec["conversation"] == conversation
    report = cli(env, "tick", "--now", at(6))
    [fired] = report["results"]
    assert (fired["status"], fired["conversation_id"]) == ("delivered", conversation)
    assert sorted(conversation_otids(real_letta, conversation)) == sorted([result["otid"], fired["otid"]])

    gone = "conv-00000000-0000-4000-8000-000000000000"
    missing = run_cli("send", "--agent-id", agent_id, "-m", "nowhere", "--conversation", gone, env=env)
    assert missing.returncode == 1
    assert f"conversation {gone} of agent {agent_id} not found on {real_letta.base_url} (404)" in missing.stderr
