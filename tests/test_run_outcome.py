"""Runs followed to their end: run_status, stop_reason, failures after acceptance, pauses, timeouts, listings."""

from __future__ import annotations

from datetime import timedelta

import httpx
import tick_support
from tick_support import FAST, LETTA_KEY, T0, World, client_factory
from typer.testing import CliRunner

from switchboard import service
from switchboard.agent_tools import grants
from switchboard.cli import app
from switchboard.cli.runner import summary_markdown
from switchboard.crypto import codec_from_keys, generate_key
from switchboard.index import indexed_store
from switchboard.letta import LettaClient
from switchboard.models import RecurringSchedule
from switchboard.store import RUNS
from switchboard.tick import TickOptions, follow, pending_runs, run_now

# The fixtures `world`, `letta` and `git_template`.
world_fixture, letta_fixture, git_template_fixture = (
    tick_support.world_fixture,
    tick_support.letta_fixture,
    tick_support.git_template_fixture,
)

UNKNOWN_AGENT = "agent-00000000-0000-4000-8000-00000000dead"


def cli_env(world: World) -> dict[str, str | None]:
    """The environment of a `switchboard` command run on the world's clone with its key."""
    return {
        "SWITCHBOARD_ENCRYPTION_KEY": world.key,
        "SWITCHBOARD_REPO": str(world.path()),
        "LETTA_API_KEY": LETTA_KEY,
        "XDG_CONFIG_HOME": str(world.top / "config"),
        "HOME": str(world.top / "home"),
        "LETTA_BASE_URL": None,
        "SWITCHBOARD_DEV_MODE": None,
    }


def test_a_message_to_an_unknown_agent_that_letta_accepts_ends_as_a_failure(world: World) -> None:
    # As Letta 0.11.7 does: 200 with a run for an agent it does not have, and the run fails later.
    world.letta.unknown_agent_runs = True
    schedule = world.one_time(T0, agent=UNKNOWN_AGENT)
    world.seed(schedule)

    first = world.tick(T0)
    [sent] = first.results
    assert (sent.status, sent.run_status) == ("delivered", "created") and sent.run_id
    assert first.permanent_failures == 0
    assert len(world.remote_files(RUNS)) == 1  # noted for a later pass

    later = world.tick(T0 + timedelta(minutes=30))
    [line] = later.followed
    assert (line.status, line.run_status, line.run_id) == ("failed", "failed", sent.run_id)
    assert f"agent {UNKNOWN_AGENT} not found" in (line.error or "")
    assert line.executed_at == sent.executed_at and line.run_checked_at == T0 + timedelta(minutes=30)
    assert later.permanent_failures == 1 and later.as_json()["failed"] == 1
    assert world.remote_log()[0] == "switchboard: follow 1 runs to their end, 1 failed (2026-06-01T12:30Z)"
    # Append-only: both lines are kept; every listing shows the newest.
    assert [r.status for r in world.remote_result_lines().values()] == ["delivered", "failed"]
    assert [r.status for r in world.remote_results()] == ["failed"]
    assert world.remote_files(RUNS) == []
    # The job summary shows it as a failure, with the run's state.
    summary = summary_markdown(later)
    assert "failed **1**" in summary and f"| failed | `{sent.run_id}` | failed |" in summary


def test_a_recurring_schedule_whose_agent_is_gone_is_paused_with_the_reason(world: World) -> None:
    world.letta.unknown_agent_runs = True
    schedule = world.recurring("0 * * * *", created=T0 - timedelta(minutes=5), agent=UNKNOWN_AGENT)
    world.seed(schedule)
    world.tick(T0)
    report = world.tick(T0 + timedelta(minutes=30))
    assert [r.status for r in report.followed] == ["failed"]
    paused = world.remote_schedule(schedule.id)
    assert isinstance(paused, RecurringSchedule) and paused.status == "paused"
    assert paused.paused_reason is not None and "not found" in paused.paused_reason
    # Paused before the next fire: nothing more goes to the missing agent.
    world.tick(T0 + timedelta(hours=1, minutes=1))
    assert len(world.letta.deliveries) == 1


def test_a_schedule_sent_to_another_agent_since_is_not_paused_by_the_old_agent_s_run(world: World) -> None:
    world.letta.unknown_agent_runs = True
    schedule = world.recurring("0 * * * *", created=T0 - timedelta(minutes=5), agent=UNKNOWN_AGENT)
    world.seed(schedule)
    world.tick(T0)
    # The user points the schedule at the right agent before a pass sees the old run fail.
    fixed = world.letta.agents[0]
    service.update_schedule(world.store, LETTA_KEY, schedule.id, "recurring", {"agent_id": fixed}, now=T0)
    [line] = world.tick(T0 + timedelta(minutes=30)).followed
    assert (line.status, line.agent_id) == ("failed", UNKNOWN_AGENT)  # the old run's end is recorded all the same
    current = world.remote_schedule(schedule.id)
    assert isinstance(current, RecurringSchedule) and (current.status, current.agent_id) == ("active", fixed)


def test_a_manual_run_whose_agent_is_gone_leaves_the_schedule_s_status_alone(world: World) -> None:
    # As a manual run that fails at send time does: the schedule's own fires decide its status.
    world.letta.unknown_agent_runs = True
    schedule = world.recurring("0 9 * * *", created=T0 - timedelta(minutes=5), agent=UNKNOWN_AGENT)
    world.seed(schedule)
    sent = run_now(world.store, LETTA_KEY, schedule.id, T0, client_factory, FAST).result
    assert sent is not None and sent.manual
    [line] = world.tick(T0 + timedelta(minutes=1)).followed
    assert (line.status, line.manual) == ("failed", True)
    current = world.remote_schedule(schedule.id)
    assert isinstance(current, RecurringSchedule) and current.status == "active"


def test_a_run_that_fails_while_its_agent_exists_is_a_failure_but_keeps_the_schedule_going(world: World) -> None:
    agent = world.letta.agents[0]
    world.letta.set_run_outcome(agent, "failed", "llm_api_error")
    schedule = world.recurring("0 * * * *", created=T0 - timedelta(minutes=5), agent=agent)
    world.seed(schedule)
    world.tick(T0)
    [line] = world.tick(T0 + timedelta(minutes=1)).followed
    assert (line.status, line.run_status, line.stop_reason) == ("failed", "failed", "llm_api_error")
    assert line.error == f"Letta run {line.run_id} ended failed (stop reason: llm_api_error)"
    current = world.remote_schedule(schedule.id)
    assert isinstance(current, RecurringSchedule) and current.status == "active"
    world.letta.set_run_outcome(agent, "completed", "end_turn")
    world.tick(T0 + timedelta(hours=1))
    assert len(world.letta.deliveries) == 2


def test_a_cancelled_run_counts_as_a_failure(world: World) -> None:
    world.letta.set_run_outcome(None, "cancelled", "cancelled")
    world.seed(world.one_time(T0))
    world.tick(T0)
    [line] = world.tick(T0).followed
    assert (line.status, line.run_status, line.stop_reason) == ("failed", "cancelled", "cancelled")


def test_a_completed_run_keeps_its_run_id_and_says_how_it_ended(world: World) -> None:
    world.seed(world.one_time(T0))
    [sent] = world.tick(T0).results
    report = world.tick(T0)
    [line] = report.followed
    assert (line.status, line.run_status, line.stop_reason, line.run_id) == (
        "delivered",
        "completed",
        "end_turn",
        sent.run_id,
    )
    assert report.permanent_failures == 0 and line.error is None


def test_the_wait_for_the_same_agent_puts_the_run_s_end_into_its_result(world: World) -> None:
    agent = world.letta.agents[0]
    world.letta.set_run_outcome(agent, "failed", "error")
    first, second = world.one_time(T0 - timedelta(minutes=2), agent=agent), world.one_time(T0, agent=agent)
    world.seed(first, second)
    report = world.tick(T0)
    by_id = {r.schedule_id: r for r in report.results}
    # The pass waited for the first run before sending the second: it saw it fail.
    assert (by_id[first.id].status, by_id[first.id].run_status) == ("failed", "failed")
    assert by_id[first.id].run_checked_at == T0
    assert (by_id[second.id].status, by_id[second.id].run_status) == ("delivered", "created")
    assert report.permanent_failures == 1 and report.count("failed") == 1
    # Only the second one is left to follow.
    [note] = world.remote_files(RUNS)
    assert second.id in note


def test_a_run_unfinished_past_the_run_timeout_is_marked_unknown(world: World) -> None:
    world.letta.run_duration = 3600.0  # stays "running" for the whole test
    world.seed(world.one_time(T0))
    world.tick(T0)
    assert world.tick(T0 + timedelta(hours=23)).followed == []  # still running: no commit, still noted
    assert len(world.remote_files(RUNS)) == 1
    [line] = world.tick(T0 + timedelta(hours=24)).followed
    assert (line.status, line.run_status) == ("delivered", "unknown")
    assert "still running after 24 hours" in (line.error or "")
    assert world.remote_files(RUNS) == []
    # A shorter limit, as SWITCHBOARD_RUN_TIMEOUT sets it.
    world.seed(world.one_time(T0 + timedelta(days=2)))
    world.tick(T0 + timedelta(days=2))
    options = TickOptions(**{**FAST.__dict__, "run_timeout": timedelta(minutes=10)})
    [short] = world.tick(T0 + timedelta(days=2, minutes=10), options=options).followed
    assert short.run_status == "unknown"


def test_each_pass_follows_at_most_the_limit_oldest_first(world: World) -> None:
    agents = world.letta.agents
    schedules = [world.one_time(T0 - timedelta(hours=3 - i), agent=agents[i]) for i in range(3)]
    # Each delivered by its own pass (at its own time) that follows nothing.
    none = TickOptions(**{**FAST.__dict__, "follow_limit": 0})
    for schedule in schedules:
        world.seed(schedule)
        world.tick(schedule.execute_at, options=none)
    assert len(pending_runs(world.store)) == 3
    gets_before = sum(1 for r in world.letta.requests if r.path.startswith("/v1/runs/"))
    limited = TickOptions(**{**FAST.__dict__, "follow_limit": 2})
    report = world.tick(T0, options=limited)
    assert [r.schedule_id for r in report.followed] == [s.id for s in schedules[:2]]
    assert sum(1 for r in world.letta.requests if r.path.startswith("/v1/runs/")) - gets_before == 2
    assert [r.schedule_id for r in world.tick(T0, options=limited).followed] == [schedules[2].id]


def test_with_nothing_unfinished_following_asks_nothing_and_commits_nothing(world: World) -> None:
    world.seed(world.one_time(T0))
    world.tick(T0)
    world.tick(T0)
    log, requests = world.remote_log(), len(world.letta.requests)
    assert follow(world.store, T0, client_factory, FAST) == []
    assert world.remote_log() == log and len(world.letta.requests) == requests


def test_two_clones_following_the_same_run_write_one_line(world: World) -> None:
    world.seed(world.one_time(T0))
    world.tick(T0)
    other = world.clone("other")
    other.backend.refresh()
    assert len(follow(world.store, T0, client_factory, FAST)) == 1
    # The other clone saw the note before the first committed; its commit is recomputed and finds it gone.
    assert follow(other, T0, client_factory, FAST) == []
    assert len(world.remote_result_lines()) == 2


def test_results_list_refresh_follows_the_caller_s_runs_and_shows_their_end(world: World) -> None:
    world.letta.unknown_agent_runs = True
    failing = world.one_time(T0, agent=UNKNOWN_AGENT)
    fine = world.one_time(T0)
    world.seed(failing, fine)
    world.tick(T0)
    env = cli_env(world)
    runner = CliRunner()
    plain = runner.invoke(app, ["results", "list", "--json"], env=env)
    assert plain.exit_code == 0, plain.output
    assert {r["run_status"] for r in tick_support.as_json(plain.stdout)} == {"created"}
    refreshed = runner.invoke(app, ["results", "list", "--refresh", "--json", "--now", T0.isoformat()], env=env)
    assert refreshed.exit_code == 0, refreshed.output
    shown = {r["schedule_id"]: r for r in tick_support.as_json(refreshed.stdout)}
    assert (shown[failing.id]["status"], shown[failing.id]["run_status"]) == ("failed", "failed")
    assert (shown[fine.id]["status"], shown[fine.id]["run_status"]) == ("delivered", "completed")
    assert world.remote_log()[0].startswith("switchboard: follow 2 runs to their end, 1 failed")
    table = runner.invoke(app, ["results", "list"], env=env, terminal_width=200)
    assert "completed" in table.stdout and "failed" in table.stdout


def test_letta_down_while_following_keeps_the_note_and_commits_nothing(world: World) -> None:
    world.seed(world.one_time(T0))
    world.tick(T0)
    log = world.remote_log()
    world.letta.down()
    try:
        report = world.tick(T0 + timedelta(minutes=1))
    finally:
        world.letta.up()
    assert report.followed == [] and world.remote_log() == log and len(world.remote_files(RUNS)) == 1
    [line] = world.tick(T0 + timedelta(minutes=2)).followed
    assert line.run_status == "completed"


def test_keys_rotate_re_encrypts_run_notes_and_grants(world: World) -> None:
    world.seed(world.one_time(T0))
    world.tick(T0)
    grant, token = grants.create_grant(
        world.store, api_key=LETTA_KEY, base_url=world.letta.base_url, agent_id=world.letta.agents[0], now=T0
    )
    [note] = world.remote_files(RUNS)
    [grant_file] = grants.grant_files(world.store)
    new = generate_key()
    assert service.rotate_keys(indexed_store(world.store.backend, codec_from_keys(f"{new},{world.key}"))) >= 3
    only_new = indexed_store(world.store.backend, codec_from_keys(new))
    for path in (note, grant_file):  # the new key alone opens them
        codec_from_keys(new).decrypt(only_new.backend.read(path) or b"", path=path)
    assert grants.check_token(only_new, token).id == grant.id
    [line] = follow(only_new, T0 + timedelta(minutes=1), client_factory, FAST)
    assert line.run_status == "completed" and world.remote_files(RUNS) == []


class CountingTransport(httpx.HTTPTransport):
    """A real transport that counts the requests it is asked to make."""

    def __init__(self) -> None:
        super().__init__()
        self.requests = 0

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        self.requests += 1
        return super().handle_request(request)


def test_a_letta_server_that_cannot_be_reached_is_tried_once_per_pass_not_once_per_run(world: World) -> None:
    # Each try can wait for the connect timeout: a dead server must not hold up what is due elsewhere.
    none = TickOptions(**{**FAST.__dict__, "follow_limit": 0})
    for i in range(3):
        world.seed(world.one_time(T0 - timedelta(minutes=3 - i)))
        world.tick(T0 - timedelta(minutes=3 - i), options=none)
    assert len(pending_runs(world.store)) == 3
    transport = CountingTransport()

    def counted(base_url: str, api_key: str | None) -> LettaClient:
        return LettaClient(base_url, api_key, transport=transport, timeout=5.0)

    world.letta.down()
    try:
        one_at_a_time = TickOptions(**{**FAST.__dict__, "parallel": 1})
        assert follow(world.store, T0, counted, one_at_a_time) == []
    finally:
        world.letta.up()
    assert transport.requests == 1 and len(pending_runs(world.store)) == 3  # the others wait for the next pass
    assert len(follow(world.store, T0, counted, one_at_a_time)) == 3


def test_a_note_no_key_opens_is_dropped_instead_of_filling_every_pass_s_limit(world: World) -> None:
    world.seed(world.one_time(T0))
    world.tick(T0)
    [note] = world.remote_files(RUNS)
    tenant = note.split("/")[2]
    # Older than the real note (so first in line), and sealed with a key this tree does not know.
    stray = f"{RUNS}/{tenant}/00000000T000000Z-stray.json.enc"
    foreign = codec_from_keys(generate_key()).encrypt(b'{"format": 1, "record": {}}')
    world.store.transact("test: a stray note", lambda tx: tx.put(stray, foreign))
    one = TickOptions(**{**FAST.__dict__, "follow_limit": 1})
    assert follow(world.store, T0, client_factory, one) == []  # its slot went to the stray note, now dropped
    dropped = "switchboard: follow 0 runs to their end, 0 failed, 1 unreadable notes dropped (2026-06-01T12:00Z)"
    assert world.remote_log()[0] == dropped
    assert world.remote_files(RUNS) == [note]
    [line] = follow(world.store, T0, client_factory, one)
    assert line.run_status == "completed" and world.remote_files(RUNS) == []


def test_results_list_refresh_marks_unknown_after_the_configured_run_timeout(world: World) -> None:
    world.letta.run_duration = 3600.0  # stays "running"
    world.seed(world.one_time(T0))
    world.tick(T0)
    env = {**cli_env(world), "SWITCHBOARD_RUN_TIMEOUT": "10m"}
    later = (T0 + timedelta(minutes=10)).isoformat()
    refreshed = CliRunner().invoke(app, ["results", "list", "--refresh", "--json", "--now", later], env=env)
    assert refreshed.exit_code == 0, refreshed.output
    [shown] = tick_support.as_json(refreshed.stdout)
    assert shown["run_status"] == "unknown" and "still running after 10 minutes" in shown["error"]
