"""Letta Cloud's schedule API, served from the same store, for self-hosted Letta users.

Letta Cloud has ``/v1/agents/{agent_id}/schedule``; self-hosted Letta servers
do not. These routes answer in Cloud's shapes (the types of the official
``letta-client`` SDK, which has them from 1.7.0 on), so a program that calls
``client.agents.schedule.create/list/retrieve/delete`` works with
``Letta(base_url=<this server>)``::

    POST   /v1/agents/{agent_id}/schedule                          -> {id, next_scheduled_at}
    GET    /v1/agents/{agent_id}/schedule?limit=&after=            -> {has_next_page, scheduled_messages}
    GET    /v1/agents/{agent_id}/schedule/{scheduled_message_id}   -> scheduled message
    DELETE /v1/agents/{agent_id}/schedule/{scheduled_message_id}   -> {success: true}

A schedule made here is an ordinary switchboard schedule (one message, text
only) and shows in the hosted-service endpoints and the CLI as well. As
letta-client 1.12 sends it: ``content`` is a string or a list of text parts;
``name``, ``otid`` and ``sender_id`` are kept and go to Letta with the message;
a one-time ``scheduled_at`` in the past is a 400, as Letta Cloud answers it.
What switchboard cannot honour is refused rather than dropped: more than one
message, image content, ``callback_url``, ``max_steps``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query

from switchboard import service
from switchboard.api.auth import Caller
from switchboard.api.deps import (
    AUTH_RESPONSES,
    BY_ID_RESPONSES,
    CREATE_RESPONSES,
    ApiState,
    CallerDep,
    StateDep,
    field_error,
    owned,
    parsed,
    path_id,
    start_after,
    wake_ticker,
)
from switchboard.api.schemas import (
    Detail,
    OneTimeSpec,
    ScheduleCreateIn,
    ScheduleCreateOut,
    ScheduleDeleteOut,
    ScheduledMessage,
    ScheduleListOut,
)
from switchboard.exceptions import ApiError, NotFoundError
from switchboard.models import OneTimeSchedule, Schedule, check_agent_id, check_message, iso
from switchboard.timeparse import parse_recurring

MessageIdPath = Annotated[
    str, Path(description="The scheduled message's id (a UUID).", json_schema_extra={"format": "uuid"})
]

router = APIRouter(prefix="/v1/agents/{agent_id}/schedule", tags=["Letta schedule API"])


def _agent(agent_id: str) -> str:
    try:
        return check_agent_id(agent_id)
    except ValueError as exc:
        raise field_error("agent_id", str(exc), place="path") from None


def _millis(instant: datetime) -> int:
    return round(instant.timestamp() * 1000)


def scheduled_message(schedule: Schedule) -> dict[str, Any]:
    """A switchboard schedule in Letta's ScheduledMessage shape."""
    spec: dict[str, Any]
    if isinstance(schedule, OneTimeSchedule):
        spec = {"type": "one-time", "scheduled_at": _millis(schedule.execute_at)}
        upcoming = iso(schedule.execute_at)
    else:
        spec = {"type": "recurring", "cron_expression": schedule.cron, "timezone": schedule.timezone}
        upcoming = iso(schedule.next_run())
    message: dict[str, Any] = {"role": schedule.role, "content": [{"type": "text", "text": schedule.message}]}
    if schedule.message_fields is not None:
        message.update(schedule.message_fields.model_dump(exclude_none=True))
    return {
        "id": schedule.id,
        "agent_id": schedule.agent_id,
        "message": {"messages": [message]},
        "next_scheduled_time": upcoming,
        "schedule": spec,
    }


@router.post(
    "", response_model=ScheduleCreateOut, summary="Schedule a message",
    responses={**CREATE_RESPONSES, 400: {"model": Detail, "description": "`scheduled_at` is in the past."}},
)  # fmt: skip
def create(agent_id: str, body: ScheduleCreateIn, caller: CallerDep, state: StateDep) -> dict[str, Any]:
    """Schedule a message to the agent once (``scheduled_at``, unix ms, in the future) or on a cron."""
    agent = _agent(agent_id)
    if body.callback_url is not None:
        raise field_error("callback_url", "switchboard does not call back — omit callback_url")
    if body.max_steps is not None:
        raise field_error("max_steps", "switchboard sends with the agent's own step limit — omit max_steps")
    first = body.messages[0]
    try:
        text = check_message(first.text())
    except ValueError as exc:
        raise field_error("messages", str(exc)) from None
    now = state.now()
    spec = body.schedule
    if isinstance(spec, OneTimeSpec) and spec.instant() < now:
        raise ApiError(400, past_detail(spec.instant(), now))
    if not isinstance(spec, OneTimeSpec):
        cron, zone = parsed("schedule.cron_expression", lambda: parse_recurring(spec.cron_expression, tz=spec.timezone))
    schedule: Schedule
    with state.lock:
        if isinstance(spec, OneTimeSpec):
            schedule = service.add_one_time(
                state.store,
                api_key=caller.key,
                base_url=state.base_url,
                agent_id=agent,
                message=text,
                execute_at=spec.instant(),
                now=now,
                role=first.role,
                message_fields=first.fields(),
            )
            upcoming = iso(schedule.execute_at)
            wake_ticker(state, schedule.execute_at)
        else:
            schedule = service.add_recurring(
                state.store,
                api_key=caller.key,
                base_url=state.base_url,
                agent_id=agent,
                message=text,
                cron=cron,
                timezone=zone,
                now=now,
                role=first.role,
                message_fields=first.fields(),
            )
            upcoming = iso(schedule.next_run())
    return {"id": schedule.id, "next_scheduled_at": upcoming}


def past_detail(when: datetime, now: datetime) -> str:
    """The 400 for a one-time ``scheduled_at`` before now: which instant, what now is, what to send."""
    return (
        f"scheduled_at {_millis(when)} ({iso(when)}) is in the past (now is {iso(now)}) — give a future time "
        "in unix milliseconds, e.g. int(time.time() * 1000) + 60000 for one minute from now"
    )


# exclude_unset: a message's name, otid and sender_id show only when they were given, as they were sent.
@router.get(
    "", response_model=ScheduleListOut, response_model_exclude_unset=True, responses=AUTH_RESPONSES,
    summary="List scheduled messages",
)  # fmt: skip
def list_scheduled(
    agent_id: str,
    caller: CallerDep,
    state: StateDep,
    limit: Annotated[int, Query(ge=1, le=1000, description="At most this many.")] = 50,
    after: Annotated[str | None, Query(description="Start after the scheduled message with this id.")] = None,
) -> dict[str, Any]:
    """The agent's scheduled messages (yours only), oldest first."""
    agent = _agent(agent_id)
    with state.lock:
        one_time = service.list_one_time(state.store, caller.key)
        recurring = service.list_recurring(state.store, caller.key)
    every: list[Schedule] = [*one_time, *recurring]
    items = [s for s in every if s.agent_id == agent]
    items.sort(key=lambda s: (s.created_at, s.id))
    start = start_after(items, after, "no scheduled message {cursor} for this agent")
    chosen = items[start : start + limit]
    return {
        "has_next_page": start + limit < len(items),
        "scheduled_messages": [scheduled_message(s) for s in chosen],
    }


@router.get(
    "/{scheduled_message_id}", response_model=ScheduledMessage, response_model_exclude_unset=True,
    responses=BY_ID_RESPONSES,
    summary="Retrieve a scheduled message",
)  # fmt: skip
def retrieve(agent_id: str, scheduled_message_id: MessageIdPath, caller: CallerDep, state: StateDep) -> dict[str, Any]:
    """One of the agent's scheduled messages."""
    return scheduled_message(_find(state, caller, agent_id, scheduled_message_id))


@router.delete(
    "/{scheduled_message_id}", response_model=ScheduleDeleteOut, responses=BY_ID_RESPONSES,
    summary="Delete a scheduled message",
)  # fmt: skip
def delete(agent_id: str, scheduled_message_id: MessageIdPath, caller: CallerDep, state: StateDep) -> dict[str, Any]:
    """Delete one of the agent's scheduled messages."""
    with state.lock:
        schedule = _find(state, caller, agent_id, scheduled_message_id)
        try:
            service.delete_schedule(state.store, caller.key, schedule.id, schedule.kind)
        except NotFoundError:
            raise ApiError(404, "Scheduled message not found") from None
    return {"success": True}


def _find(state: ApiState, caller: Caller, agent_id: str, scheduled_message_id: str) -> Schedule:
    """The caller's scheduled message of this agent: 422 for a bad agent id, 403 or 404 for a bad message id."""
    agent = _agent(agent_id)
    sid = path_id(scheduled_message_id, "Scheduled message")
    schedule = owned(
        state, caller, sid, lambda: service.get_schedule(state.store, caller.key, sid), "Scheduled message"
    )
    if schedule.agent_id != agent:
        raise ApiError(404, "Scheduled message not found for this agent")
    return schedule
