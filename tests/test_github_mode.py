"""Every CLI command in GitHub API mode, with no clone: `--github OWNER/NAME` or SWITCHBOARD_GITHUB_REPO.

The commands run from a directory that is not a git repository, against the
GitHub stand-in (switchboard/testing/github.py, real HTTP on 127.0.0.1, reached
through SWITCHBOARD_GITHUB_API_URL) and the Letta stand-in. One test runs the
real `switchboard` process; the rest call `cli.main` in this process, which is
the same code without the interpreter start-up.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from conftest import LETTA_KEY, github_mode_env, run_cli

from switchboard.cli import main
from switchboard.crypto import codec_from_keys, generate_key
from switchboard.store import ONE_TIME, RECURRING, RESULTS, RUNS, TENANT_KEY
from switchboard.testing.github import GitHubStandIn
from switchboard.testing.letta import LettaStandIn

REPO = "octo/my-switchboard"
TOKEN = "ghp_GitHubModeToken0123456789abcdefABCD"
TICK_YML = (Path(__file__).resolve().parents[1] / ".github" / "workflows" / "tick.yml").read_bytes()


class RacingStandIn(GitHubStandIn):
    """The GitHub stand-in, plus a hook run just before it answers the next ref update."""

    before_ref_update: Callable[[], None] | None = None

    def _handle(self, method: str, path: str, query: dict[str, str], body: Any) -> tuple[int, Any]:
        hook = self.before_ref_update
        if method == "PATCH" and "/git/refs/heads/" in path and hook is not None:
            self.before_ref_update = None
            hook()  # another writer moves the branch between our read and our update
        return super()._handle(method, path, query, body)


@pytest.fixture
def github() -> Iterator[RacingStandIn]:
    server = RacingStandIn(
        REPO, TOKEN, files={"README.md": b"# my switchboard\n", ".github/workflows/tick.yml": TICK_YML}
    )
    with server:
        yield server


@pytest.fixture
def env(
    tmp_path: Path, github: RacingStandIn, standin: LettaStandIn, monkeypatch: pytest.MonkeyPatch
) -> dict[str, str]:
    """The environment of a laptop with no clone: the repository is named, the token set."""
    return github_mode_env(
        monkeypatch,
        tmp_path,
        key=generate_key(),
        letta_url=standin.base_url,
        github_url=github.base_url,
        repo=REPO,
        token=TOKEN,
    )


Run = Callable[..., tuple[int, str, str]]


@pytest.fixture
def cli(env: dict[str, str], capsys: pytest.CaptureFixture[str]) -> Run:
    """Run a CLI command in this process: (exit status, stdout, stderr)."""

    def run(*args: str) -> tuple[int, str, str]:
        capsys.readouterr()
        code = main(list(args))
        out, err = capsys.readouterr()
        return code, out, err

    return run


def as_json(cli: Run, *args: str) -> Any:
    code, out, err = cli(*args, "--json")
    assert code == 0, err
    return json.loads(out)


def data_files(github: GitHubStandIn, prefix: str) -> list[str]:
    return sorted(p for p in github.files() if p.startswith(prefix + "/"))


def test_one_time_commands(cli: Run, github: RacingStandIn, standin: LettaStandIn, env: dict[str, str]) -> None:
    agent = standin.add_agent()
    made = as_json(cli, "send", "--agent-id", agent, "-m", "Stand-up in 5", "--at", "2031-05-04T09:00:00Z")
    assert made["execute_at"] == "2031-05-04T09:00:00+00:00"
    files = data_files(github, ONE_TIME)
    assert len(files) == 1 and files[0].startswith(f"{ONE_TIME}/2031-05-04/09/")
    assert TENANT_KEY in github.files()
    # Ciphertext only: neither the text nor the Letta key is in any file.
    for content in github.files().values():
        assert b"Stand-up in 5" not in content and LETTA_KEY.encode() not in content
    assert github.dispatches == []  # years away: the schedule delivers it

    made2 = as_json(cli, "onetime", "create", "--agent-id", agent, "-m", "Second", "--at", "2031-05-05T09:00:00Z")
    listed = as_json(cli, "onetime", "list")
    assert [s["id"] for s in listed] == [made["id"], made2["id"]]
    assert as_json(cli, "onetime", "get", made["id"])["message"] == "Stand-up in 5"
    assert as_json(cli, "onetime", "delete", made["id"]) == {"message": "Schedule deleted", "id": made["id"]}
    assert [s["id"] for s in as_json(cli, "onetime", "list")] == [made2["id"]]
    code, _, err = cli("onetime", "get", made["id"])
    assert code == 1
    assert err.startswith(f"Error: no one-time schedule with id {made['id']}")


def test_recurring_commands(cli: Run, github: RacingStandIn, standin: LettaStandIn) -> None:
    agent = standin.add_agent()
    made = as_json(
        cli, "recurring", "create", "--agent-id", agent, "-m", "Standup", "--cron", "0 10 * * 1-5",
        "--tz", "Europe/Berlin", "--now", "2030-01-01T00:00:00Z",
    )  # fmt: skip
    assert made["cron"] == "0 10 * * 1-5" and made["timezone"] == "Europe/Berlin"
    assert made["next_run"] == "2030-01-01T09:00:00+00:00"
    assert len(data_files(github, RECURRING)) == 1
    assert [s["id"] for s in as_json(cli, "recurring", "list")] == [made["id"]]
    assert as_json(cli, "recurring", "get", made["id"])["status"] == "active"
    assert as_json(cli, "recurring", "pause", made["id"], "--now", "2030-01-01T00:00:00Z")["status"] == "paused"
    assert as_json(cli, "recurring", "resume", made["id"], "--now", "2030-01-02T00:00:00Z")["status"] == "active"
    assert as_json(cli, "recurring", "delete", made["id"])["id"] == made["id"]
    assert data_files(github, RECURRING) == []
    assert as_json(cli, "recurring", "list") == []


def test_update_and_names_through_the_api(cli: Run, github: RacingStandIn, standin: LettaStandIn) -> None:
    agent = standin.add_agent()
    made = as_json(cli, "send", "--agent-id", agent, "-m", "Old", "--at", "2031-05-04T09:00:00Z", "--name", "plants")
    moved = as_json(cli, "onetime", "update", "plants", "--at", "2031-06-01T10:00:00Z", "-m", "New text")
    assert (moved["id"], moved["execute_at"], moved["name"]) == (made["id"], "2031-06-01T10:00:00+00:00", "plants")
    [path] = data_files(github, ONE_TIME)
    assert path.startswith(f"{ONE_TIME}/2031-06-01/10/")
    for content in github.files().values():
        assert b"plants" not in content and b"New text" not in content
    rec = as_json(cli, "recurring", "create", "--agent-id", agent, "-m", "R", "--cron", "0 9 * * *")
    renamed = as_json(cli, "recurring", "update", rec["id"][:8], "--name", "daily", "--cron", "0 10 * * *")
    assert (renamed["id"], renamed["name"], renamed["cron"]) == (rec["id"], "daily", "0 10 * * *")
    assert as_json(cli, "recurring", "delete", "daily")["id"] == rec["id"]


def test_tick_and_results_without_a_clone(cli: Run, github: RacingStandIn, standin: LettaStandIn) -> None:
    agent = standin.add_agent()
    made = as_json(cli, "send", "--agent-id", agent, "-m", "Now please", "--no-deliver", "--no-dispatch")
    assert github.dispatches == []
    report = as_json(cli, "tick")
    assert report["delivered"] == 1 and report["failed"] == 0
    assert [(d.agent_id, d.text) for d in standin.deliveries] == [(agent, "Now please")]
    assert data_files(github, ONE_TIME) == []
    assert len(data_files(github, RESULTS)) == 1

    results = as_json(cli, "results", "list")
    assert [(r["schedule_id"], r["status"], r["run_id"]) for r in results] == [
        (made["id"], "delivered", standin.deliveries[0].run_id)
    ]
    assert as_json(cli, "results", "get", made["id"])[0]["run_id"] == standin.deliveries[0].run_id
    # A second tick finds nothing due, and records how the run ended.
    second = as_json(cli, "tick")
    assert second["delivered"] == 0 and [r["run_status"] for r in second["followed"]] == ["completed"]
    assert len(data_files(github, RESULTS)) == 2 and data_files(github, RUNS) == []
    assert as_json(cli, "results", "list")[0]["run_status"] == "completed"
    # A third finds nothing to do and commits nothing.
    head = github.head()
    assert as_json(cli, "tick")["delivered"] == 0
    assert github.head() == head


def test_keys_rotate_through_the_api(cli: Run, github: RacingStandIn, standin: LettaStandIn, env: dict[str, str],
                                     monkeypatch: pytest.MonkeyPatch) -> None:  # fmt: skip
    agent = standin.add_agent()
    made = as_json(cli, "send", "--agent-id", agent, "-m", "Keep me", "--at", "2031-01-01T00:00:00Z")
    old = env["SWITCHBOARD_ENCRYPTION_KEY"]
    new = generate_key()
    monkeypatch.setenv("SWITCHBOARD_ENCRYPTION_KEY", f"{new},{old}")
    assert as_json(cli, "keys", "rotate") == {"reencrypted": 2}  # the tenant secret and the schedule
    only_new = codec_from_keys(new)
    for path, content in github.files().items():
        if path.startswith("data/"):
            only_new.decrypt(content, path=path)  # raises if anything is still under the old key
    monkeypatch.setenv("SWITCHBOARD_ENCRYPTION_KEY", new)
    assert [s["id"] for s in as_json(cli, "onetime", "list")] == [made["id"]]


def test_import_through_the_api(cli: Run, github: RacingStandIn, standin: LettaStandIn, tmp_path: Path) -> None:
    agent = standin.add_agent()
    exported = [
        {
            "id": "5d1c8f0e-3c3b-4b7e-9a51-1d2f3e4a5b6c",
            "agent_id": agent,
            "message": "Imported once",
            "role": "user",
            "execute_at": "2031-02-03T04:05:00Z",
            "created_at": "2025-01-01T00:00:00Z",
        },
        {
            "id": "6e2d9f1f-4d4c-4c8f-8b62-2e3f4a5b6c7d",
            "agent_id": agent,
            "message": "Imported daily",
            "role": "user",
            "cron": "0 8 * * *",
            "created_at": "2025-01-01T00:00:00Z",
            "last_run": None,
        },
    ]
    file = tmp_path / "export.json"
    file.write_text(json.dumps(exported))
    commits = github.commit_count()
    assert as_json(cli, "import", str(file)) == {"one_time": 1, "recurring": 1, "unchanged": 0}
    assert github.commit_count() == commits + 1  # one commit for the whole import
    assert [s["id"] for s in as_json(cli, "onetime", "list")] == [exported[0]["id"]]
    assert [s["id"] for s in as_json(cli, "recurring", "list")] == [exported[1]["id"]]


def test_a_rejected_ref_update_is_retried_on_the_new_head(
    cli: Run, github: RacingStandIn, standin: LettaStandIn
) -> None:
    agent = standin.add_agent()
    as_json(cli, "send", "--agent-id", agent, "-m", "First", "--at", "2031-01-01T00:00:00Z")
    external = "notes/from-another-laptop.txt"
    github.before_ref_update = lambda: github.push_external({external: b"written meanwhile\n"}, "another writer")
    patches_before = [r.status for r in github.requests if r.method == "PATCH"]

    made = as_json(cli, "send", "--agent-id", agent, "-m", "Second", "--at", "2031-01-02T00:00:00Z")

    patches = [r.status for r in github.requests if r.method == "PATCH"][len(patches_before) :]
    assert patches == [422, 200]  # refused as not a fast forward, then landed on the new head
    files = github.files()
    assert files[external] == b"written meanwhile\n"  # the other writer's change survives
    assert len(data_files(github, ONE_TIME)) == 2
    assert any(p.endswith(f"/{made['id']}.json.enc") for p in files)
    assert github.commit_message(github.head()) == f"switchboard: add one-time {made['id']}"


def test_a_tick_that_loses_its_claim_race_recomputes(cli: Run, github: RacingStandIn, standin: LettaStandIn) -> None:
    agent = standin.add_agent()
    as_json(cli, "send", "--agent-id", agent, "-m", "Exactly once", "--no-deliver", "--no-dispatch")
    github.before_ref_update = lambda: github.push_external({"notes/x.txt": b"x"}, "someone else")
    report = as_json(cli, "tick")
    assert report["delivered"] == 1
    assert len(standin.deliveries) == 1
    statuses = [r.status for r in github.requests if r.method == "PATCH"]
    assert 422 in statuses
    assert data_files(github, ONE_TIME) == []


def test_github_flag_names_the_repository(
    cli: Run, github: RacingStandIn, standin: LettaStandIn, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("SWITCHBOARD_GITHUB_REPO")
    agent = standin.add_agent()
    code, _, err = cli("onetime", "list")
    assert code == 1 and err.startswith("Error: ")  # not a clone, and no repository named
    made = as_json(cli, "--github", REPO, "send", "--agent-id", agent, "-m", "Flagged", "--at", "2031-01-01T00:00Z")
    assert [s["id"] for s in as_json(cli, "--github", REPO, "onetime", "list")] == [made["id"]]


def test_without_a_token_the_error_says_what_to_set(cli: Run, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("GITHUB_TOKEN")
    code, out, err = cli("onetime", "list")
    assert code == 1 and out == ""
    assert err.startswith(f"Error: --github {REPO} needs GITHUB_TOKEN")


def test_a_wrong_token_is_one_error_line_without_the_token(cli: Run, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GITHUB_TOKEN", "ghp_WrongToken000000000000000000000000")
    code, _, err = cli("onetime", "list")
    assert code == 1
    assert err.startswith("Error: GitHub rejected the token (401)")
    assert "ghp_WrongToken" not in err and len(err.strip().splitlines()) == 1


def test_the_real_command_in_its_own_process(
    env: dict[str, str], github: RacingStandIn, standin: LettaStandIn, tmp_path: Path
) -> None:
    agent = standin.add_agent()
    head = github.head()
    sent = run_cli("send", "--agent-id", agent, "-m", "From a process", "--json", env=env, cwd=tmp_path)
    assert sent.returncode == 0, sent.stderr
    schedule = json.loads(sent.stdout)
    # No time: delivered from this process, through the GitHub API: a claim commit, the POST, a record commit.
    [delivery] = standin.deliveries
    assert delivery.text == "From a process"
    assert schedule["result"]["run_id"] == delivery.run_id and schedule["result"]["status"] == "delivered"
    assert github.dispatches == [] and sent.stderr == ""
    claim, record = github.commit_message(github.parent(github.head())), github.commit_message(github.head())
    assert claim.startswith(f"switchboard: add one-time {schedule['id']}, claimed to send now (")
    assert record.startswith("switchboard: tick delivered 1, failed 0, put back 0, deferred 0 (")
    assert github.parent(github.parent(github.head())) == head
    assert data_files(github, ONE_TIME) == [] and len(data_files(github, RESULTS)) == 1
    ticked = run_cli("tick", "--json", env=env, cwd=tmp_path)
    assert ticked.returncode == 0, ticked.stderr
    assert json.loads(ticked.stdout)["results"] == []  # nothing left for the tick
    assert len(standin.deliveries) == 1
    assert TOKEN not in sent.stdout + sent.stderr + ticked.stdout + ticked.stderr


def test_due_soon_is_sent_in_time_by_a_dispatch_with_a_hold(cli: Run, github: RacingStandIn,
                                                            standin: LettaStandIn) -> None:  # fmt: skip
    agent = standin.add_agent()
    now = datetime(2030, 3, 10, 10, 10, tzinfo=UTC)
    due = now + timedelta(minutes=4, seconds=30)
    code, out, err = cli("send", "--agent-id", agent, "-m", "Soon", "--now", now.isoformat(), "--at", due.isoformat())
    assert code == 0, err
    assert github.dispatches == [{"workflow": "tick.yml", "ref": "main", "inputs": {"hold": "270s"}}]
    assert "with a hold of 270s" in out and "instead of at 10:17 UTC" in out
