"""A benchmark world: a bare git remote, a clone, a key, a Letta stand-in, and many schedules.

Nothing here is a mock: the remote is a real bare repository, the clone a real
``git clone`` of it, the schedules real encrypted records written through
``Store.transact`` (many in one commit, as ``switchboard import`` writes them),
and Letta is the stand-in HTTP server on 127.0.0.1.
"""

from __future__ import annotations

import random
import subprocess
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Protocol

from switchboard.backends.git import GitBackend
from switchboard.crypto import Codec, codec_from_keys, generate_key
from switchboard.index import indexed_store
from switchboard.models import OneTimeSchedule, RecurringSchedule, Schedule
from switchboard.store import Store, Transaction

API_KEY = "sk-let-bench-5f1e2d3c4b5a"
#: The first pass of every benchmark; later passes step forward from here.
T0 = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
#: Passes are this far apart: the due recurring schedules ("*/5 * * * *") are due again at each.
STEP = timedelta(minutes=10)
#: Not-due recurring schedules fire daily at these UTC hours: never inside T0 .. T0 + 3 hours.
QUIET_HOURS = [*range(16, 24), *range(0, 11)]
MESSAGE = "Daily check-in: summarise what changed since yesterday and list open questions."


class Letta(Protocol):
    """What a world needs of its Letta: where it is, and agents that exist there."""

    @property
    def base_url(self) -> str:
        """The server's root URL."""
        ...

    @property
    def agents(self) -> list[str]:
        """The agents it knows."""
        ...

    def add_agent(self) -> str:
        """Make an agent; its id."""
        ...


def git(cwd: Path, *args: str) -> str:
    """Run git in ``cwd`` and return its stdout."""
    return subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, text=True).stdout


@dataclass
class World:
    """A bare remote, one clone with its store, and the Letta stand-in the due schedules talk to."""

    top: Path
    codec: Codec
    letta: Letta
    store: Store = field(init=False)
    rng: random.Random = field(default_factory=lambda: random.Random(7))

    def __post_init__(self) -> None:
        """Make the remote and the clone (one commit on main, like the template repository)."""
        self.top.mkdir(parents=True, exist_ok=True)
        git(self.top, "init", "--quiet", "--bare", "--initial-branch=main", str(self.remote))
        git(self.top, "clone", "--quiet", str(self.remote), str(self.clone))
        git(self.clone, "config", "user.name", "switchboard bench")
        git(self.clone, "config", "user.email", "bench@switchboard.invalid")
        (self.clone / "README.md").write_text("# my switchboard\n")
        (self.clone / "data").mkdir()
        (self.clone / "data" / ".gitkeep").write_text("")
        git(self.clone, "add", "-A")
        git(self.clone, "commit", "--quiet", "-m", "Start from the template")
        git(self.clone, "push", "--quiet", "origin", "HEAD:main")
        # No automatic gc in the middle of a timed pass: it would land in one run at random.
        for repo in (self.remote, self.clone):
            git(repo, "config", "gc.auto", "0")
            git(repo, "config", "maintenance.auto", "false")
        git(self.remote, "config", "receive.autogc", "false")
        self.store = indexed_store(GitBackend(self.clone), self.codec)

    @property
    def remote(self) -> Path:
        """The bare remote."""
        return self.top / "remote.git"

    @property
    def clone(self) -> Path:
        """The working clone."""
        return self.top / "clone"

    # -- schedules ------------------------------------------------------

    def agents(self, count: int) -> list[str]:
        """``count`` agents that exist on the stand-in (made on first use)."""
        have = self.letta.agents
        for _ in range(count - len(have)):
            self.letta.add_agent()
        return self.letta.agents[:count]

    def quiet_recurring(self, count: int, now: datetime) -> list[RecurringSchedule]:
        """Recurring schedules not due anywhere in the benchmark's window (daily or weekly, mixed)."""
        made = []
        for index in range(count):
            hour = QUIET_HOURS[index % len(QUIET_HOURS)]
            minute = self.rng.randrange(60)
            days = "*" if index % 3 else "1-5"
            made.append(
                RecurringSchedule(
                    agent_id=f"agent-{_uuid4(self.rng)}",
                    message=MESSAGE,
                    cron=f"{minute} {hour} * * {days}",
                    timezone="UTC",
                    created_at=now - timedelta(minutes=1),
                    api_key=API_KEY,
                    base_url=self.letta.base_url,
                )
            )
        return made

    def future_one_time(self, count: int, now: datetime, days: int = 60) -> list[OneTimeSchedule]:
        """One-time schedules spread over the next ``days`` days (a day ahead at least): many buckets."""
        made = []
        for _ in range(count):
            at = now + timedelta(days=1, seconds=self.rng.randrange(days * 86400))
            made.append(
                OneTimeSchedule(
                    agent_id=f"agent-{_uuid4(self.rng)}",
                    message=MESSAGE,
                    execute_at=at,
                    created_at=now - timedelta(minutes=1),
                    api_key=API_KEY,
                    base_url=self.letta.base_url,
                )
            )
        return made

    def due_one_time(self, agents: Iterable[str], at: datetime) -> list[OneTimeSchedule]:
        """One due one-time schedule per agent, due a minute before ``at``."""
        return [
            OneTimeSchedule(
                agent_id=agent,
                message=MESSAGE,
                execute_at=at - timedelta(minutes=1),
                created_at=at - timedelta(hours=1),
                api_key=API_KEY,
                base_url=self.letta.base_url,
            )
            for agent in agents
        ]

    def due_recurring(self, agents: Iterable[str], now: datetime) -> list[RecurringSchedule]:
        """One recurring schedule per agent, due at every pass (every 5 minutes, passes 10 apart)."""
        return [
            RecurringSchedule(
                agent_id=agent,
                message=MESSAGE,
                cron="*/5 * * * *",
                timezone="UTC",
                created_at=now - timedelta(minutes=7),
                api_key=API_KEY,
                base_url=self.letta.base_url,
            )
            for agent in agents
        ]

    def seed(self, schedules: Iterable[Schedule], message: str = "bench: seed schedules") -> None:
        """Store schedules in one commit, through the store (as ``switchboard import`` does)."""
        batch = list(schedules)

        def compute(tx: Transaction) -> None:
            for schedule in batch:
                tx.save(schedule)

        self.store.transact(message, compute)


def make_world(top: Path, letta: Letta, codec: Codec | None = None) -> World:
    """A new world under ``top``, talking to ``letta`` (started by the caller)."""
    return World(top, codec or codec_from_keys(generate_key()), letta)


def _uuid4(rng: random.Random) -> str:
    """A version-4 UUID from ``rng`` (repeatable worlds)."""
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


def tree_size(path: Path) -> int:
    """Bytes of every file below ``path``."""
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())
