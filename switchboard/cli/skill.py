"""``switchboard skill install|show``: the skill that teaches a Letta Code agent to schedule with this CLI."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from switchboard.cli.helppages import ReadableTyper
from switchboard.cli.render import print_json
from switchboard.cli.root import JsonFlag, handled, settings

skill_app = ReadableTyper(help="A skill for Letta Code agents to schedule their own messages.", no_args_is_help=True)


@skill_app.command("install")
@handled
def install(
    ctx: typer.Context,
    directory: Annotated[
        Path | None,
        typer.Option("--dir", help="Install into this skills folder instead (the skill goes in DIR/switchboard/)."),
    ] = None,
    project: Annotated[
        Path | None,
        typer.Option(
            "--project", help="Install for the agents working in this project folder only (PROJECT/.agents/skills/)."
        ),
    ] = None,
    agent_id: Annotated[
        str | None,
        typer.Option("--agent-id", help="Install for this one agent only (~/.letta/agents/AGENT/memory/skills/)."),
    ] = None,
    as_json: JsonFlag = False,
) -> None:
    """Install the skill where Letta Code finds it: by default for all your agents (~/.letta/skills/)."""
    from switchboard.exceptions import InvalidInputError
    from switchboard.skill import install as do_install
    from switchboard.skill import skills_dir

    if sum(option is not None for option in (directory, project, agent_id)) > 1:
        raise InvalidInputError("give at most one of --dir, --project and --agent-id")
    if project is not None and not project.is_dir():
        raise InvalidInputError(f"{project} is not a folder — pass the project folder the agent works in")
    target = (
        directory if directory is not None else skills_dir(env=settings(ctx).env, project=project, agent_id=agent_id)
    )
    done = do_install(target)
    if as_json:
        print_json({"folder": str(done.folder), "updated": done.updated, "unchanged": done.unchanged})
        return
    verb = "Already up to date" if done.unchanged else ("Updated" if done.updated else "Installed")
    typer.echo(f"{verb}: the switchboard skill in {done.folder}")
    typer.echo("Letta Code agents find it there. It runs `switchboard`: put it on the PATH of the server running them.")


@skill_app.command("show")
@handled
def show() -> None:
    """Print the skill's SKILL.md, as it would be installed."""
    from switchboard.skill import skill_text

    typer.echo(skill_text(), nl=False)
