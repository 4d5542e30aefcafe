"""The tick delivers what is due, once, to the right place, in order, and keeps the record."""

from __future__ import annotations

import time
import uuid
from datetime import timedelta

import tick_support
from tick_support import (
    LETTA_KEY,
    OTHER_KEY,
    T0,
    Sleeps,
    World,
    client_factory,
    in_memory_jobs,
    job_otid,
    texts,
)

from switchboard.models import MessageFields
from switchboard.store import RESULTS
from switchboard.testing.letta import LettaStandIn
from switchboard.tick import OTID_NAMESPACE, RecentRuns, TickOptions, deliver

# The fixtures `world`, `letta` and `git_template`.
world_fixture, letta_fixture, git_template_fixture = (
    tick_support.world_fixture,
    tick_support.letta_fixture,
    tick_support.git_template_fixture,
)

#: deliver() alone: short run waits, polls that cost nothing.
QUICK = TickOptions(base_delay=0.01, max_delay=0.05, run_wait=5.0, run_poll=0.01)


# -- a whole pass, on a real remote ------------------------------------------------------


def test_buckets_hours_overdue_are_all_delivered_once(world: World) -> None:
    now = T0 + timedelta(minutes=30)  # 12:30 UTC
    a, b, c = world.letta.agents
    other = LettaStandIn(api_keys={OTHER_KEY}).start()
    try:
        overdue = [
            world.one_time(now - timedelta(hours=26), agent=a, message="a day and more overdue"),
            world.one_time(now - timedelta(hours=5), agent=b, message="five hours overdue"),
            world.one_time(now - timedelta(minutes=29), agent=c, message="in this hour's bucket"),
            world.one_time(now, agent=a, message="due exactly now"),
        ]
        # Its own key and its own server: the schedule carries both.
        elsewhere = world.one_time(
            now - timedelta(hours=2),
            agent=other.add_agent(),
            message="to another server",
            api_key=OTHER_KEY,
            base_url=other.base_url,
        )
        later_this_hour = world.one_time(now + timedelta(minutes=15), agent=b, message="later in this bucket")
        next_hour = world.one_time(now + timedelta(hours=1), agent=c, message="in a later bucket")
        world.seed(*overdue, elsewhere, later_this_hour, next_hour)
        before = world.remote_log()

        report = world.tick(now)

        assert sorted(texts(world.letta.deliveries)) == sorted(s.message for s in overdue)
        assert texts(other.deliveries) == ["to another server"]
        assert world.letta.received_keys == {LETTA_KEY} and other.received_keys == {OTHER_KEY}
        assert report.count("delivered") == 5 and report.permanent_failures == 0
        # Each message carries the otid of its fire.
        sent = {d.text: d for d in world.letta.deliveries}
        for schedule in overdue:
            assert sent[schedule.message].otid == job_otid(schedule, schedule.execute_at)
        # One claim commit and one record commit, both pushed.
        log = world.remote_log()
        assert len(log) == len(before) + 2
        assert log[1].startswith("switchboard: claim due schedules at 2026-06-01T12:30Z")
        assert log[0].startswith("switchboard: tick ") and "delivered 5, failed 0" in log[0]
        # Delivered one-time schedules are gone; the others stay, unclaimed.
        left = world.remote_schedules()
        assert set(left) == {later_this_hour.id, next_hour.id}
        assert all(s.claimed_by is None for s in left.values())
        results = {r.schedule_id: r for r in world.remote_results()}
        assert set(results) == {s.id for s in [*overdue, elsewhere]}
        late = results[overdue[0].id]
        assert late.status == "delivered" and late.lateness_s == 26 * 3600 and late.run_id == sent[late.message].run_id
        assert results[overdue[3].id].lateness_s == 0

        # Agent a's first run was waited for before its second message: its end is in its result already.
        assert results[overdue[0].id].run_status == "completed"
        unfinished = {r.schedule_id for r in report.results if r.run_status == "created"}
        assert unfinished == {s.id for s in [*overdue[1:], elsewhere]}

        # The same instant again: nothing is due twice; the one commit records how the other runs ended.
        again = world.tick(now)
        assert again.planned == [] and len(world.letta.deliveries) == 4
        assert {r.schedule_id: r.run_status for r in again.followed} == dict.fromkeys(unfinished, "completed")
        assert world.remote_log()[1:] == log
        assert world.remote_log()[0].startswith("switchboard: follow 4 runs to their end, 0 failed")
        # And a third time: nothing is left to follow, and nothing is committed.
        world.tick(now)
        assert world.remote_log()[1:] == log
    finally:
        other.stop()


def test_recurring_schedules_keep_a_history_of_results(world: World) -> None:
    hourly = world.recurring("0 * * * *", created=T0 - timedelta(minutes=30), message="hourly check-in")
    world.seed(hourly)

    for hour in range(3):
        world.tick(T0 + timedelta(hours=hour, minutes=1))

    history = world.remote_results(hourly.id)
    assert [r.scheduled_for for r in history] == [T0 + timedelta(hours=h) for h in range(3)]
    assert {r.status for r in history} == {"delivered"}
    assert len({r.run_id for r in history}) == 3
    assert all(r.lateness_s == 60 and r.skipped == 0 and r.schedule_type == "recurring" for r in history)
    kept = world.remote_schedule(hourly.id)
    assert kept is not None and kept.last_run == T0 + timedelta(hours=2) and kept.claimed_by is None
    # Result files are ciphertext: neither the text nor the key can be read in the repository.
    for raw in world.snapshot(RESULTS).values():
        assert b"hourly check-in" not in raw and LETTA_KEY.encode() not in raw
    assert set(history[0].public()) == {
        "schedule_id",
        "schedule_type",
        "status",
        "run_id",
        "agent_id",
        "scheduled_for",
        "executed_at",
        "lateness_s",
        "skipped",
        "attempt",
        "http_status",
        "error",
        "manual",
        "run_status",
        "stop_reason",
        "run_checked_at",
    }


def test_a_callers_name_otid_and_sender_id_go_to_letta_with_each_fire(world: World) -> None:
    fields = MessageFields(name="Ada", otid="otid-from-client", sender_id="identity-7")
    once = world.one_time(T0 - timedelta(minutes=5), message="once").model_copy(update={"message_fields": fields})
    hourly = world.recurring("0 * * * *", created=T0 - timedelta(minutes=30), message="hourly")
    hourly = hourly.model_copy(update={"message_fields": MessageFields(otid="seed-otid")})
    plain = world.recurring("0 * * * *", created=T0 - timedelta(minutes=30), message="plain")
    world.seed(once, hourly, plain)

    for hour in range(2):
        world.tick(T0 + timedelta(hours=hour, minutes=1))

    sent = world.letta.deliveries
    [first] = [d for d in sent if d.text == "once"]
    assert (first.otid, first.name, first.sender_id) == ("otid-from-client", "Ada", "identity-7")
    fires = [T0, T0 + timedelta(hours=1)]
    # Letta wants a fresh otid for every new message: a recurring schedule's is made per fire from the seed.
    seeded = [d for d in sent if d.text == "hourly"]
    assert [d.otid for d in seeded] == [str(uuid.uuid5(OTID_NAMESPACE, f"seed-otid@{f.isoformat()}")) for f in fires]
    assert {(d.name, d.sender_id) for d in seeded} == {(None, None)}
    unseeded = [d.otid for d in sent if d.text == "plain"]
    assert unseeded == [str(uuid.uuid5(OTID_NAMESPACE, f"{plain.id}@{f.isoformat()}")) for f in fires]


def test_old_results_are_pruned_past_the_retention(world: World) -> None:
    long_ago = T0 - timedelta(days=100)
    world.seed(
        world.one_time(long_ago - timedelta(minutes=1), message="long ago"),
        world.one_time(T0 - timedelta(days=10), message="ten days ago"),
    )
    world.tick(long_ago)
    world.tick(T0 - timedelta(days=10))
    world.tick(T0 - timedelta(days=10))  # follows the last run to its end
    assert len(world.remote_results()) == 2

    # A longer retention keeps both, and a pass with nothing due then commits nothing.
    before = world.remote_log()
    kept = world.tick(T0, options=TickOptions(retention=timedelta(days=365)))
    assert kept.pruned == 0 and world.remote_log() == before

    # The default (90 days) prunes the old one, even on a pass with nothing due.
    report = world.tick(T0)
    assert report.pruned == 1 and report.as_json()["pruned"] == 1
    assert [r.message for r in world.remote_results()] == ["ten days ago"]
    assert world.remote_log()[0] == "switchboard: prune results older than 90 days"

    # A pass that delivers prunes in its own record commit.
    world.seed(world.one_time(T0 + timedelta(days=5), message="later"))
    report = world.tick(T0 + timedelta(days=5), options=TickOptions(retention=timedelta(days=7)))
    assert report.count("delivered") == 1
    assert [r.message for r in world.remote_results()] == ["later"]
    assert world.remote_log()[0].startswith("switchboard: tick ")


def test_a_busy_run_defers_the_rest_of_that_agent_and_releases_the_claims(world: World) -> None:
    world.letta.run_duration = 1.0
    a, b, _ = world.letta.agents
    first = world.one_time(T0 - timedelta(minutes=30), agent=a, message="first")
    second = world.one_time(T0 - timedelta(minutes=20), agent=a, message="second")
    third = world.recurring("50 11 * * *", created=T0 - timedelta(days=1), agent=a, message="third")
    elsewhere = world.one_time(T0 - timedelta(minutes=10), agent=b, message="elsewhere")
    world.seed(first, second, third, elsewhere)

    report = world.tick(T0, options=TickOptions(base_delay=0.01, run_wait=0.05, run_poll=0.01))

    assert {o.job.schedule.message: o.status for o in report.outcomes} == {
        "first": "delivered",
        "second": "deferred",
        "third": "deferred",
        "elsewhere": "delivered",
    }
    assert report.as_json()["deferred"] == 2
    # Deferred: still in the tree, unclaimed, no attempt counted, no result written.
    left = world.remote_schedules()
    assert set(left) == {second.id, third.id}
    assert all(s.claimed_by is None and s.claimed_at is None for s in left.values())
    assert left[second.id].attempts == 0  # type: ignore[union-attr]
    assert left[third.id].last_run is None  # type: ignore[union-attr]
    assert {r.schedule_id for r in world.remote_results()} == {first.id, elsewhere.id}

    # Once that run is over, the next pass sends the rest, in order, never overlapping.
    run_id = next(d.run_id for d in world.letta.deliveries if d.text == "first")
    while world.letta.run(run_id)["status"] == "running":
        time.sleep(0.02)
    world.letta.run_duration = 0.0
    later = world.tick(T0 + timedelta(minutes=5), options=QUICK)
    assert later.count("delivered") == 2
    assert texts(world.letta.deliveries, a) == ["first", "second", "third"]
    assert world.letta.overlaps == []
    assert world.remote_schedule(third.id).last_run == T0 - timedelta(minutes=10)  # type: ignore[union-attr]


# -- deliver() alone: order, parallelism, waiting -------------------------------------------


def test_the_same_agent_gets_one_message_at_a_time_in_due_order(world: World) -> None:
    world.letta.run_duration = 0.1  # each run stays "running" a while
    a, b, c = world.letta.agents
    jobs = in_memory_jobs(
        world.one_time(T0, agent=a, message="a1"),
        world.one_time(T0, agent=b, message="b1"),
        world.one_time(T0, agent=a, message="a2"),
        world.recurring("0 12 * * *", created=T0, agent=a, message="a3"),
        world.one_time(T0, agent=c, message="c1"),
        world.one_time(T0, agent=b, message="b2"),
        world.one_time(T0, agent=a, message="a4"),
    )

    outcomes = deliver(jobs, client_factory, QUICK, Sleeps(cap=0.01))

    assert [o.status for o in outcomes] == ["delivered"] * 7
    assert [o.job for o in outcomes] == jobs  # outcomes come back in the jobs' order
    assert texts(world.letta.deliveries, a) == ["a1", "a2", "a3", "a4"]
    assert texts(world.letta.deliveries, b) == ["b1", "b2"]
    assert world.letta.overlaps == []
    # Each message to an agent went out after Letta said the previous run had finished.
    polled = {r.path for r in world.letta.requests if r.method == "GET"}
    for agent in (a, b):
        runs = [d.run_id for d in world.letta.deliveries if d.agent_id == agent]
        assert {f"/v1/runs/{run}" for run in runs[:-1]} <= polled


def test_different_agents_go_in_parallel_up_to_the_bound(world: World) -> None:
    world.letta.latency = 0.15
    agents = [world.letta.add_agent() for _ in range(6)]

    def elapsed(parallel: int) -> float:
        jobs = in_memory_jobs(*(world.one_time(T0, agent=agent) for agent in agents))
        started = time.monotonic()
        outcomes = deliver(jobs, client_factory, TickOptions(base_delay=0.01, parallel=parallel), Sleeps())
        assert {o.status for o in outcomes} == {"delivered"}
        return time.monotonic() - started

    one_at_a_time, two_at_a_time, all_at_once = elapsed(1), elapsed(2), elapsed(16)

    assert len(world.letta.deliveries) == 18
    # 6, 3 and 1 rounds of 0.15 s latency.
    assert one_at_a_time >= 0.9 and two_at_a_time >= 0.45
    assert all_at_once < two_at_a_time < one_at_a_time


def test_waiting_for_a_busy_run_is_bounded(world: World) -> None:
    world.letta.run_duration = 30.0  # outlives the test
    a, b, _ = world.letta.agents
    jobs = in_memory_jobs(
        world.one_time(T0, agent=a, message="a1"),
        world.one_time(T0, agent=a, message="a2"),
        world.one_time(T0, agent=a, message="a3"),
        world.one_time(T0, agent=b, message="b1"),
    )
    options = TickOptions(base_delay=0.01, run_wait=0.2, run_poll=0.02)
    sleeps = Sleeps(cap=0.02)

    started = time.monotonic()
    outcomes = deliver(jobs, client_factory, options, sleeps)

    assert time.monotonic() - started < 2.0
    assert [o.status for o in outcomes] == ["delivered", "deferred", "deferred", "delivered"]
    assert texts(world.letta.deliveries) in (["a1", "b1"], ["b1", "a1"])
    assert set(sleeps.calls) == {0.02}  # it polled the run, at run_poll
    assert world.letta.overlaps == []


def test_passes_of_one_process_wait_for_each_others_runs(world: World) -> None:
    world.letta.run_duration = 30.0  # outlives the test
    a, b, _ = world.letta.agents
    recent = RecentRuns()
    options = TickOptions(base_delay=0.01, run_wait=0.1, run_poll=0.02)
    first = deliver(in_memory_jobs(world.one_time(T0, agent=a, message="now")), client_factory, options, recent=recent)
    assert [o.status for o in first] == ["delivered"]

    # A --hold-up-to or --watch pass seconds later must not talk over the run still going…
    later = in_memory_jobs(
        world.one_time(T0, agent=a, message="half a minute later"), world.one_time(T0, agent=b, message="other")
    )
    outcomes = deliver(later, client_factory, options, Sleeps(cap=0.02), recent=recent)
    assert [o.status for o in outcomes] == ["deferred", "delivered"]
    # … while a pass that knows nothing of it (another process) only has Letta's word.
    assert texts(world.letta.deliveries) == ["now", "other"]
    assert world.letta.overlaps == []
