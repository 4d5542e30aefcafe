"""The data/ tree in a local git clone, pushed to its remote when it has one.

Reads come from the working tree. A commit writes the files, commits only
those paths, and pushes. When the push is refused because someone else
pushed first, the commit is undone (``reset --keep`` touches only the files
it wrote), the clone is brought up to the remote, and ``commit`` returns
False so the caller recomputes its change on the new state.
"""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

from switchboard.backends.base import Changes
from switchboard.exceptions import GitError

_REJECTED = re.compile(r"\[rejected\]|\[remote rejected\]|non-fast-forward|fetch first|stale info")
_CREDENTIALS = re.compile(r"(://)[^/@\s]+@")


def _scrub(text: str) -> str:
    """Remove credentials from URLs that git may print."""
    return _CREDENTIALS.sub(r"\1***@", text).strip()


def find_root(start: Path) -> Path:
    """The top of the git work tree containing ``start``."""
    try:
        out = subprocess.run(
            ["git", "-C", str(start), "rev-parse", "--show-toplevel"],
            capture_output=True,
            text=True,
            check=True,
        )
    except (subprocess.CalledProcessError, FileNotFoundError):
        raise GitError(
            f"{start} is not inside a git repository — run switchboard inside your clone, "
            f"or pass --repo PATH (or set SWITCHBOARD_REPO)"
        ) from None
    return Path(out.stdout.strip())


class GitBackend:
    """A local git clone; pushes to ``remote`` when the clone has one."""

    def __init__(self, root: Path, *, remote: str = "origin") -> None:
        self.root = Path(root)
        if not (self.root / ".git").exists():
            self.root = find_root(self.root)
        self.remote_name = remote
        self._has_remote = remote in self._git("remote").stdout.split()

    # -- plumbing -------------------------------------------------------

    def _git(self, *args: str, check: bool = True, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
        env = dict(os.environ, GIT_TERMINAL_PROMPT="0", LC_ALL="C")
        # A fresh machine may have no identity; a clone's own config wins when set.
        env.setdefault("GIT_AUTHOR_NAME", "switchboard")
        env.setdefault("GIT_AUTHOR_EMAIL", "switchboard@localhost")
        env.setdefault("GIT_COMMITTER_NAME", env["GIT_AUTHOR_NAME"])
        env.setdefault("GIT_COMMITTER_EMAIL", env["GIT_AUTHOR_EMAIL"])
        proc = subprocess.run(
            ["git", *args],
            cwd=self.root,
            env=env,
            input=stdin,
            capture_output=True,
            text=True,
        )
        if check and proc.returncode != 0:
            raise GitError(f"git {args[0]} failed: {_scrub(proc.stderr or proc.stdout)}")
        return proc

    @property
    def branch(self) -> str:
        """The checked-out branch."""
        out = self._git("symbolic-ref", "--quiet", "--short", "HEAD", check=False)
        if out.returncode != 0:
            raise GitError(f"{self.root} has a detached HEAD — check out a branch (e.g. `git switch main`)")
        return out.stdout.strip()

    def _has_commits(self) -> bool:
        return self._git("rev-parse", "--verify", "--quiet", "HEAD", check=False).returncode == 0

    # -- Backend --------------------------------------------------------

    def describe(self) -> str:
        """A short human description."""
        where = f"pushing to {self.remote_name}" if self._has_remote else "no remote: commit only"
        return f"git clone at {self.root} ({where})"

    @property
    def has_remote(self) -> bool:
        """Whether commits are pushed."""
        return self._has_remote

    def refresh(self) -> None:
        """Fast-forward (or rebase local commits) onto the remote branch."""
        if not self._has_remote:
            return
        branch = self.branch
        fetched = self._git("fetch", "--quiet", self.remote_name, branch, check=False)
        if fetched.returncode != 0:
            if "couldn't find remote ref" in fetched.stderr:
                return  # the remote has no such branch yet: our first push makes it
            raise GitError(f"git fetch failed: {_scrub(fetched.stderr)}")
        if not self._has_commits():
            self._git("reset", "--quiet", "--keep", "FETCH_HEAD")
            return
        behind = self._git("merge-base", "--is-ancestor", "HEAD", "FETCH_HEAD", check=False)
        if behind.returncode == 0:
            self._git("merge", "--quiet", "--ff-only", "FETCH_HEAD")
            return
        ahead = self._git("merge-base", "--is-ancestor", "FETCH_HEAD", "HEAD", check=False)
        if ahead.returncode == 0:
            return  # local commits not pushed yet; the next push carries them
        rebased = self._git("rebase", "--quiet", "FETCH_HEAD", check=False)
        if rebased.returncode != 0:
            self._git("rebase", "--abort", check=False)
            raise GitError(
                f"the local branch {branch} and {self.remote_name}/{branch} have diverged and "
                f"do not rebase cleanly — resolve it with `git pull --rebase`, then retry"
            )

    def read(self, path: str) -> bytes | None:
        """A file's content in the working tree."""
        try:
            return (self.root / path).read_bytes()
        except (FileNotFoundError, NotADirectoryError):
            return None

    def list(self, prefix: str) -> list[str]:
        """Every file below ``prefix``, as sorted repository-relative paths."""
        top = self.root / prefix
        if not top.is_dir():
            return []
        found: list[str] = []
        for dirpath, _dirs, files in os.walk(top):
            rel = Path(dirpath).relative_to(self.root).as_posix()
            found.extend(f"{rel}/{name}" for name in files)
        found.sort()
        return found

    def commit(self, changes: Changes, message: str) -> bool:
        """Write, commit and push ``changes``; False when the push was refused."""
        if not changes:
            return True
        for path, content in changes.items():
            self._write(path, content)
        paths = "\n".join(changes) + "\n"
        self._git("add", "--all", "--pathspec-from-file=-", stdin=paths)
        staged = self._git("diff", "--cached", "--quiet", check=False)
        if staged.returncode == 0:
            return True  # nothing actually changed
        first = not self._has_commits()
        self._git("commit", "--quiet", "--no-verify", "-m", message, "--pathspec-from-file=-", stdin=paths)
        if not self._has_remote:
            return True
        pushed = self._git("push", "--quiet", self.remote_name, f"HEAD:refs/heads/{self.branch}", check=False)
        if pushed.returncode == 0:
            return True
        if first:
            raise GitError(f"could not push the first commit to {self.remote_name}: {_scrub(pushed.stderr)}")
        # Undo our commit either way, so the clone never holds a change the remote lacks.
        self._git("reset", "--quiet", "--keep", "HEAD~1")
        if not _REJECTED.search(pushed.stderr):
            raise GitError(
                f"the push to {self.remote_name} failed and nothing was changed: "
                f"{_scrub(pushed.stderr)} — check the remote is reachable, then retry"
            )
        self.refresh()
        return False

    def _write(self, path: str, content: bytes | None) -> None:
        target = self.root / path
        if content is None:
            try:
                target.unlink()
            except FileNotFoundError:
                return
            self._prune_empty(target.parent)
            return
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_name(f".{target.name}.tmp-{os.getpid()}")
        tmp.write_bytes(content)
        os.replace(tmp, target)  # atomic: a reader sees the old file or the new one

    def _prune_empty(self, directory: Path) -> None:
        """Remove empty directories up to (not including) data/."""
        stop = self.root / "data"
        while directory != stop and stop in directory.parents:
            try:
                directory.rmdir()
            except OSError:
                return
            directory = directory.parent
