"""Changing a schedule in place: ``onetime update`` and ``recurring update``.

Each reads its flags, resolves the schedule (an id, a unique name, or 8+
first characters of an id: ``service.resolve_id``), shows ``explain``'s
preview of a new time, and makes the change with ``service.update_schedule``
in one commit. ``schedules.py`` registers both on its command groups.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

import typer

from switchboard.cli.render import print_json, show_explanation, when
from switchboard.cli.root import JsonFlag, NowOption, ScheduleRef, fail, handled, parse_now, settings, zone_of
from switchboard.models import Kind, RecurringSchedule

NewMessageOption = Annotated[str | None, typer.Option("--message", "-m", help="New text for the agent.")]
NewRoleOption = Annotated[str | None, typer.Option("--role", help="New role: user, system or assistant.")]
NewAgentOption = Annotated[str | None, typer.Option("--agent-id", help="Send to this Letta agent instead.")]
NewNameOption = Annotated[
    str | None, typer.Option("--name", help='New name (at most 200 characters); --name "" removes it.')
]
NewZoneOption = Annotated[
    str | None, typer.Option("--tz", help="IANA zone the new time is read in (recurring: the zone it runs in).")
]
DryRunFlag = Annotated[
    bool, typer.Option("--dry-run", help="Show the preview (with --json: the schedule as it would be); save nothing.")
]


@handled
def onetime_update(
    ctx: typer.Context,
    schedule_ref: ScheduleRef,
    message: NewMessageOption = None,
    execute_at: Annotated[
        str | None, typer.Option("--execute-at", "--at", help='New time: "tomorrow at 9am", ISO 8601…')
    ] = None,
    tz: NewZoneOption = None,
    role: NewRoleOption = None,
    agent_id: NewAgentOption = None,
    name: NewNameOption = None,
    now: NowOption = None,
    dry_run: DryRunFlag = False,
    as_json: JsonFlag = False,
    allow_past: Annotated[
        bool, typer.Option("--allow-past", help="Accept a new time that has already passed.")
    ] = False,
) -> None:
    """Change a one-time schedule in place (same id; a new time moves it)."""
    from switchboard.explain import explain_at
    from switchboard.timeparse import refuse_past, zone

    clock = parse_now(now)
    if tz is not None:
        zone(tz)
    preview: dict[str, Any] | None = None
    changes: dict[str, Any] = _plain_changes(message, role, agent_id, name)
    if execute_at is not None:
        read_in = zone_of(ctx, tz)
        preview = explain_at(execute_at, tz=read_in, now=clock)
        changes["execute_at"] = datetime.fromisoformat(preview["execute_at"])
        if not allow_past:
            refuse_past(
                changes["execute_at"], text=execute_at, tz=read_in, now=clock,
                anyway=", or add --allow-past to keep it",
            )  # fmt: skip
        if tz is not None:
            changes["timezone"] = tz
    elif tz is not None:
        raise fail("--tz only says how to read --execute-at for a one-time schedule — give --execute-at too")
    if not changes:
        raise fail("nothing to change — give at least one of --message, --execute-at, --role, --agent-id or --name")
    shown_in = preview["timezone"] if preview is not None else "UTC"
    _update(ctx, schedule_ref, "one-time", changes, preview, shown_in, clock, dry_run, as_json)


@handled
def recurring_update(
    ctx: typer.Context,
    schedule_ref: ScheduleRef,
    message: NewMessageOption = None,
    cron: Annotated[
        str | None, typer.Option("--cron", "--every", help='New schedule: "every weekday at 10am" or cron.')
    ] = None,
    tz: NewZoneOption = None,
    role: NewRoleOption = None,
    agent_id: NewAgentOption = None,
    name: NewNameOption = None,
    now: NowOption = None,
    dry_run: DryRunFlag = False,
    as_json: JsonFlag = False,
) -> None:
    """Change a recurring schedule in place (same id and results; a new cron or zone counts from now)."""
    clock = parse_now(now)
    changes: dict[str, Any] = _plain_changes(message, role, agent_id, name)
    if cron is None and tz is None and not changes:
        raise fail("nothing to change — give at least one of --message, --cron, --tz, --role, --agent-id or --name")
    _update(ctx, schedule_ref, "recurring", changes, None, tz or "UTC", clock, dry_run, as_json, cron=cron, tz=tz)


def _plain_changes(message: str | None, role: str | None, agent_id: str | None, name: str | None) -> dict[str, Any]:
    given = {"message": message, "role": role, "agent_id": agent_id, "name": name}
    return {key: value for key, value in given.items() if value is not None}


def _update(
    ctx: typer.Context,
    ref: str,
    kind: Kind,
    changes: dict[str, Any],
    preview: dict[str, Any] | None,
    shown_tz: str,
    clock: datetime,
    dry_run: bool,
    as_json: bool,
    *,
    cron: str | None = None,
    tz: str | None = None,
) -> None:
    """Resolve ``ref``, preview a new recurring time against the stored zone, show it, then save (one commit)."""
    from switchboard.context import open_store
    from switchboard.service import changed, get_schedule, resolve_id, update_schedule

    conf = settings(ctx)
    store = open_store(conf)
    schedule_id = resolve_id(store, conf.api_key, ref, kind)
    current = get_schedule(store, conf.api_key, schedule_id, kind)
    if cron is not None or tz is not None:
        from switchboard.explain import explain_every

        assert isinstance(current, RecurringSchedule)
        # A new cron is read in the schedule's own zone unless --tz says otherwise; --tz alone moves the zone.
        preview = explain_every(cron or current.cron, tz=tz or current.timezone, now=clock, count=3)
        changes.update({key: preview[key] for key in ("cron", "timezone") if preview[key] != getattr(current, key)})
        shown_tz = preview["timezone"]
        if not changes:
            raise fail(f"nothing to change — it already runs {current.cron} in {current.timezone}")
    # Checked in full (and refused while a tick holds it) before anything is shown or saved.
    planned = changed(current, changes, now=clock)
    # Only what really differs is named (and saved): the same text again is not a change.
    changes = {key: value for key, value in changes.items() if getattr(planned, key) != getattr(current, key)}
    if not changes:
        raise fail(f"nothing to change — {kind} {schedule_id} already has those values")
    if not as_json:
        typer.echo(f"Changing {kind} {schedule_id}: {', '.join(_labels(changes))}.")
        if preview is not None:
            show_explanation(preview, shown_tz)
            if isinstance(planned, RecurringSchedule) and planned.status == "paused":
                typer.echo("It is paused: it fires only after `switchboard recurring resume`.")
    if dry_run:
        if as_json:
            print_json(planned.public())
        else:
            typer.echo("Nothing was saved (--dry-run).")
        return
    updated = update_schedule(store, conf.api_key, schedule_id, kind, changes, now=clock)
    if as_json:
        print_json(updated.public())
    elif isinstance(updated, RecurringSchedule):
        nxt = when(updated.next_run(), updated.timezone)
        typer.echo(f"Updated recurring {updated.id}: {updated.cron} in {updated.timezone}, next run {nxt}.")
    else:
        typer.echo(f"Updated one-time {updated.id}: due {when(updated.execute_at)}.")


_LABELS = {"execute_at": "time", "agent_id": "agent", "timezone": "zone"}


def _labels(changes: dict[str, Any]) -> list[str]:
    return [_LABELS.get(key, key) for key in changes]
