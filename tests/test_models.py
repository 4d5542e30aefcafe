"""The records: what is accepted, what is refused, and how a refusal reads."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from switchboard.exceptions import InvalidInputError, TimeParseError, UnknownZoneError
from switchboard.models import (
    MAX_MESSAGE_BYTES,
    STORED,
    OneTimeSchedule,
    RecurringSchedule,
    Result,
    build,
    check_agent_id,
    check_id,
    check_message,
    max_message_bytes,
)

NOW = datetime(2026, 3, 10, 15, 20, tzinfo=UTC)
AGENT = "agent-0b7cbd6e-2f1e-4e55-9a57-6c1d6f0b2a11"


def one_time(**fields: object) -> OneTimeSchedule:
    base: dict[str, object] = {
        "agent_id": AGENT,
        "message": "Water the plants",
        "execute_at": NOW + timedelta(hours=1),
        "created_at": NOW,
    }
    schedule: OneTimeSchedule = build(OneTimeSchedule, **(base | fields))
    return schedule


def recurring(**fields: object) -> RecurringSchedule:
    base: dict[str, object] = {"agent_id": AGENT, "message": "Standup", "cron": "0 10 * * 1-5", "created_at": NOW}
    schedule: RecurringSchedule = build(RecurringSchedule, **(base | fields))
    return schedule


# -- ids -------------------------------------------------------------------------


@given(st.uuids())
def test_every_uuid_is_an_id_in_canonical_form(value: object) -> None:
    assert check_id(str(value)) == str(value)
    assert check_id(str(value).upper()) == str(value)


@pytest.mark.parametrize(
    "bad",
    ["../../etc/passwd", "a/b", "%2e%2e", "..", "", "3f2b9c1e", "{3f2b9c1e-8d4a-4b6e-9f0a-1c2d3e4f5a6b}",
     "urn:uuid:3f2b9c1e-8d4a-4b6e-9f0a-1c2d3e4f5a6b", "3f2b9c1e8d4a4b6e9f0a1c2d3e4f5a6b"],
)  # fmt: skip
def test_anything_but_a_plain_uuid_is_refused(bad: str) -> None:
    with pytest.raises(InvalidInputError, match="is not a schedule id"):
        check_id(bad)


def test_a_refused_id_is_quoted_on_one_line() -> None:
    with pytest.raises(InvalidInputError) as caught:
        check_id("a\nb/" + "x" * 100)
    assert "\n" not in str(caught.value)
    assert '"a\\nb/' in str(caught.value) and "…" in str(caught.value)


def test_a_schedule_id_must_be_a_uuid_too() -> None:
    with pytest.raises(InvalidInputError, match='"a/b" is not a schedule id'):
        one_time(id="a/b")


# -- agent ids, roles, messages ------------------------------------------------------


UUID = "3f2b9c1e-8d4a-4b6e-9f0a-1c2d3e4f5a6b"


@pytest.mark.parametrize(
    "bad",
    [
        "a" * 129,
        "agent 1",
        "agent-1",
        "agent\x00",
        "a/b",
        UUID,
        f"agent-{UUID[:-1]}",
        f"agent-{UUID}x",
        f"agent-cloud-{UUID}",
        f" agent-{UUID}",
        f"agent-{UUID}\n",
        f"agent-{UUID.replace('-', '')}",
    ],
)
def test_agent_ids_not_made_by_letta_are_refused(bad: str) -> None:
    reason = "is not a Letta agent id — pass one such as agent-3f2b9c1e-"
    with pytest.raises(ValueError, match=reason):
        check_agent_id(bad)
    with pytest.raises(InvalidInputError, match=reason):
        one_time(agent_id=bad)


def test_an_agent_id_in_capitals_is_told_to_use_lower_case() -> None:
    with pytest.raises(ValueError, match=r"pass one \(in lower case\)"):
        check_agent_id(f"agent-{UUID.upper()}")


def test_an_empty_agent_id_says_so() -> None:
    with pytest.raises(InvalidInputError, match="agent id is empty"):
        one_time(agent_id="")


@pytest.mark.parametrize("good", [f"agent-{UUID}", f"agent-local-{UUID}", "agent-00000000-0000-4000-8000-000000000000"])
def test_agent_ids_letta_makes_are_accepted(good: str) -> None:
    assert check_agent_id(good) == good
    assert one_time(agent_id=good).agent_id == good


def test_a_stored_schedule_keeps_an_agent_id_older_rules_let_in() -> None:
    stored = OneTimeSchedule.model_validate(
        {"agent_id": "agent-1", "message": "m", "execute_at": NOW.isoformat(), "created_at": NOW.isoformat()},
        context=STORED,
    )
    assert stored.agent_id == "agent-1"


def test_roles() -> None:
    for role in ("user", "system", "assistant"):
        assert one_time(role=role).role == role
    with pytest.raises(InvalidInputError) as caught:
        one_time(role="boss")
    assert str(caught.value) == "role must be 'user', 'system' or 'assistant'"


@pytest.mark.parametrize("bad", ["", "   ", "\n\t"])
def test_empty_messages(bad: str) -> None:
    with pytest.raises(InvalidInputError) as caught:
        one_time(message=bad)
    assert str(caught.value) == "message is empty — give the text the agent should receive"


def test_message_size_is_counted_in_utf8_bytes(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SWITCHBOARD_MAX_MESSAGE_BYTES", raising=False)
    assert max_message_bytes() == MAX_MESSAGE_BYTES == 65536
    assert check_message("x" * 65536) == "x" * 65536
    with pytest.raises(ValueError) as caught:
        check_message("ü" * 32769)  # 65538 bytes, 32769 characters
    assert str(caught.value) == (
        "message is 65538 bytes of UTF-8, more than the limit of 65536 — shorten it "
        "(or raise SWITCHBOARD_MAX_MESSAGE_BYTES)"
    )


def test_the_limit_is_configurable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SWITCHBOARD_MAX_MESSAGE_BYTES", "10")
    assert one_time(message="0123456789").message == "0123456789"
    with pytest.raises(InvalidInputError, match="11 bytes of UTF-8, more than the limit of 10"):
        one_time(message="0123456789a")
    monkeypatch.setenv("SWITCHBOARD_MAX_MESSAGE_BYTES", "lots")
    with pytest.raises(InvalidInputError) as caught:
        one_time()
    assert str(caught.value) == 'SWITCHBOARD_MAX_MESSAGE_BYTES="lots" is not a positive number of bytes — e.g. 65536'


def test_a_lowered_limit_does_not_lock_out_stored_schedules(monkeypatch: pytest.MonkeyPatch) -> None:
    stored = one_time(message="x" * 100).model_dump(mode="json")
    monkeypatch.setenv("SWITCHBOARD_MAX_MESSAGE_BYTES", "10")
    assert OneTimeSchedule.model_validate(stored, context=STORED).message == "x" * 100
    with pytest.raises(Exception, match="more than the limit"):
        OneTimeSchedule.model_validate(stored)


def test_refusals_never_repeat_the_message() -> None:
    secret = "the launch code is 0000 " * 3000
    with pytest.raises(InvalidInputError) as caught:
        one_time(message=secret, role="boss", agent_id="")
    text = str(caught.value)
    assert "launch code" not in text
    assert "message is" in text and "role must be" in text and "agent id is empty" in text


# -- times ------------------------------------------------------------------------------


def test_execute_at_must_be_aware_and_is_kept_in_utc() -> None:
    made = one_time(execute_at=datetime(2031, 5, 4, 9, 0, tzinfo=timezone(timedelta(hours=-5))))
    assert made.execute_at == datetime(2031, 5, 4, 14, 0, tzinfo=UTC)
    assert made.public()["execute_at"] == "2031-05-04T14:00:00+00:00"
    with pytest.raises(InvalidInputError) as caught:
        one_time(execute_at=datetime(2031, 5, 4, 9, 0))
    assert str(caught.value) == "execute_at: input should have timezone info"


def test_cron_must_have_five_valid_fields() -> None:
    assert recurring(cron="*/15  9-17 * * 1-5").cron == "*/15 9-17 * * 1-5"
    with pytest.raises(TimeParseError, match="minute must be 0-59"):
        recurring(cron="99 * * * *")
    with pytest.raises(TimeParseError, match="seconds and years are not supported"):
        recurring(cron="0 0 10 * * 1-5")
    with pytest.raises(TimeParseError, match="is not a cron expression"):
        recurring(cron="every day")


def test_timezone_must_be_an_iana_name() -> None:
    assert recurring(timezone="Europe/Berlin").timezone == "Europe/Berlin"
    with pytest.raises(UnknownZoneError) as caught:
        recurring(timezone="Mars/Olympus")
    assert str(caught.value) == 'unknown time zone "Mars/Olympus" — use an IANA name such as "Europe/Berlin" or "UTC"'


def test_next_run_counts_from_the_last_fire_or_a_resume() -> None:
    made = recurring(cron="0 * * * *")
    assert made.next_run() == datetime(2026, 3, 10, 16, 0, tzinfo=UTC)
    fired = made.model_copy(update={"last_run": datetime(2026, 3, 10, 16, 0, tzinfo=UTC)})
    assert fired.next_run() == datetime(2026, 3, 10, 17, 0, tzinfo=UTC)
    resumed = fired.model_copy(update={"resumed_at": datetime(2026, 3, 11, 8, 30, tzinfo=UTC)})
    assert resumed.next_run() == datetime(2026, 3, 11, 9, 0, tzinfo=UTC)
    assert resumed.public()["last_run"] == "2026-03-10T16:00:00+00:00"  # the real last fire stays
    assert resumed.model_copy(update={"status": "paused"}).next_run() is None


# -- public views ------------------------------------------------------------------------


def test_public_views_never_hold_the_letta_key() -> None:
    made = one_time(api_key="sk-let-secret")
    assert "sk-let-secret" not in repr(made)
    assert set(made.public()) == {
        "id", "name", "agent_id", "message", "role", "conversation", "execute_at", "timezone", "created_at", "envelope",
        "clock",
    }  # fmt: skip
    assert made.public()["conversation"] == "default"
    rec = recurring(api_key="sk-let-secret", timezone="Europe/Berlin")
    shown = {"id", "agent_id", "message", "role", "cron", "timezone", "created_at", "last_run", "next_run", "status"}
    assert shown <= set(rec.public())
    assert "api_key" not in rec.public()
    result = build(
        Result,
        schedule_id=made.id,
        schedule_type="one-time",
        status="delivered",
        run_id="run-1",
        agent_id=AGENT,
        message="Water the plants",
        scheduled_for=NOW,
        executed_at=NOW,
    )
    assert "message" not in result.public()
    assert result.public(with_message=True)["message"] == "Water the plants"
