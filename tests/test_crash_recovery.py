"""A process that died in a clone, and a record the remote refused: the clone recovers, nothing goes twice."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

import pytest
import tick_support
from tick_support import FAST, LETTA_KEY, T0, World, client_factory, git, job_otid, texts

from switchboard.backends.git import GitBackend
from switchboard.backends.git_recovery import Owner
from switchboard.index import indexed_store
from switchboard.tick import UNRECORDED_DIR, TickError, TickOptions, claim

# The fixtures `world`, `letta` and `git_template`.
world_fixture, letta_fixture, git_template_fixture = (
    tick_support.world_fixture,
    tick_support.letta_fixture,
    tick_support.git_template_fixture,
)

#: Git's lock files as a kill -9 in the middle of a pass left them (seen in the field).
LEFT_LOCKS = ["HEAD.lock", "packed-refs.lock", "index.lock", "refs/switchboard/building.lock"]
KEPT_REFS = "refs/switchboard/unrecorded/"


def dead_owner() -> Owner:
    """The owner line of a process that has exited (a real one: started, then waited for)."""
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return Owner(child.pid, "1", Owner.me().host, Owner.me().boot)


def test_an_owner_is_gone_only_when_that_is_certain() -> None:
    me = Owner.me()
    assert Owner.parse(me.line()) == me and Owner.parse("") is None and Owner.parse("pid x 1 h b") is None
    assert not me.is_gone()  # running
    assert dead_owner().is_gone()  # exited
    assert Owner(me.pid, "1", me.host, me.boot).is_gone() == (me.started != "-")  # its pid, another process
    assert Owner(me.pid, me.started, me.host, "another-boot").is_gone() == (me.boot != "-")  # the machine restarted
    assert not Owner(1, "1", "another-host", me.boot).is_gone()  # cannot be asked: presumed alive


def leave_locks(clone: Path, owner: Owner | None) -> None:
    """Git's lock files, and our lock naming ``owner``, as a process killed mid-commit leaves them."""
    for name in LEFT_LOCKS:
        path = clone / ".git" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("0" * 40 + "\n")
    (clone / ".git" / "switchboard.lock").write_text(owner.line() if owner else "")


def notices(world: World, name: str = "clone") -> list[str]:
    """Collect what the clone's backend says it recovered."""
    said: list[str] = []
    backend = world.clone(name).backend
    assert isinstance(backend, GitBackend)
    backend.notify = said.append
    return said


def test_locks_left_by_a_dead_pass_are_removed_with_one_line_each_and_the_clone_works(world: World) -> None:
    once = world.one_time(T0 - timedelta(minutes=1), message="after the crash")
    world.seed(once)
    said = notices(world)
    leave_locks(world.path(), dead_owner())

    report = world.tick(T0)

    assert report.count("delivered") == 1 and texts(world.letta.deliveries) == ["after the crash"]
    assert sorted(said) == sorted(
        f"Recovered: removed .git/{name} left by a switchboard process that died (pid {said[0].split('pid ')[1]}"
        for name in LEFT_LOCKS
    )
    assert all(not (world.path() / ".git" / name).exists() for name in LEFT_LOCKS)
    assert (world.path() / ".git" / "switchboard.lock").read_text() == ""  # released cleanly


def test_locks_of_a_live_owner_or_fresh_ones_are_left_alone(world: World) -> None:
    world.store.backend.refresh()
    said = notices(world)
    # Our own process as the owner (alive): nothing of "its" is touched.
    leave_locks(world.path(), Owner.me())
    world.store.backend.refresh()
    assert said == [] and all((world.path() / ".git" / name).exists() for name in LEFT_LOCKS)

    # No owner at all: a git command's lock is someone's until it is older than any command takes.
    (world.path() / ".git" / "switchboard.lock").write_text("")
    world.store.backend.refresh()
    assert said == []
    old = time.time() - 3600
    os.utime(world.path() / ".git" / "index.lock", (old, old))
    world.store.backend.refresh()
    assert said == ["Recovered: removed .git/index.lock left by a git command that died"]
    assert (world.path() / ".git" / "HEAD.lock").exists()


def test_an_unpushed_claim_of_a_dead_pass_is_dropped_and_data_put_back(world: World) -> None:
    """The field case: a claim commit never pushed, the remote moved on, and files half-written."""
    once = world.one_time(T0 - timedelta(minutes=5), message="claimed by the dead pass")
    world.seed(once)
    # The dead pass: its claim committed here, never pushed, and a schedule file written but not committed.
    claim_commit(world, once, "20260601T120000Z-deadbeef")
    half = world.path() / "data" / "schedules" / "half-written.json.enc"
    half.parent.mkdir(parents=True, exist_ok=True)
    half.write_bytes(b"gAAAA-not-committed")
    leave_locks(world.path(), dead_owner())
    # Meanwhile another clone changed the same schedule on the remote (a pass there released nothing: it delivered).
    other = world.tick(T0, store=world.clone("other"))
    assert other.count("delivered") == 1
    said = notices(world)

    report = world.tick(T0 + timedelta(minutes=1))

    assert report.planned == [] and texts(world.letta.deliveries) == ["claimed by the dead pass"]
    assert git(world.path(), "rev-parse", "HEAD") == git(world.remote, "rev-parse", "main")
    assert not half.exists() and git(world.path(), "status", "--porcelain", "--", "data") == ""
    assert any(line.startswith("Recovered: dropped 1 commit(s) of data/") for line in said)
    assert any(line.startswith("Recovered: put back 1 file(s) under data/") for line in said)


def test_a_local_commit_of_other_files_is_kept(world: World) -> None:
    backend = world.store.backend
    (world.path() / "NOTES.md").write_text("mine\n")
    git(world.path(), "add", "NOTES.md")
    git(world.path(), "commit", "-q", "-m", "My own notes")
    world.seed(world.one_time(T0, message="from the other clone"), store=world.clone("other"))

    backend.refresh()

    assert git(world.path(), "log", "-1", "--format=%s") == "My own notes\n"
    assert "from the other clone" not in git(world.path(), "log", "--format=%s")  # seeded, then rebased onto
    assert git(world.path(), "rev-parse", "HEAD~1") == git(world.remote, "rev-parse", "main")


def test_a_rebase_a_dead_process_was_in_is_stopped_and_done_again(world: World) -> None:
    backend = world.store.backend
    (world.path() / "NOTES.md").write_text("mine\n")
    git(world.path(), "add", "NOTES.md")
    git(world.path(), "commit", "-q", "-m", "My own notes")
    world.seed(world.one_time(T0, message="from the other clone"), store=world.clone("other"))
    # A refresh killed in the middle of its rebase: stopped at a step, HEAD detached.
    git(world.path(), "fetch", "-q", "origin", "main")
    subprocess.run(
        ["git", "rebase", "-q", "-i", "FETCH_HEAD"],
        cwd=world.path(),
        env={**os.environ, "GIT_SEQUENCE_EDITOR": "sed -i '1i break'"},
        check=True,
        capture_output=True,
    )
    assert (world.path() / ".git" / "rebase-merge").is_dir()
    leave_locks(world.path(), dead_owner())
    said = notices(world)

    backend.refresh()

    assert not (world.path() / ".git" / "rebase-merge").exists()
    assert git(world.path(), "symbolic-ref", "--short", "HEAD") == "main\n"
    assert git(world.path(), "log", "-1", "--format=%s") == "My own notes\n"
    assert git(world.path(), "rev-parse", "HEAD~1") == git(world.remote, "rev-parse", "main")
    assert any(line.startswith("Recovered: stopped the rebase a switchboard process that died") for line in said)


def claim_commit(world: World, schedule: object, pass_id: str) -> None:
    """Commit a claim in the clone without pushing it, as a pass killed before its push leaves it."""
    unpushed = indexed_store(GitBackend(world.path(), remote="no-such-remote"), world.codec)  # commits, never pushes
    assert [j.schedule for j in claim(unpushed, T0, pass_id, TickOptions())] != []
    assert git(world.path(), "rev-parse", "HEAD") != git(world.remote, "rev-parse", "main")


# -- a record the remote refused ---------------------------------------------------------------


def test_a_refused_record_is_kept_on_the_remote_and_another_clone_sends_nothing_again(world: World) -> None:
    a, b, c = world.letta.agents
    schedules = [
        world.one_time(T0 - timedelta(minutes=10 - i), agent=(a, b, c)[i % 3], message=f"message {i}")
        for i in range(10)
    ]
    world.seed(*schedules)
    # The remote refuses the record commit (only it), for this one pass.
    refuse = TickOptions(**{**FAST.__dict__, "on_claimed": lambda jobs: world.reject_pushes(subject_contains="tick ")})

    with pytest.raises(TickError) as caught:
        world.tick(T0, options=refuse)
    world.accept_pushes()

    assert len(world.letta.deliveries) == 10
    assert "kept on the remote as refs/switchboard/unrecorded/" in str(caught.value)
    kept = git(world.remote, "for-each-ref", "--format=%(refname)", KEPT_REFS).split()
    assert len(kept) == 1
    blob = git(world.remote, "cat-file", "blob", f"{kept[0]}:outcome.json.enc")
    assert "message 1" not in blob and LETTA_KEY not in blob  # encrypted like data/
    assert not list((world.path() / ".git" / UNRECORDED_DIR).glob("*"))  # one copy: on the remote

    # The next tick is a fresh clone, after every claim expired: it records the kept outcome, sends nothing.
    later = world.tick(T0 + timedelta(minutes=45), store=world.clone("fresh"))

    assert len(later.recovered) == 10 and later.planned == []
    assert len(world.letta.deliveries) == 10
    assert sorted(r.run_id or "" for r in world.remote_results()) == sorted(d.run_id for d in world.letta.deliveries)
    assert world.remote_schedules() == {}
    assert git(world.remote, "for-each-ref", KEPT_REFS) == ""
    assert world.tick(T0 + timedelta(minutes=50)).recovered == []  # the first clone has nothing left to record


# -- a takeover asks Letta first ------------------------------------------------------------------


def test_a_takeover_does_not_resend_what_letta_already_holds(world: World) -> None:
    a, b, _ = world.letta.agents
    sent = world.one_time(T0 - timedelta(minutes=5), agent=a, message="sent before the pass died")
    not_sent = world.one_time(T0 - timedelta(minutes=4), agent=b, message="claimed, never sent")
    world.seed(sent, not_sent)
    # A pass claims both, sends the first (with the fire's otid), and dies without recording or keeping anything.
    jobs = claim(world.store, T0, "20260601T120000Z-deadbeef", TickOptions())
    assert len(jobs) == 2
    with client_factory(world.letta.base_url, LETTA_KEY) as client:
        first = client.send_message(a, "sent before the pass died", otid=job_otid(sent, sent.execute_at))

    # Past the claims' lifetime, another clone takes both over.
    report = world.tick(T0 + timedelta(minutes=31), store=world.clone("other"))

    assert {o.job.schedule.id: o.status for o in report.outcomes} == {sent.id: "delivered", not_sent.id: "delivered"}
    assert texts(world.letta.deliveries) == ["sent before the pass died", "claimed, never sent"]  # each once
    by_schedule = {r.schedule_id: r for r in world.remote_results()}
    assert by_schedule[sent.id].run_id == first.id  # the run that took it the first time
    assert world.remote_schedules() == {}


def test_a_takeover_sends_again_with_the_same_otid_when_letta_does_not_show_it(world: World) -> None:
    """The documented case left: the fire is not (yet) in the agent's history, so it goes again."""
    a = world.letta.agents[0]
    once = world.one_time(T0 - timedelta(minutes=5), agent=a, message="still running")
    world.seed(once)
    claim(world.store, T0, "20260601T120000Z-deadbeef", TickOptions())
    world.letta.run_duration = 600.0  # the stand-in lists a message once its run has finished
    otid = job_otid(once, once.execute_at)
    with client_factory(world.letta.base_url, LETTA_KEY) as client:
        client.send_message(a, "still running", otid=otid)

    report = world.tick(T0 + timedelta(minutes=31))

    assert report.count("delivered") == 1
    assert [d.otid for d in world.letta.deliveries] == [otid, otid]
