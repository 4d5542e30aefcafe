"""Ticks at the same time, from two clones: nothing twice, nothing lost, and the loser recomputes."""

from __future__ import annotations

import shutil
import tempfile
import threading
from collections import Counter
from datetime import datetime, timedelta
from pathlib import Path

import tick_support
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tick_support import T0, World, job_otid, texts

from switchboard.backends.base import Changes
from switchboard.backends.git import GitBackend
from switchboard.crypto import codec_from_keys, generate_key
from switchboard.due import fires
from switchboard.index import indexed_store
from switchboard.models import OneTimeSchedule, RecurringSchedule
from switchboard.store import Store
from switchboard.testing.letta import LettaStandIn
from switchboard.tick import TickReport

# The fixtures `world`, `letta` and `git_template`.
world_fixture, letta_fixture, git_template_fixture = (
    tick_support.world_fixture,
    tick_support.letta_fixture,
    tick_support.git_template_fixture,
)


class RacingBackend(GitBackend):
    """A real clone whose first claim commit waits for the other tick's, so both compute on one state."""

    def __init__(self, root: Path, barrier: threading.Barrier) -> None:
        super().__init__(root)
        self.barrier: threading.Barrier | None = barrier
        self.commits: list[tuple[str, bool]] = []

    def commit(self, changes: Changes, message: str) -> bool:
        if self.barrier is not None and message.startswith("switchboard: claim"):
            barrier, self.barrier = self.barrier, None
            barrier.wait(timeout=20)
        landed = super().commit(changes, message)
        self.commits.append((message.split(" ")[1], landed))
        return landed


def run_together(world: World, stores: list[Store], now: datetime) -> list[TickReport]:
    """One pass per store, in threads, at the same ``now``."""
    reports: list[TickReport | BaseException] = [RuntimeError("not run")] * len(stores)

    def one(index: int) -> None:
        try:
            reports[index] = world.tick(now, store=stores[index])
        except BaseException as exc:  # surfaced below, in the test's thread
            reports[index] = exc

    threads = [threading.Thread(target=one, args=(i,)) for i in range(len(stores))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    for report in reports:
        if isinstance(report, BaseException):
            raise report
    return reports  # type: ignore[return-value]


def test_two_clones_ticking_at_once_deliver_everything_exactly_once(world: World) -> None:
    a, b, c = world.letta.agents
    schedules = [
        world.one_time(T0 - timedelta(hours=2), agent=a, message="a1"),
        world.one_time(T0 - timedelta(hours=1), agent=a, message="a2"),
        world.one_time(T0 - timedelta(minutes=5), agent=b, message="b1"),
        world.recurring("*/15 * * * *", created=T0 - timedelta(minutes=20), agent=b, message="b-every-15"),
        world.one_time(T0 - timedelta(minutes=1), agent=c, message="c1"),
    ]
    world.seed(*schedules)
    barrier = threading.Barrier(2)
    world.clone("left"), world.clone("right")
    left = indexed_store(RacingBackend(world.path("left"), barrier), world.codec)
    right = indexed_store(RacingBackend(world.path("right"), barrier), world.codec)
    log_before = world.remote_log()

    reports = run_together(world, [left, right], T0)

    # Nothing twice, nothing lost.
    assert sorted(texts(world.letta.deliveries)) == sorted(s.message for s in schedules)
    assert texts(world.letta.deliveries, a) == ["a1", "a2"]
    assert sum(r.count("delivered") for r in reports) == 5
    # Exactly one of them won the claim; the other's push was refused, and on recomputing it
    # found every agent busy with the winner's claims, so it sent nothing.
    winner, loser = sorted(reports, key=lambda r: len(r.planned), reverse=True)
    assert len(winner.planned) == 5 and loser.planned == []
    refused = [backend for backend in (left.backend, right.backend) if ("claim", False) in backend.commits]  # type: ignore[attr-defined]
    assert len(refused) == 1
    new = world.remote_log()[: len(world.remote_log()) - len(log_before)]
    assert [subject.split(" ")[1] for subject in new] == ["tick", "claim"]
    assert world.remote_schedules().keys() == {schedules[3].id}
    assert world.letta.overlaps == []

    # And the next pass, from either clone, has nothing left to send.
    assert world.tick(T0 + timedelta(minutes=1), store=left).planned == []
    assert len(world.letta.deliveries) == 5


def test_a_live_claim_keeps_others_off_the_agent_and_a_stale_one_is_taken_over(world: World) -> None:
    a, b, _ = world.letta.agents
    now = T0
    # A pass that died an hour ago left its claim behind…
    abandoned = world.one_time(now - timedelta(hours=2), agent=a, message="abandoned").model_copy(
        update={"claimed_by": "20260601T110000Z-deadbeef", "claimed_at": now - timedelta(hours=1)}
    )
    # … and another pass is delivering to agent b right now.
    in_flight = world.one_time(now - timedelta(minutes=3), agent=b, message="in flight").model_copy(
        update={"claimed_by": "20260601T115900Z-c0ffee00", "claimed_at": now - timedelta(minutes=1)}
    )
    queued_behind = world.one_time(now - timedelta(minutes=2), agent=b, message="queued behind")
    world.seed(abandoned, in_flight, queued_behind)

    report = world.tick(now)

    # The stale claim is taken over (same otid as the dead pass would have sent); agent b is left alone.
    assert [o.job.schedule.message for o in report.outcomes] == ["abandoned"]
    assert world.letta.deliveries[0].otid == job_otid(abandoned, abandoned.execute_at)
    left = world.remote_schedules()
    assert left[in_flight.id].claimed_by == "20260601T115900Z-c0ffee00"  # not ours to touch
    assert left[queued_behind.id].claimed_by is None

    # Once that claim is past its lifetime, both go, in order.
    later = world.tick(now + timedelta(minutes=31))
    assert [o.status for o in later.outcomes] == ["delivered", "delivered"]
    assert texts(world.letta.deliveries, b) == ["in flight", "queued behind"]


# -- the property ---------------------------------------------------------------------------------

CRONS = ["*/20 * * * *", "0 * * * *", "45 12 * * *"]


@settings(
    max_examples=4,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    offsets=st.lists(st.integers(-90, 200), min_size=1, max_size=4),
    crons=st.lists(st.sampled_from(CRONS), max_size=2),
    steps=st.lists(st.tuples(st.integers(1, 100), st.booleans()), min_size=1, max_size=3),
)
def test_each_message_once_and_each_fire_at_most_once_across_concurrent_ticks(
    git_template: Path, offsets: list[int], crons: list[str], steps: list[tuple[int, bool]]
) -> None:
    with tempfile.TemporaryDirectory() as top, LettaStandIn() as letta:
        agents = [letta.add_agent() for _ in range(3)]
        shutil.copytree(git_template / "remote.git", Path(top) / "remote.git", symlinks=True)
        world = World(Path(top), git_template, codec_from_keys(generate_key()), "", letta)
        one_time = [
            world.one_time(T0 + timedelta(minutes=m), agent=agents[i % 3], message=f"one-time {i}")
            for i, m in enumerate(offsets)
        ]
        recurring = [
            world.recurring(cron, created=T0 - timedelta(minutes=30), agent=agents[i % 3], message=f"recurring {i}")
            for i, cron in enumerate(crons)
        ]
        world.seed(*one_time, *recurring)
        clones = [world.clone("one"), world.clone("two")]

        now = T0
        for index, (minutes, together) in enumerate(steps):
            now += timedelta(minutes=minutes)
            if together:
                run_together(world, clones, now)
            else:
                world.tick(now, store=clones[index % 2])

        sent = Counter(d.otid for d in letta.deliveries)
        assert all(count == 1 for count in sent.values()), "a fire was delivered twice"
        # Every one-time message due by the last pass went out exactly once; no other did.
        for schedule in one_time:
            expected = 1 if schedule.execute_at <= now else 0
            assert sent[job_otid(schedule, schedule.execute_at)] == expected, schedule.execute_at
        # Each recurring fire at most once, only real fires, and none due by the last pass left behind.
        for schedule in recurring:
            due = fires(schedule.cron, "UTC", schedule.created_at, 40)
            due = [f for f in due if f <= now]
            otids = {job_otid(schedule, f): f for f in due}
            delivered = sorted(otids[o] for o in sent if o in otids)
            mine = [d for d in letta.deliveries if d.text == schedule.message]
            assert len(mine) == len(delivered), "a recurring message went out for a time that is no fire"
            stored = world.remote_schedule(schedule.id)
            assert isinstance(stored, RecurringSchedule)
            assert stored.last_run == (due[-1] if due else None)
            if due:
                assert delivered and delivered[-1] == due[-1]
        assert letta.overlaps == []
        # Nothing stays claimed once the passes are over, and what is left is not yet due.
        left = world.remote_schedules().values()
        assert all(s.claimed_by is None for s in left)
        assert all(s.execute_at > now for s in left if isinstance(s, OneTimeSchedule))
