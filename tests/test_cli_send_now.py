"""`switchboard send` with no time and `switchboard recurring run`: delivered from the CLI process itself.

A real clone with a bare remote and the Letta stand-in (conftest's ``cli_env``);
commands run through ``cli.main`` in this process (the same code as the real
command, without the interpreter start-up), and the race against a tick runs
both as real processes. Exit codes and the exact lines printed are asserted.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from api_server import free_port
from conftest import ROOT, Repo, clone_of, git, run_cli

from switchboard.cli import main
from switchboard.envelope import written
from switchboard.testing.letta import LettaStandIn

Run = tuple[int, str, str]


def cli(capsys: pytest.CaptureFixture[str], *args: str) -> Run:
    """A command in this process: (exit status, stdout, stderr)."""
    capsys.readouterr()
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def agent(standin: LettaStandIn) -> str:
    return standin.add_agent()


def closed_port_url() -> str:
    """A Letta base URL nothing listens on (a self-hosted Letta only the runner reaches)."""
    return f"http://127.0.0.1:{free_port()}"


def refused_line(url: str, agent: str) -> str:
    return (
        f"could not connect to Letta at {url} while sending to agent {agent} on {url} "
        "(ConnectError: [Errno 111] Connection refused) — is the server running and LETTA_BASE_URL right? will retry"
    )


# -- send -------------------------------------------------------------------------------------------


def test_send_with_no_time_prints_the_run_id(
    cli_env: dict[str, str], repo: Repo, standin: LettaStandIn, agent: str, capsys: Any
) -> None:
    before = len(repo.remote_log())
    code, out, err = cli(capsys, "send", "--agent-id", agent, "-m", "Right now")
    assert (code, err) == (0, "")
    [delivery] = standin.deliveries
    record, claim = repo.remote_log()[:2]
    assert record.startswith("switchboard: tick delivered 1, failed 0, put back 0, deferred 0 (")
    sid = claim.removeprefix("switchboard: add one-time ").split(",")[0]
    assert out == f"Delivered one-time {sid} to agent {agent}: Letta run {delivery.run_id}.\n"
    assert len(repo.remote_log()) - before == 2  # the claim commit and the record commit, both pushed
    code, out, _ = cli(capsys, "results", "get", sid, "--json")
    [result] = json.loads(out)
    assert (result["status"], result["run_id"], result["manual"]) == ("delivered", delivery.run_id, False)
    assert json.loads(cli(capsys, "onetime", "list", "--json")[1]) == []


def test_send_json_is_the_schedule_and_its_result(
    cli_env: dict[str, str], standin: LettaStandIn, agent: str, capsys: Any
) -> None:
    code, out, err = cli(
        capsys, "send", "--agent-id", agent, "-m", "As JSON", "--at", "2020-01-01T00:00:00Z", "--allow-past", "--json"
    )
    assert (code, err) == (0, "")
    made = json.loads(out)
    assert set(made) == {
        "id", "name", "agent_id", "message", "role", "conversation", "execute_at", "timezone", "created_at", "envelope",
        "clock",
        "result",
    }  # fmt: skip
    assert made["execute_at"] == "2020-01-01T00:00:00+00:00"  # already due: delivered now, late
    [delivery] = standin.deliveries
    assert made["result"]["run_id"] == delivery.run_id and made["result"]["schedule_id"] == made["id"]
    assert made["result"]["lateness_s"] > 0


def test_send_json_result_carries_the_name_as_results_list_does(
    cli_env: dict[str, str], standin: LettaStandIn, agent: str, capsys: Any
) -> None:
    code, out, _ = cli(capsys, "send", "--agent-id", agent, "-m", "Named", "--name", "plants", "--json")
    assert code == 0
    made = json.loads(out)
    [listed] = json.loads(cli(capsys, "results", "list", "--json")[1])
    assert made["result"] == listed and made["result"]["name"] == "plants"


def test_a_permanent_letta_error_is_a_failed_result_and_an_error_line(
    cli_env: dict[str, str], standin: LettaStandIn, agent: str, capsys: Any
) -> None:
    standin.fail(agent, 404, detail="Agent not found")
    code, out, err = cli(capsys, "send", "--agent-id", agent, "-m", "To nobody", "--json")
    assert code == 1
    made = json.loads(out)
    assert made["result"]["status"] == "failed" and made["result"]["http_status"] == 404
    assert err == (
        f"Error: one-time {made['id']} was not delivered (recorded as failed): agent {agent} not found on "
        f"{standin.base_url} (404) — check --agent-id (Letta said: Agent not found)\n"
    )
    assert json.loads(cli(capsys, "onetime", "list", "--json")[1]) == []  # not retried: it failed for good


def test_letta_out_of_reach_leaves_it_to_the_tick(
    cli_env: dict[str, str], repo: Repo, standin: LettaStandIn, agent: str, capsys: Any, monkeypatch: Any
) -> None:
    url = closed_port_url()
    monkeypatch.setenv("LETTA_BASE_URL", url)
    code, out, err = cli(capsys, "send", "--agent-id", agent, "-m", "Via the tick")
    assert code == 0
    [pending] = json.loads(cli(capsys, "onetime", "list", "--json")[1])
    assert out == f"Scheduled one-time {pending['id']} now (agent {agent}).\n"
    # A clone whose origin is not on GitHub has no workflow to dispatch: the local tick delivers.
    assert err == f"Not delivered from here, so left to the tick: {refused_line(url, agent)}\n"
    assert repo.remote_log()[0].startswith("switchboard: tick delivered 0, failed 0, put back 0, deferred 1 (")
    assert json.loads(cli(capsys, "results", "list", "--json")[1]) == []


def test_no_deliver_only_stores_it(
    cli_env: dict[str, str], repo: Repo, standin: LettaStandIn, agent: str, capsys: Any
) -> None:
    code, out, err = cli(capsys, "send", "--agent-id", agent, "-m", "Stored only", "--no-deliver")
    assert (code, err) == (0, "")
    [pending] = json.loads(cli(capsys, "onetime", "list", "--json")[1])
    assert out == f"Scheduled one-time {pending['id']} now (agent {agent}).\n"
    assert repo.remote_log()[0] == f"switchboard: add one-time {pending['id']}"
    assert standin.deliveries == []


# -- recurring run ----------------------------------------------------------------------------------


def _recurring(capsys: Any, agent: str) -> dict[str, Any]:
    code, out, err = cli(
        capsys, "recurring", "create", "--agent-id", agent, "-m", "Stand-up", "--cron", "0 10 * * *", "--json"
    )
    assert code == 0, err
    made: dict[str, Any] = json.loads(out)
    return made


def test_recurring_run_sends_one_manual_fire(
    cli_env: dict[str, str], standin: LettaStandIn, agent: str, capsys: Any
) -> None:
    made = _recurring(capsys, agent)
    code, out, err = cli(capsys, "recurring", "run", made["id"])
    assert (code, err) == (0, "")
    [delivery] = standin.deliveries
    next_run = made["next_run"].replace("T", " ")[:16]
    assert out == (
        f"Ran recurring {made['id']} now (agent {agent}): Letta run {delivery.run_id}. Next run still {next_run} UTC.\n"
    )
    code, out, _ = cli(capsys, "recurring", "run", made["id"], "--json")
    ran = json.loads(out)
    assert ran["result"]["manual"] is True and ran["result"]["status"] == "delivered"
    assert (ran["last_run"], ran["next_run"]) == (made["last_run"], made["next_run"])
    after = json.loads(cli(capsys, "recurring", "get", made["id"], "--json")[1])
    assert (after["last_run"], after["next_run"], after["status"]) == (None, made["next_run"], "active")
    code, out, _ = cli(capsys, "results", "list")
    assert out.count("manual run") == 2
    assert [written(d.text) for d in standin.deliveries] == ["Stand-up", "Stand-up"]


def test_recurring_run_errors(
    cli_env: dict[str, str], standin: LettaStandIn, agent: str, capsys: Any, monkeypatch: Any
) -> None:
    missing = "0b7c6a7e-3f1d-4d0e-9a55-2b1c3d4e5f60"
    assert cli(capsys, "recurring", "run", missing) == (
        1, "", f"Error: no recurring schedule with id {missing} for this Letta key — list them with "
        "`switchboard recurring list`\n",
    )  # fmt: skip
    made = _recurring(capsys, agent)
    standin.fail(agent, 404, detail="Agent not found")
    code, out, err = cli(capsys, "recurring", "run", made["id"])
    assert (code, out) == (1, "")
    assert err == (
        f"Error: the manual run of recurring {made['id']} was not delivered (recorded as failed): agent {agent} "
        f"not found on {standin.base_url} (404) — check --agent-id (Letta said: Agent not found)\n"
    )
    # A manual run does not pause the schedule: its own fires go on.
    assert json.loads(cli(capsys, "recurring", "get", made["id"], "--json")[1])["status"] == "active"

    # Made with the stand-in's URL, run where Letta cannot be reached: nothing is sent, the claim is let go.
    url = closed_port_url()
    monkeypatch.setenv("LETTA_BASE_URL", url)
    made = _recurring(capsys, agent)
    code, out, err = cli(capsys, "recurring", "run", made["id"])
    assert (code, out) == (1, "")
    assert err == (
        f"Error: nothing was sent: {refused_line(url, agent)} — a manual run is sent from this machine; run it "
        "where Letta can be reached, or wait for the schedule's next fire\n"
    )
    code, _, _ = cli(capsys, "recurring", "run", made["id"])
    assert code == 1  # not "busy": the claim was released


# -- racing a tick, as processes --------------------------------------------------------------------


def _start(args: list[str], env: dict[str, str], cwd: Path) -> subprocess.Popen[str]:
    full = {k: v for k, v in os.environ.items() if not k.startswith(("SWITCHBOARD_", "LETTA_", "GITHUB_"))}
    full.update(env)
    return subprocess.Popen(
        [sys.executable, "-m", "switchboard", *args],
        cwd=cwd,
        env=full,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_send_and_a_tick_in_two_processes_send_nothing_twice(
    cli_env: dict[str, str], repo: Repo, standin: LettaStandIn, agent: str
) -> None:
    """`send` and `tick` start together from two clones, 4 times; every message reaches the stand-in once."""
    other = clone_of(repo.remote, repo.clone.parent / "runner")
    tick_env = {**cli_env, "SWITCHBOARD_REPO": str(other)}
    expected: list[str] = []
    for round_ in range(4):
        # Something due for the tick, to the same agent as the send.
        seeded = run_cli("send", "--agent-id", agent, "-m", f"due {round_}", "--no-deliver", env=cli_env)
        assert seeded.returncode == 0, seeded.stderr
        expected += [f"due {round_}", f"sent {round_}"]
        procs = [
            _start(["send", "--agent-id", agent, "-m", f"sent {round_}"], cli_env, ROOT),
            _start(["tick"], tick_env, ROOT),
        ]
        for proc in procs:
            _, err = proc.communicate(timeout=120)
            assert proc.returncode == 0, err
    deadline = time.monotonic() + 60
    while len(standin.deliveries) < len(expected) and time.monotonic() < deadline:
        # Whatever was left to the tick (the agent was busy with the other process), the next tick sends.
        assert run_cli("tick", env=tick_env).returncode == 0
    counts = Counter(written(d.text) for d in standin.deliveries)
    assert counts == Counter(expected)
    git(other, "pull", "--quiet")
    assert not any(p.startswith("data/schedules/") for p in repo.remote_files())
