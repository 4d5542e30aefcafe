"""`onetime update`, `recurring update` and names, as a user types them, on a real clone with a bare remote.

Bad input and its exact `Error:` lines are in test_cli_errors.py.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from conftest import Repo, run_cli
from typer.testing import CliRunner, Result

from switchboard.cli import app
from switchboard.store import ONE_TIME
from switchboard.testing.letta import LettaStandIn

NOW = "2026-03-10T15:20:00Z"
runner = CliRunner()


def ok(env: dict[str, str], *args: str) -> Result:
    result = runner.invoke(app, list(args), env=env)
    assert result.exit_code == 0, f"{args}: {result.stdout}{result.stderr}{result.exception!r}"
    return result


def js(env: dict[str, str], *args: str) -> Any:
    return json.loads(ok(env, *args, "--json").stdout)


def failed(env: dict[str, str], *args: str) -> str:
    """The one Error: line of a refused command (exit 1, nothing on stdout)."""
    result = runner.invoke(app, list(args), env=env)
    assert (result.exit_code, result.stdout) == (1, ""), (args, result.stdout, result.stderr)
    assert result.stderr.count("\n") == 1
    return result.stderr.removeprefix("Error: ").rstrip("\n")


@pytest.fixture
def agent(standin: LettaStandIn) -> str:
    return standin.add_agent()


def test_onetime_update_previews_then_moves_the_message(cli_env: dict[str, str], repo: Repo, agent: str) -> None:
    made = js(cli_env, "send", "--agent-id", agent, "-m", "Water", "--at", "2031-05-04T09:00:00Z", "--name", "plants")
    assert made["name"] == "plants"
    log = repo.remote_log()

    dry = ok(
        cli_env, "onetime", "update", "plants", "--at", "2031-05-06 10:00", "--tz", "Europe/Berlin", "--dry-run",
        "--now", NOW,
    )  # fmt: skip
    assert dry.stdout.splitlines() == [
        f"Changing one-time {made['id']}: time, zone.",
        "One-time: 2031-05-06 08:00 UTC = 2031-05-06 10:00 CEST (Europe/Berlin).",
        "Nothing was saved (--dry-run).",
    ]
    assert repo.remote_log() == log

    shown = ok(
        cli_env, "onetime", "update", made["id"][:8], "--at", "2031-05-06 10:00", "--tz", "Europe/Berlin",
        "-m", "Water the plants", "--now", NOW,
    )  # fmt: skip
    assert shown.stdout.splitlines() == [
        f"Changing one-time {made['id']}: message, time, zone.",
        "One-time: 2031-05-06 08:00 UTC = 2031-05-06 10:00 CEST (Europe/Berlin).",
        f"Updated one-time {made['id']}: due 2031-05-06 08:00 UTC.",
    ]
    assert repo.remote_log()[0] == f"switchboard: update one-time {made['id']}"
    assert len(repo.remote_log()) == len(log) + 1
    [path] = [f for f in repo.remote_files() if made["id"] in f]
    assert path.startswith(f"{ONE_TIME}/2031-05-06/08/")

    updated = js(cli_env, "onetime", "update", "plants", "--name", "garden")
    moved = {"message": "Water the plants", "execute_at": "2031-05-06T08:00:00+00:00", "timezone": "Europe/Berlin"}
    assert updated == {**made, **moved, "name": "garden"}
    assert js(cli_env, "onetime", "get", "garden") == updated
    # With --json only the updated schedule is printed: no preview.
    gone = js(cli_env, "onetime", "update", "garden", "--name", "")
    assert gone["name"] is None


def test_recurring_update_reads_a_new_cron_in_its_own_zone(cli_env: dict[str, str], repo: Repo, agent: str) -> None:
    made = js(
        cli_env, "recurring", "create", "--agent-id", agent, "-m", "Standup", "--cron", "every weekday at 10am",
        "--tz", "Europe/Berlin", "--name", "standup", "--now", NOW,
    )  # fmt: skip
    shown = ok(cli_env, "recurring", "update", "standup", "--cron", "every day at 8am", "--now", "2026-03-12T12:00:00Z")
    assert shown.stdout.splitlines() == [
        f"Changing recurring {made['id']}: cron.",
        "Recurring: 0 8 * * * in Europe/Berlin — At 08:00 AM. Next fires:",
        "  2026-03-13 08:00 CET  (2026-03-13 07:00 UTC)",
        "  2026-03-14 08:00 CET  (2026-03-14 07:00 UTC)",
        "  2026-03-15 08:00 CET  (2026-03-15 07:00 UTC)",
        f"Updated recurring {made['id']}: 0 8 * * * in Europe/Berlin, next run 2026-03-13 08:00 CET.",
    ]
    # --tz alone moves the schedule to another zone, counting from now.
    moved = js(cli_env, "recurring", "update", "standup", "--tz", "America/New_York", "--now", "2026-03-12T12:00:00Z")
    assert (moved["id"], moved["cron"], moved["timezone"]) == (made["id"], "0 8 * * *", "America/New_York")
    assert moved["next_run"] == "2026-03-13T12:00:00+00:00"
    assert moved["created_at"] == made["created_at"]
    # Paused, it stays paused, and the preview says so.
    ok(cli_env, "recurring", "pause", "standup")
    paused = ok(cli_env, "recurring", "update", "standup", "--cron", "0 9 * * *", "--now", "2026-03-12T12:00:00Z")
    assert "It is paused: it fires only after `switchboard recurring resume`." in paused.stdout.splitlines()
    assert js(cli_env, "recurring", "get", "standup")["status"] == "paused"
    assert ok(cli_env, "recurring", "resume", made["id"][:12]).stdout.startswith(f"Recurring {made['id']} is active")


def test_names_show_in_lists_and_details(cli_env: dict[str, str], agent: str) -> None:
    named = js(cli_env, "send", "--agent-id", agent, "-m", "First", "--at", "2031-05-04T09:00:00Z", "--name", "plants")
    plain = js(cli_env, "send", "--agent-id", agent, "-m", "Second", "--at", "2031-05-05T09:00:00Z")
    lines = ok(cli_env, "onetime", "list").stdout.splitlines()
    assert lines[1].split() == ["id", "name", "due", "message", "agent"]
    assert lines[3].split() == [named["id"], "plants", "2031-05-04", "09:00", "UTC", "First", agent]
    assert lines[4].split() == [plain["id"], "-", "2031-05-05", "09:00", "UTC", "Second", agent]
    detail = ok(cli_env, "onetime", "get", "plants").stdout.splitlines()
    assert detail[:2] == [f"One-time schedule {named['id']}", "  name      plants"]
    ok(cli_env, "onetime", "delete", "plants")
    assert [s["id"] for s in js(cli_env, "onetime", "list")] == [plain["id"]]


def test_ambiguous_names_are_refused_listing_the_candidates(cli_env: dict[str, str], repo: Repo, agent: str) -> None:
    a = js(cli_env, "recurring", "create", "--agent-id", agent, "-m", "A", "--cron", "0 9 * * *", "--name", "daily")
    b = js(cli_env, "recurring", "create", "--agent-id", agent, "-m", "B", "--cron", "0 10 * * *", "--name", "daily")
    log = repo.remote_log()
    for command in (["get"], ["delete"], ["pause"], ["resume"], ["update", "-m", "C"], ["run"]):
        assert failed(cli_env, "recurring", *command, "daily") == (
            f'"daily" matches 2 recurring schedules: {a["id"]} ("daily"), {b["id"]} ("daily") '
            "— give the whole id (or a longer prefix)"
        )
    assert repo.remote_log() == log
    # The id (or enough of it) still picks one.
    assert js(cli_env, "recurring", "get", b["id"][:8])["id"] == b["id"]


def test_results_show_the_name(cli_env: dict[str, str], agent: str, standin: LettaStandIn) -> None:
    made = js(cli_env, "send", "--agent-id", agent, "-m", "Due now", "--name", "hello")
    tick = json.loads(ok(cli_env, "tick", "--json").stdout)
    assert "hello" not in json.dumps(tick)  # a tick's output is an Actions log: ids only
    [result] = js(cli_env, "results", "list")
    assert (result["schedule_id"], result["name"]) == (made["id"], "hello")
    lines = ok(cli_env, "results", "list").stdout.splitlines()
    assert lines[1].split()[:4] == ["sent", "schedule", "name", "type"]
    assert f"{made['id']}  hello  one-time  delivered" in lines[3]


def test_update_as_a_real_process(cli_env: dict[str, str], agent: str) -> None:
    made = run_cli("send", "--agent-id", agent, "-m", "Hi", "--at", "2031-05-04T09:00:00Z", "--name", "n1", env=cli_env)
    assert made.returncode == 0, made.stderr
    done = run_cli("onetime", "update", "n1", "-m", "Hello", "--json", env=cli_env)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["message"] == "Hello"
    refused = run_cli("onetime", "update", "n2", "-m", "Hello", env=cli_env)
    assert (refused.returncode, refused.stdout) == (1, "")
    assert refused.stderr == (
        'Error: no one-time schedule is named "n2" or has an id starting with it, for this Letta key — see '
        "`switchboard onetime list`\n"
    )


def test_recurring_run_takes_a_name(cli_env: dict[str, str], agent: str, standin: LettaStandIn) -> None:
    made = js(cli_env, "recurring", "create", "--agent-id", agent, "-m", "X", "--cron", "0 9 * * *", "--name", "nine")
    ran = js(cli_env, "recurring", "run", "nine")
    [delivery] = standin.deliveries
    assert (ran["id"], ran["result"]["run_id"], ran["result"]["name"]) == (made["id"], delivery.run_id, "nine")
    assert ran["result"]["manual"] is True
    [result] = js(cli_env, "results", "list")
    assert (result["name"], result["manual"]) == ("nine", True)


def test_an_update_to_the_values_it_already_has_changes_nothing(
    cli_env: dict[str, str], repo: Repo, agent: str
) -> None:
    made = js(cli_env, "send", "--agent-id", agent, "-m", "Water", "--at", "2031-05-04T09:00:00Z", "--name", "plants")
    log = repo.remote_log()
    assert failed(cli_env, "onetime", "update", "plants", "-m", "Water", "--name", "plants") == (
        f"nothing to change — one-time {made['id']} already has those values"
    )
    assert repo.remote_log() == log
    # Only what differs is named and saved.
    shown = ok(cli_env, "onetime", "update", "plants", "-m", "Water", "--name", "garden", "--now", NOW)
    assert shown.stdout.splitlines()[0] == f"Changing one-time {made['id']}: name."
    assert len(repo.remote_log()) == len(log) + 1
