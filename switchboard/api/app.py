"""``create_app``: the FastAPI app behind ``switchboard serve``.

It puts together the hosted service's endpoints (``hosted.py``), Letta
Cloud's schedule API (``letta_schedule.py``), what agents' own tools call
(``agent_tools.py``), the web page, ``/explain`` and ``/health``
(``web.py``) on one store, the same one the CLI writes to, through
the same service functions. Around them:

- every error is JSON ``{"detail": …}``: 401/403/404/413/422/429/503 from the
  routes, 422 with one item per field for bad input (the value given is never
  echoed: it may be the message), 503 when the repository or Letta cannot be
  reached, and a bare 500 only for a bug, logged by type;
- request bodies over ``max_body_bytes`` get 413, judged on Content-Length and
  again on the bytes actually received;
- with ``tick_every``, a :class:`~switchboard.api.ticker.Ticker` delivers what
  falls due, in this process, from startup to shutdown.
"""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from switchboard import __version__
from switchboard.api import agent_tools, hosted, letta_schedule, web
from switchboard.api.auth import KeyChecker, KeyClientFactory, RateLimiter
from switchboard.api.deps import ApiOptions, ApiState, LockedStore
from switchboard.api.ticker import Ticker
from switchboard.config import Settings
from switchboard.exceptions import ApiError, BusyError, InvalidInputError, NotFoundError, SwitchboardError
from switchboard.store import Store
from switchboard.tick import ClientFactory, TickOptions

log = logging.getLogger("switchboard.api")

DESCRIPTION = """\
Scheduled messages for Letta agents, stored encrypted in your git repository.

* **Hosted-service endpoints** (`/schedules/…`, `/results…`): the same paths, bodies and answers as the
  hosted switchboard service; `execute_at` and `cron` also take natural language.
* **Letta's schedule API** (`/v1/agents/{agent_id}/schedule…`): point the official `letta-client` SDK here
  (`Letta(base_url=…)`) and `client.agents.schedule.*` works with a self-hosted Letta server.
* **Agent tools** (`/agent-tools/…`): what an agent's own `schedule_message`, `list_scheduled_messages` and
  `cancel_scheduled_message` tools call, with the agent's grant token (`switchboard agent-tools attach`).

Authenticate with your Letta API key: `Authorization: Bearer <key>`. It is checked against this server's
Letta (`LETTA_BASE_URL`), stored encrypted with each schedule you create, and used to deliver it.
"""


def _utcnow() -> datetime:
    return datetime.now(UTC)


def open_locked_store(settings: Settings) -> LockedStore:
    """The store the settings point at, with an in-process lock around its transactions."""
    from switchboard.context import open_store

    store = open_store(settings)  # refuses dev mode with a remote on another machine
    return LockedStore(store.backend, store.codec, store.before_commit, setup_required=store.setup_required)


def log_config() -> dict[str, Any]:
    """uvicorn's logging setup plus switchboard's own loggers (INFO, on uvicorn's handler)."""
    import copy

    from uvicorn.config import LOGGING_CONFIG

    config: dict[str, Any] = copy.deepcopy(LOGGING_CONFIG)
    config["loggers"]["switchboard"] = {"handlers": ["default"], "level": "INFO", "propagate": False}
    return config


def _json_error(status: int, detail: Any, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"detail": detail}, status_code=status, headers=headers)


def _field_errors(exc: RequestValidationError) -> list[dict[str, Any]]:
    """FastAPI's errors without ``input``/``ctx``/``url``: what a field is given is never echoed."""
    items = []
    for error in exc.errors():
        message = str(error.get("msg", "invalid"))
        items.append(
            {
                "type": str(error.get("type", "value_error")),
                "loc": [p if isinstance(p, int) else str(p) for p in error.get("loc", ())],
                "msg": message.removeprefix("Value error, "),
            }
        )
    return items


def install_error_handlers(app: FastAPI) -> None:
    """Map every error to JSON ``{"detail": …}`` with the right status."""

    @app.exception_handler(ApiError)
    async def api_error(request: Request, exc: ApiError) -> JSONResponse:
        return _json_error(exc.status, exc.detail, exc.headers)

    @app.exception_handler(RequestValidationError)
    async def invalid_request(request: Request, exc: RequestValidationError) -> JSONResponse:
        return _json_error(422, _field_errors(exc))

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        if exc.status_code == 400 and exc.detail == "There was an error parsing the body":
            # FastAPI's answer to a body that is not UTF-8: bad input like any other, so 422.
            return _json_error(422, [{"type": "json_invalid", "loc": ["body"], "msg": "the body is not UTF-8 JSON"}])
        return _json_error(exc.status_code, exc.detail, dict(exc.headers or {}))

    @app.exception_handler(InvalidInputError)
    async def invalid_input(request: Request, exc: InvalidInputError) -> JSONResponse:
        return _json_error(422, [{"type": "value_error", "loc": ["body"], "msg": str(exc)}])

    @app.exception_handler(NotFoundError)
    async def not_found(request: Request, exc: NotFoundError) -> JSONResponse:
        return _json_error(404, "Not found")

    @app.exception_handler(BusyError)
    async def busy(request: Request, exc: BusyError) -> JSONResponse:
        return _json_error(409, str(exc))

    @app.exception_handler(SwitchboardError)
    async def unavailable(request: Request, exc: SwitchboardError) -> JSONResponse:
        # The repository (git, GitHub) or the keys: the server's trouble, not the caller's input.
        log.error("%s %s failed: %s: %s", request.method, request.url.path, type(exc).__name__, exc)
        return _json_error(503, f"the schedule store is unavailable ({type(exc).__name__}) — try again shortly",
                           {"Retry-After": "5"})  # fmt: skip


class CrashGuard:
    """ASGI middleware: a bug becomes a bare 500, logged by type and place only.

    Starlette's own 500 handler logs the whole traceback, whose text may quote
    a request body (a message); this one does not, and so sits inside it.
    """

    def __init__(self, app: ASGIApp) -> None:
        """Wrap ``app``."""
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Pass the request on; answer 500 if it raises before answering."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def tracked(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, receive, tracked)
        except Exception as exc:
            tb = exc.__traceback__
            while tb is not None and tb.tb_next is not None:
                tb = tb.tb_next
            where = f"{tb.tb_frame.f_code.co_filename}:{tb.tb_lineno}" if tb is not None else "?"
            log.error("%s %s crashed: %s at %s", scope.get("method"), scope.get("path"), type(exc).__name__, where)
            if not started:
                body = b'{"detail":"Internal server error"}'
                await send(
                    {
                        "type": "http.response.start",
                        "status": 500,
                        "headers": [
                            (b"content-type", b"application/json"),
                            (b"content-length", str(len(body)).encode()),
                        ],
                    }
                )
                await send({"type": "http.response.body", "body": body})


class JsonByDefault:
    """ASGI middleware: a body sent to a hosted-service route without ``Content-Type`` is read as JSON.

    The hosted service parsed such bodies (`curl -d '{…}'` sends
    ``application/x-www-form-urlencoded``, but scripts built on bare HTTP
    clients often send no header at all), while FastAPI's strict default would
    answer 422. Every route needs ``Authorization: Bearer``, which a browser
    cannot add across sites without a preflight, so this opens no CSRF hole.
    """

    #: The hosted service's routes; the Letta-shaped ones stay as strict as Letta.
    PREFIXES = ("/schedules/", "/results")

    def __init__(self, app: ASGIApp) -> None:
        """Wrap ``app``."""
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Add ``Content-Type: application/json`` where a hosted route's request has none."""
        if (
            scope["type"] == "http"
            and scope.get("method") in ("POST", "PUT", "PATCH")
            and str(scope.get("path", "")).startswith(self.PREFIXES)
            and not any(k.lower() == b"content-type" for k, _ in scope.get("headers", []))
        ):
            scope = dict(scope)
            scope["headers"] = [*scope.get("headers", []), (b"content-type", b"application/json")]
        await self.app(scope, receive, send)


class BodyLimit:
    """ASGI middleware: 413 for a body over ``max_bytes`` (by Content-Length, then by what arrives).

    The body is read here, before any route sees it, and replayed: a route
    never starts work on a request that will turn out too large.
    """

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        """Wrap ``app``."""
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Check, buffer and replay the body of an HTTP request."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = [v for k, v in scope.get("headers", []) if k.lower() == b"content-length"]
        if declared:
            try:
                length = int(declared[0])
            except ValueError:
                await self._reply(send, 400, "Content-Length is not a number")
                return
            if length > self.max_bytes:
                await self._too_large(send)
                return
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                return  # the client went away before sending its body
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_bytes:
                await self._too_large(send)
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)

    async def _too_large(self, send: Send) -> None:
        await self._reply(send, 413, f"request body is larger than {self.max_bytes} bytes — send a shorter message")

    @staticmethod
    async def _reply(send: Send, status: int, detail: str) -> None:
        body = json.dumps({"detail": detail}).encode("utf-8")
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode("ascii")),
                    (b"connection", b"close"),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})


def create_app(
    settings: Settings,
    *,
    tick_every: float | None = None,
    options: ApiOptions | None = None,
    store: Store | None = None,
    clock: Callable[[], datetime] = _utcnow,
    letta_client: ClientFactory | None = None,
    key_client: KeyClientFactory | None = None,
    tick_options: TickOptions | None = None,
) -> FastAPI:
    """The API app for ``settings`` (LETTA_BASE_URL, the repository, the encryption key).

    ``store`` defaults to the one the settings point at, opened now so a
    misconfiguration stops ``serve`` at once. ``clock`` is the time source of
    the routes and the ticker; ``letta_client`` makes the clients the ticker
    delivers with, ``key_client`` the one keys are checked with.
    """
    opts = options or ApiOptions.from_env(settings.env)
    if store is None:
        locked = open_locked_store(settings)
    elif isinstance(store, LockedStore):
        locked = store
    else:
        locked = LockedStore(store.backend, store.codec, store.before_commit)
    if letta_client is None:
        from switchboard.context import letta_client as default_client

        letta_client = default_client
    state = ApiState(
        store=locked,
        base_url=settings.base_url,
        keys=KeyChecker(settings.base_url, ok_ttl=opts.key_ok_ttl, bad_ttl=opts.key_bad_ttl, client_factory=key_client),
        limiter=RateLimiter(per_minute=opts.rate_per_minute, burst=opts.burst),
        options=opts,
        clock=clock,
        letta_client=letta_client,
    )
    if tick_every is not None:
        state.ticker = Ticker(locked, tick_every, letta_client, clock=clock, options=tick_options)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if state.ticker is not None:
            state.ticker.start()
        try:
            yield
        finally:
            if state.ticker is not None:
                state.ticker.stop()

    app = FastAPI(
        title="letta-switchboard",
        version=__version__,
        description=DESCRIPTION,
        lifespan=lifespan,
        docs_url="/docs",
        redoc_url=None,
    )
    app.state.switchboard = state
    install_error_handlers(app)
    app.include_router(hosted.router)
    app.include_router(letta_schedule.router)
    app.include_router(agent_tools.router)
    app.include_router(web.router)
    # Added last is outermost: BodyLimit, then CrashGuard, then JsonByDefault, then FastAPI's own handlers.
    app.add_middleware(JsonByDefault)
    app.add_middleware(CrashGuard)
    app.add_middleware(BodyLimit, max_bytes=opts.max_body_bytes)
    return app
