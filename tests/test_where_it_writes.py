"""Where switchboard writes, and what a key cannot read: a repository never set up, a key that lists nothing.

Real parts: git clones with a bare remote in tmp_path, the CLI through
typer's runner, the Letta stand-in on 127.0.0.1.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import LETTA_KEY, Repo, clone_of, configure, git
from typer.testing import CliRunner

from switchboard.cli import app
from switchboard.testing.letta import LettaStandIn

runner = CliRunner()
MESSAGE = "Top secret: the plants need water"
OTHER_LETTA_KEY = "sk-let-not-the-one-they-were-made-with"


def project_without_data(top: Path) -> Repo:
    """Somebody's own project: a bare remote and a clone with a README, and no data/ folder."""
    remote = top / "project.git"
    git(top, "init", "--quiet", "--bare", "--initial-branch=main", str(remote))
    seed = top / "seed"
    git(top, "clone", "--quiet", str(remote), str(seed))
    configure(seed)
    (seed / "README.md").write_text("# my project\n")
    git(seed, "add", "-A")
    git(seed, "commit", "--quiet", "-m", "My project")
    git(seed, "push", "--quiet", "origin", "HEAD:main")
    return Repo(remote, clone_of(remote, top / "project"))


def env_for(
    repo: Repo, top: Path, standin: LettaStandIn, key: str, letta_key: str = LETTA_KEY
) -> dict[str, str | None]:
    return {
        "SWITCHBOARD_ENCRYPTION_KEY": key,
        "LETTA_API_KEY": letta_key,
        "LETTA_BASE_URL": standin.base_url,
        "SWITCHBOARD_REPO": str(repo.clone),
        "XDG_CONFIG_HOME": str(top / "config"),
        "HOME": str(top / "home"),
        **dict.fromkeys(["SWITCHBOARD_DEV_MODE", "SWITCHBOARD_GITHUB_REPO", "GITHUB_TOKEN", "GITHUB_ACTIONS",
                         "GITHUB_STEP_SUMMARY"]),
    }  # fmt: skip


def test_send_in_a_repository_never_set_up_is_refused_with_the_command_to_run(
    tmp_path: Path, standin: LettaStandIn, key: str
) -> None:
    repo = project_without_data(tmp_path)
    env = env_for(repo, tmp_path, standin, key)
    agent = standin.add_agent()
    before = (repo.remote_log(), repo.remote_files(), git(repo.clone, "rev-parse", "HEAD"))

    for args in (
        ["send", "--agent-id", agent, "-m", MESSAGE, "--at", "2031-05-04T09:00:00Z"],
        ["send", "--agent-id", agent, "-m", MESSAGE],  # now: it would be stored claimed, then sent
        ["recurring", "create", "--agent-id", agent, "-m", MESSAGE, "--cron", "0 9 * * *"],
    ):
        result = runner.invoke(app, args, env=env)
        assert result.exit_code == 1, result.output
        assert result.stdout == ""
        assert result.stderr == (
            f"Error: git clone at {repo.clone} (pushing to origin) has no data/ folder: it was never set up for "
            "switchboard — run `switchboard init` in it first, or point --repo (SWITCHBOARD_REPO) at your "
            "switchboard clone; nothing was written\n"
        )
        assert MESSAGE not in result.stderr and LETTA_KEY not in result.stderr and key not in result.stderr
    assert standin.deliveries == []
    assert (repo.remote_log(), repo.remote_files(), git(repo.clone, "rev-parse", "HEAD")) == before

    # The command the error names sets it up; then send works.
    assert runner.invoke(app, ["init"], env=env).exit_code == 0
    sent = runner.invoke(app, ["send", "--agent-id", agent, "-m", MESSAGE, "--at", "2031-05-04T09:00:00Z"], env=env)
    assert sent.exit_code == 0, sent.stderr
    assert any(f.startswith("data/schedules/one-time/") for f in repo.remote_files())


def test_a_key_that_lists_nothing_hears_that_other_keys_schedules_are_there(
    repo: Repo, tmp_path: Path, standin: LettaStandIn, key: str
) -> None:
    env = env_for(repo, tmp_path, standin, key)
    agent = standin.add_agent()
    for args in (["send", "--at", "2031-05-04T09:00:00Z"], ["send", "--at", "2031-05-05T09:00:00Z"]):
        assert runner.invoke(app, [*args, "--agent-id", agent, "-m", MESSAGE], env=env).exit_code == 0

    wrong = env | {"LETTA_API_KEY": OTHER_LETTA_KEY}
    listed = runner.invoke(app, ["onetime", "list"], env=wrong)
    assert listed.exit_code == 0
    assert listed.stdout == (
        "No one-time schedules for this Letta key.\n"
        "2 schedules of this kind in this repository belong to other Letta keys; if they are yours, LETTA_API_KEY "
        "is not the key they were made with (schedules are kept per Letta key).\n"
    )
    assert OTHER_LETTA_KEY not in listed.output and LETTA_KEY not in listed.output
    # No other key's recurring schedules: the empty list is just empty.
    assert runner.invoke(app, ["recurring", "list"], env=wrong).stdout == "No recurring schedules for this Letta key.\n"
    # The right key lists its own, with no hint.
    assert "belong to other Letta keys" not in runner.invoke(app, ["onetime", "list"], env=env).stdout


@pytest.mark.parametrize("kind", ["onetime", "recurring"])
def test_a_listing_names_a_file_it_skipped_on_stderr(
    repo: Repo, tmp_path: Path, standin: LettaStandIn, key: str, kind: str
) -> None:
    env = env_for(repo, tmp_path, standin, key)
    agent = standin.add_agent()
    made = (
        ["send", "--at", "2031-05-04T09:00:00Z"]
        if kind == "onetime"
        else ["recurring", "create", "--cron", "0 9 * * *"]
    )
    assert runner.invoke(app, [*made, "--agent-id", agent, "-m", MESSAGE], env=env).exit_code == 0
    git(repo.clone, "pull", "--quiet")
    [good] = [f for f in repo.remote_files() if f.startswith("data/schedules/")]
    bad = good.rsplit("/", 1)[0] + "/3f2b9c1e-8d4a-4b6e-9f0a-1c2d3e4f5a6b.json.enc"
    (repo.clone / bad).write_bytes(bytes(range(200)))
    git(repo.clone, "add", bad)
    git(repo.clone, "commit", "--quiet", "-m", "random bytes")
    git(repo.clone, "push", "--quiet", "origin", "HEAD")  # an unpushed data/ commit would be a dead pass's

    listed = runner.invoke(app, [kind, "list", "--json"], env=env)

    assert listed.exit_code == 0
    assert len(json.loads(listed.stdout)) == 1
    assert listed.stderr == (
        f"Warning: skipped {bad}: it is not a Fernet token (random or foreign bytes) (`switchboard doctor` lists "
        "every such file)\n"
    )
