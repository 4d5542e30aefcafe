"""`switchboard tick` around the pass: loops, holding, reports and job summaries.

``tick.run_pass`` is one pass. This module decides how many passes to run
(one, one plus holds for what falls due soon, or forever with ``--watch``),
and shows what they did: a table or JSON on stdout and, inside GitHub
Actions, a Markdown job summary. Neither shows message text or keys.
"""

from __future__ import annotations

import json
import os
import re
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from switchboard.config import Settings
from switchboard.exceptions import InvalidInputError, SwitchboardError
from switchboard.tick import Job, TickOptions, TickReport, next_due, run_pass

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(s|sec|secs|seconds?|m|min|mins|minutes?|h|hours?)?\s*$", re.I)


def parse_duration(text: str) -> timedelta:
    """'4m', '90s', '1h', '0' -> a timedelta."""
    match = _DURATION.match(text or "")
    if not match:
        raise InvalidInputError(f'"{text}" is not a duration — use e.g. 90s, 4m or 1h')
    amount = float(match.group(1))
    unit = (match.group(2) or "s").lower()[0]
    return timedelta(seconds=amount * {"s": 1, "m": 60, "h": 3600}[unit])


def mask(values: list[str | None]) -> None:
    """Ask GitHub Actions to hide these values in every log line from now on."""
    if os.environ.get("GITHUB_ACTIONS", "").lower() != "true":
        return
    for value in values:
        for part in (value or "").split(","):
            if part.strip():
                # The runner reads workflow commands from stderr too, and --json keeps stdout for JSON.
                print(f"::add-mask::{part.strip()}", file=sys.stderr, flush=True)


def summary_markdown(report: TickReport) -> str:
    """The job summary: ids, agent, status, run id, lateness — never text or keys."""
    data = report.as_json()
    lines = [
        f"### switchboard tick at {report.now:%Y-%m-%d %H:%M:%S} UTC",
        "",
        f"Delivered **{data['delivered']}**, failed **{data['failed']}**, put back **{data['requeued']}**, "
        f"deferred **{data['deferred']}**.",
        "",
    ]
    if report.results:
        lines += [
            "| schedule | type | agent | status | run id | scheduled for | late (s) | skipped |",
            "| --- | --- | --- | --- | --- | --- | --- | --- |",
        ]
        for r in report.results:
            lines.append(
                f"| `{r.schedule_id}` | {r.schedule_type} | `{r.agent_id}` | {r.status} | `{r.run_id or '-'}` | "
                f"{r.scheduled_for:%Y-%m-%d %H:%M} | {r.lateness_s:.0f} | {r.skipped} |"
            )
    elif report.dry_run and report.planned:
        lines.append(f"Dry run: {len(report.planned)} due, nothing sent.")
    else:
        lines.append("Nothing was due.")
    return "\n".join(lines) + "\n"


def write_summary(report: TickReport) -> None:
    """Append to $GITHUB_STEP_SUMMARY when it is set."""
    path = os.environ.get("GITHUB_STEP_SUMMARY")
    if path:
        with open(path, "a", encoding="utf-8") as handle:
            handle.write(summary_markdown(report))


def show(report: TickReport, as_json: bool, echo: Callable[[str], None]) -> None:
    """Print a report for people, or as JSON."""
    if as_json:
        echo(json.dumps(report.as_json(), indent=2))
        return
    if report.dry_run:
        if not report.planned:
            echo(f"Dry run at {report.now.isoformat()}: nothing is due.")
        for job in report.planned:
            echo(_planned_line(job))
        return
    data = report.as_json()
    echo(
        f"Tick at {report.now.isoformat()}: delivered {data['delivered']}, failed {data['failed']}, "
        f"put back {data['requeued']}, deferred {data['deferred']}."
    )
    for r in report.results:
        late = f", {r.lateness_s:.0f}s late" if r.lateness_s >= 1 else ""
        skipped = f", {r.skipped} earlier fires skipped" if r.skipped else ""
        reason = f" — {r.error}" if r.error else ""
        echo(
            f"  {r.status:9} {r.schedule_type:9} {r.schedule_id} agent {r.agent_id} "
            f"run {r.run_id or '-'}{late}{skipped}{reason}"
        )


def _planned_line(job: Job) -> str:
    skipped = f" (coalescing {job.skipped} missed fires)" if job.skipped else ""
    return (
        f"  would send {job.schedule.kind} {job.schedule.id} to {job.schedule.agent_id}, "
        f"due {job.scheduled_for.isoformat()}{skipped}"
    )


def run_tick_command(
    settings: Settings,
    *,
    now: str | None,
    dry_run: bool,
    watch: bool,
    interval: float,
    hold_up_to: str | None,
    fail_on_permanent: bool,
    as_json: bool,
    echo: Callable[[str], None] = print,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> int:
    """Run the passes the flags ask for; returns the exit status."""
    from switchboard.cli import parse_now
    from switchboard.context import letta_client, open_store

    mask(
        [
            settings.encryption_key or os.environ.get("SWITCHBOARD_ENCRYPTION_KEY"),
            settings.api_key,
            settings.github_token,
        ]
    )
    hold = parse_duration(hold_up_to) if hold_up_to else timedelta(0)
    if now is not None and (watch or hold):
        raise InvalidInputError("--now pretends a fixed time: it cannot be combined with --watch or --hold-up-to")
    store = open_store(settings)
    options = TickOptions(dry_run=dry_run, on_claimed=lambda jobs: mask([j.schedule.api_key for j in jobs]))

    reports: list[TickReport] = []

    def one_pass(at: datetime) -> TickReport:
        report = run_pass(store, at, letta_client, options)
        if not as_json or watch:
            show(report, as_json, echo)
        write_summary(report)
        reports.append(report)
        return report

    if watch:
        while True:
            try:
                one_pass(clock())
            except SwitchboardError as exc:
                print(f"Error: {exc} (retrying in {interval:g}s)", file=sys.stderr, flush=True)
            sleep(interval)

    started = clock()
    report = one_pass(parse_now(now) if now is not None else started)
    failed = report.permanent_failures
    deadline = started + hold
    while hold and not dry_run:
        current = clock()
        upcoming = next_due(store, current)
        if upcoming is None or upcoming > deadline:
            break
        sleep(max(0.0, (upcoming - current).total_seconds()))
        failed += one_pass(max(clock(), upcoming)).permanent_failures
    if as_json:
        # One JSON document however many passes the hold ran.
        echo(json.dumps(merge(reports), indent=2))
    return 1 if failed and fail_on_permanent else 0


def merge(reports: list[TickReport]) -> dict[str, object]:
    """The --json shape for one or more passes."""
    merged = reports[0].as_json()
    for report in reports[1:]:
        extra = report.as_json()
        for name in ("delivered", "failed", "requeued", "deferred"):
            merged[name] = int(merged[name]) + int(extra[name])  # type: ignore[call-overload]
        merged["results"] = [*merged["results"], *extra["results"]]  # type: ignore[misc]
    merged["passes"] = len(reports)
    return merged
