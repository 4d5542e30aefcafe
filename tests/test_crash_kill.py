"""Dozens of `switchboard tick` processes killed (SIGKILL) at random moments, then a clean pass.

Each tick is a real process on a real clone of a bare remote, sending to the
Letta stand-in; it is killed with its whole process group (as a cancelled job
or a machine that dies takes its git commands with it) at a random moment of
its pass. Afterwards the clone must still work, every message must have
arrived, and none twice: a dead pass's claims are taken over once they expire,
and the takeover first asks Letta for the fire's otid.
"""

from __future__ import annotations

import os
import random
import signal
import socket
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
import tick_support
from tick_support import LETTA_KEY, T0, World, git

# The fixtures `world`, `letta` and `git_template`.
world_fixture, letta_fixture, git_template_fixture = (
    tick_support.world_fixture,
    tick_support.letta_fixture,
    tick_support.git_template_fixture,
)

#: Ticks killed in a run (SWITCHBOARD_KILLS for a longer soak).
KILLS = int(os.environ.get("SWITCHBOARD_KILLS", "20"))
MESSAGES = 30
#: Between two ticks the clock moves on by this much: a claim expires (30 min) two ticks later.
STEP = timedelta(minutes=16)


def tick_process(world: World, now: str) -> subprocess.Popen[str]:
    """`switchboard tick --now NOW` on the world's clone, in a process group of its own."""
    env = {
        **os.environ,
        "SWITCHBOARD_ENCRYPTION_KEY": world.key,
        "SWITCHBOARD_REPO": str(world.path()),
        "LETTA_API_KEY": LETTA_KEY,
        "XDG_CONFIG_HOME": str(world.top / "config"),
        "HOME": str(world.top / "home"),
    }
    for name in ("LETTA_BASE_URL", "SWITCHBOARD_DEV_MODE", "SWITCHBOARD_GITHUB_REPO", "GITHUB_ACTIONS"):
        env.pop(name, None)
    return subprocess.Popen(
        [sys.executable, "-m", "switchboard", "tick", "--now", now],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )


def started_work(world: World, proc: subprocess.Popen[str]) -> None:
    """Wait until the tick has written its owner line into the clone's lock (or has ended)."""
    lock = world.path() / ".git" / "switchboard.lock"
    while proc.poll() is None:
        try:
            if f"pid {proc.pid} " in lock.read_text():
                return
        except OSError:
            pass
        time.sleep(0.005)


def git_running(group: int) -> bool:
    """Whether a git command of the process group GROUP is running now."""
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)
        except OSError:
            continue
        if fields[0].endswith("(git") and int(fields[1].split()[2]) == group:
            return True
    return False


def in_git_command(proc: subprocess.Popen[str], n: int) -> None:
    """Wait until the N-th git command that PROC's process group starts is running (or PROC has ended)."""
    for _ in range(n - 1):
        while proc.poll() is None and not git_running(proc.pid):
            pass
        while proc.poll() is None and git_running(proc.pid):
            pass
    while proc.poll() is None and not git_running(proc.pid):
        pass


@pytest.fixture(name="served")
def served_fixture(world: World) -> Iterator[World]:
    """The world with its clone pushing to its remote through `git daemon` on 127.0.0.1.

    As with a remote on GitHub, the remote's side of a push runs in another
    process than the tick: killing the tick cannot leave a lock in the remote.
    """
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    daemon = subprocess.Popen(
        ["git", "daemon", "--reuseaddr", "--export-all", "--enable=receive-pack", f"--base-path={world.top}",
         "--listen=127.0.0.1", f"--port={port}", str(world.top)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        url = f"git://127.0.0.1:{port}/remote.git"
        assert world.store is not None  # the clone, made now; git reads its remote's URL on every call
        git(world.path(), "remote", "set-url", "origin", url)
        for _ in range(500):  # until the daemon answers
            if subprocess.run(["git", "ls-remote", url], capture_output=True).returncode == 0:
                break
            time.sleep(0.01)
        yield world
    finally:
        daemon.kill()
        daemon.wait()


@pytest.mark.slow
def test_ticks_killed_at_random_moments_lose_nothing_and_send_nothing_twice(served: World) -> None:
    world = served
    seed = int(os.environ.get("SWITCHBOARD_KILL_SEED") or random.randrange(1 << 30))
    rng = random.Random(seed)
    world.letta.run_duration = 0.05  # each delivery waits a poll for its run: passes last long enough to be hit
    agents = world.letta.agents
    due_by = T0 + STEP * KILLS
    schedules = [
        # A third due at the start, the rest falling due along the way.
        world.one_time(
            T0 + (due_by - T0) * max(0, i - 10) / MESSAGES - timedelta(minutes=5),
            agent=agents[i % 3],
            message=f"message {i}",
        )
        for i in range(MESSAGES)
    ]
    world.seed(*schedules)

    # Kill at a random moment of the pass itself: while one of its git commands runs (the n-th it starts), or
    # counted from when it first takes the clone's lock (git work, claiming) or from when Letta receives its
    # first message (sending, recording), and drawn within how long that part of the last pass that ran to its
    # end took, so that the kill lands inside the pass however fast this machine is. Ticks go on (up to three
    # times as many) until KILLS of them were killed.
    lasted = {"lock": 1.0, "send": 0.5}
    killed = 0
    step = 0
    recovered: list[str] = []
    while killed < KILLS and step < 3 * KILLS:
        proc = tick_process(world, (T0 + STEP * step).isoformat())
        step += 1
        sent_before = len(world.letta.deliveries)
        started_work(world, proc)
        part = rng.choice(["git", "lock", "send"])
        if part == "git":
            in_git_command(proc, rng.randrange(1, 12))
        elif part == "send":
            while proc.poll() is None and len(world.letta.deliveries) == sent_before:
                time.sleep(0.005)
        began = time.monotonic()
        try:
            proc.wait(timeout=0.0 if part == "git" else rng.uniform(0.0, lasted[part]))
            if part != "git" and (part == "lock" or len(world.letta.deliveries) > sent_before):
                lasted[part] = max(time.monotonic() - began, 0.02)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            killed += 1
        _, err = proc.communicate()
        recovered += [line for line in err.splitlines() if line.startswith("Recovered: ")]
    assert killed >= KILLS // 2, f"too few ticks were killed mid-pass ({killed} of {step}; seed {seed})"
    last = T0 + STEP * step

    # The clean pass: after every claim expired.
    final = tick_process(world, (last + timedelta(hours=1)).isoformat())
    _, err = final.communicate(timeout=120)
    assert final.returncode == 0, f"seed {seed}: {err}"
    recovered += [line for line in err.splitlines() if line.startswith("Recovered: ")]
    asked = sum(1 for r in world.letta.requests if r.method == "GET" and r.path.split("?")[0].endswith("/messages"))
    # Seen with -s: how much of the recovery this run exercised.
    print(f"seed {seed}: {killed} of {step} killed, {asked} takeovers asked Letta, recovered: {Counter(recovered)}")

    sent = Counter(d.otid for d in world.letta.deliveries)
    twice = {otid: n for otid, n in sent.items() if n > 1}
    assert twice == {}, f"seed {seed}: sent more than once: {twice}"
    assert sorted(d.text for d in world.letta.deliveries) == sorted(s.message for s in schedules), f"seed {seed}"
    assert world.remote_schedules() == {}
    results = Counter(r.schedule_id for r in world.remote_results() if r.status == "delivered")
    assert results == Counter(s.id for s in schedules), f"seed {seed}"

    # The clone works and is clean: level with the remote, no lock files, nothing left under data/.
    assert git(world.path(), "rev-parse", "HEAD") == git(world.remote, "rev-parse", "main")
    assert git(world.path(), "status", "--porcelain", "--", "data") == ""
    assert not [p for p in (world.path() / ".git").rglob("*.lock") if p.name != "switchboard.lock"]
    again = tick_process(world, (last + timedelta(hours=2)).isoformat())
    _, err = again.communicate(timeout=60)
    assert again.returncode == 0 and "Recovered" not in err, f"seed {seed}: {err}"
