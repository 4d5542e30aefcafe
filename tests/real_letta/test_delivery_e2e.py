"""Scheduled messages reach a real Letta 0.11.7 agent, through the real `switchboard` command.

Each test drives the CLI as a subprocess (``conftest.run_cli``) on a real git
clone with a bare remote (the ``repo`` fixture), with ``LETTA_BASE_URL``
pointing at the session's real Letta server. Time is simulated with
``--now``; the Letta side is real: every delivery must leave a run that
``GET /v1/runs/{id}`` knows and a message in ``GET /v1/agents/{id}/messages``.

0.11.7 keeps ``run_id`` empty on history messages, so a delivered message is
found by its ``otid`` instead: switchboard sends one per fire, derived from
the schedule id and the fire time, and Letta keeps it on the stored message.
"""

from __future__ import annotations

import json
import subprocess
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from conftest import run_cli

from real_letta.conftest import RealLetta
from switchboard.envelope import written
from switchboard.tick import OTID_NAMESPACE

pytestmark = pytest.mark.real_letta

#: A Tuesday, on a five-minute boundary: the simulated clock starts here.
T0 = datetime(2026, 3, 10, 15, 20, tzinfo=UTC)
WRONG_KEY = "sk-let-wrong-0000000000000000"


def at(minutes: float) -> str:
    """``T0 + minutes`` as the ISO 8601 text ``--now`` takes."""
    return (T0 + timedelta(minutes=minutes)).isoformat().replace("+00:00", "Z")


def parse(moment: str) -> datetime:
    """An ISO 8601 instant from switchboard's JSON."""
    return datetime.fromisoformat(moment.replace("Z", "+00:00"))


def fire_otid(schedule_id: str, scheduled_for: str) -> str:
    """The otid switchboard sends for one fire (as ``tick.Job.otid`` makes it)."""
    return str(uuid.uuid5(OTID_NAMESPACE, f"{schedule_id}@{parse(scheduled_for).isoformat()}"))


def cli(env: dict[str, str], *args: str, expect: int = 0) -> Any:
    """Run `switchboard ARGS --json`; return its parsed stdout after checking the exit status."""
    done: subprocess.CompletedProcess[str] = run_cli(*args, "--json", env=env)
    assert done.returncode == expect, f"switchboard {args[0]} exited {done.returncode}: {done.stderr}"
    return json.loads(done.stdout)


def tick(env: dict[str, str], minutes: float, *, expect: int = 0) -> dict[str, Any]:
    """One `switchboard tick --now T0+minutes --json`."""
    report: dict[str, Any] = cli(env, "tick", "--now", at(minutes), expect=expect)
    return report


def history(real_letta: RealLetta, agent_id: str) -> list[dict[str, Any]]:
    """The agent's stored messages (the newest 200, more than any test here makes)."""
    with real_letta.client() as client:
        resp = client.get(f"/v1/agents/{agent_id}/messages", params={"limit": 200})
    assert resp.status_code == 200, resp.text[:300]
    messages: list[dict[str, Any]] = resp.json()
    return messages


def assert_delivered(real_letta: RealLetta, result: dict[str, Any], text: str) -> dict[str, Any]:
    """The result's run exists and completed on the server, and that fire's message is in the history."""
    assert result["status"] == "delivered", result
    run_id = result["run_id"]
    assert isinstance(run_id, str) and run_id.startswith("run-"), result
    with real_letta.client() as client:
        found = client.get(f"/v1/runs/{run_id}")
    assert found.status_code == 200, found.text[:300]
    assert found.json()["id"] == run_id
    run = real_letta.wait_for_run(run_id)
    assert run["status"] == "completed", run
    otid = fire_otid(result["schedule_id"], result["scheduled_for"])
    mine = [m for m in history(real_letta, result["agent_id"]) if m.get("otid") == otid]
    assert len(mine) == 1, f"no single message with otid {otid} in the agent's history"
    assert mine[0]["message_type"] == "user_message"
    assert written(mine[0]["content"]) == text
    return mine[0]


def user_texts(real_letta: RealLetta, agent_id: str) -> list[str]:
    """The contents of every user message in the agent's history."""
    return [written(m["content"]) for m in history(real_letta, agent_id) if m.get("message_type") == "user_message"]


def test_send_in_one_minute_is_delivered_by_a_later_tick(real_letta: RealLetta, env: dict[str, str]) -> None:
    """`send --execute-at "in 1 minute"`, a tick too early sends nothing, a later tick delivers it."""
    agent_id = real_letta.create_agent("e2e-one-time")
    text = f"one-time e2e {uuid.uuid4().hex[:8]}"
    schedule = cli(env, "send", "--agent-id", agent_id, "-m", text, "--execute-at", "in 1 minute", "--now", at(0))
    assert parse(schedule["execute_at"]) == T0 + timedelta(minutes=1)

    early = tick(env, 0.5)
    assert (early["delivered"], early["results"]) == (0, [])

    report = tick(env, 2)
    assert (report["delivered"], report["failed"], report["requeued"]) == (1, 0, 0)
    [result] = report["results"]
    assert (result["schedule_id"], result["schedule_type"]) == (schedule["id"], "one-time")
    assert result["agent_id"] == agent_id
    assert parse(result["scheduled_for"]) == T0 + timedelta(minutes=1)
    assert result["lateness_s"] == 60
    assert_delivered(real_letta, result, text)

    # The record: the schedule is gone, the result (with Letta's run id) is kept.
    assert cli(env, "onetime", "list") == []
    [kept] = cli(env, "results", "list")
    assert (kept["schedule_id"], kept["run_id"], kept["status"]) == (schedule["id"], result["run_id"], "delivered")

    again = tick(env, 3)
    assert again["delivered"] == 0
    assert user_texts(real_letta, agent_id).count(text) == 1


def test_recurring_schedule_delivers_once_per_fire(real_letta: RealLetta, env: dict[str, str]) -> None:
    """Ticks at increasing --now: one delivery per fire, none between fires, late ticks coalesce."""
    agent_id = real_letta.create_agent("e2e-recurring")
    text = f"recurring e2e {uuid.uuid4().hex[:8]}"
    schedule = cli(env, "recurring", "create", "--agent-id", agent_id, "-m", text, "--every", "every 5 minutes",
                   "--now", at(0))  # fmt: skip
    assert (schedule["cron"], schedule["timezone"]) == ("*/5 * * * *", "UTC")
    assert parse(schedule["next_run"]) == T0 + timedelta(minutes=5)

    run_ids: list[str] = []
    # (tick at T0+minutes, the fire it delivers in minutes or None, fires it coalesces)
    plan: list[tuple[float, int | None, int]] = [
        (4, None, 0),  # before the first fire
        (5, 5, 0),  # exactly at the first fire
        (5.5, None, 0),  # the same fire again: already sent
        (10.25, 10, 0),  # a little late
        (26, 25, 2),  # 15 and 20 were missed: one delivery for three fires
    ]
    for minutes, fire, skipped in plan:
        report = tick(env, minutes)
        if fire is None:
            assert (report["delivered"], report["results"]) == (0, []), f"tick at +{minutes}m"
            continue
        assert report["delivered"] == 1, f"tick at +{minutes}m: {report}"
        [result] = report["results"]
        assert result["schedule_id"] == schedule["id"]
        assert parse(result["scheduled_for"]) == T0 + timedelta(minutes=fire)
        assert result["skipped"] == skipped
        # Waits for the run to complete, as real ticks minutes apart would find it.
        assert_delivered(real_letta, result, text)
        run_ids.append(result["run_id"])

    assert len(set(run_ids)) == 3
    assert user_texts(real_letta, agent_id).count(text) == 3
    results = cli(env, "results", "list", "--schedule-id", schedule["id"])
    assert sorted(r["run_id"] for r in results) == sorted(run_ids)
    current = cli(env, "recurring", "get", schedule["id"])
    assert (current["status"], parse(current["last_run"])) == ("active", T0 + timedelta(minutes=25))
    assert parse(current["next_run"]) == T0 + timedelta(minutes=30)


def test_wrong_letta_key_fails_with_401_and_pauses_the_recurring_schedule(
    real_letta: RealLetta, env: dict[str, str]
) -> None:
    """Schedules made with a key the server refuses: 401 failed results, the recurring one paused."""
    agent_id = real_letta.create_agent("e2e-wrong-key")
    wrong = {**env, "LETTA_API_KEY": WRONG_KEY}
    text = f"never delivered {uuid.uuid4().hex[:8]}"
    # Scheduled for later: a send with no time would deliver (and fail) at once.
    one = cli(wrong, "send", "--agent-id", agent_id, "-m", text, "--execute-at", "in 1 minute", "--now", at(0))
    rec = cli(wrong, "recurring", "create", "--agent-id", agent_id, "-m", text, "--every", "every 5 minutes",
              "--now", at(0))  # fmt: skip

    # The tick uses the key stored with each schedule; it exits 1 on a permanent failure.
    done = run_cli("tick", "--now", at(5), "--json", env=env)
    assert done.returncode == 1, done.stderr
    assert WRONG_KEY not in done.stdout + done.stderr
    report = json.loads(done.stdout)
    assert (report["delivered"], report["failed"]) == (0, 2)
    by_id = {r["schedule_id"]: r for r in report["results"]}
    assert set(by_id) == {one["id"], rec["id"]}
    for result in by_id.values():
        assert (result["status"], result["http_status"], result["run_id"]) == ("failed", 401, None)
        assert "rejected the API key" in result["error"]

    paused = cli(wrong, "recurring", "get", rec["id"])
    assert paused["status"] == "paused"
    assert "401" in paused["paused_reason"]
    assert paused["next_run"] is None
    assert cli(wrong, "onetime", "list") == []
    # The schedules belong to the wrong key's tenant: the right key sees none of them.
    assert cli(env, "recurring", "list") == []

    # A paused schedule stays quiet; nothing ever reached the agent.
    later = tick(env, 10)
    assert (later["delivered"], later["failed"], later["results"]) == (0, 0, [])
    assert text not in user_texts(real_letta, agent_id)


def test_send_with_no_time_prints_a_run_id_the_server_has(real_letta: RealLetta, env: dict[str, str]) -> None:
    """`switchboard send --agent-id A --message M`: delivered from the command itself; its run is on the server."""
    agent_id = real_letta.create_agent("e2e-send-now")
    text = f"send now e2e {uuid.uuid4().hex[:8]}"
    done = run_cli("send", "--agent-id", agent_id, "--message", text, env=env)
    assert done.returncode == 0 and done.stderr == "", done.stderr
    printed = done.stdout.strip()
    assert printed.startswith("Delivered one-time ") and printed.endswith(".")
    run_id = printed.rsplit("Letta run ", 1)[1].rstrip(".")
    [result] = cli(env, "results", "list")
    assert result["run_id"] == run_id
    assert_delivered(real_letta, result, text)
    assert cli(env, "onetime", "list") == []
    assert tick(env, 60 * 24 * 365)["delivered"] == 0  # nothing left for a tick, however late
    assert user_texts(real_letta, agent_id).count(text) == 1
