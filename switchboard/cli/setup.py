"""Getting started and looking around: ``explain``, ``import``, ``init``, ``serve``, ``demo``, ``doctor``.

All are commands of the root; ``cli/__init__.py`` puts them there, in ``--help`` order.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from switchboard import __version__
from switchboard.cli.render import print_json, show_explanation
from switchboard.cli.root import (
    JsonFlag,
    NowOption,
    ZoneOption,
    fail,
    handled,
    parse_now,
    settings,
    version_line,
    zone_of,
)


@handled
def explain(
    ctx: typer.Context,
    at: Annotated[str | None, typer.Option("--at", help="A one-time phrase, e.g. 'tomorrow at 9am'.")] = None,
    every: Annotated[
        str | None, typer.Option("--every", help="A recurring phrase or cron, e.g. 'every weekday at 10am'.")
    ] = None,
    tz: ZoneOption = None,
    now: NowOption = None,
    count: Annotated[int, typer.Option("--count", min=1, max=100, help="How many next fire times to show.")] = 5,
    as_json: JsonFlag = False,
) -> None:
    """Show how a phrase is understood, and when it fires, before saving anything."""
    from switchboard.explain import explain_at, explain_every

    if (at is None) == (every is None):
        raise fail("give exactly one of --at TEXT or --every TEXT")
    clock = parse_now(now)
    zone = zone_of(ctx, tz)
    if at is not None:
        data = explain_at(at, tz=zone, now=clock)
    else:
        assert every is not None  # exactly one of the two, checked above
        data = explain_every(every, tz=zone, now=clock, count=count)
    if as_json:
        print_json(data)
        return
    show_explanation(data, zone)


@handled
def import_cmd(
    ctx: typer.Context,
    file: Annotated[Path, typer.Argument(help="JSON from the hosted service's list endpoints.")],
    tz: Annotated[
        str,
        typer.Option(
            "--tz",
            help="Zone for an execute_at without an offset, and for recurring schedules that name none "
            "(the hosted service used UTC).",
        ),
    ] = "UTC",
    now: NowOption = None,
    as_json: JsonFlag = False,
) -> None:
    """Import schedules exported from the hosted service, in one commit (importing again adds nothing)."""
    from switchboard.context import open_store
    from switchboard.service import PROGRESS_EVERY, import_schedules

    try:
        payload = json.loads(file.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise fail(f"{file} does not exist — give the path of the exported JSON") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise fail(f"{file} is not readable JSON ({exc.__class__.__name__}) — nothing was imported") from None

    def progress(stage: str, done: int, total: int) -> None:
        # On stderr, so --json keeps stdout for JSON; small files need no running commentary.
        if total < PROGRESS_EVERY:
            return
        if stage == "committing":
            typer.echo(f"  committing {total} files in one commit…", err=True)
        else:
            typer.echo(f"  {stage} {done}/{total}", err=True)

    conf = settings(ctx)
    done = import_schedules(
        open_store(conf),
        payload,
        api_key=conf.api_key,
        base_url=conf.base_url,
        now=parse_now(now),
        timezone=tz,
        progress=progress,
    )
    if as_json:
        print_json(done.as_json())
        return
    already = ""
    if done.unchanged:
        already = f"; {done.unchanged} {'was' if done.unchanged == 1 else 'were'} already there, left unchanged"
    if done.one_time or done.recurring:
        typer.echo(
            f"Imported {done.one_time} one-time and {done.recurring} recurring schedules in one commit{already}."
        )
    else:
        typer.echo(f"Nothing to import{already}.")


@handled
def init(
    ctx: typer.Context,
    github: Annotated[
        str | None,
        typer.Option("--github", help="OWNER/NAME: set up this GitHub repository through the API (secret, workflow)."),
    ] = None,
    as_json: JsonFlag = False,
) -> None:
    """Make a key (unless one is set) and the tenant secret; on GitHub, store the secret and enable the tick."""
    import dataclasses

    from switchboard.actions.setup import init_repository

    conf = settings(ctx)
    outcome = init_repository(dataclasses.replace(conf, github_repo=github) if github else conf)
    if as_json:
        print_json({k: v for k, v in outcome.items() if k != "steps"} | {"steps": outcome["steps"]})
        return
    for step in outcome["steps"]:
        typer.echo(step)


@handled
def serve(
    ctx: typer.Context,
    host: Annotated[str, typer.Option("--host", help="Address to listen on (0.0.0.0: every interface).")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", min=0, max=65535, help="TCP port.")] = 8000,
    tick_every: Annotated[
        float | None,
        typer.Option(
            "--tick-every", min=1.0, help="Also deliver what falls due: a tick pass every S seconds, in-process."
        ),
    ] = None,
) -> None:
    """Serve the REST API: the hosted service's endpoints, Letta's schedule API and a web page."""
    try:
        import uvicorn

        from switchboard.api import create_app
        from switchboard.api.app import log_config
    except ModuleNotFoundError as exc:
        raise fail(
            f"serve needs {exc.name}, from switchboard's [api] extra — reinstall with it, e.g. "
            "`uv tool install --force '.[api,github]'` in a checkout"
        ) from None

    api = create_app(settings(ctx), tick_every=tick_every)
    ticking = f", a tick pass every {tick_every:g}s" if tick_every else " (no ticking: add --tick-every 60)"
    typer.echo(f"switchboard API on http://{host}:{port} — web page at /, docs at /docs{ticking}", err=True)
    uvicorn.run(api, host=host, port=port, log_config=log_config(), server_header=False)


@handled
def demo(
    ctx: typer.Context,
    agent_id: Annotated[
        str | None, typer.Option("--agent-id", help="With LETTA_API_KEY and LETTA_BASE_URL: send to this real agent.")
    ] = None,
    keep: Annotated[
        bool,
        typer.Option("--keep", help="Keep the repository and the stand-in running until Ctrl-C, to try commands on."),
    ] = False,
) -> None:
    """Watch the whole product work, offline, in a throwaway repository."""
    from switchboard.demo import run_demo

    run_demo(agent_id=agent_id, out=typer.echo, env=settings(ctx).env, keep=keep)


@handled
def doctor(ctx: typer.Context, now: NowOption = None, as_json: JsonFlag = False) -> None:
    """Check the key, Letta, the repository, the tick workflow and a watcher; print the fix for each problem."""
    from switchboard.doctor import healthy, run_checks

    checks = run_checks(settings(ctx), now=parse_now(now))
    ok = healthy(checks)
    if as_json:
        print_json({"ok": ok, "version": __version__, "checks": [c.as_json() for c in checks]})
    else:
        typer.echo(version_line())
        marks = {"ok": "ok  ", "warn": "WARN", "fail": "FAIL", "skip": "skip"}
        for check in checks:
            typer.echo(f"[{marks.get(check.status, check.status)}] {check.name}: {check.detail}")
            if check.fix and check.status != "ok":
                typer.echo(f"       fix: {check.fix}")
        typer.echo("All checks passed." if ok else "Some checks failed: see the fixes above.")
    if not ok:
        raise typer.Exit(1)
