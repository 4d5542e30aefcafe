"""Request and response bodies of the REST API, as pydantic models.

Two families:

- the hosted service's shapes (``OneTimeIn``/``OneTimeOut``, ``RecurringIn``/
  ``RecurringOut``, ``ResultOut``, ``Deleted``), kept field for field so its
  clients only change their base URL; new fields are only ever added (``name``;
  ``OneTimePatch``/``RecurringPatch`` for switchboard's own PATCH);
- Letta Cloud's schedule API (``ScheduleCreateIn``, ``ScheduledMessage``,
  ``ScheduleListOut``…), named after the types of the official ``letta-client``
  SDK (``letta_client.types.agents.schedule_*``).

Response models are what FastAPI filters every answer through, so a field that
is not declared here (``api_key`` above all) can never reach a client.
Validation errors never echo the input: the message text is the user's own.
The field checks are the records' own (``AgentId``, ``Message`` from
``models.py``), so the API refuses exactly what the CLI refuses.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime
from typing import Annotated, Any, Literal, get_args

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, JsonValue, field_validator

from switchboard.models import (
    AGENT_ID_PATTERN,
    MAX_LETTA_FIELD,
    MAX_NAME_CHARS,
    AgentId,
    Clock,
    Conversation,
    Kind,
    Message,
    MessageFields,
    Name,
    ResultStatus,
    Role,
    RunStatus,
    Status,
)

#: A message must contain something other than white space.
MESSAGE_PATTERN = r"\S"

_AGENT_DOC = "The Letta agent to message: agent-<uuid> (Letta Cloud) or agent-local-<uuid> (the App Server)."
_ENVELOPE_DOC = (
    "Deliver the message after a short note telling the agent the schedule's name, zone, due time, the current "
    "time and the fire's number. Default false here: the message goes exactly as sent."
)
_ZONE_DOC = "IANA time zone the phrase is read in (and, for recurring schedules, the cron runs in)."
_NAME_DOC = f"Optional: a name to tell it apart by (at most {MAX_NAME_CHARS} characters, one line)."


def _zone_name(value: str) -> str:
    from switchboard.exceptions import UnknownZoneError
    from switchboard.timeparse import zone

    try:
        return zone(value).key
    except UnknownZoneError as exc:
        raise ValueError(str(exc)) from None


#: An IANA zone name, as the zone database spells it.
ZoneName = Annotated[str, AfterValidator(_zone_name)]


class _In(BaseModel):
    # Unknown fields are ignored: old clients of the hosted service sent "api_key" in the body,
    # and it must neither fail the request nor be used for anything.
    model_config = ConfigDict(extra="ignore")


class _ScheduleIn(_In):
    agent_id: AgentId = Field(description=_AGENT_DOC, json_schema_extra={"pattern": AGENT_ID_PATTERN})
    message: Message = Field(description="The text the agent receives.", json_schema_extra={"pattern": MESSAGE_PATTERN})
    role: Role = Field("user", description="user, system or assistant.")
    timezone: ZoneName = Field("UTC", description=_ZONE_DOC, examples=["UTC", "Europe/Berlin"])
    name: Name = Field(None, description=_NAME_DOC, json_schema_extra={"maxLength": MAX_NAME_CHARS})
    clock: Clock = Field(
        "github",
        description='Who fires it: "github" (the tick) or "letta" (armed as a Letta Cloud native schedule, '
        "watched by the tick; needs an https Letta API).",
    )
    conversation: Conversation = Field(
        None,
        description='Where each message goes: "default" (the agent\'s default conversation; omitted means this), '
        '"new" (a new conversation for every fire) or a conversation id.',
        json_schema_extra={"maxLength": 128},
        examples=["default", "new"],
    )
    envelope: bool = Field(False, description=_ENVELOPE_DOC)


class OneTimeIn(_ScheduleIn):
    """Body of ``POST /schedules/one-time``."""

    execute_at: str | None = Field(
        None,
        description='When: ISO 8601 ("2026-03-11T09:00:00+01:00") or natural language ("tomorrow at 9am", '
        '"in 5 minutes"), read in `timezone`. Omitted: now.',
        examples=["2026-03-11T09:00:00Z", "tomorrow at 9am"],
    )


class RecurringIn(_ScheduleIn):
    """Body of ``POST /schedules/recurring``."""

    cron: str = Field(
        description='A 5-field cron expression ("0 10 * * 1-5") or natural language ("every weekday at 10am"), '
        "in `timezone`.",
        examples=["0 10 * * 1-5", "every weekday at 10am"],
    )


class _SchedulePatch(_In):
    """What every PATCH may change; a field left out (or null) stays as it is, except ``name``: null removes it."""

    agent_id: AgentId | None = Field(None, description=_AGENT_DOC, json_schema_extra={"pattern": AGENT_ID_PATTERN})
    message: Message | None = Field(
        None, description="The text the agent receives.", json_schema_extra={"pattern": MESSAGE_PATTERN}
    )
    role: Role | None = Field(None, description="user, system or assistant.")
    name: Name = Field(
        None, description=_NAME_DOC + " null removes it.", json_schema_extra={"maxLength": MAX_NAME_CHARS}
    )

    def plain_changes(self) -> dict[str, Any]:
        """The fields given that need no parsing, as ``service.update_schedule`` takes them."""
        changes: dict[str, Any] = {
            key: getattr(self, key) for key in ("agent_id", "message", "role") if getattr(self, key) is not None
        }
        if "name" in self.model_fields_set:
            changes["name"] = self.name  # null: no name
        return changes


class OneTimePatch(_SchedulePatch):
    """Body of ``PATCH /schedules/one-time/{id}``: any of its fields."""

    execute_at: str | None = Field(
        None, description="A new time: ISO 8601 or natural language, read in `timezone`.", examples=["tomorrow at 9am"]
    )
    timezone: ZoneName | None = Field(None, description="The zone `execute_at` is read in (default UTC).")


class RecurringPatch(_SchedulePatch):
    """Body of ``PATCH /schedules/recurring/{id}``: any of its fields. A new cron or zone counts from now."""

    cron: str | None = Field(
        None, description="A new cron expression or phrase, read in `timezone` (default: the schedule's own zone)."
    )
    timezone: ZoneName | None = Field(None, description="The zone the schedule runs in; alone, it moves the schedule.")


class OneTimeOut(BaseModel):
    """A one-time schedule, as the hosted service showed it."""

    id: str
    name: str | None = None
    agent_id: str
    message: str
    role: Role
    conversation: str = Field("default", description='"default", "new" (one per fire) or a conversation id.')
    execute_at: str = Field(description="ISO 8601 instant, UTC.")
    timezone: str = Field("UTC", description="The zone its time was given in (lists show it there).")
    created_at: str
    envelope: bool = Field(False, description="Delivered after a note telling the agent the time.")
    clock: Clock = Field("github", description='Who fires it: "github" (the tick) or "letta" (Letta\'s own clock).')


class RecurringOut(BaseModel):
    """A recurring schedule: the hosted service's fields plus timezone, next_run and status."""

    id: str
    name: str | None = None
    agent_id: str
    message: str
    role: Role
    conversation: str = Field("default", description='"default", "new" (one per fire) or a conversation id.')
    cron: str
    timezone: str
    created_at: str
    last_run: str | None
    next_run: str | None = Field(description="The next fire (ISO 8601, UTC); null while paused.")
    status: Status
    paused_reason: str | None
    envelope: bool = Field(False, description="Delivered after a note telling the agent the time.")
    clock: Clock = Field("github", description='Who fires it: "github" (the tick) or "letta" (Letta\'s own clock).')


def hosted_status(status: str) -> str:
    """A result status as the hosted service named it: ``delivered`` is ``success``, the others stay."""
    return "success" if status == "delivered" else status


#: Every status a hosted-service result can have (new result statuses appear here by themselves).
HOSTED_STATUSES: list[JsonValue] = [s for s in sorted({hosted_status(s) for s in get_args(ResultStatus)})]


class ResultOut(BaseModel):
    """One delivery: the hosted service's result fields plus status, timing and error."""

    schedule_id: str
    name: str | None = Field(None, description="The schedule's name when it was delivered.")
    schedule_type: Kind
    status: str = Field(
        description='"success" when Letta accepted the message (the hosted service\'s name for it; the CLI says '
        '"delivered"), else as the CLI shows it.',
        json_schema_extra={"enum": HOSTED_STATUSES},
    )
    run_id: str | None = Field(description="Letta's run id (GET {LETTA_BASE_URL}/v1/runs/{run_id}).")
    agent_id: str
    message: str | None
    scheduled_for: str
    executed_at: str
    lateness_s: float
    skipped: int = Field(description="Earlier fires of a recurring schedule that were missed and coalesced.")
    attempt: int
    http_status: int | None
    error: str | None
    manual: bool = Field(False, description="Sent by request (`POST …/run`), not at a fire time.")
    run_status: RunStatus | None = Field(
        default=None,
        description="The Letta run's state: created/running until a later tick sees it end "
        "(completed, failed, cancelled), or unknown when it did not end within the run timeout.",
    )
    stop_reason: str | None = Field(default=None, description="Why the run ended, when Letta says.")
    run_end: str | None = Field(
        default=None,
        description="How the run ended in one word: completed only when the agent finished its turn; otherwise "
        "Letta's stop reason (requires_approval, insufficient_credits, max_steps, llm_api_error, …) or run_status.",
    )
    run_checked_at: str | None = Field(default=None, description="When the run's end was learnt.")
    conversation_id: str | None = Field(default=None, description="The conversation the message went to.")
    otid: str | None = Field(default=None, description="The idempotency id the message carried.")
    turn_id: str | None = Field(
        default=None, description="The App Server's turn that ended (with conversation_id and otid, its proof)."
    )


class Deleted(BaseModel):
    """The answer to a DELETE of the hosted service's endpoints."""

    message: Literal["Schedule deleted"] = "Schedule deleted"


class Detail(BaseModel):
    """An error: ``{"detail": "…"}``."""

    detail: str


class FieldError(BaseModel):
    """One invalid field: where it is and what is wrong (never the value given)."""

    type: str
    loc: list[str | int]
    msg: str


class ValidationDetail(BaseModel):
    """A 422: one item per invalid field."""

    detail: list[FieldError]


class ExplainOut(BaseModel):
    """How a phrase is understood (``switchboard explain --json``)."""

    kind: Kind
    timezone: str
    warnings: list[str]
    execute_at: str | None = None
    local: str | None = None
    past: bool | None = None
    cron: str | None = None
    description: str | None = None
    next: list[str] | None = None
    next_local: list[str] | None = None


class TickStatus(BaseModel):
    """What the built-in ticker has done."""

    every_s: float
    passes: int
    failures: int
    running: bool
    last_started: str | None
    last_finished: str | None
    last_error: str | None
    delivered: int
    next_wake: str | None = None
    """When the next pass runs: the next due instant, or one interval after the last pass at the latest."""


class Health(BaseModel):
    """``GET /health``."""

    status: Literal["ok"]
    version: str
    ticker: TickStatus | None


# -- Letta Cloud's schedule API ------------------------------------------------------------


class LettaMessageIn(BaseModel):
    """One of ``messages``: Letta's MessageCreate (text content only).

    ``content`` is a string or a list of parts, as letta-client sends either;
    ``name``, ``otid`` and ``sender_id`` are kept and go to Letta with the message.
    """

    model_config = ConfigDict(extra="ignore")

    role: Role
    content: str | list[dict[str, Any]]
    name: str | None = Field(None, max_length=MAX_LETTA_FIELD, description="The participant's name, for Letta.")
    otid: str | None = Field(
        None,
        max_length=MAX_LETTA_FIELD,
        description="Letta's otid for the message (one-time); the seed of each fire's otid (recurring).",
    )
    sender_id: str | None = Field(None, max_length=MAX_LETTA_FIELD, description="The sender's id, for Letta.")
    type: Literal["message"] | None = None

    def text(self) -> str:
        """The message's text: a string as is, text parts joined by newlines (a part's ``signature`` is ignored)."""
        if isinstance(self.content, str):
            return self.content
        texts = []
        for part in self.content:
            kind = part.get("type") or "text"
            if kind != "text" or not isinstance(part.get("text"), str):
                raise ValueError(f'content part of type "{kind}" is not supported — switchboard sends text only')
            texts.append(part["text"])
        return "\n".join(texts)

    def fields(self) -> MessageFields | None:
        """What goes to Letta besides role and content; None when nothing does."""
        if self.name is None and self.otid is None and self.sender_id is None:
            return None
        return MessageFields(name=self.name, otid=self.otid, sender_id=self.sender_id)


class OneTimeSpec(BaseModel):
    """``{"type": "one-time", "scheduled_at": <unix milliseconds>}``."""

    model_config = ConfigDict(extra="ignore")

    type: Literal["one-time"] = "one-time"
    scheduled_at: float = Field(description="Unix time in milliseconds.")

    @field_validator("scheduled_at")
    @classmethod
    def _instant(cls, value: float) -> float:
        if not math.isfinite(value):
            raise ValueError("scheduled_at must be a finite number of milliseconds since 1970-01-01T00:00:00Z")
        try:
            datetime.fromtimestamp(value / 1000, UTC)
        except (OverflowError, ValueError, OSError):
            raise ValueError(
                "scheduled_at is out of range — give unix time in milliseconds, e.g. 1767261600000"
            ) from None
        return value

    def instant(self) -> datetime:
        """The aware UTC instant."""
        return datetime.fromtimestamp(self.scheduled_at / 1000, UTC)


class RecurringSpec(BaseModel):
    """``{"type": "recurring", "cron_expression": "…"}`` (plus switchboard's optional ``timezone``)."""

    model_config = ConfigDict(extra="ignore")

    type: Literal["recurring"]
    cron_expression: str = Field(description='5-field cron, or natural language ("every weekday at 10am").')
    timezone: ZoneName = Field("UTC", description="switchboard extension: the zone the cron runs in.")


class ScheduleCreateIn(BaseModel):
    """Body of ``POST /v1/agents/{agent_id}/schedule`` (letta_client ScheduleCreateParams)."""

    model_config = ConfigDict(extra="ignore")

    messages: list[LettaMessageIn] = Field(min_length=1, max_length=1, description="Exactly one message.")
    schedule: OneTimeSpec | RecurringSpec
    conversation_id: Conversation = Field(
        None, description='The conversation each fire goes to (omitted: the agent\'s default); "new": one per fire.'
    )
    callback_url: str | None = Field(None, description="Not supported: must be omitted.")
    include_return_message_types: list[str] | None = Field(None, description="Accepted and ignored (async run).")
    max_steps: float | None = Field(None, description="Not supported: must be omitted.")


class ScheduleCreateOut(BaseModel):
    """letta_client ScheduleCreateResponse."""

    id: str
    next_scheduled_at: str | None


class TextPart(BaseModel):
    """A text content part."""

    type: Literal["text"] = "text"
    text: str


class LettaMessageOut(BaseModel):
    """A stored message in Letta's MessageCreate shape."""

    role: Role
    content: list[TextPart]
    name: str | None = None
    otid: str | None = None
    sender_id: str | None = None


class ScheduledMessageBody(BaseModel):
    """``message`` of a scheduled message."""

    messages: list[LettaMessageOut]


class OneTimeSpecOut(BaseModel):
    """A one-time schedule in Letta's shape."""

    type: Literal["one-time"] = "one-time"
    scheduled_at: float


class RecurringSpecOut(BaseModel):
    """A recurring schedule in Letta's shape (plus ``timezone``)."""

    type: Literal["recurring"] = "recurring"
    cron_expression: str
    timezone: str


class ScheduledMessage(BaseModel):
    """letta_client ScheduleRetrieveResponse / one item of ScheduleListResponse."""

    id: str
    agent_id: str
    message: ScheduledMessageBody
    next_scheduled_time: str | None
    schedule: OneTimeSpecOut | RecurringSpecOut


class ScheduleListOut(BaseModel):
    """letta_client ScheduleListResponse."""

    has_next_page: bool
    scheduled_messages: list[ScheduledMessage]


class ScheduleDeleteOut(BaseModel):
    """letta_client ScheduleDeleteResponse."""

    success: Literal[True] = True
