"""`switchboard dispatch`, and `send` starting the tick workflow by itself.

The pure parts (the workflow's cron, the next scheduled tick, what a send
should do) take `now`; the rest runs against the GitHub stand-in over real
HTTP. A clone "on github.com" is a real clone whose origin URL is
https://github.com/…, rewritten by git's `url.<base>.insteadOf` to a bare
repository in tmp_path, so pushes land locally and the Actions calls go to the
stand-in.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from conftest import ROOT, Repo, git, github_mode_env

from switchboard.actions.dispatch import (
    DEFAULT_CRONS,
    cadence,
    check_hold,
    format_hold,
    github_target,
    next_tick,
    open_actions,
    parse_github_url,
    plan_send,
    wait_for_run,
    workflow_crons,
)
from switchboard.cli import main
from switchboard.config import resolve
from switchboard.exceptions import GitHubError, InvalidInputError
from switchboard.testing.github import GitHubStandIn
from switchboard.testing.letta import LettaStandIn

REPO = "octo/switchboard"
TOKEN = "ghp_DispatchToken0123456789abcdefABCDEF"
SHIPPED = (ROOT / ".github" / "workflows" / "tick.yml").read_text(encoding="utf-8")


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


# -- the schedule ------------------------------------------------------------------------


def test_the_shipped_workflow_cron_is_read() -> None:
    assert workflow_crons(SHIPPED) == ("17,47 * * * *",)
    assert workflow_crons(None) == DEFAULT_CRONS
    assert workflow_crons("on:\n  workflow_dispatch:\n") == DEFAULT_CRONS
    text = "on:\n  schedule:\n    - cron: '5 * * * *'  # hourly\n    - cron: \"35 * * * *\"\n"
    assert workflow_crons(text) == ("5 * * * *", "35 * * * *")


@pytest.mark.parametrize(
    ("now", "expected"),
    [
        ("2030-03-10T10:10:00", "2030-03-10T10:17:00"),
        ("2030-03-10T10:17:00", "2030-03-10T10:47:00"),  # strictly after: a tick at :17 has started
        ("2030-03-10T10:50:30", "2030-03-10T11:17:00"),
        ("2030-12-31T23:48:00", "2031-01-01T00:17:00"),
    ],
)
def test_next_scheduled_tick(now: str, expected: str) -> None:
    assert next_tick(DEFAULT_CRONS, at(now)) == at(expected)


def test_cadence_is_the_longest_gap() -> None:
    monday = at("2030-03-11T00:00:00")
    assert cadence(DEFAULT_CRONS, monday) == timedelta(minutes=30)
    assert cadence(("17 * * * *",), monday) == timedelta(hours=1)
    assert cadence(("5 * * * *", "35 * * * *"), monday) == timedelta(minutes=30)
    assert cadence(("0 9 * * 1-5",), monday) == timedelta(days=3)  # Friday 9:00 to Monday 9:00


def test_hold_format_and_limit() -> None:
    assert format_hold(timedelta(0)) == "0m"
    assert format_hold(timedelta(minutes=5)) == "5m"
    assert format_hold(timedelta(seconds=270)) == "270s"
    assert format_hold(timedelta(seconds=270.2)) == "271s"  # rounded up: the hold must reach the due time
    assert check_hold(timedelta(minutes=30)) == timedelta(minutes=30)
    with pytest.raises(InvalidInputError, match="over 30m"):
        check_hold(timedelta(minutes=31))


@pytest.mark.parametrize(
    ("due", "dispatch", "hold"),
    [
        ("2030-03-10T10:10:00", True, timedelta(0)),  # now
        ("2030-03-10T09:00:00", True, timedelta(0)),  # overdue
        ("2030-03-10T10:15:00", True, timedelta(minutes=5)),  # before the 10:17 tick: held until due
        ("2030-03-10T10:17:00", False, timedelta(0)),  # the 10:17 tick delivers it
        ("2030-03-10T12:00:00", False, timedelta(0)),
    ],
)
def test_plan_send(due: str, dispatch: bool, hold: timedelta) -> None:
    plan = plan_send(at(due), at("2030-03-10T10:10:00"), DEFAULT_CRONS)
    assert (plan.dispatch, plan.hold, plan.next_tick) == (dispatch, hold, at("2030-03-10T10:17:00"))


def test_plan_send_never_holds_past_30_minutes() -> None:
    hourly = ("17 * * * *",)
    plan = plan_send(at("2030-03-10T11:05:00"), at("2030-03-10T10:20:00"), hourly)
    assert plan.next_tick == at("2030-03-10T11:17:00")
    assert not plan.dispatch  # due before the next tick, but 45 minutes away: the tick delivers it


@pytest.mark.parametrize(
    ("url", "repo"),
    [
        ("https://github.com/octo/switchboard.git", REPO),
        ("https://github.com/octo/switchboard", REPO),
        ("https://github.com/octo/my.repo-1/", "octo/my.repo-1"),
        ("https://x-access-token:ghs_abc@github.com/octo/switchboard", REPO),
        ("git@github.com:octo/switchboard.git", REPO),
        ("ssh://git@github.com/octo/switchboard.git", REPO),
        ("ssh://git@github.com:22/octo/switchboard", REPO),
        ("https://gitlab.com/octo/switchboard.git", None),
        ("https://github.com.evil.example/octo/switchboard", None),
        ("/srv/git/switchboard.git", None),
        ("https://github.com/octo", None),
    ],
)
def test_github_url(url: str, repo: str | None) -> None:
    assert parse_github_url(url) == repo


# -- the GitHub side -----------------------------------------------------------------------


@pytest.fixture
def github() -> Iterator[GitHubStandIn]:
    with GitHubStandIn(REPO, TOKEN, files={".github/workflows/tick.yml": SHIPPED.encode()}) as server:
        yield server


@pytest.fixture
def api_env(
    tmp_path: Path, github: GitHubStandIn, standin: LettaStandIn, key: str, monkeypatch: pytest.MonkeyPatch
) -> dict[str, str]:
    """A laptop with no clone that names the repository (API mode)."""
    return github_mode_env(
        monkeypatch, tmp_path, key=key, letta_url=standin.base_url, github_url=github.base_url, repo=REPO, token=TOKEN
    )


def cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    capsys.readouterr()
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def finish_newest_run(github: GitHubStandIn, conclusion: str = "success") -> None:
    """What GitHub does when the dispatched run ends (the stand-in queues it and leaves it there)."""
    with github._lock:
        run = github._workflows["tick.yml"].runs[0]
        run.update(status="completed", conclusion=conclusion)


def test_dispatch_sends_the_inputs(api_env: dict[str, str], github: GitHubStandIn, capsys: Any) -> None:
    code, out, err = cli(capsys, "dispatch")
    assert code == 0, err
    assert github.dispatches == [{"workflow": "tick.yml", "ref": "main", "inputs": {}}]
    assert out.startswith(f"Started the tick workflow in {REPO} on main (no inputs).")
    code, out, err = cli(capsys, "dispatch", "--hold", "90s", "--dry-run", "--json")
    assert code == 0, err
    assert json.loads(out) == {
        "repository": REPO,
        "ref": "main",
        "inputs": {"hold": "90s", "dry_run": "true"},
        "run": None,
    }
    assert github.dispatches[-1]["inputs"] == {"hold": "90s", "dry_run": "true"}


def test_dispatch_errors_are_raised(
    api_env: dict[str, str], github: GitHubStandIn, capsys: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    code, _, err = cli(capsys, "dispatch", "--hold", "45m")
    assert code == 1
    assert err == (
        "Error: a hold of 45m is over 30m — the tick workflow stops at 40 minutes; use at most 30m "
        "(every held minute is a billed minute in a private repository)\n"
    )
    assert github.requests == []  # refused before any request

    github.set_workflow("tick.yml", "disabled_fork")
    code, _, err = cli(capsys, "dispatch")
    assert code == 1
    assert err.startswith(
        "Error: starting workflow tick.yml on octo/switchboard failed: GitHub answered 422 "
        "(Cannot trigger a 'workflow_dispatch' on a disabled workflow) — check that tick.yml has a "
        "workflow_dispatch trigger and is enabled"
    )
    assert github.dispatches == []

    monkeypatch.delenv("GITHUB_TOKEN")
    code, _, err = cli(capsys, "dispatch")
    assert code == 1
    assert err.startswith("Error: starting the workflow in octo/switchboard needs GITHUB_TOKEN")


def finish_when_dispatched(github: GitHubStandIn, conclusion: str = "success") -> threading.Thread:
    """A thread that ends the dispatched run a moment after the dispatch arrives."""

    def work() -> None:
        deadline = time.monotonic() + 30
        while not github.dispatches and time.monotonic() < deadline:
            time.sleep(0.02)
        time.sleep(0.5)  # let --wait see it queued first
        finish_newest_run(github, conclusion)

    worker = threading.Thread(target=work)
    worker.start()
    return worker


def test_dispatch_wait_follows_the_run(api_env: dict[str, str], github: GitHubStandIn, capsys: Any) -> None:
    github.add_run("tick.yml", status="completed", conclusion="success")  # an older scheduled run
    worker = finish_when_dispatched(github)
    code, out, err = cli(capsys, "dispatch", "--wait", "--poll", "0.1", "--timeout", "20")
    worker.join()
    assert code == 0, err
    lines = out.splitlines()
    assert lines[0].startswith("Started the tick workflow")
    assert lines[1].startswith("  queued: https://github.com/octo/switchboard/actions/runs/")
    assert lines[-1].startswith("The tick run succeeded: https://github.com/octo/switchboard/actions/runs/")


def test_dispatch_wait_fails_when_the_run_fails(api_env: dict[str, str], github: GitHubStandIn, capsys: Any) -> None:
    worker = finish_when_dispatched(github, "failure")
    code, out, err = cli(capsys, "dispatch", "--wait", "--poll", "0.1", "--timeout", "20", "--json")
    worker.join()
    assert code == 1
    assert json.loads(out)["run"]["conclusion"] == "failure"
    assert err.startswith("Error: the tick run ended failure — open https://github.com/octo/switchboard/actions/runs/")


def test_wait_is_bounded(api_env: dict[str, str], github: GitHubStandIn) -> None:
    actions = open_actions(resolve())
    before = actions.last_workflow_run("tick.yml")
    ticks = iter(range(1000))
    with pytest.raises(GitHubError, match=r"the tick run has not appeared after 3s — GitHub may be queueing it"):
        wait_for_run(actions, before, timeout=3, poll=1, sleep=lambda _: None, clock=lambda: float(next(ticks)))
    actions.dispatch_workflow("tick.yml")
    before_ticks = iter(range(1000))
    with pytest.raises(GitHubError, match=r"the tick run is still queued after 2s"):
        wait_for_run(actions, before, timeout=2, poll=1, sleep=lambda _: None, clock=lambda: float(next(before_ticks)))


# -- send ------------------------------------------------------------------------------------


def test_send_now_dispatches_and_says_so(
    api_env: dict[str, str], github: GitHubStandIn, standin: LettaStandIn, capsys: Any
) -> None:
    agent = standin.add_agent()
    code, out, err = cli(capsys, "send", "--no-deliver", "--agent-id", agent, "-m", "Right now")
    assert code == 0, err
    assert github.dispatches == [{"workflow": "tick.yml", "ref": "main", "inputs": {}}]
    assert out.splitlines()[1] == (
        f"Started the tick workflow in {REPO}: delivery once GitHub runs it, usually within a minute or two. "
        f"Runs: https://github.com/{REPO}/actions/workflows/tick.yml"
    )


def test_send_now_delivers_from_here_without_a_dispatch(
    api_env: dict[str, str], github: GitHubStandIn, standin: LettaStandIn, capsys: Any
) -> None:
    agent = standin.add_agent()
    code, out, err = cli(capsys, "send", "--agent-id", agent, "-m", "Right here")
    assert code == 0, err
    [delivery] = standin.deliveries
    assert out.endswith(f" to agent {agent}: Letta run {delivery.run_id}.\n") and err == ""
    assert github.dispatches == []


def test_send_now_with_letta_out_of_reach_dispatches_the_tick(
    api_env: dict[str, str], github: GitHubStandIn, standin: LettaStandIn, capsys: Any
) -> None:
    agent = standin.add_agent()
    standin.down()  # a self-hosted Letta only the runner reaches
    code, out, err = cli(capsys, "send", "--agent-id", agent, "-m", "Via the runner", "--json")
    assert code == 0, err
    made = json.loads(out)
    assert made["message"] == "Via the runner" and made["result"] is None
    first, second = err.splitlines()
    assert first.startswith(
        f"Not delivered from here, so left to the tick: could not connect to Letta at {standin.base_url}"
    )
    assert second.startswith(f"Started the tick workflow in {REPO}: delivery once GitHub runs it")
    assert github.dispatches == [{"workflow": "tick.yml", "ref": "main", "inputs": {}}]
    code, out, _ = cli(capsys, "onetime", "list", "--json")
    assert [s["id"] for s in json.loads(out)] == [made["id"]]  # stored, unclaimed: the tick sends it
    standin.up()
    code, out, _ = cli(capsys, "tick", "--json")
    assert code == 0 and json.loads(out)["delivered"] == 1
    assert [d.text for d in standin.deliveries] == ["Via the runner"]


def test_send_later_or_with_no_dispatch_leaves_it_to_the_schedule(
    api_env: dict[str, str], github: GitHubStandIn, standin: LettaStandIn, capsys: Any
) -> None:
    agent = standin.add_agent()
    now = "2030-03-10T10:10:00Z"
    code, out, _ = cli(capsys, "send", "--agent-id", agent, "-m", "Later", "--now", now, "--at", "2030-03-10T10:30Z")
    assert code == 0 and len(out.splitlines()) == 1
    code, out, _ = cli(capsys, "send", "--agent-id", agent, "-m", "Not now", "--no-dispatch")
    assert code == 0 and len(out.splitlines()) == 1
    code, _, _ = cli(capsys, "onetime", "create", "--agent-id", agent, "-m", "Nor now", "--no-dispatch")
    assert code == 0
    assert github.dispatches == []


def test_a_failed_dispatch_never_fails_the_send(
    api_env: dict[str, str], github: GitHubStandIn, standin: LettaStandIn, capsys: Any
) -> None:
    agent = standin.add_agent()
    github.set_workflow("tick.yml", "disabled_inactivity")
    code, out, err = cli(capsys, "send", "--no-deliver", "--agent-id", agent, "-m", "Still stored", "--json",
                         "--now", "2030-03-10T10:10:00Z")  # fmt: skip
    assert code == 0
    assert json.loads(out)["message"] == "Still stored"  # stdout stays JSON
    assert err.startswith("Warning: Stored, but starting the tick workflow failed: starting workflow tick.yml")
    assert err.rstrip().endswith(
        "— the scheduled tick at 10:17 UTC delivers it (or run `switchboard dispatch` when fixed)."
    )
    code, out, _ = cli(capsys, "onetime", "list", "--json")
    assert [s["message"] for s in json.loads(out)] == ["Still stored"]


# -- send from a clone whose origin is on github.com -----------------------------------------


def on_github(repo: Repo) -> None:
    """Point the clone's origin at github.com, and let git carry it to the bare remote."""
    git(repo.clone, "remote", "set-url", "origin", f"https://github.com/{REPO}.git")
    git(repo.clone, "config", f"url.{repo.remote}.insteadOf", f"https://github.com/{REPO}.git")


def test_send_from_a_github_clone_dispatches_on_its_branch(
    cli_env: dict[str, str],
    repo: Repo,
    github: GitHubStandIn,
    standin: LettaStandIn,
    monkeypatch: pytest.MonkeyPatch,
    capsys: Any,
) -> None:
    on_github(repo)
    monkeypatch.setenv("GITHUB_TOKEN", TOKEN)
    monkeypatch.setenv("SWITCHBOARD_GITHUB_API_URL", github.base_url)
    target = github_target(resolve())
    assert (target.repo, target.branch, target.source) == (REPO, "main", "origin")
    agent = standin.add_agent()
    code, out, err = cli(capsys, "send", "--no-deliver", "--agent-id", agent, "-m", "From the clone")
    assert code == 0, err
    assert any(p.startswith("data/schedules/one-time/") for p in repo.remote_files())  # pushed through git
    assert github.dispatches == [{"workflow": "tick.yml", "ref": "main", "inputs": {}}]
    assert f"Started the tick workflow in {REPO}" in out


def test_send_from_a_github_clone_without_a_token_says_how(
    cli_env: dict[str, str], repo: Repo, standin: LettaStandIn, capsys: Any
) -> None:
    on_github(repo)
    agent = standin.add_agent()
    code, _out, err = cli(
        capsys, "send", "--no-deliver", "--agent-id", agent, "-m", "No token", "--now", "2030-03-10T10:50:00Z"
    )
    assert code == 0
    assert err == (
        "Warning: Not starting the tick workflow: GITHUB_TOKEN is not set — the scheduled tick at 11:17 UTC "
        "delivers it (or run `switchboard dispatch` when fixed). A token with Actions: read and write on "
        f"{REPO} makes send deliver right away.\n"
    )


def test_send_from_a_clone_not_on_github_says_nothing(
    cli_env: dict[str, str], repo: Repo, standin: LettaStandIn, capsys: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GITHUB_TOKEN", TOKEN)
    agent = standin.add_agent()
    code, out, err = cli(capsys, "send", "--agent-id", agent, "-m", "Local only")
    assert code == 0 and err == ""
    assert len(out.splitlines()) == 1
