"""Setting up and checking the set-up: `switchboard init [--github]` and `switchboard doctor`.

Against real parts: git clones with a bare remote, the GitHub stand-in
(secrets sealed with its key pair, workflow states, runs) and the Letta
stand-in, all on this machine.
"""

from __future__ import annotations

import json
import platform
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from importlib.metadata import version
from pathlib import Path
from typing import Any

import pytest
from conftest import LETTA_KEY, ROOT, Repo, git

from switchboard.cli import main
from switchboard.config import config_path, read_config
from switchboard.crypto import codec_from_keys, generate_key
from switchboard.store import TENANT_KEY
from switchboard.testing.github import GitHubStandIn
from switchboard.testing.letta import LettaStandIn

REPO = "octo/switchboard"
TOKEN = "ghp_DoctorToken0123456789abcdefABCDEFGH"
TICK_YML = (ROOT / ".github" / "workflows" / "tick.yml").read_bytes()


def cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    capsys.readouterr()
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def doctor(
    capsys: pytest.CaptureFixture[str], *args: str, github: str | None = None
) -> tuple[int, dict[str, dict[str, Any]]]:
    """Run doctor --json (after --github when given); (exit status, checks by name)."""
    root = ["--github", github] if github else []
    code, out, err = cli(capsys, *root, "doctor", "--json", *args)
    data = json.loads(out)
    assert data["ok"] is (code == 0), err
    assert data["version"] == version("letta-switchboard")
    return code, {c["name"]: c for c in data["checks"]}


def statuses(checks: dict[str, dict[str, Any]]) -> dict[str, str]:
    return {name: c["status"] for name, c in checks.items()}


@pytest.fixture
def github() -> Iterator[GitHubStandIn]:
    files = {"README.md": b"# my switchboard\n", ".github/workflows/tick.yml": TICK_YML}
    with GitHubStandIn(REPO, TOKEN, files=files, workflows={"tick.yml": "disabled_fork"}) as server:
        yield server


@pytest.fixture
def api_env(
    tmp_path: Path, github: GitHubStandIn, standin: LettaStandIn, monkeypatch: pytest.MonkeyPatch
) -> dict[str, str]:
    """No clone, no key yet: a repository just made from the template, and a token."""
    values = {
        "LETTA_API_KEY": LETTA_KEY,
        "LETTA_BASE_URL": standin.base_url,
        "SWITCHBOARD_GITHUB_API_URL": github.base_url,
        "GITHUB_TOKEN": TOKEN,
        "XDG_CONFIG_HOME": str(tmp_path / "config"),
        "HOME": str(tmp_path / "home"),
    }
    for name in (
        "SWITCHBOARD_ENCRYPTION_KEY",
        "SWITCHBOARD_REPO",
        "SWITCHBOARD_GITHUB_REPO",
        "SWITCHBOARD_DEV_MODE",
        "GITHUB_ACTIONS",
        "GITHUB_STEP_SUMMARY",
    ):
        monkeypatch.delenv(name, raising=False)
    for name, value in values.items():
        monkeypatch.setenv(name, value)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    return values


# -- init --github -----------------------------------------------------------------------------


def test_init_github_sets_up_the_repository(api_env: dict[str, str], github: GitHubStandIn, capsys: Any) -> None:
    code, out, err = cli(capsys, "init", "--github", REPO)
    assert code == 0, err
    key = read_config(config_path())["encryption_key"]
    # The key went up as the Actions secret, sealed; the stand-in opens it with its private half.
    assert github.decrypt_secret("SWITCHBOARD_ENCRYPTION_KEY") == key
    assert github.workflow_state("tick.yml") == "active"  # was disabled_fork
    assert TENANT_KEY in github.files()
    codec_from_keys(key).decrypt(github.files()[TENANT_KEY])
    assert f"Stored the key as the Actions secret SWITCHBOARD_ENCRYPTION_KEY of {REPO}." in out
    assert f"Enabled the tick workflow in {REPO} (it was disabled_fork)." in out
    assert "Left to do by hand" not in out
    # Then doctor agrees (with the key now in the config file).
    code, checks = doctor(capsys, github=REPO)
    assert statuses(checks) == {
        "repository": "ok",
        "encryption key": "ok",
        "letta": "ok",
        "workflow": "ok",
        "last tick": "warn",  # it has never run yet
        "watcher": "skip",  # no clone to watch beside
    }
    assert code == 0


def test_init_github_json_and_a_second_run_finds_everything(
    api_env: dict[str, str], github: GitHubStandIn, capsys: Any
) -> None:
    cli(capsys, "init", "--github", REPO)
    head = github.head()
    code, out, _ = cli(capsys, "init", "--github", REPO, "--json")
    assert code == 0
    data = json.loads(out)
    assert data["key_generated"] is False and data["tenant_secret_created"] is False
    assert data["secret_stored"] is True and data["workflow_state"] == "active"
    assert github.head() == head  # nothing new to commit


def test_init_github_prints_the_steps_the_token_may_not_do(
    api_env: dict[str, str], github: GitHubStandIn, capsys: Any
) -> None:
    github.fail_next("PUT", r"/actions/secrets/SWITCHBOARD_ENCRYPTION_KEY$", 403, "Resource not accessible")
    github.fail_next("PUT", r"/actions/workflows/tick.yml/enable$", 403, "Resource not accessible")
    code, out, err = cli(capsys, "init", "--github", REPO)
    assert code == 0, err
    assert github.secrets == {}
    assert github.workflow_state("tick.yml") == "disabled_fork"
    left = out[out.index("Left to do by hand:") :]
    assert f"`gh secret set SWITCHBOARD_ENCRYPTION_KEY --repo {REPO}`" in left
    assert f"https://github.com/{REPO}/settings/secrets/actions/new" in left
    assert '"I understand my workflows, go ahead and enable them"' in left
    assert TOKEN not in out + err


def test_init_refuses_to_store_a_key_that_does_not_open_the_repository(
    api_env: dict[str, str], github: GitHubStandIn, capsys: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SWITCHBOARD_ENCRYPTION_KEY", generate_key())
    assert cli(capsys, "init", "--github", REPO)[0] == 0
    monkeypatch.setenv("SWITCHBOARD_ENCRYPTION_KEY", generate_key())  # some other key
    code, out, err = cli(capsys, "init", "--github", REPO)
    assert code == 1 and out == ""
    assert err.startswith(f"Error: {TENANT_KEY} in GitHub repository {REPO}")
    assert "was made with another key — this repository is already set up" in err


def test_init_github_needs_a_token(api_env: dict[str, str], capsys: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("GITHUB_TOKEN")
    code, _, err = cli(capsys, "init", "--github", REPO)
    assert code == 1
    assert err.startswith(f"Error: --github {REPO} needs GITHUB_TOKEN")


def test_init_in_a_clone_without_github_lists_the_manual_steps(
    cli_env: dict[str, str], repo: Repo, capsys: Any
) -> None:
    code, out, err = cli(capsys, "init")
    assert code == 0, err
    assert "Set the repository secret SWITCHBOARD_ENCRYPTION_KEY to the key" in out
    assert "Enable workflow" in out
    assert TENANT_KEY in repo.remote_files()


# -- doctor in a clone --------------------------------------------------------------------------


def test_doctor_in_a_healthy_clone(cli_env: dict[str, str], repo: Repo, capsys: Any) -> None:
    assert cli(capsys, "init")[0] == 0
    code, checks = doctor(capsys)
    assert code == 0
    assert statuses(checks) == {
        "repository": "ok",
        "encryption key": "ok",
        "letta": "ok",
        "workflow": "skip",
        "last tick": "skip",
        "watcher": "skip",
    }
    assert checks["encryption key"]["detail"] == f"1 Fernet key; it opens {TENANT_KEY}"
    assert "not on github.com" in checks["workflow"]["detail"]
    code, out, _ = cli(capsys, "doctor")
    # First what is running, as `switchboard --version` says it: the first thing to know about a report.
    assert out.splitlines()[0] == f"switchboard {version('letta-switchboard')} (Python {platform.python_version()})"
    assert out.splitlines()[1].startswith("[ok  ] repository: git clone at ")
    assert out.splitlines()[-1] == "All checks passed."


def test_doctor_before_init_warns(cli_env: dict[str, str], repo: Repo, capsys: Any) -> None:
    code, checks = doctor(capsys)
    assert code == 0
    assert checks["encryption key"]["status"] == "warn"
    assert checks["encryption key"]["fix"] == "run `switchboard init` (the first schedule also makes it)"


def test_doctor_catches_key_problems(
    cli_env: dict[str, str], repo: Repo, capsys: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert cli(capsys, "init")[0] == 0
    monkeypatch.setenv("SWITCHBOARD_ENCRYPTION_KEY", generate_key())
    code, checks = doctor(capsys)
    assert code == 1
    check = checks["encryption key"]
    assert check["status"] == "fail"
    assert check["detail"] == (
        f"1 Fernet key, but none opens {TENANT_KEY}: this is not the key the repository was set up with"
    )
    assert check["fix"].startswith("set SWITCHBOARD_ENCRYPTION_KEY to the key stored as the repository secret")

    monkeypatch.setenv("SWITCHBOARD_ENCRYPTION_KEY", "not-a-key")
    code, checks = doctor(capsys)
    assert code == 1
    assert checks["encryption key"]["detail"].startswith("key number 1 in SWITCHBOARD_ENCRYPTION_KEY is not a Fernet")
    code, out, _ = cli(capsys, "doctor")
    assert "[FAIL] encryption key:" in out and "       fix: run `switchboard init`" in out
    assert out.splitlines()[-1] == "Some checks failed: see the fixes above."


def test_doctor_catches_letta_problems(
    cli_env: dict[str, str], repo: Repo, standin: LettaStandIn, capsys: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LETTA_API_KEY", "sk-let-wrong-key-000")
    code, checks = doctor(capsys)
    assert code == 1
    assert checks["letta"]["status"] == "fail"
    assert checks["letta"]["fix"] == "set LETTA_API_KEY to a valid key (`switchboard config set-api-key KEY`)"
    assert "sk-let-wrong-key-000" not in json.dumps(checks)

    standin.down()
    monkeypatch.setenv("LETTA_API_KEY", LETTA_KEY)
    code, checks = doctor(capsys)
    assert code == 1
    assert checks["letta"]["fix"] == f"check LETTA_BASE_URL (now {standin.base_url}) points at a running Letta server"


def test_doctor_warns_about_a_clone_without_a_remote(
    cli_env: dict[str, str], tmp_path: Path, capsys: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    lonely = tmp_path / "lonely"
    lonely.mkdir()
    git(lonely, "init", "--quiet", "--initial-branch=main")
    monkeypatch.setenv("SWITCHBOARD_REPO", str(lonely))
    code, checks = doctor(capsys)
    assert code == 0
    assert checks["repository"]["status"] == "warn"
    assert "the tick workflow never sees them" in checks["repository"]["detail"]


# -- doctor and the workflow -----------------------------------------------------------------------


def test_doctor_fails_on_a_disabled_workflow_and_says_how_to_enable_it(
    api_env: dict[str, str], github: GitHubStandIn, capsys: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SWITCHBOARD_ENCRYPTION_KEY", generate_key())
    code, checks = doctor(capsys, github=REPO)
    assert code == 1
    workflow = checks["workflow"]
    assert workflow["status"] == "fail"
    assert workflow["detail"] == (
        f"the tick workflow in {REPO} is disabled_fork (forks start with scheduled workflows disabled)"
    )
    assert f"`switchboard init --github {REPO}`" in workflow["fix"]
    assert f"`gh workflow enable tick.yml --repo {REPO}`" in workflow["fix"]
    assert "Actions tab" in workflow["fix"]


@pytest.mark.parametrize(
    ("age", "conclusion", "status"),
    [
        (timedelta(minutes=20), "success", "ok"),
        (timedelta(minutes=59), "success", "ok"),
        (timedelta(minutes=61), "success", "warn"),  # over twice the 30-minute cadence
        (timedelta(days=3), "success", "warn"),
        (timedelta(minutes=5), "failure", "warn"),
    ],
)
def test_doctor_reports_when_the_last_tick_ran(
    api_env: dict[str, str],
    github: GitHubStandIn,
    capsys: Any,
    monkeypatch: pytest.MonkeyPatch,
    age: timedelta,
    conclusion: str,
    status: str,
) -> None:
    monkeypatch.setenv("SWITCHBOARD_ENCRYPTION_KEY", generate_key())
    github.set_workflow("tick.yml", "active")
    github.add_run("tick.yml", conclusion=conclusion)
    now = datetime.now(UTC) + age
    code, checks = doctor(capsys, "--now", now.isoformat(), github=REPO)
    assert code == 0  # a late or failed tick is a warning, not a broken set-up
    last = checks["last tick"]
    assert last["status"] == status
    assert f"(schedule, {conclusion}): https://github.com/{REPO}/actions/runs/" in last["detail"]
    if age > timedelta(hours=1):
        assert "over twice the cadence (30 min)" in last["detail"]
        assert "GitHub delays, drops and (after 60 quiet days) disables scheduled runs" in last["fix"]


def test_doctor_checks_the_workflow_of_a_clone_on_github(
    cli_env: dict[str, str], repo: Repo, github: GitHubStandIn, capsys: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    git(repo.clone, "remote", "set-url", "origin", f"https://github.com/{REPO}.git")
    git(repo.clone, "config", f"url.{repo.remote}.insteadOf", f"https://github.com/{REPO}.git")
    monkeypatch.setenv("SWITCHBOARD_GITHUB_API_URL", github.base_url)
    code, checks = doctor(capsys)
    assert checks["workflow"]["status"] == "skip"
    assert checks["workflow"]["detail"] == f"GITHUB_TOKEN is not set: cannot ask {REPO} about its tick workflow"
    monkeypatch.setenv("GITHUB_TOKEN", TOKEN)
    code, checks = doctor(capsys)
    assert code == 1 and checks["workflow"]["status"] == "fail"
    github.set_workflow("tick.yml", "active")
    github.add_run("tick.yml", event="workflow_dispatch")
    code, checks = doctor(capsys)
    assert checks["workflow"]["status"] == "ok" and checks["last tick"]["status"] == "ok"


def test_doctor_shows_no_secret(
    api_env: dict[str, str], github: GitHubStandIn, capsys: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    key = generate_key()
    monkeypatch.setenv("SWITCHBOARD_ENCRYPTION_KEY", key)
    _code, out, err = cli(capsys, "--github", REPO, "doctor")
    for secret in (key, LETTA_KEY, TOKEN):
        assert secret not in out + err
