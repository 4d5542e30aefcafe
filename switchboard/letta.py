"""The HTTP client for Letta: send a message, follow its run, check a key.

Only the few calls switchboard needs (see ``shared/letta/README.md``)::

    GET  {base}/v1/agents/?limit=1                  check_key()
    GET  {base}/v1/agents/{agent_id}                 check_agent()
    POST {base}/v1/agents/{agent_id}/messages/async  send_message() -> Run
    GET  {base}/v1/runs/{run_id}                     get_run() -> Run

Every failure becomes a :class:`~switchboard.exceptions.LettaTransientError`
(worth retrying: no answer, 429, 5xx) or a
:class:`~switchboard.exceptions.LettaPermanentError` (400, 401, 403, 404, 422,
any other 4xx). :func:`send_with_retry` retries the transient ones with
exponential backoff and full jitter.

Neither the API key nor the message text ever appears in an exception, a log
line or a ``repr``: Letta's own error detail is scrubbed of both before it is
quoted.
"""

from __future__ import annotations

import email.utils
import functools
import logging
import math
import random
import ssl
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from types import TracebackType
from typing import Any, Protocol, Self
from urllib.parse import quote, urlsplit, urlunsplit

import httpx

from switchboard.exceptions import (
    ConfigError,
    LettaError,
    LettaPermanentError,
    LettaTransientError,
)

__all__ = [
    "TERMINAL_STATUSES",
    "LettaClient",
    "LettaTarget",
    "Run",
    "classify",
    "parse_retry_after",
    "send_with_retry",
    "wait_for_run",
]

log = logging.getLogger(__name__)

#: Run statuses after which Letta does no more work on the run.
TERMINAL_STATUSES = frozenset({"completed", "failed", "cancelled"})

_USER_AGENT = "letta-switchboard"
# Letta's details are quoted in one-line messages; a whole HTML page or a long
# validation list would drown the part that says what to do.
_MAX_DETAIL = 300
_MAX_CONNECTIONS = 100


@dataclass(frozen=True)
class Run:
    """A Letta run: what ``messages/async`` answers and ``/v1/runs/{id}`` shows."""

    id: str
    status: str
    agent_id: str | None
    #: Why the run ended, when Letta says (0.16.8 does; 0.11.7 has no such field).
    stop_reason: str | None = None
    #: The conversation the message went to (Letta Cloud names it on the Run; the App Server's runtime).
    conversation_id: str | None = None
    #: The App Server's proof: the message's otid and the turn that ended (None when not known).
    otid: str | None = None
    turn_id: str | None = None
    #: The App Server already had this otid: the message was found in the conversation, not sent again.
    deduplicated: bool = False

    @property
    def done(self) -> bool:
        """True once Letta has finished with the run (completed, failed or cancelled)."""
        return self.status in TERMINAL_STATUSES

    @classmethod
    def from_json(cls, data: object) -> Run:
        """Build a Run from Letta's JSON; raise ValueError or TypeError when it is not one."""
        if not isinstance(data, dict):
            raise TypeError("not a JSON object")
        run_id = data.get("id")
        if not isinstance(run_id, str) or not run_id:
            raise ValueError("no run id")
        # Run.status has a default ("created") in the schema, so it may be absent.
        status = data.get("status") or "created"
        agent_id = data.get("agent_id")
        if not isinstance(status, str):
            raise TypeError("status is not a string")
        stop_reason = data.get("stop_reason")
        conversation_id = data.get("conversation_id")
        return cls(
            id=run_id,
            status=status,
            agent_id=agent_id if isinstance(agent_id, str) else None,
            stop_reason=stop_reason if isinstance(stop_reason, str) else None,
            conversation_id=conversation_id if isinstance(conversation_id, str) else None,
        )


class LettaTarget(Protocol):
    """What a delivery needs of a Letta: the REST client (LettaClient) or the App Server's (letta_ws)."""

    base_url: str

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
        """Hand one message to the agent; the Run says how far it got."""

    def get_run(self, run_id: str) -> Run:
        """A run's current state."""

    def check_key(self) -> None:
        """Check that the server answers and accepts the key."""

    def check_agent(self, agent_id: str) -> None:
        """Check that the agent exists (a 404 LettaPermanentError when not)."""

    def close(self) -> None:
        """Release connections."""

    def __enter__(self) -> Self:
        """Use the client in a with block."""

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        """Close the client."""


def is_app_server(base_url: str) -> bool:
    """Whether ``base_url`` names Letta Code's App Server (``ws://``/``wss://``) rather than the Letta API."""
    try:
        return urlsplit(base_url.strip()).scheme.lower() in ("ws", "wss")
    except ValueError:
        return False


# --------------------------------------------------------------------------- errors


def parse_retry_after(value: str | None, *, now: datetime | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (delta-seconds or HTTP-date), or None."""
    if value is None:
        return None
    value = value.strip()
    if not value:
        return None
    try:
        seconds = float(value)
    except ValueError:
        pass
    else:
        # "inf"/"nan" parse as floats but are no instruction anyone can follow.
        if not math.isfinite(seconds):
            return None
        return max(seconds, 0.0)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:  # RFC 9110 dates are GMT; a zone-less one is read as UTC
        when = when.replace(tzinfo=UTC)
    now = now or datetime.now(UTC)
    return max((when - now).total_seconds(), 0.0)


def _redact(text: str, secrets: Iterable[str]) -> str:
    for secret in secrets:
        # Shorter strings are indistinguishable from ordinary words in a detail.
        if secret and len(secret) >= 3:
            text = text.replace(secret, "***")
    return text


def _summarise_detail(body: object) -> str | None:
    """Letta's ``detail`` as one short line: a string as is, a FastAPI list summarised."""
    if not isinstance(body, dict) or "detail" not in body:
        return None
    detail = body["detail"]
    if isinstance(detail, str):
        return detail
    if isinstance(detail, list):
        parts = []
        for item in detail:
            if not isinstance(item, dict):
                continue
            # Only loc and msg: "input" may be the message text itself.
            loc = ".".join(str(p) for p in item.get("loc") or [])
            msg = str(item.get("msg") or item.get("type") or "invalid")
            parts.append(f"{loc}: {msg}" if loc else msg)
        return "; ".join(parts) or None
    if isinstance(detail, dict) and isinstance(detail.get("message"), str):
        return str(detail["message"])
    return None


def _detail_of(response: httpx.Response, secrets: Iterable[str]) -> str | None:
    try:
        body = response.json()
    except (ValueError, UnicodeDecodeError):
        return None  # an HTML error page from a proxy says nothing the status does not
    detail = _summarise_detail(body)
    if detail is None:
        return None
    detail = " ".join(_redact(detail, secrets).split())
    if len(detail) > _MAX_DETAIL:
        detail = detail[: _MAX_DETAIL - 1] + "…"
    return detail


def _reason(status: int) -> str:
    try:
        return httpx.codes(status).get_reason_phrase(status)
    except ValueError:
        return ""


def classify(
    response: httpx.Response,
    *,
    action: str = "calling Letta",
    not_found: str | None = None,
    secrets: Iterable[str] = (),
) -> LettaError | None:
    """The error a Letta answer means, or None for a 2xx.

    ``action`` says what was being done ("sending to agent agent-… on http://…"),
    ``not_found`` replaces the whole message of a 404 that carries Letta's own
    detail (not FastAPI's "Not Found" for an unknown route), and ``secrets`` are
    scrubbed from Letta's detail before it is quoted.
    """
    status = response.status_code
    if 200 <= status < 300:
        return None
    secrets = tuple(secrets)
    detail = _detail_of(response, secrets)
    said = f": {detail}" if detail else ""
    label = f"{status} {_reason(status)}".strip()

    if status == 429:
        retry_after = parse_retry_after(response.headers.get("Retry-After"))
        when = f"; it asks to wait {retry_after:g}s" if retry_after is not None else ""
        return LettaTransientError(
            f"Letta is rate limiting ({label}) while {action}{when} — will retry later",
            status=status,
            detail=detail,
            retry_after=retry_after,
        )
    if status >= 500:
        return LettaTransientError(
            f"Letta failed ({label}) while {action}{said} — will retry; if it persists, check the Letta server",
            status=status,
            detail=detail,
            retry_after=parse_retry_after(response.headers.get("Retry-After")),
        )
    if status == 401:
        message = f"Letta rejected the API key ({label}) while {action} — check LETTA_API_KEY"
    elif status == 403:
        message = f"Letta refused access ({label}) while {action}{said} — check that LETTA_API_KEY may use this agent"
    elif status == 404:
        if not_found is not None and detail not in (None, "Not Found"):
            message = not_found
        else:
            # FastAPI's bare "Not Found" (or a page that is not JSON at all) means
            # the route itself is unknown there, not the agent or run.
            message = (
                f"Letta answered {label} while {action}{said} — check LETTA_BASE_URL "
                "(it is the server's root, e.g. https://api.letta.com, without /v1)"
            )
    elif status == 422:
        message = f"Letta rejected the request ({label}) while {action}{said} — check the agent id and role"
    elif 300 <= status < 400:
        location = _safe_url(response.headers.get("Location", ""))
        to = f" to {location}" if location else ""
        message = f"Letta redirected ({label}){to} while {action} — set LETTA_BASE_URL to the final address"
    else:
        message = f"Letta refused the request ({label}) while {action}{said}"
    return LettaPermanentError(message, status=status, detail=detail)


def _transport_error(exc: httpx.HTTPError, action: str, base_url: str) -> LettaError:
    """Translate an httpx error raised before any answer arrived."""
    kind = type(exc).__name__
    if isinstance(exc, httpx.UnsupportedProtocol | httpx.LocalProtocolError | httpx.InvalidURL):
        return LettaPermanentError(f"cannot call Letta at {base_url} while {action} ({kind}) — check LETTA_BASE_URL")
    if isinstance(exc, httpx.ConnectError | httpx.ConnectTimeout):
        return LettaTransientError(
            f"could not connect to Letta at {base_url} while {action} ({kind}: {exc}) "
            "— is the server running and LETTA_BASE_URL right? will retry",
            unreached=True,
        )
    if isinstance(exc, httpx.TimeoutException):
        return LettaTransientError(
            f"Letta at {base_url} did not answer in time while {action} ({kind}) "
            "— it may still have received the request; will retry"
        )
    return LettaTransientError(
        f"the connection to Letta at {base_url} failed while {action} ({kind}) "
        "— it may still have received the request; will retry"
    )


# --------------------------------------------------------------------------- client


def _safe_url(url: str) -> str:
    """The URL without user:password@, so it can be shown."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return ""
    if parts.username is None and parts.password is None:
        return url
    host = parts.hostname or ""
    if parts.port is not None:
        host = f"{host}:{parts.port}"
    return urlunsplit((parts.scheme, host, parts.path, parts.query, parts.fragment))


def _segment(value: str) -> str:
    """``value`` as one URL path segment that cannot climb out of its place."""
    # quote() keeps "." as is, and a segment of only dots would be collapsed by
    # URL normalisation ("/v1/agents/../x"); encode every dot as well.
    return quote(value, safe="").replace(".", "%2E")


def _header_safe(value: str) -> bool:
    return value.isascii() and value.isprintable()


@functools.cache
def _tls_context() -> ssl.SSLContext:
    """One TLS context for every client of this process (what httpx would make for each).

    Loading the CA certificates costs about 60 ms of CPU per context; a pass or
    the API server makes a client per Letta key, and an SSLContext can be
    shared by any number of clients and threads.
    """
    return httpx.create_ssl_context()


class LettaClient:
    """A small synchronous client for one Letta server and one API key."""

    def __init__(
        self,
        base_url: str,
        api_key: str | None,
        *,
        transport: httpx.BaseTransport | None = None,
        timeout: float = 30.0,
        connect_timeout: float | None = None,
    ) -> None:
        """Prepare a client for ``base_url`` (e.g. ``http://localhost:8283``); no request is made."""
        url = base_url.strip().rstrip("/")
        try:
            parts = urlsplit(url)
        except ValueError as exc:
            raise ConfigError(f'Letta base URL "{_safe_url(url)}" is not a URL — set LETTA_BASE_URL') from exc
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ConfigError(
                f'Letta base URL "{_safe_url(url)}" is not an http(s) URL — set LETTA_BASE_URL, '
                "e.g. https://api.letta.com or http://localhost:8283"
            )
        self.base_url = url
        self._shown_url = _safe_url(url)
        #: The conversation made for each otid sent to "new" (a retry goes where its first try went).
        self._made: dict[str, str] = {}
        # A key pasted with a trailing newline is still the key.
        self._api_key = (api_key or "").strip() or None
        if self._api_key and not _header_safe(self._api_key):
            # httpx's own error would quote the whole header value, key included.
            raise ConfigError(
                "the Letta API key contains characters an HTTP header cannot carry "
                "(non-ASCII or control characters) — copy LETTA_API_KEY again"
            )
        headers = {"Accept": "application/json", "User-Agent": _USER_AGENT}
        if self._api_key:
            headers["Authorization"] = f"Bearer {self._api_key}"
        # No redirects: a POST redirected to GET would silently drop the message,
        # and a redirect to another host would carry the key there.
        self._http = httpx.Client(
            headers=headers,
            timeout=httpx.Timeout(timeout, connect=connect_timeout if connect_timeout is not None else timeout),
            transport=transport,
            follow_redirects=False,
            verify=_tls_context(),
            # As many kept-alive connections as connections: httpcore 1.0.9 closes
            # "surplus" idle ones while another thread is about to use them (EBADF,
            # encode/httpcore#1110) once a shared client has more than the keep-alive
            # limit open, and the tick shares one client among its threads.
            limits=httpx.Limits(max_connections=_MAX_CONNECTIONS, max_keepalive_connections=_MAX_CONNECTIONS),
        )

    def __repr__(self) -> str:
        """Show the server and whether a key is set, never the key."""
        key = "set" if self._api_key else "none"
        return f"LettaClient(base_url={self._shown_url!r}, api_key={key})"

    def __enter__(self) -> Self:
        """Use the client in a ``with`` block; it is closed at the end."""
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        """Close the connection pool."""
        self.close()

    def close(self) -> None:
        """Close the connection pool."""
        self._http.close()

    def _request(
        self,
        method: str,
        path: str,
        *,
        action: str,
        not_found: str | None = None,
        json_body: Any = None,
        params: dict[str, str | int] | None = None,
        secrets: Iterable[str] = (),
    ) -> httpx.Response:
        secrets = (*secrets, *((self._api_key,) if self._api_key else ()))
        try:
            response = self._http.request(method, self.base_url + path, json=json_body, params=params)
        except httpx.HTTPError as exc:
            raise _transport_error(exc, action, self._shown_url) from exc
        error = classify(response, action=action, not_found=not_found, secrets=secrets)
        if error is not None:
            log.info("Letta %s %s -> %s", method, path.split("?")[0], response.status_code)
            raise error
        return response

    def _json(self, response: httpx.Response, action: str) -> object:
        try:
            return response.json()
        except (ValueError, UnicodeDecodeError):
            raise LettaPermanentError(
                f"{self._shown_url} answered {response.status_code} but not with JSON while {action} "
                "— is LETTA_BASE_URL a Letta server?",
                status=response.status_code,
            ) from None

    def check_key(self) -> None:
        """Check that Letta answers and accepts the key (``GET /v1/agents/?limit=1``)."""
        action = f"checking the API key on {self._shown_url}"
        response = self._request("GET", "/v1/agents/", params={"limit": 1}, action=action)
        if not isinstance(self._json(response, action), list):
            raise LettaPermanentError(
                f"{self._shown_url} answered /v1/agents/ with something other than a list of agents "
                "— is LETTA_BASE_URL a Letta server?",
                status=response.status_code,
            )

    def call(
        self,
        method: str,
        path: str,
        *,
        action: str,
        json_body: Any = None,
        params: dict[str, str | int] | None = None,
        not_found: str | None = None,
        secrets: Iterable[str] = (),
    ) -> object:
        """Any other call of Letta's REST API (``path`` from ``/v1/…``): its JSON answer, or a LettaError.

        ``secrets`` (a message's text, say) are scrubbed from any error detail Letta sends back.
        """
        response = self._request(
            method, path, action=f"{action} on {self._shown_url}", json_body=json_body, params=params,
            not_found=not_found, secrets=secrets,
        )  # fmt: skip
        return self._json(response, action)

    def check_agent(self, agent_id: str) -> None:
        """Check that the agent exists for this key (``GET /v1/agents/{agent_id}``): 404 means it does not."""
        if not agent_id:
            raise LettaPermanentError("agent id is empty — check --agent-id")
        action = f"reading agent {agent_id} on {self._shown_url}"
        self._request(
            "GET",
            f"/v1/agents/{_segment(agent_id)}",
            action=action,
            not_found=f"agent {agent_id} not found on {self._shown_url} (404) — check --agent-id",
        )

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
        """Post one message to an agent without waiting for its answer; return the new Run.

        ``otid``, ``name`` and ``sender_id`` are MessageCreate's own fields, sent only when given.
        ``conversation`` None (or ``"default"``) is the agent's default conversation.
        """
        if not agent_id:
            raise LettaPermanentError("agent id is empty — check --agent-id")
        if conversation not in (None, "default"):
            return self._send_to_conversation(agent_id, text, role=role, otid=otid, conversation=conversation)
        action = f"sending to agent {agent_id} on {self._shown_url}"
        message: dict[str, Any] = {"role": role, "content": [{"type": "text", "text": text}]}
        for field, value in (("otid", otid), ("name", name), ("sender_id", sender_id)):
            if value is not None:
                message[field] = value
        response = self._request(
            "POST",
            f"/v1/agents/{_segment(agent_id)}/messages/async",
            json_body={"messages": [message]},
            action=action,
            not_found=f"agent {agent_id} not found on {self._shown_url} (404) — check --agent-id",
            secrets=(text,),
        )
        return self._run(response, action)

    def _send_to_conversation(self, agent_id: str, text: str, *, role: str, otid: str | None, conversation: str) -> Run:
        """Letta's conversations API: ``POST /v1/conversations/{id}/messages`` with ``streaming: false``.

        The answer comes when the run has ended (a LettaResponse); "new" first
        makes a conversation (``POST /v1/conversations/?agent_id=``), once per otid.
        """
        if conversation == "new":
            made = self._made.get(otid) if otid else None
            if made is None:
                made = self._create_conversation(agent_id)
                if otid:
                    self._made[otid] = made
            conversation = made
        action = f"sending to conversation {conversation} of agent {agent_id} on {self._shown_url}"
        message: dict[str, Any] = {"role": role, "content": [{"type": "text", "text": text}]}
        if otid is not None:
            message["otid"] = otid
        response = self._request(
            "POST",
            f"/v1/conversations/{_segment(conversation)}/messages",
            json_body={"messages": [message], "streaming": False},
            action=action,
            not_found=f"conversation {conversation} of agent {agent_id} not found on {self._shown_url} (404) "
            "— check --conversation",
            secrets=(text,),
        )
        body = self._json(response, action)
        messages = body.get("messages") if isinstance(body, dict) else None
        run_ids = [m.get("run_id") for m in messages or [] if isinstance(m, dict) and m.get("run_id")]
        stop = body.get("stop_reason") if isinstance(body, dict) else None
        stop_reason = stop.get("stop_reason") if isinstance(stop, dict) else None
        if not run_ids:
            raise LettaPermanentError(
                f"{self._shown_url} answered {response.status_code} without a run while {action} "
                "— is LETTA_BASE_URL a Letta server?",
                status=response.status_code,
            )
        failed = stop_reason in ("error", "llm_api_error", "invalid_llm_response", "invalid_tool_call")
        return Run(
            id=str(run_ids[0]),
            status="failed" if failed else "cancelled" if stop_reason == "cancelled" else "completed",
            agent_id=agent_id,
            stop_reason=stop_reason if isinstance(stop_reason, str) else None,
            conversation_id=conversation,
            otid=otid,
        )

    def _create_conversation(self, agent_id: str) -> str:
        action = f"creating a conversation for agent {agent_id} on {self._shown_url}"
        response = self._request(
            "POST",
            "/v1/conversations/",
            params={"agent_id": agent_id},
            json_body={},
            action=action,
            not_found=f"agent {agent_id} not found on {self._shown_url} (404) — check --agent-id",
        )
        body = self._json(response, action)
        conversation_id = body.get("id") if isinstance(body, dict) else None
        if not isinstance(conversation_id, str) or not conversation_id:
            raise LettaPermanentError(f"{self._shown_url} answered without a conversation id while {action}")
        return conversation_id

    def get_run(self, run_id: str) -> Run:
        """Fetch a run's current state (``GET /v1/runs/{run_id}``)."""
        if not run_id:
            raise LettaPermanentError("run id is empty")
        action = f"reading run {run_id} on {self._shown_url}"
        response = self._request(
            "GET",
            f"/v1/runs/{_segment(run_id)}",
            action=action,
            not_found=f"run {run_id} not found on {self._shown_url} (404)",
        )
        return self._run(response, action)

    def _run(self, response: httpx.Response, action: str) -> Run:
        try:
            return Run.from_json(self._json(response, action))
        except (TypeError, ValueError) as exc:
            raise LettaPermanentError(
                f"{self._shown_url} answered {response.status_code} without a usable Run ({exc}) while {action} "
                "— is LETTA_BASE_URL a Letta server?",
                status=response.status_code,
            ) from None


# --------------------------------------------------------------------------- retry


def _backoff(attempt: int, base_delay: float, max_delay: float, rng: random.Random) -> float:
    # Full jitter (uniform in [0, cap]) spreads retries of many ticks apart
    # better than a fixed exponential schedule.
    return rng.uniform(0.0, min(max_delay, base_delay * (2**attempt)))


def send_with_retry(
    client: LettaTarget,
    agent_id: str,
    text: str,
    *,
    role: str = "user",
    otid: str | None = None,
    name: str | None = None,
    sender_id: str | None = None,
    conversation: str | None = None,
    attempts: int = 4,
    base_delay: float = 0.5,
    max_delay: float = 30.0,
    sleep: Callable[[float], None] = time.sleep,
    rng: random.Random | None = None,
) -> Run:
    """Send a message, retrying transient failures; permanent ones are raised at once.

    Waits with exponential backoff and full jitter between attempts; when Letta
    sends ``Retry-After`` (429, 503) that wait is used instead. A Retry-After
    longer than ``max_delay`` is not cut short: the error is raised at once, so the
    caller can try again in a later tick rather than knock before Letta asked.
    Every attempt carries the same ``otid`` (one is made when none is given), so
    Letta can tell a retry from a new message. After ``attempts`` tries the last
    :class:`LettaTransientError` is raised.
    """
    if attempts < 1:
        raise ValueError("attempts must be at least 1")
    rng = rng or random.Random()
    otid = otid or str(uuid.uuid4())
    for attempt in range(attempts):
        try:
            return client.send_message(
                agent_id, text, role=role, otid=otid, name=name, sender_id=sender_id, conversation=conversation
            )
        except LettaTransientError as exc:
            if attempt == attempts - 1:
                raise
            if exc.retry_after is not None:
                if exc.retry_after > max_delay:
                    raise
                delay = exc.retry_after
            else:
                delay = _backoff(attempt, base_delay, max_delay, rng)
            log.warning(
                "Letta delivery to %s failed (%s), attempt %d of %d; retrying in %.2fs",
                agent_id,
                exc.status or "no answer",
                attempt + 1,
                attempts,
                delay,
            )
            sleep(delay)
    raise AssertionError("unreachable")  # the loop always returns or raises


def wait_for_run(
    client: LettaClient,
    run_id: str,
    *,
    timeout: float = 120.0,
    poll_interval: float = 1.0,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> Run:
    """Poll a run until it is done or ``timeout`` seconds pass; return its last state.

    Letta treats concurrent requests to one agent as undefined behaviour, so the
    next message to the same agent waits for this. A run still going at the
    deadline is returned as it is (``run.done`` is False); errors reading it propagate.
    """
    deadline = clock() + timeout
    while True:
        run = client.get_run(run_id)
        if run.done or clock() >= deadline:
            return run
        sleep(max(0.0, min(poll_interval, deadline - clock())))
