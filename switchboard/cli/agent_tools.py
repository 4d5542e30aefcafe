"""``switchboard agent-tools attach|detach|show``: give an agent tools to schedule its own messages.

The commands talk to the agent's Letta server (``LETTA_BASE_URL``, with
``LETTA_API_KEY``) and write the agent's grant into the repository; the tools
then call ``switchboard serve`` at ``--serve-url``.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

import typer

from switchboard.cli.helppages import ReadableTyper
from switchboard.cli.render import print_json
from switchboard.cli.root import JsonFlag, handled, settings, store_of

agent_tools_app = ReadableTyper(
    help="Letta tools with which an agent schedules its own messages.", no_args_is_help=True
)

SERVE_URL_ENV = "SWITCHBOARD_SERVE_URL"
AgentOption = Annotated[str, typer.Option("--agent-id", help="The Letta agent: agent-<uuid> or agent-local-<uuid>")]


@agent_tools_app.command("attach")
@handled
def attach(
    ctx: typer.Context,
    agent_id: AgentOption,
    serve_url: Annotated[
        str | None,
        typer.Option(
            "--serve-url",
            help=f"Where `switchboard serve` answers, as the Letta server reaches it (default ${SERVE_URL_ENV}, "
            "else http://127.0.0.1:8000).",
        ),
    ] = None,
    max_schedules: Annotated[
        int, typer.Option("--max-schedules", help="Active schedules the agent may have made at once.")
    ] = 100,
    min_interval: Annotated[str, typer.Option("--min-interval", help="Least time between fires, e.g. 5m.")] = "5m",
    tz: Annotated[str, typer.Option("--tz", help="Zone the tools read times in when the agent names none.")] = "UTC",
    as_json: JsonFlag = False,
) -> None:
    """Register the tools on the agent's Letta server, attach them, and give the agent its own token."""
    from switchboard.agent_tools.attach import attach as do_attach
    from switchboard.agent_tools.scheduling import interval_words
    from switchboard.context import letta_rest_client
    from switchboard.timeparse import parse_duration

    conf = settings(ctx)
    url = serve_url or conf.env.get(SERVE_URL_ENV) or "http://127.0.0.1:8000"
    interval = int(parse_duration(min_interval).total_seconds())
    with letta_rest_client(conf.base_url, conf.api_key) as client:
        done = do_attach(
            store_of(ctx), client, api_key=conf.api_key, base_url=conf.base_url, agent_id=agent_id, serve_url=url,
            now=datetime.now(UTC), max_schedules=max_schedules, min_interval_s=interval, timezone=tz,
        )  # fmt: skip
    if as_json:
        print_json(done.as_json())
        return
    typer.echo(
        f"Attached {', '.join(done.tools)} to {done.agent_id}; its tools call {done.serve_url} with a token of "
        f"its own (up to {done.grant.max_schedules} active schedules, recurring at most every "
        f"{interval_words(done.grant.min_interval_s)}). Keep `switchboard serve` running there."
    )


@agent_tools_app.command("detach")
@handled
def detach(ctx: typer.Context, agent_id: AgentOption, as_json: JsonFlag = False) -> None:
    """Take the tools off the agent and revoke its token (its schedules stay)."""
    from switchboard.agent_tools.attach import detach as do_detach
    from switchboard.context import letta_rest_client

    conf = settings(ctx)
    with letta_rest_client(conf.base_url, conf.api_key) as client:
        done = do_detach(store_of(ctx), client, api_key=conf.api_key, agent_id=agent_id)
    if as_json:
        print_json(done)
        return
    tools = ", ".join(done["detached"]) or "no switchboard tools"
    typer.echo(f"Detached {tools} from {done['agent_id']}; revoked {len(done['revoked_grants'])} token(s).")


@agent_tools_app.command("show")
@handled
def show(ctx: typer.Context, agent_id: AgentOption, as_json: JsonFlag = False) -> None:
    """What is attached to the agent: the tools, where they call, its limits and its schedules."""
    from switchboard.agent_tools.attach import show as do_show
    from switchboard.agent_tools.scheduling import interval_words
    from switchboard.context import letta_rest_client

    conf = settings(ctx)
    with letta_rest_client(conf.base_url, conf.api_key) as client:
        shown = do_show(store_of(ctx), client, api_key=conf.api_key, agent_id=agent_id)
    if as_json:
        print_json(shown)
        return
    grant = shown["grant"]
    typer.echo(f"agent      {shown['agent_id']}")
    typer.echo(f"tools      {', '.join(shown['tools']) or 'none attached'}")
    typer.echo(f"serve url  {shown['serve_url'] or 'not set'}  (token {'set' if shown['token_set'] else 'not set'})")
    if grant is None:
        typer.echo("grant      none (run `switchboard agent-tools attach`)")
    else:
        typer.echo(
            f"grant      {grant['grant_id']} since {grant['created_at']}: up to {grant['max_schedules']} active "
            f"schedules, recurring at most every {interval_words(grant['min_interval_s'])}, "
            f"times in {grant['timezone']}"
        )
    typer.echo(f"schedules  {shown['active_schedules']} active, made by the agent")
