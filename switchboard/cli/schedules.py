"""Making and managing schedules: ``send``, ``onetime …`` and ``recurring …``.

``send`` is a command of the root; ``cli/__init__.py`` puts it there, in ``--help`` order.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

import typer

from switchboard.cli.helppages import ReadableTyper
from switchboard.cli.render import (
    key_hint,
    others_hint,
    print_json,
    show_schedule,
    show_schedules,
    warn_unreadable,
    warn_without_key,
    when,
)
from switchboard.cli.root import (
    JsonFlag,
    NowOption,
    ScheduleRef,
    ZoneOption,
    fail,
    handled,
    parse_now,
    settings,
    store_of,
    zone_of,
)
from switchboard.config import Settings
from switchboard.models import Kind, OneTimeSchedule, RecurringSchedule

onetime_app = ReadableTyper(help="One-time schedules.", no_args_is_help=True)
recurring_app = ReadableTyper(help="Recurring schedules.", no_args_is_help=True)

AgentOption = Annotated[
    str, typer.Option("--agent-id", help="The Letta agent to message: agent-<uuid> or agent-local-<uuid>")
]
MessageOption = Annotated[str, typer.Option("--message", "-m", help="The text the agent receives.")]
RoleOption = Annotated[str, typer.Option("--role", help="user, system or assistant.")]
NameOption = Annotated[
    str | None, typer.Option("--name", help="A name to find it by instead of its id (at most 200 characters).")
]
ClockOption = Annotated[
    str,
    typer.Option(
        "--clock", help='Who fires it: "github" (the tick) or "letta" (Letta Cloud native schedules, watched).'
    ),
]
ConversationOption = Annotated[
    str | None,
    typer.Option(
        "--conversation",
        help='Where each message goes: "default" (the agent\'s default conversation; the default), "new" (a new '
        "conversation for every fire, as Letta's own schedules do) or a conversation id.",
    ),
]
EnvelopeFlag = Annotated[
    bool,
    typer.Option(
        "--envelope/--plain",
        help="Deliver it telling the agent its name, zone, due time and the current time (default), or exactly as "
        "written (--plain).",
    ),
]
NoDispatchFlag = Annotated[
    bool, typer.Option("--no-dispatch", help="Do not start the tick workflow; leave the message to the scheduled tick.")
]
AllowPastFlag = Annotated[
    bool,
    typer.Option("--allow-past", help="Accept a time that has already passed, and deliver the message at once."),
]
NoDeliverFlag = Annotated[
    bool,
    typer.Option(
        "--no-deliver", help="A message due now is only stored (and the tick workflow started), not sent from here."
    ),
]


# -- one-time --------------------------------------------------------------------------------------


@handled
def send(
    ctx: typer.Context,
    agent_id: AgentOption,
    message: MessageOption,
    execute_at: Annotated[
        str | None,
        typer.Option("--execute-at", "--at", help='When: "tomorrow at 9am", "in 5 minutes", ISO 8601. Default: now.'),
    ] = None,
    tz: ZoneOption = None,
    role: RoleOption = "user",
    now: NowOption = None,
    as_json: JsonFlag = False,
    no_dispatch: NoDispatchFlag = False,
    no_deliver: NoDeliverFlag = False,
    name: NameOption = None,
    allow_past: AllowPastFlag = False,
    clock: ClockOption = "github",
    conversation: ConversationOption = None,
    envelope: EnvelopeFlag = True,
) -> None:
    """Schedule a message once; with no time (or one already due) it is delivered from here at once."""
    _send(
        ctx, agent_id, message, execute_at, tz, role, now, as_json, not no_dispatch, not no_deliver,
        name=name, allow_past=allow_past, fire_clock=clock, conversation=conversation, envelope=envelope,
    )  # fmt: skip


@onetime_app.command("create")
@handled
def onetime_create(
    ctx: typer.Context,
    agent_id: AgentOption,
    message: MessageOption,
    execute_at: Annotated[
        str | None, typer.Option("--execute-at", "--at", help='When: "tomorrow at 9am", ISO 8601… Default: now.')
    ] = None,
    tz: ZoneOption = None,
    role: RoleOption = "user",
    now: NowOption = None,
    as_json: JsonFlag = False,
    no_dispatch: NoDispatchFlag = False,
    no_deliver: NoDeliverFlag = False,
    name: NameOption = None,
    allow_past: AllowPastFlag = False,
    clock: ClockOption = "github",
    conversation: ConversationOption = None,
    envelope: EnvelopeFlag = True,
) -> None:
    """Schedule a message once (the same as `send`)."""
    _send(
        ctx, agent_id, message, execute_at, tz, role, now, as_json, not no_dispatch, not no_deliver,
        name=name, allow_past=allow_past, fire_clock=clock, conversation=conversation, envelope=envelope,
    )  # fmt: skip


@onetime_app.command("list")
@handled
def onetime_list(ctx: typer.Context, as_json: JsonFlag = False) -> None:
    """Your pending one-time schedules."""
    _list(ctx, "one-time", as_json)


@onetime_app.command("get")
@handled
def onetime_get(ctx: typer.Context, schedule_id: ScheduleRef, as_json: JsonFlag = False) -> None:
    """One one-time schedule."""
    _get(ctx, schedule_id, "one-time", as_json)


@onetime_app.command("delete")
@handled
def onetime_delete(
    ctx: typer.Context, schedule_id: ScheduleRef, now: NowOption = None, as_json: JsonFlag = False
) -> None:
    """Delete a one-time schedule (refused while a tick is delivering it)."""
    _delete(ctx, schedule_id, "one-time", now, as_json)


# -- recurring -------------------------------------------------------------------------------------


@recurring_app.command("create")
@handled
def recurring_create(
    ctx: typer.Context,
    agent_id: AgentOption,
    message: MessageOption,
    cron: Annotated[
        str,
        typer.Option("--cron", "--every", help='"every weekday at 10am", "every 15 minutes" or cron "0 10 * * 1-5".'),
    ],
    tz: ZoneOption = None,
    role: RoleOption = "user",
    now: NowOption = None,
    as_json: JsonFlag = False,
    name: NameOption = None,
    clock: ClockOption = "github",
    conversation: ConversationOption = None,
    envelope: EnvelopeFlag = True,
) -> None:
    """Schedule a message at every fire of a cron expression (or phrase) in a time zone."""
    from switchboard.context import open_store
    from switchboard.service import add_recurring
    from switchboard.timeparse import parse_recurring

    expression, zone = parse_recurring(cron, tz=zone_of(ctx, tz))
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
        name=name,
        clock=clock,
        conversation=conversation,
        envelope=envelope,
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
def recurring_list(ctx: typer.Context, as_json: JsonFlag = False) -> None:
    """Your recurring schedules."""
    _list(ctx, "recurring", as_json)


@recurring_app.command("get")
@handled
def recurring_get(ctx: typer.Context, schedule_id: ScheduleRef, as_json: JsonFlag = False) -> None:
    """One recurring schedule."""
    _get(ctx, schedule_id, "recurring", as_json)


@recurring_app.command("delete")
@handled
def recurring_delete(
    ctx: typer.Context, schedule_id: ScheduleRef, now: NowOption = None, as_json: JsonFlag = False
) -> None:
    """Delete a recurring schedule (refused while a tick is delivering it)."""
    _delete(ctx, schedule_id, "recurring", now, as_json)


@recurring_app.command("run")
@handled
def recurring_run(
    ctx: typer.Context, schedule_id: ScheduleRef, now: NowOption = None, as_json: JsonFlag = False
) -> None:
    """Send one extra fire now, from here; the schedule's next fire does not move."""
    from switchboard.context import letta_client_now
    from switchboard.tick import run_now

    clock = parse_now(now)
    store, api_key, resolved = _resolved(ctx, schedule_id, "recurring")
    report = run_now(store, api_key, resolved, clock, letta_client_now)
    if as_json:
        shown = report.result.public(with_name=True) if report.result else None
        print_json({**report.schedule.public(), "result": shown})
    result = report.result
    if result is None:
        raise fail(
            f"nothing was sent: {report.reason} — a manual run is sent from this machine; run it where Letta "
            "can be reached, or wait for the schedule's next fire"
        )
    if result.status != "delivered":
        raise fail(
            f"the manual run of recurring {report.schedule.id} was not delivered (recorded as failed): {result.error}"
        )
    if not as_json:
        schedule = report.schedule
        assert isinstance(schedule, RecurringSchedule)
        typer.echo(
            f"Ran recurring {schedule.id} now (agent {schedule.agent_id}): Letta run {result.run_id}. "
            f"Next run still {when(schedule.next_run(), schedule.timezone)}."
        )


@recurring_app.command("pause")
@handled
def recurring_pause(
    ctx: typer.Context, schedule_id: ScheduleRef, now: NowOption = None, as_json: JsonFlag = False
) -> None:
    """Stop a recurring schedule from firing (it is kept)."""
    _pause(ctx, schedule_id, True, now, as_json)


@recurring_app.command("resume")
@handled
def recurring_resume(
    ctx: typer.Context, schedule_id: ScheduleRef, now: NowOption = None, as_json: JsonFlag = False
) -> None:
    """Let a paused recurring schedule fire again, from now on."""
    _pause(ctx, schedule_id, False, now, as_json)


# -- shared ----------------------------------------------------------------------------------------


def _send(
    ctx: typer.Context,
    agent_id: str,
    message: str,
    execute_at: str | None,
    tz: str | None,
    role: str,
    now: str | None,
    as_json: bool,
    dispatch: bool = True,
    deliver: bool = True,
    *,
    name: str | None = None,
    allow_past: bool = False,
    fire_clock: str = "github",
    conversation: str | None = None,
    envelope: bool = True,
) -> None:
    from switchboard.context import open_store
    from switchboard.service import add_one_time, new_one_time

    tz = zone_of(ctx, tz)  # an unknown zone is an error even when no time is given
    clock = parse_now(now)
    if execute_at is None:
        at = clock
    else:
        from switchboard.timeparse import parse_instant, refuse_past

        at = parse_instant(execute_at, tz=tz, now=clock)
        if not allow_past:
            refuse_past(at, text=execute_at, tz=tz, now=clock, anyway=", or add --allow-past to send it now")
    conf = settings(ctx)
    store = open_store(conf)
    fields: dict[str, Any] = {
        "api_key": conf.api_key,
        "base_url": conf.base_url,
        "agent_id": agent_id,
        "message": message,
        "execute_at": at,
        "now": clock,
        "role": role,
        "name": name,
        "envelope": envelope,
        "timezone": tz,
        "conversation": conversation,
    }
    if deliver and at <= clock:
        _send_now(conf, store, new_one_time(**fields), clock, as_json, dispatch)
        return
    schedule = add_one_time(store, **fields, clock=fire_clock)
    warn_without_key(conf)
    if as_json:
        print_json(schedule.public())
    else:
        due = "now" if schedule.execute_at <= clock else f"for {when(schedule.execute_at)}"
        local = "" if tz == "UTC" or schedule.execute_at <= clock else f" = {when(schedule.execute_at, tz)}"
        typer.echo(f"Scheduled one-time {schedule.id} {due}{local} (agent {agent_id}).")
    if dispatch:
        _after_send(conf, store, schedule.execute_at, clock, as_json)


def _send_now(
    conf: Settings, store: Any, schedule: OneTimeSchedule, now: datetime, as_json: bool, dispatch: bool
) -> None:
    """Deliver a message due now from here: claim, deliver, record; left to the tick when Letta is out of reach."""
    from switchboard.context import letta_client_now
    from switchboard.letta import is_app_server
    from switchboard.tick import send_now

    report = send_now(store, schedule, now, letta_client_now)
    warn_without_key(conf)
    result = report.result
    if as_json:
        print_json({**schedule.public(), "result": result.public(with_name=True) if result else None})
    if report.left_to_tick:
        if not as_json:
            typer.echo(f"Scheduled one-time {schedule.id} now (agent {schedule.agent_id}).")
        typer.echo(f"Not delivered from here, so left to the tick: {report.reason}", err=True)
        if dispatch:
            _after_send(conf, store, schedule.execute_at, now, as_json)
        return
    assert result is not None
    if result.status != "delivered":
        raise fail(f"one-time {schedule.id} was not delivered (recorded as failed): {result.error}")
    if not as_json:
        where = f" in conversation {result.conversation_id}" if result.conversation_id else ""
        if result.turn_id:  # the App Server's proof
            proof = f"turn {result.turn_id}{where} (otid {result.otid})"
        elif is_app_server(schedule.base_url):
            proof = f"already received{where} (otid {result.otid}), found there rather than sent again"
        else:
            proof = f"Letta run {result.run_id}{where}"
        typer.echo(f"Delivered one-time {schedule.id} to agent {schedule.agent_id}: {proof}.")


def _after_send(conf: Settings, store: Any, execute_at: datetime, now: datetime, as_json: bool) -> None:
    """Start the tick workflow for a message due before the next scheduled tick; never fails the send."""
    from switchboard.actions.dispatch import after_send

    notice = after_send(conf, store.backend, execute_at, now)
    if notice is None:
        return
    if notice.warning:
        typer.echo(f"Warning: {notice.text}", err=True)
    else:
        typer.echo(notice.text, err=as_json)


#: Each kind's list, as its table title and its empty list name it.
_TITLES: dict[Kind, str] = {"one-time": "One-time schedules", "recurring": "Recurring schedules"}


def _list(ctx: typer.Context, kind: Kind, as_json: bool) -> None:
    from switchboard.service import list_one_time, list_recurring, others_schedules

    conf = settings(ctx)
    store = store_of(ctx)
    list_kind = list_one_time if kind == "one-time" else list_recurring
    items = list_kind(store, conf.api_key)
    warn_unreadable(store.take_unreadable())
    hint = key_hint(conf) or (others_hint(others_schedules(store, conf.api_key, kind)) if not items else "")
    show_schedules(items, as_json, _TITLES[kind], hint=hint)


def _resolved(ctx: typer.Context, ref: str, kind: Kind) -> tuple[Any, str | None, str]:
    """The store, the Letta key, and the id of the schedule ``ref`` names (an id, a name, or 8+ id characters)."""
    from switchboard.service import resolve_id

    store, api_key = store_of(ctx), settings(ctx).api_key
    return store, api_key, resolve_id(store, api_key, ref, kind)


def _get(ctx: typer.Context, ref: str, kind: Kind, as_json: bool) -> None:
    from switchboard.service import get_schedule

    store, api_key, schedule_id = _resolved(ctx, ref, kind)
    show_schedule(get_schedule(store, api_key, schedule_id, kind), as_json)


def _delete(ctx: typer.Context, ref: str, kind: Kind, now: str | None, as_json: bool) -> None:
    from switchboard.service import delete_schedule

    store, api_key, schedule_id = _resolved(ctx, ref, kind)
    gone = delete_schedule(store, api_key, schedule_id, kind, now=parse_now(now))
    if as_json:
        print_json({"message": "Schedule deleted", "id": gone.id})
    else:
        typer.echo(f"Deleted {kind} {gone.id}.")


def _pause(ctx: typer.Context, ref: str, paused: bool, now: str | None, as_json: bool) -> None:
    from switchboard.service import set_paused

    clock = parse_now(now)
    store, api_key, schedule_id = _resolved(ctx, ref, "recurring")
    schedule = set_paused(store, api_key, schedule_id, paused=paused, now=clock)
    if as_json:
        print_json(schedule.public())
    elif paused:
        typer.echo(f"Recurring {schedule.id} is paused: it will not fire until `switchboard recurring resume`.")
    else:
        nxt = when(schedule.next_run(), schedule.timezone)
        typer.echo(f"Recurring {schedule.id} is active; next run {nxt} (fires missed while paused are not sent).")
