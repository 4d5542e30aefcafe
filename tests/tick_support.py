"""What the tick tests share: a fast real git world, a Letta stand-in, schedules, passes.

Every test of the tick works on real parts: a bare git remote with clones in
``tmp_path`` (copied from one template made per session, which is much faster
than ``git init`` + ``clone`` + ``push`` each time), the Letta stand-in on
127.0.0.1, and ``run_pass`` itself. Time is always the ``now`` given to a pass;
nothing patches a clock. ``Sleeps`` records the waits a pass asks for instead
of sleeping them, so backoff and Retry-After cost no wall time.

(Helpers are imported from here rather than from ``conftest``: with
``tests/real_letta/conftest.py`` around, ``import conftest`` is ambiguous. A
test module imports the ``*_fixture`` functions to use the fixtures ``world``,
``letta`` and ``git_template``.)
"""

from __future__ import annotations

import json
import shutil
import ssl
import subprocess
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from pathlib import Path
from typing import Any

import httpx
import pytest

from switchboard.backends.git import GitBackend
from switchboard.crypto import Codec, codec_from_keys, generate_key
from switchboard.index import indexed_store
from switchboard.letta import LettaClient
from switchboard.models import OneTimeSchedule, RecurringSchedule, Result, Schedule
from switchboard.store import ONE_TIME, RECURRING, RESULTS, Store, delivery_of
from switchboard.testing.letta import Delivery, LettaStandIn
from switchboard.tick import Job, RecentRuns, TickOptions, TickReport, run_pass

LETTA_KEY = "sk-let-test-0f9e8d7c6b5a"  # the key conftest's stand-in accepts, too
OTHER_KEY = "sk-let-test-second-tenant-77aa"
T0 = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)

#: Fast, bounded passes: tiny backoff, short run waits, few record retries.
FAST = TickOptions(base_delay=0.01, run_wait=1.0, run_poll=0.01, record_attempts=2)


def git(cwd: Path, *args: str) -> str:
    """Run git in ``cwd`` and return its stdout."""
    return subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, text=True).stdout


@lru_cache(maxsize=1)
def _tls() -> ssl.SSLContext:
    # Loading CA certificates costs ~0.15 s per httpx client on a slow box; load them once.
    return httpx.create_ssl_context()


def client_factory(base_url: str, api_key: str | None) -> LettaClient:
    """The tick's Letta client, with a real transport and a short timeout."""
    return LettaClient(base_url, api_key, transport=httpx.HTTPTransport(verify=_tls()), timeout=5.0)


class Sleeps:
    """A ``sleep`` that records what it was asked and sleeps at most ``cap`` seconds."""

    def __init__(self, cap: float = 0.0) -> None:
        self.calls: list[float] = []
        self.cap = cap
        self._lock = threading.Lock()

    def __call__(self, seconds: float) -> None:
        with self._lock:
            self.calls.append(seconds)
        if self.cap > 0:
            threading.Event().wait(min(seconds, self.cap))


# -- the git world ------------------------------------------------------------------


def make_template(top: Path) -> Path:
    """A bare remote with one commit and a configured clone of it, under ``top``."""
    remote = top / "remote.git"
    git(top, "init", "--quiet", "--bare", "--initial-branch=main", str(remote))
    clone = top / "clone"
    git(top, "clone", "--quiet", str(remote), str(clone))
    git(clone, "config", "user.name", "switchboard tests")
    git(clone, "config", "user.email", "tests@switchboard.invalid")
    (clone / "README.md").write_text("# my switchboard\n")
    (clone / "data").mkdir()
    (clone / "data" / ".gitkeep").write_text("")
    git(clone, "add", "-A")
    git(clone, "commit", "--quiet", "-m", "Start from the template")
    git(clone, "push", "--quiet", "origin", "HEAD:main")
    # No background housekeeping after each commit, fetch or push: tests make hundreds of tiny ones.
    for repo in (remote, clone):
        git(repo, "config", "gc.auto", "0")
        git(repo, "config", "maintenance.auto", "false")
    git(remote, "config", "receive.autogc", "false")
    return top


@pytest.fixture(scope="session", name="git_template")
def git_template_fixture(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Made once per session; each world copies it."""
    return make_template(tmp_path_factory.mktemp("tick-template"))


@dataclass
class World:
    """A bare remote, clones of it, an encryption key, and a Letta stand-in with agents."""

    top: Path
    template: Path
    codec: Codec
    key: str
    letta: LettaStandIn
    stores: dict[str, Store] = field(default_factory=dict)

    @property
    def remote(self) -> Path:
        """The bare remote."""
        return self.top / "remote.git"

    def clone(self, name: str = "clone") -> Store:
        """The store on clone ``name`` (made on first use, as a copy of the template clone)."""
        if name not in self.stores:
            path = self.top / name
            shutil.copytree(self.template / "clone", path, symlinks=True)
            config = path / ".git" / "config"
            config.write_text(config.read_text().replace(str(self.template / "remote.git"), str(self.remote)))
            self.stores[name] = indexed_store(GitBackend(path), self.codec)
        return self.stores[name]

    @property
    def store(self) -> Store:
        """The first clone's store."""
        return self.clone("clone")

    def path(self, name: str = "clone") -> Path:
        """A clone's directory."""
        return self.top / name

    # -- schedules ----------------------------------------------------------

    def one_time(
        self,
        at: datetime,
        *,
        agent: str | None = None,
        message: str | None = None,
        created: datetime | None = None,
        api_key: str | None = LETTA_KEY,
        base_url: str | None = None,
    ) -> OneTimeSchedule:
        """A one-time schedule (not stored yet: pass it to ``seed``)."""
        return OneTimeSchedule(
            agent_id=agent or self.letta.agents[0],
            message=message or f"one-time message for {at.isoformat()}",
            execute_at=at,
            created_at=created or min(at, T0) - timedelta(days=1),
            api_key=api_key,
            base_url=base_url or self.letta.base_url,
        )

    def recurring(
        self,
        cron: str,
        tz: str = "UTC",
        *,
        created: datetime,
        agent: str | None = None,
        message: str | None = None,
        api_key: str | None = LETTA_KEY,
        status: str = "active",
    ) -> RecurringSchedule:
        """A recurring schedule (not stored yet: pass it to ``seed``)."""
        return RecurringSchedule(
            agent_id=agent or self.letta.agents[0],
            message=message or f"recurring {cron} in {tz}",
            cron=cron,
            timezone=tz,
            created_at=created,
            api_key=api_key,
            base_url=self.letta.base_url,
            status=status,  # type: ignore[arg-type]
        )

    def seed(self, *schedules: Schedule, store: Store | None = None) -> None:
        """Store schedules in one commit (as `switchboard` commands would, but faster)."""

        def compute(tx: Any) -> None:
            for schedule in schedules:
                tx.save(schedule)

        (store or self.store).transact("tests: seed schedules", compute)

    # -- passes -------------------------------------------------------------

    def tick(
        self,
        now: datetime,
        *,
        store: Store | None = None,
        options: TickOptions = FAST,
        sleep: Callable[[float], None] | None = None,
        recent: RecentRuns | None = None,
    ) -> TickReport:
        """One pass at ``now`` against the stand-in."""
        return run_pass(store or self.store, now, client_factory, options, sleep=sleep or Sleeps(), recent=recent)

    # -- looking at the remote ------------------------------------------------

    def remote_log(self) -> list[str]:
        """Commit subjects on the remote, newest first."""
        return git(self.remote, "log", "--format=%s", "main").splitlines()

    def remote_files(self, prefix: str = "data") -> list[str]:
        """Files on the remote's main branch below ``prefix``."""
        return [p for p in git(self.remote, "ls-tree", "-r", "--name-only", "main").split() if p.startswith(prefix)]

    def snapshot(self, prefix: str = "data") -> dict[str, bytes]:
        """Every file below ``prefix`` on the remote's main branch, with its content (two git calls)."""
        paths = self.remote_files(prefix)
        if not paths:
            return {}
        batch = "".join(f"main:{p}\n" for p in paths).encode()
        out = subprocess.run(
            ["git", "cat-file", "--batch"], cwd=self.remote, input=batch, check=True, capture_output=True
        ).stdout
        files: dict[str, bytes] = {}
        for path in paths:
            header, out = out.split(b"\n", 1)
            size = int(header.split()[2])
            files[path], out = out[:size], out[size + 1 :]
        return files

    def remote_schedules(self) -> dict[str, Schedule]:
        """schedule id -> the schedule as the remote holds it now."""
        found: dict[str, Schedule] = {}
        for path, raw in self.snapshot("data/schedules").items():
            record = self.store.decode(path, raw)
            schedule: Schedule = (
                OneTimeSchedule.model_validate(record)
                if path.startswith(ONE_TIME)
                else RecurringSchedule.model_validate(record)
            )
            found[schedule.id] = schedule
        return found

    def remote_schedule(self, schedule_id: str) -> Schedule | None:
        """One schedule as the remote holds it now (None when gone)."""
        return self.remote_schedules().get(schedule_id)

    def remote_results(self, schedule_id: str | None = None) -> list[Result]:
        """Every delivery's result on the remote (of one schedule), oldest first: the newest line of each."""
        suffix = self.store.codec.suffix
        lines = self.remote_result_lines()
        newest = {delivery_of(p, suffix)[0]: p for p in lines}  # lines are in order: the last one wins
        found = [lines[p] for p in sorted(newest.values(), key=lambda p: _file_name(delivery_of(p, suffix)[0]))]
        return [r for r in found if schedule_id is None or r.schedule_id == schedule_id]

    def remote_result_lines(self) -> dict[str, Result]:
        """Every result line on the remote by path, a delivery's first line before its later ones."""
        files = self.snapshot(RESULTS)
        suffix = self.store.codec.suffix
        ordered = sorted(files, key=lambda p: (_file_name(delivery_of(p, suffix)[0]), delivery_of(p, suffix)[1]))
        return {p: Result.model_validate(self.store.decode(p, files[p])) for p in ordered}

    def reject_pushes(self, *, subject_contains: str = "") -> None:
        """Install a pre-receive hook on the remote refusing pushes (whose subject contains a text)."""
        hook = self.remote / "hooks" / "pre-receive"
        hook.write_text(
            "#!/bin/sh\n"
            "while read old new ref; do\n"
            f'  if git log -1 --format=%s "$new" | grep -q -F -e "{subject_contains}"; then\n'
            '    echo "pushes are refused by policy" >&2; exit 1\n'
            "  fi\n"
            "done\n"
        )
        hook.chmod(0o755)

    def accept_pushes(self) -> None:
        """Remove the hook again."""
        (self.remote / "hooks" / "pre-receive").unlink(missing_ok=True)


@pytest.fixture(name="letta")
def letta_fixture() -> Iterator[LettaStandIn]:
    """A Letta stand-in accepting LETTA_KEY and OTHER_KEY, with three agents."""
    server = LettaStandIn(api_keys={LETTA_KEY, OTHER_KEY}).start()
    for _ in range(3):
        server.add_agent()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(name="world")
def world_fixture(tmp_path: Path, git_template: Path, letta: LettaStandIn) -> World:
    """A fresh remote (a copy of the template) with one clone, and the stand-in."""
    shutil.copytree(git_template / "remote.git", tmp_path / "remote.git", symlinks=True)
    key = generate_key()
    return World(top=tmp_path, template=git_template, codec=codec_from_keys(key), key=key, letta=letta)


# -- small helpers ----------------------------------------------------------------------


def _file_name(path: str) -> str:
    return path.rsplit("/", 1)[-1]


def texts(deliveries: Sequence[Delivery], agent: str | None = None) -> list[str]:
    """The texts the stand-in received (for one agent), in arrival order."""
    return [d.text for d in deliveries if agent is None or d.agent_id == agent]


def statuses(report: TickReport) -> dict[str, str]:
    """schedule id -> outcome status of a pass."""
    return {o.job.schedule.id: o.status for o in report.outcomes}


def job_otid(schedule: Schedule, scheduled_for: datetime) -> str:
    """The otid a pass sends for one fire of a schedule."""
    return Job("", schedule, scheduled_for).otid


def schedule_paths(world: World) -> list[str]:
    """Schedule files on the remote."""
    return world.remote_files(ONE_TIME) + world.remote_files(RECURRING)


def as_json(data: str) -> Any:
    """Parse a JSON document printed by the CLI."""
    return json.loads(data)


def in_memory_jobs(*schedules: Schedule) -> list[Job]:
    """Jobs for ``deliver`` straight from schedules, without a repository (due order as given)."""
    jobs = []
    for schedule in schedules:
        when = schedule.execute_at if isinstance(schedule, OneTimeSchedule) else schedule.created_at
        jobs.append(Job(f"memory/{schedule.id}", schedule, when))
    return jobs
