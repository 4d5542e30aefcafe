"""The root of the command line: the typer app, its global options, ``Error:`` lines, settings, ``main``.

Every command module takes what it shares from here: the ``--json``, ``--tz``
and ``--now`` options, ``handled`` (switchboard's errors become one
``Error: …`` line and exit 1) and ``settings`` (flags > environment > config
file). ``main`` does the same for click's usage errors and for anything
unexpected.
"""

from __future__ import annotations

import functools
import importlib
import os
import platform
import re
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Annotated, Any, TypeVar

import typer

from switchboard import config as config_mod
from switchboard.cli.helppages import ReadableTyper
from switchboard.config import Settings
from switchboard.exceptions import InvalidInputError, SwitchboardError

F = TypeVar("F", bound=Callable[..., Any])

app = ReadableTyper(
    name="switchboard",
    help="Scheduled and immediate messages for Letta agents, stored encrypted in your git repository.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    pretty_exceptions_show_locals=False,
)

JsonFlag = Annotated[bool, typer.Option("--json", help="Print only JSON on stdout.")]
ZoneOption = Annotated[
    str | None,
    typer.Option(
        "--tz",
        help="IANA time zone the phrase is read in, e.g. Europe/Berlin "
        "(default: SWITCHBOARD_TZ, else `config set-tz`, else this machine's zone).",
    ),
]
NowOption = Annotated[
    str | None, typer.Option("--now", help="Pretend it is this ISO 8601 instant (for trying things out).")
]
ScheduleRef = Annotated[
    str, typer.Argument(metavar="ID", help="The schedule's id, its name, or 8+ first characters of its id.")
]


def version_line() -> str:
    """``switchboard 0.1.0 (Python 3.11.7)``: what ``--version`` and ``doctor`` print."""
    from switchboard import __version__

    return f"switchboard {__version__} (Python {platform.python_version()})"


def _print_version(value: bool) -> None:
    if value:
        typer.echo(version_line())
        raise typer.Exit(0)


@app.callback()
def root(
    ctx: typer.Context,
    repo: Annotated[
        str | None, typer.Option("--repo", help="Local clone to write to (default: the git root here).")
    ] = None,
    github: Annotated[
        str | None, typer.Option("--github", help="OWNER/NAME: write through the GitHub API, no clone.")
    ] = None,
    version: Annotated[
        bool, typer.Option("--version", callback=_print_version, is_eager=True, help="Print the version and exit.")
    ] = False,
) -> None:
    """Scheduled and immediate messages for Letta agents."""
    ctx.obj = {"repo": repo, "github_repo": github}


# -- errors ----------------------------------------------------------------------------------------


def fail(message: str) -> typer.Exit:
    """Print one Error: line and give the exit to raise."""
    # One line, always: a value quoted in the message may hold a line break.
    typer.echo("Error: " + " ".join(message.splitlines()), err=True)
    return typer.Exit(1)


def handled(func: F) -> F:
    """Turn switchboard's errors into one Error: line and exit 1."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except SwitchboardError as exc:
            raise fail(str(exc)) from None

    return wrapper  # type: ignore[return-value]


# -- settings --------------------------------------------------------------------------------------


def settings(ctx: typer.Context) -> Settings:
    """Resolved settings for this invocation."""
    flags = ctx.find_root().obj or {}
    return config_mod.resolve(flags)


def zone_of(ctx: typer.Context, tz: str | None) -> str:
    """The zone a phrase is read in: --tz, else SWITCHBOARD_TZ, else `config set-tz`, else this machine's zone."""
    from switchboard.zones import system_zone, zone

    conf = settings(ctx)
    return zone(tz or conf.timezone or system_zone(conf.env)).key


def store_of(ctx: typer.Context) -> Any:
    """The store this invocation writes to."""
    from switchboard.context import open_store

    return open_store(settings(ctx))


def parse_now(value: str | None) -> datetime:
    """``--now`` as an aware UTC datetime, or the real clock."""
    if value is None:
        return datetime.now(UTC)
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise InvalidInputError(f'--now "{value}" is not ISO 8601 — e.g. 2026-03-10T15:20:00Z') from None
    if parsed.tzinfo is None:
        raise InvalidInputError(f'--now "{value}" has no UTC offset — add Z or +01:00')
    return parsed.astimezone(UTC)


# -- entry point -----------------------------------------------------------------------------------

#: The click typer runs on: its own copy (typer >= 0.29) or the click package; found via a public name.
_click = importlib.import_module(typer.BadParameter.__module__)
_EXITS: tuple[type[BaseException], ...] = tuple({typer.Exit, getattr(_click, "Exit", typer.Exit)})
_ABORTS: tuple[type[BaseException], ...] = tuple({typer.Abort, getattr(_click, "Abort", typer.Abort)})
_EXTRA_ARGS = re.compile(r"^Got unexpected extra argument(?:s|\(s\))? \((.*)\)", re.DOTALL)


def usage_message(exc: Exception) -> str:
    """A click usage error as one line that never repeats stray arguments (they may be message text)."""
    message = " ".join(str(exc.format_message()).split())  # type: ignore[attr-defined]
    extra = _EXTRA_ARGS.match(message)
    if extra:
        count = len(extra.group(1).split())
        message = (
            f"{count} unexpected extra argument{'s' if count != 1 else ''} — put a value with spaces in quotes, "
            f'e.g. --message "Good morning"'
        )
    message = message[:1].lower() + message[1:].rstrip(".")
    ctx = getattr(exc, "ctx", None)
    return f"{message} — see `{ctx.command_path} --help`" if ctx is not None else message


#: Optional dependencies by import name, and the extra of pyproject.toml that brings each.
_EXTRAS = {"github": "github", "fastapi": "api", "uvicorn": "api"}


def main(argv: list[str] | None = None) -> int:
    """Entry point: usage errors, and anything unexpected, become one Error: line with exit status 1, too."""
    try:
        # Not standalone, click *returns* the code of a typer.Exit instead of raising it.
        code = app(args=argv, prog_name="switchboard", standalone_mode=False)
        if isinstance(code, int) and not isinstance(code, bool):
            return code
    except _EXITS as exc:
        return int(getattr(exc, "exit_code", 1))
    except _ABORTS:
        typer.echo("Error: aborted", err=True)
        return 1
    except _click.NoArgsIsHelpError as exc:
        # `switchboard onetime` alone: show what it offers (typer may have printed it already).
        text = exc.format_message()
        if text.strip():
            typer.echo(text)
        return 0
    except _click.UsageError as exc:
        typer.echo(f"Error: {usage_message(exc)}", err=True)
        return 1
    except _click.ClickException as exc:
        typer.echo(f"Error: {' '.join(exc.format_message().split())}", err=True)
        return 1
    except KeyboardInterrupt:
        typer.echo("Error: interrupted", err=True)
        return 130
    except BrokenPipeError:
        # `switchboard results list | head`: the reader left; say nothing more on a closed pipe.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1
    except Exception as exc:
        if config_mod.read_environment().get("SWITCHBOARD_DEBUG"):
            raise
        missing = exc.name or "" if isinstance(exc, ModuleNotFoundError) else ""
        extra = _EXTRAS.get(missing.partition(".")[0])
        if extra is not None:
            typer.echo(
                f"Error: this command needs switchboard's [{extra}] extra ({missing} is not installed) — "
                f"reinstall with it, e.g. `uv tool install --force '.[api,github]'` in a checkout",
                err=True,
            )
            return 1
        # No traceback and no exception text: either may hold a message or a key.
        typer.echo(
            f"Error: unexpected {type(exc).__name__} — this is a bug in switchboard; run again with "
            f"SWITCHBOARD_DEBUG=1 to see the traceback, and please report it",
            err=True,
        )
        return 1
    return 0


def run() -> None:
    """Console-script entry."""
    sys.exit(main())
