"""Many writers on one remote: a command someone waits on keeps trying, with jitter, until it lands.

Real parts: a bare remote in tmp_path, one clone per writer, and each writer
a separate process committing through ``Store.transact`` as fast as it can
(a tick's patience, catching its own give-ups). The writers are bounded in
number and time; what is asserted is that every interactive ``send`` lands,
not how long it took.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

import pytest
import tick_support
from conftest import LETTA_KEY, ROOT
from tick_support import T0, World
from typer.testing import CliRunner

from switchboard.backends.base import Changes
from switchboard.backends.git import GitBackend
from switchboard.cli import app
from switchboard.envelope import written
from switchboard.exceptions import ContentionError
from switchboard.index import indexed_store
from switchboard.store import TICK_PATIENCE, Patience, Store, Transaction

world_fixture, letta_fixture, git_template_fixture = (
    tick_support.world_fixture,
    tick_support.letta_fixture,
    tick_support.git_template_fixture,
)

WRITERS = 6
#: A writer stops by itself after this many seconds, whatever happens to the test.
WRITER_LIFETIME = 60

WRITER = """
import random, sys, time, uuid
from pathlib import Path
from switchboard.backends.git import GitBackend
from switchboard.crypto import codec_from_keys
from switchboard.exceptions import ContentionError
from switchboard.index import indexed_store
from switchboard.index import indexed_store

clone, key, stop, lifetime = Path(sys.argv[1]), sys.argv[2], Path(sys.argv[3]), float(sys.argv[4])
store = indexed_store(GitBackend(clone), codec_from_keys(key))
ends = time.monotonic() + lifetime
landed = 0
while not stop.exists() and time.monotonic() < ends:
    name = f"data/noise/{uuid.uuid4()}.json.enc"
    try:
        store.transact("noise", lambda tx: tx.put(name, store.codec.encrypt(b"noise")))
        landed += 1
    except ContentionError:
        pass
    time.sleep(random.uniform(0.05, 0.3))
print(landed)
"""


def start_writers(world: World, stop: Path) -> list[subprocess.Popen[str]]:
    writers = []
    for n in range(WRITERS):
        world.clone(f"writer-{n}")
        path = world.path(f"writer-{n}")
        writers.append(
            subprocess.Popen(
                [sys.executable, "-c", WRITER, str(path), world.key, str(stop), str(WRITER_LIFETIME)],
                cwd=ROOT,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
        )
    return writers


def stop_writers(writers: list[subprocess.Popen[str]], stop: Path) -> list[int]:
    stop.write_text("")
    landed = []
    for writer in writers:
        try:
            out, err = writer.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            writer.kill()
            out, err = writer.communicate()
        assert writer.returncode == 0, err
        landed.append(int(out.strip() or 0))
    return landed


@pytest.mark.slow
def test_interactive_send_lands_while_many_writers_race_on_one_remote(world: World, tmp_path: Path) -> None:
    runner = CliRunner()
    laptop = world.path("laptop")
    world.clone("laptop")
    env: dict[str, str | None] = {
        "SWITCHBOARD_ENCRYPTION_KEY": world.key,
        "LETTA_API_KEY": LETTA_KEY,
        "LETTA_BASE_URL": world.letta.base_url,
        "SWITCHBOARD_REPO": str(laptop),
        "XDG_CONFIG_HOME": str(tmp_path / "config"),
        "HOME": str(tmp_path / "home"),
        **dict.fromkeys(["SWITCHBOARD_DEV_MODE", "SWITCHBOARD_GITHUB_REPO", "GITHUB_TOKEN", "GITHUB_ACTIONS"]),
    }
    stop = tmp_path / "stop"
    writers = start_writers(world, stop)
    try:
        # Wait (bounded) until the writers are committing, so the sends really race them.
        deadline = time.monotonic() + 60
        while len(world.remote_log()) < 2 + WRITERS and time.monotonic() < deadline:
            time.sleep(0.2)
        sent = []
        for n in range(3):
            at = (T0.replace(year=2031) + timedelta(hours=n)).isoformat()
            result = runner.invoke(
                app, ["send", "--agent-id", world.letta.agents[0], "-m", f"racing {n}", "--at", at, "--json"], env=env
            )
            assert result.exit_code == 0, result.stderr
            sent.append(result.stdout)
        # And one sent now: stored claimed, delivered from here, and its result recorded, all while racing.
        now = runner.invoke(app, ["send", "--agent-id", world.letta.agents[1], "-m", "racing now", "--json"], env=env)
        assert now.exit_code == 0, now.stderr
        assert json.loads(now.stdout)["result"]["status"] == "delivered"
    finally:
        landed = stop_writers(writers, stop)
    assert len(sent) == 3
    assert sum(landed) >= WRITERS  # the writers did race: they landed commits meanwhile
    subjects = world.remote_log()
    assert sum(1 for s in subjects if s.startswith("switchboard: add one-time")) == 4
    assert [written(d.text) for d in world.letta.deliveries] == ["racing now"]


def test_giving_up_says_so_and_writes_nothing(world: World) -> None:
    store = world.store
    rival = world.clone("rival")
    before = world.remote_log()
    calls = 0

    def always_beaten(tx: Transaction) -> None:
        nonlocal calls
        calls += 1
        # Someone else commits between our refresh and our push, every time.
        rival.transact(f"rival {calls}", lambda other: other.put(f"data/noise/{calls}.json.enc", b"x"))
        tx.put("data/noise/mine.json.enc", b"mine")

    store.patience = Patience(attempts=3, seconds=0.0, max_backoff=0.01, least=3)
    with pytest.raises(ContentionError) as gave_up:
        store.transact("mine", always_beaten)

    assert calls == 3 and gave_up.value.attempts == 3
    assert str(gave_up.value).startswith("gave up after 3 attempts in ")
    assert str(gave_up.value).endswith(
        " s: the repository kept changing under us (others committed first every time) — nothing was written; try again"
    )
    assert "data/noise/mine.json.enc" not in world.remote_files()
    assert len(world.remote_log()) == len(before) + 3


class BeatenBackend(GitBackend):
    """A real clone whose claim commits are each beaten by a rival's commit pushed just before."""

    def __init__(self, root: Path, rival: Store) -> None:
        super().__init__(root)
        self.rival = rival
        self.beaten = 0
        self.beating = True

    def commit(self, changes: Changes, message: str) -> bool:
        if self.beating and message.startswith("switchboard: claim"):
            self.beaten += 1
            name = f"data/noise/{self.beaten}.json.enc"
            self.rival.transact(f"rival {self.beaten}", lambda other: other.put(name, b"x"))
        return super().commit(changes, message)


def test_a_tick_that_loses_every_race_says_so_in_its_summary(world: World) -> None:
    from switchboard.cli.runner import show, summary_markdown

    world.seed(world.one_time(T0 - timedelta(minutes=1), message="contended"))
    world.clone("ticker")
    backend = BeatenBackend(world.path("ticker"), world.clone("rival"))
    store = indexed_store(backend, world.codec)
    store.patience = Patience(attempts=3, seconds=0.0, max_backoff=0.01, least=3)

    report = world.tick(T0, store=store)

    assert backend.beaten == 3
    assert world.letta.deliveries == []  # nothing claimed, nothing sent
    assert report.contended is not None and report.contended.startswith("the claim gave up after 3 attempts in ")
    assert report.contended.endswith(
        "s (others committed first every time); nothing was claimed or sent — the next tick tries again"
    )
    assert f"**Lost every race for the repository:** {report.contended}" in summary_markdown(report)
    lines: list[str] = []
    show(report, False, lines.append)
    assert f"  lost every race for the repository: {report.contended}" in lines
    assert report.as_json()["contended"] == report.contended
    # The next pass, unhindered, delivers it.
    backend.beating = False
    store.patience = TICK_PATIENCE
    assert world.tick(T0, store=store).count("delivered") == 1
