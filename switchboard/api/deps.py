"""What every route shares: options, the app's state, errors, the FastAPI dependencies and parameters.

``ApiState`` is made once per app by ``create_app`` and hangs on
``app.state.switchboard``. Its store is a :class:`LockedStore`: the routes hold
its lock around every service call and the ticker's commits take it too, so
one process never runs two git operations on the clone at once (another
process, or GitHub Actions, is handled by the store's compare-and-swap commits).

The schedule routes (``hosted.py``, ``letta_schedule.py``) take the caller and
the state as ``CallerDep`` (``HostedCallerDep`` in ``hosted.py``: 403 rather than 401
without a key, as the hosted service answered) and ``StateDep``, document their errors with the
``*_RESPONSES`` below, and go through ``owned`` (a service call under the lock,
its NotFoundError as 403 or 404), ``parsed`` (a time parser, its errors as
422) and ``start_after`` (the ``after`` cursor of a list).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Annotated, Any, TypeVar

from fastapi import Depends, Path, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from switchboard.api.auth import Caller, KeyChecker, RateLimiter, key_hash, retry_after_header
from switchboard.api.schemas import Detail, ValidationDetail
from switchboard.exceptions import (
    ApiError,
    ConfigError,
    InvalidInputError,
    InvalidKeyError,
    LettaUnavailableError,
    NotFoundError,
)
from switchboard.models import Schedule, check_id
from switchboard.store import RESULTS, Store
from switchboard.tick import ClientFactory, deliver_now
from switchboard.tick.now import Claimed

log = logging.getLogger(__name__)
T = TypeVar("T")

KIB = 1024


def _env_number(env: Mapping[str, str], name: str, default: float) -> float:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        return float(raw)
    except ValueError:
        raise ConfigError(f'{name}="{raw}" is not a number — e.g. {name}={default:g}') from None


@dataclass(frozen=True)
class ApiOptions:
    """Limits and cache times of the API; every number has a default and an environment variable."""

    #: SWITCHBOARD_API_RATE_PER_MINUTE: requests per minute per tenant (0 turns the limit off).
    rate_per_minute: float = 600.0
    #: SWITCHBOARD_API_BURST: requests a tenant may make at once.
    burst: int = 120
    #: SWITCHBOARD_API_MAX_BODY_BYTES: larger request bodies get 413.
    max_body_bytes: int = 256 * KIB
    #: SWITCHBOARD_API_KEY_CACHE_SECONDS: how long an accepted key is trusted without asking Letta.
    key_ok_ttl: float = 300.0
    #: SWITCHBOARD_API_BAD_KEY_CACHE_SECONDS: how long a refused key is refused without asking Letta.
    key_bad_ttl: float = 30.0

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> ApiOptions:
        """Options from ``env`` (the settings' environment), defaults for what is not set."""
        base = cls()
        return cls(
            rate_per_minute=_env_number(env, "SWITCHBOARD_API_RATE_PER_MINUTE", base.rate_per_minute),
            burst=int(_env_number(env, "SWITCHBOARD_API_BURST", base.burst)),
            max_body_bytes=int(_env_number(env, "SWITCHBOARD_API_MAX_BODY_BYTES", base.max_body_bytes)),
            key_ok_ttl=_env_number(env, "SWITCHBOARD_API_KEY_CACHE_SECONDS", base.key_ok_ttl),
            key_bad_ttl=_env_number(env, "SWITCHBOARD_API_BAD_KEY_CACHE_SECONDS", base.key_bad_ttl),
        )


@dataclass
class LockedStore(Store):
    """A Store whose transactions hold one in-process lock (re-entrant: routes hold it too)."""

    lock: threading.RLock = field(default_factory=threading.RLock, repr=False)

    def transact(self, message: str, compute: Callable[[Any], T], *, attempts: int = 8) -> T:
        """``Store.transact`` under the lock."""
        with self.lock:
            return super().transact(message, compute, attempts=attempts)


def field_error(where: str, message: str, *, place: str = "body") -> ApiError:
    """A 422 naming one field (``where`` may be dotted: "schedule.cron_expression")."""
    return ApiError(422, [{"type": "value_error", "loc": [place, *where.split(".")], "msg": message}])


@dataclass
class ApiState:
    """Everything the routes need, made once per app."""

    store: LockedStore
    base_url: str
    keys: KeyChecker
    limiter: RateLimiter
    options: ApiOptions
    clock: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))
    letta_client: ClientFactory | None = None
    ticker: Any = None  # switchboard.api.ticker.Ticker, when --tick-every is given

    @property
    def lock(self) -> threading.RLock:
        """The store's lock: hold it around every service call."""
        return self.store.lock

    def now(self) -> datetime:
        """The current instant (the injected clock)."""
        return self.clock()


def get_state(request: Request) -> ApiState:
    """The app's ApiState."""
    state: ApiState = request.app.state.switchboard
    return state


bearer = HTTPBearer(
    auto_error=False,
    scheme_name="LettaApiKey",
    description="Your Letta API key, as for Letta itself: `Authorization: Bearer <key>`.",
)

UNAUTHENTICATED = {"WWW-Authenticate": "Bearer"}


def _limit(state: ApiState, bucket: str) -> None:
    wait = state.limiter.take(bucket)
    if wait is not None:
        raise ApiError(
            429,
            f"too many requests — wait {retry_after_header(wait)}s (at most {state.limiter.per_minute:g} a minute)",
            {"Retry-After": retry_after_header(wait)},
        )


def authenticated(
    credentials: HTTPAuthorizationCredentials | None = Depends(bearer),
    state: ApiState = Depends(get_state),
) -> Caller:
    """The caller, from ``Authorization: Bearer <Letta key>``: 401 (as Letta answers), 429 or 503 otherwise."""
    if credentials is None or not credentials.credentials.strip():
        raise ApiError(401, "Not authenticated: send Authorization: Bearer <your Letta API key>", UNAUTHENTICATED)
    return _checked(credentials.credentials.strip(), state)


def hosted_authenticated(
    credentials: HTTPAuthorizationCredentials | None = Depends(bearer),
    state: ApiState = Depends(get_state),
) -> Caller:
    """The caller, as the hosted service judged it: no Bearer key is 403 ``Not authenticated``, a bad one 401."""
    if credentials is None or not credentials.credentials.strip():
        # FastAPI's HTTPBearer answered this way when the hosted service ran, and its clients test for it.
        raise ApiError(403, "Not authenticated")
    return _checked(credentials.credentials.strip(), state)


def _checked(api_key: str, state: ApiState) -> Caller:
    # Limit before asking Letta, so a flood with one key costs Letta nothing.
    _limit(state, "key:" + key_hash(api_key))
    try:
        return state.keys.check(api_key)
    except InvalidKeyError:
        raise ApiError(401, "Invalid Letta API key", UNAUTHENTICATED) from None
    except LettaUnavailableError as exc:
        raise ApiError(503, str(exc), {"Retry-After": "5"}) from None


def client_limited(request: Request, state: ApiState = Depends(get_state)) -> None:
    """Rate-limit a route that needs no key by the client's address."""
    host = request.client.host if request.client else "unknown"
    _limit(state, "ip:" + host)


def path_id(schedule_id: str, what: str = "Schedule") -> str:
    """A schedule id from a path, as a canonical UUID; 404 for anything else (no path is built from it)."""
    try:
        return check_id(schedule_id)
    except InvalidInputError:
        raise ApiError(404, f"{what} not found — schedule ids are UUIDs") from None


def query_id(value: str, name: str) -> str:
    """A schedule id from the query string; 422 when it is not a UUID."""
    try:
        return check_id(value)
    except InvalidInputError as exc:
        raise field_error(name, str(exc), place="query") from None


def missing(state: ApiState, caller: Caller, schedule_id: str, what: str = "Schedule") -> ApiError:
    """403 when another tenant holds ``schedule_id`` (a schedule or its results), else 404."""
    store = state.store
    with state.lock:
        mine = store.tenant(caller.key)
        owner = store.owner_of(schedule_id)
        if owner is None:
            owner = result_owner(store, schedule_id, exclude=mine)
    if owner is not None and owner != mine:
        return ApiError(403, "Forbidden: that schedule belongs to another Letta API key")
    return ApiError(404, f"{what} not found")


def result_owner(store: Store, schedule_id: str, *, exclude: str | None = None) -> str | None:
    """A tenant other than ``exclude`` holding results of ``schedule_id`` (a finished one-time's owner)."""
    needle = f"/{schedule_id}/"
    for path in store.files(RESULTS):
        if needle in path:
            tenant = path.split("/")[2]
            if tenant != exclude:
                return tenant
    return None


# -- what the schedule routes share --------------------------------------------------------------

#: The checked caller and the app's state: every route behind the key check takes both.
CallerDep = Annotated[Caller, Depends(authenticated)]
#: The checked caller of a hosted-service route (403 without a key, as the hosted service answered).
HostedCallerDep = Annotated[Caller, Depends(hosted_authenticated)]
StateDep = Annotated[ApiState, Depends(get_state)]

#: Ids are UUIDs; anything else is a 404 (no such schedule), answered before any path is built from it.
ScheduleIdPath = Annotated[str, Path(description="The schedule's id (a UUID).", json_schema_extra={"format": "uuid"})]

#: Every answer a route behind the key check can give besides its own.
AUTH_RESPONSES: dict[int | str, dict[str, Any]] = {
    401: {
        "model": Detail,
        "description": "A key Letta refused, or (Letta-shaped routes) no key (`WWW-Authenticate: Bearer`).",
    },
    422: {"model": ValidationDetail, "description": "Invalid input: one item per field."},
    429: {"model": Detail, "description": "Too many requests for this key (`Retry-After`)."},
    503: {"model": Detail, "description": "Letta or the repository could not be reached; try again."},
}
BY_ID_RESPONSES: dict[int | str, dict[str, Any]] = {
    **AUTH_RESPONSES,
    403: {"model": Detail, "description": "The schedule belongs to another Letta API key."},
    404: {"model": Detail, "description": "No such schedule."},
}
CREATE_RESPONSES: dict[int | str, dict[str, Any]] = {
    **AUTH_RESPONSES,
    413: {"model": Detail, "description": "The request body is too large."},
}
RUN_RESPONSES: dict[int | str, dict[str, Any]] = {
    **BY_ID_RESPONSES,
    409: {"model": Detail, "description": "A tick is delivering this schedule (or to its agent) right now."},
}


def owned(state: ApiState, caller: Caller, schedule_id: str, call: Callable[[], T], what: str = "Schedule") -> T:
    """``call()`` under the store's lock; its NotFoundError becomes 403 (another key's schedule) or 404."""
    try:
        with state.lock:
            return call()
    except NotFoundError:
        raise missing(state, caller, schedule_id, what) from None


def parsed(field: str, parse: Callable[[], T]) -> T:
    """Run a time parser; what it cannot read is a 422 on ``field`` (never a 500)."""
    try:
        return parse()
    except InvalidInputError as exc:
        raise field_error(field, str(exc)) from None
    except (ValueError, OverflowError, ArithmeticError, LookupError) as exc:
        # A phrase that trips a parser's own bug is still the caller's bad input, not our crash.
        log.info("time phrase for %s not understood (%s)", field, type(exc).__name__)
        raise field_error(field, 'could not understand that time — try "tomorrow at 9am" or ISO 8601') from None


def start_after(items: Sequence[Schedule], after: str | None, not_there: str) -> int:
    """Where a page of ``items`` starts: just after the one with the id ``after`` (the query's cursor).

    422 on ``after`` when no item has that id; ``not_there`` says so, with ``{cursor}`` for the id.
    """
    if after is None:
        return 0
    cursor = query_id(after, "after")
    positions = [i for i, item in enumerate(items) if item.id == cursor]
    if not positions:
        raise field_error("after", not_there.format(cursor=cursor), place="query")
    return positions[0] + 1


def deliver_in_background(state: ApiState, claimed: Claimed) -> None:
    """Deliver a schedule a route stored claimed, after the answer went out; what Letta said is its result."""
    from switchboard.context import letta_client_now

    try:
        report = deliver_now(state.store, claimed, state.now(), state.letta_client or letta_client_now)
    except Exception as exc:  # the answer is gone: log what kind of failure (its text may quote a request)
        log.error("delivering %s at once failed: %s", claimed.schedule.id, type(exc).__name__)
        return
    if report.left_to_tick:
        log.info("one-time %s was left to the tick: %s", claimed.schedule.id, report.reason)


def wake_ticker(state: ApiState, due: datetime) -> None:
    """A message due now is sent by a pass at once; one due before the ticker's planned pass moves that pass up."""
    if state.ticker is None:
        return
    planned = state.ticker.next_wake
    if due <= state.now() or planned is None or due < planned:
        # The pass plans its next wake from the tree, this message included.
        state.ticker.poke()
