"""What the commands print: JSON, tables fitted to the terminal, times for people, schedules and results."""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import typer

from switchboard.config import Settings
from switchboard.models import OneTimeSchedule, RecurringSchedule, Result, Schedule, iso
from switchboard.stop_reasons import meaning


def print_json(data: Any) -> None:
    """JSON on stdout, nothing else."""
    typer.echo(json.dumps(data, indent=2, ensure_ascii=False))


# -- tables ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Column:
    """A table column: ``keep`` ranks what a narrow terminal keeps; ``cut`` text may end in "…".

    ``short`` is how many first characters of an id a narrow table shows
    (an id prefix works wherever a command takes an id); 0 keeps it whole.
    ``at_least`` is the fewest cells a cut column is worth showing in.
    """

    header: str
    keep: int = 5
    cut: bool = False
    right: bool = False
    short: int = 0
    at_least: int = 12


#: Gap between columns.
_GAP = 2


def render_table(title: str, columns: Sequence[Column], rows: Sequence[Sequence[str]], width: int | None) -> list[str]:
    """Plain-text table lines; within ``width`` by shortening ids, cutting text, then hiding the least kept columns.

    Times and statuses are never cut; ids only to their first ``short``
    characters. ``width`` None (not a terminal) means no limit.
    """
    from rich.cells import cell_len, set_cell_size

    shown = list(range(len(columns)))
    natural = [max([cell_len(c.header)] + [cell_len(r[i]) for r in rows]) for i, c in enumerate(columns)]
    least = [
        min(natural[i], max(c.at_least, cell_len(c.header))) if c.cut else natural[i] for i, c in enumerate(columns)
    ]

    def total(sizes: Sequence[int]) -> int:
        return sum(sizes[i] for i in shown) + _GAP * (len(shown) - 1)

    # Whole ids first go, in a table too wide for them: their prefixes leave room for the message.
    shortened = width is not None and total(least) > width and any(c.short for c in columns)
    if shortened:
        rows = [[r[i][: c.short] if c.short else r[i] for i, c in enumerate(columns)] for r in rows]
        for i, c in enumerate(columns):
            if c.short:
                natural[i] = least[i] = max([cell_len(c.header)] + [cell_len(r[i]) for r in rows])

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
    notes = ["ids shortened"] if shortened else []
    notes += [f"{hidden} column{'s' if hidden != 1 else ''} hidden"] if hidden else []
    note = f"  ({', '.join(notes)}; all in --json)" if notes else ""
    heading = title + note
    if width is not None and cell_len(heading) > width:
        heading = set_cell_size(heading, width - 1) + "…"
    return [
        heading,
        line([c.header for c in columns]),
        line(["─" * sizes[i] for i in range(len(columns))]),
        *(line(row) for row in rows),
    ]


def table(title: str, columns: Sequence[Column], rows: Sequence[Sequence[Any]]) -> None:
    """Print a table: fitted to a terminal (or to COLUMNS when set); piped or redirected, never cut."""
    import shutil

    from switchboard.config import read_environment

    wanted = read_environment().get("COLUMNS", "")
    if sys.stdout.isatty():
        width: int | None = shutil.get_terminal_size().columns
    else:
        # A width asked for outright (COLUMNS=100 … | less) is kept even through a pipe.
        width = int(wanted) if wanted.isdigit() and int(wanted) > 0 else None
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


def show_explanation(data: dict[str, Any], tz: str) -> None:
    """What ``explain`` found, for people: the instant, or the cron and its next fires; warnings on stderr."""
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


# -- schedules -------------------------------------------------------------------------------------


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
    # A name column only when something has a name, so lists without names look as they always did.
    names = any(s.name for s in items)
    name_column = [Column("name", keep=6, cut=True)] if names else []
    rows: list[list[str]] = []
    if isinstance(items[0], OneTimeSchedule):
        columns = [Column("id", keep=9, short=8), *name_column, Column("due", keep=8), *role_column]
        columns += [Column("message", keep=7, cut=True, at_least=20), Column("agent", keep=4, cut=True)]
        for s in items:
            assert isinstance(s, OneTimeSchedule)
            rows.append(
                [
                    s.id,
                    *([s.name or "-"] if names else []),
                    when(s.execute_at),
                    *([s.role] if roles else []),
                    _short(s.message),
                    s.agent_id,
                ]
            )
    else:
        columns = [Column("id", keep=9, short=8), *name_column, Column("cron", keep=8), Column("next run", keep=8)]
        columns += [Column("status", keep=7), Column("zone", keep=6, cut=True), *role_column]
        columns += [Column("message", keep=7, cut=True, at_least=20), Column("agent", keep=4, cut=True)]
        for s in items:
            assert isinstance(s, RecurringSchedule)
            status = s.status if s.claimed_by is None else f"{s.status}, sending"
            rows.append(
                [
                    s.id,
                    *([s.name or "-"] if names else []),
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
    fields: list[tuple[str, str]] = [("name", item.name)] if item.name else []
    fields += [("agent", item.agent_id), ("role", item.role)]
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


def _short(text: str, width: int = 40) -> str:
    line = " ".join(text.split())
    return line if len(line) <= width else line[: width - 1] + "…"


# -- results ---------------------------------------------------------------------------------------


def show_results(items: Sequence[Result], as_json: bool, *, schedule_id: str | None = None, hint: str = "") -> None:
    """Results as JSON or as a table, newest first; ``hint`` follows an empty list."""
    if as_json:
        print_json([r.public(with_name=True) for r in items])
        return
    if not items:
        typer.echo(f"No results yet for this Letta key: nothing has been delivered (see `switchboard tick`).{hint}")
        return
    one = schedule_id is not None
    names = not one and any(r.name for r in items)
    columns = [Column("sent", keep=9)]
    if not one:
        columns += [Column("schedule", keep=7, short=8), *([Column("name", keep=5, cut=True)] if names else [])]
        columns += [Column("type", keep=2)]
    columns += [Column("status", keep=8), Column("run", keep=6), Column("run id", keep=7, short=12)]
    columns += [Column("late", keep=3, right=True), Column("message", keep=7, cut=True, at_least=20)]
    columns += [Column("note", keep=4, cut=True)]
    rows = [
        [
            when(r.executed_at),
            *([] if one else [r.schedule_id, *([r.name or "-"] if names else []), r.schedule_type]),
            r.status,
            r.run_end or "-",
            r.run_id or "-",
            _late(r.lateness_s),
            _short(r.message or ""),
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
    if result.manual:
        parts.append("manual run")
    if result.skipped:
        parts.append(f"{result.skipped} missed fire{'s' if result.skipped != 1 else ''} skipped")
    if result.error:
        parts.append(result.error)
    elif result.run_end not in (None, "completed", result.run_status):
        # Not a failure, yet not "completed" either (max_steps, …): say what it means.
        parts.append(meaning(result.stop_reason) or f"stop reason: {result.stop_reason}")
    return "; ".join(parts)


# -- without a Letta key ---------------------------------------------------------------------------


def warn_without_key(conf: Settings) -> None:
    """Say, on stderr, that a schedule made without a Letta key is delivered without one."""
    if not conf.api_key:
        typer.echo(
            "Warning: LETTA_API_KEY is not set, so this schedule carries no Letta key: fine for a Letta server "
            "without a password; for Letta Cloud set LETTA_API_KEY (or `switchboard config set-api-key`).",
            err=True,
        )


def others_hint(count: int) -> str:
    """For an empty list while other keys' schedules are there: this may not be the key they were made with."""
    if not count:
        return ""
    these = "1 schedule" if count == 1 else f"{count} schedules"
    return (
        f"\n{these} of this kind in this repository belong to other Letta keys; if they are yours, LETTA_API_KEY "
        "is not the key they were made with (schedules are kept per Letta key)."
    )


def warn_unreadable(skipped: dict[str, str]) -> None:
    """Name, on stderr, each file a listing skipped because it does not open."""
    for path, why in sorted(skipped.items()):
        typer.echo(f"Warning: skipped {path}: it {why} (`switchboard doctor` lists every such file)", err=True)


def key_hint(conf: Settings) -> str:
    """For an empty list without a Letta key: schedules are kept per key, so say how to set one."""
    if conf.api_key:
        return ""
    return (
        "\nLETTA_API_KEY is not set, and schedules are kept per Letta key: set it "
        "(or run `switchboard config set-api-key`)."
    )
