"""`switchboard tick` as people and the workflow run it: output, exit status, summary, masks, modes."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from datetime import datetime, timedelta
from pathlib import Path

import pytest
import tick_support
from tick_support import LETTA_KEY, T0, World, client_factory, texts
from typer.testing import CliRunner

from switchboard.cli import app
from switchboard.cli.runner import Masker, run_tick_command, summary_markdown, tick_options
from switchboard.config import Settings
from switchboard.exceptions import InvalidInputError
from switchboard.tick import TickOptions, TickReport
from switchboard.timeparse import parse_duration

# The fixtures `world`, `letta` and `git_template`.
world_fixture, letta_fixture, git_template_fixture = (
    tick_support.world_fixture,
    tick_support.letta_fixture,
    tick_support.git_template_fixture,
)

ROOT = Path(__file__).resolve().parents[1]
UNKNOWN_AGENT = "agent-00000000-0000-4000-8000-00000000dead"
SECRET_TEXT = "the launch code is 7 2 9"
HEAVY = ("dateparser", "fastapi", "github")
#: Variables of the calling environment a tick must not see in these tests.
CLEARED = (
    "GITHUB_ACTIONS",
    "GITHUB_STEP_SUMMARY",
    "GITHUB_TOKEN",
    "SWITCHBOARD_DEV_MODE",
    "SWITCHBOARD_GITHUB_REPO",
    "SWITCHBOARD_WEBHOOK_URL",
    "SWITCHBOARD_RESULT_RETENTION",
    "LETTA_BASE_URL",
)


def cli_env(world: World, **extra: str) -> dict[str, str | None]:
    """Environment for a tick on the world's first clone."""
    world.store  # noqa: B018 - makes the clone
    env: dict[str, str | None] = dict.fromkeys(CLEARED)
    env.update(
        {
            "SWITCHBOARD_ENCRYPTION_KEY": world.key,
            "SWITCHBOARD_REPO": str(world.path()),
            "LETTA_API_KEY": LETTA_KEY,
            "XDG_CONFIG_HOME": str(world.top / "config"),
            "HOME": str(world.top / "home"),
        }
    )
    env.update(extra)
    return env


def cli(world: World, *args: str, **extra: str) -> tuple[int, str, str]:
    """Run the real CLI in this process; (exit code, stdout, stderr)."""
    result = CliRunner().invoke(app, ["tick", *args], env=cli_env(world, **extra))
    return result.exit_code, result.stdout, result.stderr


def test_the_real_command_delivers_reports_summarises_masks_and_stays_light(world: World) -> None:
    ok = world.one_time(T0 - timedelta(hours=2), message=SECRET_TEXT)
    missing = world.one_time(T0 - timedelta(hours=1), agent=UNKNOWN_AGENT, message=SECRET_TEXT + " again")
    world.seed(ok, missing)
    summary = world.top / "summary.md"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SWITCHBOARD_", "LETTA_", "GITHUB_"))}
    env.update({k: v for k, v in cli_env(world).items() if v is not None})
    env.update({"GITHUB_ACTIONS": "true", "GITHUB_STEP_SUMMARY": str(summary)})

    proc = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "switchboard", "tick", "--json", "--now", T0.isoformat()],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )

    # Exit 1: a delivery failed for good in this pass.
    assert proc.returncode == 1, proc.stderr[-2000:]
    report = json.loads(proc.stdout)
    assert (report["delivered"], report["failed"], report["deferred"]) == (1, 1, 0)
    by_id = {r["schedule_id"]: r for r in report["results"]}
    assert by_id[ok.id]["status"] == "delivered" and by_id[ok.id]["run_id"] == world.letta.deliveries[0].run_id
    assert by_id[missing.id]["status"] == "failed" and by_id[missing.id]["http_status"] == 404
    assert "message" not in by_id[ok.id]
    # The tick path never imports natural-language parsing, the web framework or PyGithub.
    imported = {line.split("|")[-1].strip() for line in proc.stderr.splitlines() if line.startswith("import time:")}
    assert "switchboard.tick" in imported and "httpx" in imported
    assert not {m for m in imported if m.split(".")[0] in HEAVY}
    # Every secret it loads is masked before anything else is printed.
    masks = re.findall(r"^::add-mask::(.*)$", proc.stderr, re.MULTILINE)
    assert LETTA_KEY in masks and world.key in masks
    # The job summary: ids, agent, status, run id, lateness — never text or keys.
    text = summary.read_text()
    for needle in (ok.id, missing.id, ok.agent_id, UNKNOWN_AGENT, world.letta.deliveries[0].run_id, "| 7200 |"):
        assert needle in text
    assert "delivered" in text and "failed" in text
    for secret in (SECRET_TEXT, LETTA_KEY, world.key):
        assert secret not in text and secret not in proc.stdout
    assert texts(world.letta.deliveries) == [SECRET_TEXT]


def test_exit_status_on_permanent_failure_is_configurable(world: World) -> None:
    world.seed(
        world.one_time(T0 - timedelta(hours=1), agent=UNKNOWN_AGENT, message="first"),
        world.one_time(T0 + timedelta(hours=1), agent=UNKNOWN_AGENT, message="second"),
    )

    code, out, _ = cli(world, "--now", T0.isoformat(), "--no-fail-on-permanent")
    assert code == 0 and "failed 1" in out

    code, out, _ = cli(world, "--now", (T0 + timedelta(hours=2)).isoformat())
    assert code == 1 and "failed 1" in out and "404" in out

    code, out, _ = cli(world, "--now", (T0 + timedelta(hours=3)).isoformat())
    assert code == 0 and "delivered 0, failed 0" in out


def test_dry_run_sends_and_commits_nothing(world: World) -> None:
    due = world.one_time(T0 - timedelta(minutes=5), message=SECRET_TEXT)
    hourly = world.recurring("0 * * * *", created=T0 - timedelta(hours=3, minutes=30), message="hourly")
    world.seed(due, hourly)
    log = world.remote_log()

    code, out, _ = cli(world, "--dry-run", "--now", T0.isoformat())
    assert code == 0
    assert f"would send one-time {due.id} to {due.agent_id}" in out
    assert f"would send recurring {hourly.id}" in out and "(coalescing 3 missed fires)" in out
    assert SECRET_TEXT not in out

    code, out, _ = cli(world, "--dry-run", "--json", "--now", T0.isoformat())
    assert code == 0
    planned = json.loads(out)
    assert planned["dry_run"] is True and {d["schedule_id"] for d in planned["due"]} == {due.id, hourly.id}

    assert world.letta.deliveries == [] and world.remote_log() == log
    assert all(s.claimed_by is None for s in world.remote_schedules().values())


def test_a_failed_record_push_exits_non_zero_naming_the_runs_and_the_next_tick_records_it(world: World) -> None:
    once = world.one_time(T0 - timedelta(minutes=5), message=SECRET_TEXT)
    world.seed(once)
    world.reject_pushes(subject_contains="switchboard: tick ")  # claims go through, records do not

    code, _, err = cli(world, "--now", T0.isoformat())

    run_id = world.letta.deliveries[0].run_id
    assert code == 1
    assert err.startswith("Error: sent but could not record the outcome")
    assert f"sent: {once.id} (run {run_id})" in err and "the next tick from this clone records it first" in err
    assert SECRET_TEXT not in err and LETTA_KEY not in err

    world.accept_pushes()
    code, out, _ = cli(world, "--now", (T0 + timedelta(minutes=1)).isoformat())
    assert code == 0 and "recorded 1 outcomes an earlier tick could not push" in out and run_id in out
    assert len(world.letta.deliveries) == 1
    assert [r.run_id for r in world.remote_results()] == [run_id]
    assert world.remote_schedules() == {}


def test_now_cannot_be_combined_with_watch_or_hold(world: World) -> None:
    code, _, err = cli(world, "--watch", "--now", T0.isoformat())
    assert code == 1
    assert err == "Error: --now pretends a fixed time: it cannot be combined with --watch or --hold-up-to\n"
    code, _, err = cli(world, "--hold-up-to", "soon")
    assert code == 1 and err.startswith('Error: "soon" is not a duration')


class FakeTime:
    """A clock and a sleep that moves it: passes happen at the instants the runner asks for."""

    def __init__(self, start: datetime, stop_after: int | None = None) -> None:
        self.now = start
        self.slept: list[float] = []
        self.stop_after = stop_after

    def clock(self) -> datetime:
        return self.now

    def sleep(self, seconds: float) -> None:
        if self.stop_after is not None and len(self.slept) >= self.stop_after:
            raise KeyboardInterrupt
        self.slept.append(seconds)
        self.now += timedelta(seconds=seconds)


def settings_for(world: World) -> Settings:
    """Settings for the world's first clone."""
    world.store  # noqa: B018 - makes the clone
    return Settings(encryption_key=world.key, api_key=LETTA_KEY, repo=str(world.path()))


def test_hold_up_to_waits_for_what_falls_due_within_the_window(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in CLEARED:
        monkeypatch.delenv(name, raising=False)
    soon = world.one_time(T0 + timedelta(seconds=90), message="in 90 seconds")
    much_later = world.one_time(T0 + timedelta(minutes=10), message="in 10 minutes")
    world.seed(soon, much_later)
    fake = FakeTime(T0)
    printed: list[str] = []

    code = run_tick_command(
        settings_for(world),
        now=None,
        dry_run=False,
        watch=False,
        interval=60,
        hold_up_to="4m",
        fail_on_permanent=True,
        as_json=True,
        echo=printed.append,
        sleep=fake.sleep,
        clock=fake.clock,
        client_factory=client_factory,
    )

    assert code == 0 and fake.slept == [90.0]
    merged = json.loads(printed[-1])
    assert merged["passes"] == 2 and merged["delivered"] == 1
    assert [r["schedule_id"] for r in merged["results"]] == [soon.id]
    assert merged["results"][0]["lateness_s"] == 0
    assert texts(world.letta.deliveries) == ["in 90 seconds"]
    assert set(world.remote_schedules()) == {much_later.id}


def test_watch_runs_a_pass_at_the_due_instant_and_every_interval(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in CLEARED:
        monkeypatch.delenv(name, raising=False)
    world.seed(world.one_time(T0 + timedelta(seconds=30), message="between the first and second pass"))
    fake = FakeTime(T0, stop_after=2)
    printed: list[str] = []

    code = run_tick_command(
        settings_for(world),
        now=None,
        dry_run=False,
        watch=True,
        interval=60,
        hold_up_to=None,
        fail_on_permanent=True,
        as_json=True,
        echo=printed.append,
        sleep=fake.sleep,
        clock=fake.clock,
        client_factory=client_factory,
    )

    # Woken for the due instant, not at the next interval: 2 s ahead to claim, then the send held until it.
    assert code == 0 and fake.slept == [28, 2]
    passes = [json.loads(line) for line in printed]  # one compact JSON line per pass that did something
    assert passes[0]["now"] == (T0 + timedelta(seconds=30)).isoformat() and passes[0]["delivered"] == 1
    assert [r["lateness_s"] for r in passes[0]["results"]] == [0]
    assert sum(p["delivered"] for p in passes) == 1 and texts(world.letta.deliveries) == [
        "between the first and second pass"
    ]


def test_durations_retention_and_masks() -> None:
    assert parse_duration("4m") == timedelta(minutes=4)
    assert parse_duration("90s") == parse_duration("90") == timedelta(seconds=90)
    assert parse_duration("1.5h") == timedelta(minutes=90)
    assert parse_duration("90d", days=True) == timedelta(days=90)
    with pytest.raises(InvalidInputError, match=r'"2d" is not a duration — use e.g. 90s, 4m or 1h'):
        parse_duration("2d")

    assert tick_options(False, Masker({}), {}).retention == TickOptions.retention
    assert tick_options(True, Masker({}), {"SWITCHBOARD_RESULT_RETENTION": "30d"}).retention == timedelta(days=30)
    with pytest.raises(InvalidInputError, match="SWITCHBOARD_RESULT_RETENTION must be longer than 0"):
        tick_options(False, Masker({}), {"SWITCHBOARD_RESULT_RETENTION": "0d"})


def test_masks_are_printed_once_per_value_and_only_in_actions(capsys: pytest.CaptureFixture[str]) -> None:
    Masker({})(["sk-let-a"])
    masker = Masker({"GITHUB_ACTIONS": "true"})
    masker(["newkey,oldkey", None, "", "sk-let-a"])
    masker(["sk-let-a", "oldkey"])
    out, err = capsys.readouterr()
    assert out == ""
    assert sorted(err.splitlines()) == sorted(
        ["::add-mask::newkey,oldkey", "::add-mask::newkey", "::add-mask::oldkey", "::add-mask::sk-let-a"]
    )


def test_the_summary_for_nothing_due_and_for_a_dry_run() -> None:
    nothing = summary_markdown(TickReport(now=T0))
    assert nothing.startswith("### switchboard tick at 2026-06-01 12:00:00 UTC") and "Nothing was due." in nothing
    assert "Delivered **0**, failed **0**" in nothing
