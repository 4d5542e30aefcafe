"""Letta Cloud's native schedule API, for the stand-in Letta server (``switchboard.testing.letta``).

Routes (mounted by the stand-in under ``/v1/agents/{agent_id}/schedule``)::

    POST   …/schedule                   {"messages", "schedule": {type: one-time, scheduled_at: ms}
                                        | {type: recurring, cron_expression}} -> {"id", "next_scheduled_at"}
    GET    …/schedule?limit&after       {"scheduled_messages": [...], "has_next_page"}
    GET    …/schedule/{id}              one scheduled message, or 404
    DELETE …/schedule/{id}              {"success": true}, or 404
    GET    …/schedule/{id}/history      {"history": [...], "has_next_page", "next_offset"}

The shapes are those of letta-code's ``src/backend/api/schedules.ts`` and the
``letta-client`` SDK's ``agents.schedule`` types. What Letta does not document,
this stand-in decides as follows (and ``docs/native-schedules.md`` relies on no
more than it): a one-time schedule that has fired is gone from list and get,
its history stays readable; a deleted schedule's history stays readable too;
a delete of a schedule that is gone answers 404.

Time is a parameter: nothing fires until a test calls :meth:`NativeSchedules.fire_due`
with a ``now`` (or, for a stand-in in another process, ``POST /_standin/schedules/fire``
with ``{"now": "<ISO 8601>"}``); each due one-time schedule then becomes a run, exactly as an
async message with the same ``messages`` (so its ``otid``) would, and a history
entry. Recurring schedules are stored and listed but never fired here.

Faults, switched on by a test: :meth:`~NativeSchedules.stall` (schedules that
stay overdue and never fire, as letta-code#3725 reports of Letta Cloud) and
:meth:`~NativeSchedules.race_delete` (the next delete meets a firing: the
message goes out, a history entry appears, and the delete answers 200 or 404).
"""

from __future__ import annotations

import json
import threading
import uuid
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

__all__ = ["NativeSchedules"]

#: Sends one async-message body to an agent, as ``POST …/messages/async`` would: (status, body).
Send = Callable[[str, bytes], tuple[int, Any]]
Answer = tuple[int, Any]


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


@dataclass
class _Scheduled:
    id: str
    agent_id: str
    body: dict[str, Any]
    created_at: datetime
    stalled: bool
    gone: bool = False  # fired (one-time) or deleted: out of list and get, history kept
    history: list[dict[str, Any]] = field(default_factory=list)

    @property
    def spec(self) -> dict[str, Any]:
        spec: dict[str, Any] = self.body["schedule"]
        return spec

    @property
    def at_ms(self) -> int | None:
        return int(self.spec["scheduled_at"]) if self.spec.get("type", "one-time") == "one-time" else None

    def to_json(self) -> dict[str, Any]:
        at = self.at_ms
        return {
            "id": self.id,
            "agent_id": self.agent_id,
            "name": self.body.get("name"),
            "description": self.body.get("description"),
            "conversation_id": self.body.get("conversation_id"),
            "message": {"messages": self.body["messages"]},
            "schedule": self.spec,
            "next_scheduled_time": _iso(datetime.fromtimestamp(at / 1000, UTC)) if at is not None else None,
            "use_sandbox": bool(self.body.get("use_sandbox", False)),
            "target_device_id": self.body.get("target_device_id"),
            "created_at": _iso(self.created_at),
        }


def _invalid(loc: list[str | int], msg: str) -> Answer:
    return 422, {"detail": [{"type": "value_error", "loc": ["body", *loc], "msg": msg}]}


def _check_body(body: Any) -> Answer | None:
    """None when ``body`` is a create request Letta would take; else its 422."""
    if not isinstance(body, dict):
        return _invalid([], "Input should be a valid dictionary")
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        return _invalid(["messages"], "messages must be a non-empty list")
    for i, message in enumerate(messages):
        if not isinstance(message, dict) or message.get("role") not in ("user", "system", "assistant"):
            return _invalid(["messages", i, "role"], "role must be user, system or assistant")
        if not isinstance(message.get("content"), (str, list)):
            return _invalid(["messages", i, "content"], "content must be a string or a list of parts")
    spec = body.get("schedule")
    if not isinstance(spec, dict):
        return _invalid(["schedule"], "schedule is missing")
    kind = spec.get("type", "one-time")
    if kind == "one-time":
        at = spec.get("scheduled_at")
        if isinstance(at, bool) or not isinstance(at, (int, float)):
            return _invalid(["schedule", "scheduled_at"], "scheduled_at must be unix milliseconds")
    elif kind == "recurring":
        if not isinstance(spec.get("cron_expression"), str) or len(spec["cron_expression"].split()) != 5:
            return _invalid(["schedule", "cron_expression"], "cron_expression must have five fields (UTC)")
    else:
        return _invalid(["schedule", "type"], "type must be one-time or recurring")
    return None


class NativeSchedules:
    """The native schedules of a stand-in Letta server, fired by :meth:`fire_due`."""

    def __init__(self, send: Send) -> None:
        """Keep schedules in memory; ``send`` makes the run a fire becomes."""
        self._send = send
        self._lock = threading.RLock()
        self._all: dict[str, _Scheduled] = {}
        self._stalled: set[str | None] = set()
        self._races: deque[tuple[str | None, int]] = deque()

    # ------------------------------------------------------------------ test hooks

    def stall(self, agent_id: str | None = None) -> None:
        """Schedules created from now on (for ``agent_id``, or any) stay overdue and never fire."""
        with self._lock:
            self._stalled.add(agent_id)

    def unstall(self) -> None:
        """Schedules created from now on fire again (stalled ones stay stalled)."""
        with self._lock:
            self._stalled.clear()

    def race_delete(self, agent_id: str | None = None, *, answer: int = 404) -> None:
        """The next delete (of ``agent_id``'s schedule, or any) meets its firing: it fires, then answers ``answer``."""
        if answer not in (200, 404):
            raise ValueError("a racing delete answers 200 or 404")
        with self._lock:
            self._races.append((agent_id, answer))

    def fire_due(self, now: datetime) -> list[str]:
        """The worker: fire every one-time schedule due at ``now`` that is not stalled; their ids."""
        fired = []
        with self._lock:
            due = [
                s for s in self._all.values()
                if not s.gone and not s.stalled and s.at_ms is not None and s.at_ms <= _ms(now)
            ]  # fmt: skip
            for scheduled in sorted(due, key=lambda s: (s.at_ms or 0, s.id)):
                self._fire(scheduled, now)
                fired.append(scheduled.id)
        return fired

    def history_of(self, schedule_id: str) -> list[dict[str, Any]]:
        """The history entries of one schedule (a test's view, the same as the API's)."""
        with self._lock:
            return [dict(e) for e in self._all[schedule_id].history]

    def live(self, agent_id: str | None = None) -> list[dict[str, Any]]:
        """Schedules that are neither fired nor deleted (of one agent)."""
        with self._lock:
            return [
                s.to_json() for s in self._all.values() if not s.gone and agent_id in (None, s.agent_id)
            ]  # fmt: skip

    def _fire(self, scheduled: _Scheduled, now: datetime) -> None:
        raw = json.dumps({"messages": scheduled.body["messages"]}).encode("utf-8")
        status, answer = self._send(scheduled.agent_id, raw)
        ok = status == 200 and isinstance(answer, dict)
        scheduled.history.append(
            {
                "id": f"scheduled-message-history-{uuid.uuid4()}",
                "scheduled_message_id": scheduled.id,
                "status": "success" if ok else "failed",
                "response": answer if isinstance(answer, dict) else None,
                "run_id": answer.get("id") if ok else None,
                "sent_at": _iso(now),
            }
        )
        scheduled.gone = True

    # ------------------------------------------------------------------ routes

    def route(self, method: str, agent_id: str, rest: list[str], query: dict[str, list[str]], raw: bytes) -> Answer:
        """Answer a request below ``/v1/agents/{agent_id}/schedule`` (``rest`` follows ``schedule``)."""
        if not rest:
            if method == "POST":
                return self._create(agent_id, raw)
            if method == "GET":
                return self._list(agent_id, query)
            return 405, {"detail": "Method Not Allowed"}
        with self._lock:
            scheduled = self._all.get(rest[0])
            if scheduled is None or scheduled.agent_id != agent_id:
                return 404, {"detail": "Scheduled message not found"}
            if rest[1:] == ["history"] and method == "GET":
                return self._history(scheduled, query)
            if len(rest) == 1 and method == "GET":
                return (
                    (404, {"detail": "Scheduled message not found"}) if scheduled.gone else (200, scheduled.to_json())
                )
            if len(rest) == 1 and method == "DELETE":
                return self._delete(scheduled)
        return 405, {"detail": "Method Not Allowed"}

    def _create(self, agent_id: str, raw: bytes) -> Answer:
        try:
            body = json.loads(raw or b"null")
        except ValueError:
            return _invalid([0], "JSON decode error")
        problem = _check_body(body)
        if problem is not None:
            return problem
        with self._lock:
            stalled = None in self._stalled or agent_id in self._stalled
            scheduled = _Scheduled(
                f"scheduled-message-{uuid.uuid4()}", agent_id, body, datetime.now(UTC), stalled=stalled
            )
            self._all[scheduled.id] = scheduled
            return 200, {
                "id": scheduled.id,
                "next_scheduled_at": scheduled.to_json()["next_scheduled_time"],
                "use_sandbox": bool(body.get("use_sandbox", False)),
            }

    def _list(self, agent_id: str, query: dict[str, list[str]]) -> Answer:
        try:
            limit = int(query.get("limit", ["100"])[-1])
        except ValueError:
            return 422, {"detail": [{"type": "int_parsing", "loc": ["query", "limit"], "msg": "not an integer"}]}
        after = query.get("after", [None])[-1]
        with self._lock:
            mine = [s for s in self._all.values() if s.agent_id == agent_id and not s.gone]
        ids = [s.id for s in mine]
        start = ids.index(after) + 1 if after in ids else 0
        page = mine[start : start + max(limit, 0)]
        return 200, {"scheduled_messages": [s.to_json() for s in page], "has_next_page": start + len(page) < len(mine)}

    def _history(self, scheduled: _Scheduled, query: dict[str, list[str]]) -> Answer:
        try:
            limit = int(query.get("limit", ["20"])[-1])
            offset = int(query.get("offset", ["0"])[-1])
        except ValueError:
            return 422, {"detail": [{"type": "int_parsing", "loc": ["query"], "msg": "limit and offset are integers"}]}
        entries = scheduled.history[offset : offset + max(limit, 0)]
        more = offset + len(entries) < len(scheduled.history)
        return 200, {"history": [dict(e) for e in entries], "has_next_page": more,
                     "next_offset": offset + len(entries) if more else None}  # fmt: skip

    def _delete(self, scheduled: _Scheduled) -> Answer:
        for index, (agent, answer) in enumerate(self._races):
            if agent in (None, scheduled.agent_id):
                del self._races[index]
                if not scheduled.gone:
                    self._fire(scheduled, datetime.now(UTC))
                return (200, {"success": True}) if answer == 200 else (404, {"detail": "Scheduled message not found"})
        if scheduled.gone:
            return 404, {"detail": "Scheduled message not found"}
        scheduled.gone = True
        return 200, {"success": True}
