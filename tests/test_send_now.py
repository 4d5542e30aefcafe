"""Delivering at once (tick/now.py): `send` with a due time and `recurring run`, on a real clone and the stand-in.

The library is exercised on a real bare remote with clones (tick_support's
World); the races run a `send` and a tick at the same moment, from two clones
in threads and from two real processes, and count what the stand-in received.
"""

from __future__ import annotations

import functools
import threading
from collections import Counter
from collections.abc import Callable
from dataclasses import replace
from datetime import timedelta

import pytest
import tick_support
from tick_support import FAST, T0, World, client_factory, texts

from switchboard.exceptions import BusyError, NotFoundError
from switchboard.models import OneTimeSchedule, RecurringSchedule
from switchboard.tick import TickError, TickOptions, run_now, send_now
from switchboard.tick.now import add_claimed

world_fixture, letta_fixture, git_template_fixture = (
    tick_support.world_fixture,
    tick_support.letta_fixture,
    tick_support.git_template_fixture,
)

NOW_FAST = TickOptions(send_attempts=2, base_delay=0.01, run_wait=1.0, run_poll=0.01, record_attempts=2)


def _new(world: World, message: str, agent: str | None = None) -> OneTimeSchedule:
    return world.one_time(T0, agent=agent, message=message, created=T0)


# -- send now ---------------------------------------------------------------------------------------


def test_send_now_is_one_claim_commit_one_post_and_one_record_commit(world: World) -> None:
    before = len(world.remote_log())
    schedule = _new(world, "right now")
    report = send_now(world.store, schedule, T0, client_factory, NOW_FAST)

    [delivery] = world.letta.deliveries
    assert (delivery.text, delivery.otid) == ("right now", tick_support.job_otid(schedule, T0))
    assert report.run_id == delivery.run_id and not report.left_to_tick
    assert report.result is not None and report.result.status == "delivered" and not report.result.manual
    log = world.remote_log()[: len(world.remote_log()) - before]
    assert len(log) == 2
    assert log[1].startswith(f"switchboard: add one-time {schedule.id}, claimed to send now (")
    assert log[0].startswith("switchboard: tick delivered 1, failed 0, put back 0, deferred 0 (")
    assert world.remote_schedules() == {}  # delivered: gone
    assert [r.run_id for r in world.remote_results(schedule.id)] == [delivery.run_id]
    assert world.tick(T0 + timedelta(minutes=1)).outcomes == []  # a tick after it sends nothing


def test_unreachable_letta_releases_the_claim_for_the_tick(world: World) -> None:
    schedule = _new(world, "only the runner reaches Letta")
    world.letta.down()
    report = send_now(world.store, schedule, T0, client_factory, NOW_FAST)
    assert report.left_to_tick and report.result is None
    assert report.reason is not None and report.reason.startswith("could not connect to Letta at ")
    stored = world.remote_schedule(schedule.id)
    assert stored is not None and stored.claimed_by is None and isinstance(stored, OneTimeSchedule)
    assert stored.attempts == 0  # nothing reached Letta: not counted as a failed attempt
    assert world.remote_results() == []
    world.letta.up()
    world.tick(T0 + timedelta(minutes=1))
    assert texts(world.letta.deliveries) == ["only the runner reaches Letta"]


def test_a_transient_failure_is_put_back_for_the_tick(world: World) -> None:
    world.letta.fail(status=503, times=2)
    schedule = _new(world, "retried by the tick")
    report = send_now(world.store, schedule, T0, client_factory, NOW_FAST)
    assert report.left_to_tick and report.result is not None and report.result.status == "requeued"
    world.tick(T0 + timedelta(minutes=1))
    assert texts(world.letta.deliveries) == ["retried by the tick"]


def test_a_permanent_failure_is_a_failed_result(world: World) -> None:
    schedule = _new(world, "to nobody", agent=world.letta.add_agent())
    world.letta.fail(schedule.agent_id, status=404, detail="Agent not found")
    report = send_now(world.store, schedule, T0, client_factory, NOW_FAST)
    assert not report.left_to_tick and report.result is not None
    assert report.result.status == "failed" and report.result.http_status == 404
    assert world.remote_schedules() == {}


def test_an_agent_a_tick_is_delivering_to_is_left_to_the_tick(world: World) -> None:
    agent = world.letta.agents[0]
    world.seed(world.one_time(T0 - timedelta(minutes=5), agent=agent, message="the tick's"))
    held: list[object] = []
    other = world.clone("other")

    def on_claimed(jobs: object) -> None:
        # While the tick holds its claim, send now to the same agent from the first clone.
        held.append(add_claimed(world.store, _new(world, "mine", agent), T0, NOW_FAST))

    world.tick(T0, store=other, options=replace(FAST, on_claimed=on_claimed))
    [claimed] = held
    assert claimed.job is None and claimed.reason == f"a tick is delivering to agent {agent} right now"  # type: ignore[attr-defined]
    assert texts(world.letta.deliveries) == ["the tick's"]
    world.tick(T0 + timedelta(minutes=1))
    assert texts(world.letta.deliveries) == ["the tick's", "mine"]


# -- run now ----------------------------------------------------------------------------------------


def _recurring(world: World) -> RecurringSchedule:
    rec = world.recurring("0 9 * * *", created=T0 - timedelta(days=3))
    world.seed(rec)
    return rec


def test_run_now_sends_one_manual_fire_and_leaves_the_next_fire(world: World) -> None:
    rec = _recurring(world)
    world.tick(T0)  # the 09:00 fire of today is delivered and recorded
    before = world.remote_schedule(rec.id)
    assert isinstance(before, RecurringSchedule) and before.last_run is not None

    report = run_now(world.store, tick_support.LETTA_KEY, rec.id, T0 + timedelta(hours=1), client_factory, NOW_FAST)
    assert report.result is not None and report.result.manual and report.result.status == "delivered"
    assert report.result.scheduled_for == T0 + timedelta(hours=1)
    after = world.remote_schedule(rec.id)
    assert isinstance(after, RecurringSchedule)
    assert (after.last_run, after.next_run(), after.attempts, after.claimed_by) == (
        before.last_run, before.next_run(), 0, None,
    )  # fmt: skip
    assert texts(world.letta.deliveries) == [rec.message, rec.message]
    assert len({d.otid for d in world.letta.deliveries}) == 2  # another message, not a resend
    assert sorted((r.executed_at, r.manual) for r in world.remote_results(rec.id)) == [
        (T0, False),
        (T0 + timedelta(hours=1), True),
    ]


def test_run_now_is_refused_while_a_tick_holds_the_schedule(world: World) -> None:
    rec = _recurring(world)
    refused: list[BaseException] = []

    def on_claimed(jobs: object) -> None:
        with pytest.raises(BusyError) as caught:
            run_now(world.store, tick_support.LETTA_KEY, rec.id, T0, client_factory, NOW_FAST)
        refused.append(caught.value)

    world.tick(T0, store=world.clone("other"), options=replace(FAST, on_claimed=on_claimed))
    assert str(refused[0]) == (
        f"a tick is delivering recurring {rec.id} (or to agent {rec.agent_id}) right now — run it again in a minute"
    )
    assert texts(world.letta.deliveries) == [rec.message]  # the tick's fire only


def test_run_now_of_another_keys_schedule_is_not_found(world: World) -> None:
    rec = _recurring(world)
    with pytest.raises(NotFoundError):
        run_now(world.store, tick_support.OTHER_KEY, rec.id, T0, client_factory, NOW_FAST)
    assert world.letta.deliveries == []


def test_a_manual_run_is_never_put_back(world: World) -> None:
    rec = _recurring(world)
    world.letta.fail(status=503, times=2)
    report = run_now(world.store, tick_support.LETTA_KEY, rec.id, T0 - timedelta(hours=4), client_factory, NOW_FAST)
    assert report.result is not None and report.result.status == "failed"
    assert report.result.error is not None and report.result.error.endswith(
        "(a manual run is not retried: run it again)"
    )
    after = world.remote_schedule(rec.id)
    assert isinstance(after, RecurringSchedule) and after.status == "active" and after.attempts == 0


def test_a_manual_run_that_could_not_be_recorded_is_recorded_as_manual_by_the_next_tick(world: World) -> None:
    rec = world.recurring("0 9 * * *", created=T0 - timedelta(hours=5))  # first fire at 09:00, T0 - 3 h
    world.seed(rec)
    world.reject_pushes(subject_contains="tick delivered")
    with pytest.raises(TickError, match=r"sent but could not record the outcome"):
        run_now(world.store, tick_support.LETTA_KEY, rec.id, T0 - timedelta(hours=4), client_factory, NOW_FAST)
    world.accept_pushes()
    report = world.tick(T0 - timedelta(hours=3, minutes=30))  # nothing due: it only records what the run sent
    assert [r.manual for r in report.recovered] == [True]
    after = world.remote_schedule(rec.id)
    assert isinstance(after, RecurringSchedule) and after.last_run is None and after.claimed_by is None
    assert after.next_run() == rec.next_run()  # the manual fire did not count as a fire
    assert texts(world.letta.deliveries) == [rec.message]


# -- racing a tick -----------------------------------------------------------------------------------


def _together(start: threading.Barrier, action: Callable[[], object], errors: list[BaseException]) -> None:
    try:
        start.wait(5)
        action()
    except BaseException as exc:  # pragma: no cover - shown by the assert after the join
        errors.append(exc)


def test_send_now_racing_a_tick_delivers_every_message_exactly_once(world: World) -> None:
    """A send and a tick from two clones start together, 12 times; each message reaches Letta once."""
    agents = world.letta.agents
    tick_store = world.clone("tick")
    sent: list[str] = []
    for round_ in range(12):
        now = T0 + timedelta(minutes=round_)
        # Something due for the tick, sometimes to the same agent as the send.
        due = world.one_time(now - timedelta(seconds=30), agent=agents[round_ % 2], message=f"due {round_}")
        world.seed(due)
        fresh = world.one_time(now, agent=agents[0], message=f"sent {round_}", created=now)
        sent += [due.message, fresh.message]
        start = threading.Barrier(2)
        errors: list[BaseException] = []

        actions: list[Callable[[], object]] = [
            functools.partial(send_now, world.store, fresh, now, client_factory, NOW_FAST),
            functools.partial(world.tick, now, store=tick_store),
        ]
        threads = [threading.Thread(target=_together, args=(start, action, errors)) for action in actions]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
        assert errors == []
    world.tick(T0 + timedelta(hours=1), store=tick_store)  # whatever was left to the tick
    counts = Counter(texts(world.letta.deliveries))
    assert counts == Counter(sent) and set(counts.values()) == {1}
    assert world.remote_schedules() == {}
