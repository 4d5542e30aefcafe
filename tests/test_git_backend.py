"""The local git backend on real clones of a real bare remote: commits, pushes, races, failures."""

from __future__ import annotations

import subprocess
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from conftest import LETTA_KEY, Repo, clone_of, configure, git

from switchboard.backends.base import off_machine_host
from switchboard.backends.git import GitBackend, _scrub, find_root
from switchboard.config import Settings
from switchboard.context import open_store
from switchboard.crypto import Codec
from switchboard.exceptions import GitError
from switchboard.index import indexed_store
from switchboard.service import add_one_time, list_one_time
from switchboard.store import Transaction

NOW = datetime(2026, 3, 10, 15, 20, tzinfo=UTC)
AGENT = "agent-0b7cbd6e-2f1e-4e55-9a57-6c1d6f0b2a11"


def head(path: Path) -> str:
    return git(path, "rev-parse", "HEAD").strip()


def test_a_commit_is_one_commit_pushed_with_its_message(repo: Repo) -> None:
    backend = GitBackend(repo.clone)
    assert backend.describe() == f"git clone at {repo.clone} (pushing to origin)"
    assert backend.commit({"data/a.txt": b"a", "data/x/b.txt": b"b"}, "switchboard: add two") is True
    assert repo.remote_log()[0] == "switchboard: add two"
    assert {"data/a.txt", "data/x/b.txt"} <= set(repo.remote_files())
    assert backend.read("data/x/b.txt") == b"b" and backend.list("data/x") == ["data/x/b.txt"]
    assert backend.commit({"data/a.txt": b"a"}, "switchboard: nothing new") is True  # no change, no commit
    assert backend.commit({"data/never-there.txt": None}, "switchboard: nothing to delete") is True
    assert repo.remote_log()[0] == "switchboard: add two"


def test_without_a_remote_it_commits_only(tmp_path: Path) -> None:
    alone = tmp_path / "alone"
    git(tmp_path, "init", "--quiet", "--initial-branch=main", str(alone))
    configure(alone)
    backend = GitBackend(alone)
    assert backend.describe().endswith("(no remote: commit only)")
    backend.refresh()  # nothing to fetch from
    assert backend.commit({"data/a.txt": b"a"}, "switchboard: first") is True
    assert backend.commit({"data/a.txt": None}, "switchboard: second") is True
    assert git(alone, "log", "--format=%s").splitlines() == ["switchboard: second", "switchboard: first"]
    assert not (alone / "data").exists() or not any((alone / "data").iterdir())


def test_a_clone_without_a_remote_is_kept_packed(tmp_path: Path) -> None:
    """Each built commit is a pack of its own; git's automatic maintenance still merges them."""
    alone = tmp_path / "alone"
    git(tmp_path, "init", "--quiet", "--initial-branch=main", str(alone))
    configure(alone)
    git(alone, "config", "gc.autoPackLimit", "5")
    git(alone, "config", "gc.autoDetach", "false")  # merge them before the command returns
    backend = GitBackend(alone)
    for n in range(12):
        backend.commit({f"data/{n}.txt": f"{n}".encode()}, f"switchboard: {n}")
    packs = list((alone / ".git" / "objects" / "pack").glob("*.pack"))
    assert 1 <= len(packs) <= 5
    assert git(alone, "rev-list", "--count", "HEAD") == "12\n"
    assert git(alone, "fsck", "--no-progress", "--connectivity-only") == ""


def test_the_first_push_makes_the_remote_branch(tmp_path: Path) -> None:
    remote = tmp_path / "empty.git"
    git(tmp_path, "init", "--quiet", "--bare", "--initial-branch=main", str(remote))
    clone = clone_of(remote, tmp_path / "clone")
    backend = GitBackend(clone)
    backend.refresh()
    assert backend.commit({"data/a.txt": b"a"}, "switchboard: first") is True
    assert git(remote, "log", "--format=%s", "main").splitlines() == ["switchboard: first"]


def test_a_rejected_push_is_undone_and_recomputed_on_the_new_state(repo: Repo) -> None:
    other = repo.another_clone("other")
    mine, theirs = GitBackend(repo.clone), GitBackend(other)
    mine.refresh()
    theirs.refresh()
    assert theirs.commit({"data/theirs.txt": b"1"}, "switchboard: theirs") is True
    before = head(repo.clone)
    assert mine.commit({"data/mine.txt": b"2"}, "switchboard: mine") is False  # beaten to it
    assert not (repo.clone / "data/mine.txt").exists()  # the clone holds nothing the remote lacks
    assert (repo.clone / "data/theirs.txt").read_bytes() == b"1"  # and it caught up
    assert head(repo.clone) != before
    assert git(repo.clone, "status", "--porcelain") == ""

    seen: list[bytes | None] = []

    def compute(tx: Transaction) -> None:
        seen.append(mine.read("data/counter.txt"))
        tx.put("data/counter.txt", str(len(seen)).encode())

    theirs.commit({"data/counter.txt": b"theirs"}, "switchboard: counter")  # lands between our refresh and commit
    store = indexed_store(mine, Codec(plaintext=True))
    store.transact("switchboard: count", compute)
    assert seen == [b"theirs"]  # transact refreshed first, so one computation was enough
    assert repo.remote_log()[0] == "switchboard: count"


def test_transact_recomputes_when_beaten_between_compute_and_commit(repo: Repo) -> None:
    other = GitBackend(repo.another_clone("other"))
    store = indexed_store(GitBackend(repo.clone), Codec(plaintext=True))
    attempts: list[bytes | None] = []

    def compute(tx: Transaction) -> None:
        attempts.append(store.backend.read("data/value.txt"))
        if len(attempts) == 1:
            other.refresh()
            other.commit({"data/value.txt": b"from the other clone"}, "switchboard: other")
        tx.put("data/value.txt", b"ours, computed on " + (attempts[-1] or b"nothing"))

    store.transact("switchboard: ours", compute)
    assert attempts == [None, b"from the other clone"]
    assert repo.remote_log()[:2] == ["switchboard: ours", "switchboard: other"]
    assert git(repo.remote, "show", "main:data/value.txt") == "ours, computed on from the other clone"


def test_two_processes_in_one_clone_take_turns(repo: Repo) -> None:
    first, second = GitBackend(repo.clone), GitBackend(repo.clone)
    first.refresh()
    second.refresh()
    assert second.commit({"data/a.txt": b"second"}, "switchboard: second") is True
    # `first` computed on the state before `second` committed: it must recompute, not overwrite.
    assert first.commit({"data/a.txt": b"first"}, "switchboard: first") is False
    assert first.read("data/a.txt") == b"second"
    assert first.commit({"data/a.txt": b"first"}, "switchboard: first") is True
    assert repo.remote_log()[:2] == ["switchboard: first", "switchboard: second"]


def test_concurrent_writers_in_two_clones_all_land(repo: Repo, codec: Codec) -> None:
    clones = [repo.clone, repo.another_clone("laptop")]
    made: list[str] = []
    errors: list[BaseException] = []
    lock = threading.Lock()

    def writer(clone: Path, n: int) -> None:
        store = indexed_store(GitBackend(clone), codec)
        try:
            for i in range(4):
                s = add_one_time(
                    store,
                    api_key=LETTA_KEY,
                    base_url="http://letta",
                    agent_id=AGENT,
                    message=f"writer {n} message {i}",
                    execute_at=NOW + timedelta(minutes=i),
                    now=NOW,
                )
                with lock:
                    made.append(s.id)
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(clone, n)) for n, clone in enumerate(clones)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert errors == []
    assert len(made) == 8
    log = repo.remote_log()
    assert sorted(s for s in log if s.startswith("switchboard: add one-time")) == sorted(
        f"switchboard: add one-time {sid}" for sid in made
    )
    # Both clones raced to make the tenant secret; exactly one made it, and everybody used it.
    assert log.count("switchboard: create the tenant secret") <= 1
    store = indexed_store(GitBackend(repo.another_clone("reader")), codec)
    assert sorted(s.id for s in list_one_time(store, LETTA_KEY)) == sorted(made)


@pytest.mark.parametrize(
    ("outside", "fails_at"),
    [(None, "git update-index failed"), ("notes/outside.txt", "git add failed")],
    ids=["built by fast-import", "through git commit"],
)
def test_a_failed_commit_leaves_the_clone_as_it_was(repo: Repo, outside: str | None, fails_at: str) -> None:
    backend = GitBackend(repo.clone)
    backend.commit({"data/kept.txt": b"old"}, "switchboard: before")
    backend.refresh()
    before = head(repo.clone)
    lock = repo.clone / ".git" / "index.lock"  # what a crashed git leaves behind: staging must fail
    lock.write_text("")
    changes = {"data/kept.txt": b"new", "data/fresh.txt": b"x", "data/gone/y.txt": b"y"}
    if outside:
        changes[outside] = b"z"  # a path outside data/ is committed by `git commit`
    with pytest.raises(GitError, match=fails_at):
        backend.commit(changes, "switchboard: fails")
    lock.unlink()
    assert head(repo.clone) == before
    assert (repo.clone / "data/kept.txt").read_bytes() == b"old"
    assert not (repo.clone / "data/fresh.txt").exists() and not (repo.clone / "data/gone").exists()
    assert git(repo.clone, "status", "--porcelain") == ""
    assert git(repo.clone, "for-each-ref", "refs/switchboard") == ""  # no scratch commit left behind
    assert backend.commit({"data/kept.txt": b"new"}, "switchboard: after") is True  # and the clone still works


def test_a_built_commit_is_what_git_commit_would_make(repo: Repo) -> None:
    """Commits of data/ files are built with fast-import: same tree, author, message; index and tree clean."""
    git(repo.clone, "config", "user.name", "Tick Bot")
    git(repo.clone, "config", "user.email", "tick@example.org")
    backend = GitBackend(repo.clone)
    backend.refresh()
    backend.commit({"data/a/one.txt": b"1", "data/a/two.txt": b"2", "data/b.txt": b"b"}, "switchboard: three")
    backend.commit({"data/a/one.txt": None, "data/a/two.txt": b"2!", "data/c/d/e.txt": b"e"}, "switchboard: mixed")
    assert git(repo.clone, "log", "-1", "--format=%an <%ae>|%cn <%ce>|%s") == (
        "Tick Bot <tick@example.org>|Tick Bot <tick@example.org>|switchboard: mixed\n"
    )
    assert git(repo.clone, "status", "--porcelain") == ""  # the index and the files agree with HEAD
    files = git(repo.clone, "ls-tree", "-r", "--name-only", "HEAD", "data").split()
    assert files == ["data/.gitkeep", "data/a/two.txt", "data/b.txt", "data/c/d/e.txt"]
    assert git(repo.clone, "show", "HEAD:data/a/two.txt") == "2!"
    assert repo.remote_log()[:2] == ["switchboard: mixed", "switchboard: three"]
    assert git(repo.clone, "fsck", "--no-progress", "--connectivity-only") == ""
    assert git(repo.clone, "for-each-ref", "refs/switchboard") == ""
    # The same content again changes nothing: no empty commit.
    assert backend.commit({"data/b.txt": b"b"}, "switchboard: same") is True
    assert repo.remote_log()[0] == "switchboard: mixed"
    assert "commit: switchboard: mixed" in git(repo.clone, "reflog", "-2", "--format=%gs")


def test_a_clone_that_signs_its_commits_still_signs_them(repo: Repo, tmp_path: Path) -> None:
    """fast-import cannot sign: with commit.gpgsign on, switchboard's commits go through `git commit`."""
    key = tmp_path / "signing"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(key)], check=True)
    for name, value in [("gpg.format", "ssh"), ("user.signingkey", str(key)), ("commit.gpgsign", "true")]:
        git(repo.clone, "config", name, value)
    backend = GitBackend(repo.clone)
    backend.refresh()
    assert backend.commit({"data/signed.txt": b"s"}, "switchboard: signed") is True
    assert "-----BEGIN SSH SIGNATURE-----" in git(repo.clone, "cat-file", "commit", "HEAD")
    assert repo.remote_log()[0] == "switchboard: signed"


def committed_blobs(clone: Path, prefix: str) -> dict[str, str]:
    """What `git ls-tree` says is below ``prefix`` in HEAD: the truth blob_ids must match."""
    listed = git(clone, "ls-tree", "-r", "HEAD", "--", prefix).splitlines()
    return {line.split("\t", 1)[1]: line.split()[2] for line in listed}


def test_blob_ids_follow_every_way_head_moves(repo: Repo) -> None:
    """The remembered listing matches HEAD after our commits, others' commits, a refused push and a reset."""
    mine, theirs = GitBackend(repo.clone), GitBackend(repo.another_clone("theirs"))
    mine.refresh()
    assert mine.blob_ids("data/r") == {}
    mine.commit(
        {**{f"data/r/{n}.txt": f"v{n}".encode() for n in range(5)}, "data/rr.txt": b"beside"}, "switchboard: five"
    )
    assert mine.blob_ids("data/r") == committed_blobs(repo.clone, "data/r") and len(mine.blob_ids("data/r")) == 5
    mine.commit({"data/r/0.txt": None, "data/r/1.txt": b"changed", "data/r/new/6.txt": b"6"}, "switchboard: ours")
    assert mine.blob_ids("data/r") == committed_blobs(repo.clone, "data/r")
    # Another clone deletes, changes and adds; we catch up through a refresh.
    theirs.refresh()
    theirs.commit({"data/r/2.txt": None, "data/r/3.txt": b"theirs", "data/r/7.txt": b"7"}, "switchboard: theirs")
    mine.refresh()
    assert mine.blob_ids("data/r") == committed_blobs(repo.clone, "data/r")
    assert "data/r/2.txt" not in mine.blob_ids("data/r") and "data/r/7.txt" in mine.blob_ids("data/r")
    # A push refused because they pushed first: our commit is undone, and so is its effect on the listing.
    theirs.refresh()
    theirs.commit({"data/r/4.txt": b"theirs again"}, "switchboard: theirs again")
    assert mine.commit({"data/r/4.txt": b"ours, refused"}, "switchboard: refused") is False
    assert mine.blob_ids("data/r") == committed_blobs(repo.clone, "data/r")
    # Someone works in the clone by hand (a commit git made, not us).
    (repo.clone / "data" / "r" / "hand.txt").write_text("by hand")
    git(repo.clone, "add", "data/r/hand.txt")
    git(repo.clone, "commit", "--quiet", "-m", "by hand")
    assert mine.blob_ids("data/r") == committed_blobs(repo.clone, "data/r")
    assert mine.blob_ids("data/other") == {}
    # A history rewritten under it (the remembered commit no longer exists) lists afresh.
    git(repo.clone, "reset", "--quiet", "--hard", "origin/main")
    git(repo.clone, "reflog", "expire", "--expire=now", "--all")
    git(repo.clone, "gc", "--quiet", "--prune=now")
    assert mine.blob_ids("data/r") == committed_blobs(repo.clone, "data/r")


def test_an_unreachable_remote_changes_nothing(repo: Repo, tmp_path: Path) -> None:
    backend = GitBackend(repo.clone)
    backend.refresh()
    git(repo.clone, "remote", "set-url", "origin", str(tmp_path / "gone.git"))
    before = head(repo.clone)
    with pytest.raises(GitError) as caught:
        backend.commit({"data/a.txt": b"a"}, "switchboard: lost")
    assert str(caught.value).startswith("the push to origin failed and nothing was changed:")
    assert str(caught.value).endswith("— check the remote is reachable, then retry")
    assert head(repo.clone) == before
    assert not (repo.clone / "data/a.txt").exists()


def test_finding_the_clone(repo: Repo, tmp_path: Path) -> None:
    (repo.clone / "deep" / "down").mkdir(parents=True)
    assert find_root(repo.clone / "deep" / "down") == repo.clone
    assert GitBackend(repo.clone / "deep").root == repo.clone
    (tmp_path / "plain").mkdir()
    with pytest.raises(GitError) as caught:
        GitBackend(tmp_path / "plain")
    assert str(caught.value) == (
        f"{tmp_path / 'plain'} is not inside a git repository — run switchboard inside your clone, "
        f"or pass --repo PATH (or set SWITCHBOARD_REPO)"
    )
    with pytest.raises(GitError, match="does not exist or is not a folder"):
        GitBackend(tmp_path / "missing")


def test_credentials_in_git_output_are_scrubbed() -> None:
    text = "fatal: unable to access 'https://x-access-token:ghp_secret@github.com/o/r.git/': 403"
    assert "ghp_secret" not in _scrub(text)
    assert "https://***@github.com/o/r.git/" in _scrub(text)


@pytest.mark.parametrize(
    ("url", "host"),
    [
        ("https://github.com/octo/sb.git", "github.com"),
        ("https://x-access-token:ghp_secret@github.com/octo/sb.git", "github.com"),
        ("git@github.com:octo/sb.git", "github.com"),
        ("ssh://git@git.example.org:2222/sb.git", "git.example.org"),
        ("https://api.github.com", "api.github.com"),
        ("/srv/git/sb.git", None),
        ("../sb.git", None),
        ("sb.git", None),
        ("file:///srv/git/sb.git", None),
        ("http://127.0.0.1:8080/sb.git", None),
        ("http://localhost/sb.git", None),
        ("http://[::1]:3000", None),
        ("./a:b/sb.git", None),
    ],
)
def test_which_remotes_are_another_machine(url: str, host: str | None) -> None:
    assert off_machine_host(url) == host


def test_dev_mode_works_in_a_clone_whose_remote_is_on_this_machine(repo: Repo, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SWITCHBOARD_DEV_MODE", "true")
    monkeypatch.delenv("GITHUB_ACTIONS", raising=False)
    store = open_store(Settings(repo=str(repo.clone)))
    assert store.codec.plaintext and GitBackend(repo.clone).remote_host() is None
