"""The envelope: a scheduled message as the agent receives it, told what time it is.

GitHub runs the tick minutes (sometimes hours) late, so an agent handed
"remind Sam about the 9:00 call" at 9:04 must know both times to act well.
A schedule with ``envelope`` set is delivered as::

    <system-reminder>
    Scheduled message "standup" from switchboard.
    Time zone: Europe/Berlin
    Scheduled for: 2026-12-07T09:00:00+01:00 (Monday 7 December 2026, 09:00 CET)
    Current time: 2026-12-07T09:04:12+01:00 (Monday 7 December 2026, 09:04 CET), 4 minutes after it was due
    Fire 12 of a recurring schedule: 0 9 * * 1-5 (at 09:00 AM, Monday through Friday).
    Nobody is watching this turn, and questions will not be answered: …
    </system-reminder>

    <the message, exactly as it was written>

This follows the shape Letta Code gives its own scheduled tasks (name, time
zone, scheduled-for and current time, the fire and its recurrence, running
on its own), so an agent that knows one knows the other. The message is
never changed, only preceded; the envelope holds no key.

It is a pure function of the schedule, the fire's due time, the time it is
sent and the fire's number: the same fire sent again (a retry carrying the
same otid) differs only in its current time.

Default: ON for schedules made by the CLI, the page, the agent tools and the
skill (their authors expect an agent that knows the time); OFF for the
hosted-service REST API, Letta's schedule API and ``import``, whose clients
expect their message delivered exactly as sent (they may opt in with
``"envelope": true``).
"""

from __future__ import annotations

from datetime import datetime

from switchboard.models import OneTimeSchedule, RecurringSchedule, Schedule, utc
from switchboard.timeparse import describe_cron, zone

_WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
_MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
           "November", "December")  # fmt: skip

#: Said in every envelope: the agent acts on its own.
ON_ITS_OWN = (
    "Nobody is watching this turn, and questions will not be answered: act on the message yourself, report "
    "through the channels you have or keep the outcome in memory, and stop when it is done or you are truly stuck."
)


def _when(instant: datetime, zone_name: str) -> str:
    """ISO 8601 in the zone, then the same as a person reads it: "… (Monday 7 December 2026, 09:00 CET)"."""
    local = instant.astimezone(zone(zone_name))
    spoken = f"{_WEEKDAYS[local.weekday()]} {local.day} {_MONTHS[local.month - 1]} {local.year}, {local:%H:%M}"
    return f"{local.isoformat(timespec='seconds')} ({spoken} {local.tzname()})"


def _lateness(scheduled_for: datetime, now: datetime) -> str:
    seconds = (utc(now) - utc(scheduled_for)).total_seconds()
    if abs(seconds) < 60:
        return "on time"
    minutes = round(abs(seconds) / 60)
    amount = f"{minutes} minute{'s' if minutes != 1 else ''}"
    if minutes >= 120:
        hours, rest = divmod(minutes, 60)
        amount = f"{hours} hours" + (f" {rest} minutes" if rest else "")
    return f"{amount} after it was due" if seconds > 0 else f"{amount} before it was due"


def _recurrence(schedule: Schedule, fire: int | None) -> str:
    if isinstance(schedule, OneTimeSchedule):
        return "A one-time message."
    words = describe_cron(schedule.cron)
    what = f"{schedule.cron} ({words[:1].lower() + words[1:]})"
    if fire is None:
        return f"An extra fire, sent by request, of a recurring schedule: {what}."
    return f"Fire {fire} of a recurring schedule: {what}."


def zone_of(schedule: Schedule) -> str:
    """The zone the envelope's times are in: the schedule's own, else UTC."""
    return schedule.timezone or "UTC"


def wrap(schedule: Schedule, scheduled_for: datetime, now: datetime, fire: int | None) -> str:
    """``schedule``'s message in the envelope, for the fire due at ``scheduled_for`` sent at ``now``.

    ``fire`` is the fire's number (1 for the first) of a recurring schedule; None for an extra fire by request.
    """
    tz = zone_of(schedule)
    title = f'Scheduled message "{schedule.name}"' if schedule.name else f"Scheduled message {schedule.id}"
    lines = [
        "<system-reminder>",
        f"{title} from switchboard.",
        f"Time zone: {tz}",
        f"Scheduled for: {_when(scheduled_for, tz)}",
        f"Current time: {_when(now, tz)}, {_lateness(scheduled_for, now)}",
        _recurrence(schedule, fire),
        ON_ITS_OWN,
        "</system-reminder>",
        "",
        schedule.message,
    ]
    return "\n".join(lines)


def message_for(schedule: Schedule, scheduled_for: datetime, now: datetime, *, manual: bool = False) -> str:
    """The text Letta receives for this fire: the message as written, or wrapped when the schedule asks for it."""
    if not schedule.envelope:
        return schedule.message
    fire = None if manual else (schedule.fires + 1 if isinstance(schedule, RecurringSchedule) else 1)
    return wrap(schedule, scheduled_for, now, fire)


def written(text: str) -> str:
    """The message a delivered text carries: the text after the envelope, or the whole text when there is none."""
    if text.startswith("<system-reminder>\nScheduled message ") and "\n</system-reminder>\n\n" in text:
        return text.split("\n</system-reminder>\n\n", 1)[1]
    return text
