"""The client for Letta Code's App Server (``letta server``): one WebSocket, ``/ws``.

The App Server has no ``/messages/async``, no runs API and no tools API. A
message is one ``input`` command, and the turn it starts is watched on the
same socket until ``turn_finished``::

    → {"type": "input", "request_id", "runtime": {agent_id, conversation_id},
       "payload": {"kind": "create_message", "messages": [{role, content, client_message_id}]}}
    ← input_accepted {accepted, disposition}
    ← update_loop_status {loop_status.client_message_ids_by_run_id}   (our otid's run)
    ← turn_finished {turn_id, stop_reason, run_id?, error?}

``client_message_id`` is the fire's otid: the server stores it as the user
message's ``otid`` and deduplicates a repeat for an hour, even across restarts.
A repeat is answered ``input_accepted`` and then nothing at all, so a send
that hears nothing about its otid looks the otid up in the conversation
(``conversation_messages_list``) instead of sending again.

Proof of a delivery is the conversation id, the otid and the turn id; the
server's ``local-run-N`` run ids restart with each server process. The
token (``--ws-auth capability-token``) travels as ``Authorization: Bearer``
and, like message text, never appears in an error or a log line.
"""

from __future__ import annotations

import itertools
import json
import logging
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Self
from urllib.parse import urlsplit, urlunsplit

from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidStatus, InvalidURI
from websockets.sync.client import ClientConnection, connect

from switchboard.exceptions import ConfigError, LettaError, LettaPermanentError, LettaTransientError
from switchboard.letta import Run, is_app_server

__all__ = ["APP_SERVER_SCHEMES", "DEFAULT_CONVERSATION", "AppServerClient", "is_app_server"]

log = logging.getLogger(__name__)

#: Base URL schemes that mean "this Letta is an App Server".
APP_SERVER_SCHEMES = ("ws", "wss")
#: The App Server's name for an agent's default conversation.
DEFAULT_CONVERSATION = "default"
#: Stop reasons of a turn that did not do its work (the message is stored all the same).
FAILED_STOP_REASONS = frozenset(
    {
        "error",
        "llm_api_error",
        "invalid_llm_response",
        "invalid_tool_call",
        "context_window_overflow_in_system_prompt",
        "insufficient_credits",
    }
)
_MAX_DETAIL = 300
# A conversation's history carries whole prompts; the default 1 MiB frame limit is too small for it.
_MAX_FRAME = 32 * 1024 * 1024
_HISTORY_LIMIT = 100


def _safe_url(url: str) -> str:
    parts = urlsplit(url)
    host = parts.hostname or ""
    if parts.port is not None:
        host = f"{host}:{parts.port}"
    return urlunsplit((parts.scheme, host, parts.path, "", ""))


def _scrub(text: str, secrets: Iterable[str]) -> str:
    for secret in secrets:
        if secret and len(secret) >= 3:
            text = text.replace(secret, "***")
    text = " ".join(text.split())
    return text if len(text) <= _MAX_DETAIL else text[: _MAX_DETAIL - 1] + "…"


@dataclass
class _Watch:
    """What one send has heard about its otid so far."""

    otid: str
    accepted: bool = False
    disposition: str | None = None
    #: The server's run ids that carry our otid (from update_loop_status).
    runs: set[str] | None = None

    def mentioned(self) -> bool:
        return bool(self.runs)

    def note_status(self, message: dict[str, Any]) -> None:
        by_run = (message.get("loop_status") or {}).get("client_message_ids_by_run_id") or {}
        for run_id, ids in by_run.items():
            if isinstance(ids, list) and self.otid in ids:
                self.runs = (self.runs or set()) | {str(run_id)}

    def owns(self, finished: dict[str, Any]) -> bool:
        """Is this turn_finished (already known to be for our runtime) the end of our turn?"""
        run_id = finished.get("run_id")
        if self.runs:
            return run_id in self.runs
        # A turn that failed before it made a run (unknown agent or conversation) names none;
        # when ours started at once, nothing else can be finishing on this runtime.
        return self.disposition == "started"


class AppServerClient:
    """A small synchronous client for one App Server and one capability token.

    It offers what the delivery needs of a Letta client: ``send_message``
    (which waits for the turn to end), ``get_run`` (turns this client saw
    end), ``check_key``, ``check_agent`` and ``close``.
    """

    def __init__(
        self,
        base_url: str,
        token: str | None,
        *,
        timeout: float = 30.0,
        connect_timeout: float | None = None,
        turn_timeout: float = 120.0,
        quiet: float = 2.0,
    ) -> None:
        """Prepare a client for ``base_url`` (``ws://host:port`` or ``wss://…``); nothing is sent yet.

        ``turn_timeout`` bounds the wait for a turn to end; ``quiet`` is how long a
        send hears nothing about its otid before it looks the otid up in the conversation.
        """
        url = base_url.strip().rstrip("/")
        try:
            parts = urlsplit(url)
            parts.port  # noqa: B018 - a malformed port raises only when read
        except ValueError as exc:
            raise ConfigError(f'App Server URL "{_safe_url(url)}" is not a URL — set LETTA_BASE_URL') from exc
        if parts.scheme.lower() not in APP_SERVER_SCHEMES or not parts.hostname:
            raise ConfigError(
                f'App Server URL "{_safe_url(url)}" is not a ws:// or wss:// URL — set LETTA_BASE_URL, '
                "e.g. ws://127.0.0.1:4500"
            )
        if parts.username is not None or parts.password is not None:
            raise ConfigError("the App Server URL carries a user name or password — put the token in LETTA_API_KEY")
        self.base_url = url
        self._shown_url = _safe_url(url)
        path = parts.path if parts.path not in ("", "/") else "/ws"
        self._ws_url = urlunsplit((parts.scheme.lower(), parts.netloc, path, parts.query, ""))
        self._token = (token or "").strip() or None
        if self._token and not (self._token.isascii() and self._token.isprintable()):
            raise ConfigError(
                "the App Server token contains characters an HTTP header cannot carry — copy the token file again"
            )
        self._timeout = timeout
        self._connect_timeout = connect_timeout if connect_timeout is not None else timeout
        self._turn_timeout = turn_timeout
        self._quiet = quiet
        self._runs: dict[str, Run] = {}
        #: The conversation made for each otid sent to "new".
        self._made: dict[str, str] = {}
        self._lock = threading.Lock()
        self._ids = itertools.count(1)

    def __repr__(self) -> str:
        """Show the server and whether a token is set, never the token."""
        return f"AppServerClient(base_url={self._shown_url!r}, token={'set' if self._token else 'none'})"

    def __enter__(self) -> Self:
        """Use the client in a ``with`` block."""
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        """Nothing stays open between calls; kept for symmetry with LettaClient."""
        self.close()

    def close(self) -> None:
        """Every call opens and closes its own socket: nothing to close."""

    # ------------------------------------------------------------------ socket

    def _request_id(self, kind: str) -> str:
        with self._lock:
            return f"switchboard-{kind}-{next(self._ids)}"

    def _connect(self, action: str) -> ClientConnection:
        headers = {"Authorization": f"Bearer {self._token}"} if self._token else None
        try:
            return connect(
                self._ws_url,
                additional_headers=headers,
                user_agent_header="letta-switchboard",
                open_timeout=self._connect_timeout,
                max_size=_MAX_FRAME,
                compression=None,
            )
        except InvalidStatus as exc:
            raise self._refused(exc.response.status_code, action) from None
        except InvalidURI as exc:
            raise ConfigError(f"cannot open {self._shown_url} while {action} — check LETTA_BASE_URL") from exc
        except (OSError, TimeoutError, InvalidHandshake) as exc:
            raise LettaTransientError(
                f"could not connect to the App Server at {self._shown_url} while {action} ({type(exc).__name__}) "
                "— is `letta server` running and LETTA_BASE_URL right? will retry",
                unreached=True,
            ) from None

    def _refused(self, status: int, action: str) -> LettaError:
        if status == 401:
            return LettaPermanentError(
                f"the App Server at {self._shown_url} rejected the token (401) while {action} — set LETTA_API_KEY "
                "to the App Server's capability token (the file given to --ws-token-file)",
                status=401,
            )
        if status >= 500 or status == 429:
            return LettaTransientError(
                f"the App Server at {self._shown_url} failed ({status}) while {action} — will retry", status=status
            )
        return LettaPermanentError(
            f"the App Server at {self._shown_url} refused the connection ({status}) while {action} "
            "— check LETTA_BASE_URL (e.g. ws://127.0.0.1:4500)",
            status=status,
        )

    def _send(self, ws: ClientConnection, command: dict[str, Any]) -> None:
        ws.send(json.dumps(command))

    def _receive(self, ws: ClientConnection, timeout: float, action: str) -> dict[str, Any] | None:
        """The next frame as a JSON object, or None when ``timeout`` passed first."""
        try:
            raw = ws.recv(timeout=max(timeout, 0.0))
        except TimeoutError:
            return None
        except ConnectionClosed as exc:
            raise LettaTransientError(
                f"the App Server at {self._shown_url} closed the connection while {action} "
                "— it may still have received the message; will retry (a retry is recognised by its otid)"
            ) from exc
        try:
            message = json.loads(raw)
        except ValueError:
            return {}
        return message if isinstance(message, dict) else {}

    def _call(self, command: dict[str, Any], action: str, secrets: Iterable[str] = ()) -> dict[str, Any]:
        """Send one request_id-correlated command and return its answer (``success`` checked by the caller)."""
        request_id = self._request_id(command["type"])
        with self._connect(action) as ws:
            self._send(ws, {**command, "request_id": request_id})
            deadline = time.monotonic() + self._timeout
            while True:
                message = self._receive(ws, deadline - time.monotonic(), action)
                if message is None:
                    raise LettaTransientError(
                        f"the App Server at {self._shown_url} did not answer in time while {action} — will retry"
                    )
                if message.get("request_id") == request_id:
                    return message

    def _error(self, message: dict[str, Any], secrets: Iterable[str] = ()) -> str:
        return _scrub(str(message.get("error") or "no reason given"), (*secrets, self._token or ""))

    # ------------------------------------------------------------------ checks

    def check_key(self) -> None:
        """Check that the App Server answers and accepts the token (``agent_list``, limit 1)."""
        action = f"checking the token on {self._shown_url}"
        answer = self._call({"type": "agent_list", "query": {"limit": 1}}, action)
        if answer.get("type") != "agent_list_response" or not answer.get("success", False):
            raise LettaPermanentError(
                f"{self._shown_url} did not list agents ({self._error(answer)}) — is LETTA_BASE_URL an App Server?"
            )

    def check_agent(self, agent_id: str) -> None:
        """Check that the agent exists on this App Server (``agent_retrieve``); unknown is a 404."""
        if not agent_id:
            raise LettaPermanentError("agent id is empty — check --agent-id")
        action = f"reading agent {agent_id} on {self._shown_url}"
        answer = self._call({"type": "agent_retrieve", "agent_id": agent_id}, action)
        if not answer.get("success", False):
            error = self._error(answer)
            if "not found" in error.lower():
                raise LettaPermanentError(
                    f"agent {agent_id} not found on {self._shown_url} (404) — check --agent-id", status=404
                )
            raise LettaPermanentError(f"the App Server refused {action}: {error}")

    def call(self, method: str, path: str, *, action: str, **_: Any) -> object:
        """The App Server has no REST API: every such call is refused with what to do instead."""
        raise LettaPermanentError(
            f"{action}: the App Server at {self._shown_url} has no REST API ({method} {path}) "
            "— this needs the Letta API (Letta Cloud)"
        )

    def create_conversation(self, agent_id: str) -> str:
        """A new conversation of ``agent_id`` (``conversation_create``); its id."""
        action = f"creating a conversation for agent {agent_id} on {self._shown_url}"
        answer = self._call({"type": "conversation_create", "body": {"agent_id": agent_id}}, action)
        conversation = answer.get("conversation")
        if not answer.get("success", False) or not isinstance(conversation, dict) or not conversation.get("id"):
            raise self._turn_error(agent_id, DEFAULT_CONVERSATION, self._error(answer), action)
        return str(conversation["id"])

    def find_otid(self, agent_id: str, conversation_id: str, otid: str) -> dict[str, Any] | None:
        """The stored message carrying ``otid`` among the conversation's latest, or None."""
        action = f"looking for message {otid} in conversation {conversation_id} on {self._shown_url}"
        query: dict[str, Any] = {"limit": _HISTORY_LIMIT, "order": "desc"}
        if conversation_id == DEFAULT_CONVERSATION:
            query["agent_id"] = agent_id  # "default" is every agent's; the agent says whose
        answer = self._call(
            {"type": "conversation_messages_list", "conversation_id": conversation_id, "query": query}, action
        )
        if not answer.get("success", False):
            raise LettaTransientError(f"the App Server could not list messages while {action}: {self._error(answer)}")
        for message in answer.get("messages") or []:
            if isinstance(message, dict) and message.get("otid") == otid:
                return message
        return None

    # ------------------------------------------------------------------ send

    def _turn_error(self, agent_id: str, conversation_id: str, error: str, action: str) -> LettaError:
        lowered = error.lower()
        if "agent" in lowered and "not found" in lowered:
            return LettaPermanentError(
                f"agent {agent_id} not found on {self._shown_url} (404) — check --agent-id", status=404, detail=error
            )
        if "conversation" in lowered and "not found" in lowered:
            return LettaPermanentError(
                f"conversation {conversation_id} of agent {agent_id} not found on {self._shown_url} (404) "
                "— check --conversation",
                status=404,
                detail=error,
            )
        return LettaPermanentError(f"the App Server refused {action}: {error}", detail=error)

    def send_message(
        self,
        agent_id: str,
        text: str,
        *,
        role: str = "user",
        otid: str | None = None,
        name: str | None = None,
        sender_id: str | None = None,
        conversation: str | None = None,
    ) -> Run:
        """Send one message and wait for its turn to end; the Run holds the proof.

        ``conversation`` is ``None``/``"default"`` (the agent's default
        conversation), ``"new"`` (a new conversation for this message) or a
        conversation id. The Run's id is the turn id (durable); a repeat of an
        otid the server already has is found in the conversation and returned
        as completed, with no turn id. ``name`` and ``sender_id`` are not part
        of the App Server's message and are not sent.
        """
        if not agent_id:
            raise LettaPermanentError("agent id is empty — check --agent-id")
        if not otid:
            raise LettaPermanentError("an App Server delivery needs an otid (its client_message_id)")
        conversation_id = conversation or DEFAULT_CONVERSATION
        if conversation_id == "new":
            # One new conversation per fire: a retry of the same otid goes where its first try went.
            with self._lock:
                made = self._made.get(otid)
            if made is None:
                made = self.create_conversation(agent_id)
                with self._lock:
                    self._made[otid] = made
            conversation_id = made
        action = f"sending to agent {agent_id} on {self._shown_url}"
        secrets = (text,)
        request_id = self._request_id("input")
        runtime = {"agent_id": agent_id, "conversation_id": conversation_id}
        with self._connect(action) as ws:
            self._send(
                ws,
                {
                    "type": "input",
                    "request_id": request_id,
                    "runtime": runtime,
                    "payload": {
                        "kind": "create_message",
                        "messages": [{"role": role, "content": text, "client_message_id": otid}],
                    },
                },
            )
            return self._follow(ws, request_id, runtime, otid, action, secrets)

    def _follow(
        self,
        ws: ClientConnection,
        request_id: str,
        runtime: dict[str, str],
        otid: str,
        action: str,
        secrets: tuple[str, ...],
    ) -> Run:
        agent_id, conversation_id = runtime["agent_id"], runtime["conversation_id"]
        watch = _Watch(otid)
        deadline = time.monotonic() + self._turn_timeout
        # When to look the otid up in the conversation, once accepted (then less and less often).
        look_at, interval = 0.0, self._quiet
        while True:
            now = time.monotonic()
            if now >= deadline:
                return self._unfinished(watch, runtime)
            if watch.accepted and not watch.mentioned() and now >= look_at:
                # Nothing about our otid yet: a repeat the server dropped as a duplicate, or a queued
                # message still waiting its turn. Only the first is in the conversation already.
                stored = self.find_otid(agent_id, conversation_id, otid)
                if stored is not None:
                    return self._remember(self._proof(runtime, otid, None, "completed", None, stored))
                interval = min(interval * 2, 15.0)
                look_at = time.monotonic() + interval
            if watch.accepted:
                wait = max(0.05, min(deadline, look_at if not watch.mentioned() else deadline) - time.monotonic())
            else:
                wait = min(deadline - now, self._timeout)
            message = self._receive(ws, wait, action)
            if message is None:
                if not watch.accepted:
                    raise LettaTransientError(
                        f"the App Server at {self._shown_url} did not accept the message in time while {action} "
                        "— will retry (a retry is recognised by its otid)"
                    )
                continue
            kind = message.get("type")
            if kind == "input_accepted" and message.get("request_id") == request_id:
                if not message.get("accepted", False):
                    raise self._turn_error(agent_id, conversation_id, self._error(message, secrets), action)
                watch.accepted, watch.disposition = True, str(message.get("disposition") or "")
                look_at = time.monotonic() + self._quiet
                continue
            scope = message.get("runtime")
            if not isinstance(scope, dict) or (scope.get("agent_id"), scope.get("conversation_id")) != (
                agent_id,
                conversation_id,
            ):
                continue  # another agent's or conversation's traffic on the same server
            if kind == "update_loop_status":
                watch.note_status(message)
            elif kind == "turn_finished" and watch.accepted and watch.owns(message):
                return self._finished(message, runtime, otid, action, secrets)

    def _finished(
        self, message: dict[str, Any], runtime: dict[str, str], otid: str, action: str, secrets: tuple[str, ...]
    ) -> Run:
        stop_reason = str(message.get("stop_reason") or "") or None
        turn_id = str(message.get("turn_id") or "") or None
        if message.get("error") and message.get("run_id") is None:
            # Refused before any run began: nothing was stored, so nothing was delivered.
            error = self._error(message, secrets)
            raise self._turn_error(runtime["agent_id"], runtime["conversation_id"], error, action)
        if stop_reason == "cancelled":
            status = "cancelled"
        elif stop_reason in FAILED_STOP_REASONS:
            status = "failed"
        else:
            status = "completed"
        return self._remember(self._proof(runtime, otid, turn_id, status, stop_reason))

    def _unfinished(self, watch: _Watch, runtime: dict[str, str]) -> Run:
        if not watch.accepted:
            raise LettaTransientError(
                f"the App Server at {self._shown_url} did not accept the message in time — will retry"
            )
        # Sent, and the turn still going: no turn id yet, and no runs API to ask later.
        return self._proof(runtime, watch.otid, None, "running", None)

    def _proof(
        self,
        runtime: dict[str, str],
        otid: str,
        turn_id: str | None,
        status: str,
        stop_reason: str | None,
        stored: dict[str, Any] | None = None,
    ) -> Run:
        return Run(
            id=turn_id or f"otid-{otid}",
            status=status,
            agent_id=runtime["agent_id"],
            stop_reason=stop_reason,
            conversation_id=runtime["conversation_id"],
            otid=otid,
            turn_id=turn_id,
            deduplicated=stored is not None,
        )

    def _remember(self, run: Run) -> Run:
        with self._lock:
            self._runs[run.id] = run
        return run

    def get_run(self, run_id: str) -> Run:
        """A turn this client saw end; the App Server has no runs API to ask about any other."""
        with self._lock:
            run = self._runs.get(run_id)
        if run is None:
            raise LettaPermanentError(
                f"the App Server at {self._shown_url} keeps no runs to look up ({run_id}) "
                "— its turns are settled when they are sent"
            )
        return run
