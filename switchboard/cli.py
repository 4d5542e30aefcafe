"""The `switchboard` command line: read options, call one library function, print.

Every command maps switchboard's errors to one ``Error: …`` line on stderr and
exit status 1. ``--json`` prints only JSON on stdout. Natural language,
FastAPI and PyGithub are imported only by the commands that need them, so
``switchboard tick`` starts fast.
"""

from __future__ import annotations

import functools
import importlib
import json
import os
import re
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

import typer

from switchboard import config as config_mod
from switchboard.config import Settings
from switchboard.exceptions import InvalidInputError, SwitchboardError
from switchboard.models import OneTimeSchedule, RecurringSchedule, Result, Schedule, iso

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
NO_DISPATCH_OPT = typer.Option(
    False, "--no-dispatch", help="Do not start the tick workflow; leave the message to the scheduled tick."
)


# -- plumbing ----------------------------------------------------------------


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


@dataclass(frozen=True)
class Column:
    """A table column: ``keep`` ranks what a narrow terminal keeps; ``cut`` text may end in "…"."""

    header: str
    keep: int = 5
    cut: bool = False
    right: bool = False


#: Gap between columns, and the narrowest a cut column gets.
_GAP, _MIN_CUT = 2, 12


def render_table(title: str, columns: Sequence[Column], rows: Sequence[Sequence[str]], width: int | None) -> list[str]:
    """Plain-text table lines; within ``width`` by cutting text columns, then hiding the least kept ones.

    Ids, times and statuses are never cut. ``width`` None (not a terminal) means no limit.
    """
    from rich.cells import cell_len, set_cell_size

    shown = list(range(len(columns)))
    natural = [max([cell_len(c.header)] + [cell_len(r[i]) for r in rows]) for i, c in enumerate(columns)]
    least = [min(natural[i], max(_MIN_CUT, cell_len(c.header))) if c.cut else natural[i] for i, c in enumerate(columns)]

    def total(sizes: Sequence[int]) -> int:
        return sum(sizes[i] for i in shown) + _GAP * (len(shown) - 1)

    if width is not None:
        while len(shown) > 1 and total(least) > width:
            shown.remove(min(shown, key=lambda i: (columns[i].keep, -i)))
    sizes = list(natural)
    if width is not None:
        # Cut the widest text column first, one cell at a time, until the table fits.
        while total(sizes) > width:
            cuttable = [i for i in shown if sizes[i] > least[i]]
            if not cuttable:
                break
            widest = max(cuttable, key=lambda i: sizes[i])
            sizes[widest] -= 1

    def cell(text: str, i: int) -> str:
        if cell_len(text) > sizes[i]:
            text = set_cell_size(text, sizes[i] - 1) + "…"
        pad = " " * (sizes[i] - cell_len(text))
        return pad + text if columns[i].right else text + pad

    def line(cells: Sequence[str]) -> str:
        return (" " * _GAP).join(cell(cells[i], i) for i in shown).rstrip()

    hidden = len(columns) - len(shown)
    note = (
        f"  ({hidden} column{'s' if hidden != 1 else ''} hidden: widen the terminal, or use --json)" if hidden else ""
    )
    return [
        title + note,
        line([c.header for c in columns]),
        line(["─" * sizes[i] for i in range(len(columns))]),
        *(line(row) for row in rows),
    ]


def table(title: str, columns: Sequence[Column], rows: Sequence[Sequence[Any]]) -> None:
    """Print a table: fitted to a terminal; piped or redirected, never cut."""
    import shutil

    width = shutil.get_terminal_size().columns if sys.stdout.isatty() else None
    cells = [["-" if value is None else str(value) for value in row] for row in rows]
    # A message's line breaks would break the table's rows.
    cells = [[" ".join(value.split()) for value in row] for row in cells]
    typer.echo("\n".join(render_table(title, columns, cells, width)))


def when(instant: datetime | None, zone_name: str = "UTC") -> str:
    """An instant for people: minutes, in a zone, with the zone's abbreviation."""
    if instant is None:
        return "-"
    from switchboard.timeparse import zone

    local = instant.astimezone(zone(zone_name))
    return f"{local:%Y-%m-%d %H:%M} {local.tzname()}"


def show_schedules(items: Sequence[Schedule], as_json: bool, title: str, *, hint: str = "") -> None:
    """Schedules as JSON or as a table (one kind at a time); ``hint`` follows an empty list."""
    if as_json:
        print_json([s.public() for s in items])
        return
    if not items:
        typer.echo(f"No {title.lower()} for this Letta key.{hint}")
        return
    roles = any(s.role != "user" for s in items)
    role_column = [Column("role", keep=2)] if roles else []
    rows: list[list[str]] = []
    if isinstance(items[0], OneTimeSchedule):
        columns = [Column("id", keep=9), Column("due", keep=8), *role_column]
        columns += [Column("message", keep=5, cut=True), Column("agent", keep=4, cut=True)]
        for s in items:
            assert isinstance(s, OneTimeSchedule)
            rows.append([s.id, when(s.execute_at), *([s.role] if roles else []), _short(s.message), s.agent_id])
    else:
        columns = [Column("id", keep=9), Column("cron", keep=8), Column("next run", keep=8), Column("status", keep=7)]
        columns += [Column("zone", keep=6, cut=True), *role_column]
        columns += [Column("message", keep=5, cut=True), Column("agent", keep=4, cut=True)]
        for s in items:
            assert isinstance(s, RecurringSchedule)
            status = s.status if s.claimed_by is None else f"{s.status}, sending"
            rows.append(
                [
                    s.id,
                    s.cron,
                    when(s.next_run(), s.timezone),
                    status,
                    s.timezone,
                    *([s.role] if roles else []),
                    _short(s.message),
                    s.agent_id,
                ]
            )
    table(f"{title} ({len(items)})", columns, rows)


def show_schedule(item: Schedule, as_json: bool) -> None:
    """One schedule as a JSON object, or field by field with the whole message."""
    if as_json:
        print_json(item.public())
        return
    fields: list[tuple[str, str]] = [("agent", item.agent_id), ("role", item.role)]
    if isinstance(item, OneTimeSchedule):
        title = f"One-time schedule {item.id}"
        fields.append(("due", f"{when(item.execute_at)} ({iso(item.execute_at)})"))
    else:
        from switchboard.timeparse import describe_cron

        title = f"Recurring schedule {item.id}"
        fields += [
            ("schedule", f"{item.cron} in {item.timezone} — {describe_cron(item.cron)}"),
            ("next run", when(item.next_run(), item.timezone)),
            ("last run", when(item.last_run, item.timezone)),
            ("status", item.status + (f" ({item.paused_reason})" if item.paused_reason else "")),
        ]
    fields.append(("created", when(item.created_at)))
    typer.echo(title)
    for name, value in fields:
        typer.echo(f"  {name:<9} {value}")
    lines = item.message.splitlines() or [""]
    typer.echo(f"  {'message':<9} {lines[0]}")
    for line in lines[1:]:
        typer.echo(f"  {'':<9} {line}")


def show_results(items: Sequence[Result], as_json: bool, *, schedule_id: str | None = None, hint: str = "") -> None:
    """Results as JSON or as a table, newest first; ``hint`` follows an empty list."""
    if as_json:
        print_json([r.public() for r in items])
        return
    if not items:
        typer.echo(f"No results yet for this Letta key: nothing has been delivered (see `switchboard tick`).{hint}")
        return
    one = schedule_id is not None
    columns = [Column("sent", keep=9)]
    if not one:
        columns += [Column("schedule", keep=6), Column("type", keep=3)]
    columns += [Column("status", keep=8), Column("run id", keep=7), Column("late", keep=5, right=True)]
    columns += [Column("note", keep=4, cut=True)]
    rows = [
        [
            when(r.executed_at),
            *([] if one else [r.schedule_id, r.schedule_type]),
            r.status,
            r.run_id or "-",
            _late(r.lateness_s),
            _note(r),
        ]
        for r in items
    ]
    title = f"Results of {schedule_id}" if one else f"Results, newest first ({len(items)})"
    table(title, columns, rows)


def _late(seconds: float) -> str:
    if seconds < 60:
        return f"{seconds:.0f}s"
    minutes = round(seconds / 60)
    return f"{minutes}m" if minutes < 120 else f"{minutes // 60}h{minutes % 60:02d}m"


def _note(result: Result) -> str:
    parts = []
    if result.skipped:
        parts.append(f"{result.skipped} missed fire{'s' if result.skipped != 1 else ''} skipped")
    if result.error:
        parts.append(result.error)
    return "; ".join(parts)


def warn_without_key(conf: Settings) -> None:
    """Say, on stderr, that a schedule made without a Letta key is delivered without one."""
    if not conf.api_key:
        typer.echo(
            "Warning: LETTA_API_KEY is not set, so this schedule carries no Letta key: fine for a Letta server "
            "without a password; for Letta Cloud set LETTA_API_KEY (or `switchboard config set-api-key`).",
            err=True,
        )


def key_hint(conf: Settings) -> str:
    """For an empty list without a Letta key: schedules are kept per key, so say how to set one."""
    if conf.api_key:
        return ""
    return (
        "\nLETTA_API_KEY is not set, and schedules are kept per Letta key: set it "
        "(or run `switchboard config set-api-key`)."
    )


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

    store = store_of(ctx)
    count = rotate_keys(store)
    if as_json:
        print_json({"reencrypted": count})
    elif len(store.codec.keys) == 1:
        typer.echo(
            f"Re-encrypted {count} files with the only key in SWITCHBOARD_ENCRYPTION_KEY, in one commit. To move to "
            f"a new key, put it in front (NEW,OLD; `switchboard keys generate` makes one) and run this again."
        )
    else:
        typer.echo(
            f"Re-encrypted {count} files with the newest key, in one commit. Set the repository secret "
            f"SWITCHBOARD_ENCRYPTION_KEY to that key too; the older keys can then be dropped."
        )


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
    dispatch: bool = True,
) -> None:
    from switchboard.service import add_one_time
    from switchboard.timeparse import zone

    zone(tz)  # an unknown --tz is an error even when no time is given
    clock = parse_now(now)
    if execute_at is None:
        at = clock
    else:
        from switchboard.timeparse import parse_instant

        at = parse_instant(execute_at, tz=tz, now=clock)
    conf = settings(ctx)
    from switchboard.context import open_store

    store = open_store(conf)
    schedule = add_one_time(
        store,
        api_key=conf.api_key,
        base_url=conf.base_url,
        agent_id=agent_id,
        message=message,
        execute_at=at,
        now=clock,
        role=role,
    )
    warn_without_key(conf)
    if as_json:
        print_json(schedule.public())
    else:
        due = "now" if schedule.execute_at <= clock else f"for {when(schedule.execute_at)}"
        local = "" if tz == "UTC" or schedule.execute_at <= clock else f" = {when(schedule.execute_at, tz)}"
        typer.echo(f"Scheduled one-time {schedule.id} {due}{local} (agent {agent_id}).")
    if dispatch:
        _after_send(conf, store, schedule.execute_at, clock, as_json)


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
    no_dispatch: bool = NO_DISPATCH_OPT,
) -> None:
    """Schedule a message once (now, when no time is given)."""
    _send(ctx, agent_id, message, execute_at, tz, role, now, as_json, not no_dispatch)


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
    no_dispatch: bool = NO_DISPATCH_OPT,
) -> None:
    """Schedule a message once (the same as `send`)."""
    _send(ctx, agent_id, message, execute_at, tz, role, now, as_json, not no_dispatch)


@onetime_app.command("list")
@handled
def onetime_list(ctx: typer.Context, as_json: bool = JSON_OPT) -> None:
    """Your pending one-time schedules."""
    from switchboard.service import list_one_time

    conf = settings(ctx)
    show_schedules(list_one_time(store_of(ctx), conf.api_key), as_json, "One-time schedules", hint=key_hint(conf))


@onetime_app.command("get")
@handled
def onetime_get(
    ctx: typer.Context, schedule_id: str = typer.Argument(..., metavar="ID"), as_json: bool = JSON_OPT
) -> None:
    """One one-time schedule."""
    from switchboard.service import get_schedule

    show_schedule(get_schedule(store_of(ctx), settings(ctx).api_key, schedule_id, "one-time"), as_json)


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
    warn_without_key(conf)
    if as_json:
        print_json(schedule.public())
    else:
        typer.echo(
            f"Scheduled recurring {schedule.id}: {expression} in {zone}, next run {when(schedule.next_run(), zone)}."
        )


@recurring_app.command("list")
@handled
def recurring_list(ctx: typer.Context, as_json: bool = JSON_OPT) -> None:
    """Your recurring schedules."""
    from switchboard.service import list_recurring

    conf = settings(ctx)
    show_schedules(list_recurring(store_of(ctx), conf.api_key), as_json, "Recurring schedules", hint=key_hint(conf))


@recurring_app.command("get")
@handled
def recurring_get(
    ctx: typer.Context, schedule_id: str = typer.Argument(..., metavar="ID"), as_json: bool = JSON_OPT
) -> None:
    """One recurring schedule."""
    from switchboard.service import get_schedule

    show_schedule(get_schedule(store_of(ctx), settings(ctx).api_key, schedule_id, "recurring"), as_json)


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

    clock = parse_now(now)
    schedule = set_paused(store_of(ctx), settings(ctx).api_key, schedule_id, paused=paused, now=clock)
    if as_json:
        print_json(schedule.public())
    elif paused:
        typer.echo(f"Recurring {schedule.id} is paused: it will not fire until `switchboard recurring resume`.")
    else:
        nxt = when(schedule.next_run(), schedule.timezone)
        typer.echo(f"Recurring {schedule.id} is active; next run {nxt} (fires missed while paused are not sent).")


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

    conf = settings(ctx)
    items = list_results(store_of(ctx), conf.api_key, schedule_id=schedule_id, limit=limit)
    show_results(items, as_json, hint=key_hint(conf))


@results_app.command("get")
@handled
def results_get(
    ctx: typer.Context, schedule_id: str = typer.Argument(..., metavar="SCHEDULE_ID"), as_json: bool = JSON_OPT
) -> None:
    """The results of one schedule, newest first."""
    from switchboard.service import results_of

    items, pending = results_of(store_of(ctx), settings(ctx).api_key, schedule_id)
    if items or as_json:
        show_results(items, as_json, schedule_id=schedule_id)
    elif isinstance(pending, OneTimeSchedule):
        typer.echo(f"No results yet for {pending.id}: it is due {when(pending.execute_at)}.")
    elif pending is not None:
        typer.echo(f"No results yet for {pending.id}: its next run is {when(pending.next_run(), pending.timezone)}.")


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
        instant = datetime.fromisoformat(data["execute_at"])
        local = f" = {when(instant, tz)} ({tz})" if tz != "UTC" else ""
        typer.echo(f"One-time: {when(instant)}{local}.")
    else:
        zone_name = data["timezone"]
        typer.echo(f"Recurring: {data['cron']} in {zone_name} — {data['description']}. Next fires:")
        for fire in data["next"]:
            instant = datetime.fromisoformat(fire)
            typer.echo(f"  {when(instant, zone_name)}" + (f"  ({when(instant)})" if zone_name != "UTC" else ""))
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
        "UTC",
        "--tz",
        help="Zone for an execute_at without an offset, and for recurring schedules that name none "
        "(the hosted service used UTC).",
    ),
    now: str = NOW_OPT,
    as_json: bool = JSON_OPT,
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
    already = f"; {done.unchanged} were already there and were left as they are" if done.unchanged else ""
    if done.one_time or done.recurring:
        typer.echo(
            f"Imported {done.one_time} one-time and {done.recurring} recurring schedules in one commit{already}."
        )
    else:
        typer.echo(f"Nothing to import{already}.")


# -- config ----------------------------------------------------------------------------------


def _set(name: str, value: str, as_json: bool) -> None:
    path = config_mod.config_path()
    config_mod.write_config(path, name, value)
    if as_json:
        shown = "set" if name in config_mod.SECRET_SETTINGS else value
        print_json({"saved": name, "value": shown, "config_file": str(path)})
    else:
        typer.echo(f"Saved {name} in {path} (mode 0600).")


@config_app.command("set-api-key")
@handled
def config_set_api_key(
    key: str = typer.Argument(None, help="Your Letta API key (leave it out to be asked, unechoed)."),
    as_json: bool = JSON_OPT,
) -> None:
    """Save the Letta API key in the user config file."""
    if key is None:
        # Asked for rather than typed on the command line, the key stays out of the shell history.
        key = typer.prompt("Letta API key", hide_input=True, err=True)
    if not key.strip():
        raise fail("the Letta API key is empty — copy it from the Letta dashboard (API keys)")
    _set("api_key", key.strip(), as_json)


@config_app.command("set-url")
@handled
def config_set_url(
    url: str = typer.Argument(..., help="Letta base URL, e.g. http://localhost:8283."), as_json: bool = JSON_OPT
) -> None:
    """Save the Letta base URL in the user config file."""
    from urllib.parse import urlsplit

    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise fail(f'"{url}" is not an http(s) URL — e.g. https://api.letta.com or http://localhost:8283')
    _set("base_url", url.strip().rstrip("/"), as_json)


@config_app.command("set-repo")
@handled
def config_set_repo(
    path: str = typer.Argument(None, help="Local clone to write to."),
    github: str = typer.Option(None, "--github", help="OWNER/NAME to write through the GitHub API."),
    as_json: bool = JSON_OPT,
) -> None:
    """Save which repository switchboard writes to."""
    if (path is None) == (github is None):
        raise fail("give either a PATH to a clone or --github OWNER/NAME")
    if github is not None:
        if github.count("/") != 1 or not all(github.split("/")):
            raise fail(f'"{github}" is not OWNER/NAME — e.g. --github octocat/my-switchboard')
        _set("github_repo", github, as_json)
    else:
        from switchboard.backends.git import GitBackend

        # Saved only once it is a clone: its top folder, wherever inside it the path pointed.
        _set("repo", str(GitBackend(Path(path).expanduser().resolve()).root), as_json)


@config_app.command("show")
@handled
def config_show(ctx: typer.Context, as_json: bool = JSON_OPT) -> None:
    """Show the resolved settings (secrets only as set / not set)."""
    shown = settings(ctx).shown()
    shown["config_file"] = str(config_mod.config_path())
    if as_json:
        print_json(shown)
        return
    unset = {"repo": "not set: the git root of the current directory", "github_repo": "not set: use a clone"}
    rows = [[k, unset.get(k, "not set") if v is None else v] for k, v in shown.items()]
    table("Settings (flags > environment > config file)", [Column("setting", keep=9), Column("value", cut=True)], rows)


# -- init / demo -------------------------------------------------------------------------------


@app.command("init")
@handled
def init(
    ctx: typer.Context,
    github: str = typer.Option(
        None, "--github", help="OWNER/NAME: set up this GitHub repository through the API (secret, workflow)."
    ),
    as_json: bool = JSON_OPT,
) -> None:
    """Make a key (unless one is set) and the tenant secret; on GitHub, store the secret and enable the tick."""
    import dataclasses

    from switchboard.setup import init_repository

    conf = settings(ctx)
    outcome = init_repository(dataclasses.replace(conf, github_repo=github) if github else conf)
    if as_json:
        print_json({k: v for k, v in outcome.items() if k != "steps"} | {"steps": outcome["steps"]})
        return
    for step in outcome["steps"]:
        typer.echo(step)


@app.command("serve")
@handled
def serve(
    ctx: typer.Context,
    host: str = typer.Option("127.0.0.1", "--host", help="Address to listen on (0.0.0.0: every interface)."),
    port: int = typer.Option(8000, "--port", min=0, max=65535, help="TCP port."),
    tick_every: float = typer.Option(
        None, "--tick-every", min=1.0, help="Also deliver what falls due: a tick pass every S seconds, in-process."
    ),
) -> None:
    """Serve the REST API: the hosted service's endpoints, Letta's schedule API and a web page."""
    try:
        import uvicorn

        from switchboard.api import create_app
        from switchboard.api.app import log_config
    except ModuleNotFoundError as exc:
        raise fail(f"serve needs {exc.name} — pip install 'letta-switchboard[api]'") from None

    api = create_app(settings(ctx), tick_every=tick_every)
    ticking = f", a tick pass every {tick_every:g}s" if tick_every else " (no ticking: add --tick-every 60)"
    typer.echo(f"switchboard API on http://{host}:{port} — web page at /, docs at /docs{ticking}", err=True)
    uvicorn.run(api, host=host, port=port, log_config=log_config(), server_header=False)


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


# -- dispatch / doctor (GitHub) -----------------------------------------------------------------


def _after_send(conf: Settings, store: Any, execute_at: datetime, now: datetime, as_json: bool) -> None:
    """Start the tick workflow for a message due before the next scheduled tick; never fails the send."""
    from switchboard.dispatch import after_send

    notice = after_send(conf, store.backend, execute_at, now)
    if notice is None:
        return
    if notice.warning:
        typer.echo(f"Warning: {notice.text}", err=True)
    else:
        typer.echo(notice.text, err=as_json)


@app.command("dispatch")
@handled
def dispatch(
    ctx: typer.Context,
    wait: bool = typer.Option(False, "--wait", help="Follow the run until it completes; exit 1 unless it succeeds."),
    dry_run: bool = typer.Option(False, "--dry-run", help="The tick only shows what is due; sends nothing."),
    hold: str = typer.Option("0m", "--hold", help="Keep the job open this long for what falls due (at most 30m)."),
    timeout: float = typer.Option(
        None, "--timeout", min=1.0, help="With --wait: give up after this many seconds (default: hold + 15 min)."
    ),
    poll: float = typer.Option(5.0, "--poll", min=0.1, help="With --wait: seconds between looks at the run."),
    as_json: bool = JSON_OPT,
) -> None:
    """Start the tick workflow now (workflow_dispatch) instead of waiting for its schedule."""
    from switchboard.dispatch import WORKFLOW_FILE, check_hold, dispatch_tick, open_actions, runs_url, wait_for_run
    from switchboard.runner import parse_duration

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


@app.command("doctor")
@handled
def doctor(ctx: typer.Context, now: str = NOW_OPT, as_json: bool = JSON_OPT) -> None:
    """Check the key, Letta, the repository and the tick workflow; print the fix for each problem."""
    from switchboard.doctor import healthy, run_checks

    checks = run_checks(settings(ctx), now=parse_now(now))
    ok = healthy(checks)
    if as_json:
        print_json({"ok": ok, "checks": [c.as_json() for c in checks]})
    else:
        marks = {"ok": "ok  ", "warn": "WARN", "fail": "FAIL", "skip": "skip"}
        for check in checks:
            typer.echo(f"[{marks.get(check.status, check.status)}] {check.name}: {check.detail}")
            if check.fix and check.status != "ok":
                typer.echo(f"       fix: {check.fix}")
        typer.echo("All checks passed." if ok else "Some checks failed: see the fixes above.")
    if not ok:
        raise typer.Exit(1)


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
        if os.environ.get("SWITCHBOARD_DEBUG"):
            raise
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


if __name__ == "__main__":  # pragma: no cover
    run()
