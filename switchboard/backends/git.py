"""The data/ tree in a local git clone, pushed to its remote when it has one.

Reads come from the working tree. A commit writes the files, commits only
those paths, and pushes. Commits of data/ files are built with `git
fast-import` on HEAD's trees, so their cost does not grow with the number of
files in the clone; other paths, and clones that sign their commits, go
through `git add` and `git commit`. When the push is refused because someone else
pushed first, the commit is undone (``reset --keep`` touches only the files
it wrote), the clone is brought up to the remote, and ``commit`` returns
False so the caller recomputes its change on the new state.

Two switchboard processes may share one clone (a ``tick --watch`` and a
command typed on the same machine): they take turns through a lock file in
the git directory, and a commit is refused (False) when the clone's branch
moved since the caller's ``refresh``, just as when the remote moved.
Anything else that fails after the files were written puts them back, so a
failed command leaves the clone as it found it.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import subprocess
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

try:  # POSIX; elsewhere processes sharing a clone are not serialised
    import fcntl
except ImportError:  # pragma: no cover
    fcntl = None  # type: ignore[assignment]

from switchboard.backends.base import Changes, off_machine_host
from switchboard.exceptions import GitError

_REJECTED = re.compile(r"\[rejected\]|\[remote rejected\]|non-fast-forward|fetch first|stale info")
_CREDENTIALS = re.compile(r"(://)[^/@\s]+@")
#: Where `_build_commit` has fast-import put the commit it builds, until HEAD takes it.
_BUILDING = "refs/switchboard/building"
#: How `_build_commit` runs fast-import. The commit stays the pack fast-import writes (unpacking it into
#: loose objects took longer than building it; `git gc` merges packs as it packs loose objects),
#: compressed at level 1: ciphertext and trees of object ids compress no better at git's default level,
#: which costs several times the CPU. `--force` replaces a scratch ref that a killed process left.
_FAST_IMPORT = (
    "git",
    "-c",
    "fastimport.unpackLimit=0",
    "-c",
    "pack.compression=1",
    "fast-import",
    "--quiet",
    "--done",
    "--force",
)
#: Paths fast-import would need quoted; such a commit goes through `git commit` instead.
_UNSAFE_IN_PATH = re.compile(r'[\n"\\]|^ ')
#: Commits of more paths than this stage them with `git update-index` (see _commit_locally).
_ADD_LIMIT = 1000


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
        if not self.root.is_dir():
            raise GitError(
                f"{self.root} does not exist or is not a folder — pass --repo PATH of your clone "
                f"(or set SWITCHBOARD_REPO)"
            )
        if not (self.root / ".git").exists():
            self.root = find_root(self.root)
        self.remote_name = remote
        self._has_remote = remote in self._git("remote").stdout.split()
        self._lock_path = self.root / self._git("rev-parse", "--git-dir").stdout.strip() / "switchboard.lock"
        self._base = self._head()
        self._signing: bool | None = None
        self._identified = False
        self._object_format: str | None = None
        #: blob_ids answers, by prefix, kept current across commits.
        self._listings: dict[str, _Listing] = {}

    # -- plumbing -------------------------------------------------------

    def _git(self, *args: str, check: bool = True, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
        proc = self._run(args, stdin)
        if check and proc.returncode != 0:
            raise GitError(f"git {args[0]} failed: {_scrub(proc.stderr or proc.stdout)}")
        return proc

    def _run(self, args: tuple[str, ...], stdin: str | None) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["git", *args], cwd=self.root, env=self._env(args[0]), input=stdin, capture_output=True, text=True
        )

    def _env(self, command: str) -> dict[str, str]:
        # git runs with the environment it was given (its own variables are git's business), never prompting.
        env = dict(os.environ, GIT_TERMINAL_PROMPT="0", LC_ALL="C")
        if command in ("commit", "var") and not self._has_identity(env):
            # A fresh machine may have no identity. Only then: GIT_AUTHOR_* would beat the clone's
            # own user.name (the tick workflow sets github-actions[bot] there).
            env.setdefault("GIT_AUTHOR_NAME", "switchboard")
            env.setdefault("GIT_AUTHOR_EMAIL", "switchboard@localhost")
            env.setdefault("GIT_COMMITTER_NAME", env["GIT_AUTHOR_NAME"])
            env.setdefault("GIT_COMMITTER_EMAIL", env["GIT_AUTHOR_EMAIL"])
        return env

    def _has_identity(self, env: Mapping[str, str]) -> bool:
        """Whether git can name an author here (config, or GIT_AUTHOR_*/EMAIL in git's environment)."""
        if env.get("GIT_AUTHOR_EMAIL") or env.get("EMAIL"):
            return True
        if not self._identified:  # once found, an identity stays for this process
            found = subprocess.run(
                ["git", "config", "user.email"], cwd=self.root, capture_output=True, text=True, check=False
            )
            self._identified = found.returncode == 0 and bool(found.stdout.strip())
        return self._identified

    def _signs_commits(self) -> bool:
        """Whether this clone signs its commits (``commit.gpgsign``): only `git commit` can then make them."""
        if self._signing is None:
            found = self._git("config", "--type=bool", "commit.gpgsign", check=False).stdout.strip()
            self._signing = found == "true"
        return self._signing

    @property
    def branch(self) -> str:
        """The checked-out branch."""
        out = self._git("symbolic-ref", "--quiet", "--short", "HEAD", check=False)
        if out.returncode != 0:
            raise GitError(f"{self.root} has a detached HEAD — check out a branch (e.g. `git switch main`)")
        return out.stdout.strip()

    def _head(self) -> str | None:
        out = self._git("rev-parse", "--verify", "--quiet", "HEAD", check=False)
        return out.stdout.strip() if out.returncode == 0 else None

    def _has_commits(self) -> bool:
        return self._head() is not None

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        """Take turns with other switchboard processes working in this clone."""
        if fcntl is None:  # pragma: no cover
            yield
            return
        with open(self._lock_path, "a") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    # -- Backend --------------------------------------------------------

    def describe(self) -> str:
        """A short human description."""
        where = f"pushing to {self.remote_name}" if self._has_remote else "no remote: commit only"
        return f"git clone at {self.root} ({where})"

    @property
    def object_format(self) -> str:
        """The clone's object hash: "sha1", or "sha256" for a clone made with --object-format=sha256."""
        if self._object_format is None:
            found = self._git("rev-parse", "--show-object-format", check=False).stdout.strip()
            self._object_format = found or "sha1"
        return self._object_format

    def remote_host(self) -> str | None:
        """The machine commits are pushed to; None without a remote or when it is on this machine."""
        if not self._has_remote:
            return None
        url = self._git("remote", "get-url", "--push", self.remote_name, check=False).stdout.strip()
        return off_machine_host(url)

    @property
    def has_remote(self) -> bool:
        """Whether commits are pushed."""
        return self._has_remote

    def can_write(self) -> bool | None:
        """Unknown until a push is tried (git says nothing of permissions before one)."""
        return None

    def refresh(self) -> None:
        """Fast-forward (or rebase local commits) onto the remote branch."""
        with self._locked():
            self._refresh()
            self._base = self._head()

    def _refresh(self) -> None:
        if not self._has_remote:
            return
        branch = self.branch
        fetched = self._git("fetch", "--quiet", self.remote_name, branch, check=False)
        if fetched.returncode != 0:
            if "couldn't find remote ref" in fetched.stderr:
                return  # the remote has no such branch yet: our first push makes it
            raise GitError(f"git fetch failed: {_scrub(fetched.stderr)}")
        head = self._head()
        if head is None:
            self._git("reset", "--quiet", "--keep", "FETCH_HEAD")
            return
        if self._git("rev-parse", "FETCH_HEAD").stdout.strip() == head:
            return  # the usual case: nothing new (a merge would still read and rewrite the whole git index)
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

    def children(self, prefix: str) -> list[str]:
        """The names directly below the directory ``prefix`` (files and folders), sorted."""
        try:
            return sorted(os.listdir(self.root / prefix))
        except (FileNotFoundError, NotADirectoryError):
            return []

    def blob_ids(self, prefix: str) -> Mapping[str, str]:
        """The git blob id of every file below ``prefix`` in HEAD (what the clean working tree holds).

        A pass asks this of the recurring folder every time, and the answer is
        remembered: after a commit built here it is brought up to date from what
        was written, otherwise from `git diff-tree` between the commit it was
        taken at and HEAD. Only the first call (and a clone without it) lists
        the whole folder.
        """
        head = self._head()
        if head is None:
            return {}
        known = self._listings.get(prefix)
        if known is not None and known.commit != head:
            changed = self._git("diff-tree", "-r", "-z", "--no-renames", known.commit, head, "--", prefix, check=False)
            if changed.returncode == 0:
                known.follow(head, _diff_entries(changed.stdout))
            else:  # the commit it was taken at is gone (a gc after a reset): list afresh
                known = None
        if known is None:
            listed = self._git("ls-tree", "-r", "-z", head, "--", prefix).stdout
            known = self._listings[prefix] = _Listing(prefix, head, dict(_tree_entries(listed)))
        return known.ids

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
        """Write, commit and push ``changes``; False when the branch or the remote moved first."""
        if not changes:
            return True
        with self._locked():
            if self._head() != self._base:
                # Another process committed in this clone since our refresh: recompute on its state.
                self._refresh()
                self._base = self._head()
                return False
            first = self._commit_locally(changes, message)
            if first is None:
                return True  # nothing actually changed
            landed = self._push(first=first)
            self._base = self._head()
            if not self._has_remote:
                # `git commit` ran git's automatic maintenance, and with a remote every refresh's fetch does.
                # Built commits do neither: without this, a clone with no remote would gather a pack per commit.
                self._git("maintenance", "run", "--auto", "--quiet", check=False)
            return landed

    def _commit_locally(self, changes: Changes, message: str) -> bool | None:
        """Commit ``changes`` on HEAD: None when nothing changed, else whether it is the first commit.

        On any failure the files are put back as they were.
        """
        before = {path: self.read(path) for path in changes}
        try:
            # Only a deletion needs to know: deleting a path git never knew is no change to commit.
            tracked = self._tracked(p for p, content in changes.items() if content is None)
            for path, content in changes.items():
                self._write(path, content)
            # Deleting a path git never knew gives no pathspec git would accept.
            paths = [p for p, content in changes.items() if content is not None or p in tracked]
            if not paths:
                return None
            if self._base is not None and self._can_build(paths):
                return self._build_commit(self._base, changes, paths, message)
            listing = "\n".join(paths) + "\n"
            if len(paths) <= _ADD_LIMIT:
                self._git("add", "--all", "--pathspec-from-file=-", stdin=listing)
            else:
                # `git add` matches every pathspec against every file (20,000 paths took 12 s); an import
                # stages its exact paths in one linear pass instead (docs/benchmarks.md).
                self._git("update-index", "--add", "--remove", "-z", "--stdin", stdin="\0".join(paths) + "\0")
            staged = self._git("diff", "--cached", "--name-only", "--no-renames", "-z").stdout.split("\0")
            ours = set(paths)
            if not ours.intersection(staged):
                return None
            first = not self._has_commits()
            if ours.issuperset(p for p in staged if p):
                # Only our paths are staged: commit the index as it is. Naming the paths (below) makes git
                # rebuild a temporary index from HEAD and stat every tracked file, which costs seconds
                # once data/ holds tens of thousands of files (docs/benchmarks.md).
                self._git("commit", "--quiet", "--no-verify", "-m", message)
            else:
                # Something else is staged in this clone (someone's own work): commit only our paths.
                self._git("commit", "--quiet", "--no-verify", "-m", message, "--pathspec-from-file=-", stdin=listing)
            return first
        except BaseException:
            self._restore(before)
            raise

    def _can_build(self, paths: Sequence[str]) -> bool:
        """Whether `_build_commit` can make this commit (on an existing branch): data files, no signing."""
        return all(p.startswith("data/") and not _UNSAFE_IN_PATH.search(p) for p in paths) and not self._signs_commits()

    def _build_commit(self, parent: str, changes: Changes, paths: Sequence[str], message: str) -> bool | None:
        """Commit ``paths`` on ``parent`` (HEAD) with `git fast-import`, then stage them; None when nothing changed.

        `git add` and `git commit` read, check and rewrite the whole git index and
        rebuild trees from it: with tens of thousands of files under data/ that was
        most of a tick's cost (docs/benchmarks.md). fast-import starts from HEAD's
        trees and rewrites only the folders on the changed paths. Like
        ``commit --no-verify``, it runs no commit hooks; a clone that signs its
        commits is left to `git commit` (see ``_can_build``).
        """
        stream = bytearray()
        stream += b"commit " + _BUILDING.encode() + b"\n"
        for role in ("author", "committer"):
            ident = self._git("var", f"GIT_{role.upper()}_IDENT").stdout.strip()
            stream += f"{role} {ident}\n".encode()
        _data(stream, message.encode())
        stream += f"from {parent}\n".encode()
        for path in paths:
            content = changes[path]
            if content is None:
                stream += f"D {path}\n".encode()
            else:
                stream += f"M 100644 inline {path}\n".encode()
                _data(stream, content)
        stream += b"done\n"
        built = subprocess.run(
            list(_FAST_IMPORT),
            cwd=self.root,
            env=self._env("fast-import"),
            input=bytes(stream),
            capture_output=True,
        )
        if built.returncode != 0:
            self._git("update-ref", "-d", _BUILDING, check=False)
            raise GitError(f"git fast-import failed: {_scrub(built.stderr.decode(errors='replace'))}")
        try:
            before_tree, commit, tree = self._git(
                "rev-parse", "HEAD^{tree}", _BUILDING, f"{_BUILDING}^{{tree}}"
            ).stdout.split()
            if tree == before_tree:
                self._git("update-ref", "-d", _BUILDING)
                return None
            self._git("update-index", "--add", "--remove", "-z", "--stdin", stdin="\0".join(paths) + "\0")
            # One transaction: HEAD moves only from the commit we built on, and the scratch ref goes.
            self._git(
                "update-ref",
                "-m",
                f"commit: {message}",
                "--stdin",
                stdin=f"update HEAD {commit} {parent}\ndelete {_BUILDING}\n",
            )
        except BaseException:
            self._git("update-ref", "-d", _BUILDING, check=False)
            raise
        for listing in self._listings.values():
            listing.built(parent, commit, {p: changes[p] for p in paths}, self.object_format)
        return False

    def _push(self, *, first: bool) -> bool:
        """Push HEAD; when refused, undo the commit and catch up (False)."""
        if not self._has_remote:
            return True
        pushed = self._git("push", "--quiet", self.remote_name, f"HEAD:refs/heads/{self.branch}", check=False)
        if pushed.returncode == 0:
            return True
        if first:
            raise GitError(f"could not push the first commit to {self.remote_name}: {_scrub(pushed.stderr)}")
        # Undo our commit either way, so the clone never holds a change the remote lacks.
        self._git("reset", "--quiet", "--keep", "HEAD~1")
        # A hook (or branch protection) that declines is a refusal, not a race: pushing again will not help.
        if not _REJECTED.search(pushed.stderr) or "hook declined" in pushed.stderr:
            raise GitError(
                f"the push to {self.remote_name} failed and nothing was changed: "
                f"{_scrub(pushed.stderr)} — check the remote is reachable, then retry"
            )
        self._refresh()
        return False

    def _tracked(self, paths: Iterable[str]) -> set[str]:
        """Which of ``paths`` git tracks (one ls-files per call, not one per path)."""
        wanted = set(paths)
        if not wanted:
            return set()
        # A few paths are asked about by name; many (an import) by their top folder, in one listing.
        # (A name that happens to be a glob matches more; the intersection below keeps the asked ones.)
        spec = sorted(wanted) if len(wanted) <= _ADD_LIMIT else _tops(wanted)
        listed = self._git("ls-files", "-z", "--", *spec).stdout
        return set(listed.split("\0")) & wanted

    def _restore(self, before: dict[str, bytes | None]) -> None:
        """Put files back as they were and unstage them (after a failed commit)."""
        for path, content in before.items():
            with contextlib.suppress(OSError):
                self._write(path, content)
        tracked = sorted(self._tracked(before))
        if tracked:
            self._git("reset", "--quiet", "--pathspec-from-file=-", stdin="\n".join(tracked) + "\n", check=False)

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


@dataclass
class _Listing:
    """The blob ids below the folder ``prefix`` as of ``commit``."""

    prefix: str
    commit: str
    ids: dict[str, str]

    def follow(self, commit: str, changed: Iterable[tuple[str, str | None]]) -> None:
        """Move to ``commit``, given the paths that changed (None: deleted)."""
        for path, blob in changed:
            if blob is None:
                self.ids.pop(path, None)
            else:
                self.ids[path] = blob
        self.commit = commit

    def built(self, parent: str, commit: str, changes: Mapping[str, bytes | None], algorithm: str) -> None:
        """Follow a commit built on ``parent`` from ``changes`` (fast-import stores content as given)."""
        if self.commit == parent:
            below = self.prefix.rstrip("/") + "/"
            self.follow(
                commit,
                ((p, None if c is None else _blob_id(c, algorithm)) for p, c in changes.items() if p.startswith(below)),
            )


def _blob_id(content: bytes, algorithm: str) -> str:
    """The git object id of a blob holding ``content``."""
    return hashlib.new(algorithm, b"blob %d\0" % len(content) + content, usedforsecurity=False).hexdigest()


def _tree_entries(listed: str) -> Iterator[tuple[str, str]]:
    """(path, blob id) from `git ls-tree -r -z`: "<mode> <type> <id>\\t<path>" entries."""
    for entry in listed.split("\0"):
        meta, tab, path = entry.partition("\t")
        fields = meta.split(" ")
        if tab and len(fields) == 3 and fields[1] == "blob":
            yield path, fields[2]


def _diff_entries(listed: str) -> Iterator[tuple[str, str | None]]:
    """(path, new blob id or None when deleted) from `git diff-tree -r -z --no-renames`.

    Each change is ":<old mode> <new mode> <old id> <new id> <status>" then the path, NUL-separated.
    """
    fields = listed.split("\0")
    for header, path in zip(fields[0::2], fields[1::2], strict=False):
        if header.startswith(":"):
            status = header[-1]
            yield path, None if status == "D" else header.split(" ")[3]


def _data(stream: bytearray, content: bytes) -> None:
    """Append a fast-import ``data`` command carrying ``content``."""
    stream += b"data %d\n" % len(content)
    stream += content
    stream += b"\n"


def _tops(paths: Iterable[str]) -> list[str]:
    """The top-level folders of repository paths (short pathspecs for many files)."""
    return sorted({p.split("/", 1)[0] for p in paths})
