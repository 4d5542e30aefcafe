"""`switchboard tick` around the pass: loops, holding, reports and job summaries.

``tick.run_pass`` is one pass. This module decides how many passes to run
(one, one plus holds for what falls due soon, or forever with ``--watch``),
and shows what they did: a table or JSON on stdout and, inside GitHub
Actions, a Markdown job summary. Neither shows message text or keys.

Results older than ``SWITCHBOARD_RESULT_RETENTION`` (a duration such as
``90d``, the default, or ``2160h``) are pruned by the passes. A run still
unfinished ``SWITCHBOARD_RUN_TIMEOUT`` (default ``24h``) after its delivery
is recorded as ``unknown`` and no longer followed.
"""

from __future__ import annotations

import json
import signal
import sys
import time
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime, timedelta

from switchboard.actions import alerts
from switchboard.config import Settings
from switchboard.exceptions import InvalidInputError
from switchboard.store import Store
from switchboard.tick import ClientFactory, Job, RecentRuns, TickOptions, TickReport, next_due, run_pass
from switchboard.timeparse import parse_duration

#: How long results are kept (a duration such as 90d or 2160h); the tick prunes older ones.
RETENTION_ENV = "SWITCHBOARD_RESULT_RETENTION"
#: How long a run is followed before its result says "unknown" (a duration such as 24h or 2d).
RUN_TIMEOUT_ENV = "SWITCHBOARD_RUN_TIMEOUT"
#: Secrets besides the settings that the tick reads from the environment.
_SECRET_ENV = ("SWITCHBOARD_ENCRYPTION_KEY", "SWITCHBOARD_WEBHOOK_URL")


class Masker:
    """Asks GitHub Actions to hide secrets in every later log line, each value once."""

    def __init__(self, env: Mapping[str, str]) -> None:
        """Mask only when GITHUB_ACTIONS is true in ``env`` (the settings' environment)."""
        self.enabled = env.get("GITHUB_ACTIONS", "").lower() == "true"
        self._seen: set[str] = set()

    def __call__(self, values: Iterable[str | None]) -> None:
        """Mask every value (a comma-separated key list counts as its parts too)."""
        if not self.enabled:
            return
        for value in values:
            for part in {value or "", *(value or "").split(",")}:
                part = part.strip()
                if part and part not in self._seen:
                    self._seen.add(part)
                    # The runner reads workflow commands from stderr too, and --json keeps stdout for JSON.
                    print(f"::add-mask::{part}", file=sys.stderr, flush=True)


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
    shown = [*report.recovered, *report.results, *report.followed]
    if shown:
        lines += [
            "| schedule | type | agent | status | run id | run | scheduled for | late (s) | skipped |",
            "| --- | --- | --- | --- | --- | --- | --- | --- | --- |",
        ]
        for r in shown:
            lines.append(
                f"| `{r.schedule_id}` | {r.schedule_type} | `{r.agent_id}` | {r.status} | `{r.run_id or '-'}` | "
                f"{r.run_status or '-'} | {r.scheduled_for:%Y-%m-%d %H:%M} | {r.lateness_s:.0f} | {r.skipped} |"
            )
        if report.recovered:
            lines += ["", f"{len(report.recovered)} of these were sent by an earlier tick that could not record them."]
        if report.followed:
            lines += ["", f"{len(report.followed)} of these were sent by an earlier tick: their runs have ended since."]
    elif report.dry_run and report.planned:
        lines.append(f"Dry run: {len(report.planned)} due, nothing sent.")
    else:
        lines.append("Nothing was due.")
    return "\n".join(lines) + "\n"


def write_summary(report: TickReport, env: Mapping[str, str]) -> None:
    """Append to $GITHUB_STEP_SUMMARY when it is set."""
    path = env.get("GITHUB_STEP_SUMMARY")
    if path:
        with open(path, "a", encoding="utf-8") as handle:
            handle.write(summary_markdown(report))


def show(report: TickReport, as_json: bool, echo: Callable[[str], None], *, compact: bool = False) -> None:
    """Print a report for people, or as JSON (one line each with ``compact``)."""
    if as_json:
        echo(json.dumps(report.as_json(), indent=None if compact else 2))
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
    if report.recovered:
        echo(f"  recorded {len(report.recovered)} outcomes an earlier tick could not push:")
    if report.followed:
        echo(f"  followed {len(report.followed)} runs of earlier ticks to their end:")
    for r in [*report.recovered, *report.followed, *report.results]:
        late = f", {r.lateness_s:.0f}s late" if r.lateness_s >= 1 else ""
        skipped = f", {r.skipped} earlier fires skipped" if r.skipped else ""
        reason = f" — {r.error}" if r.error else ""
        run = f" ({r.run_status})" if r.run_status else ""
        echo(
            f"  {r.status:9} {r.schedule_type:9} {r.schedule_id} agent {r.agent_id} "
            f"run {r.run_id or '-'}{run}{late}{skipped}{reason}"
        )
    if report.pruned:
        echo(f"  pruned {report.pruned} results past the retention period")


def _planned_line(job: Job) -> str:
    skipped = f" (coalescing {job.skipped} missed fires)" if job.skipped else ""
    return (
        f"  would send {job.schedule.kind} {job.schedule.id} to {job.schedule.agent_id}, "
        f"due {job.scheduled_for.isoformat()}{skipped}"
    )


def tick_options(dry_run: bool, masker: Callable[[Iterable[str | None]], None], env: Mapping[str, str]) -> TickOptions:
    """The pass options: retention and run timeout from SWITCHBOARD_RESULT_RETENTION / _RUN_TIMEOUT, keys masked."""
    text = env.get(RETENTION_ENV, "").strip()
    retention = parse_duration(text, days=True) if text else TickOptions.retention
    if retention <= timedelta(0):
        raise InvalidInputError(f"{RETENTION_ENV} must be longer than 0 — e.g. 90d")
    return TickOptions(dry_run=dry_run, on_secrets=masker, retention=retention, run_timeout=run_timeout(env))


def run_timeout(env: Mapping[str, str]) -> timedelta:
    """How long a run is followed: SWITCHBOARD_RUN_TIMEOUT (a duration) in ``env``, default 24 h."""
    text = env.get(RUN_TIMEOUT_ENV, "").strip()
    timeout = parse_duration(text, days=True) if text else TickOptions.run_timeout
    if timeout <= timedelta(0):
        raise InvalidInputError(f"{RUN_TIMEOUT_ENV} must be longer than 0 — e.g. 24h")
    return timeout


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
    client_factory: ClientFactory | None = None,
) -> int:
    """Run the passes the flags ask for; returns the exit status.

    One pass, then (with ``--hold-up-to``) a pass for each thing that falls
    due before the hold ends, or (with ``--watch``) the watch loop: a pass at
    each due instant and every ``interval`` seconds, until stopped. Exit
    status 1 when a delivery failed for good and ``fail_on_permanent``; a TickError (sent but not recorded) propagates.
    """
    from switchboard.cli.root import parse_now
    from switchboard.context import letta_client, open_store

    masker = Masker(settings.env)
    masker([settings.encryption_key, settings.api_key, settings.github_token, *map(settings.env.get, _SECRET_ENV)])
    hold = parse_duration(hold_up_to) if hold_up_to else timedelta(0)
    if now is not None and (watch or hold):
        raise InvalidInputError("--now pretends a fixed time: it cannot be combined with --watch or --hold-up-to")
    store = open_store(settings)
    options = tick_options(dry_run, masker, settings.env)
    factory = client_factory or letta_client
    recent = RecentRuns()  # passes of this command wait for each other's runs

    reports: list[TickReport] = []

    def one_pass(at: datetime) -> TickReport:
        report = run_pass(store, at, factory, options, sleep=sleep, recent=recent)
        if not as_json:
            show(report, as_json, echo)
        write_summary(report, settings.env)
        alerts.notify(report, env=settings.env)  # opt-in webhook (SWITCHBOARD_WEBHOOK_URL); never raises
        reports.append(report)
        return report

    if watch:
        return run_watch(
            store,
            factory,
            options,
            env=settings.env,
            fetch_every=interval,
            as_json=as_json,
            echo=echo,
            clock=clock,
            # The default sleep would outlast a SIGTERM; the loop's own wait is cut short by it.
            sleep=None if sleep is time.sleep else sleep,
        )

    started = clock()
    report = one_pass(parse_now(now) if now is not None else started)
    failed = report.permanent_failures
    deadline = started + hold
    waited_for = started
    while hold and not dry_run:
        current = clock()
        # Strictly after what we last waited for: a fire another tick claimed is not waited for twice.
        upcoming = next_due(store, max(current, waited_for), on_secrets=masker)
        if upcoming is None or upcoming > deadline:
            break
        sleep(max(0.0, (upcoming - current).total_seconds()))
        waited_for = upcoming
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
        for name in ("delivered", "failed", "requeued", "deferred", "pruned"):
            merged[name] = int(merged[name]) + int(extra[name])  # type: ignore[call-overload]
        for name in ("results", "recovered", "followed"):
            merged[name] = [*merged[name], *extra[name]]  # type: ignore[misc]
    merged["passes"] = len(reports)
    return merged


def run_watch(
    store: Store,
    factory: ClientFactory,
    options: TickOptions,
    *,
    env: Mapping[str, str],
    fetch_every: float,
    as_json: bool,
    echo: Callable[[str], None] = print,
    clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    sleep: Callable[[float], object] | None = None,
) -> int:
    """The watch loop until Ctrl-C or SIGTERM; shows each pass that did something. Returns 0."""
    from switchboard.watch import Watcher

    def on_report(report: TickReport) -> None:
        if report.outcomes or report.recovered or report.followed or report.pruned:
            show(report, as_json, echo, compact=True)
            write_summary(report, env)
            alerts.notify(report, env=env)  # opt-in webhook (SWITCHBOARD_WEBHOOK_URL); never raises

    def on_error(line: str) -> None:
        print(f"Error: {line}", file=sys.stderr, flush=True)

    watcher = Watcher(
        store,
        factory,
        fetch_every=fetch_every,
        options=options,
        clock=clock,
        on_report=on_report,
        on_error=on_error,
        sleep=sleep,
    )
    # systemd stops a service with SIGTERM: end after the pass under way, which records what it sent.
    previous = signal.signal(signal.SIGTERM, lambda *_: watcher.stop())
    try:
        watcher.run()
    except KeyboardInterrupt:
        pass  # Ctrl-C: the pass under way has recorded what it sent, or the next one will
    finally:
        signal.signal(signal.SIGTERM, previous)
    return 0


def run_watch_command(
    settings: Settings, *, fetch_every: float, as_json: bool, echo: Callable[[str], None] = print
) -> int:
    """`switchboard watch`: mask the secrets, open the store, run the loop."""
    from switchboard.context import letta_client, open_store

    masker = Masker(settings.env)
    masker([settings.encryption_key, settings.api_key, settings.github_token, *map(settings.env.get, _SECRET_ENV)])
    store = open_store(settings)
    options = tick_options(False, masker, settings.env)
    return run_watch(
        store, letta_client, options, env=settings.env, fetch_every=fetch_every, as_json=as_json, echo=echo
    )
