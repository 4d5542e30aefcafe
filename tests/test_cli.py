"""Every command a user types, through typer's CliRunner and as a real process, on a real clone.

Bad input and its exact `Error:` lines are in test_cli_errors.py.
"""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any

import pytest
from conftest import LETTA_KEY, ROOT, Repo, git, run_cli
from typer.testing import CliRunner, Result

from switchboard.cli import Column, app, render_table
from switchboard.crypto import codec_from_keys, generate_key
from switchboard.envelope import written
from switchboard.store import ONE_TIME, RECURRING, TENANT_KEY
from switchboard.testing.letta import LettaStandIn

NOW = "2026-03-10T15:20:00Z"
runner = CliRunner()


def cli(env: dict[str, str], *args: str, input: str | None = None) -> Result:
    """The command, in this process."""
    return runner.invoke(app, list(args), env=env, input=input)


def ok(env: dict[str, str], *args: str, input: str | None = None) -> Result:
    result = cli(env, *args, input=input)
    assert result.exit_code == 0, f"{args}: {result.stdout}{result.stderr}{result.exception!r}"
    return result


def js(env: dict[str, str], *args: str) -> Any:
    """A command with --json: stdout is JSON and nothing else."""
    return json.loads(ok(env, *args, "--json").stdout)


@pytest.fixture
def agent(standin: LettaStandIn) -> str:
    return standin.add_agent()


# -- one-time ---------------------------------------------------------------------------


def test_send_now_and_at_a_time(cli_env: dict[str, str], repo: Repo, agent: str) -> None:
    made = js(cli_env, "send", "--agent-id", agent, "--message", "Hello", "--now", NOW, "--no-deliver")
    assert set(made) == {
        "id", "name", "agent_id", "message", "role", "conversation", "execute_at", "timezone", "created_at", "envelope",
        "clock",
    }  # fmt: skip
    assert made["execute_at"] == made["created_at"] == "2026-03-10T15:20:00+00:00"
    assert (made["agent_id"], made["message"], made["role"]) == (agent, "Hello", "user")
    assert repo.remote_log()[0] == f"switchboard: add one-time {made['id']}"
    assert next(f for f in repo.remote_files() if made["id"] in f).startswith(f"{ONE_TIME}/2026-03-10/15/")

    # An offset time lands in its UTC bucket.
    later = js(cli_env, "send", "--agent-id", agent, "-m", "Later", "--at", "2031-05-04T09:00:00-05:00")
    assert later["execute_at"] == "2031-05-04T14:00:00+00:00"
    assert next(f for f in repo.remote_files() if later["id"] in f).startswith(f"{ONE_TIME}/2031-05-04/14/")
    # A time without an offset is the caller's --tz.
    local = js(
        cli_env,
        "onetime",
        "create",
        "--agent-id",
        agent,
        "-m",
        "Local",
        "--at",
        "2031-05-04 09:00",
        "--tz",
        "Europe/Berlin",
    )
    assert local["execute_at"] == "2031-05-04T07:00:00+00:00"
    phrase = js(
        cli_env, "send", "--agent-id", agent, "-m", "Phrase", "--at", "tomorrow at 9am", "--tz", "America/New_York",
        "--now", NOW, "--role", "system",
    )  # fmt: skip
    assert phrase["execute_at"] == "2026-03-11T13:00:00+00:00" and phrase["role"] == "system"

    shown = ok(
        cli_env, "send", "--agent-id", agent, "-m", "Shown", "--at", "2031-05-04T14:00:00Z", "--tz", "Asia/Tokyo"
    )
    sid = repo.remote_log()[0].rsplit(" ", 1)[1]
    assert (
        shown.stdout == f"Scheduled one-time {sid} for 2031-05-04 14:00 UTC = 2031-05-04 23:00 JST (agent {agent}).\n"
    )
    assert shown.stderr == ""
    assert len(repo.remote_log()) == 1 + 5  # one commit per schedule (the first also made the tenant secret)


def test_onetime_list_get_delete(cli_env: dict[str, str], repo: Repo, agent: str) -> None:
    assert ok(cli_env, "onetime", "list").stdout == "No one-time schedules for this Letta key.\n"
    assert js(cli_env, "onetime", "list") == []
    second = js(cli_env, "send", "--agent-id", agent, "-m", "Second", "--at", "2031-05-05T09:00:00Z")
    first = js(cli_env, "send", "--agent-id", agent, "-m", "First\nand a second line", "--at", "2031-05-04T09:00:00Z")
    assert [s["id"] for s in js(cli_env, "onetime", "list")] == [first["id"], second["id"]]

    lines = ok(cli_env, "onetime", "list").stdout.splitlines()
    assert lines[0] == "One-time schedules (2)"
    assert lines[1].split() == ["id", "due", "message", "agent"]
    assert lines[3].split() == [first["id"], "2031-05-04", "09:00", "UTC", "First", "and", "a", "second", "line", agent]

    assert js(cli_env, "onetime", "get", first["id"]) == first
    detail = ok(cli_env, "onetime", "get", first["id"].upper()).stdout
    assert detail.splitlines() == [
        f"One-time schedule {first['id']}",
        f"  agent     {agent}",
        "  role      user",
        "  due       2031-05-04 09:00 UTC (2031-05-04T09:00:00+00:00)",
        f"  created   {detail.splitlines()[4].split(maxsplit=1)[1]}",
        "  message   First",
        "            and a second line",
    ]

    assert js(cli_env, "onetime", "delete", first["id"]) == {"message": "Schedule deleted", "id": first["id"]}
    assert repo.remote_log()[0] == f"switchboard: delete one-time {first['id']}"
    assert not [f for f in repo.remote_files() if first["id"] in f]
    assert not (repo.clone / ONE_TIME / "2031-05-04").exists()  # the emptied bucket is gone
    assert ok(cli_env, "onetime", "delete", second["id"]).stdout == f"Deleted one-time {second['id']}.\n"


# -- recurring ------------------------------------------------------------------------------


def test_recurring_lifecycle(cli_env: dict[str, str], repo: Repo, agent: str) -> None:
    made = js(
        cli_env, "recurring", "create", "--agent-id", agent, "-m", "Standup", "--cron", "every weekday at 10am",
        "--tz", "Europe/Berlin", "--now", NOW,
    )  # fmt: skip
    assert (made["cron"], made["timezone"], made["status"]) == ("0 10 * * 1-5", "Europe/Berlin", "active")
    assert made["next_run"] == "2026-03-11T09:00:00+00:00" and made["last_run"] is None
    assert repo.remote_log()[0] == f"switchboard: add recurring {made['id']}"
    assert next(f for f in repo.remote_files() if made["id"] in f).startswith(f"{RECURRING}/")

    cron = js(cli_env, "recurring", "create", "--agent-id", agent, "-m", "Ping", "--every", "*/15 * * * *")
    assert (cron["cron"], cron["timezone"]) == ("*/15 * * * *", "UTC")
    assert [s["id"] for s in js(cli_env, "recurring", "list")] == [made["id"], cron["id"]]
    table = ok(cli_env, "recurring", "list").stdout.splitlines()
    assert table[0] == "Recurring schedules (2)"
    assert table[1].split() == ["id", "cron", "next", "run", "status", "zone", "message", "agent"]
    assert table[3].startswith(f"{made['id']}  0 10 * * 1-5  2026-03-11 10:00 CET  active  Europe/Berlin  Standup")

    paused = js(cli_env, "recurring", "pause", made["id"])
    assert (paused["status"], paused["paused_reason"], paused["next_run"]) == ("paused", "paused by request", None)
    assert repo.remote_log()[0] == f"switchboard: pause recurring {made['id']}"
    log = repo.remote_log()
    assert ok(cli_env, "recurring", "pause", made["id"]).stdout.startswith(f"Recurring {made['id']} is paused")
    assert repo.remote_log() == log  # already paused: nothing to commit

    resumed = js(cli_env, "recurring", "resume", made["id"], "--now", "2026-03-20T12:00:00Z")
    assert (resumed["status"], resumed["paused_reason"], resumed["last_run"]) == ("active", None, None)
    assert resumed["next_run"] == "2026-03-23T09:00:00+00:00"  # fires missed while paused are not sent
    assert repo.remote_log()[0] == f"switchboard: resume recurring {made['id']}"
    assert js(cli_env, "recurring", "get", made["id"])["next_run"] == "2026-03-23T09:00:00+00:00"

    detail = ok(cli_env, "recurring", "get", made["id"]).stdout.splitlines()
    assert detail[0] == f"Recurring schedule {made['id']}"
    assert "  schedule  0 10 * * 1-5 in Europe/Berlin — At 10:00 AM, Monday through Friday" in detail
    assert "  next run  2026-03-23 10:00 CET" in detail and "  status    active" in detail

    assert js(cli_env, "recurring", "delete", made["id"]) == {"message": "Schedule deleted", "id": made["id"]}
    assert repo.remote_log()[0] == f"switchboard: delete recurring {made['id']}"
    assert [s["id"] for s in js(cli_env, "recurring", "list")] == [cron["id"]]


# -- results, tick ------------------------------------------------------------------------------


def test_results_after_a_tick(cli_env: dict[str, str], repo: Repo, agent: str, standin: LettaStandIn) -> None:
    assert ok(cli_env, "results", "list").stdout.startswith("No results yet for this Letta key")
    due = js(cli_env, "send", "--agent-id", agent, "-m", "Due now")
    pending = js(cli_env, "send", "--agent-id", agent, "-m", "Not yet", "--at", "2031-05-04T09:00:00Z")
    assert ok(cli_env, "results", "get", pending["id"]).stdout == (
        f"No results yet for {pending['id']}: it is due 2031-05-04 09:00 UTC.\n"
    )
    ok(cli_env, "tick")  # `send` delivered it already; the tick follows its run to its end
    [delivery] = standin.deliveries
    assert (delivery.agent_id, written(delivery.text)) == (agent, "Due now")

    [result] = js(cli_env, "results", "list")
    assert result["schedule_id"] == due["id"] and result["run_id"] == delivery.run_id
    assert result["status"] == "delivered" and result["schedule_type"] == "one-time"
    assert "message" not in result
    assert js(cli_env, "results", "get", due["id"]) == [result]
    assert js(cli_env, "results", "list", "--schedule-id", due["id"], "--limit", "1") == [result]
    assert js(cli_env, "results", "list", "--schedule-id", pending["id"]) == []
    lines = ok(cli_env, "results", "list").stdout.splitlines()
    assert lines[0] == "Results, newest first (1)"
    assert lines[1].split() == ["sent", "schedule", "type", "status", "run", "run", "id", "late", "message", "note"]
    assert f"{due['id']}  one-time  delivered  completed  {delivery.run_id}" in lines[3]
    assert delivery.run_id in ok(cli_env, "results", "get", due["id"]).stdout
    assert [s["id"] for s in js(cli_env, "onetime", "list")] == [pending["id"]]  # the delivered one is gone


def test_results_get_by_name_or_prefix_after_the_schedule_is_gone(
    cli_env: dict[str, str], agent: str, standin: LettaStandIn
) -> None:
    due = js(cli_env, "send", "--agent-id", agent, "-m", "Water the plants", "--name", "plants")
    assert js(cli_env, "onetime", "list") == []  # delivered, so no longer a schedule
    [delivery] = standin.deliveries
    by_name = js(cli_env, "results", "get", "plants")
    assert [(r["schedule_id"], r["run_id"]) for r in by_name] == [(due["id"], delivery.run_id)]
    assert js(cli_env, "results", "get", "PLANTS") == by_name  # a name ignoring case, as everywhere
    assert js(cli_env, "results", "get", due["id"][:8]) == by_name
    assert delivery.run_id in ok(cli_env, "results", "get", "plants").stdout
    # Two delivered messages with one name: refused, naming both.
    again = js(cli_env, "send", "--agent-id", agent, "-m", "Water them again", "--name", "plants")
    refused = cli(cli_env, "results", "get", "plants")
    assert refused.exit_code == 1
    assert refused.stderr.startswith('Error: "plants" matches the results of 2 schedules: ')
    assert due["id"] in refused.stderr and again["id"] in refused.stderr


# -- explain ----------------------------------------------------------------------------------------


def test_explain(cli_env: dict[str, str]) -> None:
    at = js(cli_env, "explain", "--at", "tomorrow at 9am", "--tz", "Europe/Berlin", "--now", NOW)
    assert at["kind"] == "one-time" and at["execute_at"] == "2026-03-11T08:00:00+00:00"
    weekdays = ["--every", "every weekday at 10am", "--tz", "Europe/Berlin", "--count", "3"]
    every = js(cli_env, "explain", *weekdays, "--now", NOW)
    assert (every["kind"], every["cron"], every["timezone"]) == ("recurring", "0 10 * * 1-5", "Europe/Berlin")
    assert every["next"] == ["2026-03-11T09:00:00+00:00", "2026-03-12T09:00:00+00:00", "2026-03-13T09:00:00+00:00"]
    assert every["description"] == "At 10:00 AM, Monday through Friday"
    shown = ok(cli_env, "explain", *weekdays, "--now", NOW).stdout
    assert shown.splitlines() == [
        "Recurring: 0 10 * * 1-5 in Europe/Berlin — At 10:00 AM, Monday through Friday. Next fires:",
        "  2026-03-11 10:00 CET  (2026-03-11 09:00 UTC)",
        "  2026-03-12 10:00 CET  (2026-03-12 09:00 UTC)",
        "  2026-03-13 10:00 CET  (2026-03-13 09:00 UTC)",
    ]
    once = ok(cli_env, "explain", "--at", "tomorrow at 9am", "--tz", "Europe/Berlin", "--now", NOW)
    assert once.stdout == "One-time: 2026-03-11 08:00 UTC = 2026-03-11 09:00 CET (Europe/Berlin).\n"
    past = ok(cli_env, "explain", "--at", "2020-01-01T00:00Z", "--now", NOW)
    assert past.stdout == "One-time: 2020-01-01 00:00 UTC.\n"
    assert past.stderr == (
        "Warning: that time is in the past: send refuses it (with --allow-past it is delivered at once)\n"
    )


# -- keys ------------------------------------------------------------------------------------------------


def test_keys_generate(cli_env: dict[str, str]) -> None:
    made = ok(cli_env, "keys", "generate")
    key = made.stdout.strip()
    codec_from_keys(key)  # a Fernet key, alone on stdout
    assert made.stdout == key + "\n" and "SWITCHBOARD_ENCRYPTION_KEY" in made.stderr
    codec_from_keys(js(cli_env, "keys", "generate")["key"])


def test_keys_rotate_then_drop_the_old_key(
    cli_env: dict[str, str], repo: Repo, agent: str, standin: LettaStandIn
) -> None:
    old = cli_env["SWITCHBOARD_ENCRYPTION_KEY"]
    js(cli_env, "send", "--agent-id", agent, "-m", "Delivered before the rotation")
    ok(cli_env, "tick")
    kept = js(cli_env, "send", "--agent-id", agent, "-m", "Still pending", "--at", "2031-05-04T09:00:00Z")
    rec = js(cli_env, "recurring", "create", "--agent-id", agent, "-m", "Weekly", "--cron", "0 9 * * 1")
    encrypted = sorted(f for f in repo.remote_files() if f.endswith(".enc"))
    assert {TENANT_KEY, *[f for f in encrypted if kept["id"] in f or rec["id"] in f]} <= set(encrypted)

    new = generate_key()
    both = cli_env | {"SWITCHBOARD_ENCRYPTION_KEY": f"{new},{old}"}
    assert js(both, "keys", "rotate") == {"reencrypted": len(encrypted)}
    assert repo.remote_log()[0] == "switchboard: re-encrypt data/ with the newest key"
    touched = git(repo.remote, "show", "--name-only", "--format=", "main").split()
    assert sorted(touched) == encrypted  # every file, in one commit

    only_new = cli_env | {"SWITCHBOARD_ENCRYPTION_KEY": new}
    assert [s["id"] for s in js(only_new, "onetime", "list")] == [kept["id"]]
    assert [s["id"] for s in js(only_new, "recurring", "list")] == [rec["id"]]
    assert js(only_new, "results", "list")[0]["run_id"] == standin.deliveries[0].run_id
    for path in encrypted:  # the new key alone opens every file
        codec_from_keys(new).decrypt((repo.clone / path).read_bytes())

    only_old = cli_env | {"SWITCHBOARD_ENCRYPTION_KEY": old}
    refused = cli(only_old, "onetime", "list")
    assert refused.exit_code == 1
    assert refused.stderr == (
        f"Error: cannot decrypt {TENANT_KEY} with the keys in SWITCHBOARD_ENCRYPTION_KEY — it was written with "
        f"another key: put that key in the list (comma-separated, newest first)\n"
    )
    assert ok(both, "keys", "rotate").stdout == (
        f"Re-encrypted {len(encrypted)} files with the newest key, in one commit. Set the repository secret "
        f"SWITCHBOARD_ENCRYPTION_KEY to that key too; the older keys can then be dropped.\n"
    )
    assert ok(only_new, "keys", "rotate").stdout.startswith(
        f"Re-encrypted {len(encrypted)} files with the only key in SWITCHBOARD_ENCRYPTION_KEY, in one commit. "
        f"To move to a new key, run `switchboard keys rotate --new`."
    )


def test_keys_rotate_right_after_init_updates_the_saved_key(
    cli_env: dict[str, str], repo: Repo, agent: str, tmp_path: Path
) -> None:
    env = cli_env | {"SWITCHBOARD_ENCRYPTION_KEY": ""}
    ok(env, "init")
    config = tmp_path / "config" / "letta-switchboard" / "config.json"
    first = json.loads(config.read_text())["encryption_key"]
    made = js(env, "send", "--agent-id", agent, "-m", "Kept across keys", "--at", "2031-05-04T09:00:00Z")

    # A new key in the environment, the old one only in the config file (what init left).
    second = generate_key()
    rotated = ok(env | {"SWITCHBOARD_ENCRYPTION_KEY": second}, "keys", "rotate").stdout
    assert rotated.splitlines()[-1] == f"Saved the newest key in {config} (mode 0600), in place of the older one."
    assert json.loads(config.read_text())["encryption_key"] == second
    assert [s["id"] for s in js(env, "onetime", "list")] == [made["id"]]  # the saved key alone opens it
    codec_from_keys(second).decrypt((repo.clone / TENANT_KEY).read_bytes())

    # --new makes the key itself, shows it once and saves it.
    third = js(env, "keys", "rotate", "--new")
    assert third["key"] not in (first, second) and third["config_file"] == str(config)
    assert json.loads(config.read_text())["encryption_key"] == third["key"]
    assert first not in json.dumps(third)
    for path in repo.remote_files():
        if path.endswith(".enc"):
            codec_from_keys(third["key"]).decrypt((repo.clone / path).read_bytes())
    assert [s["id"] for s in js(env, "onetime", "list")] == [made["id"]]

    # A key in the environment beats the file: rotating away from it says so, and the new key is saved.
    fourth = js(env | {"SWITCHBOARD_ENCRYPTION_KEY": third["key"]}, "keys", "rotate", "--new")
    assert fourth["environment_stale"] is True
    assert json.loads(config.read_text())["encryption_key"] == fourth["key"]
    assert [s["id"] for s in js(env, "onetime", "list")] == [made["id"]]


# -- import --------------------------------------------------------------------------------------------------


HOSTED_ONE_TIME = {
    "id": "6a4f8f6e-1c7e-4a43-9d7d-1d6d3f5e2b11",
    "agent_id": "agent-3f2b9c1e-8d4a-4b6e-9f0a-1c2d3e4f5a61",
    "message": "From the hosted service",
    "role": "user",
    "execute_at": "2031-05-04T09:00:00",
    "created_at": "2025-11-01T10:00:00.123456",
}
HOSTED_RECURRING = {
    "id": "legacy-7",
    "agent_id": "agent-3f2b9c1e-8d4a-4b6e-9f0a-1c2d3e4f5a61",
    "message": "Every morning",
    "role": "user",
    "cron": "0 9 * * *",
    "timezone": "UTC",
    "created_at": "2025-11-01T10:00:00",
    "last_run": "2025-11-05T09:00:00",
}


def test_import_the_hosted_services_lists(cli_env: dict[str, str], repo: Repo, tmp_path: Path) -> None:
    exported = tmp_path / "hosted.json"
    exported.write_text(json.dumps({"one_time": [HOSTED_ONE_TIME], "recurring": [HOSTED_RECURRING]}))
    before = len(repo.remote_log())
    made = js(cli_env, "import", str(exported), "--tz", "Europe/Berlin", "--now", NOW)
    assert made == {"one_time": 1, "recurring": 1, "unchanged": 0}
    assert repo.remote_log()[0] == "switchboard: import 2 schedules"
    assert len(repo.remote_log()) == before + 1  # everything in one commit (the tenant secret too)

    [one] = js(cli_env, "onetime", "list")
    assert one["id"] == HOSTED_ONE_TIME["id"]  # the hosted service's UUIDs are kept
    assert one["execute_at"] == "2031-05-04T07:00:00+00:00"  # no offset: read in --tz
    assert one["created_at"] == "2025-11-01T10:00:00.123456+00:00"  # its own timestamps were UTC
    [rec] = js(cli_env, "recurring", "list")
    assert rec["last_run"] == "2025-11-05T09:00:00+00:00"
    assert rec["next_run"] > "2026-03-10"  # no catching up on fires the hosted service already sent

    # The same file again adds nothing and commits nothing; a non-UUID id maps to the same UUID.
    log = repo.remote_log()
    assert js(cli_env, "import", str(exported)) == {"one_time": 0, "recurring": 0, "unchanged": 2}
    assert repo.remote_log() == log
    assert ok(cli_env, "import", str(exported)).stdout == ("Nothing to import; 2 were already there, left unchanged.\n")
    array = tmp_path / "array.json"
    array.write_text(json.dumps([HOSTED_RECURRING | {"id": "legacy-8"}]))
    assert ok(cli_env, "import", str(array)).stdout == (
        "Imported 0 one-time and 1 recurring schedules in one commit.\n"
    )


def test_import_shows_progress_on_large_files(cli_env: dict[str, str], repo: Repo, tmp_path: Path) -> None:
    items = [
        {
            "agent_id": "agent-3f2b9c1e-8d4a-4b6e-9f0a-1c2d3e4f5a62",
            "message": f"bulk {i}",
            "execute_at": f"2031-05-{1 + i % 28:02d}T{i % 24:02d}:00:00Z",
        }
        for i in range(500)
    ]
    exported = tmp_path / "bulk.json"
    exported.write_text(json.dumps(items))
    result = ok(cli_env, "import", str(exported), "--json")
    assert json.loads(result.stdout) == {"one_time": 500, "recurring": 0, "unchanged": 0}
    assert result.stderr.splitlines() == [
        "  checked 500/500",
        "  encrypted 500/500",
        "  committing 500 files in one commit…",
    ]
    assert repo.remote_log()[0] == "switchboard: import 500 schedules"
    assert len([f for f in repo.remote_files() if f.startswith(ONE_TIME)]) == 500


# -- config, init ------------------------------------------------------------------------------------------------


def test_config_commands(cli_env: dict[str, str], tmp_path: Path, repo: Repo) -> None:
    env = {k: v for k, v in cli_env.items() if k not in ("LETTA_API_KEY", "LETTA_BASE_URL", "SWITCHBOARD_REPO")}
    env |= {"LETTA_API_KEY": "", "LETTA_BASE_URL": "", "SWITCHBOARD_REPO": ""}
    path = tmp_path / "config" / "letta-switchboard" / "config.json"
    assert ok(env, "config", "set-api-key", "sk-let-from-file").stdout == f"Saved api_key in {path} (mode 0600).\n"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    ok(env, "config", "set-url", "http://localhost:8283/")
    (repo.clone / "deep").mkdir()
    ok(env, "config", "set-repo", str(repo.clone / "deep"))  # saved as the clone's top folder
    shown = js(env, "config", "show")
    assert shown["api_key"] == "set" and "sk-let-from-file" not in json.dumps(shown)
    assert shown["base_url"] == "http://localhost:8283" and shown["repo"] == str(repo.clone)
    assert shown["config_file"] == str(path)
    assert json.loads(path.read_text())["api_key"] == "sk-let-from-file"

    # An App Server is a ws:// (or wss://) address.
    ok(env, "config", "set-url", "ws://127.0.0.1:4500")
    assert js(env, "config", "show")["base_url"] == "ws://127.0.0.1:4500"
    ok(env, "config", "set-url", "http://localhost:8283/")

    # The environment beats the file; a flag beats both.
    assert js(env | {"LETTA_BASE_URL": "http://env:1"}, "config", "show")["base_url"] == "http://env:1"
    assert js(env | {"SWITCHBOARD_REPO": "/env"}, "--repo", "/flag", "config", "show")["repo"] == "/flag"

    # Asked for instead of typed: the key stays out of the shell history and off the screen.
    asked = ok(env, "config", "set-api-key", input="sk-let-typed\n")
    assert "sk-let-typed" not in asked.stdout + asked.stderr
    assert json.loads(path.read_text())["api_key"] == "sk-let-typed"

    assert js(env, "config", "set-repo", "--github", "octo/my-switchboard") == {
        "saved": "github_repo",
        "value": "octo/my-switchboard",
        "config_file": str(path),
        "removed": ["repo"],
    }
    assert js(env, "config", "set-api-key", "sk-let-again")["value"] == "set"
    shown = js(env, "config", "show")
    # One saved repository at a time: the clone saved above would otherwise be overruled, unseen.
    assert shown["github_repo"] == "octo/my-switchboard" and "repo" not in json.loads(path.read_text())
    back = ok(env, "config", "set-repo", str(repo.clone)).stdout
    assert back == f"Saved repo in {path} (mode 0600), instead of the saved github_repo.\n"
    assert "github_repo" not in json.loads(path.read_text())
    assert js(env, "config", "show")["repo"] == str(repo.clone)
    lines = ok(env, "config", "show").stdout.splitlines()
    assert lines[0] == "Settings (flags > environment > config file)"
    assert "api_key         set" in lines and "github_token    not set" in lines


def test_init_makes_the_tenant_secret_once(cli_env: dict[str, str], repo: Repo) -> None:
    first = ok(cli_env, "init").stdout
    assert "Using the encryption key from SWITCHBOARD_ENCRYPTION_KEY / the config file." in first
    assert f"Committed the tenant secret {TENANT_KEY} in git clone at {repo.clone} (pushing to origin)." in first
    assert repo.remote_log()[0] == "switchboard: create the tenant secret"
    assert cli_env["SWITCHBOARD_ENCRYPTION_KEY"] not in first
    again = js(cli_env, "init")
    assert again["tenant_secret_created"] is False and again["key_generated"] is False
    assert repo.remote_log().count("switchboard: create the tenant secret") == 1


def test_init_without_a_key_makes_one_and_keeps_it(cli_env: dict[str, str], repo: Repo, tmp_path: Path) -> None:
    env = cli_env | {"SWITCHBOARD_ENCRYPTION_KEY": ""}
    made = ok(env, "init").stdout
    saved = json.loads((tmp_path / "config" / "letta-switchboard" / "config.json").read_text())["encryption_key"]
    assert f"    {saved}" in made.splitlines()  # shown once, to be set as the repository secret
    codec_from_keys(saved).decrypt((repo.clone / TENANT_KEY).read_bytes())
    # Later commands find the key in the config file.
    assert js(env, "onetime", "list") == []


# -- output ----------------------------------------------------------------------------------------------


def test_json_is_all_there_is_on_stdout(cli_env: dict[str, str], agent: str) -> None:
    made = js(cli_env, "send", "--agent-id", agent, "-m", "x", "--at", "2031-05-04T09:00:00Z")
    rec = js(cli_env, "recurring", "create", "--agent-id", agent, "-m", "x", "--cron", "0 9 * * *")
    for args in (
        ["onetime", "list"], ["onetime", "get", made["id"]], ["recurring", "list"], ["recurring", "get", rec["id"]],
        ["recurring", "pause", rec["id"]], ["recurring", "resume", rec["id"]], ["results", "list"],
        ["results", "get", made["id"]], ["explain", "--at", "in 5 minutes"], ["config", "show"], ["keys", "generate"],
        ["init"], ["onetime", "delete", made["id"]], ["recurring", "delete", rec["id"]],
    ):  # fmt: skip
        js(cli_env, *args)


def test_tables_fit_a_narrow_terminal_and_keep_ids_whole() -> None:
    sid = "04fc2fbf-e3da-46af-bc43-2d5f9fc876ed"
    columns = [Column("id", keep=9), Column("next run", keep=8), Column("agent", keep=4, cut=True)]
    columns += [Column("message", keep=5, cut=True), Column("extra", keep=1)]
    rows = [[sid, "2026-11-30 10:00 CET", "agent-" + "a" * 40, "A long message " * 5, "x" * 30]]
    wide = render_table("T", columns, rows, None)
    assert wide[3].split("  ")[0] == sid and "A long message A long message" in wide[3]
    narrow = render_table("T", columns, rows, 80)
    assert narrow[0] == "T  (2 columns hidden; all in --json)"
    assert all(len(line) <= 80 for line in narrow)
    assert narrow[3].startswith(f"{sid}  2026-11-30 10:00 CET  ") and narrow[3].endswith("…")
    tiny = render_table("T", columns, rows, 40)
    assert tiny[3] == sid and "4 columns hidden" in tiny[0]


def test_a_narrow_table_shortens_ids_to_prefixes_before_hiding_the_message() -> None:
    sid, run = "04fc2fbf-e3da-46af-bc43-2d5f9fc876ed", "run-9d0c2c55-6a4e-4c1e-8a8e-0c4b7a5f3e21"
    columns = [Column("schedule", keep=7, short=8), Column("status", keep=8), Column("run id", keep=7, short=12)]
    columns += [Column("message", keep=6, cut=True)]
    rows = [[sid, "delivered", run, "Water the plants, and the ones on the balcony too"]]
    assert render_table("T", columns, rows, None)[3].split("  ")[0] == sid  # not a terminal: whole
    narrow = render_table("T", columns, rows, 60)
    assert narrow[0] == "T  (ids shortened; all in --json)"
    assert narrow[3].startswith("04fc2fbf  delivered  run-9d0c2c55  Water the plants") and narrow[3].endswith("…")
    assert all(len(line) <= 60 for line in narrow)
    assert render_table("T", columns, rows, 200)[3].startswith(f"{sid}  delivered  {run}")  # room enough: whole


def test_lists_fit_columns_and_show_the_message(cli_env: dict[str, str], agent: str) -> None:
    made = js(cli_env, "send", "--agent-id", agent, "-m", "Water the plants on the balcony, then the garden")
    narrow = cli_env | {"COLUMNS": "80"}
    results = ok(narrow, "results", "list").stdout.splitlines()
    assert all(len(line) <= 80 for line in results)
    assert results[3].split()[3:5] == [made["id"][:8], "delivered"]
    assert "Water the plants" in results[3]
    js(cli_env, "send", "--agent-id", agent, "-m", "Later, the garden", "--at", "2031-05-04T09:00:00Z")
    listed = ok(narrow, "onetime", "list").stdout.splitlines()
    assert all(len(line) <= 80 for line in listed) and "Later, the garden" in listed[3]
    assert made["id"] not in ok(narrow, "results", "list").stdout
    assert made["id"] in ok(cli_env | {"COLUMNS": ""}, "results", "list").stdout  # piped: ids whole


def test_without_a_letta_key_it_says_so(cli_env: dict[str, str], agent: str) -> None:
    env = cli_env | {"LETTA_API_KEY": ""}
    made = cli(env, "send", "--agent-id", agent, "-m", "x", "--at", "2031-05-04T09:00:00Z", "--json")
    assert made.exit_code == 0 and json.loads(made.stdout)["agent_id"] == agent
    assert made.stderr.startswith("Warning: LETTA_API_KEY is not set, so this schedule carries no Letta key")
    assert ok(cli_env, "onetime", "list").stdout.startswith("No one-time schedules for this Letta key.")
    assert ok(env, "results", "list").stdout.endswith(
        "LETTA_API_KEY is not set, and schedules are kept per Letta key: set it "
        "(or run `switchboard config set-api-key`).\n"
    )


# -- the real process ---------------------------------------------------------------------------------------------


def test_python_m_switchboard_help() -> None:
    proc = subprocess.run([sys.executable, "-m", "switchboard", "--help"], capture_output=True, text=True, cwd=ROOT)
    assert proc.returncode == 0 and proc.stderr == ""
    for command in ("send", "onetime", "recurring", "results", "explain", "keys", "import", "config", "init", "demo"):
        assert command in proc.stdout


def test_both_console_scripts_exist() -> None:
    scripts = {e.name: e.value for e in entry_points(group="console_scripts")}
    assert scripts["letta-switchboard"] == scripts["switchboard"] == "switchboard.cli:run"
    installed = Path(sys.executable).parent / "letta-switchboard"
    assert installed.exists()
    proc = subprocess.run([str(installed), "keys", "generate"], capture_output=True, text=True)
    assert proc.returncode == 0
    codec_from_keys(proc.stdout.strip())


def test_as_a_real_process(cli_env: dict[str, str], repo: Repo, agent: str) -> None:
    made = run_cli("send", "--agent-id", agent, "-m", "From a process", "--at", "in 2 days", "--json", env=cli_env)
    assert made.returncode == 0, made.stderr
    sid = json.loads(made.stdout)["id"]
    listed = run_cli("onetime", "list", "--json", env=cli_env)
    assert [s["id"] for s in json.loads(listed.stdout)] == [sid]
    missing = run_cli("send", "--agent-id", agent, env=cli_env)
    assert (missing.returncode, missing.stdout) == (1, "")
    assert missing.stderr == "Error: missing option '--message' / '-m' — see `switchboard send --help`\n"
    wrong = run_cli("onetime", "list", env=cli_env | {"SWITCHBOARD_ENCRYPTION_KEY": generate_key()})
    assert wrong.returncode == 1 and wrong.stderr.startswith(f"Error: cannot decrypt {TENANT_KEY}")
    assert "Traceback" not in wrong.stderr and wrong.stderr.count("\n") == 1


def test_concurrent_commands_from_two_clones_both_land(cli_env: dict[str, str], repo: Repo, agent: str) -> None:
    ok(cli_env, "init")  # the tenant secret exists, as in any repository in use
    clones = [repo.clone, repo.another_clone("laptop")]
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SWITCHBOARD_", "LETTA_", "GITHUB_"))}
    send = ["send", "--agent-id", agent, "--at", "2031-05-04T09:00:00Z", "--json"]
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "switchboard", "--repo", str(clone), *send, "-m", f"from {n}"],
            env=env | cli_env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for n, clone in enumerate(clones)
    ]
    outputs = [p.communicate(timeout=120) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outputs
    ids = {json.loads(out)["id"] for out, _ in outputs}
    assert {s["id"] for s in js(cli_env, "onetime", "list")} == ids
    assert sum(s.startswith("switchboard: add one-time") for s in repo.remote_log()) == 2


def test_a_letta_key_is_never_printed(cli_env: dict[str, str], agent: str) -> None:
    outputs = [
        cli(cli_env, "send", "--agent-id", agent, "-m", "x"),
        cli(cli_env, "onetime", "list"),
        cli(cli_env, "config", "show"),
        cli(cli_env, "tick"),
        cli(cli_env, "results", "list", "--json"),
    ]
    for result in outputs:
        assert LETTA_KEY not in result.stdout + result.stderr
        assert cli_env["SWITCHBOARD_ENCRYPTION_KEY"] not in result.stdout + result.stderr
