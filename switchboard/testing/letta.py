"""A stand-in for a Letta server: real HTTP on 127.0.0.1, no agents behind it.

It answers the few calls switchboard makes, with the shapes of Letta 0.16.8's
OpenAPI document (``Run``, ``HTTPValidationError``, ``LettaAsyncRequest`` /
``MessageCreate``), so the client and the tick can be exercised offline: by the
tests, and by ``switchboard demo``, which says plainly that it talks to a
stand-in. Messages sent here reach no model; a run simply becomes "completed"
``run_duration`` seconds later and the message then shows in the agent's history.

Routes::

    GET  /v1/health/                            {"version", "status"}
    GET  /v1/agents/?limit=N                    list of AgentState-like objects
    POST /v1/agents/                            create an agent (id agent-<uuid4>)
    GET  /v1/agents/{agent_id}                  one agent, or 404
    POST /v1/agents/{agent_id}/messages/async   Run; 404 unknown agent (0.11.7-like: a Run that fails); 422
    GET  /v1/agents/{agent_id}/messages         history (user messages of finished runs)
    GET  /v1/runs/{run_id}                      Run, or 404

Where it is knowingly stricter than a real 0.16.8 server: that server parses each
message as ``MessageCreate | ApprovalCreate | ToolReturnCreate`` without a
discriminator, so a message with a wrong ``role`` can slip through as an
``ApprovalCreate``; here it is a 422, as ``MessageCreate`` alone would answer.
An empty ``messages`` list is a 422 here too, though 0.16.8's schema sets no
minimum length (and 0.11.7 answers it with a Run). ``tests/real_letta/`` holds
the comparison with a real server, and the differences it knows of.

Test hooks (all thread-safe): :meth:`LettaStandIn.script` and its helpers queue
canned answers, :meth:`~LettaStandIn.down` / :meth:`~LettaStandIn.up` refuse and
accept connections, and :attr:`~LettaStandIn.deliveries`,
:attr:`~LettaStandIn.requests`, :attr:`~LettaStandIn.overlaps` and
:attr:`~LettaStandIn.received_keys` say what happened.

Run ``python -m switchboard.testing.letta --port 8283`` to try it by hand.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import re
import socket
import sys
import threading
import time
import uuid
from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, Literal, NamedTuple, Self
from urllib.parse import parse_qs, unquote, urlsplit

__all__ = ["AGENT_ID_PATTERN", "DROP", "DROP_AFTER_ACCEPT", "Delivery", "LettaStandIn", "RequestRecord", "main"]

log = logging.getLogger(__name__)

STANDIN_VERSION = "0.16.8-standin"

#: The pattern Letta 0.16.8 puts on every ``{agent_id}`` path parameter.
AGENT_ID_PATTERN = r"^agent-[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$"
_AGENT_ID_RE = re.compile(AGENT_ID_PATTERN)

#: A scripted answer: close the connection without answering (the message is not taken).
DROP: Literal["drop"] = "drop"
#: A scripted answer: take the message (a run is made) and close without answering,
#: the case where the caller cannot know whether its message arrived.
DROP_AFTER_ACCEPT: Literal["drop-after-accept"] = "drop-after-accept"

ScriptedResponse = tuple[int, Any] | tuple[int, Any, Mapping[str, str]] | Literal["drop", "drop-after-accept"]

_ROLES = ("user", "system", "assistant")
_MESSAGE_TYPES = {"user": "user_message", "system": "system_message", "assistant": "assistant_message"}


def _iso(moment: datetime) -> str:
    # Pydantic (and so Letta) writes UTC datetimes with a "Z".
    return moment.isoformat().replace("+00:00", "Z")


def _now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class Delivery:
    """One message the stand-in accepted (answered with a Run)."""

    agent_id: str
    role: str
    text: str
    otid: str | None
    run_id: str
    received_at: datetime
    name: str | None = None
    sender_id: str | None = None

    def __repr__(self) -> str:
        """Everything but the text, which tests should assert on explicitly."""
        return (
            f"Delivery(agent_id={self.agent_id!r}, role={self.role!r}, text=<{len(self.text)} chars>, "
            f"otid={self.otid!r}, run_id={self.run_id!r}, received_at={self.received_at.isoformat()!r})"
        )


class RequestRecord(NamedTuple):
    """One request as the stand-in saw it; ``status`` 0 means it closed without answering."""

    method: str
    path: str
    status: int


@dataclass
class _Run:
    id: str
    agent_id: str
    created_at: datetime
    started: float  # time.monotonic() at creation: progress is computed from it lazily
    duration: float
    outcome: str
    stop_reason: str | None
    request_config: dict[str, Any]
    callback_url: str | None
    message_id: str = field(default_factory=lambda: f"message-{uuid.uuid4()}")

    def status(self, now: float) -> str:
        return self.outcome if now - self.started >= self.duration else "running"

    def to_json(self, now: float, *, fresh: bool = False) -> dict[str, Any]:
        # Every property of the Run schema, as FastAPI's response_model writes them.
        status = "created" if fresh else self.status(now)
        finished = status in ("completed", "failed", "cancelled")
        return {
            "id": self.id,
            "status": status,
            "created_at": _iso(self.created_at),
            # Real Letta (0.11.7 and 0.16.8) writes completed_at as naive UTC, with no offset.
            "completed_at": (self.created_at + timedelta(seconds=self.duration)).replace(tzinfo=None).isoformat()
            if finished
            else None,
            "agent_id": self.agent_id,
            "conversation_id": None,
            "base_template_id": None,
            "background": True,  # Letta: "Async endpoints are always background"
            "metadata": {"run_type": "send_message_async", "lettuce": False},
            "request_config": self.request_config,
            "stop_reason": self.stop_reason if finished else None,
            "callback_url": self.callback_url,
            "callback_sent_at": None,
            "callback_status_code": None,
            "callback_error": None,
            "ttft_ns": None,
            "total_duration_ns": int(self.duration * 1e9) if finished else None,
        }


@dataclass(frozen=True)
class _Reply:
    status: int
    body: Any
    headers: Mapping[str, str] = field(default_factory=dict)
    drop: bool = False  # close the connection instead of answering
    accept: bool = True  # for a drop: was the message taken first?


def _error(
    loc: list[str | int], msg: str, kind: str, value: Any = None, ctx: dict[str, Any] | None = None
) -> dict[str, Any]:
    # One item of FastAPI's HTTPValidationError.detail, "input" included as FastAPI does:
    # the client must never repeat it, since it can be the message text.
    item: dict[str, Any] = {"type": kind, "loc": loc, "msg": msg, "input": value}
    if ctx:
        item["ctx"] = ctx
    return item


def _agent_id_errors(agent_id: str) -> list[dict[str, Any]]:
    loc: list[str | int] = ["path", "agent_id"]
    if len(agent_id) < 42:
        return [
            _error(loc, "String should have at least 42 characters", "string_too_short", agent_id, {"min_length": 42})
        ]
    if len(agent_id) > 42:
        return [
            _error(loc, "String should have at most 42 characters", "string_too_long", agent_id, {"max_length": 42})
        ]
    if not _AGENT_ID_RE.match(agent_id):
        return [
            _error(
                loc,
                f"String should match pattern '{AGENT_ID_PATTERN}'",
                "string_pattern_mismatch",
                agent_id,
                {"pattern": AGENT_ID_PATTERN},
            )
        ]
    return []


@dataclass(frozen=True)
class _Message:
    role: str
    text: str
    otid: str | None
    name: str | None = None
    sender_id: str | None = None


def _parse_content(content: Any, loc: list[str | int], errors: list[dict[str, Any]]) -> str | None:
    if isinstance(content, str):
        return content
    if not isinstance(content, list):
        errors.append(_error(loc, "Input should be a valid string or a list of content parts", "string_type", content))
        return None
    texts: list[str] = []
    for j, part in enumerate(content):
        where = [*loc, j]
        if not isinstance(part, dict):
            errors.append(
                _error(
                    where,
                    "Input should be a valid dictionary or object to extract fields from",
                    "model_attributes_type",
                    part,
                )
            )
            continue
        kind = part.get("type", "text")
        if kind != "text":
            errors.append(
                _error(
                    [*where, "type"],
                    f"Input tag '{kind}' found using 'type' does not match the expected tag: 'text' "
                    "(the stand-in takes text only)",
                    "union_tag_invalid",
                    kind,
                )
            )
            continue
        if "text" not in part:
            errors.append(_error([*where, "text"], "Field required", "missing", part))
        elif not isinstance(part["text"], str):
            errors.append(_error([*where, "text"], "Input should be a valid string", "string_type", part["text"]))
        else:
            texts.append(part["text"])
    return "\n".join(texts)


def _parse_async_body(raw: bytes) -> tuple[list[_Message], dict[str, Any], list[dict[str, Any]]]:
    """Messages, the body, and FastAPI-shaped errors for a ``LettaAsyncRequest``."""
    errors: list[dict[str, Any]] = []
    if not raw.strip():
        return [], {}, [_error(["body"], "Field required", "missing")]
    try:
        body = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        pos = getattr(exc, "pos", 0)
        reason = getattr(exc, "msg", "invalid JSON")
        return [], {}, [_error(["body", pos], "JSON decode error", "json_invalid", {}, {"error": reason})]
    if not isinstance(body, dict):
        return (
            [],
            {},
            [
                _error(
                    ["body"],
                    "Input should be a valid dictionary or object to extract fields from",
                    "model_attributes_type",
                    body,
                )
            ],
        )

    items = body.get("messages")
    if items is None and body.get("input") is not None:
        # LettaAsyncRequest.input is sugar for one user message.
        items = [{"role": "user", "content": body["input"]}]
    messages: list[_Message] = []
    if items is None:
        errors.append(_error(["body", "messages"], "Field required", "missing"))
    elif not isinstance(items, list):
        errors.append(_error(["body", "messages"], "Input should be a valid list", "list_type", items))
    elif not items:
        errors.append(
            _error(
                ["body", "messages"],
                "List should have at least 1 item after validation, not 0",
                "too_short",
                items,
                {"field_type": "List", "min_length": 1, "actual_length": 0},
            )
        )
    else:
        for i, item in enumerate(items):
            loc: list[str | int] = ["body", "messages", i]
            if not isinstance(item, dict):
                errors.append(
                    _error(
                        loc,
                        "Input should be a valid dictionary or object to extract fields from",
                        "model_attributes_type",
                        item,
                    )
                )
                continue
            count = len(errors)
            if item.get("type") not in (None, "message"):
                errors.append(
                    _error(
                        [*loc, "type"],
                        "Input should be 'message'",
                        "literal_error",
                        item.get("type"),
                        {"expected": "'message'"},
                    )
                )
            role = item.get("role")
            if "role" not in item:
                errors.append(_error([*loc, "role"], "Field required", "missing", item))
            elif role not in _ROLES:
                errors.append(
                    _error(
                        [*loc, "role"],
                        "Input should be 'user', 'system' or 'assistant'",
                        "literal_error",
                        role,
                        {"expected": "'user', 'system' or 'assistant'"},
                    )
                )
            text = None
            if "content" not in item:
                errors.append(_error([*loc, "content"], "Field required", "missing", item))
            else:
                text = _parse_content(item["content"], [*loc, "content"], errors)
            strings: dict[str, str | None] = {}
            for field in ("otid", "name", "sender_id"):
                value = item.get(field)
                if value is not None and not isinstance(value, str):
                    errors.append(_error([*loc, field], "Input should be a valid string", "string_type", value))
                strings[field] = value if isinstance(value, str) else None
            if len(errors) == count and text is not None:
                messages.append(_Message(role=str(role), text=text, **strings))
    return messages, body, errors


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    # 300 agents at once must not overflow the listen backlog.
    request_queue_size = 1024
    allow_reuse_address = True
    standin: LettaStandIn

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A connection the test closed on purpose (down(), a drop) is no error;
        # anything else is a stand-in bug and should be seen.
        exc = sys.exc_info()[1]
        if isinstance(exc, OSError):
            return
        super().handle_error(request, client_address)


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"  # keep-alive, as httpx expects of a real server
    timeout = 60  # an idle kept-alive connection frees its thread eventually
    # Headers and body go out in two writes: with Nagle's algorithm on, the body then waits for the
    # client's delayed ACK (~40 ms) on every kept-alive request. Real servers (uvicorn) set TCP_NODELAY.
    disable_nagle_algorithm = True
    server_version = "letta-standin"

    def setup(self) -> None:
        super().setup()
        self.server.standin._track(self.connection, add=True)

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            self.server.standin._track(self.connection, add=False)

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("stand-in: " + format, *args)

    def do_GET(self) -> None:
        self._serve("GET")

    def do_POST(self) -> None:
        self._serve("POST")

    def do_PUT(self) -> None:
        self._serve("PUT")

    def do_PATCH(self) -> None:
        self._serve("PATCH")

    def do_DELETE(self) -> None:
        self._serve("DELETE")

    def _serve(self, method: str) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length > 0 else b""
        standin = self.server.standin
        try:
            reply = standin._handle(method, self.path, self.headers.get("Authorization"), raw)
        except Exception:  # a bug in the stand-in: answer 500 so the test sees it, and log it
            log.exception("stand-in failed on %s %s", method, self.path)
            reply = _Reply(500, {"detail": "stand-in internal error"})
        standin._log(method, self.path, 0 if reply.drop else reply.status)
        if reply.drop:
            self.close_connection = True
            with contextlib.suppress(OSError):  # the caller may have gone already
                self.connection.shutdown(socket.SHUT_RDWR)
            return
        data = json.dumps(reply.body).encode()
        self.send_response(reply.status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for name, value in reply.headers.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)


class LettaStandIn:
    """A Letta-API-compatible HTTP server on 127.0.0.1 for tests and the offline demo."""

    def __init__(
        self,
        api_keys: set[str] | None = None,
        agents: Iterable[str] | None = None,
        latency: float = 0.0,
        run_duration: float = 0.0,
        *,
        validate_ids: bool = True,
        unknown_agent_runs: bool = False,
    ) -> None:
        """Configure the stand-in; nothing listens until :meth:`start`.

        ``api_keys=None`` accepts any key or none (like a Letta server without
        ``--secure``); otherwise a missing or unknown bearer gets 401.
        ``latency`` is slept at the start of every request, ``run_duration`` is
        how long a run stays "running". ``validate_ids`` applies Letta's
        ``agent-<uuid4>`` pattern to agent ids in paths (422 otherwise), as 0.16.8 does.
        """
        self.api_keys = set(api_keys) if api_keys is not None else None
        self.latency = latency
        self.run_duration = run_duration
        self.validate_ids = validate_ids
        self.unknown_agent_runs = unknown_agent_runs
        self._lock = threading.Lock()
        self._agents: dict[str, dict[str, Any]] = {}
        self._runs: dict[str, _Run] = {}
        self._last_run: dict[str, str] = {}
        self._in_flight: dict[str, int] = {}
        self._outcomes: dict[str | None, tuple[str, str | None]] = {}
        self._scripts: dict[str | None, deque[_Reply]] = {}
        self._deliveries: list[Delivery] = []
        self._requests: list[RequestRecord] = []
        self._overlaps: list[str] = []
        self._received_keys: set[str] = set()
        self._connections: set[socket.socket] = set()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self._port = 0
        self._down = False
        for agent_id in agents or ():
            self.add_agent(agent_id)

    # ------------------------------------------------------------------ lifecycle

    def start(self, port: int = 0) -> Self:
        """Listen on 127.0.0.1 (``port`` 0 picks a free one) and serve in a background thread."""
        if self._server is not None:
            return self
        self._port = port
        self._listen()
        return self

    def _listen(self) -> None:
        server = _Server(("127.0.0.1", self._port), _Handler)
        server.standin = self
        self._port = server.server_address[1]
        # A short poll interval keeps stop()/down() quick.
        thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.05}, name=f"letta-standin-{self._port}", daemon=True
        )
        self._server, self._thread = server, thread
        self._down = False
        thread.start()

    def _close(self) -> None:
        server, thread = self._server, self._thread
        self._server = self._thread = None
        if server is not None:
            server.shutdown()
            server.server_close()
        if thread is not None:
            thread.join(timeout=5)
        # Kept-alive connections would otherwise go on being served.
        with self._lock:
            connections = list(self._connections)
        for conn in connections:
            with contextlib.suppress(OSError):  # already closed by its caller
                conn.shutdown(socket.SHUT_RDWR)

    def stop(self) -> None:
        """Stop listening and drop every open connection."""
        self._down = True
        self._close()

    def down(self) -> None:
        """Refuse connections (the port is closed) until :meth:`up`, like a crashed server."""
        if self._server is None:
            return
        self._down = True
        self._close()

    def up(self) -> None:
        """Listen again on the same port after :meth:`down`."""
        if self._server is None and self._port:
            self._listen()

    def __enter__(self) -> Self:
        """Start, for use in a ``with`` block."""
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        """Stop."""
        self.stop()

    @property
    def port(self) -> int:
        """The TCP port (0 before :meth:`start`)."""
        return self._port

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:<port>``: what to give as LETTA_BASE_URL."""
        if not self._port:
            raise RuntimeError("the stand-in is not started — call start() first")
        return f"http://127.0.0.1:{self._port}"

    def __repr__(self) -> str:
        """Port and counts; never the keys."""
        return f"LettaStandIn(port={self._port}, agents={len(self._agents)}, deliveries={len(self._deliveries)})"

    def _track(self, conn: socket.socket, *, add: bool) -> None:
        with self._lock:
            if add:
                self._connections.add(conn)
            else:
                self._connections.discard(conn)

    def _log(self, method: str, path: str, status: int) -> None:
        with self._lock:
            self._requests.append(RequestRecord(method, path, status))

    # ------------------------------------------------------------------ hooks

    def add_agent(self, agent_id: str | None = None, name: str | None = None) -> str:
        """Make an agent (``agent-<uuid4>`` unless given) and return its id."""
        agent_id = agent_id or f"agent-{uuid.uuid4()}"
        if self.validate_ids and not _AGENT_ID_RE.match(agent_id):
            raise ValueError(
                f"{agent_id!r} is not an id Letta 0.16.8 accepts (agent-<uuid4>); "
                "leave it out to get one, or pass validate_ids=False"
            )
        now = _iso(_now())
        # Every property of 0.16.8's AgentState, as FastAPI's response_model writes them
        # (tests/real_letta/test_standin_parity.py compares them with a real server's).
        agent: dict[str, Any] = {
            "id": agent_id,
            "name": name or f"standin-{agent_id[6:14]}",
            "created_at": now,
            "updated_at": now,
            "created_by_id": None,
            "last_updated_by_id": None,
            "system": "A stand-in agent: messages sent here reach no model.",
            "agent_type": "memgpt_v2_agent",
            "llm_config": {"model": "stand-in", "model_endpoint_type": "openai", "context_window": 32000},
            "embedding_config": None,
            "model": None,
            "embedding": None,
            "model_settings": None,
            "compaction_settings": None,
            "response_format": None,
            "memory": {"blocks": [], "file_blocks": [], "prompt_template": ""},
            "blocks": [],
            "tools": [],
            "tool_rules": None,
            "tool_exec_environment_variables": [],
            "secrets": [],
            "sources": [],
            "tags": [],
            "message_ids": [],
            "metadata": None,
            "description": "letta-switchboard stand-in (not a real Letta server)",
            "project_id": None,
            "template_id": None,
            "base_template_id": None,
            "deployment_id": None,
            "entity_id": None,
            "identity_ids": [],
            "identities": [],
            "pending_approval": None,
            "message_buffer_autoclear": False,
            "enable_sleeptime": None,
            "multi_agent_group": None,
            "managed_group": None,
            "last_run_completion": None,
            "last_run_duration_ms": None,
            "last_stop_reason": None,
            "timezone": None,
            "max_files_open": None,
            "per_file_view_window_char_limit": None,
            "hidden": None,
        }
        with self._lock:
            self._agents[agent_id] = agent
        return agent_id

    @property
    def agents(self) -> list[str]:
        """Ids of the known agents, oldest first."""
        with self._lock:
            return list(self._agents)

    def script(self, agent_id: str | None, *responses: ScriptedResponse) -> None:
        """Queue canned answers for the next message POSTs to ``agent_id`` (None: to any agent).

        Each is ``(status, body)``, ``(status, body, headers)``, :data:`DROP` or
        :data:`DROP_AFTER_ACCEPT`. An agent's own queue is used before the shared one.
        A scripted answer comes before the key check and validation, like a proxy's.
        """
        replies = []
        for response in responses:
            if response == DROP:
                replies.append(_Reply(0, None, drop=True, accept=False))
            elif response == DROP_AFTER_ACCEPT:
                replies.append(_Reply(0, None, drop=True, accept=True))
            elif isinstance(response, tuple) and len(response) in (2, 3) and isinstance(response[0], int):
                headers: Mapping[str, str] = response[2] if len(response) == 3 else {}
                replies.append(_Reply(response[0], response[1], dict(headers)))
            else:
                raise ValueError(f"not a scripted response: {response!r}")
        with self._lock:
            self._scripts.setdefault(agent_id, deque()).extend(replies)

    def rate_limit(self, agent_id: str | None = None, *, retry_after: str | float = 1, times: int = 1) -> None:
        """The next ``times`` message POSTs get 429 with ``Retry-After`` (seconds or an HTTP-date)."""
        value = retry_after if isinstance(retry_after, str) else f"{retry_after:g}"
        self.script(agent_id, *[(429, {"detail": "Rate limited"}, {"Retry-After": value})] * times)

    def fail(
        self, agent_id: str | None = None, status: int = 503, *, times: int = 1, detail: str | None = None
    ) -> None:
        """The next ``times`` message POSTs get ``status`` with ``{"detail": …}``."""
        body = {"detail": detail or HTTPStatus(status).phrase}
        self.script(agent_id, *[(status, body)] * times)

    def drop(self, agent_id: str | None = None, *, times: int = 1, after_accept: bool = False) -> None:
        """The next ``times`` message POSTs get the connection closed without an answer."""
        reply: ScriptedResponse = DROP_AFTER_ACCEPT if after_accept else DROP
        self.script(agent_id, *[reply] * times)

    def set_run_outcome(self, agent_id: str | None, status: str = "failed", stop_reason: str | None = "error") -> None:
        """Runs made from now on for ``agent_id`` (None: every agent) end with this status."""
        if status not in ("completed", "failed", "cancelled"):
            raise ValueError(f"{status!r} is not a final run status: completed, failed or cancelled")
        with self._lock:
            self._outcomes[agent_id] = (status, stop_reason)

    def run(self, run_id: str) -> dict[str, Any]:
        """The Run JSON of ``run_id`` as ``GET /v1/runs/{run_id}`` would answer now."""
        with self._lock:
            return self._runs[run_id].to_json(time.monotonic())

    @property
    def deliveries(self) -> list[Delivery]:
        """Messages accepted so far, in arrival order (a copy)."""
        with self._lock:
            return list(self._deliveries)

    @property
    def requests(self) -> list[RequestRecord]:
        """Every request: (method, path with query, status); status 0 = closed unanswered."""
        with self._lock:
            return list(self._requests)

    @property
    def overlaps(self) -> list[str]:
        """Agents sent a message while an earlier one to them was in flight or its run unfinished."""
        with self._lock:
            return list(self._overlaps)

    @property
    def received_keys(self) -> set[str]:
        """Bearer tokens seen on any request."""
        with self._lock:
            return set(self._received_keys)

    # ------------------------------------------------------------------ requests

    def _handle(self, method: str, target: str, authorization: str | None, raw: bytes) -> _Reply:
        parts = urlsplit(target)
        # Split before unquoting, so an encoded "/" stays inside its segment.
        segments = [unquote(s) for s in parts.path.strip("/").split("/")] if parts.path.strip("/") else []
        query = parse_qs(parts.query)
        token = None
        if authorization and authorization.startswith("Bearer "):
            token = authorization[len("Bearer ") :]
        is_send = (
            method == "POST"
            and len(segments) == 5
            and segments[:2] == ["v1", "agents"]
            and segments[3:] == ["messages", "async"]
        )
        agent_id = segments[2] if is_send else None

        with self._lock:
            if token is not None:
                self._received_keys.add(token)
            if agent_id is not None:
                last = self._runs.get(self._last_run.get(agent_id, ""))
                busy = last is not None and last.status(time.monotonic()) not in ("completed", "failed", "cancelled")
                if self._in_flight.get(agent_id, 0) > 0 or busy:
                    self._overlaps.append(agent_id)
                self._in_flight[agent_id] = self._in_flight.get(agent_id, 0) + 1
        try:
            if self.latency > 0:
                time.sleep(self.latency)
            if self._down:
                return _Reply(0, None, drop=True, accept=False)
            return self._route(method, segments, query, token, raw, agent_id)
        finally:
            # Released before the answer is written: once the caller can read it,
            # its next message is no overlap.
            if agent_id is not None:
                with self._lock:
                    self._in_flight[agent_id] -= 1

    def _route(
        self,
        method: str,
        segments: list[str],
        query: dict[str, list[str]],
        token: str | None,
        raw: bytes,
        send_to: str | None,
    ) -> _Reply:
        if send_to is not None:
            scripted = self._next_scripted(send_to)
            if scripted is not None:
                if scripted.drop and scripted.accept:
                    self._accept(send_to, raw)
                return scripted
        if segments[:2] == ["v1", "health"] and len(segments) == 2:
            return _Reply(200, {"version": STANDIN_VERSION, "status": "ok"}) if method == "GET" else _not_allowed()
        if self.api_keys is not None and token not in self.api_keys:
            return _Reply(401, {"detail": "Unauthorized"})
        if segments[:2] == ["v1", "agents"]:
            rest = segments[2:]
            if not rest:
                if method == "GET":
                    return self._list_agents(query)
                if method == "POST":
                    return self._create_agent(raw)
                return _not_allowed()
            if len(rest) == 1:
                return self._get_agent(rest[0]) if method == "GET" else _not_allowed()
            if rest[1:] == ["messages", "async"]:
                return self._accept(rest[0], raw) if method == "POST" else _not_allowed()
            if rest[1:] == ["messages"]:
                return self._history(rest[0], query) if method == "GET" else _not_allowed()
        if segments[:2] == ["v1", "runs"] and len(segments) == 3:
            return self._get_run(segments[2]) if method == "GET" else _not_allowed()
        return _Reply(404, {"detail": "Not Found"})

    def _next_scripted(self, agent_id: str) -> _Reply | None:
        with self._lock:
            for key in (agent_id, None):
                queue = self._scripts.get(key)
                if queue:
                    return queue.popleft()
        return None

    def _limit(self, query: dict[str, list[str]], default: int) -> tuple[int, list[dict[str, Any]]]:
        value = query.get("limit", [None])[-1]
        if value is None:
            return default, []
        try:
            return int(value), []
        except ValueError:
            return default, [
                _error(
                    ["query", "limit"],
                    "Input should be a valid integer, unable to parse string as an integer",
                    "int_parsing",
                    value,
                )
            ]

    def _list_agents(self, query: dict[str, list[str]]) -> _Reply:
        limit, errors = self._limit(query, 50)
        if errors:
            return _Reply(422, {"detail": errors})
        with self._lock:
            agents = list(self._agents.values())
        return _Reply(200, agents[: max(limit, 0)])

    def _create_agent(self, raw: bytes) -> _Reply:
        body: Any = {}
        if raw.strip():
            try:
                body = json.loads(raw)
            except ValueError:
                return _Reply(422, {"detail": [_error(["body", 0], "JSON decode error", "json_invalid", {})]})
        if not isinstance(body, dict):
            return _Reply(
                422,
                {
                    "detail": [
                        _error(
                            ["body"],
                            "Input should be a valid dictionary or object to extract fields from",
                            "model_attributes_type",
                            body,
                        )
                    ]
                },
            )
        name = body.get("name") if isinstance(body.get("name"), str) else None
        agent_id = self.add_agent(name=name)
        with self._lock:
            agent = self._agents[agent_id]
            if isinstance(body.get("tags"), list):
                agent["tags"] = [str(t) for t in body["tags"]]
            return _Reply(200, dict(agent))

    def _get_agent(self, agent_id: str) -> _Reply:
        if self.validate_ids and (errors := _agent_id_errors(agent_id)):
            return _Reply(422, {"detail": errors})
        with self._lock:
            agent = self._agents.get(agent_id)
        return _Reply(200, dict(agent)) if agent is not None else _Reply(404, {"detail": "Agent not found"})

    def _accept(self, agent_id: str, raw: bytes) -> _Reply:
        messages, body, errors = _parse_async_body(raw)
        if self.validate_ids:
            # FastAPI reports path and body errors together, path first.
            errors = _agent_id_errors(agent_id) + errors
        if errors:
            return _Reply(422, {"detail": errors})
        received = _now()
        with self._lock:
            known = agent_id in self._agents
            if not known and not self.unknown_agent_runs:
                return _Reply(404, {"detail": "Agent not found"})
            outcome, stop_reason = self._outcomes.get(agent_id) or self._outcomes.get(None) or ("completed", "end_turn")
            if not known:
                outcome, stop_reason = "failed", None  # 0.11.7 fails the run once it looks for the agent
            run = _Run(
                id=f"run-{uuid.uuid4()}",
                agent_id=agent_id,
                created_at=received,
                started=time.monotonic(),
                duration=self.run_duration,
                outcome=outcome,
                stop_reason=stop_reason,
                request_config={
                    "use_assistant_message": body.get("use_assistant_message", True),
                    "assistant_message_tool_name": body.get("assistant_message_tool_name", "send_message"),
                    "assistant_message_tool_kwarg": body.get("assistant_message_tool_kwarg", "message"),
                    "include_return_message_types": body.get("include_return_message_types"),
                },
                callback_url=body.get("callback_url") if isinstance(body.get("callback_url"), str) else None,
            )
            self._runs[run.id] = run
            self._last_run[agent_id] = run.id
            for message in messages:
                self._deliveries.append(
                    Delivery(
                        agent_id, message.role, message.text, message.otid, run.id, received,
                        name=message.name, sender_id=message.sender_id,
                    )
                )  # fmt: skip
            return _Reply(200, run.to_json(time.monotonic(), fresh=True))

    def _history(self, agent_id: str, query: dict[str, list[str]]) -> _Reply:
        errors = _agent_id_errors(agent_id) if self.validate_ids else []
        limit, limit_errors = self._limit(query, 100)
        if errors or limit_errors:
            return _Reply(422, {"detail": errors + limit_errors})
        order = query.get("order", ["desc"])[-1]
        now = time.monotonic()
        with self._lock:
            if agent_id not in self._agents:
                return _Reply(404, {"detail": "Agent not found"})
            items = []
            for delivery in self._deliveries:
                run = self._runs[delivery.run_id]
                # Letta keeps a message only once its run went through.
                if delivery.agent_id != agent_id or run.status(now) != "completed":
                    continue
                items.append(
                    {
                        "id": run.message_id,
                        "date": _iso(delivery.received_at),
                        "name": delivery.name,
                        "message_type": _MESSAGE_TYPES[delivery.role],
                        "otid": delivery.otid,
                        "sender_id": delivery.sender_id,
                        "step_id": None,
                        "is_err": None,
                        "seq_id": None,
                        "run_id": delivery.run_id,
                        "content": delivery.text,
                    }
                )
        if order != "asc":
            items.reverse()
        return _Reply(200, items[: max(limit, 0)])

    def _get_run(self, run_id: str) -> _Reply:
        with self._lock:
            run = self._runs.get(run_id)
            if run is None:
                return _Reply(404, {"detail": "Run not found"})
            return _Reply(200, run.to_json(time.monotonic()))


def _not_allowed() -> _Reply:
    return _Reply(405, {"detail": "Method Not Allowed"})


def main(argv: list[str] | None = None) -> None:
    """Run a stand-in until Ctrl-C: ``python -m switchboard.testing.letta --port 8283``."""
    parser = argparse.ArgumentParser(
        prog="python -m switchboard.testing.letta",
        description="A Letta-API stand-in on 127.0.0.1 for trying letta-switchboard offline. "
        "It is not a Letta server: messages reach no model.",
    )
    parser.add_argument("--port", type=int, default=8283, help="TCP port on 127.0.0.1 (0 picks a free one)")
    parser.add_argument(
        "--agent",
        action="append",
        default=[],
        help="an agent id to know, agent-<uuid4> (repeatable); one is made if none",
    )
    parser.add_argument("--api-key", action="append", default=None, help="accept only this bearer key (repeatable)")
    parser.add_argument("--latency", type=float, default=0.0, help="seconds to wait before each answer")
    parser.add_argument("--run-duration", type=float, default=1.0, help="seconds a run stays running")
    args = parser.parse_args(argv)

    if not all(_AGENT_ID_RE.match(agent) for agent in args.agent):
        parser.error("--agent takes an id as Letta makes them, agent-<uuid4>; leave it out to get one")
    standin = LettaStandIn(
        api_keys=set(args.api_key) if args.api_key else None,
        agents=args.agent,
        latency=args.latency,
        run_duration=args.run_duration,
    )
    if not standin.agents:
        standin.add_agent()
    standin.start(args.port)
    print(f"Letta stand-in (NOT a real Letta server; messages reach no model) at {standin.base_url}")
    print("keys: " + ("only the --api-key values are accepted" if args.api_key else "any key or none is accepted"))
    for agent_id in standin.agents:
        print(f"agent: {agent_id}")
    print("Ctrl-C to stop.", flush=True)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        pass
    finally:
        standin.stop()


if __name__ == "__main__":
    main()
