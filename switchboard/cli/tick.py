"""Delivering: ``tick`` runs a pass, ``watch`` runs them at each due instant, ``dispatch`` starts the workflow.

All three are commands of the root; ``cli/__init__.py`` puts them there, in ``--help`` order.
"""

from __future__ import annotations

from typing import Annotated, Any

import typer

from switchboard.cli.render import print_json
from switchboard.cli.root import JsonFlag, NowOption, fail, handled, settings


@handled
def tick(
    ctx: typer.Context,
    now: NowOption = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Say what is due; send and commit nothing.")] = False,
    watch: Annotated[
        bool,
        typer.Option("--watch", help="Keep running: a pass when something falls due and every --interval seconds."),
    ] = False,
    interval: Annotated[
        float, typer.Option("--interval", min=1.0, help="With --watch: seconds between fetches of the remote.")
    ] = 60.0,
    hold_up_to: Annotated[
        str | None,
        typer.Option("--hold-up-to", help="After a pass, wait up to this long (e.g. 4m) for what falls due next."),
    ] = None,
    fail_on_permanent: Annotated[
        bool, typer.Option("--fail-on-permanent/--no-fail-on-permanent", help="Exit 1 when a delivery failed for good.")
    ] = True,
    as_json: JsonFlag = False,
) -> None:
    """Deliver everything due (one pass), and commit the results."""
    from switchboard.cli.runner import run_tick_command

    code = run_tick_command(
        settings(ctx),
        now=now,
        dry_run=dry_run,
        watch=watch,
        interval=interval,
        hold_up_to=hold_up_to,
        fail_on_permanent=fail_on_permanent,
        as_json=as_json,
    )
    if code:
        raise typer.Exit(code)


@handled
def watch(
    ctx: typer.Context,
    fetch_every: Annotated[
        float,
        typer.Option(
            "--fetch-every", min=1.0, help="Seconds between looks at the remote for schedules pushed from elsewhere."
        ),
    ] = 30.0,
    as_json: JsonFlag = False,
) -> None:
    """Run beside your Letta: deliver each message at its due instant, until stopped (Ctrl-C, SIGTERM)."""
    from switchboard.cli.runner import run_watch_command

    run_watch_command(settings(ctx), fetch_every=fetch_every, as_json=as_json)


@handled
def dispatch(
    ctx: typer.Context,
    wait: Annotated[
        bool, typer.Option("--wait", help="Follow the run until it completes; exit 1 unless it succeeds.")
    ] = False,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="The tick only shows what is due; sends nothing.")] = False,
    hold: Annotated[
        str, typer.Option("--hold", help="Keep the job open this long for what falls due (at most 30m).")
    ] = "0m",
    timeout: Annotated[
        float | None,
        typer.Option(
            "--timeout", min=1.0, help="With --wait: give up after this many seconds (default: hold + 15 min)."
        ),
    ] = None,
    poll: Annotated[
        float, typer.Option("--poll", min=0.1, help="With --wait: seconds between looks at the run.")
    ] = 5.0,
    as_json: JsonFlag = False,
) -> None:
    """Start the tick workflow now (workflow_dispatch) instead of waiting for its schedule."""
    from switchboard.actions.dispatch import (
        WORKFLOW_FILE,
        check_hold,
        dispatch_tick,
        open_actions,
        runs_url,
        wait_for_run,
    )
    from switchboard.timeparse import parse_duration

    held = check_hold(parse_duration(hold))
    actions = open_actions(settings(ctx))
    before = actions.last_workflow_run(WORKFLOW_FILE) if wait else None
    inputs = dispatch_tick(actions, hold=held, dry_run=dry_run)
    out: dict[str, Any] = {"repository": actions.repo, "ref": actions.branch, "inputs": inputs, "run": None}
    if not as_json:
        shown = ", ".join(f"{k}={v}" for k, v in inputs.items()) or "no inputs"
        typer.echo(
            f"Started the tick workflow in {actions.repo} on {actions.branch} ({shown}). {runs_url(actions.repo)}"
        )
    if wait:
        limit = timeout if timeout is not None else held.total_seconds() + 15 * 60

        def progress(run: dict[str, Any]) -> None:
            if not as_json:
                typer.echo(f"  {run.get('status')}: {run.get('html_url')}")

        run = wait_for_run(actions, before, timeout=limit, poll=poll, on_change=progress)
        out["run"] = run
        if as_json:
            print_json(out)
        if run.get("conclusion") != "success":
            raise fail(f"the tick run ended {run.get('conclusion')} — open {run.get('html_url')} for its log")
        if not as_json:
            typer.echo(f"The tick run succeeded: {run.get('html_url')}")
        return
    if as_json:
        print_json(out)
