"""`switchboard watch`: a pass at each due instant, schedules pushed from elsewhere, crashes, the heartbeat."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import tick_support
from tick_support import LETTA_KEY, T0, World, client_factory, texts

from switchboard.backends.git import GitBackend
from switchboard.doctor import FAIL, OK, SKIP, WARN, watcher_check
from switchboard.watch import HEARTBEAT_FILE, Heartbeat, Watcher, backoff, read_heartbeat, wake_at, write_heartbeat

world_fixture, letta_fixture, git_template_fixture = (
    tick_support.world_fixture,
    tick_support.letta_fixture,
    tick_support.git_template_fixture,
)

ROOT = Path(__file__).resolve().parents[1]
SECRET_TEXT = "the vault opens at dawn"
MINUTE = timedelta(minutes=1)
HALF = timedelta(seconds=30)


def test_the_next_pass_is_the_earliest_of_due_fetch_and_retry() -> None:
    assert wake_at(T0, None, fetch_every=HALF) == T0 + HALF
    assert wake_at(T0, T0 + timedelta(seconds=7), fetch_every=HALF) == T0 + timedelta(seconds=7)
    assert wake_at(T0, T0 + MINUTE, fetch_every=HALF) == T0 + HALF
    assert wake_at(T0, T0 + MINUTE, fetch_every=HALF, retry=timedelta(seconds=5)) == T0 + timedelta(seconds=5)
    # Fell due while the pass ran: at once.
    assert wake_at(T0, T0 - timedelta(seconds=1), fetch_every=HALF) == T0 - timedelta(seconds=1)


def test_backoff_doubles_up_to_the_fetch_interval() -> None:
    assert [backoff(n, HALF).total_seconds() for n in range(1, 8)] == [1, 2, 4, 8, 16, 30, 30]
    assert backoff(10_000, HALF) == HALF


class StepClock:
    """A clock that reads what the test set: passes happen at the instants the test chooses."""

    def __init__(self, start: datetime) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now


def test_a_failing_pass_is_one_line_and_the_loop_goes_on(world: World) -> None:
    world.seed(world.one_time(T0 - MINUTE, message=SECRET_TEXT))
    clock = StepClock(T0)
    errors: list[str] = []
    watcher = Watcher(world.store, client_factory, fetch_every=30, options=tick_support.FAST, clock=clock)
    watcher.on_error = errors.append
    hidden = world.top / "remote-away.git"
    world.remote.rename(hidden)  # the remote is gone for a while (a network outage, a full disk)

    first = watcher.run_once()
    clock.now = first
    second = watcher.run_once()

    assert (first, second) == (T0 + timedelta(seconds=1), first + timedelta(seconds=2))
    assert len(errors) == 2 and all(e.startswith("pass failed (git fetch failed: ") for e in errors)
    assert errors[0].endswith("— retrying in 1s") and errors[1].endswith("— retrying in 2s")
    assert not any(SECRET_TEXT in e or world.key in e or LETTA_KEY in e for e in errors)
    beat = read_heartbeat(world.path() / ".git" / HEARTBEAT_FILE)
    assert beat is not None and beat.last_error == "GitError" and beat.last_pass is None
    assert world.letta.deliveries == []

    hidden.rename(world.remote)
    clock.now = second
    third = watcher.run_once()

    assert texts(world.letta.deliveries) == [SECRET_TEXT]
    assert watcher.failures == 0 and third == second + timedelta(seconds=30)  # nothing else is scheduled
    beat = read_heartbeat(world.path() / ".git" / HEARTBEAT_FILE)
    assert beat is not None and beat.last_error is None and beat.last_pass == second and beat.next_wake == third


def test_the_watcher_sleeps_until_the_next_due_instant(world: World) -> None:
    world.seed(
        world.one_time(T0 + timedelta(seconds=12), message="twelve seconds in"),
        world.recurring("*/5 * * * *", created=T0 - timedelta(days=1), message="every five minutes"),
    )
    clock = StepClock(T0)

    def sleep(seconds: float) -> None:
        clock.now += timedelta(seconds=seconds)

    watcher = Watcher(world.store, client_factory, fetch_every=60, options=tick_support.FAST, clock=clock, sleep=sleep)
    wakes = []
    for _ in range(4):
        wake = watcher.run_once()
        wakes.append(wake)
        watcher.sleep_until(wake)

    # T0 is 12:00: the recurring fire is due at once; then 12 s; then a fetch each minute up to 12:05.
    assert wakes == [
        T0 + timedelta(seconds=12),
        T0 + timedelta(seconds=72),
        T0 + timedelta(seconds=132),
        T0 + timedelta(seconds=192),
    ]
    assert texts(world.letta.deliveries) == ["every five minutes", "twelve seconds in"]


def test_a_pass_for_a_due_instant_claims_ahead_and_sends_at_the_instant(world: World) -> None:
    due = T0 + timedelta(seconds=12)
    world.seed(world.one_time(due, message="on the dot"))
    clock = StepClock(T0 + timedelta(seconds=10))
    seen: list[tuple[float, int, bool]] = []

    def sleep(seconds: float) -> None:
        claimed = any(subject.startswith("switchboard: claim") for subject in world.remote_log())
        seen.append((seconds, len(world.letta.deliveries), claimed))
        clock.now += timedelta(seconds=seconds)

    watcher = Watcher(world.store, client_factory, fetch_every=60, options=tick_support.FAST, clock=clock, sleep=sleep)
    watcher.run_once(at=due)

    # While holding: the claim is pushed, nothing is sent yet; then the send, at the instant.
    assert seen == [(2.0, 0, True)]
    [delivery] = world.letta.deliveries
    assert delivery.text == "on the dot"
    [result] = world.remote_results()
    assert result.scheduled_for == due and result.lateness_s == 0


def test_messages_due_close_together_are_claimed_by_one_pass_and_each_sent_at_its_instant(world: World) -> None:
    first, second, later = (T0 + timedelta(seconds=s) for s in (12, 12.5, 30))
    world.seed(*(world.one_time(at, message=f"at {at:%S.%f}") for at in (first, second, later)))
    clock = StepClock(T0)
    seen: list[tuple[float, list[str]]] = []

    def sleep(seconds: float) -> None:
        seen.append((seconds, [d.text for d in world.letta.deliveries]))
        clock.now += timedelta(seconds=seconds)

    watcher = Watcher(world.store, client_factory, fetch_every=60, options=tick_support.FAST, clock=clock, sleep=sleep)
    # 30 s is more than a second after 12.5 s: the run of instants ends there.
    assert watcher.run_once() == first and watcher.batch_until == second
    clock.now = first - timedelta(seconds=2)
    assert watcher.run_once(at=second) == later

    # Held until 12 s with nothing sent, then until 12.5 s with only the first sent.
    assert seen == [(2.0, []), (0.5, ["at 12.000000"])]
    assert [d.text for d in world.letta.deliveries] == ["at 12.000000", "at 12.500000"]
    assert sum(subject.startswith("switchboard: claim") for subject in world.remote_log()) == 1


def test_a_commit_in_the_same_clone_ends_the_wait(world: World) -> None:
    clock = StepClock(T0)
    calls: list[float] = []
    soon = world.one_time(T0 + timedelta(seconds=20), message="written on this machine")

    def sleep(seconds: float) -> None:
        calls.append(seconds)
        if len(calls) == 1:
            world.seed(soon)  # `switchboard send` in the watcher's own clone, while it sleeps
        clock.now += timedelta(seconds=1)

    watcher = Watcher(world.store, client_factory, fetch_every=60, options=tick_support.FAST, clock=clock, sleep=sleep)
    wake = watcher.run_once()
    assert wake == T0 + timedelta(seconds=60)  # nothing scheduled yet: the next fetch

    assert watcher.sleep_until(wake) is True and len(calls) == 1  # woken at once, not at the fetch
    assert watcher.run_once() == soon.execute_at  # and the next pass plans for what was written
    assert watcher.sleep_until(clock.now + timedelta(seconds=3)) is False  # no other commit: the whole wait
    assert len(calls) == 4


def _watch_env(world: World) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SWITCHBOARD_", "LETTA_", "GITHUB_"))}
    env.update(
        SWITCHBOARD_ENCRYPTION_KEY=world.key,
        LETTA_API_KEY=LETTA_KEY,
        LETTA_BASE_URL=world.letta.base_url,
        SWITCHBOARD_REPO=str(world.path()),
        XDG_CONFIG_HOME=str(world.top / "config"),
        HOME=str(world.top / "home"),
    )
    return env


def _wait_for(condition: object, what: str, limit: float = 90.0) -> None:
    """Wait (bounded, so a broken watcher fails the test instead of hanging it) until ``condition()``."""
    done = threading.Event()
    deadline = datetime.now(UTC) + timedelta(seconds=limit)
    while not condition():  # type: ignore[operator]
        if datetime.now(UTC) > deadline:
            pytest.fail(f"gave up waiting for {what}")
        done.wait(0.05)


def test_switchboard_watch_delivers_what_another_clone_pushed_and_stops_on_sigterm(world: World) -> None:
    world.store  # noqa: B018 - makes the watcher's clone
    heartbeat = world.path() / ".git" / HEARTBEAT_FILE
    watcher = subprocess.Popen(
        [sys.executable, "-m", "switchboard", "watch", "--fetch-every", "1"],
        cwd=ROOT,
        env=_watch_env(world),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        _wait_for(lambda: (read_heartbeat(heartbeat) or Heartbeat(0, "", T0, 1)).last_pass is not None, "a pass")
        beat = read_heartbeat(heartbeat)
        assert beat is not None and beat.pid == watcher.pid and beat.host == socket.gethostname()
        check = watcher_check(GitBackend(world.path()), datetime.now(UTC))
        assert check.status == OK and check.detail.startswith(f"a watcher (pid {watcher.pid}) is running;")

        # Pushed from a laptop's clone while the watcher runs, due a few seconds from now.
        due = datetime.now(UTC) + timedelta(seconds=3)
        world.seed(world.one_time(due, message=SECRET_TEXT), store=world.clone("laptop"))
        _wait_for(lambda: world.letta.deliveries, "the delivery")
    finally:
        watcher.send_signal(signal.SIGTERM)
        out, err = watcher.communicate(timeout=60)

    assert watcher.returncode == 0, err
    [delivery] = world.letta.deliveries
    assert delivery.text == SECRET_TEXT and delivery.received_at >= due  # never early
    assert world.remote_schedules() == {}  # delivered and recorded
    assert SECRET_TEXT not in out + err and world.key not in out + err and LETTA_KEY not in out + err
    assert "delivered 1" in out
    stopped = read_heartbeat(heartbeat)
    assert stopped is not None and stopped.stopped is not None and stopped.next_wake is None
    check = watcher_check(GitBackend(world.path()), datetime.now(UTC))
    assert check.status == WARN and check.detail.startswith(f"the watcher (pid {watcher.pid}) stopped ")
    assert check.fix is not None and "switchboard watch" in check.fix


def _dead_pid() -> int:
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    return gone.pid


@pytest.mark.parametrize(
    ("beat", "status", "start"),
    [
        (None, SKIP, "no watcher has run beside this clone"),
        (Heartbeat(os.getpid(), socket.gethostname(), T0, 30, last_pass=T0 - timedelta(seconds=20)), OK, "a watcher"),
        (Heartbeat(os.getpid(), socket.gethostname(), T0, 30, last_pass=T0 - timedelta(minutes=5)), WARN, "a watcher"),
        (Heartbeat(-1, socket.gethostname(), T0, 30, last_pass=T0), WARN, "the watcher (pid -1) is no longer running"),
        (Heartbeat(4242, "another-box", T0, 30, last_pass=T0 - timedelta(seconds=5)), OK, "a watcher (pid 4242 on"),
        (Heartbeat(4242, "h", T0, 30, last_pass=T0, stopped=T0 + MINUTE), WARN, "the watcher (pid 4242) stopped"),
    ],
)
def test_doctor_reads_the_heartbeat(world: World, beat: Heartbeat | None, status: str, start: str) -> None:
    world.store  # noqa: B018 - makes the clone
    if beat is not None and beat.pid == -1:
        beat = Heartbeat(_dead_pid(), beat.host, beat.started, beat.fetch_every, last_pass=beat.last_pass)
        start = f"the watcher (pid {beat.pid}) is no longer running"
    write_heartbeat(world.path() / ".git" / HEARTBEAT_FILE if beat else None, beat)  # type: ignore[arg-type]
    check = watcher_check(GitBackend(world.path()), T0 + MINUTE)
    assert check.status == status and check.status != FAIL
    assert check.detail.startswith(start), check.detail


def test_doctor_skips_the_watcher_without_a_clone() -> None:
    check = watcher_check(None, T0)
    assert check.status == SKIP and check.detail.startswith("no local clone")


def test_watch_bad_input_is_one_error_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from switchboard.cli import main

    for name in ("SWITCHBOARD_ENCRYPTION_KEY", "SWITCHBOARD_REPO", "SWITCHBOARD_GITHUB_REPO", "LETTA_API_KEY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    monkeypatch.chdir(tmp_path)

    assert main(["watch", "--fetch-every", "0"]) == 1
    out, err = capsys.readouterr()
    assert out == "" and err == (
        "Error: invalid value for '--fetch-every': Input should be greater than or equal to 1 "
        "— see `switchboard watch --help`\n"
    )
    assert main(["watch"]) == 1
    out, err = capsys.readouterr()
    assert out == "" and err.startswith("Error: SWITCHBOARD_ENCRYPTION_KEY is not set — ") and err.count("\n") == 1
    assert not (tmp_path / ".git").exists()
