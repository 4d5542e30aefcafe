"""``results …``: what was delivered, with Letta's run ids."""

from __future__ import annotations

from typing import Annotated

import typer

from switchboard.cli.helppages import ReadableTyper
from switchboard.cli.render import key_hint, show_results, warn_unreadable, when
from switchboard.cli.root import JsonFlag, NowOption, handled, parse_now, settings, store_of
from switchboard.models import OneTimeSchedule

results_app = ReadableTyper(help="Delivery results, with Letta run ids.", no_args_is_help=True)


@results_app.command("list")
@handled
def results_list(
    ctx: typer.Context,
    schedule_id: Annotated[str | None, typer.Option("--schedule-id", help="Only this schedule's results.")] = None,
    limit: Annotated[int, typer.Option("--limit", min=1, help="At most this many, newest first.")] = 50,
    refresh: Annotated[
        bool, typer.Option("--refresh", help="First ask Letta how unfinished runs ended, and record it (one commit).")
    ] = False,
    now: NowOption = None,
    as_json: JsonFlag = False,
) -> None:
    """Every delivery, newest first, with Letta's run id and how its run ended."""
    from switchboard.service import follow_runs, list_results

    conf = settings(ctx)
    store = store_of(ctx)
    if refresh:
        from switchboard.cli.runner import run_timeout
        from switchboard.context import letta_client

        follow_runs(store, conf.api_key, parse_now(now), letta_client, run_timeout(conf.env))
    items = list_results(store, conf.api_key, schedule_id=schedule_id, limit=limit)
    warn_unreadable(store.take_unreadable())
    show_results(items, as_json, hint=key_hint(conf))


@results_app.command("get")
@handled
def results_get(
    ctx: typer.Context,
    ref: Annotated[
        str,
        typer.Argument(
            metavar="ID", help="The schedule's id, its name, or 8+ first characters of its id (delivered ones too)."
        ),
    ],
    as_json: JsonFlag = False,
) -> None:
    """The results of one schedule, newest first."""
    from switchboard.service import resolve_result_ref, results_of

    store = store_of(ctx)
    api_key = settings(ctx).api_key
    schedule_id = resolve_result_ref(store, api_key, ref)
    items, pending = results_of(store, api_key, schedule_id)
    if items or as_json:
        show_results(items, as_json, schedule_id=schedule_id)
    elif isinstance(pending, OneTimeSchedule):
        typer.echo(f"No results yet for {pending.id}: it is due {when(pending.execute_at)}.")
    elif pending is not None:
        typer.echo(f"No results yet for {pending.id}: its next run is {when(pending.next_run(), pending.timezone)}.")
