"""Messages reach a real Letta Code App Server (``letta server``), through the real `switchboard` command.

``LETTA_BASE_URL`` is the server's ``ws://`` address and ``LETTA_API_KEY``
its capability token (the ``app_env`` fixture). Every delivery must leave
its proof in the result (conversation id, otid, turn id) and exactly one
stored message with that otid in the conversation, as the server itself
lists it over /ws.
"""

from __future__ import annotations

import json
import subprocess
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from conftest import run_cli

from real_letta.conftest import AppServer
from switchboard.envelope import written
from switchboard.tick import OTID_NAMESPACE

pytestmark = pytest.mark.real_letta

T0 = datetime(2026, 3, 10, 15, 20, tzinfo=UTC)


def at(minutes: float) -> str:
    """``T0 + minutes`` as the ISO 8601 text ``--now`` takes."""
    return (T0 + timedelta(minutes=minutes)).isoformat().replace("+00:00", "Z")


def cli(env: dict[str, str], *args: str, expect: int = 0) -> Any:
    """Run `switchboard ARGS --json`; its parsed stdout after checking the exit status."""
    done: subprocess.CompletedProcess[str] = run_cli(*args, "--json", env=env)
    assert done.returncode == expect, f"switchboard {args[0]} exited {done.returncode}: {done.stderr}"
    return json.loads(done.stdout)


def fire_otid(schedule_id: str, scheduled_for: datetime) -> str:
    """The otid switchboard sends for one fire (as ``tick.Job.otid`` makes it)."""
    return str(uuid.uuid5(OTID_NAMESPACE, f"{schedule_id}@{scheduled_for.isoformat()}"))


def text_of(message: dict[str, Any]) -> str:
    """A stored user message's own text (the App Server puts its reminders in front of it)."""
    content = message["content"]
    if isinstance(content, str):
        return content
    return str(content[-1]["text"])


def message_of(message: dict[str, Any]) -> str:
    """The message a stored user message carries, without switchboard's envelope (the CLI's default)."""
    return written(text_of(message))


def assert_proof(app_server: AppServer, result: dict[str, Any], text: str) -> None:
    """Delivered once, with proof: a turn that ended, and one stored message with the result's otid."""
    assert result["status"] == "delivered", result
    assert result["conversation_id"] == "default"
    assert isinstance(result["turn_id"], str) and result["turn_id"].startswith("turn-"), result
    assert result["run_id"] == result["turn_id"]
    assert (result["run_status"], result["stop_reason"]) == ("completed", "end_turn")
    mine = app_server.with_otid(result["otid"])
    assert len(mine) == 1, f"{len(mine)} stored messages carry otid {result['otid']}"
    assert mine[0]["message_type"] == "user_message" and message_of(mine[0]) == text
    # The CLI's schedules arrive in the envelope that tells the agent the time.
    assert text_of(mine[0]).startswith("<system-reminder>\nScheduled message "), text_of(mine[0])[:200]


def test_send_now_reaches_the_agent_once_with_proof(app_server: AppServer, app_env: dict[str, str]) -> None:
    """`send` with no time: delivered from the command itself, over /ws, with conversation, otid and turn."""
    text = f"app server send-now {uuid.uuid4().hex[:8]}"
    sent = cli(app_env, "send", "--agent-id", app_server.agent_id, "-m", text)
    result = sent["result"]
    assert result["schedule_id"] == sent["id"]
    assert_proof(app_server, result, text)
    assert result["otid"] == fire_otid(sent["id"], datetime.fromisoformat(sent["execute_at"]))
    [kept] = cli(app_env, "results", "list")
    assert (kept["turn_id"], kept["otid"], kept["conversation_id"]) == (
        result["turn_id"],
        result["otid"],
        "default",
    )


def test_a_tick_delivers_a_one_time_message_once(app_server: AppServer, app_env: dict[str, str]) -> None:
    """A one-time message due in a minute: a later tick delivers it, a tick after that sends nothing."""
    text = f"app server one-time {uuid.uuid4().hex[:8]}"
    schedule = cli(app_env, "send", "--agent-id", app_server.agent_id, "-m", text, "--execute-at", "in 1 minute",
                   "--now", at(0))  # fmt: skip
    report = cli(app_env, "tick", "--now", at(2))
    assert (report["delivered"], report["failed"], report["requeued"]) == (1, 0, 0)
    [result] = report["results"]
    assert result["schedule_id"] == schedule["id"]
    assert_proof(app_server, result, text)

    again = cli(app_env, "tick", "--now", at(3))
    assert (again["delivered"], again["results"]) == (0, [])
    assert len(app_server.with_otid(result["otid"])) == 1


def test_a_recurring_fire_reaches_the_agent_once(app_server: AppServer, app_env: dict[str, str]) -> None:
    """Each fire of a recurring schedule is one turn; the same fire is never sent twice."""
    text = f"app server recurring {uuid.uuid4().hex[:8]}"
    rec = cli(app_env, "recurring", "create", "--agent-id", app_server.agent_id, "-m", text, "--cron",
              "*/5 * * * *", "--now", at(0))  # fmt: skip
    first = cli(app_env, "tick", "--now", at(6))
    [result] = first["results"]
    assert (result["schedule_id"], result["schedule_type"]) == (rec["id"], "recurring")
    assert result["otid"] == fire_otid(rec["id"], T0 + timedelta(minutes=5))
    assert_proof(app_server, result, text)

    same_fire = cli(app_env, "tick", "--now", at(7))
    assert same_fire["results"] == []
    second = cli(app_env, "tick", "--now", at(11))
    [next_result] = second["results"]
    assert next_result["otid"] == fire_otid(rec["id"], T0 + timedelta(minutes=10))
    assert next_result["turn_id"] != result["turn_id"]
    assert_proof(app_server, next_result, text)
    assert len(app_server.with_otid(result["otid"])) == 1


def test_a_missing_agent_fails_and_pauses_a_recurring_schedule(app_server: AppServer, app_env: dict[str, str]) -> None:
    """An agent the App Server does not have: a failed result saying so (404), the recurring schedule paused."""
    gone = f"agent-local-{uuid.uuid4()}"
    rec = cli(app_env, "recurring", "create", "--agent-id", gone, "-m", "to nobody", "--cron", "*/5 * * * *",
              "--now", at(0))  # fmt: skip
    done = run_cli("tick", "--now", at(6), "--json", env=app_env)
    assert done.returncode == 1, done.stderr
    [result] = json.loads(done.stdout)["results"]
    assert (result["status"], result["http_status"], result["run_id"]) == ("failed", 404, None)
    assert result["error"].startswith(f"agent {gone} not found on {app_server.base_url} (404)")
    paused = cli(app_env, "recurring", "get", rec["id"])
    assert paused["status"] == "paused" and "not found" in paused["paused_reason"]

    now = run_cli("send", "--agent-id", gone, "-m", "to nobody either", env=app_env)
    assert now.returncode == 1
    assert now.stderr.strip().splitlines()[-1].startswith("Error: one-time ")
    assert f"agent {gone} not found" in now.stderr


def test_a_wrong_token_is_one_clear_error(app_server: AppServer, app_env: dict[str, str]) -> None:
    """A token the App Server refuses: one `Error:` line naming the 401 and what to set; the token never shown."""
    wrong_token = "wrong-capability-token-0000"
    wrong = {**app_env, "LETTA_API_KEY": wrong_token}
    done = run_cli("send", "--agent-id", app_server.agent_id, "-m", "never sent", env=wrong)
    assert done.returncode == 1
    [line] = done.stderr.strip().splitlines()
    assert line.startswith("Error: one-time ") and "rejected the token (401)" in line, line
    assert "LETTA_API_KEY" in line
    assert wrong_token not in done.stdout + done.stderr and app_server.token not in done.stdout + done.stderr

    doctor = run_cli("doctor", "--json", env=wrong)
    letta = next(c for c in json.loads(doctor.stdout)["checks"] if c["name"] == "letta")
    assert letta["status"] == "fail" and "capability token" in letta["fix"]


def test_a_retry_after_a_lost_answer_is_delivered_once(app_server: AppServer, app_env: dict[str, str]) -> None:
    """The fire reached the agent but its answer was lost: the retry is deduplicated and found, not sent again."""
    text = f"app server retry {uuid.uuid4().hex[:8]}"
    schedule = cli(app_env, "send", "--agent-id", app_server.agent_id, "-m", text, "--execute-at", "in 1 minute",
                   "--now", at(0))  # fmt: skip
    otid = fire_otid(schedule["id"], T0 + timedelta(minutes=1))
    # The first attempt: the same message with the fire's otid reaches the agent, and switchboard never hears back.
    first = app_server.send(text, otid=otid)
    assert first.status == "completed" and len(app_server.with_otid(otid)) == 1

    report = cli(app_env, "tick", "--now", at(2))
    [result] = report["results"]
    assert (result["status"], result["otid"], result["conversation_id"]) == ("delivered", otid, "default")
    assert result["turn_id"] is None  # the server dropped the repeat: no new turn, the stored message is the proof
    [stored] = app_server.with_otid(otid)
    assert text_of(stored) == text


def test_one_agents_messages_go_one_at_a_time_in_due_order(app_server: AppServer, app_env: dict[str, str]) -> None:
    """Two messages due for the same agent in one tick: each turn ends before the next is sent, oldest first."""
    tag = uuid.uuid4().hex[:8]
    first = cli(app_env, "send", "--agent-id", app_server.agent_id, "-m", f"first {tag}", "--execute-at",
                "in 1 minute", "--now", at(0))  # fmt: skip
    second = cli(app_env, "send", "--agent-id", app_server.agent_id, "-m", f"second {tag}", "--execute-at",
                 "in 2 minutes", "--now", at(0))  # fmt: skip
    report = cli(app_env, "tick", "--now", at(3))
    assert (report["delivered"], report["failed"]) == (2, 0)
    by_id = {r["schedule_id"]: r for r in report["results"]}
    assert all(r["run_status"] == "completed" and r["turn_id"] for r in by_id.values())
    # Newest first: the second message's turn came after the first one's.
    stored = [message_of(m) for m in app_server.messages() if m.get("message_type") == "user_message"]
    assert stored.index(f"second {tag}") < stored.index(f"first {tag}")
    for schedule in (first, second):
        assert len(app_server.with_otid(by_id[schedule["id"]]["otid"])) == 1

    doctor = run_cli("doctor", "--json", env=app_env)
    letta = next(c for c in json.loads(doctor.stdout)["checks"] if c["name"] == "letta")
    assert letta["status"] == "ok", letta
