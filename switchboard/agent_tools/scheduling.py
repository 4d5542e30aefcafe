"""What an agent's own tool calls may do with schedules, and the sentences they answer with.

Every operation takes the caller's :class:`~switchboard.agent_tools.grants.AgentGrant`
(already checked) and ``now``:

- ``schedule`` stores a one-time or a recurring message, which the phrase
  decides ("in 1 minute" once, "every monday at 9am" recurring), encrypted in
  the grant's tenant like any other schedule, marked as made by the agent. It
  refuses past the grant's ``max_schedules`` active schedules made by that
  agent, and a recurring one whose fires can come closer than
  ``min_interval_s``; the count is taken inside the commit, so two calls at
  once cannot both take the last place.
- ``listed`` and ``cancel`` see only the agent's schedules: those addressed to
  it or made by it, in its own tenant. Anything else, another tenant's above
  all, is "not found", the same answer as for an id that does not exist.

Each answers a :class:`Answer`: one short sentence for the agent to repeat,
with times in the zone it asked for (the grant's zone by default).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime

from switchboard.agent_tools.grants import AgentGrant
from switchboard.cron import shortest_gap
from switchboard.exceptions import InvalidInputError, LimitError, NotFoundError
from switchboard.models import (
    OneTimeSchedule,
    RecurringSchedule,
    Schedule,
    build,
    check_agent_id,
    check_id,
    shown_value,
    utc,
)
from switchboard.service import refuse_if_claimed
from switchboard.store import Store, Transaction
from switchboard.timeparse import describe_cron, looks_recurring, parse_instant, parse_recurring, refuse_past, zone

#: How much of a message a listing quotes.
QUOTE_CHARS = 60

_WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
_MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
           "November", "December")  # fmt: skip


@dataclass(frozen=True)
class Answer:
    """What a tool call did: the sentence for the agent, and the schedules it is about."""

    sentence: str
    schedules: list[Schedule] = field(default_factory=list)


def spoken(instant: datetime, timezone: str) -> str:
    """An instant as a person reads it in ``timezone``: "Tuesday 10 March 2026 at 16:21 CET (Europe/Berlin)"."""
    local = instant.astimezone(zone(timezone))
    named = f" ({timezone})" if local.tzname() != timezone else ""
    return (
        f"{_WEEKDAYS[local.weekday()]} {local.day} {_MONTHS[local.month - 1]} {local.year} "
        f"at {local:%H:%M} {local.tzname()}{named}"
    )


def _quote(text: str) -> str:
    flat = " ".join(text.split())
    return f'"{flat[:QUOTE_CHARS]}…"' if len(flat) > QUOTE_CHARS else f'"{flat}"'


def _cron_words(cron: str) -> str:
    """describe_cron's "At 09:00 AM, only on Monday" to follow a colon: "at 09:00 AM, only on Monday"."""
    words = describe_cron(cron)
    return words[:1].lower() + words[1:]


def _duration(seconds: float) -> str:
    minutes = round(seconds / 60)
    if minutes < 60:
        return f"{minutes} minute{'s' if minutes != 1 else ''}"
    hours, rest = divmod(minutes, 60)
    return f"{hours} h {rest} min" if rest else f"{hours} hour{'s' if hours != 1 else ''}"


def interval_words(seconds: int) -> str:
    """A grant's least time between fires, exactly: "5 minutes", "90 seconds"."""
    return _duration(seconds) if seconds % 60 == 0 else f"{seconds} second{'s' if seconds != 1 else ''}"


def belongs_to(schedule: Schedule, grant: AgentGrant) -> bool:
    """Whether an agent's tools may see and cancel a schedule of its tenant."""
    return grant.agent_id in (schedule.agent_id, schedule.created_by_agent)


def is_active(schedule: Schedule) -> bool:
    """Still to fire: a pending one-time schedule, or a recurring one that is not paused."""
    return isinstance(schedule, OneTimeSchedule) or schedule.status == "active"


def schedules_of(store: Store, tenant: str) -> list[Schedule]:
    """Every schedule of a tenant, of both kinds."""
    return [*store.one_time(tenant), *store.recurring(tenant)]


def _next_fire(schedule: Schedule) -> datetime | None:
    return schedule.execute_at if isinstance(schedule, OneTimeSchedule) else schedule.next_run()


def describe(schedule: Schedule, timezone: str, agent_id: str) -> str:
    """One schedule in a few words: its id, when it fires next and what it says."""
    upcoming = _next_fire(schedule)
    if isinstance(schedule, OneTimeSchedule):
        how = f"once, {spoken(schedule.execute_at, timezone)}"
    else:
        state = "paused" if upcoming is None else f"next {spoken(upcoming, timezone)}"
        how = f'recurring "{schedule.cron}" in {schedule.timezone} ({_cron_words(schedule.cron)}), {state}'
    to = "" if schedule.agent_id == agent_id else f" to {schedule.agent_id}"
    return f"{schedule.id}{to}: {how}: {_quote(schedule.message)}"


def schedule(
    store: Store,
    grant: AgentGrant,
    *,
    message: str,
    when: str,
    now: datetime,
    timezone: str | None = None,
    agent_id: str | None = None,
) -> Answer:
    """Store what the agent asked for, within its grant's limits; one commit."""
    tz = zone(timezone or grant.timezone).key
    target = grant.agent_id if not agent_id else checked_agent_id(agent_id)
    phrase = (when or "").strip()
    if not phrase:
        raise InvalidInputError('say when — e.g. "in 10 minutes", "tomorrow at 9am" or "every monday at 9am"')
    common = {
        "agent_id": target,
        "message": message,
        "created_at": utc(now),
        "api_key": grant.api_key,
        "base_url": grant.base_url,
        "created_by_agent": grant.agent_id,
        # An agent that scheduled a message for later wants to know, when it comes, how late it is.
        "envelope": True,
    }
    made: Schedule
    if looks_recurring(phrase):
        cron, cron_zone = parse_recurring(phrase, tz=tz)
        gap = shortest_gap(cron)
        if gap.total_seconds() < grant.min_interval_s:
            raise LimitError(
                f'"{phrase}" can fire {_duration(gap.total_seconds())} apart; a recurring message an agent schedules '
                f"may fire at most every {interval_words(grant.min_interval_s)} — choose a slower schedule"
            )
        made = build(RecurringSchedule, **common, cron=cron, timezone=cron_zone)
    else:
        instant = parse_instant(phrase, tz=tz, now=now)
        refuse_past(instant, text=phrase, tz=tz, now=now)
        made = build(OneTimeSchedule, **common, execute_at=instant, timezone=tz)

    def compute(tx: Transaction) -> Schedule:
        tenant = tx.tenant(grant.api_key)
        mine = [s for s in schedules_of(store, tenant) if s.created_by_agent == grant.agent_id and is_active(s)]
        if len(mine) >= grant.max_schedules:
            raise LimitError(
                f"this agent already has {len(mine)} scheduled messages, its limit — cancel one "
                "(list_scheduled_messages shows their ids) before scheduling another"
            )
        tx.save(made)
        return made

    store.transact(f"switchboard: agent adds {made.kind} {made.id}", compute)
    return Answer(_made_sentence(made, tz, now), [made])


def checked_agent_id(agent_id: str) -> str:
    """An agent id as check_agent_id takes it, its refusal an InvalidInputError (one clear error)."""
    try:
        return check_agent_id(agent_id)
    except ValueError as exc:
        raise InvalidInputError(str(exc)) from None


def _made_sentence(made: Schedule, tz: str, now: datetime) -> str:
    to = "you" if made.agent_id == made.created_by_agent else f"agent {made.agent_id}"
    if isinstance(made, OneTimeSchedule):
        wait = max(0.0, (made.execute_at - utc(now)).total_seconds())
        soon = "now" if wait < 30 else f"in {_duration(wait)}"
        return f"Scheduled a one-time message to {to} for {spoken(made.execute_at, tz)}, {soon}. Its id is {made.id}."
    upcoming = made.next_run()
    first = spoken(upcoming, tz) if upcoming is not None else "never"
    return (
        f'Scheduled a recurring message to {to}, "{made.cron}" in {made.timezone} ({_cron_words(made.cron)}); '
        f"the first is {first}. Its id is {made.id}."
    )


def listed(store: Store, grant: AgentGrant, *, timezone: str | None = None) -> Answer:
    """The agent's scheduled messages, soonest first."""
    tz = zone(timezone or grant.timezone).key
    store.backend.refresh()
    tenant = store.tenant(grant.api_key)
    items = [s for s in schedules_of(store, tenant) if belongs_to(s, grant)] if tenant is not None else []
    far = datetime.max.replace(tzinfo=UTC)
    items.sort(key=lambda s: (_next_fire(s) or far, s.id))
    if not items:
        return Answer("You have no scheduled messages.")
    lines = "; ".join(f"{n}) {describe(s, tz, grant.agent_id)}" for n, s in enumerate(items, start=1))
    count = f"{len(items)} scheduled message{'s' if len(items) != 1 else ''}"
    return Answer(f"You have {count}: {lines}.", items)


def cancel(store: Store, grant: AgentGrant, schedule_id: str, *, now: datetime, timezone: str | None = None) -> Answer:
    """Delete one of the agent's scheduled messages; one commit (BusyError while a tick is delivering it)."""
    tz = zone(timezone or grant.timezone).key
    try:
        wanted = check_id((schedule_id or "").strip())
    except InvalidInputError:
        raise InvalidInputError(
            f'"{shown_value(schedule_id or "")}" is not the id of a scheduled message — ids are UUIDs, as '
            "schedule_message and list_scheduled_messages give them"
        ) from None
    unknown = f"no scheduled message with id {wanted} for you — list_scheduled_messages shows their ids"

    def compute(tx: Transaction) -> Schedule:
        try:
            path = store.locate(tx.tenant(grant.api_key), wanted)
        except NotFoundError:
            raise NotFoundError(unknown) from None
        found = store.load(path)
        if not belongs_to(found, grant):
            raise NotFoundError(unknown)
        refuse_if_claimed(found, now, "cancelled")
        tx.delete(path)
        return found

    gone = store.transact(f"switchboard: agent cancels {wanted}", compute)
    return Answer(f"Cancelled the scheduled message {describe(gone, tz, grant.agent_id)}.", [gone])
