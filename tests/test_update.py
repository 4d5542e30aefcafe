"""Changing schedules in place, and names: service.update_schedule and service.resolve_id on real git.

A change is one commit that keeps the schedule's id (and so its results); a
one-time message moves to its new bucket; a recurring schedule's new cron counts
from ``now`` and the next-fire index follows. A schedule a running tick holds is
refused, so no pass sends the old text and then records the new one away.
"""

from __future__ import annotations

import threading
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import pytest
import tick_support
from tick_support import LETTA_KEY, OTHER_KEY, T0, World, texts

from switchboard import service
from switchboard.backends.base import Changes
from switchboard.backends.git import GitBackend
from switchboard.due import next_fire
from switchboard.exceptions import BusyError, InvalidInputError, NotFoundError
from switchboard.index import indexed_store, read_index
from switchboard.models import OneTimeSchedule, RecurringSchedule, Result, build
from switchboard.store import ONE_TIME, bucket, recurring_path
from switchboard.tick import Job

world_fixture, letta_fixture, git_template_fixture = (
    tick_support.world_fixture,
    tick_support.letta_fixture,
    tick_support.git_template_fixture,
)


def one_time_files(world: World, schedule_id: str) -> list[str]:
    return [p for p in world.remote_files(ONE_TIME) if schedule_id in p]


# -- one-time -----------------------------------------------------------------------------


def test_a_new_time_moves_the_message_to_its_bucket_in_one_commit(world: World) -> None:
    made = world.one_time(T0 + timedelta(hours=5), message="Old text")
    world.seed(made)
    [before] = one_time_files(world, made.id)
    commits = len(world.remote_log())

    new_at = T0 + timedelta(days=2, hours=3)
    updated = service.update_schedule(
        world.store, LETTA_KEY, made.id, "one-time", {"execute_at": new_at, "message": "New text"}, now=T0
    )

    assert (updated.id, updated.message) == (made.id, "New text")
    assert isinstance(updated, OneTimeSchedule) and updated.execute_at == new_at
    assert len(world.remote_log()) == commits + 1
    assert world.remote_log()[0] == f"switchboard: update one-time {made.id}"
    [after] = one_time_files(world, made.id)
    assert after != before and f"/{bucket(new_at)}/" in after
    assert world.remote_schedule(made.id) == updated
    # Delivered at its new time, with its new text, once.
    assert world.tick(T0 + timedelta(hours=6)).outcomes == []
    report = world.tick(new_at)
    assert [r.schedule_id for r in report.results] == [made.id]
    assert texts(world.letta.deliveries) == ["New text"]


def test_changes_equal_to_what_is_stored_commit_nothing(world: World) -> None:
    made = world.one_time(T0 + timedelta(hours=1), message="Same")
    world.seed(made)
    commits = world.remote_log()
    same = service.update_schedule(world.store, LETTA_KEY, made.id, "one-time", {"message": "Same"}, now=T0)
    assert same == made
    assert world.remote_log() == commits


def test_a_name_is_set_changed_and_taken_away(world: World) -> None:
    made = world.one_time(T0 + timedelta(hours=1))
    world.seed(made)
    named = service.update_schedule(world.store, LETTA_KEY, made.id, "one-time", {"name": "  plants  "}, now=T0)
    assert named.name == "plants"
    assert named.public()["name"] == "plants"
    gone = service.update_schedule(world.store, LETTA_KEY, made.id, "one-time", {"name": ""}, now=T0)
    assert gone.name is None


def test_bad_changes_are_refused_and_nothing_is_committed(world: World) -> None:
    made = world.one_time(T0 + timedelta(hours=1))
    world.seed(made)
    commits = world.remote_log()
    cases = [
        ({}, "nothing to change — give a new message, time, role, agent id or name"),
        ({"cron": "0 9 * * *"}, "a one-time schedule has no cron to change"),
        ({"message": " "}, "message is empty — give the text the agent should receive"),
        ({"name": "x" * 201}, "name is 201 characters, more than 200 — shorten it"),
        ({"role": "boss"}, "role must be 'user', 'system' or 'assistant'"),
    ]
    for changes, expected in cases:
        with pytest.raises(InvalidInputError) as caught:
            service.update_schedule(world.store, LETTA_KEY, made.id, "one-time", changes, now=T0)
        assert str(caught.value) == expected
    with pytest.raises(NotFoundError):
        service.update_schedule(world.store, OTHER_KEY, made.id, "one-time", {"message": "mine now"}, now=T0)
    with pytest.raises(NotFoundError):
        service.update_schedule(world.store, LETTA_KEY, made.id, "recurring", {"message": "x"}, now=T0)
    assert world.remote_log() == commits


# -- recurring ----------------------------------------------------------------------------


def test_a_new_cron_counts_from_now_and_the_index_follows(world: World) -> None:
    rec = world.recurring("0 9 * * *", "Europe/Berlin", created=T0 - timedelta(days=10))
    world.seed(rec)
    world.tick(T0)  # fires the 09:00 Berlin of 2026-06-01 (07:00 UTC), before T0 (12:00 UTC)
    [delivered] = world.remote_results(rec.id)
    now = T0 + timedelta(hours=1)

    updated = service.update_schedule(
        world.store, LETTA_KEY, rec.id, "recurring", {"cron": "30 14 * * *", "timezone": "UTC"}, now=now
    )

    assert isinstance(updated, RecurringSchedule)
    assert (updated.id, updated.cron, updated.timezone) == (rec.id, "30 14 * * *", "UTC")
    assert updated.last_run == delivered.scheduled_for  # its history stays
    assert updated.next_run() == next_fire("30 14 * * *", "UTC", now)
    path = recurring_path(world.store.tenant(LETTA_KEY) or "", rec.id, world.store.codec.suffix)
    wake = read_index(world.store)[path].wake
    assert wake == int(next_fire("30 14 * * *", "UTC", now).timestamp())
    # The old 09:00 Berlin fire of tomorrow is not sent; the new one is, once.
    assert world.tick(T0 + timedelta(hours=2)).outcomes == []
    report = world.tick(T0 + timedelta(hours=3))
    assert [r.scheduled_for for r in report.results] == [T0.replace(hour=14, minute=30)]
    assert len(service.list_results(world.store, LETTA_KEY, schedule_id=rec.id)) == 2


def test_a_message_change_keeps_an_overdue_fire(world: World) -> None:
    rec = world.recurring("0 * * * *", created=T0 - timedelta(hours=3))
    world.seed(rec)
    service.update_schedule(world.store, LETTA_KEY, rec.id, "recurring", {"message": "Hourly, reworded"}, now=T0)
    report = world.tick(T0 + timedelta(minutes=1))
    assert [r.status for r in report.results] == ["delivered"]
    assert texts(world.letta.deliveries) == ["Hourly, reworded"]


# -- a tick holding the schedule ------------------------------------------------------------


def test_a_schedule_a_running_tick_holds_is_refused_then_changed_after_it(world: World) -> None:
    rec = world.recurring("0 * * * *", created=T0 - timedelta(hours=2), message="Old text")
    one = world.one_time(T0 - timedelta(minutes=5), message="One-time old text", agent=world.letta.agents[1])
    world.seed(rec, one)
    refusals: list[str] = []

    def edit_while_claimed(jobs: list[Job]) -> None:
        assert {j.schedule.id for j in jobs} == {rec.id, one.id}
        for schedule_id, kind in ((rec.id, "recurring"), (one.id, "one-time")):
            before = world.remote_log()
            with pytest.raises(BusyError) as caught:
                service.update_schedule(
                    world.clone("laptop"), LETTA_KEY, schedule_id, kind, {"message": "New text"}, now=T0
                )
            refusals.append(str(caught.value))
            assert world.remote_log() == before

    report = world.tick(T0, options=replace(tick_support.FAST, on_claimed=edit_while_claimed))

    assert sorted(r.status for r in report.results) == ["delivered", "delivered"]
    assert refusals[0] == (
        f"recurring schedule {rec.id} is being delivered by a tick right now — nothing was changed; try again "
        "when that tick is done (a claim left by a tick that died lapses 30 minutes after it was made)"
    )
    assert sorted(texts(world.letta.deliveries)) == ["Old text", "One-time old text"]
    # After the pass: the recurring schedule takes the change; the one-time message is gone (it was sent).
    laptop = world.clone("laptop")
    updated = service.update_schedule(laptop, LETTA_KEY, rec.id, "recurring", {"message": "New text"}, now=T0)
    assert updated.message == "New text" and updated.claimed_by is None
    with pytest.raises(NotFoundError):
        service.update_schedule(laptop, LETTA_KEY, one.id, "one-time", {"message": "New text"}, now=T0)
    world.tick(T0 + timedelta(hours=1))
    assert texts(world.letta.deliveries)[-1] == "New text"


def test_a_lapsed_claim_does_not_block_a_change_and_is_cleared(world: World) -> None:
    dead = world.one_time(T0 + timedelta(hours=1)).model_copy(
        update={"claimed_by": "pass-that-died", "claimed_at": T0 - timedelta(hours=1)}
    )
    world.seed(dead)
    with pytest.raises(BusyError):
        service.update_schedule(
            world.store, LETTA_KEY, dead.id, "one-time", {"message": "x"}, now=T0 - timedelta(minutes=50)
        )
    updated = service.update_schedule(world.store, LETTA_KEY, dead.id, "one-time", {"message": "Fresh"}, now=T0)
    assert (updated.claimed_by, updated.claimed_at) == (None, None)
    # The pass that died, were it only slow, finds its claim gone and leaves the changed schedule alone.
    assert world.remote_schedule(dead.id) == updated


# -- results keep the name --------------------------------------------------------------------


def test_results_keep_the_name_after_the_schedule_is_gone(world: World) -> None:
    one = world.one_time(T0 - timedelta(minutes=1)).model_copy(update={"name": "plants"})
    world.seed(one)
    world.tick(T0)
    assert world.remote_schedule(one.id) is None
    [result] = service.list_results(world.store, LETTA_KEY, schedule_id=one.id)
    assert result.name == "plants"
    assert result.public(with_name=True)["name"] == "plants"
    # What a tick reports (an Actions log, a webhook) carries ids only.
    assert "name" not in result.public()


def test_a_result_written_before_names_existed_still_reads() -> None:
    old = {
        "schedule_id": "3f2b9c1e-8d4a-4b6e-9f0a-1c2d3e4f5a6b",
        "schedule_type": "one-time",
        "status": "delivered",
        "agent_id": "agent-1",
        "scheduled_for": T0.isoformat(),
        "executed_at": T0.isoformat(),
    }
    assert Result.model_validate(old).name is None
    assert build(OneTimeSchedule, agent_id="a", message="m", execute_at=T0, created_at=T0).name is None


# -- resolving names and prefixes ----------------------------------------------------------------


def seed_named(world: World) -> tuple[RecurringSchedule, RecurringSchedule, RecurringSchedule]:
    made = [
        world.recurring("0 9 * * *", created=T0).model_copy(update={"name": name}) for name in ("standup", "Standup")
    ]
    plain = world.recurring("0 10 * * *", created=T0)
    world.seed(*made, plain)
    return made[0], made[1], plain


def test_a_name_or_a_prefix_resolves_to_the_id(world: World) -> None:
    lower, upper, plain = seed_named(world)
    store = world.store
    assert service.resolve_id(store, LETTA_KEY, "standup", "recurring") == lower.id
    assert service.resolve_id(store, LETTA_KEY, "Standup", "recurring") == upper.id
    assert service.resolve_id(store, LETTA_KEY, plain.id[:8], "recurring") == plain.id
    assert service.resolve_id(store, LETTA_KEY, plain.id[:13].upper(), "recurring") == plain.id
    # A whole id is taken as it is, even one that does not exist (the operation says it is not found).
    missing = "3f2b9c1e-8d4a-4b6e-9f0a-1c2d3e4f5a6b"
    assert service.resolve_id(store, LETTA_KEY, missing, "recurring") == missing
    # Another key's names are not looked at.
    with pytest.raises(NotFoundError):
        service.resolve_id(store, OTHER_KEY, "standup", "recurring")
    # A one-time lookup does not see recurring names.
    with pytest.raises(NotFoundError):
        service.resolve_id(store, LETTA_KEY, "standup", "one-time")


def test_an_ambiguous_name_lists_the_candidates(world: World) -> None:
    lower, upper, _ = seed_named(world)
    with pytest.raises(InvalidInputError) as caught:
        service.resolve_id(world.store, LETTA_KEY, "STANDUP", "recurring")
    first, second = sorted([lower, upper], key=lambda s: (s.created_at, s.id))
    assert str(caught.value) == (
        f'"STANDUP" matches 2 recurring schedules: {first.id} ("{first.name}"), {second.id} ("{second.name}") '
        "— give the whole id (or a longer prefix)"
    )


def test_a_short_prefix_is_not_an_id(world: World) -> None:
    _, _, plain = seed_named(world)
    with pytest.raises(NotFoundError) as caught:
        service.resolve_id(world.store, LETTA_KEY, plain.id[:7], "recurring")
    assert "an id prefix needs at least 8 characters" in str(caught.value)


def test_names_survive_key_rotation(world: World) -> None:
    from switchboard.crypto import codec_from_keys, generate_key

    lower, _, _ = seed_named(world)
    rotated = indexed_store(world.store.backend, codec_from_keys(f"{generate_key()},{world.key}"))
    assert service.rotate_keys(rotated) > 0
    assert service.resolve_id(rotated, LETTA_KEY, "standup", "recurring") == lower.id


# -- racing a tick -------------------------------------------------------------------------------


class MeetingBackend(GitBackend):
    """A real clone whose first commit of a kind waits for the other writer's, so both compute on one state."""

    def __init__(self, root: Path, barrier: threading.Barrier, first: str) -> None:
        super().__init__(root)
        self.barrier: threading.Barrier | None = barrier
        self.first = first

    def commit(self, changes: Changes, message: str) -> bool:
        if self.barrier is not None and message.startswith(self.first):
            barrier, self.barrier = self.barrier, None
            barrier.wait(timeout=20)
        return super().commit(changes, message)


@pytest.mark.parametrize("round_", range(4))
def test_an_update_racing_a_tick_is_either_sent_new_or_refused(world: World, round_: int) -> None:
    due = world.one_time(T0 - timedelta(minutes=1), message="Old text")
    world.seed(due)
    barrier = threading.Barrier(2)
    world.clone("ticker"), world.clone("laptop")
    ticker = indexed_store(MeetingBackend(world.path("ticker"), barrier, "switchboard: claim"), world.codec)
    laptop = indexed_store(MeetingBackend(world.path("laptop"), barrier, "switchboard: update"), world.codec)
    outcome: list[object] = []

    def update() -> None:
        try:
            outcome.append(service.update_schedule(laptop, LETTA_KEY, due.id, "one-time", {"message": "New"}, now=T0))
        except (BusyError, NotFoundError) as exc:  # held by the tick, or already sent and gone
            outcome.append(exc)

    editor = threading.Thread(target=update)
    editor.start()
    report = world.tick(T0, store=ticker)
    editor.join(timeout=60)

    [result] = report.results
    assert result.status == "delivered"
    [sent] = texts(world.letta.deliveries)
    [answer] = outcome
    if isinstance(answer, BusyError | NotFoundError):
        assert sent == "Old text"  # the tick claimed first; the user was told nothing changed
    else:
        assert sent == "New"  # the update landed first; the tick recomputed its claim on it
    assert world.remote_schedule(due.id) is None
    assert len(world.letta.deliveries) == 1


def test_import_keeps_names_and_checks_them(world: World) -> None:
    exported = [
        {"id": "3f2b9c1e-8d4a-4b6e-9f0a-1c2d3e4f5a6b", "agent_id": "agent-1", "message": "M", "cron": "0 9 * * *",
         "name": "daily"},
        {"agent_id": "agent-1", "message": "M", "execute_at": "2031-01-01T09:00:00Z"},
    ]  # fmt: skip
    done = service.import_schedules(world.store, exported, api_key=LETTA_KEY, base_url="http://letta", now=T0)
    assert (done.one_time, done.recurring) == (1, 1)
    assert service.resolve_id(world.store, LETTA_KEY, "daily", "recurring") == exported[0]["id"]
    assert service.list_one_time(world.store, LETTA_KEY)[0].name is None
    bad = [{"agent_id": "agent-1", "message": "M", "cron": "0 9 * * *", "name": "x" * 201}]
    with pytest.raises(InvalidInputError) as caught:
        service.import_schedules(world.store, bad, api_key=LETTA_KEY, base_url="http://letta", now=T0)
    assert str(caught.value) == "item 1: name is 201 characters, more than 200 — shorten it — nothing was imported"
