"""Schedules and results: the records switchboard stores, validated.

Three records live under ``data/``: a one-time schedule, a recurring schedule
and a delivery result. Each has a *public* view (what the CLI, the REST API
and ``--json`` show) and a *stored* view that also carries the Letta key and
base URL the delivery will use. Stored views only ever exist encrypted.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, Literal, Self

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_serializer,
    field_validator,
    model_validator,
)

from switchboard.exceptions import InvalidInputError
from switchboard.stop_reasons import run_end

#: Bump when the stored shape changes; ``store`` refuses what it cannot read.
FORMAT_VERSION = 1

#: Default ceiling for a message's size in UTF-8 bytes (override with SWITCHBOARD_MAX_MESSAGE_BYTES).
MAX_MESSAGE_BYTES = 64 * 1024
MAX_MESSAGE_ENV = "SWITCHBOARD_MAX_MESSAGE_BYTES"

#: Validation context for records read back from data/: they were checked when they were made,
#: so a limit lowered since (SWITCHBOARD_MAX_MESSAGE_BYTES) must not make stored schedules unreadable.
STORED = {"stored": True}

Role = Literal["user", "system", "assistant"]
Status = Literal["active", "paused"]
ResultStatus = Literal["delivered", "failed", "requeued"]
#: A Letta run's state as a result records it; "unknown" = still unfinished past the run timeout.
RunStatus = Literal["created", "running", "completed", "failed", "cancelled", "unknown"]
#: Run states after which a result is not followed any more.
FINAL_RUN_STATUSES = frozenset({"completed", "failed", "cancelled", "unknown"})
Kind = Literal["one-time", "recurring"]
#: What runs a schedule's clock: the tick ("github", any runner), or Letta Cloud's native schedules ("letta").
Clock = Literal["github", "letta"]


def new_id() -> str:
    """A fresh schedule id (a random UUID, as text)."""
    return str(uuid.uuid4())


def check_id(value: str) -> str:
    """Return ``value`` as a canonical UUID string, or raise InvalidInputError.

    Ids become path components, so anything that is not exactly a UUID is
    refused here, before any path is built from it.
    """
    text = str(value)
    shown = shown_value(text)
    try:
        parsed = uuid.UUID(text)
    except (ValueError, AttributeError, TypeError):
        raise InvalidInputError(
            f'"{shown}" is not a schedule id — ids are UUIDs such as "3f2b9c1e-8d4a-4b6e-9f0a-1c2d3e4f5a6b" '
            f"(see `switchboard onetime list` or `switchboard recurring list`)"
        ) from None
    if str(parsed) != text.lower():
        raise InvalidInputError(f'"{shown}" is not a schedule id — write it as a plain UUID such as "{parsed}"')
    return str(parsed)


def shown_value(text: str, limit: int = 60) -> str:
    """A value a user gave, safe to quote in a one-line error: cut short, control characters escaped."""
    cut = text[:limit] + ("…" if len(text) > limit else "")
    return "".join(ch if ch.isprintable() else ch.encode("unicode_escape").decode("ascii") for ch in cut)


def utc(value: datetime) -> datetime:
    """The same instant in UTC; refuses naive datetimes."""
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError("a time must carry a UTC offset")
    return value.astimezone(UTC)


def iso(value: datetime | None) -> str | None:
    """ISO 8601 with an explicit offset (UTC inside)."""
    return None if value is None else utc(value).isoformat()


#: The agent ids Letta makes: ``agent-<uuid>`` (Letta Cloud, the V1 server) and ``agent-local-<uuid>`` (the App Server).
AGENT_ID_PATTERN = r"^agent-(local-)?[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$"
_AGENT_ID = re.compile(AGENT_ID_PATTERN)
#: Shown in every refusal of an agent id: the two shapes Letta makes.
AGENT_ID_EXAMPLE = "agent-3f2b9c1e-8d4a-4b6e-9f0a-1c2d3e4f5a6b or agent-local-3f2b9c1e-8d4a-4b6e-9f0a-1c2d3e4f5a6b"


def check_agent_id(value: str) -> str:
    """An agent id as Letta makes them: ``agent-<uuid>`` or ``agent-local-<uuid>``, lower case.

    Refused when a schedule is made, not hours later when Letta refuses the delivery.
    """
    text = str(value)
    if not text:
        raise ValueError(f"agent id is empty — pass the id of a Letta agent, e.g. {AGENT_ID_EXAMPLE}")
    if not _AGENT_ID.fullmatch(text):
        hint = " (in lower case)" if _AGENT_ID.fullmatch(text.lower()) else ""
        raise ValueError(
            f'agent id "{shown_value(text)}" is not a Letta agent id — pass one{hint} such as {AGENT_ID_EXAMPLE}'
        )
    return text


def _agent_id_unless_stored(value: str, info: ValidationInfo) -> str:
    # Read back from data/ (context STORED), an agent id was checked by the rules of the day it was made.
    if info.context and info.context.get("stored"):
        return value
    return check_agent_id(value)


def max_message_bytes(env: Mapping[str, str] | None = None) -> int:
    """The message size limit: SWITCHBOARD_MAX_MESSAGE_BYTES, else 64 KiB.

    Checked wherever a message is validated, so it asks the settings module for the variable
    (``env`` overrides) rather than having it handed down through every model.
    """
    from switchboard.config import read_environment

    env = read_environment() if env is None else env
    text = env.get(MAX_MESSAGE_ENV, "").strip()
    if not text:
        return MAX_MESSAGE_BYTES
    try:
        limit = int(text)
    except ValueError:
        limit = 0
    if limit < 1:
        raise InvalidInputError(f'{MAX_MESSAGE_ENV}="{text[:40]}" is not a positive number of bytes — e.g. 65536')
    return limit


def check_message(value: str, *, limit: int | None = None) -> str:
    """A message: non-empty and at most ``limit`` bytes of UTF-8 (default: max_message_bytes())."""
    if not isinstance(value, str) or not value.strip():
        raise ValueError("message is empty — give the text the agent should receive")
    ceiling = limit or max_message_bytes()
    size = len(value.encode("utf-8", errors="surrogatepass"))
    if size > ceiling:
        raise ValueError(
            f"message is {size} bytes of UTF-8, more than the limit of {ceiling} — shorten it "
            f"(or raise {MAX_MESSAGE_ENV})"
        )
    return value


#: The longest name a schedule may carry, in characters.
MAX_NAME_CHARS = 200


def check_name(value: str | None) -> str | None:
    """A schedule's optional name: at most 200 printable characters, trimmed; blank means none.

    A name that is a UUID is refused: wherever a command takes an id, a UUID is an id.
    """
    if value is None:
        return None
    text = str(value).strip()
    if not text:
        return None
    if len(text) > MAX_NAME_CHARS:
        raise ValueError(f"name is {len(text)} characters, more than {MAX_NAME_CHARS} — shorten it")
    if any(not ch.isprintable() for ch in text):
        raise ValueError("name contains a line break or a control character — give one line of text")
    try:
        uuid.UUID(text)
    except ValueError:
        return text
    raise ValueError("name looks like a schedule id (a UUID) — choose a name that is not one")


#: Hosts where a Letta schedule API may be reached over plain http: a proxy or stand-in on this machine.
LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})


def check_clock(clock: str, base_url: str) -> None:
    """Letta's own clock needs Letta Cloud's schedule API: an https server (or one on this machine)."""
    if clock != "letta":
        return
    from urllib.parse import urlsplit

    parts = urlsplit(base_url)
    if parts.scheme == "https" or (parts.scheme == "http" and parts.hostname in LOOPBACK_HOSTS):
        return
    raise ValueError(
        f'clock "letta" needs Letta Cloud (an https:// Letta API, e.g. https://api.letta.com); '
        f'"{shown_value(base_url)}" has no native schedules — use --clock github'
    )


#: What a schedule's ``conversation`` may say besides a conversation id.
CONVERSATION_WORDS = ("default", "new")


def check_conversation(value: str | None) -> str | None:
    """Where a message goes: None or "default" (the agent's default conversation), "new" (one per fire), or an id.

    "default" is stored as None, so a schedule made before conversations existed reads the same.
    """
    if value is None:
        return None
    text = str(value).strip()
    if not text or text == "default":
        return None
    if len(text) > 128 or "/" in text or "\\" in text or any(ch.isspace() or not ch.isprintable() for ch in text):
        raise ValueError(
            f'conversation "{shown_value(text)}" is not a conversation id — give "default", "new" or the id of '
            "one of the agent's conversations (e.g. conv-… or local-conv-…)"
        )
    return text


def _message_unless_stored(value: str, info: ValidationInfo) -> str:
    # Read back from data/ (context STORED), a message was checked when it was made.
    if info.context and info.context.get("stored"):
        return value
    return check_message(value)


#: Field types that check themselves, for the records here and the REST API's request bodies.
ScheduleId = Annotated[str, AfterValidator(check_id)]
AgentId = Annotated[str, AfterValidator(_agent_id_unless_stored)]
Message = Annotated[str, AfterValidator(_message_unless_stored)]
Name = Annotated[str | None, AfterValidator(check_name)]
Conversation = Annotated[str | None, AfterValidator(check_conversation)]
#: An aware datetime, kept in UTC.
Instant = Annotated[AwareDatetime, AfterValidator(utc)]


class _Record(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True, validate_default=True)

    @field_serializer("*", when_used="json")
    def _instants_in_utc(self, value: Any) -> Any:
        return iso(value) if isinstance(value, datetime) else value


#: The longest ``name``, ``otid`` or ``sender_id`` kept for Letta (Letta sets no limit; ids are far shorter).
MAX_LETTA_FIELD = 256


class MessageFields(_Record):
    """What Letta's MessageCreate carries besides role and content, as a caller of Letta's schedule API gave it.

    Delivered with the message: ``name`` and ``sender_id`` as they are; ``otid``
    as it is for a one-time schedule, and per fire for a recurring one (see
    ``switchboard.tick.model.Job.otid``).
    """

    name: str | None = Field(default=None, max_length=MAX_LETTA_FIELD)
    otid: str | None = Field(default=None, max_length=MAX_LETTA_FIELD)
    sender_id: str | None = Field(default=None, max_length=MAX_LETTA_FIELD)


class _Schedule(_Record):
    id: ScheduleId = Field(default_factory=new_id)
    agent_id: AgentId
    message: Message
    role: Role = "user"
    # Optional, the user's own words: encrypted like the message, never in a path, log or summary.
    name: Name = Field(default=None, repr=False)
    created_at: Instant
    #: The conversation each fire goes to: None (the agent's default), "new" (a new one per fire) or an id.
    conversation: Conversation = None
    # Letta's schedule API only: name/otid/sender_id the message goes to Letta with (None: none given).
    message_fields: MessageFields | None = None
    # Stored only (never shown): the caller's Letta key and server.
    api_key: str | None = Field(default=None, repr=False)
    base_url: str = "https://api.letta.com"
    # The agent whose own tool call made this schedule (switchboard/agent_tools), for its limits and its list.
    created_by_agent: str | None = None
    #: Deliver the message inside the envelope that tells the agent what time it is (switchboard/envelope.py).
    #: False here, so schedules stored before it existed, and those the hosted-service API makes, go as sent.
    envelope: bool = False
    # A tick that is delivering this schedule right now (see switchboard/tick).
    claimed_by: str | None = None
    claimed_at: Instant | None = None
    # "letta": each fire is armed as a Letta Cloud native one-time schedule (see switchboard/native).
    clock: Clock = "github"

    @model_validator(mode="after")
    def _clock_needs_cloud(self) -> Self:
        check_clock(self.clock, self.base_url)
        return self


class OneTimeSchedule(_Schedule):
    """A message to deliver once, at ``execute_at``."""

    kind: Literal["one-time"] = "one-time"
    execute_at: Instant
    # The zone its time was given in, so lists, the page and the envelope show it there (None: UTC).
    timezone: str | None = None
    attempts: int = 0
    # When transient failures began (the tick gives up a while after it).
    failing_since: AwareDatetime | None = None

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str | None) -> str | None:
        from switchboard.timeparse import zone

        return None if value is None else zone(value).key

    def public(self) -> dict[str, Any]:
        """The shape the CLI and the REST API show."""
        return {
            "id": self.id,
            "name": self.name,
            "agent_id": self.agent_id,
            "message": self.message,
            "role": self.role,
            "conversation": self.conversation or "default",
            "execute_at": iso(self.execute_at),
            "timezone": self.timezone or "UTC",
            "created_at": iso(self.created_at),
            "envelope": self.envelope,
            "clock": self.clock,
        }


class RecurringSchedule(_Schedule):
    """A message to deliver at every fire of a cron expression in a time zone."""

    kind: Literal["recurring"] = "recurring"
    cron: str
    timezone: str = "UTC"
    last_run: Instant | None = None
    status: Status = "active"
    paused_reason: str | None = None
    # When it was last resumed: fires missed while paused are not sent (last_run stays the real last fire).
    resumed_at: Instant | None = None
    # Transient failures since the last delivery (the next result's attempt is one more).
    attempts: int = 0
    #: Fires delivered so far (extra fires by request not counted): the envelope's "fire number" is one more.
    fires: int = 0

    @field_validator("cron")
    @classmethod
    def _cron(cls, value: str) -> str:
        from switchboard.timeparse import validate_cron

        return validate_cron(value)

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        from switchboard.timeparse import zone

        zone(value)
        return value

    @property
    def anchor(self) -> datetime:
        """The instant after which the next fire is looked for."""
        return max(self.last_run or self.created_at, self.resumed_at or self.created_at)

    def next_run(self) -> datetime | None:
        """The next fire after the last one (None while paused)."""
        if self.status == "paused":
            return None
        from switchboard.due import next_fire

        return next_fire(self.cron, self.timezone, self.anchor)

    def public(self) -> dict[str, Any]:
        """The shape the CLI and the REST API show."""
        return {
            "id": self.id,
            "name": self.name,
            "agent_id": self.agent_id,
            "message": self.message,
            "role": self.role,
            "conversation": self.conversation or "default",
            "cron": self.cron,
            "timezone": self.timezone,
            "created_at": iso(self.created_at),
            "last_run": iso(self.last_run),
            "next_run": iso(self.next_run()),
            "status": self.status,
            "paused_reason": self.paused_reason,
            "envelope": self.envelope,
            "clock": self.clock,
        }


Schedule = OneTimeSchedule | RecurringSchedule

#: How long a claim holds when nobody releases it (its pass died): the tick's ``claim_ttl`` by default.
CLAIM_TTL = timedelta(minutes=30)


def claim_is_live(schedule: Schedule, now: datetime, ttl: timedelta = CLAIM_TTL) -> bool:
    """Is another pass (or a command sending at once) holding ``schedule`` at ``now``?"""
    return schedule.claimed_by is not None and schedule.claimed_at is not None and schedule.claimed_at + ttl > now


class Result(_Record):
    """The outcome of one delivery attempt that ended a pass's work on a schedule."""

    schedule_id: ScheduleId
    schedule_type: Kind
    status: ResultStatus
    run_id: str | None = None
    agent_id: str
    message: str | None = Field(default=None, repr=False)
    #: The schedule's name when it was delivered (kept after a one-time schedule is gone).
    name: str | None = Field(default=None, repr=False)
    scheduled_for: Instant
    executed_at: Instant
    lateness_s: float = 0.0
    skipped: int = 0
    attempt: int = 1
    http_status: int | None = None
    error: str | None = None
    #: Sent by request (`recurring run`), not at a fire time: the schedule's next fire did not move.
    manual: bool = False
    #: The run's state when this line was written: a later line for the same delivery has its final one.
    run_status: RunStatus | None = None
    stop_reason: str | None = None
    #: When the run's final state was learnt (None until then).
    run_checked_at: Instant | None = None
    #: The conversation the message went to, when the server said (the App Server always does).
    conversation_id: str | None = None
    #: The idempotency id the message carried (the App Server's client_message_id, the Letta API's otid).
    otid: str | None = None
    #: The App Server's turn that ended (its proof of delivery, with conversation_id and otid).
    turn_id: str | None = None

    @property
    def run_end(self) -> str | None:
        """How the run ended, in one word: ``completed`` only when the agent finished its turn, else the stop reason."""
        return run_end(self.run_status, self.stop_reason)

    @property
    def unfinished(self) -> bool:
        """Whether this delivery's run is still to be followed to its end."""
        return self.run_id is not None and self.run_status is not None and self.run_status not in FINAL_RUN_STATUSES

    def public(self, *, with_message: bool = False, with_name: bool = False) -> dict[str, Any]:
        """The shape a tick reports; lists add the name (the REST API the message too).

        Without ``with_name`` it carries ids only, as a tick's ``--json`` (an Actions log) must.
        """
        shown = self.model_dump(mode="json", exclude={"message", "name"})
        shown["run_end"] = self.run_end
        if with_name:
            shown["name"] = self.name
        if with_message:
            shown["message"] = self.message
        return shown


def build(model: type[_Record], **fields: Any) -> Any:
    """Construct a record, turning pydantic's errors into one InvalidInputError."""
    try:
        return model(**fields)
    except ValidationError as exc:
        raise InvalidInputError(describe_validation(exc)) from None


def describe_validation(exc: ValidationError) -> str:
    """One line naming each invalid field, without echoing the input value.

    Our own checks already name the field and say what to do; pydantic's
    built-in ones get the field name in front.
    """
    parts = []
    for error in exc.errors(include_input=False, include_url=False):
        where = ".".join(str(p) for p in error["loc"]) or "value"
        msg = str(error["msg"])
        if error["type"] == "value_error":
            parts.append(msg.removeprefix("Value error, "))
        elif error["type"] == "literal_error":
            parts.append(f"{where} must be {error.get('ctx', {}).get('expected', 'one of the allowed values')}")
        elif error["type"] == "missing":
            parts.append(f"{where} is missing")
        else:
            parts.append(f"{where}: {msg[:1].lower()}{msg[1:]}")
    return "; ".join(parts)
