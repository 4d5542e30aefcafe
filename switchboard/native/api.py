"""Letta Cloud's native schedule API, the few calls the reconcile step makes.

    POST   /v1/agents/{agent_id}/schedule                      create_one_time()
    GET    /v1/agents/{agent_id}/schedule?limit&after          find_by_otid()
    DELETE /v1/agents/{agent_id}/schedule/{id}                 delete()
    GET    /v1/agents/{agent_id}/schedule/{id}/history         history()

Shapes as letta-code's ``src/backend/api/schedules.ts`` uses them. Errors are
the client's LettaError tree; a 404 where it means "gone" is an answer here.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

from switchboard.exceptions import LettaPermanentError
from switchboard.letta import LettaClient
from switchboard.models import Schedule, utc

#: Pages of the agent's schedule list read when looking for an otid (100 each).
MAX_LIST_PAGES = 20


def _segment(value: str) -> str:
    return quote(value, safe="").replace(".", "%2E")


def _base(agent_id: str) -> str:
    return f"/v1/agents/{_segment(agent_id)}/schedule"


@dataclass(frozen=True)
class HistoryEntry:
    """One fire of a native schedule as Letta's history shows it."""

    status: str  # success | failed
    run_id: str | None
    sent_at: datetime | None


def _bad(what: str) -> LettaPermanentError:
    return LettaPermanentError(f"Letta answered {what} with an unexpected shape — is this Letta Cloud?")


def create_one_time(client: LettaClient, schedule: Schedule, at: datetime, otid: str) -> str:
    """Arm ``schedule``'s message as a native one-time schedule at ``at``; its native id."""
    message: dict[str, Any] = {"role": schedule.role, "content": [{"type": "text", "text": schedule.message}],
                               "otid": otid}  # fmt: skip
    fields = schedule.message_fields
    for name in ("name", "sender_id"):
        value = getattr(fields, name) if fields is not None else None
        if value is not None:
            message[name] = value
    body = {
        "name": f"switchboard {schedule.id}",
        "description": "armed by letta-switchboard",
        "messages": [message],
        "schedule": {"type": "one-time", "scheduled_at": int(utc(at).timestamp() * 1000)},
    }
    answer = client.call(
        "POST", _base(schedule.agent_id), action=f"arming a native schedule for agent {schedule.agent_id}",
        json_body=body, secrets=(schedule.message,),
        not_found=f"agent {schedule.agent_id} has no native schedules here (404) — is this Letta Cloud?",
    )  # fmt: skip
    if not isinstance(answer, dict) or not isinstance(answer.get("id"), str) or not answer["id"]:
        raise _bad("a schedule create")
    return str(answer["id"])


def find_by_otid(client: LettaClient, agent_id: str, otid: str) -> str | None:
    """The id of the agent's pending native schedule whose message carries ``otid`` (None: there is none)."""
    after: str | None = None
    for _ in range(MAX_LIST_PAGES):
        params: dict[str, str | int] = {"limit": 100}
        if after is not None:
            params["after"] = after
        answer = client.call("GET", _base(agent_id), action=f"listing native schedules of agent {agent_id}",
                             params=params)  # fmt: skip
        items = answer.get("scheduled_messages") if isinstance(answer, dict) else None
        if not isinstance(items, list):
            raise _bad("a schedule list")
        for item in items:
            messages = (item.get("message") or {}).get("messages") if isinstance(item, dict) else None
            if isinstance(messages, list) and any(isinstance(m, dict) and m.get("otid") == otid for m in messages):
                return str(item["id"])
        if not (isinstance(answer, dict) and answer.get("has_next_page")) or not items:
            return None
        after = str(items[-1].get("id"))
    return None


def delete(client: LettaClient, agent_id: str, native_id: str) -> bool:
    """Delete a native schedule: True when Letta deleted it (200), False when it was gone (404)."""
    try:
        client.call(
            "DELETE", f"{_base(agent_id)}/{_segment(native_id)}", action=f"deleting native schedule {native_id}"
        )
    except LettaPermanentError as exc:
        if exc.status == 404:
            return False
        raise
    return True


def history(client: LettaClient, agent_id: str, native_id: str) -> list[HistoryEntry] | None:
    """Every fire Letta's history shows for a native schedule, oldest first (None: Letta knows no such schedule)."""
    entries: list[HistoryEntry] = []
    offset = 0
    for _ in range(MAX_LIST_PAGES):
        try:
            answer = client.call(
                "GET", f"{_base(agent_id)}/{_segment(native_id)}/history",
                action=f"reading the history of native schedule {native_id}", params={"limit": 100, "offset": offset},
            )  # fmt: skip
        except LettaPermanentError as exc:
            if exc.status == 404:
                return None
            raise
        if not isinstance(answer, dict) or not isinstance(answer.get("history"), list):
            raise _bad("a schedule history")
        entries.extend(_entry(item) for item in answer["history"] if isinstance(item, dict))
        next_offset = answer.get("next_offset")
        if not answer.get("has_next_page") or not isinstance(next_offset, int) or next_offset <= offset:
            break
        offset = next_offset
    return entries


def _entry(item: dict[str, Any]) -> HistoryEntry:
    sent: datetime | None = None
    if isinstance(item.get("sent_at"), str):
        try:
            sent = datetime.fromisoformat(item["sent_at"].replace("Z", "+00:00"))
            sent = sent.replace(tzinfo=UTC) if sent.tzinfo is None else sent.astimezone(UTC)
        except ValueError:
            sent = None
    run_id = item.get("run_id")
    return HistoryEntry(
        status="success" if item.get("status") == "success" else "failed",
        run_id=run_id if isinstance(run_id, str) and run_id else None,
        sent_at=sent,
    )
