"""The hosted service's endpoints, unchanged, and what switchboard adds to them.

Kept as the hosted service had them (a client only changes its base URL)::

    POST   /schedules/one-time        {agent_id, execute_at, message, role}  -> 201 schedule
    POST   /schedules/recurring       {agent_id, cron, message, role}        -> 201 schedule
    GET    /schedules/one-time        GET /schedules/recurring               -> list
    GET    /schedules/one-time/{id}   GET /schedules/recurring/{id}
    DELETE /schedules/one-time/{id}   DELETE /schedules/recurring/{id}       -> {"message": "Schedule deleted"}
    GET    /results                   GET /results/{schedule_id}             -> list / the latest result

Two answers are the hosted service's rather than the rest of switchboard's: a
request without ``Authorization: Bearer …`` gets ``403 {"detail": "Not
authenticated"}`` (a refused key is 401), and a result Letta accepted has
``status: "success"`` where the CLI and the Letta-shaped routes say
``delivered`` (:func:`~switchboard.api.schemas.hosted_status`).

Added: natural language in ``execute_at`` and ``cron`` (with an optional
``timezone``), an optional ``name``, ``limit``/``after`` on the lists (a
``Link: rel="next"`` header says where the next page is), pause and resume,
changes in place (``PATCH /schedules/{one-time,recurring}/{id}``: 409 while a
tick is delivering the schedule), the whole result history of a schedule
(``GET /results/{schedule_id}/history``), one extra fire now
(``POST /schedules/recurring/{id}/run``), and a one-time message due now
delivered by this server at once. Paths take full ids only: names and id
prefixes are the CLI's.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Annotated, Any, TypeVar
from urllib.parse import urlencode

from fastapi import APIRouter, BackgroundTasks, Query, Request, Response

from switchboard import service
from switchboard.api.auth import Caller
from switchboard.api.deps import (
    AUTH_RESPONSES,
    BY_ID_RESPONSES,
    CREATE_RESPONSES,
    RUN_RESPONSES,
    ApiState,
    HostedCallerDep,
    ScheduleIdPath,
    StateDep,
    deliver_in_background,
    field_error,
    missing,
    owned,
    parsed,
    path_id,
    query_id,
    start_after,
    wake_ticker,
)
from switchboard.api.schemas import (
    Deleted,
    Detail,
    OneTimeIn,
    OneTimeOut,
    OneTimePatch,
    RecurringIn,
    RecurringOut,
    RecurringPatch,
    ResultOut,
    hosted_status,
)
from switchboard.context import letta_client_now
from switchboard.exceptions import ApiError, NotFoundError
from switchboard.models import Kind, OneTimeSchedule, RecurringSchedule, Result, Schedule
from switchboard.tick import deliver_now
from switchboard.tick.now import add_claimed, claim_manual
from switchboard.timeparse import parse_instant, parse_recurring, refuse_past, written_as_iso

#: The paging of the lists: at most ``limit``, from just after the id ``after``.
Limit = Annotated[int | None, Query(ge=1, le=1000, description="At most this many (all when omitted).")]
After = Annotated[
    str | None, Query(description="Start after the schedule with this id (the last of the previous page).")
]
ResultLimit = Annotated[int | None, Query(ge=1, le=10_000, description="At most this many (all when omitted).")]

#: The caller of every route here, judged as the hosted service did (403 without a key).
CallerDep = HostedCallerDep

router = APIRouter(
    tags=["schedules (hosted-service compatible)"],
    responses={403: {"model": Detail, "description": "No `Authorization: Bearer` key (`Not authenticated`)."}},
)


def hosted_result(result: Result) -> dict[str, Any]:
    """A result as the hosted endpoints show it: with its message, and the hosted service's status names."""
    shown = result.public(with_message=True, with_name=True)
    shown["status"] = hosted_status(shown["status"])
    return shown


#: A PATCH adds 409 (a tick is delivering the schedule: try again after it) and 413.
UPDATE_RESPONSES: dict[int | str, dict[str, Any]] = {**RUN_RESPONSES, 413: CREATE_RESPONSES[413]}


def page(
    request: Request, response: Response, items: Sequence[Schedule], limit: int | None, after: str | None
) -> list[dict[str, Any]]:
    """``items`` from just after the id ``after``, at most ``limit``, shown; sets ``Link: rel="next"``."""
    start = start_after(items, after, "no schedule {cursor} in this list — pass the id of its last item")
    chosen = list(items[start:])
    if limit is not None and len(chosen) > limit:
        chosen = chosen[:limit]
        query = urlencode({"limit": limit, "after": chosen[-1].id})
        response.headers["Link"] = f'<{request.url.path}?{query}>; rel="next"'
    return [s.public() for s in chosen]


T = TypeVar("T")

#: On a listing: how many of the caller's files were left out because they do not open.
UNREADABLE_HEADER = "X-Switchboard-Unreadable"


def listing(response: Response, state: ApiState, list_them: Callable[[], list[T]]) -> list[T]:
    """``list_them()``, counting in a header the caller's files it left out because they do not open.

    The body keeps the hosted service's shape; the page shows the count, and
    ``switchboard doctor`` names each file and says why.
    """
    with state.lock:
        state.store.take_unreadable()  # what a pass of the ticker skipped is its own to report
        items = list_them()
        skipped = state.store.take_unreadable()
    if skipped:
        response.headers[UNREADABLE_HEADER] = str(len(skipped))
    return items


def phrase_not_past(text: str, tz: str, now: datetime) -> datetime:
    """``execute_at`` read; English that resolves to the past is refused, ISO 8601 in the past is kept.

    The hosted service delivered a past ISO ``execute_at`` at once, and its clients rely on that. English is
    ours: "4pm" sent at 16:22 more likely meant tomorrow than now, so it is refused as on the CLI.
    """
    instant = parse_instant(text, tz=tz, now=now)
    if not written_as_iso(text):
        refuse_past(instant, text=text, tz=tz, now=now, anyway="; an ISO 8601 time in the past is delivered at once")
    return instant


# -- one-time -------------------------------------------------------------------------------


@router.post(
    "/schedules/one-time", status_code=201, response_model=OneTimeOut, responses=CREATE_RESPONSES,
    summary="Schedule a message once",
)  # fmt: skip
def create_one_time(body: OneTimeIn, caller: CallerDep, state: StateDep, background: BackgroundTasks) -> dict[str, Any]:
    """Store a one-time schedule; ``execute_at`` may be natural language, read in ``timezone``.

    One already due is stored claimed by this server and delivered right after the answer
    (its result is at ``GET /results/{id}`` a moment later); a tick never sends it twice.
    With ``--tick-every``, the server's own ticker is woken for it instead.
    """
    now = state.now()
    phrase = body.execute_at
    when = now if phrase is None else parsed("execute_at", lambda: phrase_not_past(phrase, body.timezone, now))
    fields: dict[str, Any] = {
        "api_key": caller.key,
        "base_url": state.base_url,
        "agent_id": body.agent_id,
        "message": body.message,
        "execute_at": when,
        "now": now,
        "role": body.role,
        "name": body.name,
        "envelope": body.envelope,
        "timezone": body.timezone,
        "conversation": body.conversation,
    }
    if when <= now and state.ticker is None:
        made = service.new_one_time(**fields)
        with state.lock:
            claimed = add_claimed(state.store, made, now)
        background.add_task(deliver_in_background, state, claimed)
        return made.public()
    with state.lock:
        schedule = service.add_one_time(state.store, **fields, clock=body.clock)
    wake_ticker(state, schedule.execute_at)
    return schedule.public()


@router.get("/schedules/one-time", response_model=list[OneTimeOut], responses=AUTH_RESPONSES)
def list_one_time(
    request: Request, response: Response, caller: CallerDep, state: StateDep, limit: Limit = None, after: After = None
) -> list[dict[str, Any]]:
    """Your pending one-time schedules, due first."""
    items = listing(response, state, lambda: service.list_one_time(state.store, caller.key))
    return page(request, response, items, limit, after)


@router.get("/schedules/one-time/{schedule_id}", response_model=OneTimeOut, responses=BY_ID_RESPONSES)
def get_one_time(schedule_id: ScheduleIdPath, caller: CallerDep, state: StateDep) -> dict[str, Any]:
    """One of your one-time schedules."""
    return _get(state, caller, schedule_id, "one-time").public()


@router.patch("/schedules/one-time/{schedule_id}", response_model=OneTimeOut, responses=UPDATE_RESPONSES)
def update_one_time(
    schedule_id: ScheduleIdPath, body: OneTimePatch, caller: CallerDep, state: StateDep
) -> dict[str, Any]:
    """Change one of your one-time schedules in place: same id; a new ``execute_at`` moves it."""
    now = state.now()
    changes = body.plain_changes()
    phrase = body.execute_at
    if phrase is not None:
        tz = body.timezone or "UTC"
        changes["execute_at"] = parsed("execute_at", lambda: phrase_not_past(phrase, tz, now))
        if body.timezone is not None:
            changes["timezone"] = body.timezone
    elif body.timezone is not None:
        raise field_error("timezone", "timezone only says how to read execute_at — send execute_at too")
    updated = _update(state, caller, schedule_id, "one-time", changes)
    assert isinstance(updated, OneTimeSchedule)
    wake_ticker(state, updated.execute_at)
    return updated.public()


@router.delete("/schedules/one-time/{schedule_id}", response_model=Deleted, responses=BY_ID_RESPONSES)
def delete_one_time(schedule_id: ScheduleIdPath, caller: CallerDep, state: StateDep) -> dict[str, str]:
    """Delete one of your one-time schedules."""
    return _delete(state, caller, schedule_id, "one-time")


# -- recurring ------------------------------------------------------------------------------


@router.post(
    "/schedules/recurring", status_code=201, response_model=RecurringOut, responses=CREATE_RESPONSES,
    summary="Schedule a message on a cron",
)  # fmt: skip
def create_recurring(body: RecurringIn, caller: CallerDep, state: StateDep) -> dict[str, Any]:
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
            name=body.name,
            clock=body.clock,
            conversation=body.conversation,
            envelope=body.envelope,
        )
    return schedule.public()


@router.get("/schedules/recurring", response_model=list[RecurringOut], responses=AUTH_RESPONSES)
def list_recurring(
    request: Request, response: Response, caller: CallerDep, state: StateDep, limit: Limit = None, after: After = None
) -> list[dict[str, Any]]:
    """Your recurring schedules, oldest first."""
    items = listing(response, state, lambda: service.list_recurring(state.store, caller.key))
    return page(request, response, items, limit, after)


@router.get("/schedules/recurring/{schedule_id}", response_model=RecurringOut, responses=BY_ID_RESPONSES)
def get_recurring(schedule_id: ScheduleIdPath, caller: CallerDep, state: StateDep) -> dict[str, Any]:
    """One of your recurring schedules."""
    return _get(state, caller, schedule_id, "recurring").public()


@router.patch("/schedules/recurring/{schedule_id}", response_model=RecurringOut, responses=UPDATE_RESPONSES)
def update_recurring(
    schedule_id: ScheduleIdPath, body: RecurringPatch, caller: CallerDep, state: StateDep
) -> dict[str, Any]:
    """Change one of your recurring schedules in place: same id and results; a new cron or zone counts from now."""
    changes = body.plain_changes()
    if body.cron is not None or body.timezone is not None:
        sid = path_id(schedule_id)
        current = owned(state, caller, sid, lambda: service.get_schedule(state.store, caller.key, sid, "recurring"))
        assert isinstance(current, RecurringSchedule)
        # A new cron is read in the schedule's own zone unless the body names one; a zone alone moves it.
        cron_text, tz = body.cron or current.cron, body.timezone or current.timezone
        changes["cron"], changes["timezone"] = parsed("cron", lambda: parse_recurring(cron_text, tz=tz))
    return _update(state, caller, schedule_id, "recurring", changes).public()


@router.delete("/schedules/recurring/{schedule_id}", response_model=Deleted, responses=BY_ID_RESPONSES)
def delete_recurring(schedule_id: ScheduleIdPath, caller: CallerDep, state: StateDep) -> dict[str, str]:
    """Delete one of your recurring schedules."""
    return _delete(state, caller, schedule_id, "recurring")


@router.post(
    "/schedules/recurring/{schedule_id}/run", response_model=ResultOut, responses=RUN_RESPONSES,
    summary="Send one extra fire now",
)  # fmt: skip
def run_recurring(schedule_id: ScheduleIdPath, caller: CallerDep, state: StateDep) -> dict[str, Any]:
    """Send the message of a recurring schedule once now; its next fire does not move. The result, ``manual``."""
    sid = path_id(schedule_id)
    now = state.now()
    claimed = owned(state, caller, sid, lambda: claim_manual(state.store, caller.key, sid, now))
    report = deliver_now(state.store, claimed, now, state.letta_client or letta_client_now)
    if report.result is None:
        raise ApiError(503, f"nothing was sent: {report.reason} — try again when Letta answers")
    return hosted_result(report.result)


@router.post("/schedules/recurring/{schedule_id}/pause", response_model=RecurringOut, responses=BY_ID_RESPONSES)
def pause_recurring(schedule_id: ScheduleIdPath, caller: CallerDep, state: StateDep) -> dict[str, Any]:
    """Stop a recurring schedule from firing; it is kept."""
    return _pause(state, caller, schedule_id, paused=True)


@router.post("/schedules/recurring/{schedule_id}/resume", response_model=RecurringOut, responses=BY_ID_RESPONSES)
def resume_recurring(schedule_id: ScheduleIdPath, caller: CallerDep, state: StateDep) -> dict[str, Any]:
    """Let a paused schedule fire again, from now on (fires missed while paused are not sent)."""
    return _pause(state, caller, schedule_id, paused=False)


# -- results --------------------------------------------------------------------------------


@router.get("/results", response_model=list[ResultOut], responses=AUTH_RESPONSES, tags=["results"])
def list_results(
    response: Response,
    caller: CallerDep,
    state: StateDep,
    limit: ResultLimit = None,
    offset: Annotated[int, Query(ge=0, le=1_000_000, description="Skip this many of the newest first.")] = 0,
    schedule_id: Annotated[str | None, Query(description="Only this schedule's results.")] = None,
) -> list[dict[str, Any]]:
    """Every delivery, newest first, with Letta's run id and the message."""
    wanted = None if schedule_id is None else query_id(schedule_id, "schedule_id")
    items = listing(
        response,
        state,
        lambda: service.list_results(
            state.store, caller.key, schedule_id=wanted, limit=None if limit is None else offset + limit
        ),
    )
    return [hosted_result(r) for r in items[offset:]]


@router.get("/results/{schedule_id}", response_model=ResultOut, responses=BY_ID_RESPONSES, tags=["results"])
def latest_result(schedule_id: ScheduleIdPath, caller: CallerDep, state: StateDep) -> dict[str, Any]:
    """The latest result of one of your schedules (as the hosted service answered)."""
    sid = path_id(schedule_id, "Result")
    with state.lock:
        items = service.list_results(state.store, caller.key, schedule_id=sid, limit=1)
    if not items:
        raise missing(state, caller, sid, "Result")
    return hosted_result(items[0])


@router.get(
    "/results/{schedule_id}/history", response_model=list[ResultOut], responses=BY_ID_RESPONSES, tags=["results"]
)
def result_history(
    schedule_id: ScheduleIdPath, caller: CallerDep, state: StateDep, limit: ResultLimit = None
) -> list[dict[str, Any]]:
    """Every result of one of your schedules, newest first."""
    sid = path_id(schedule_id)
    with state.lock:
        items = service.list_results(state.store, caller.key, schedule_id=sid, limit=limit)
        exists = bool(items) or _owns(state, caller, sid)
    if not exists:
        raise missing(state, caller, sid)
    return [hosted_result(r) for r in items]


# -- shared ---------------------------------------------------------------------------------


def _owns(state: ApiState, caller: Caller, schedule_id: str) -> bool:
    try:
        state.store.locate(state.store.tenant(caller.key), schedule_id)
    except NotFoundError:
        return False
    return True


def _get(state: ApiState, caller: Caller, schedule_id: str, kind: Kind) -> Schedule:
    sid = path_id(schedule_id)
    return owned(state, caller, sid, lambda: service.get_schedule(state.store, caller.key, sid, kind))


def _delete(state: ApiState, caller: Caller, schedule_id: str, kind: Kind) -> dict[str, str]:
    sid = path_id(schedule_id)
    # BusyError (a tick holds it) is the app's 409: "deleted" must mean "not sent".
    now = state.now()
    owned(state, caller, sid, lambda: service.delete_schedule(state.store, caller.key, sid, kind, now=now))
    return {"message": "Schedule deleted"}


def _update(state: ApiState, caller: Caller, schedule_id: str, kind: Kind, changes: dict[str, Any]) -> Schedule:
    sid = path_id(schedule_id)
    if not changes:
        fields = ", ".join(sorted(_PATCHABLE[kind]))
        raise ApiError(
            422, [{"type": "value_error", "loc": ["body"], "msg": f"nothing to change — send any of {fields}"}]
        )
    # BusyError (a tick holds it) is the app's 409.
    now, store = state.now(), state.store
    return owned(state, caller, sid, lambda: service.update_schedule(store, caller.key, sid, kind, changes, now=now))


#: The fields a PATCH body may carry, by kind (for the "nothing to change" answer).
_PATCHABLE = {"one-time": OneTimePatch.model_fields, "recurring": RecurringPatch.model_fields}


def _pause(state: ApiState, caller: Caller, schedule_id: str, *, paused: bool) -> dict[str, Any]:
    sid = path_id(schedule_id)
    return owned(
        state, caller, sid, lambda: service.set_paused(state.store, caller.key, sid, paused=paused, now=state.now())
    ).public()
