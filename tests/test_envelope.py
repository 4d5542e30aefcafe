"""The envelope: a scheduled message tells its agent the schedule, its zone, the due time and the time now."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import tick_support
from tick_support import LETTA_KEY, T0, World, texts
from typer.testing import CliRunner

from switchboard.cli import app
from switchboard.envelope import ON_ITS_OWN, message_for, wrap
from switchboard.models import OneTimeSchedule, RecurringSchedule
from switchboard.tick import Job

# The fixtures `world`, `letta` and `git_template`.
world_fixture, letta_fixture, git_template_fixture = (
    tick_support.world_fixture,
    tick_support.letta_fixture,
    tick_support.git_template_fixture,
)

AGENT = "agent-0b7cbd6e-2f1e-4e55-9a57-6c1d6f0b2a11"
MADE = datetime(2026, 1, 1, tzinfo=UTC)


def standup(**fields: object) -> RecurringSchedule:
    base: dict[str, object] = {
        "agent_id": AGENT,
        "message": "Ask Sam how the release is going.\nThen plan the day.",
        "cron": "0 9 * * 1-5",
        "timezone": "Europe/Berlin",
        "created_at": MADE,
        "name": "standup",
        "envelope": True,
    }
    return RecurringSchedule.model_validate(base | fields)


def test_a_fire_four_minutes_late_tells_both_times_in_the_schedule_s_zone() -> None:
    due = datetime(2026, 12, 7, 8, 0, tzinfo=UTC)  # 09:00 in Berlin, winter
    text = wrap(standup(), due, due + timedelta(minutes=4, seconds=12), 12)
    assert text.split("\n") == [
        "<system-reminder>",
        'Scheduled message "standup" from switchboard.',
        "Time zone: Europe/Berlin",
        "Scheduled for: 2026-12-07T09:00:00+01:00 (Monday 7 December 2026, 09:00 CET)",
        "Current time: 2026-12-07T09:04:12+01:00 (Monday 7 December 2026, 09:04 CET), 4 minutes after it was due",
        "Fire 12 of a recurring schedule: 0 9 * * 1-5 (at 09:00 AM, Monday through Friday).",
        ON_ITS_OWN,
        "</system-reminder>",
        "",
        "Ask Sam how the release is going.",
        "Then plan the day.",
    ]


def test_summer_time_is_shown_with_its_own_offset_and_hours_late_in_hours() -> None:
    due = datetime(2026, 7, 6, 7, 0, tzinfo=UTC)  # 09:00 CEST
    text = wrap(standup(), due, due + timedelta(hours=2, minutes=30), 3)
    assert "Scheduled for: 2026-07-06T09:00:00+02:00 (Monday 6 July 2026, 09:00 CEST)" in text
    assert "Current time: 2026-07-06T11:30:00+02:00 (Monday 6 July 2026, 11:30 CEST), 2 hours 30 minutes after" in text


def test_a_one_time_message_without_a_name_or_zone_is_named_by_id_in_utc() -> None:
    once = OneTimeSchedule(agent_id=AGENT, message="Water the plants", execute_at=T0, created_at=MADE, envelope=True)
    text = message_for(once, T0, T0 + timedelta(seconds=20))
    assert f"Scheduled message {once.id} from switchboard." in text
    assert "Time zone: UTC" in text and "Current time: 2026-06-01T12:00:20+00:00" in text and ", on time" in text
    assert "A one-time message." in text and text.endswith("\n\nWater the plants")


def test_without_the_envelope_the_message_goes_exactly_as_written() -> None:
    plain = standup(envelope=False)
    assert message_for(plain, T0, T0 + timedelta(hours=5)) == plain.message


def test_an_extra_fire_by_request_is_not_numbered() -> None:
    text = message_for(standup(fires=4), T0, T0, manual=True)
    assert "An extra fire, sent by request, of a recurring schedule: 0 9 * * 1-5" in text
    assert "Fire 5" not in text
    assert "Fire 5 of a recurring schedule" in message_for(standup(fires=4), T0, T0)


def test_a_retry_of_the_same_fire_carries_the_same_otid_and_differs_only_in_the_current_time() -> None:
    schedule = standup()
    job = Job("p", schedule, T0)
    first = message_for(schedule, T0, T0 + timedelta(minutes=1)).split("\n")
    again = message_for(schedule, T0, T0 + timedelta(minutes=9)).split("\n")
    assert [i for i, (a, b) in enumerate(zip(first, again, strict=True)) if a != b] == [4]
    assert Job("p", schedule, T0).otid == job.otid


def cli_env(world: World) -> dict[str, str | None]:
    """The environment of a `switchboard` command run on the world's clone (made now) with its key."""
    assert world.store is not None
    return {
        "SWITCHBOARD_ENCRYPTION_KEY": world.key,
        "SWITCHBOARD_REPO": str(world.path()),
        "LETTA_API_KEY": LETTA_KEY,
        "LETTA_BASE_URL": world.letta.base_url,
        "XDG_CONFIG_HOME": str(world.top / "config"),
        "HOME": str(world.top / "home"),
        "SWITCHBOARD_DEV_MODE": None,
    }


def test_a_cli_schedule_reaches_its_agent_in_the_envelope_and_counts_its_fires(world: World) -> None:
    agent = world.letta.agents[0]
    made = CliRunner().invoke(
        app,
        ["recurring", "create", "--agent-id", agent, "-m", "Standup", "--every", "every day at 9am",
         "--tz", "America/New_York", "--name", "standup", "--now", (T0 - timedelta(days=1)).isoformat(), "--json"],
        env=cli_env(world),
    )  # fmt: skip
    assert made.exit_code == 0, made.output
    assert tick_support.as_json(made.stdout)["envelope"] is True
    world.store.backend.refresh()
    first_due = datetime(2026, 6, 1, 13, 0, tzinfo=UTC)  # 09:00 EDT
    world.tick(first_due + timedelta(minutes=7))
    world.tick(first_due + timedelta(days=1, minutes=1))
    first, second = texts(world.letta.deliveries, agent)
    assert "Scheduled for: 2026-06-01T09:00:00-04:00 (Monday 1 June 2026, 09:00 EDT)" in first
    assert "7 minutes after it was due" in first and "Fire 1 of a recurring schedule" in first
    assert "Fire 2 of a recurring schedule" in second and "on time" not in second
    assert first.endswith("</system-reminder>\n\nStandup") and second.endswith("\n\nStandup")


def test_plain_sends_the_message_exactly_as_written(world: World) -> None:
    agent = world.letta.agents[0]
    made = CliRunner().invoke(
        app,
        ["send", "--agent-id", agent, "-m", "Exactly this", "--at", "in 1 hour", "--plain",
         "--now", T0.isoformat()],
        env=cli_env(world),
    )  # fmt: skip
    assert made.exit_code == 0, made.output
    world.store.backend.refresh()
    world.tick(T0 + timedelta(hours=2))
    assert texts(world.letta.deliveries, agent) == ["Exactly this"]
