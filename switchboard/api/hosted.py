"""The hosted service's endpoints, unchanged, and what switchboard adds to them.

Kept as the hosted service had them (a client only changes its base URL)::

    POST   /schedules/one-time        {agent_id, execute_at, message, role}  -> 201 schedule
    POST   /schedules/recurring       {agent_id, cron, message, role}        -> 201 schedule
    GET    /schedules/one-time        GET /schedules/recurring               -> list
    GET    /schedules/one-time/{id}   GET /schedules/recurring/{id}
    DELETE /schedules/one-time/{id}   DELETE /schedules/recurring/{id}       -> {"message": "Schedule deleted"}
    GET    /results                   GET /results/{schedule_id}             -> list / the latest result

Added: natural language in ``execute_at`` and ``cron`` (with an optional
``timezone``), ``limit``/``after`` on the lists (a ``Link: rel="next"``
header says where the next page is), pause and resume, and the whole result
history of a schedule (``GET /results/{schedule_id}/history``).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any, TypeVar
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Path, Query, Request, Response

from switchboard import service
from switchboard.api.auth import Caller
from switchboard.api.deps import (
    ApiState,
    authenticated,
    field_error,
    get_state,
    missing,
    path_id,
    query_id,
)
from switchboard.api.schemas import (
    Deleted,
    Detail,
    OneTimeIn,
    OneTimeOut,
    RecurringIn,
    RecurringOut,
    ResultOut,
    ValidationDetail,
)
from switchboard.exceptions import InvalidInputError, NotFoundError
from switchboard.models import RecurringSchedule, Schedule
from switchboard.timeparse import parse_instant, parse_recurring

log = logging.getLogger(__name__)
T = TypeVar("T")

#: Every answer a route behind the key check can give besides its own.
AUTH_RESPONSES: dict[int | str, dict[str, Any]] = {
    401: {"model": Detail, "description": "No key, or a key Letta refused (`WWW-Authenticate: Bearer`)."},
    422: {"model": ValidationDetail, "description": "Invalid input: one item per field."},
    429: {"model": Detail, "description": "Too many requests for this key (`Retry-After`)."},
    503: {"model": Detail, "description": "Letta or the repository could not be reached; try again."},
}
BY_ID_RESPONSES: dict[int | str, dict[str, Any]] = {
    **AUTH_RESPONSES,
    403: {"model": Detail, "description": "The schedule belongs to another Letta API key."},
    404: {"model": Detail, "description": "No such schedule."},
}
CREATE_RESPONSES: dict[int | str, dict[str, Any]] = {
    **AUTH_RESPONSES,
    413: {"model": Detail, "description": "The request body is too large."},
}

router = APIRouter(tags=["schedules (hosted-service compatible)"])


def parsed(field: str, parse: Callable[[], T]) -> T:
    """Run a time parser; what it cannot read is a 422 on ``field`` (never a 500)."""
    try:
        return parse()
    except InvalidInputError as exc:
        raise field_error(field, str(exc)) from None
    except (ValueError, OverflowError, ArithmeticError, LookupError) as exc:
        # A phrase that trips a parser's own bug is still the caller's bad input, not our crash.
        log.info("time phrase for %s not understood (%s)", field, type(exc).__name__)
        raise field_error(field, 'could not understand that time — try "tomorrow at 9am" or ISO 8601') from None


def page(
    request: Request, response: Response, items: Sequence[Schedule], limit: int | None, after: str | None
) -> list[Schedule]:
    """``items`` from just after the id ``after``, at most ``limit``; sets ``Link: rel="next"``."""
    start = 0
    if after is not None:
        cursor = query_id(after, "after")
        positions = [i for i, item in enumerate(items) if item.id == cursor]
        if not positions:
            raise field_error(
                "after", f"no schedule {cursor} in this list — pass the id of its last item", place="query"
            )
        start = positions[0] + 1
    chosen = list(items[start:])
    if limit is not None and len(chosen) > limit:
        chosen = chosen[:limit]
        query = urlencode({"limit": limit, "after": chosen[-1].id})
        response.headers["Link"] = f'<{request.url.path}?{query}>; rel="next"'
    return chosen


def wake_ticker(state: ApiState, due: datetime) -> None:
    """A message due now is sent by the next pass at once, not at the end of the interval."""
    if state.ticker is not None and due <= state.now():
        state.ticker.poke()


#: Ids are UUIDs; anything else is a 404 (no such schedule), answered before any path is built from it.
SCHEDULE_ID = Path(description="The schedule's id (a UUID).", json_schema_extra={"format": "uuid"})
LIMIT = Query(None, ge=1, le=1000, description="At most this many (all when omitted).")
AFTER = Query(None, description="Start after the schedule with this id (the last of the previous page).")


# -- one-time -------------------------------------------------------------------------------


@router.post(
    "/schedules/one-time", status_code=201, response_model=OneTimeOut, responses=CREATE_RESPONSES,
    summary="Schedule a message once",
)  # fmt: skip
def create_one_time(
    body: OneTimeIn, caller: Caller = Depends(authenticated), state: ApiState = Depends(get_state)
) -> dict[str, Any]:
    """Store a one-time schedule; ``execute_at`` may be natural language, read in ``timezone``."""
    now = state.now()
    phrase = body.execute_at
    when = now if phrase is None else parsed("execute_at", lambda: parse_instant(phrase, tz=body.timezone, now=now))
    with state.lock:
        schedule = service.add_one_time(
            state.store,
            api_key=caller.key,
            base_url=state.base_url,
            agent_id=body.agent_id,
            message=body.message,
            execute_at=when,
            now=now,
            role=body.role,
        )
    wake_ticker(state, schedule.execute_at)
    return schedule.public()


@router.get("/schedules/one-time", response_model=list[OneTimeOut], responses=AUTH_RESPONSES)
def list_one_time(
    request: Request,
    response: Response,
    limit: int | None = LIMIT,
    after: str | None = AFTER,
    caller: Caller = Depends(authenticated),
    state: ApiState = Depends(get_state),
) -> list[dict[str, Any]]:
    """Your pending one-time schedules, due first."""
    with state.lock:
        items = service.list_one_time(state.store, caller.key)
    return [s.public() for s in page(request, response, items, limit, after)]


@router.get("/schedules/one-time/{schedule_id}", response_model=OneTimeOut, responses=BY_ID_RESPONSES)
def get_one_time(
    schedule_id: str = SCHEDULE_ID, caller: Caller = Depends(authenticated), state: ApiState = Depends(get_state)
) -> dict[str, Any]:
    """One of your one-time schedules."""
    return _get(state, caller, schedule_id, "one-time").public()


@router.delete("/schedules/one-time/{schedule_id}", response_model=Deleted, responses=BY_ID_RESPONSES)
def delete_one_time(
    schedule_id: str = SCHEDULE_ID, caller: Caller = Depends(authenticated), state: ApiState = Depends(get_state)
) -> dict[str, str]:
    """Delete one of your one-time schedules."""
    _delete(state, caller, schedule_id, "one-time")
    return {"message": "Schedule deleted"}


# -- recurring ------------------------------------------------------------------------------


@router.post(
    "/schedules/recurring", status_code=201, response_model=RecurringOut, responses=CREATE_RESPONSES,
    summary="Schedule a message on a cron",
)  # fmt: skip
def create_recurring(
    body: RecurringIn, caller: Caller = Depends(authenticated), state: ApiState = Depends(get_state)
) -> dict[str, Any]:
    """Store a recurring schedule; ``cron`` may be natural language, in ``timezone`` (default UTC)."""
    cron, zone = parsed("cron", lambda: parse_recurring(body.cron, tz=body.timezone))
    with state.lock:
        schedule = service.add_recurring(
            state.store,
            api_key=caller.key,
            base_url=state.base_url,
            agent_id=body.agent_id,
            message=body.message,
            cron=cron,
            timezone=zone,
            now=state.now(),
            role=body.role,
        )
    return schedule.public()


@router.get("/schedules/recurring", response_model=list[RecurringOut], responses=AUTH_RESPONSES)
def list_recurring(
    request: Request,
    response: Response,
    limit: int | None = LIMIT,
    after: str | None = AFTER,
    caller: Caller = Depends(authenticated),
    state: ApiState = Depends(get_state),
) -> list[dict[str, Any]]:
    """Your recurring schedules, oldest first."""
    with state.lock:
        items = service.list_recurring(state.store, caller.key)
    return [s.public() for s in page(request, response, items, limit, after)]


@router.get("/schedules/recurring/{schedule_id}", response_model=RecurringOut, responses=BY_ID_RESPONSES)
def get_recurring(
    schedule_id: str = SCHEDULE_ID, caller: Caller = Depends(authenticated), state: ApiState = Depends(get_state)
) -> dict[str, Any]:
    """One of your recurring schedules."""
    return _get(state, caller, schedule_id, "recurring").public()


@router.delete("/schedules/recurring/{schedule_id}", response_model=Deleted, responses=BY_ID_RESPONSES)
def delete_recurring(
    schedule_id: str = SCHEDULE_ID, caller: Caller = Depends(authenticated), state: ApiState = Depends(get_state)
) -> dict[str, str]:
    """Delete one of your recurring schedules."""
    _delete(state, caller, schedule_id, "recurring")
    return {"message": "Schedule deleted"}


@router.post("/schedules/recurring/{schedule_id}/pause", response_model=RecurringOut, responses=BY_ID_RESPONSES)
def pause_recurring(
    schedule_id: str = SCHEDULE_ID, caller: Caller = Depends(authenticated), state: ApiState = Depends(get_state)
) -> dict[str, Any]:
    """Stop a recurring schedule from firing; it is kept."""
    return _pause(state, caller, schedule_id, paused=True).public()


@router.post("/schedules/recurring/{schedule_id}/resume", response_model=RecurringOut, responses=BY_ID_RESPONSES)
def resume_recurring(
    schedule_id: str = SCHEDULE_ID, caller: Caller = Depends(authenticated), state: ApiState = Depends(get_state)
) -> dict[str, Any]:
    """Let a paused schedule fire again, from now on (fires missed while paused are not sent)."""
    return _pause(state, caller, schedule_id, paused=False).public()


# -- results --------------------------------------------------------------------------------


@router.get("/results", response_model=list[ResultOut], responses=AUTH_RESPONSES, tags=["results"])
def list_results(
    limit: int | None = Query(None, ge=1, le=10_000, description="At most this many (all when omitted)."),
    offset: int = Query(0, ge=0, le=1_000_000, description="Skip this many of the newest first."),
    schedule_id: str | None = Query(None, description="Only this schedule's results."),
    caller: Caller = Depends(authenticated),
    state: ApiState = Depends(get_state),
) -> list[dict[str, Any]]:
    """Every delivery, newest first, with Letta's run id and the message."""
    wanted = None if schedule_id is None else query_id(schedule_id, "schedule_id")
    with state.lock:
        items = service.list_results(
            state.store, caller.key, schedule_id=wanted, limit=None if limit is None else offset + limit
        )
    return [r.public(with_message=True) for r in items[offset:]]


@router.get("/results/{schedule_id}", response_model=ResultOut, responses=BY_ID_RESPONSES, tags=["results"])
def latest_result(
    schedule_id: str = SCHEDULE_ID, caller: Caller = Depends(authenticated), state: ApiState = Depends(get_state)
) -> dict[str, Any]:
    """The latest result of one of your schedules (as the hosted service answered)."""
    sid = path_id(schedule_id, "Result")
    with state.lock:
        items = service.list_results(state.store, caller.key, schedule_id=sid, limit=1)
    if not items:
        raise missing(state, caller, sid, "Result")
    return items[0].public(with_message=True)


@router.get(
    "/results/{schedule_id}/history", response_model=list[ResultOut], responses=BY_ID_RESPONSES, tags=["results"]
)
def result_history(
    schedule_id: str = SCHEDULE_ID,
    limit: int | None = Query(None, ge=1, le=10_000, description="At most this many (all when omitted)."),
    caller: Caller = Depends(authenticated),
    state: ApiState = Depends(get_state),
) -> list[dict[str, Any]]:
    """Every result of one of your schedules, newest first."""
    sid = path_id(schedule_id)
    with state.lock:
        items = service.list_results(state.store, caller.key, schedule_id=sid, limit=limit)
        exists = bool(items) or _owns(state, caller, sid)
    if not exists:
        raise missing(state, caller, sid)
    return [r.public(with_message=True) for r in items]


# -- shared ---------------------------------------------------------------------------------


def _owns(state: ApiState, caller: Caller, schedule_id: str) -> bool:
    try:
        state.store.locate(state.store.tenant(caller.key), schedule_id)
    except NotFoundError:
        return False
    return True


def _get(state: ApiState, caller: Caller, schedule_id: str, kind: str) -> Schedule:
    sid = path_id(schedule_id)
    try:
        with state.lock:
            return service.get_schedule(state.store, caller.key, sid, kind)
    except NotFoundError:
        raise missing(state, caller, sid) from None


def _delete(state: ApiState, caller: Caller, schedule_id: str, kind: str) -> Schedule:
    sid = path_id(schedule_id)
    try:
        with state.lock:
            return service.delete_schedule(state.store, caller.key, sid, kind)
    except NotFoundError:
        raise missing(state, caller, sid) from None


def _pause(state: ApiState, caller: Caller, schedule_id: str, *, paused: bool) -> RecurringSchedule:
    sid = path_id(schedule_id)
    try:
        with state.lock:
            return service.set_paused(state.store, caller.key, sid, paused=paused, now=state.now())
    except NotFoundError:
        raise missing(state, caller, sid) from None
