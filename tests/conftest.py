"""Shared fixtures: real git repositories with a bare remote, keys, a Letta stand-in.

Nothing here is a mock: the repositories are real git, the remote is a real
bare repository, and the Letta stand-in is a real HTTP server on 127.0.0.1.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from switchboard.backends.git import GitBackend
from switchboard.crypto import Codec, codec_from_keys, generate_key
from switchboard.index import indexed_store
from switchboard.store import Store
from switchboard.testing.letta import LettaStandIn

LETTA_KEY = "sk-let-test-0f9e8d7c6b5a"
ROOT = Path(__file__).resolve().parents[1]


def git(cwd: Path, *args: str) -> str:
    """Run git in ``cwd`` and return its stdout."""
    return subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, text=True).stdout


def make_remote(top: Path) -> Path:
    """A bare remote holding one commit on main."""
    remote = top / "remote.git"
    git(top, "init", "--quiet", "--bare", "--initial-branch=main", str(remote))
    seed = top / "seed"
    git(top, "clone", "--quiet", str(remote), str(seed))
    configure(seed)
    (seed / "README.md").write_text("# my switchboard\n")
    (seed / "data").mkdir()
    (seed / "data" / ".gitkeep").write_text("")
    git(seed, "add", "-A")
    git(seed, "commit", "--quiet", "-m", "Start from the template")
    git(seed, "push", "--quiet", "origin", "HEAD:main")
    return remote


def configure(clone: Path) -> None:
    """Give a clone an identity so commits work on any machine."""
    git(clone, "config", "user.name", "switchboard tests")
    git(clone, "config", "user.email", "tests@switchboard.invalid")


def clone_of(remote: Path, dest: Path) -> Path:
    """A fresh clone of ``remote`` at ``dest``."""
    git(dest.parent, "clone", "--quiet", str(remote), str(dest))
    configure(dest)
    return dest


@dataclass
class Repo:
    """A bare remote and one clone of it."""

    remote: Path
    clone: Path

    def another_clone(self, name: str) -> Path:
        """A second clone, e.g. for a concurrent tick."""
        return clone_of(self.remote, self.clone.parent / name)

    def remote_files(self) -> list[str]:
        """Files on the remote's main branch."""
        return git(self.remote, "ls-tree", "-r", "--name-only", "main").split()

    def remote_log(self) -> list[str]:
        """Commit subjects on the remote, newest first."""
        return git(self.remote, "log", "--format=%s", "main").splitlines()


@pytest.fixture
def repo(tmp_path: Path) -> Repo:
    """A bare remote with a clone."""
    remote = make_remote(tmp_path)
    return Repo(remote, clone_of(remote, tmp_path / "clone"))


@pytest.fixture
def key() -> str:
    """A fresh Fernet key."""
    return generate_key()


@pytest.fixture
def codec(key: str) -> Codec:
    """A codec for ``key``."""
    return codec_from_keys(key)


@pytest.fixture
def store(repo: Repo, codec: Codec) -> Store:
    """An encrypted store on the clone."""
    return indexed_store(GitBackend(repo.clone), codec)


@pytest.fixture
def standin() -> Iterator[LettaStandIn]:
    """A Letta stand-in on 127.0.0.1 that accepts LETTA_KEY."""
    server = LettaStandIn(api_keys={LETTA_KEY}).start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def cli_env(
    tmp_path: Path, repo: Repo, key: str, standin: LettaStandIn, monkeypatch: pytest.MonkeyPatch
) -> dict[str, str]:
    """Environment for running the CLI against ``repo`` and ``standin``."""
    env = {
        "SWITCHBOARD_ENCRYPTION_KEY": key,
        "LETTA_API_KEY": LETTA_KEY,
        "LETTA_BASE_URL": standin.base_url,
        "SWITCHBOARD_REPO": str(repo.clone),
        "XDG_CONFIG_HOME": str(tmp_path / "config"),
        "HOME": str(tmp_path / "home"),
    }
    for name in (
        "SWITCHBOARD_DEV_MODE",
        "SWITCHBOARD_GITHUB_REPO",
        "GITHUB_TOKEN",
        "GITHUB_ACTIONS",
        "GITHUB_STEP_SUMMARY",
        "COLUMNS",  # an exported terminal width would cut the tables the tests read whole
    ):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return env


def github_mode_env(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, *, key: str, letta_url: str, github_url: str, repo: str, token: str
) -> dict[str, str]:
    """A laptop with no clone that names a GitHub repository and sets a token (API mode), in a folder not a clone."""
    values = {
        "SWITCHBOARD_ENCRYPTION_KEY": key,
        "LETTA_API_KEY": LETTA_KEY,
        "LETTA_BASE_URL": letta_url,
        "SWITCHBOARD_GITHUB_REPO": repo,
        "SWITCHBOARD_GITHUB_API_URL": github_url,
        "GITHUB_TOKEN": token,
        "XDG_CONFIG_HOME": str(tmp_path / "config"),
        "HOME": str(tmp_path / "home"),
    }
    for name in ("SWITCHBOARD_REPO", "SWITCHBOARD_DEV_MODE", "GITHUB_ACTIONS", "GITHUB_STEP_SUMMARY"):
        monkeypatch.delenv(name, raising=False)
    for name, value in values.items():
        monkeypatch.setenv(name, value)
    nowhere = tmp_path / "not-a-clone"
    nowhere.mkdir()
    monkeypatch.chdir(nowhere)
    return values


def run_cli(*args: str, env: dict[str, str], cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    """The real `switchboard` command in a subprocess."""
    full = {k: v for k, v in os.environ.items() if not k.startswith(("SWITCHBOARD_", "LETTA_", "GITHUB_"))}
    full.pop("COLUMNS", None)  # tables are cut to an exported width; the tests read them whole
    full.update(env)
    return subprocess.run(
        [sys.executable, "-m", "switchboard", *args],
        cwd=cwd or ROOT,
        env=full,
        capture_output=True,
        text=True,
        timeout=120,
    )
