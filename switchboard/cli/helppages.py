"""Help pages a person reads: value names instead of type labels, usage lines that show what is required, examples.

typer labels every switch with its Python type (``--json <bool>``, ``--tz
<str>``) and writes a required argument as ``{ID}``. ``ReadableTyper`` builds
its commands and groups from the classes below, which name each value by what
it is (``--tz ZONE``), leave flags bare, write the usage line as it is typed
(``switchboard send --agent-id AGENT_ID --message TEXT [OPTIONS]``) and end
each help page with the examples in ``EXAMPLES``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import typer
from typer.core import TyperCommand, TyperGroup

F = TypeVar("F", bound=Callable[..., Any])

#: The value each option takes, by its long name; any other is its name in capitals.
VALUE_NAMES = {
    "--agent-id": "AGENT_ID",
    "--message": "TEXT",
    "--execute-at": "WHEN",
    "--at": "WHEN",
    "--cron": "WHEN",
    "--every": "WHEN",
    "--tz": "ZONE",
    "--role": "user|system|assistant",
    "--now": "ISO_TIME",
    "--name": "NAME",
    "--limit": "N",
    "--count": "N",
    "--max-schedules": "N",
    "--schedule-id": "ID",
    "--interval": "SECONDS",
    "--tick-every": "SECONDS",
    "--fetch-every": "SECONDS",
    "--timeout": "SECONDS",
    "--poll": "SECONDS",
    "--hold": "DURATION",
    "--hold-up-to": "DURATION",
    "--min-interval": "DURATION",
    "--repo": "PATH",
    "--github": "OWNER/NAME",
    "--serve-url": "URL",
    "--host": "HOST",
    "--port": "PORT",
}

#: Examples at the end of each help page, by the command's path after ``switchboard``.
EXAMPLES: dict[str, list[str]] = {
    "": [
        "switchboard demo",
        "switchboard init",
        'switchboard send --agent-id $AGENT_ID --message "Stand-up in 10 minutes" --execute-at "tomorrow at 9am"',
        'switchboard recurring create --agent-id $AGENT_ID --message "Weekly review" --cron "every friday at 4pm"',
        "switchboard results list",
    ],
    "send": [
        'switchboard send --agent-id $AGENT_ID --message "Right now, please"',
        'switchboard send --agent-id $AGENT_ID --message "Water the plants" --execute-at "tomorrow at 8am" '
        "--tz Europe/Berlin --name plants",
        'switchboard send --agent-id $AGENT_ID --message "Left to the tick" --no-deliver --no-dispatch',
    ],
    "onetime": ["switchboard onetime list", "switchboard onetime get plants", "switchboard onetime delete plants"],
    "onetime create": [
        'switchboard onetime create --agent-id $AGENT_ID --message "Quarterly report" '
        '--execute-at "2026-12-01T09:00:00-05:00"',
    ],
    "onetime list": ["switchboard onetime list", "switchboard onetime list --json"],
    "onetime get": ["switchboard onetime get plants", "switchboard onetime get 3f2b9c1e"],
    "onetime delete": ["switchboard onetime delete plants"],
    "onetime update": [
        'switchboard onetime update plants --execute-at "tomorrow at 7:30am" --tz Europe/Berlin --dry-run',
        'switchboard onetime update plants --message "Water the plants, please"',
    ],
    "recurring": ["switchboard recurring list", "switchboard recurring pause stand-up"],
    "recurring create": [
        'switchboard recurring create --agent-id $AGENT_ID --message "Stand-up" --cron "every weekday at 10am" '
        "--tz Europe/Berlin --name stand-up",
        'switchboard recurring create --agent-id $AGENT_ID --message "Heartbeat" --cron "*/30 * * * *"',
    ],
    "recurring list": ["switchboard recurring list", "switchboard recurring list --json"],
    "recurring get": ["switchboard recurring get stand-up"],
    "recurring delete": ["switchboard recurring delete stand-up"],
    "recurring pause": ["switchboard recurring pause stand-up"],
    "recurring resume": ["switchboard recurring resume stand-up"],
    "recurring run": ["switchboard recurring run stand-up"],
    "recurring update": [
        'switchboard recurring update stand-up --cron "every weekday at 9:30am" --dry-run',
        'switchboard recurring update stand-up --message "Stand-up in 5 minutes"',
    ],
    "results": ["switchboard results list", "switchboard results get plants"],
    "results list": [
        "switchboard results list",
        "switchboard results list --refresh",
        "switchboard results list --schedule-id 3f2b9c1e-8d4a-4b6e-9f0a-1c2d3e4f5a6b --limit 5 --json",
    ],
    "results get": ["switchboard results get plants", "switchboard results get 3f2b9c1e"],
    "explain": [
        'switchboard explain --at "tomorrow at 9am" --tz America/Los_Angeles',
        'switchboard explain --every "every weekday at 10am" --tz Europe/Berlin --count 3',
    ],
    "tick": ["switchboard tick --dry-run", "switchboard tick", "switchboard tick --watch --interval 60"],
    "watch": [
        "switchboard watch",
        "switchboard watch --fetch-every 10",
        "switchboard --repo ~/my-switchboard watch --json",
    ],
    "dispatch": ["switchboard dispatch", "switchboard dispatch --wait --timeout 600"],
    "import": ["switchboard import one-time.json", "switchboard import recurring.json --tz Europe/Berlin"],
    "init": ["switchboard init", "switchboard init --github you/my-switchboard"],
    "serve": ["switchboard serve --host 127.0.0.1 --port 8000 --tick-every 60"],
    "demo": ["switchboard demo", "switchboard demo --keep"],
    "doctor": ["switchboard doctor", "switchboard doctor --json"],
    "keys": ["switchboard keys generate", "switchboard keys rotate --new"],
    "keys generate": ["switchboard keys generate"],
    "keys rotate": [
        "switchboard keys rotate --new",
        'SWITCHBOARD_ENCRYPTION_KEY="$(switchboard keys generate),$SWITCHBOARD_ENCRYPTION_KEY" switchboard keys rotate',
    ],
    "config": ["switchboard config show", "switchboard config set-api-key"],
    "config set-api-key": ["switchboard config set-api-key"],
    "config set-url": ["switchboard config set-url http://localhost:8283"],
    "config set-repo": [
        "switchboard config set-repo ~/my-switchboard",
        "switchboard config set-repo --github you/my-switchboard",
    ],
    "config show": ["switchboard config show", "switchboard config show --json"],
    "config set-tz": ["switchboard config set-tz Europe/Berlin"],
    "skill": ["switchboard skill install", "switchboard skill show"],
    "skill install": [
        "switchboard skill install",
        "switchboard skill install --project .",
        "switchboard skill install --agent-id $AGENT_ID",
    ],
    "skill show": ["switchboard skill show"],
    "agent-tools": ["switchboard agent-tools show --agent-id $AGENT_ID"],
    "agent-tools attach": [
        "switchboard agent-tools attach --agent-id $AGENT_ID --serve-url http://127.0.0.1:8000",
        "switchboard agent-tools attach --agent-id $AGENT_ID --max-schedules 20 --min-interval 1h --tz Europe/Berlin",
    ],
    "agent-tools detach": ["switchboard agent-tools detach --agent-id $AGENT_ID"],
    "agent-tools show": ["switchboard agent-tools show --agent-id $AGENT_ID"],
}


def _long_name(option: Any) -> str:
    """An option's first long name (``--execute-at`` of ``--execute-at, --at``)."""
    names: list[str] = list(option.opts)
    return next((name for name in names if name.startswith("--")), names[0])


def _no_type_label(ctx: Any) -> None:
    return None


def name_values(params: list[Any]) -> None:
    """Give each option a value name instead of a type label, and flags none."""
    for param in params:
        if param.param_type_name == "argument":
            # typer labels an argument's type whatever its metavar says; its name (ID, FILE) says enough.
            param.display_type_rich = _no_type_label
            continue
        if param.param_type_name != "option":
            continue
        if param.is_flag:
            param.metavar = ""  # a flag takes no value: nothing to label
        elif param.metavar is None:
            long = _long_name(param)
            param.metavar = VALUE_NAMES.get(long, long.lstrip("-").replace("-", "_").upper())


def usage_pieces(command: Any, ctx: Any) -> list[str]:
    """The usage line after the command's name: required options with their values, ``[OPTIONS]``, arguments."""
    pieces: list[str] = []
    optional = False
    for param in command.get_params(ctx):
        if param.param_type_name == "option":
            if param.required:
                pieces.append(f"{_long_name(param)} {param.metavar}")
            else:
                optional = True
    if optional:
        pieces.append("[OPTIONS]")
    for param in command.get_params(ctx):
        if param.param_type_name == "argument":
            shown = param.metavar or param.name.upper()
            pieces.append(shown if param.required else f"[{shown}]")
    return pieces


def examples_of(ctx: Any) -> str | None:
    """The examples for the command ``ctx`` runs, as a help page's last paragraph."""
    path = " ".join(ctx.command_path.split()[1:])
    lines = EXAMPLES.get(path)
    if not lines:
        return None
    # \[ keeps rich markup out of an example.
    return "Examples:\n" + "\n".join(f"  {line}".replace("[", "\\[") for line in lines)


class ReadableCommand(TyperCommand):
    """A command whose help names values, shows a usage line as typed, and ends with examples."""

    def get_params(self, ctx: Any) -> Any:
        """The parameters, ``--help`` included, with their values named."""
        params = super().get_params(ctx)
        name_values(params)
        return params

    def collect_usage_pieces(self, ctx: Any) -> list[str]:
        """What follows the command's name in its usage line."""
        return usage_pieces(self, ctx)

    def format_help(self, ctx: Any, formatter: Any) -> None:
        """The help page, with the command's examples at the end."""
        self.epilog = examples_of(ctx)
        super().format_help(ctx, formatter)


class ReadableGroup(TyperGroup):
    """A group of commands whose help names values and ends with examples."""

    def get_params(self, ctx: Any) -> Any:
        """The parameters, ``--help`` and the completion switches included, with their values named."""
        params = super().get_params(ctx)
        name_values(params)
        return params

    def format_help(self, ctx: Any, formatter: Any) -> None:
        """The help page, with the group's examples at the end."""
        self.epilog = examples_of(ctx)
        super().format_help(ctx, formatter)


class ReadableTyper(typer.Typer):
    """A typer app whose commands and groups are ``ReadableCommand`` and ``ReadableGroup`` unless told otherwise."""

    def __init__(self, **kwargs: Any) -> None:
        """Like ``typer.Typer``, with ``ReadableGroup`` as the group class."""
        kwargs.setdefault("cls", ReadableGroup)
        super().__init__(**kwargs)

    def command(self, *args: Any, **kwargs: Any) -> Callable[[F], F]:
        """Like ``typer.Typer.command``, with ``ReadableCommand`` as the command class."""
        kwargs.setdefault("cls", ReadableCommand)
        decorator: Callable[[F], F] = super().command(*args, **kwargs)
        return decorator
