"""What is due when: overdue buckets, coalescing, daylight saving, a week of weekdays — and purity."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import tick_support
from hypothesis import given, settings
from hypothesis import strategies as st
from tick_support import LETTA_KEY, T0, World, texts

from switchboard.models import OneTimeSchedule, RecurringSchedule
from switchboard.tick import select_due

# The fixtures `world`, `letta` and `git_template`.
world_fixture, letta_fixture, git_template_fixture = (
    tick_support.world_fixture,
    tick_support.letta_fixture,
    tick_support.git_template_fixture,
)

NY = "America/New_York"
AGENT = "agent-00000000-0000-4000-8000-000000000001"
OTHER_AGENT = "agent-00000000-0000-4000-8000-000000000002"


def z(text: str) -> datetime:
    """An instant written in ISO 8601 (UTC)."""
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC)


def delivered_at(world: World, now: datetime) -> list[tuple[str, datetime, int]]:
    """(message, scheduled_for, skipped) of what one pass at ``now`` delivered."""
    report = world.tick(now)
    return [(r.message or "", r.scheduled_for, r.skipped) for r in report.results if r.status == "delivered"]


def test_a_jump_forward_fires_once_at_the_first_valid_instant(world: World) -> None:
    a, b, _ = world.letta.agents
    # 02:30 does not exist in New York on 2026-03-08 (02:00 EST -> 03:00 EDT).
    daily = world.recurring("30 2 * * *", NY, created=z("2026-03-07T12:00Z"), agent=a, message="02:30 daily")
    hourly = world.recurring("0 * * * *", NY, created=z("2026-03-08T05:30Z"), agent=b, message="hourly")
    world.seed(daily, hourly)

    assert delivered_at(world, z("2026-03-08T06:59Z")) == [("hourly", z("2026-03-08T06:00Z"), 0)]  # 01:00 EST
    # 03:00 EDT: the gap's 02:30 fires here, and the hourly's 02:00 and 03:00 are one fire.
    assert sorted(delivered_at(world, z("2026-03-08T07:00Z"))) == [
        ("02:30 daily", z("2026-03-08T07:00Z"), 0),
        ("hourly", z("2026-03-08T07:00Z"), 0),
    ]
    assert delivered_at(world, z("2026-03-08T07:59Z")) == []
    # The next day 02:30 exists again (EDT).
    assert ("02:30 daily", z("2026-03-09T06:30Z"), 0) in delivered_at(world, z("2026-03-09T06:31Z"))
    assert texts(world.letta.deliveries, a) == ["02:30 daily", "02:30 daily"]


def test_the_repeated_hour_of_a_jump_back_fires_once(world: World) -> None:
    a, b, _ = world.letta.agents
    # 01:30 happens twice in New York on 2026-11-01: at 05:30Z (EDT) and at 06:30Z (EST).
    daily = world.recurring("30 1 * * *", NY, created=z("2026-10-31T12:00Z"), agent=a, message="01:30 daily")
    hourly = world.recurring("0 * * * *", NY, created=z("2026-11-01T04:30Z"), agent=b, message="hourly")
    world.seed(daily, hourly)

    assert delivered_at(world, z("2026-11-01T05:29Z")) == [("hourly", z("2026-11-01T05:00Z"), 0)]  # 01:00 EDT
    assert delivered_at(world, z("2026-11-01T05:31Z")) == [("01:30 daily", z("2026-11-01T05:30Z"), 0)]
    # 01:00 and 01:30 EST, the second time round: nothing fires again.
    assert delivered_at(world, z("2026-11-01T06:59Z")) == []
    assert delivered_at(world, z("2026-11-01T07:00Z")) == [("hourly", z("2026-11-01T07:00Z"), 0)]  # 02:00 EST
    assert ("01:30 daily", z("2026-11-02T06:30Z"), 0) in delivered_at(world, z("2026-11-02T06:31Z"))
    assert texts(world.letta.deliveries, a) == ["01:30 daily", "01:30 daily"]


def test_a_berlin_weekday_schedule_across_a_week_of_passes(world: World) -> None:
    # 09:00 on weekdays in Berlin (CEST in June: 07:00 UTC), made on Sunday 2026-06-07.
    weekdays = world.recurring("0 9 * * 1-5", "Europe/Berlin", created=z("2026-06-07T10:00Z"), message="standup")
    world.seed(weekdays)

    assert delivered_at(world, z("2026-06-08T06:59Z")) == []  # Monday, 08:59 in Berlin
    sent: dict[str, list[tuple[str, datetime, int]]] = {}
    for day in range(7):  # Monday 8 June .. Sunday 14 June, each at 09:05 in Berlin
        now = z("2026-06-08T07:05Z") + timedelta(days=day)
        sent[f"{now:%a}"] = delivered_at(world, now)

    assert {day: [when for _, when, _ in got] for day, got in sent.items()} == {
        "Mon": [z("2026-06-08T07:00Z")],
        "Tue": [z("2026-06-09T07:00Z")],
        "Wed": [z("2026-06-10T07:00Z")],
        "Thu": [z("2026-06-11T07:00Z")],
        "Fri": [z("2026-06-12T07:00Z")],
        "Sat": [],
        "Sun": [],
    }
    history = world.remote_results(weekdays.id)
    assert len(history) == 5 and all(r.lateness_s == 300 and r.skipped == 0 for r in history)
    stored = world.remote_schedule(weekdays.id)
    assert isinstance(stored, RecurringSchedule) and stored.next_run() == z("2026-06-15T07:00Z")


def test_missed_fires_coalesce_into_one_delivery_and_paused_schedules_never_fire(world: World) -> None:
    a, b, _ = world.letta.agents
    quarterly = world.recurring("*/15 * * * *", created=z("2026-06-01T09:00Z"), agent=a, message="every 15")
    paused = world.recurring("*/15 * * * *", created=z("2026-06-01T09:00Z"), agent=b, message="paused", status="paused")
    world.seed(quarterly, paused)

    # The tick was 80 minutes late: 09:15, 09:30, 09:45 and 10:00 were missed; 10:15 goes out once.
    report = world.tick(z("2026-06-01T10:20Z"))
    assert [(r.scheduled_for, r.skipped, r.lateness_s) for r in report.results] == [(z("2026-06-01T10:15Z"), 4, 300)]
    assert report.as_json()["results"][0]["skipped"] == 4  # type: ignore[index]
    assert world.tick(z("2026-06-01T10:25Z")).planned == []
    on_time = world.tick(z("2026-06-01T10:30Z"))
    assert [(r.scheduled_for, r.skipped, r.lateness_s) for r in on_time.results] == [(z("2026-06-01T10:30Z"), 0, 0)]
    assert texts(world.letta.deliveries) == ["every 15", "every 15"]
    stored = world.remote_schedule(paused.id)
    assert isinstance(stored, RecurringSchedule) and stored.status == "paused" and stored.last_run is None


# -- the decision itself is a pure function of the schedules and now ---------------------------


def _one(at: datetime, agent: str = AGENT, **update: object) -> tuple[str, OneTimeSchedule]:
    schedule = OneTimeSchedule(
        agent_id=agent, message="m", execute_at=at, created_at=T0 - timedelta(days=30), api_key=LETTA_KEY
    )
    return (f"path/{schedule.id}", schedule.model_copy(update=update))


def _rec(cron: str, tz: str = "UTC", agent: str = AGENT, **update: object) -> tuple[str, RecurringSchedule]:
    schedule = RecurringSchedule(
        agent_id=agent, message="m", cron=cron, timezone=tz, created_at=T0 - timedelta(days=1), api_key=LETTA_KEY
    )
    return (f"path/{schedule.id}", schedule.model_copy(update=update))


def test_select_due_is_pure_and_in_due_order() -> None:
    one_time = [_one(T0 + timedelta(minutes=5)), _one(T0 - timedelta(hours=30)), _one(T0), _one(T0 + timedelta(1))]
    recurring = [_rec("0 11 * * *"), _rec("0 13 * * *"), _rec("*/10 * * * *", status="paused")]
    copies = ([*one_time], [*recurring])

    first = select_due(one_time, recurring, T0)
    second = select_due(one_time, recurring, T0)

    assert first == second and (one_time, recurring) == copies
    # 06:00 the day before; 13:00 the day before (made at 12:00); 11:00 today; 12:00 today. Not the paused one.
    hours = [-30, -23, -1, 0]
    assert [j.scheduled_for for j in first] == [T0 + timedelta(hours=h) for h in hours]
    assert [j.skipped for j in first] == [0, 0, 0, 0]


def test_select_due_respects_live_claims_per_agent_and_takes_over_stale_ones() -> None:
    ttl = timedelta(minutes=30)
    live = _one(T0 - timedelta(hours=1), claimed_by="x", claimed_at=T0 - timedelta(minutes=29))
    same_agent = _one(T0 - timedelta(minutes=5))
    stale = _one(T0 - timedelta(hours=1), agent=OTHER_AGENT, claimed_by="y", claimed_at=T0 - timedelta(minutes=31))
    # A live claim counts even when the schedule was paused since, or is later by this pass's clock.
    paused_claimed = _rec("0 * * * *", agent=OTHER_AGENT, status="paused", claimed_by="z", claimed_at=T0)

    assert [j.schedule.id for j in select_due([live, same_agent, stale], [], T0, claim_ttl=ttl)] == [stale[1].id]
    assert select_due([stale], [paused_claimed], T0, claim_ttl=ttl) == []
    assert len(select_due([live, same_agent], [], T0 + timedelta(minutes=2), claim_ttl=ttl)) == 2


nows = st.datetimes(min_value=datetime(2026, 1, 1), max_value=datetime(2027, 12, 31), timezones=st.just(UTC))


@settings(max_examples=60, deadline=None, database=None)
@given(
    offsets=st.lists(st.integers(-5000, 5000), max_size=6),
    crons=st.lists(st.sampled_from(["*/7 * * * *", "30 2 * * *", "0 9 * * 1-5", "0 0 1 * *"]), max_size=3),
    zone=st.sampled_from(["UTC", NY, "Europe/Berlin"]),
    first=nows,
    later=st.integers(0, 60 * 24 * 40),
)
def test_what_is_due_only_grows_as_now_grows(
    offsets: list[int], crons: list[str], zone: str, first: datetime, later: int
) -> None:
    agents = [f"agent-00000000-0000-4000-8000-{i:012d}" for i in range(10)]
    one_time = [_one(first + timedelta(minutes=m), agent=agents[i]) for i, m in enumerate(offsets)]
    recurring = [
        _rec(cron, zone, agent=agents[6 + i], created_at=first - timedelta(days=2)) for i, cron in enumerate(crons)
    ]
    second = first + timedelta(minutes=later)

    before = {j.schedule.id: j for j in select_due(one_time, recurring, first)}
    after = {j.schedule.id: j for j in select_due(one_time, recurring, second)}

    assert before.keys() <= after.keys()
    for schedule_id, job in before.items():
        assert job.scheduled_for <= first
        assert after[schedule_id].scheduled_for >= job.scheduled_for
        assert after[schedule_id].skipped >= job.skipped
    assert all(j.scheduled_for <= second for j in after.values())
