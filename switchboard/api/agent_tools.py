"""The routes an agent's own tools call (``switchboard/agent_tools/source.py``)::

    POST   /agent-tools/schedules        {message, when, timezone?, agent_id?}  -> 201 {sentence, schedules}
    GET    /agent-tools/schedules?timezone=                                    -> {sentence, schedules}
    DELETE /agent-tools/schedules/{id}                                         -> {sentence, schedules}

They take ``Authorization: Bearer <agent grant token>``, never a Letta key:
the grant (``agent_tools/grants.py``) says which tenant and agent the caller
is. Every answer, refusals included, carries one sentence for the agent
(``sentence``, or ``detail`` on an error): 401 an unknown or revoked token,
403 a token used by another agent than its own (when the sandbox says who it
is), 404 a schedule that is not the agent's, 409 a limit reached, 422 bad
input, 429 too many calls.
"""

from __future__ import annotations

import logging
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Query
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel, ConfigDict, Field

from switchboard.agent_tools import grants, scheduling
from switchboard.agent_tools.grants import AgentGrant
from switchboard.api.auth import key_hash, retry_after_header
from switchboard.api.deps import StateDep, wake_ticker
from switchboard.api.schemas import Detail, FieldError
from switchboard.exceptions import ApiError, InvalidGrantError, InvalidInputError, LimitError, NotFoundError
from switchboard.models import OneTimeSchedule

log = logging.getLogger(__name__)

router = APIRouter(prefix="/agent-tools", tags=["agent tools"])

token_bearer = HTTPBearer(
    auto_error=False,
    scheme_name="AgentGrantToken",
    description="The agent's grant token (SWITCHBOARD_TOKEN in its tool environment), made by "
    "`switchboard agent-tools attach`.",
)

UNAUTHENTICATED = {"WWW-Authenticate": "Bearer"}


class AgentScheduleIn(BaseModel):
    """What ``schedule_message`` sends."""

    model_config = ConfigDict(extra="ignore")

    message: str = Field(description="The text the agent receives then.")
    when: str = Field(description='"in 10 minutes", "tomorrow at 9am", ISO 8601, "every monday at 9am", cron…')
    timezone: str | None = Field(None, description="IANA zone the time is read in (default: the grant's).")
    agent_id: str | None = Field(None, description="Another agent of the same Letta key (default: the caller).")


class AgentAnswer(BaseModel):
    """A sentence for the agent, and the schedules it is about (hosted-service shapes)."""

    sentence: str
    schedules: list[dict[str, Any]]


class Refusal(BaseModel):
    """A 422: a sentence for a value the agent should fix, or one item per field for a body that is not valid."""

    detail: str | list[FieldError]


RESPONSES: dict[int | str, dict[str, Any]] = {
    code: {"model": Refusal if code == 422 else Detail, "description": text}
    for code, text in {
        401: "No token, or one that opens no grant (unknown, revoked).",
        403: "The token belongs to another agent.",
        404: "No such schedule among this agent's.",
        409: "A limit of the agent's grant is reached.",
        422: "Input the agent should fix; the detail says how.",
        429: "Too many calls (`Retry-After`).",
    }.items()
}


def granted(
    state: StateDep,
    credentials: HTTPAuthorizationCredentials | None = Depends(token_bearer),
    letta_agent_id: Annotated[str | None, Header(alias="X-Letta-Agent-Id")] = None,
) -> AgentGrant:
    """The caller's grant, from its token: 401, 403 or 429 otherwise."""
    token = credentials.credentials.strip() if credentials is not None else ""
    if not token:
        raise ApiError(401, "no token — run `switchboard agent-tools attach` for this agent", UNAUTHENTICATED)
    # Limited, and its shape checked, before the repository is fetched (under the app's lock), so that a
    # flood of made-up tokens costs no fetch; as for Letta keys, the bucket is the token's hash.
    wait = state.limiter.take("grant:" + key_hash(token))
    if wait is not None:
        seconds = retry_after_header(wait)
        raise ApiError(429, f"too many calls — wait {seconds}s", {"Retry-After": seconds})
    try:
        grants.token_parts(token)
        with state.lock:
            # Always from the latest state of the repository: a grant revoked elsewhere must stop working now.
            state.store.backend.refresh()
            grant = grants.check_token(state.store, token)
    except InvalidGrantError:
        raise ApiError(
            401, "this agent's scheduling token is not valid (revoked or replaced) — run "
            "`switchboard agent-tools attach` for it again", UNAUTHENTICATED,
        ) from None  # fmt: skip
    if letta_agent_id and letta_agent_id.strip() != grant.agent_id:
        raise ApiError(403, "this scheduling token belongs to another agent — attach the tools to this agent itself")
    return grant


GrantDep = Annotated[AgentGrant, Depends(granted)]


def _answer(answer: scheduling.Answer) -> dict[str, Any]:
    return {"sentence": answer.sentence, "schedules": [s.public() for s in answer.schedules]}


def _refusal(exc: Exception) -> ApiError:
    """The library's refusal as an answer the agent can repeat."""
    if isinstance(exc, LimitError):
        return ApiError(409, str(exc))
    if isinstance(exc, NotFoundError):
        return ApiError(404, str(exc))
    if isinstance(exc, InvalidInputError):
        return ApiError(422, str(exc))
    # A phrase that trips a parser's own bug is still the agent's bad input, not our crash.
    log.info("agent tool input not understood (%s)", type(exc).__name__)
    return ApiError(422, 'could not understand that time — try "in 10 minutes", "tomorrow at 9am" or ISO 8601')


@router.post("/schedules", status_code=201, response_model=AgentAnswer, responses=RESPONSES)
def create(body: AgentScheduleIn, grant: GrantDep, state: StateDep) -> dict[str, Any]:
    """Schedule a message, once or recurring as ``when`` says, within the grant's limits."""
    try:
        with state.lock:
            answer = scheduling.schedule(
                state.store, grant, message=body.message, when=body.when, now=state.now(),
                timezone=body.timezone, agent_id=body.agent_id,
            )  # fmt: skip
    except (InvalidInputError, NotFoundError, ValueError, OverflowError, ArithmeticError, LookupError) as exc:
        raise _refusal(exc) from None
    made = answer.schedules[0]
    if isinstance(made, OneTimeSchedule):
        wake_ticker(state, made.execute_at)
    return _answer(answer)


@router.get("/schedules", response_model=AgentAnswer, responses=RESPONSES)
def listed(
    grant: GrantDep,
    state: StateDep,
    timezone: Annotated[str | None, Query(description="IANA zone to show times in.")] = None,
) -> dict[str, Any]:
    """The agent's scheduled messages: addressed to it or made by it."""
    try:
        with state.lock:
            return _answer(scheduling.listed(state.store, grant, timezone=timezone))
    except InvalidInputError as exc:
        raise _refusal(exc) from None


@router.delete("/schedules/{schedule_id:path}", response_model=AgentAnswer, responses=RESPONSES)
def cancel(schedule_id: str, grant: GrantDep, state: StateDep) -> dict[str, Any]:
    """Cancel one of the agent's scheduled messages."""
    try:
        with state.lock:
            return _answer(scheduling.cancel(state.store, grant, schedule_id))
    except (InvalidInputError, NotFoundError) as exc:
        raise _refusal(exc) from None
