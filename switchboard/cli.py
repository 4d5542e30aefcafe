"""The `switchboard` command line: read options, call one library function, print.

Every command maps switchboard's errors to one ``Error: …`` line on stderr and
exit status 1. ``--json`` prints only JSON on stdout. Natural language,
FastAPI and PyGithub are imported only by the commands that need them, so
``switchboard tick`` starts fast.
"""

from __future__ import annotations

import functools
import json
import sys
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

import typer

from switchboard import config as config_mod
from switchboard.config import Settings
from switchboard.exceptions import InvalidInputError, SwitchboardError
from switchboard.models import Result, Schedule

F = TypeVar("F", bound=Callable[..., Any])

app = typer.Typer(
    name="switchboard",
    help="Scheduled and immediate messages for Letta agents, stored encrypted in your git repository.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    pretty_exceptions_show_locals=False,
)
keys_app = typer.Typer(help="Make and rotate the encryption key.", no_args_is_help=True)
onetime_app = typer.Typer(help="One-time schedules.", no_args_is_help=True)
recurring_app = typer.Typer(help="Recurring schedules.", no_args_is_help=True)
results_app = typer.Typer(help="Delivery results, with Letta run ids.", no_args_is_help=True)
config_app = typer.Typer(help="The user config file.", no_args_is_help=True)
app.add_typer(keys_app, name="keys")
app.add_typer(onetime_app, name="onetime")
app.add_typer(recurring_app, name="recurring")
app.add_typer(results_app, name="results")
app.add_typer(config_app, name="config")

JSON_OPT = typer.Option(False, "--json", help="Print only JSON on stdout.")
AGENT_OPT = typer.Option(..., "--agent-id", help="The Letta agent to message, e.g. agent-1234…")
MESSAGE_OPT = typer.Option(..., "--message", "-m", help="The text the agent receives.")
ROLE_OPT = typer.Option("user", "--role", help="user, system or assistant.")
TZ_OPT = typer.Option("UTC", "--tz", help="IANA time zone the phrase is read in, e.g. Europe/Berlin.")
NOW_OPT = typer.Option(None, "--now", help="Pretend it is this ISO 8601 instant (for trying things out).")


# -- plumbing ----------------------------------------------------------------


def fail(message: str) -> typer.Exit:
    """Print one Error: line and give the exit to raise."""
    typer.echo(f"Error: {message}", err=True)
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


def settings(ctx: typer.Context) -> Settings:
    """Resolved settings for this invocation."""
    flags = ctx.find_root().obj or {}
    return config_mod.resolve(flags)


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


def print_json(data: Any) -> None:
    """JSON on stdout, nothing else."""
    typer.echo(json.dumps(data, indent=2, ensure_ascii=False))


def table(title: str, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    """A rich table for people."""
    from rich.console import Console
    from rich.table import Table

    out = Table(title=title, title_justify="left")
    for column in columns:
        out.add_column(column, overflow="fold")
    for row in rows:
        out.add_row(*["" if cell is None else str(cell) for cell in row])
    Console().print(out)


def show_schedules(items: Sequence[Schedule], as_json: bool, title: str) -> None:
    """Schedules as JSON or as a table."""
    if as_json:
        print_json([s.public() for s in items])
        return
    if not items:
        typer.echo(f"No {title.lower()}.")
        return
    rows = []
    for s in items:
        p = s.public()
        when = p.get("execute_at") or f"{p['cron']} ({p['timezone']}) next {p['next_run'] or '-'}"
        rows.append([p["id"], p["agent_id"], p["role"], when, p.get("status", "pending"), _short(p["message"])])
    table(title, ["id", "agent", "role", "when", "status", "message"], rows)


def show_results(items: Sequence[Result], as_json: bool) -> None:
    """Results as JSON or as a table."""
    if as_json:
        print_json([r.public() for r in items])
        return
    if not items:
        typer.echo("No results yet.")
        return
    rows = [
        [
            r.schedule_id,
            r.schedule_type,
            r.status,
            r.run_id or "-",
            r.agent_id,
            r.scheduled_for.isoformat(),
            r.executed_at.isoformat(),
            r.error or "",
        ]
        for r in items
    ]
    table("Results", ["schedule", "type", "status", "run id", "agent", "scheduled for", "executed at", "error"], rows)


def _short(text: str, width: int = 40) -> str:
    line = " ".join(text.split())
    return line if len(line) <= width else line[: width - 1] + "…"


# -- root ----------------------------------------------------------------------


@app.callback()
def root(
    ctx: typer.Context,
    repo: str = typer.Option(None, "--repo", help="Local clone to write to (default: the git root here)."),
    github: str = typer.Option(None, "--github", help="OWNER/NAME: write through the GitHub API, no clone."),
) -> None:
    """Scheduled and immediate messages for Letta agents."""
    ctx.obj = {"repo": repo, "github_repo": github}


# -- keys ------------------------------------------------------------------------


@keys_app.command("generate")
@handled
def keys_generate(as_json: bool = JSON_OPT) -> None:
    """Print a new Fernet key for SWITCHBOARD_ENCRYPTION_KEY."""
    from switchboard.crypto import generate_key

    key = generate_key()
    if as_json:
        print_json({"key": key})
    else:
        typer.echo(key)
        typer.echo(
            "Set it as SWITCHBOARD_ENCRYPTION_KEY here and as the repository secret of the same name. "
            "Keep it safe: without it the schedules cannot be read.",
            err=True,
        )


@keys_app.command("rotate")
@handled
def keys_rotate(ctx: typer.Context, as_json: bool = JSON_OPT) -> None:
    """Re-encrypt every file under data/ with the first key in SWITCHBOARD_ENCRYPTION_KEY."""
    from switchboard.service import rotate_keys

    count = rotate_keys(store_of(ctx))
    if as_json:
        print_json({"reencrypted": count})
    else:
        typer.echo(f"Re-encrypted {count} files with the newest key, in one commit. Older keys can now be dropped.")


# -- one-time ------------------------------------------------------------------


def _send(
    ctx: typer.Context,
    agent_id: str,
    message: str,
    execute_at: str | None,
    tz: str,
    role: str,
    now: str | None,
    as_json: bool,
) -> None:
    from switchboard.service import add_one_time

    clock = parse_now(now)
    if execute_at is None:
        when = clock
    else:
        from switchboard.timeparse import parse_instant

        when = parse_instant(execute_at, tz=tz, now=clock)
    conf = settings(ctx)
    from switchboard.context import open_store

    schedule = add_one_time(
        open_store(conf),
        api_key=conf.api_key,
        base_url=conf.base_url,
        agent_id=agent_id,
        message=message,
        execute_at=when,
        now=clock,
        role=role,
    )
    if as_json:
        print_json(schedule.public())
    else:
        typer.echo(f"Scheduled one-time {schedule.id} for {schedule.execute_at.isoformat()} (agent {agent_id}).")


@app.command("send")
@handled
def send(
    ctx: typer.Context,
    agent_id: str = AGENT_OPT,
    message: str = MESSAGE_OPT,
    execute_at: str = typer.Option(
        None, "--execute-at", "--at", help='When: "tomorrow at 9am", "in 5 minutes", ISO 8601. Default: now.'
    ),
    tz: str = TZ_OPT,
    role: str = ROLE_OPT,
    now: str = NOW_OPT,
    as_json: bool = JSON_OPT,
) -> None:
    """Schedule a message once (now, when no time is given)."""
    _send(ctx, agent_id, message, execute_at, tz, role, now, as_json)


@onetime_app.command("create")
@handled
def onetime_create(
    ctx: typer.Context,
    agent_id: str = AGENT_OPT,
    message: str = MESSAGE_OPT,
    execute_at: str = typer.Option(
        None, "--execute-at", "--at", help='When: "tomorrow at 9am", ISO 8601… Default: now.'
    ),
    tz: str = TZ_OPT,
    role: str = ROLE_OPT,
    now: str = NOW_OPT,
    as_json: bool = JSON_OPT,
) -> None:
    """Schedule a message once (the same as `send`)."""
    _send(ctx, agent_id, message, execute_at, tz, role, now, as_json)


@onetime_app.command("list")
@handled
def onetime_list(ctx: typer.Context, as_json: bool = JSON_OPT) -> None:
    """Your pending one-time schedules."""
    from switchboard.service import list_one_time

    show_schedules(list_one_time(store_of(ctx), settings(ctx).api_key), as_json, "One-time schedules")


@onetime_app.command("get")
@handled
def onetime_get(
    ctx: typer.Context, schedule_id: str = typer.Argument(..., metavar="ID"), as_json: bool = JSON_OPT
) -> None:
    """One one-time schedule."""
    from switchboard.service import get_schedule

    show_schedules(
        [get_schedule(store_of(ctx), settings(ctx).api_key, schedule_id, "one-time")], as_json, "One-time schedule"
    )


@onetime_app.command("delete")
@handled
def onetime_delete(
    ctx: typer.Context, schedule_id: str = typer.Argument(..., metavar="ID"), as_json: bool = JSON_OPT
) -> None:
    """Delete a one-time schedule."""
    from switchboard.service import delete_schedule

    gone = delete_schedule(store_of(ctx), settings(ctx).api_key, schedule_id, "one-time")
    print_json({"message": "Schedule deleted", "id": gone.id}) if as_json else typer.echo(
        f"Deleted one-time {gone.id}."
    )


# -- recurring -------------------------------------------------------------------


@recurring_app.command("create")
@handled
def recurring_create(
    ctx: typer.Context,
    agent_id: str = AGENT_OPT,
    message: str = MESSAGE_OPT,
    cron: str = typer.Option(
        ..., "--cron", "--every", help='"every weekday at 10am", "every 15 minutes" or cron "0 10 * * 1-5".'
    ),
    tz: str = TZ_OPT,
    role: str = ROLE_OPT,
    now: str = NOW_OPT,
    as_json: bool = JSON_OPT,
) -> None:
    """Schedule a message at every fire of a cron expression (or phrase) in a time zone."""
    from switchboard.context import open_store
    from switchboard.service import add_recurring
    from switchboard.timeparse import parse_recurring

    expression, zone = parse_recurring(cron, tz=tz)
    conf = settings(ctx)
    schedule = add_recurring(
        open_store(conf),
        api_key=conf.api_key,
        base_url=conf.base_url,
        agent_id=agent_id,
        message=message,
        cron=expression,
        timezone=zone,
        now=parse_now(now),
        role=role,
    )
    if as_json:
        print_json(schedule.public())
    else:
        typer.echo(f"Scheduled recurring {schedule.id}: {expression} in {zone}, next {schedule.public()['next_run']}.")


@recurring_app.command("list")
@handled
def recurring_list(ctx: typer.Context, as_json: bool = JSON_OPT) -> None:
    """Your recurring schedules."""
    from switchboard.service import list_recurring

    show_schedules(list_recurring(store_of(ctx), settings(ctx).api_key), as_json, "Recurring schedules")


@recurring_app.command("get")
@handled
def recurring_get(
    ctx: typer.Context, schedule_id: str = typer.Argument(..., metavar="ID"), as_json: bool = JSON_OPT
) -> None:
    """One recurring schedule."""
    from switchboard.service import get_schedule

    show_schedules(
        [get_schedule(store_of(ctx), settings(ctx).api_key, schedule_id, "recurring")], as_json, "Recurring schedule"
    )


@recurring_app.command("delete")
@handled
def recurring_delete(
    ctx: typer.Context, schedule_id: str = typer.Argument(..., metavar="ID"), as_json: bool = JSON_OPT
) -> None:
    """Delete a recurring schedule."""
    from switchboard.service import delete_schedule

    gone = delete_schedule(store_of(ctx), settings(ctx).api_key, schedule_id, "recurring")
    print_json({"message": "Schedule deleted", "id": gone.id}) if as_json else typer.echo(
        f"Deleted recurring {gone.id}."
    )


def _pause(ctx: typer.Context, schedule_id: str, paused: bool, now: str | None, as_json: bool) -> None:
    from switchboard.service import set_paused

    schedule = set_paused(store_of(ctx), settings(ctx).api_key, schedule_id, paused=paused, now=parse_now(now))
    if as_json:
        print_json(schedule.public())
    else:
        typer.echo(f"Recurring {schedule.id} is {schedule.status}.")


@recurring_app.command("pause")
@handled
def recurring_pause(
    ctx: typer.Context,
    schedule_id: str = typer.Argument(..., metavar="ID"),
    now: str = NOW_OPT,
    as_json: bool = JSON_OPT,
) -> None:
    """Stop a recurring schedule from firing (it is kept)."""
    _pause(ctx, schedule_id, True, now, as_json)


@recurring_app.command("resume")
@handled
def recurring_resume(
    ctx: typer.Context,
    schedule_id: str = typer.Argument(..., metavar="ID"),
    now: str = NOW_OPT,
    as_json: bool = JSON_OPT,
) -> None:
    """Let a paused recurring schedule fire again, from now on."""
    _pause(ctx, schedule_id, False, now, as_json)


# -- results -------------------------------------------------------------------------


@results_app.command("list")
@handled
def results_list(
    ctx: typer.Context,
    schedule_id: str = typer.Option(None, "--schedule-id", help="Only this schedule's results."),
    limit: int = typer.Option(50, "--limit", min=1, help="At most this many, newest first."),
    as_json: bool = JSON_OPT,
) -> None:
    """Every delivery, newest first, with Letta's run id."""
    from switchboard.service import list_results

    show_results(list_results(store_of(ctx), settings(ctx).api_key, schedule_id=schedule_id, limit=limit), as_json)


@results_app.command("get")
@handled
def results_get(
    ctx: typer.Context, schedule_id: str = typer.Argument(..., metavar="SCHEDULE_ID"), as_json: bool = JSON_OPT
) -> None:
    """The results of one schedule, newest first."""
    from switchboard.service import list_results

    items = list_results(store_of(ctx), settings(ctx).api_key, schedule_id=schedule_id)
    if not items and not as_json:
        raise fail(f"no results for schedule {schedule_id} yet — it has not been delivered (see `switchboard tick`)")
    show_results(items, as_json)


# -- explain -------------------------------------------------------------------------


@app.command("explain")
@handled
def explain(
    at: str = typer.Option(None, "--at", help="A one-time phrase, e.g. 'tomorrow at 9am'."),
    every: str = typer.Option(None, "--every", help="A recurring phrase or cron, e.g. 'every weekday at 10am'."),
    tz: str = TZ_OPT,
    now: str = NOW_OPT,
    count: int = typer.Option(5, "--count", min=1, max=100, help="How many next fire times to show."),
    as_json: bool = JSON_OPT,
) -> None:
    """Show how a phrase is understood, and when it fires, before saving anything."""
    from switchboard.explain import explain_at, explain_every

    if (at is None) == (every is None):
        raise fail("give exactly one of --at TEXT or --every TEXT")
    clock = parse_now(now)
    data = explain_at(at, tz=tz, now=clock) if at is not None else explain_every(every, tz=tz, now=clock, count=count)
    if as_json:
        print_json(data)
        return
    if data["kind"] == "one-time":
        typer.echo(f"One-time, at {data['execute_at']} (UTC) = {data['local']} ({tz}).")
    else:
        typer.echo(f"Recurring: {data['cron']} in {data['timezone']} — {data['description']}.")
        for local, utc_time in zip(data["next_local"], data["next"], strict=True):
            typer.echo(f"  {local}   ({utc_time})")
    for warning in data.get("warnings", []):
        typer.echo(f"Warning: {warning}", err=True)


# -- tick ------------------------------------------------------------------------------


@app.command("tick")
@handled
def tick(
    ctx: typer.Context,
    now: str = NOW_OPT,
    dry_run: bool = typer.Option(False, "--dry-run", help="Say what is due; send and commit nothing."),
    watch: bool = typer.Option(False, "--watch", help="Run a pass every --interval seconds until stopped."),
    interval: float = typer.Option(60.0, "--interval", min=1.0, help="Seconds between passes with --watch."),
    hold_up_to: str = typer.Option(
        None, "--hold-up-to", help="After a pass, wait up to this long (e.g. 4m) for what falls due next."
    ),
    fail_on_permanent: bool = typer.Option(
        True, "--fail-on-permanent/--no-fail-on-permanent", help="Exit 1 when a delivery failed for good."
    ),
    as_json: bool = JSON_OPT,
) -> None:
    """Deliver everything due (one pass), and commit the results."""
    from switchboard.runner import run_tick_command

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


# -- import ------------------------------------------------------------------------------


@app.command("import")
@handled
def import_cmd(
    ctx: typer.Context,
    file: Path = typer.Argument(..., help="JSON from the hosted service's list endpoints."),
    tz: str = typer.Option(
        "UTC", "--tz", help="Zone for recurring schedules that name none (the hosted service used UTC)."
    ),
    now: str = NOW_OPT,
    as_json: bool = JSON_OPT,
) -> None:
    """Import schedules exported from the hosted service, in one commit."""
    from switchboard.context import open_store
    from switchboard.service import import_schedules

    try:
        payload = json.loads(file.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise fail(f"{file} does not exist — give the path of the exported JSON") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise fail(f"{file} is not readable JSON ({exc.__class__.__name__}) — nothing was imported") from None

    def progress(done: int, total: int) -> None:
        if total >= 500 and not as_json:
            typer.echo(f"  prepared {done}/{total}", err=True)

    conf = settings(ctx)
    one, rec = import_schedules(
        open_store(conf),
        payload,
        api_key=conf.api_key,
        base_url=conf.base_url,
        now=parse_now(now),
        timezone=tz,
        progress=progress,
    )
    if as_json:
        print_json({"one_time": one, "recurring": rec})
    else:
        typer.echo(f"Imported {one} one-time and {rec} recurring schedules in one commit.")


# -- config ----------------------------------------------------------------------------------


def _set(name: str, value: str) -> None:
    path = config_mod.config_path()
    config_mod.write_config(path, name, value)
    typer.echo(f"Saved {name} in {path} (mode 0600).")


@config_app.command("set-api-key")
@handled
def config_set_api_key(key: str = typer.Argument(..., help="Your Letta API key.")) -> None:
    """Save the Letta API key in the user config file."""
    _set("api_key", key)


@config_app.command("set-url")
@handled
def config_set_url(url: str = typer.Argument(..., help="Letta base URL, e.g. http://localhost:8283.")) -> None:
    """Save the Letta base URL in the user config file."""
    if not url.startswith(("http://", "https://")):
        raise fail(f'"{url}" is not an http(s) URL — e.g. https://api.letta.com or http://localhost:8283')
    _set("base_url", url.rstrip("/"))


@config_app.command("set-repo")
@handled
def config_set_repo(
    path: str = typer.Argument(None, help="Local clone to write to."),
    github: str = typer.Option(None, "--github", help="OWNER/NAME to write through the GitHub API."),
) -> None:
    """Save which repository switchboard writes to."""
    if (path is None) == (github is None):
        raise fail("give either a PATH to a clone or --github OWNER/NAME")
    if github is not None:
        if github.count("/") != 1 or not all(github.split("/")):
            raise fail(f'"{github}" is not OWNER/NAME — e.g. --github octocat/my-switchboard')
        _set("github_repo", github)
    else:
        _set("repo", str(Path(path).expanduser().resolve()))


@config_app.command("show")
@handled
def config_show(ctx: typer.Context, as_json: bool = JSON_OPT) -> None:
    """Show the resolved settings (secrets only as set / not set)."""
    shown = settings(ctx).shown()
    shown["config_file"] = str(config_mod.config_path())
    if as_json:
        print_json(shown)
    else:
        table("Settings", ["setting", "value"], [[k, v] for k, v in shown.items()])


# -- init / demo -------------------------------------------------------------------------------


@app.command("init")
@handled
def init(ctx: typer.Context, as_json: bool = JSON_OPT) -> None:
    """Make a key (unless one is set) and the repository's tenant secret, and say what to do next."""
    from switchboard.setup import init_repository

    outcome = init_repository(settings(ctx))
    if as_json:
        print_json({k: v for k, v in outcome.items() if k != "steps"} | {"steps": outcome["steps"]})
        return
    for step in outcome["steps"]:
        typer.echo(step)


@app.command("demo")
@handled
def demo(
    agent_id: str = typer.Option(
        None, "--agent-id", help="With LETTA_API_KEY and LETTA_BASE_URL: send to this real agent."
    ),
) -> None:
    """Watch the whole product work, offline, in a throwaway repository."""
    from switchboard.demo import run_demo

    run_demo(agent_id=agent_id, out=typer.echo)


def main(argv: list[str] | None = None) -> int:
    """Entry point: usage errors become one Error: line with exit status 1, too."""
    import click

    try:
        app(args=argv, prog_name="switchboard", standalone_mode=False)
    except click.exceptions.Exit as exc:
        return exc.exit_code
    except click.exceptions.Abort:
        typer.echo("Error: aborted", err=True)
        return 1
    except click.exceptions.UsageError as exc:
        hint = f" — see `{exc.ctx.command_path} --help`" if exc.ctx else ""
        typer.echo(f"Error: {exc.format_message()}{hint}", err=True)
        return 1
    except click.exceptions.ClickException as exc:
        typer.echo(f"Error: {exc.format_message()}", err=True)
        return 1
    except KeyboardInterrupt:
        typer.echo("Error: interrupted", err=True)
        return 130
    return 0


def run() -> None:
    """Console-script entry."""
    sys.exit(main())


if __name__ == "__main__":  # pragma: no cover
    run()

