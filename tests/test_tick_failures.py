"""When Letta or the repository fails: retries, put-backs, failed results, pauses, and no loss."""

from __future__ import annotations

import uuid
from datetime import timedelta

import httpx
import pytest
import tick_support
from tick_support import (
    FAST,
    LETTA_KEY,
    T0,
    Sleeps,
    World,
    client_factory,
    in_memory_jobs,
    texts,
)

from switchboard import service
from switchboard.letta import LettaClient
from switchboard.testing.letta import DROP
from switchboard.tick import UNRECORDED_DIR, Job, TickError, TickOptions, deliver, run_pass

# The fixtures `world`, `letta` and `git_template`.
world_fixture, letta_fixture, git_template_fixture = (
    tick_support.world_fixture,
    tick_support.letta_fixture,
    tick_support.git_template_fixture,
)

UNKNOWN_AGENT = f"agent-{uuid.UUID(int=0x1234, version=4)}"


# -- deliver() alone: what counts as transient, what as permanent -------------------------


@pytest.mark.parametrize(
    "first_answer",
    [
        (429, {"detail": "Rate limited"}, {"Retry-After": "1"}),
        (502, {"detail": "Bad Gateway"}),
        (503, {"detail": "Service Unavailable"}, {"Retry-After": "0"}),
        (504, {"detail": "Gateway Timeout"}),
        DROP,
    ],
    ids=["429", "502", "503", "504", "connection-closed"],
)
def test_a_transient_failure_then_success_is_one_delivery(world: World, first_answer: object) -> None:
    agent = world.letta.agents[0]
    world.letta.script(agent, first_answer)  # type: ignore[arg-type]
    sleeps = Sleeps()

    outcomes = deliver(in_memory_jobs(world.one_time(T0, message="hello")), client_factory, FAST, sleeps)

    assert [o.status for o in outcomes] == ["delivered"]
    assert texts(world.letta.deliveries) == ["hello"]
    assert [r.status for r in world.letta.requests if r.method == "POST"] == [
        0 if first_answer == DROP else first_answer[0],  # type: ignore[index]
        200,
    ]
    assert len(sleeps.calls) == 1
    if first_answer != DROP and len(first_answer) == 3:  # type: ignore[arg-type]
        assert sleeps.calls == [float(first_answer[2]["Retry-After"])]  # type: ignore[index]
    else:
        assert 0 <= sleeps.calls[0] <= FAST.base_delay  # jittered backoff


def test_429_and_503_in_a_row_then_success_is_one_delivery(world: World) -> None:
    agent = world.letta.agents[0]
    world.letta.rate_limit(agent, retry_after=1)
    world.letta.fail(agent, 503)
    sleeps = Sleeps()

    outcomes = deliver(in_memory_jobs(world.one_time(T0, message="once")), client_factory, FAST, sleeps)

    assert [o.status for o in outcomes] == ["delivered"] and outcomes[0].run is not None
    assert texts(world.letta.deliveries) == ["once"]
    assert [r.status for r in world.letta.requests if r.method == "POST"] == [429, 503, 200]
    assert sleeps.calls[0] == 1.0  # Retry-After honoured
    assert 0 <= sleeps.calls[1] <= 2 * FAST.base_delay  # then exponential backoff with jitter


def test_transient_failures_past_the_attempts_are_put_back_and_the_agent_waits(world: World) -> None:
    a, b, _ = world.letta.agents
    world.letta.fail(a, 503, times=10)
    jobs = in_memory_jobs(
        world.one_time(T0, agent=a, message="a1"),
        world.one_time(T0, agent=a, message="a2"),
        world.one_time(T0, agent=b, message="b1"),
    )
    sleeps = Sleeps()
    options = TickOptions(send_attempts=4, base_delay=0.1, max_delay=0.3)

    outcomes = deliver(jobs, client_factory, options, sleeps)

    assert [(o.status, o.http_status) for o in outcomes] == [("requeued", 503), ("deferred", None), ("delivered", None)]
    assert "503" in (outcomes[0].error or "")
    assert [r.status for r in world.letta.requests if r.method == "POST"].count(503) == 4
    # Three waits between four attempts, each at most min(max_delay, base * 2**n).
    assert len(sleeps.calls) == 3
    assert all(0 <= s <= cap for s, cap in zip(sleeps.calls, (0.1, 0.2, 0.3), strict=True))
    # A Retry-After longer than the pass may wait is not waited for: put back at once.
    world.letta.rate_limit(b, retry_after=3600)
    late = deliver(in_memory_jobs(world.one_time(T0, agent=b, message="b2")), client_factory, options, sleeps)
    assert [(o.status, o.http_status) for o in late] == [("requeued", 429)]
    assert len(sleeps.calls) == 3


@pytest.mark.parametrize("status", [400, 401, 403, 404, 422])
def test_permanent_failures_are_failed_at_once_with_letta_detail(world: World, status: int) -> None:
    a = world.letta.agents[0]
    if status == 401:
        first = world.one_time(T0, agent=a, message="wrong key", api_key="sk-let-not-a-key-at-all")
    else:
        world.letta.script(a, (status, {"detail": f"the reason Letta gives for {status}"}))
        first = world.one_time(T0, agent=a, message="refused")
    jobs = in_memory_jobs(first, world.one_time(T0, agent=a, message="next"))
    sleeps = Sleeps()

    outcomes = deliver(jobs, client_factory, FAST, sleeps)

    assert [(o.status, o.http_status) for o in outcomes] == [("failed", status), ("delivered", None)]
    error = outcomes[0].error or ""
    assert str(status) in error
    if status != 401:
        assert f"the reason Letta gives for {status}" in error
    assert "sk-let" not in error and "refused" not in error.replace("refused access", "").replace("refused the", "")
    assert sleeps.calls == []  # not retried
    assert texts(world.letta.deliveries) == ["next"]


def test_no_answer_in_time_and_no_server_are_transient(world: World) -> None:
    world.letta.latency = 1.0

    def impatient(base_url: str, api_key: str | None) -> LettaClient:
        return LettaClient(base_url, api_key, transport=httpx.HTTPTransport(), timeout=0.2)

    options = TickOptions(send_attempts=2, base_delay=0.01)
    slow = deliver(in_memory_jobs(world.one_time(T0)), impatient, options, Sleeps())
    assert slow[0].status == "requeued" and "did not answer in time" in (slow[0].error or "")

    world.letta.latency = 0.0
    world.letta.down()
    refused = deliver(in_memory_jobs(world.one_time(T0)), client_factory, options, Sleeps())
    assert refused[0].status == "requeued" and "could not connect" in (refused[0].error or "")


def test_a_schedule_that_cannot_be_sent_fails_and_a_bug_puts_back(world: World) -> None:
    a, b, c = world.letta.agents
    bad_url = world.one_time(T0, agent=a, message="bad url", base_url="ftp://letta.invalid")
    bad_key = world.one_time(T0, agent=b, message="bad key", api_key="sk-let-\u00e9")
    buggy = world.one_time(T0, agent=c, message="bug", api_key="sk-let-trips-a-bug")
    after_bug = world.one_time(T0, agent=c, message="after the bug", api_key="sk-let-trips-a-bug")

    def factory(base_url: str, api_key: str | None) -> LettaClient:
        if api_key == "sk-let-trips-a-bug":
            raise RuntimeError("a bug that quotes sk-let-trips-a-bug")
        return client_factory(base_url, api_key)

    outcomes = deliver(in_memory_jobs(bad_url, bad_key, buggy, after_bug), factory, FAST, Sleeps())

    assert [o.status for o in outcomes] == ["failed", "failed", "requeued", "deferred"]
    assert "LETTA_BASE_URL" in (outcomes[0].error or "")
    assert "LETTA_API_KEY" in (outcomes[1].error or "") and "\u00e9" not in (outcomes[1].error or "")
    assert outcomes[2].error == "unexpected RuntimeError while sending — will retry"
    assert world.letta.deliveries == []


# -- whole passes on a real remote --------------------------------------------------------


def test_404_fails_the_one_time_and_pauses_the_recurring_until_resumed(world: World) -> None:
    daily = world.recurring("0 9 * * *", created=T0 - timedelta(days=1), agent=UNKNOWN_AGENT, message="daily")
    once = world.one_time(T0 - timedelta(hours=1), agent=UNKNOWN_AGENT, message="once")
    fine = world.one_time(T0 - timedelta(hours=1), message="fine")
    world.seed(daily, once, fine)

    report = world.tick(T0)

    assert report.permanent_failures == 2 and report.count("delivered") == 1
    results = {r.schedule_id: r for r in world.remote_results()}
    for schedule in (daily, once):
        result = results[schedule.id]
        assert (result.status, result.http_status) == ("failed", 404)
        # The client's own sentence naming the agent, and Letta's detail.
        assert result.error and UNKNOWN_AGENT in result.error and "(Letta said: Agent not found)" in result.error
    assert results[daily.id].scheduled_for == T0 - timedelta(hours=3)  # 09:00 UTC
    paused = world.remote_schedule(daily.id)
    assert paused is not None and paused.status == "paused"  # type: ignore[union-attr]
    assert "404" in (paused.paused_reason or "") and paused.claimed_by is None  # type: ignore[union-attr]
    assert world.remote_schedule(once.id) is None  # failed for good: removed, with its result
    assert texts(world.letta.deliveries) == ["fine"]

    # Paused: it never fires, however late it gets.
    assert world.tick(T0 + timedelta(days=2)).planned == []

    # `recurring resume` restarts it from now; the next fire goes out.
    world.letta.add_agent(UNKNOWN_AGENT)
    service.set_paused(world.store, LETTA_KEY, daily.id, paused=False, now=T0 + timedelta(days=2))
    resumed = world.tick(T0 + timedelta(days=3, hours=-2))  # 2026-06-04 10:00, after 09:00
    assert [r.status for r in resumed.results] == ["delivered"]
    assert resumed.results[0].scheduled_for == T0 + timedelta(days=3, hours=-3) and resumed.results[0].skipped == 0
    assert texts(world.letta.deliveries) == ["fine", "daily"]


def test_a_letta_outage_across_passes_loses_nothing(world: World) -> None:
    once = world.one_time(T0, message="must arrive once")
    every_6h = world.recurring(
        "0 */6 * * *", created=T0 - timedelta(minutes=1), agent=world.letta.agents[1], message="every six hours"
    )
    world.seed(once, every_6h)
    world.letta.down()

    # Letta is gone for 26 hours of passes.
    passes = [T0 + timedelta(hours=h, minutes=5) for h in (0, 7, 14, 21, 25)]
    for index, now in enumerate(passes, start=1):
        report = world.tick(now)
        assert {o.status for o in report.outcomes} == {"requeued"}
        kept = world.remote_schedule(once.id)
        assert kept is not None and kept.attempts == index and kept.claimed_by is None  # type: ignore[union-attr]
        assert kept.failing_since == passes[0]  # type: ignore[union-attr]
        rec = world.remote_schedule(every_6h.id)
        assert rec is not None and rec.status == "active" and rec.last_run is None  # type: ignore[union-attr]
        assert rec.attempts == index  # type: ignore[union-attr]
    assert report.as_json()["requeued"] == 2 and report.permanent_failures == 0

    world.letta.up()
    back = world.tick(T0 + timedelta(hours=26))

    assert sorted(texts(world.letta.deliveries)) == ["every six hours", "must arrive once"]
    by_id = {r.schedule_id: r for r in back.results}
    assert by_id[once.id].status == "delivered" and by_id[once.id].attempt == 6
    assert by_id[once.id].lateness_s == 26 * 3600
    # The recurring schedule coalesced the fires it missed: 12:00, 18:00, 00:00, 06:00, 12:00 → one.
    assert by_id[every_6h.id].scheduled_for == T0 + timedelta(hours=24) and by_id[every_6h.id].skipped == 4
    assert world.remote_schedule(once.id) is None
    history = world.remote_results(once.id)
    assert [r.status for r in history] == ["requeued"] * 5 + ["delivered"]
    assert [r.attempt for r in history] == [1, 2, 3, 4, 5, 6]
    # The recurring schedule counts its transient failures too, and starts again after a delivery.
    assert [r.attempt for r in world.remote_results(every_6h.id)] == [1, 2, 3, 4, 5, 6]
    assert world.remote_schedule(every_6h.id).attempts == 0  # type: ignore[union-attr]
    # Nothing more: a later pass sends nothing again.
    assert world.tick(T0 + timedelta(hours=27)).planned == []
    assert len(world.letta.deliveries) == 2


def test_past_the_give_up_limit_a_one_time_message_fails(world: World) -> None:
    once = world.one_time(T0, message="given up")
    world.seed(once)
    world.letta.down()
    options = TickOptions(base_delay=0.01, send_attempts=2, give_up_after=timedelta(hours=24))

    first = world.tick(T0 + timedelta(hours=1), options=options)
    second = world.tick(T0 + timedelta(hours=24, minutes=59), options=options)
    assert [r.status for r in [*first.results, *second.results]] == ["requeued", "requeued"]

    last = world.tick(T0 + timedelta(hours=25, minutes=1), options=options)

    assert [r.status for r in last.results] == ["failed"] and last.permanent_failures == 1
    assert last.results[0].attempt == 3
    assert (last.results[0].error or "").startswith("gave up after 24 hours of transient failures: could not connect")
    assert world.remote_schedule(once.id) is None
    world.letta.up()
    assert world.tick(T0 + timedelta(hours=26), options=options).planned == []
    assert world.letta.deliveries == []


def test_a_failed_push_at_record_time_names_the_runs_and_a_later_tick_records_them(world: World) -> None:
    once = world.one_time(T0 - timedelta(minutes=5), message="sent once")
    hourly = world.recurring("0 * * * *", created=T0 - timedelta(minutes=30), message="hourly")
    world.seed(once, hourly)
    # Between claim and record, the remote starts refusing pushes (a pre-receive hook).
    options = TickOptions(base_delay=0.01, record_attempts=2, on_claimed=lambda jobs: world.reject_pushes())
    log_before_record: list[str] = []

    with pytest.raises(TickError) as caught:
        world.tick(T0, options=options)
    log_before_record = world.remote_log()

    sent = {d.text: d.run_id for d in world.letta.deliveries}
    assert set(sent) == {"sent once", "hourly"}
    message = str(caught.value)
    assert "could not record" in message
    assert f"{once.id} (run {sent['sent once']})" in message and f"{hourly.id} (run {sent['hourly']})" in message
    assert LETTA_KEY not in message and "sent once" not in message.replace("sent: ", "")
    assert log_before_record[0].startswith("switchboard: claim")  # the claim went through, the record did not
    kept = list((world.path() / ".git" / UNRECORDED_DIR).iterdir())
    assert len(kept) == 1 and b"sent once" not in kept[0].read_bytes()  # kept encrypted

    # Another clone within the claims' lifetime sends nothing twice.
    assert world.tick(T0 + timedelta(minutes=2), store=world.clone("other")).planned == []

    # The remote is fixed: the next tick from this clone records first, then finds nothing due.
    world.accept_pushes()
    later = world.tick(T0 + timedelta(minutes=10))

    assert sorted(r.run_id or "" for r in later.recovered) == sorted(sent.values())
    assert later.planned == [] and len(world.letta.deliveries) == 2
    assert world.remote_schedule(once.id) is None
    rec = world.remote_schedule(hourly.id)
    assert rec is not None and rec.last_run == T0 and rec.claimed_by is None
    assert {r.executed_at for r in world.remote_results()} == {T0}
    assert not list((world.path() / ".git" / UNRECORDED_DIR).iterdir())


def test_an_error_while_delivering_releases_the_claims(world: World) -> None:
    first = world.one_time(T0 - timedelta(minutes=3), message="first")
    world.seed(first)

    def explode(jobs: list[Job]) -> None:
        raise RuntimeError("something broke before sending")

    with pytest.raises(RuntimeError):
        world.tick(T0, options=TickOptions(on_claimed=explode))

    kept = world.remote_schedule(first.id)
    assert kept is not None and kept.claimed_by is None  # released, not left for claim_ttl
    assert world.remote_results() == [] and world.letta.deliveries == []
    assert world.tick(T0 + timedelta(minutes=1)).count("delivered") == 1


def test_an_interrupt_mid_pass_records_what_went_out_and_releases_the_rest(world: World) -> None:
    a, b, c = world.letta.agents
    sent = world.one_time(T0 - timedelta(minutes=3), agent=a, message="sent")
    interrupted = world.one_time(T0 - timedelta(minutes=2), agent=b, message="never sent", api_key="sk-let-ctrl-c")
    not_started = world.one_time(T0 - timedelta(minutes=1), agent=c, message="not started")
    world.seed(sent, interrupted, not_started)

    def factory(base_url: str, api_key: str | None) -> LettaClient:
        if api_key == "sk-let-ctrl-c":
            raise KeyboardInterrupt
        return client_factory(base_url, api_key)

    with pytest.raises(KeyboardInterrupt):
        run_pass(world.store, T0, factory, TickOptions(parallel=1, base_delay=0.01), sleep=Sleeps())

    assert texts(world.letta.deliveries) == ["sent"]
    assert [r.schedule_id for r in world.remote_results()] == [sent.id]
    left = world.remote_schedules()
    assert set(left) == {interrupted.id, not_started.id}
    assert all(s.claimed_by is None for s in left.values())


def test_schedules_deleted_or_paused_while_a_pass_holds_them(world: World) -> None:
    a, b, c = world.letta.agents
    deleted_once = world.one_time(T0 - timedelta(minutes=5), agent=a, message="deleted one-time")
    deleted_rec = world.recurring("0 11 * * *", created=T0 - timedelta(days=1), agent=b, message="deleted recurring")
    paused_rec = world.recurring("30 11 * * *", created=T0 - timedelta(days=1), agent=c, message="paused recurring")
    deleted_failing = world.one_time(
        T0 - timedelta(minutes=4), message="deleted and failing", agent=world.letta.add_agent()
    )
    world.seed(deleted_once, deleted_rec, paused_rec, deleted_failing)
    world.letta.fail(deleted_failing.agent_id, 503, times=10)
    elsewhere = world.clone("laptop")

    def meanwhile(jobs: list[Job]) -> None:
        # Someone runs `switchboard … delete` and `recurring pause` from another clone mid-pass.
        for schedule in (deleted_once, deleted_rec, deleted_failing):
            service.delete_schedule(elsewhere, LETTA_KEY, schedule.id)
        service.set_paused(elsewhere, LETTA_KEY, paused_rec.id, paused=True, now=T0)

    report = world.tick(T0, options=TickOptions(base_delay=0.01, send_attempts=2, on_claimed=meanwhile))

    # What was already claimed went out, and its results are kept…
    assert report.count("delivered") == 3
    assert {r.schedule_id: r.status for r in world.remote_results()} == {
        deleted_once.id: "delivered",
        deleted_rec.id: "delivered",
        paused_rec.id: "delivered",
    }
    # … but nothing deleted comes back, not even the one to put back, and the pause holds.
    left = world.remote_schedules()
    assert set(left) == {paused_rec.id}
    assert left[paused_rec.id].status == "paused" and left[paused_rec.id].claimed_by is None  # type: ignore[union-attr]
    assert left[paused_rec.id].last_run == T0 - timedelta(minutes=30)  # type: ignore[union-attr]
