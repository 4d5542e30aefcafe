"""Letta's own clock: fires armed as Letta Cloud native one-time schedules, reconciled by each pass.

Real parts: a bare git remote with clones, the Letta stand-in on 127.0.0.1 with
its native schedule API, and ``run_pass``. The stand-in's worker fires only
when a test calls ``fire_due(now)``: time is a parameter on both sides.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import threading
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
import tick_support
from conftest import Repo
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tick_support import LETTA_KEY, World, job_otid
from typer.testing import CliRunner

from switchboard.backends.git import GitBackend
from switchboard.cli import app
from switchboard.cli.runner import summary_markdown
from switchboard.crypto import codec_from_keys, generate_key
from switchboard.exceptions import BackendError, InvalidInputError
from switchboard.index import indexed_store
from switchboard.models import OneTimeSchedule, RecurringSchedule, build
from switchboard.store import NATIVE, Store
from switchboard.testing.letta import LettaStandIn
from switchboard.tick import run_pass

world_fixture, letta_fixture, git_template_fixture = (
    tick_support.world_fixture,
    tick_support.letta_fixture,
    tick_support.git_template_fixture,
)

BERLIN = "Europe/Berlin"


def z(text: str) -> datetime:
    """An instant written in ISO 8601 (UTC)."""
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC)


def ms(instant: datetime) -> int:
    return int(instant.timestamp() * 1000)


def daily_nine(world: World, created: datetime, message: str = "Good morning, Berlin") -> RecurringSchedule:
    schedule = world.recurring("0 9 * * *", BERLIN, created=created, message=message)
    return schedule.model_copy(update={"clock": "letta"})


#: An agent id of Letta's shape that no server here knows.
SOME_AGENT = "agent-3f2b9c1e-8d4a-4b6e-9f0a-1c2d3e4f5a6b"


def armed(world: World, agent: str | None = None) -> list[dict]:
    """Native schedules the stand-in holds (neither fired nor deleted)."""
    return world.letta.schedules.live(agent)


def armed_at(world: World) -> list[datetime]:
    return [datetime.fromtimestamp(s["schedule"]["scheduled_at"] / 1000, UTC) for s in armed(world)]


def native_records(world: World) -> list[str]:
    """The native record files on the remote (one per schedule armed, or being armed)."""
    return [p for p in world.remote_files(NATIVE) if p.count("/") == 3]


def otid_of(native: dict) -> str:
    return native["message"]["messages"][0]["otid"]


def test_a_berlin_daily_reminder_is_armed_at_the_right_instant_on_both_sides_of_a_dst_change(world: World) -> None:
    # Berlin leaves summer time on 2026-10-25: 9:00 is 07:00Z the day before and 08:00Z that day.
    schedule = daily_nine(world, created=z("2026-10-23T12:00Z"))
    world.seed(schedule)

    report = world.tick(z("2026-10-23T12:17Z"))
    assert report.outcomes == [] and report.native == []
    assert armed_at(world) == [z("2026-10-24T07:00Z")]
    (native,) = armed(world)
    assert otid_of(native) == job_otid(schedule, z("2026-10-24T07:00Z"))
    assert world.letta.deliveries == []  # armed, not sent

    # A pass before the fire changes nothing at Letta.
    world.tick(z("2026-10-24T06:47Z"))
    assert [s["id"] for s in armed(world)] == [native["id"]]

    # Letta fires at 9:00 CEST; the next pass records it with the run id from the history, and re-arms.
    assert world.letta.schedules.fire_due(z("2026-10-24T07:00Z")) == [native["id"]]
    (delivery,) = world.letta.deliveries
    assert delivery.text == "Good morning, Berlin" and delivery.otid == otid_of(native)
    report = world.tick(z("2026-10-24T07:17Z"))
    assert report.outcomes == []  # the pass itself sent nothing
    (result,) = report.native
    assert (result.status, result.run_id, result.scheduled_for) == (
        "delivered",
        delivery.run_id,
        z("2026-10-24T07:00Z"),
    )
    assert [r.run_id for r in world.remote_results(schedule.id)] == [delivery.run_id]
    stored = world.remote_schedule(schedule.id)
    assert isinstance(stored, RecurringSchedule) and stored.last_run == z("2026-10-24T07:00Z")
    # The next day is in winter time: 9:00 CET is 08:00Z.
    assert armed_at(world) == [z("2026-10-25T08:00Z")]

    assert world.letta.schedules.fire_due(z("2026-10-25T08:00Z"))
    world.tick(z("2026-10-25T08:17Z"))
    assert armed_at(world) == [z("2026-10-26T08:00Z")]
    assert [r.scheduled_for for r in world.remote_results(schedule.id)] == [
        z("2026-10-24T07:00Z"),
        z("2026-10-25T08:00Z"),
    ]
    assert len(world.letta.deliveries) == 2
    # What is armed is stored like everything else: no key and no text anywhere in the history.
    history = tick_support.git(world.remote, "log", "-p", "--all", "--format=%s%n%b")
    assert "data/native/" in history and LETTA_KEY not in history and "Good morning" not in history


def test_a_native_fire_that_never_comes_is_delivered_once_by_the_watchdog_with_its_otid(world: World) -> None:
    world.letta.schedules.stall()  # letta-code#3725: the schedule stays overdue and never fires
    schedule = daily_nine(world, created=z("2026-10-23T12:00Z"))
    world.seed(schedule)
    world.tick(z("2026-10-23T12:17Z"))
    (native,) = armed(world)
    assert world.letta.schedules.fire_due(z("2026-10-24T07:30Z")) == []

    # Within the grace period (10 minutes by default) the pass waits for Letta.
    report = world.tick(z("2026-10-24T07:05Z"))
    assert report.outcomes == [] and world.letta.deliveries == []
    assert [s["id"] for s in armed(world)] == [native["id"]]

    report = world.tick(z("2026-10-24T07:17Z"))
    (delivery,) = world.letta.deliveries
    assert delivery.otid == otid_of(native)
    assert [(o.status, o.job.scheduled_for) for o in report.outcomes] == [("delivered", z("2026-10-24T07:00Z"))]
    assert armed(world) == []  # deleted at Letta; the next day is armed by the next pass
    world.letta.schedules.unstall()

    # Later passes neither send it again nor lose the next day.
    for now in ("2026-10-24T07:47Z", "2026-10-24T12:17Z"):
        world.tick(z(now))
    assert len(world.letta.deliveries) == 1
    assert armed_at(world) == [z("2026-10-25T08:00Z")]
    assert [(r.status, r.run_id) for r in world.remote_results(schedule.id)] == [("delivered", delivery.run_id)]


@pytest.mark.parametrize("answer", [200, 404])
def test_a_delete_that_races_the_firing_records_the_fire_and_sends_nothing(world: World, answer: int) -> None:
    world.letta.schedules.stall()
    schedule = daily_nine(world, created=z("2026-10-23T12:00Z"))
    world.seed(schedule)
    world.tick(z("2026-10-23T12:17Z"))
    world.letta.schedules.unstall()
    world.letta.schedules.race_delete(answer=answer)  # the watchdog's delete meets the firing

    report = world.tick(z("2026-10-24T07:17Z"))
    (delivery,) = world.letta.deliveries
    assert report.outcomes == []
    assert [(r.status, r.run_id) for r in report.native] == [("delivered", delivery.run_id)]
    world.tick(z("2026-10-24T07:47Z"))
    assert len(world.letta.deliveries) == 1
    assert armed_at(world) == [z("2026-10-25T08:00Z")]


def test_a_native_fire_gone_without_history_is_an_alert_not_a_second_send(world: World) -> None:
    schedule = daily_nine(world, created=z("2026-10-23T12:00Z"))
    world.seed(schedule)
    world.tick(z("2026-10-23T12:17Z"))
    (native,) = armed(world)
    # Someone removes it at Letta behind switchboard's back: nothing shows whether it went out.
    url = f"{world.letta.base_url}/v1/agents/{native['agent_id']}/schedule/{native['id']}"
    assert httpx.delete(url, headers={"Authorization": f"Bearer {LETTA_KEY}"}).status_code == 200

    report = world.tick(z("2026-10-24T07:17Z"))
    assert world.letta.deliveries == [] and report.outcomes == []
    (alert,) = report.native
    assert alert.status == "failed" and "may or may not have been sent" in (alert.error or "")
    assert otid_of(native) in (alert.error or "")
    # A visible alert: it fails the pass's count (so the webhook and the exit code see it), and the job summary
    # lists it by id, without its text.
    assert report.permanent_failures == 1
    summary = summary_markdown(report)
    assert f"| `{schedule.id}` | recurring |" in summary and "| failed |" in summary
    assert "Good morning" not in summary
    assert armed_at(world) == [z("2026-10-25T08:00Z")]


def test_pause_resume_update_and_delete_are_reflected_at_letta(world: World) -> None:
    from switchboard import service

    schedule = daily_nine(world, created=z("2026-10-23T12:00Z"))
    world.seed(schedule)
    world.tick(z("2026-10-23T12:17Z"))
    (first,) = armed(world)

    service.set_paused(world.store, LETTA_KEY, schedule.id, paused=True, now=z("2026-10-23T13:00Z"))
    world.tick(z("2026-10-23T13:17Z"))
    assert armed(world) == []

    service.set_paused(world.store, LETTA_KEY, schedule.id, paused=False, now=z("2026-10-23T14:00Z"))
    world.tick(z("2026-10-23T14:17Z"))
    (second,) = armed(world)
    assert second["id"] != first["id"] and armed_at(world) == [z("2026-10-24T07:00Z")]

    service.update_schedule(
        world.store, LETTA_KEY, schedule.id, "recurring", {"message": "Moin"}, now=z("2026-10-23T15:00Z")
    )
    world.tick(z("2026-10-23T15:17Z"))
    (third,) = armed(world)
    assert third["id"] != second["id"]
    assert third["message"]["messages"][0]["content"][0]["text"] == "Moin"

    service.delete_schedule(world.store, LETTA_KEY, schedule.id, now=z("2026-10-23T16:00Z"))
    world.tick(z("2026-10-23T16:17Z"))
    assert armed(world) == []
    assert world.remote_files(NATIVE) == []  # no record, and no note that it is on Letta's clock
    world.letta.schedules.fire_due(z("2026-10-25T12:00Z"))
    assert world.letta.deliveries == []


def test_a_one_time_message_on_letta_s_clock_is_armed_recorded_and_removed(world: World) -> None:
    at = z("2026-06-02T09:30Z")
    schedule = world.one_time(at, message="once, on Letta's clock").model_copy(update={"clock": "letta"})
    world.seed(schedule)
    world.tick(z("2026-06-01T12:00Z"))
    assert armed_at(world) == [at]
    world.letta.schedules.fire_due(at + timedelta(seconds=1))
    report = world.tick(z("2026-06-02T09:47Z"))
    (delivery,) = world.letta.deliveries
    assert delivery.otid == job_otid(schedule, at)
    assert [(r.status, r.run_id) for r in report.native] == [("delivered", delivery.run_id)]
    assert world.remote_schedule(schedule.id) is None and world.remote_files(NATIVE) == []
    assert armed(world) == []


def test_two_clones_never_arm_the_same_fire_twice(world: World) -> None:
    schedule = daily_nine(world, created=z("2026-10-23T12:00Z"))
    world.seed(schedule)
    a, b = world.clone("a"), world.clone("b")
    world.tick(z("2026-10-23T12:17Z"), store=a)
    world.tick(z("2026-10-23T12:18Z"), store=b)
    assert len(armed(world)) == 1


@pytest.mark.parametrize("url", ["ws://127.0.0.1:4500", "http://letta.example.com:8283"])
def test_letta_s_clock_is_refused_for_a_server_without_native_schedules(url: str) -> None:
    with pytest.raises(InvalidInputError) as caught:
        build(
            OneTimeSchedule, agent_id=SOME_AGENT, message="hi", execute_at=z("2026-06-02T09:30Z"),
            created_at=z("2026-06-01T09:30Z"), base_url=url, clock="letta",
        )  # fmt: skip
    assert str(caught.value) == (
        f'clock "letta" needs Letta Cloud (an https:// Letta API, e.g. https://api.letta.com); "{url}" has no '
        "native schedules — use --clock github"
    )


def test_the_cli_creates_a_schedule_on_letta_s_clock_and_a_tick_arms_it(
    cli_env: dict[str, str], standin: LettaStandIn
) -> None:
    agent = standin.add_agent()
    runner = CliRunner()
    made = runner.invoke(
        app,
        ["recurring", "create", "--agent-id", agent, "-m", "Standup", "--cron", "0 9 * * *", "--tz", BERLIN,
         "--clock", "letta", "--now", "2026-10-23T12:00:00Z", "--json"],
        env=cli_env,
    )  # fmt: skip
    assert made.exit_code == 0, made.output
    ticked = runner.invoke(app, ["tick", "--now", "2026-10-23T12:17:00Z", "--json"], env=cli_env)
    assert ticked.exit_code == 0, ticked.output
    (native,) = standin.schedules.live(agent)
    assert native["schedule"]["scheduled_at"] == ms(z("2026-10-24T07:00Z"))


def test_the_cli_refuses_letta_s_clock_for_a_self_hosted_server(cli_env: dict[str, str]) -> None:
    env = {**cli_env, "LETTA_BASE_URL": "http://letta.example.com:8283"}
    made = CliRunner().invoke(
        app, ["recurring", "create", "--agent-id", SOME_AGENT, "-m", "Standup", "--cron", "0 9 * * *", "--clock",
              "letta"], env=env,
    )  # fmt: skip
    assert made.exit_code == 1
    assert made.output.strip().splitlines()[-1] == (
        'Error: clock "letta" needs Letta Cloud (an https:// Letta API, e.g. https://api.letta.com); '
        '"http://letta.example.com:8283" has no native schedules — use --clock github'
    )


def test_a_tree_without_letta_s_clock_never_calls_the_schedule_api(world: World) -> None:
    schedule = world.recurring("0 9 * * *", BERLIN, created=z("2026-10-23T12:00Z"))
    world.seed(schedule)
    world.tick(z("2026-10-24T07:17Z"))
    assert len(world.letta.deliveries) == 1
    assert world.remote_files(NATIVE) == []
    assert not [r for r in world.letta.requests if "/schedule" in r.path]


def test_a_pass_that_dies_after_arming_is_taken_over_without_arming_twice(world: World) -> None:
    schedule = daily_nine(world, created=z("2026-10-23T12:00Z"))
    world.seed(schedule)
    world.reject_pushes(subject_contains="reconcile native schedules")
    with pytest.raises(BackendError):
        world.tick(z("2026-10-23T12:17Z"))  # armed at Letta, but the record of it never lands
    world.accept_pushes()
    (native,) = armed(world)

    # While its claim lives, another pass leaves the schedule alone; after it lapses, it adopts what was armed.
    world.tick(z("2026-10-23T12:30Z"), store=world.clone("b"))
    world.tick(z("2026-10-23T13:17Z"), store=world.clone("b"))
    assert [s["id"] for s in armed(world)] == [native["id"]]
    world.letta.schedules.fire_due(z("2026-10-24T07:00Z"))
    report = world.tick(z("2026-10-24T07:17Z"), store=world.clone("b"))
    assert [r.run_id for r in report.native] == [world.letta.deliveries[0].run_id]
    assert len(world.letta.deliveries) == 1


def test_the_official_sdk_reads_the_stand_in_s_schedule_api(letta: LettaStandIn) -> None:
    sdk = pytest.importorskip("letta_client")
    agent = letta.agents[0]
    client = sdk.Letta(base_url=letta.base_url, api_key=LETTA_KEY)
    at = ms(z("2030-01-01T09:00Z"))
    made = client.agents.schedule.create(
        agent_id=agent,
        schedule={"type": "one-time", "scheduled_at": at},
        messages=[{"role": "user", "content": "hello", "otid": "otid-1"}],
    )
    got = client.agents.schedule.retrieve(made.id, agent_id=agent)
    assert (got.schedule.scheduled_at, got.message.messages[0].otid) == (at, "otid-1")
    assert [s.id for s in client.agents.schedule.list(agent_id=agent).scheduled_messages] == [made.id]
    assert client.agents.schedule.delete(made.id, agent_id=agent).success is True
    assert client.agents.schedule.list(agent_id=agent).scheduled_messages == []


def test_the_rest_api_takes_a_clock_and_a_pass_arms_what_it_stored(repo: Repo, key: str) -> None:
    from api_server import serve_api

    with serve_api(repo, key) as server, server.client() as client:
        body = {"agent_id": server.agent, "cron": "0 9 * * *", "timezone": BERLIN, "message": "Standup"}
        refused = client.post("/schedules/recurring", json={**body, "clock": "cloud"})
        assert refused.status_code == 422 and [i["loc"] for i in refused.json()["detail"]] == [["body", "clock"]]
        made = client.post("/schedules/recurring", json={**body, "clock": "letta"})
        assert made.status_code == 201, made.text
        store = indexed_store(GitBackend(repo.clone), codec_from_keys(key))
        report = run_pass(store, datetime.now(UTC), tick_support.client_factory, tick_support.FAST)
        assert report.outcomes == []
        (native,) = server.standin.schedules.live(server.agent)
        assert native["name"] == f"switchboard {made.json()['id']}"


def test_a_longer_grace_period_makes_the_watchdog_wait_longer(world: World) -> None:
    world.letta.schedules.stall()
    world.seed(daily_nine(world, created=z("2026-10-23T12:00Z")))
    patient = replace(tick_support.FAST, native_grace=timedelta(minutes=30))
    world.tick(z("2026-10-23T12:17Z"), options=patient)
    world.tick(z("2026-10-24T07:17Z"), options=patient)
    assert world.letta.deliveries == []
    world.tick(z("2026-10-24T07:31Z"), options=patient)
    assert len(world.letta.deliveries) == 1


def test_a_grace_period_that_is_not_a_duration_is_one_error_line(cli_env: dict[str, str]) -> None:
    env = {**cli_env, "SWITCHBOARD_NATIVE_GRACE": "soon"}
    ticked = CliRunner().invoke(app, ["tick", "--now", "2026-10-23T12:17:00Z"], env=env)
    assert ticked.exit_code == 1
    assert ticked.output.strip().splitlines() == [
        'Error: SWITCHBOARD_NATIVE_GRACE: "soon" is not a duration — use e.g. 90s, 4m or 1h'
    ]


def test_an_agent_letta_does_not_know_pauses_the_schedule_with_the_reason(world: World) -> None:
    missing = "agent-00000000-0000-4000-8000-00000000dead"
    schedule = daily_nine(world, created=z("2026-10-23T12:00Z")).model_copy(update={"agent_id": missing})
    world.seed(schedule)
    report = world.tick(z("2026-10-23T12:17Z"))
    (failed,) = report.native
    assert failed.status == "failed" and "could not arm the fire at Letta" in (failed.error or "")
    stored = world.remote_schedule(schedule.id)
    assert isinstance(stored, RecurringSchedule) and stored.status == "paused"
    assert native_records(world) == [] and world.letta.deliveries == []


def test_what_is_armed_survives_a_rotation_of_the_encryption_key(world: World) -> None:
    from switchboard import service

    schedule = daily_nine(world, created=z("2026-10-23T12:00Z"))
    world.seed(schedule)
    world.tick(z("2026-10-23T12:17Z"))
    (native,) = armed(world)
    new_key = generate_key()
    both = indexed_store(world.store.backend, codec_from_keys(f"{new_key},{world.key}"))
    assert service.rotate_keys(both) > 0
    only_new = indexed_store(world.store.backend, codec_from_keys(new_key))
    world.letta.schedules.fire_due(z("2026-10-24T07:00Z"))
    report = world.tick(z("2026-10-24T07:17Z"), store=only_new)
    assert [r.run_id for r in report.native] == [world.letta.deliveries[0].run_id]
    assert native["id"] not in [s["id"] for s in armed(world)] and armed_at(world) == [z("2026-10-25T08:00Z")]


@settings(max_examples=100, deadline=None)
@given(st.datetimes(min_value=datetime(2026, 1, 1), max_value=datetime(2028, 12, 31), timezones=st.just(UTC)))
def test_the_fire_to_arm_is_always_nine_in_berlin_and_the_next_one(now: datetime) -> None:
    from zoneinfo import ZoneInfo

    from switchboard.due import due_fire
    from switchboard.native.arming import target

    created = datetime(2025, 12, 1, tzinfo=UTC)
    base = RecurringSchedule(
        agent_id=SOME_AGENT, message="Good morning", cron="0 9 * * *", timezone=BERLIN, created_at=created,
        base_url="https://api.letta.com", clock="letta",
    )  # fmt: skip
    last = due_fire(base.cron, BERLIN, created, now)
    schedule = base.model_copy(update={"last_run": last.scheduled_for if last else None})
    wanted = target(schedule, now)
    assert wanted is not None and wanted.skipped == 0
    local = wanted.fire.astimezone(ZoneInfo(BERLIN))
    assert (local.hour, local.minute) == (9, 0)
    assert now < wanted.fire <= now + timedelta(hours=25)
    assert target(schedule.model_copy(update={"clock": "github"}), now) is None


def test_a_one_time_message_letta_never_fires_is_sent_once_by_the_watchdog_and_then_forgotten(world: World) -> None:
    world.letta.schedules.stall()
    at = z("2026-06-02T09:30Z")
    schedule = world.one_time(at, message="once, watched").model_copy(update={"clock": "letta"})
    world.seed(schedule)
    world.tick(z("2026-06-01T12:00Z"))
    (native,) = armed(world)
    report = world.tick(z("2026-06-02T09:47Z"))
    (delivery,) = world.letta.deliveries
    assert delivery.otid == otid_of(native) == job_otid(schedule, at)
    assert [o.status for o in report.outcomes] == ["delivered"] and world.remote_schedule(schedule.id) is None
    world.tick(z("2026-06-02T10:17Z"))
    assert len(world.letta.deliveries) == 1 and world.remote_files(NATIVE) == []


def _both_at_once(world: World, now: datetime) -> None:
    """Two passes from two clones at the same instant, in two threads."""
    a, b = world.clone("a"), world.clone("b")
    gate = threading.Barrier(2)
    errors: list[BaseException] = []

    def one(store: Store) -> None:
        gate.wait()
        try:
            world.tick(now, store=store)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=one, args=(s,)) for s in (a, b)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []


def test_concurrent_passes_arm_record_and_watch_each_fire_once(world: World) -> None:
    agents = world.letta.agents
    schedules = [daily_nine(world, created=z("2026-10-23T12:00Z"), message=f"m{i}") for i in range(3)]
    schedules = [s.model_copy(update={"agent_id": agents[i]}) for i, s in enumerate(schedules)]
    world.letta.schedules.stall(agents[2])  # the third one's native schedule never fires
    world.seed(*schedules)

    _both_at_once(world, z("2026-10-23T12:17Z"))
    assert len(armed(world)) == 3

    world.letta.schedules.fire_due(z("2026-10-24T07:00Z"))
    _both_at_once(world, z("2026-10-24T07:17Z"))
    _both_at_once(world, z("2026-10-24T07:47Z"))
    assert sorted(d.text for d in world.letta.deliveries) == ["m0", "m1", "m2"]
    assert sorted(r.status for r in world.remote_results()) == ["delivered"] * 3
    assert sorted(armed_at(world)) == [z("2026-10-25T08:00Z")] * 3


PASS_TIMES = ["2026-10-24T06:50Z", "2026-10-24T07:05Z", "2026-10-24T07:17Z", "2026-10-24T07:30Z", "2026-10-24T08:00Z"]


@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    fault=st.sampled_from(["none", "stall", "race200", "race404"]),
    worker=st.sampled_from([None, "2026-10-24T07:00Z", "2026-10-24T07:10Z", "2026-10-24T07:20Z"]),
    passes=st.lists(st.tuples(st.sampled_from(PASS_TIMES), st.sampled_from(["a", "b"])), min_size=1, max_size=4),
)
def test_whatever_letta_does_a_fire_goes_out_once_or_is_reported(
    tmp_path_factory: pytest.TempPathFactory, git_template: Path, fault: str, worker: str | None,
    passes: list[tuple[str, str]],
) -> None:  # fmt: skip
    top = tmp_path_factory.mktemp("native-property")
    shutil.copytree(git_template / "remote.git", top / "remote.git", symlinks=True)
    key = generate_key()
    with LettaStandIn(api_keys={LETTA_KEY}).start() as letta:
        letta.add_agent()
        world = World(top=top, template=git_template, codec=codec_from_keys(key), key=key, letta=letta)
        schedule = daily_nine(world, created=z("2026-10-23T12:00Z"))
        world.seed(schedule)
        if fault == "stall":
            letta.schedules.stall()
        world.tick(z("2026-10-23T12:17Z"))
        if fault.startswith("race"):
            letta.schedules.race_delete(answer=int(fault[4:]))
        events = sorted([(z(t), "pass", c) for t, c in passes] + ([(z(worker), "fire", "")] if worker else []))
        for at, what, clone in events:
            if what == "fire":
                letta.schedules.fire_due(at)
            else:
                world.tick(at, store=world.clone(clone))
        letta.schedules.unstall()
        world.tick(z("2026-10-24T12:00Z"))
        world.tick(z("2026-10-24T12:30Z"), store=world.clone("b"))

        fire = z("2026-10-24T07:00Z")
        sent = [d for d in letta.deliveries if d.otid == job_otid(schedule, fire)]
        results = [r for r in world.remote_results(schedule.id) if r.scheduled_for == fire]
        assert len(sent) <= 1, "never a double"
        assert len(results) == 1, "every fire ends in one result"
        if sent:
            assert (results[0].status, results[0].run_id) == ("delivered", sent[0].run_id)
        else:
            assert results[0].status == "failed" and results[0].error, "never a silent loss"
        assert armed_at(world) == [z("2026-10-25T08:00Z")]


def test_the_stand_in_s_worker_can_be_driven_over_http(world: World) -> None:
    schedule = daily_nine(world, created=z("2026-10-23T12:00Z"))
    world.seed(schedule)
    world.tick(z("2026-10-23T12:17Z"))
    (native,) = armed(world)
    fire = f"{world.letta.base_url}/_standin/schedules/fire"
    assert httpx.post(fire, json={"now": "2026-10-24T06:59:59Z"}).json() == {"fired": []}
    assert httpx.post(fire, json={"now": "2026-10-24T07:00:00Z"}).json() == {"fired": [native["id"]]}
    assert httpx.post(fire, json={"now": "2026-10-24T07:00:00"}).status_code == 422
    assert [d.otid for d in world.letta.deliveries] == [otid_of(native)]


def test_a_native_fire_s_result_carries_how_its_run_ended(world: World) -> None:
    agent = world.letta.agents[0]
    world.letta.set_run_outcome(agent, "failed", "llm_api_error")
    schedule = daily_nine(world, created=z("2026-10-23T12:00Z"))
    world.seed(schedule)
    world.tick(z("2026-10-23T12:17Z"))
    world.letta.schedules.fire_due(z("2026-10-24T07:00Z"))
    (result,) = world.tick(z("2026-10-24T07:17Z")).native
    assert (result.status, result.run_status, result.stop_reason) == ("delivered", "failed", "llm_api_error")


@pytest.mark.parametrize("module", ["switchboard.native", "switchboard.native.arming", "switchboard.native.reconcile"])
def test_the_native_package_imports_on_its_own(module: str) -> None:
    # In a fresh interpreter: importing it first must not run into the tick package half-made.
    done = subprocess.run([sys.executable, "-c", f"import {module}"], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
