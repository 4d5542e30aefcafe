"""The browser page at ``/`` (and ``/dashboard``), ``GET /explain`` behind its preview, and ``GET /health``.

``GET /`` answers as the hosted service did: the page to a browser (``Accept``
with ``text/html``), a short JSON description with the docs link to anything else.

The page is three static files (HTML, one script, one style sheet; no build
step) served with a strict Content-Security-Policy: scripts only from this
origin, no inline script, no third-party anything. The Letta key a person
pastes stays in the tab (a JS variable, and sessionStorage if they ask for
it): no cookie, no localStorage, nothing on the server but the usual
Authorization header on each call.
"""

from __future__ import annotations

import logging
from importlib import resources
from typing import Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse, Response

from switchboard import __version__
from switchboard.api.deps import ApiState, client_limited, field_error, get_state
from switchboard.api.schemas import Detail, ExplainOut, Health, ValidationDetail
from switchboard.exceptions import ApiError, InvalidInputError

log = logging.getLogger(__name__)

router = APIRouter()

#: The only files the page is made of; nothing else is ever read from disk for a URL.
STATIC = {
    "index.html": "text/html; charset=utf-8",
    "app.js": "text/javascript; charset=utf-8",
    "style.css": "text/css; charset=utf-8",
}

PAGE_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; "
        "form-action 'none'; frame-ancestors 'none'; base-uri 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "Cache-Control": "no-cache",
}


def _static(name: str) -> Response:
    body = resources.files("switchboard.api").joinpath("static", name).read_bytes()
    return Response(body, media_type=STATIC[name], headers=PAGE_HEADERS)


@router.get("/", include_in_schema=False)
def index(request: Request) -> Response:
    """The web page for a browser; for any other client (no ``text/html`` in Accept), what this service is."""
    if "text/html" in request.headers.get("accept", "").lower():
        page = _static("index.html")
        page.headers["Vary"] = "Accept"
        return page
    return JSONResponse(about(request), headers={"Vary": "Accept", "Cache-Control": "no-cache"})


@router.get("/dashboard", include_in_schema=False)
def dashboard() -> Response:
    """The web page, also at the hosted service's address for it."""
    return _static("index.html")


def about(request: Request) -> dict[str, Any]:
    """What ``GET /`` tells a client that is not a browser: the service, its version and where the docs are."""
    docs = str(request.url_for("swagger_ui_html"))
    return {
        "service": "letta-switchboard",
        "description": "Scheduled messages for Letta agents, stored encrypted in a git repository "
        "(the hosted switchboard service's API, and Letta Cloud's schedule API).",
        "version": __version__,
        "documentation": docs,
        "openapi": str(request.url_for("openapi")),
        "dashboard": str(request.url_for("dashboard")),
        "authentication": "Authorization: Bearer <your Letta API key>",
    }


@router.get("/static/app.js", include_in_schema=False)
def script() -> Response:
    """The page's script."""
    return _static("app.js")


@router.get("/static/style.css", include_in_schema=False)
def style() -> Response:
    """The page's style sheet."""
    return _static("style.css")


@router.get(
    "/explain",
    response_model=ExplainOut,
    response_model_exclude_none=True,
    tags=["time"],
    responses={
        422: {"model": ValidationDetail, "description": "The phrase or zone was not understood."},
        429: {"model": Detail, "description": "Too many requests from this address (`Retry-After`)."},
    },
    dependencies=[Depends(client_limited)],
)
def explain(
    at: str | None = Query(None, max_length=500, description='A one-time phrase: "tomorrow at 9am", ISO 8601…'),
    every: str | None = Query(
        None, max_length=500, description='A recurring phrase or cron: "every weekday at 10am", "0 10 * * 1-5".'
    ),
    tz: str = Query("UTC", max_length=100, description="IANA time zone the phrase is read in."),
    count: int = Query(5, ge=1, le=50, description="How many next fire times to show."),
    state: ApiState = Depends(get_state),
) -> dict[str, Any]:
    """How a phrase is understood and when it fires, before anything is saved (no key needed)."""
    from switchboard.explain import explain_at, explain_every
    from switchboard.timeparse import zone

    if (at is None) == (every is None):
        raise ApiError(
            422,
            [{"type": "value_error", "loc": ["query", "at"], "msg": "give exactly one of at=TEXT or every=TEXT"}],
        )
    field = "at" if at is not None else "every"
    try:
        zone(tz)
    except InvalidInputError as exc:
        raise field_error("tz", str(exc), place="query") from None
    now = state.now()
    try:
        if at is not None:
            return explain_at(at, tz=tz, now=now)
        assert every is not None
        return explain_every(every, tz=tz, now=now, count=count)
    except InvalidInputError as exc:
        raise field_error(field, str(exc), place="query") from None
    except (ValueError, OverflowError, ArithmeticError, LookupError) as exc:
        log.info("explain could not read a phrase (%s)", type(exc).__name__)
        raise field_error(field, 'could not understand that — try "tomorrow at 9am" or "every monday at 9am"',
                          place="query") from None  # fmt: skip


@router.get("/health", response_model=Health, tags=["health"])
def health(state: ApiState = Depends(get_state)) -> dict[str, Any]:
    """Liveness, the version, and what the built-in ticker has done (no key needed)."""
    return {
        "status": "ok",
        "version": __version__,
        "ticker": state.ticker.status() if state.ticker is not None else None,
    }
