"""The operations behind the CLI and the REST API, on a Store.

Each function takes the caller's Letta key (the tenant) and ``now`` as
parameters, does one thing in one commit, and returns records. Nothing here
prints, parses natural language, or reads the clock.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime
from typing import Any

from switchboard.exceptions import InvalidInputError, NotFoundError
from switchboard.models import (
    OneTimeSchedule,
    RecurringSchedule,
    Result,
    Schedule,
    build,
    check_id,
    utc,
)
from switchboard.store import ONE_TIME, RECURRING, Store, Transaction


def add_one_time(
    store: Store,
    *,
    api_key: str | None,
    base_url: str,
    agent_id: str,
    message: str,
    execute_at: datetime,
    now: datetime,
    role: str = "user",
) -> OneTimeSchedule:
    """Store a one-time schedule; one commit."""
    schedule: OneTimeSchedule = build(
        OneTimeSchedule,
        agent_id=agent_id,
        message=message,
        role=role,
        execute_at=execute_at,
        created_at=utc(now),
        api_key=api_key,
        base_url=base_url,
    )
    store.transact(f"switchboard: add one-time {schedule.id}", lambda tx: tx.save(schedule))
    return schedule


def add_recurring(
    store: Store,
    *,
    api_key: str | None,
    base_url: str,
    agent_id: str,
    message: str,
    cron: str,
    timezone: str,
    now: datetime,
    role: str = "user",
) -> RecurringSchedule:
    """Store a recurring schedule; one commit. Its first fire is the first after ``now``."""
    schedule: RecurringSchedule = build(
        RecurringSchedule,
        agent_id=agent_id,
        message=message,
        role=role,
        cron=cron,
        timezone=timezone,
        created_at=utc(now),
        api_key=api_key,
        base_url=base_url,
    )
    store.transact(f"switchboard: add recurring {schedule.id}", lambda tx: tx.save(schedule))
    return schedule


def list_one_time(store: Store, api_key: str | None) -> list[OneTimeSchedule]:
    """The caller's one-time schedules, due first."""
    store.backend.refresh()
    return store.one_time(store.tenant(api_key))


def list_recurring(store: Store, api_key: str | None) -> list[RecurringSchedule]:
    """The caller's recurring schedules, oldest first."""
    store.backend.refresh()
    return store.recurring(store.tenant(api_key))


def get_schedule(store: Store, api_key: str | None, schedule_id: str, kind: str | None = None) -> Schedule:
    """One of the caller's schedules; NotFoundError when it is not theirs or not there."""
    schedule_id = check_id(schedule_id)
    store.backend.refresh()
    return store.load(store.locate(store.tenant(api_key), schedule_id, kind))


def delete_schedule(store: Store, api_key: str | None, schedule_id: str, kind: str | None = None) -> Schedule:
    """Remove one of the caller's schedules; one commit."""
    schedule_id = check_id(schedule_id)

    def compute(tx: Transaction) -> Schedule:
        path = store.locate(store.tenant(api_key), schedule_id, kind)
        schedule = store.load(path)
        tx.delete(path)
        return schedule

    return store.transact(f"switchboard: delete {kind or 'schedule'} {schedule_id}", compute)


def set_paused(
    store: Store, api_key: str | None, schedule_id: str, *, paused: bool, now: datetime
) -> RecurringSchedule:
    """Pause or resume a recurring schedule; one commit.

    Resuming counts from ``now``: fires missed while paused are not sent.
    """
    schedule_id = check_id(schedule_id)

    def compute(tx: Transaction) -> RecurringSchedule:
        path = store.locate(store.tenant(api_key), schedule_id, "recurring")
        current = store.load_recurring(path)
        if paused:
            updated = current.model_copy(update={"status": "paused", "paused_reason": "paused by request"})
        else:
            anchor = max(current.anchor, utc(now))
            updated = current.model_copy(update={"status": "active", "paused_reason": None, "last_run": anchor})
        if updated != current:
            tx.save(updated)
        return updated

    verb = "pause" if paused else "resume"
    return store.transact(f"switchboard: {verb} recurring {schedule_id}", compute)


def list_results(
    store: Store, api_key: str | None, *, schedule_id: str | None = None, limit: int | None = None
) -> list[Result]:
    """The caller's results, newest first."""
    store.backend.refresh()
    return store.results(store.tenant(api_key), schedule_id, limit=limit)


def rotate_keys(store: Store) -> int:
    """Re-encrypt every file under data/ with the newest key, in one commit."""
    codec = store.codec
    if codec.plaintext:
        raise InvalidInputError("dev mode stores plaintext: there is nothing to rotate")

    def compute(tx: Transaction) -> int:
        count = 0
        for path in store.backend.list("data"):
            if not path.endswith(".enc"):
                continue
            raw = store.backend.read(path)
            if raw is None:
                continue
            tx.put(path, codec.rotate(raw, path=path))
            count += 1
        return count

    return store.transact("switchboard: re-encrypt data/ with the newest key", compute)


def import_schedules(
    store: Store,
    payload: Any,
    *,
    api_key: str | None,
    base_url: str,
    now: datetime,
    timezone: str = "UTC",
    progress: Callable[[int, int], None] | None = None,
) -> tuple[int, int]:
    """Import the hosted service's list output in one commit; returns (one-time, recurring) counts."""
    items = _import_items(payload)
    built: list[Schedule] = []
    for index, item in enumerate(items, start=1):
        built.append(_import_one(item, index, api_key=api_key, base_url=base_url, now=now, timezone=timezone))
        if progress is not None and (index % 500 == 0 or index == len(items)):
            progress(index, len(items))

    def compute(tx: Transaction) -> None:
        for schedule in built:
            tx.save(schedule)

    store.transact(f"switchboard: import {len(built)} schedules", compute)
    one_time = sum(1 for s in built if isinstance(s, OneTimeSchedule))
    return one_time, len(built) - one_time


def _import_items(payload: Any) -> list[Mapping[str, Any]]:
    if isinstance(payload, list):
        items = payload
    elif isinstance(payload, dict) and ("one_time" in payload or "recurring" in payload):
        items = [*payload.get("one_time", []), *payload.get("recurring", [])]
    else:
        raise InvalidInputError(
            'the file is neither a JSON array of schedules nor {"one_time": [...], "recurring": [...]} '
            "— export it with the hosted service's list endpoints"
        )
    for index, item in enumerate(items, start=1):
        if not isinstance(item, dict):
            raise InvalidInputError(f"item {index} is not a JSON object — nothing was imported")
    return items


def _import_one(
    item: Mapping[str, Any], index: int, *, api_key: str | None, base_url: str, now: datetime, timezone: str
) -> Schedule:
    common: dict[str, Any] = {
        "agent_id": item.get("agent_id", ""),
        "message": item.get("message", ""),
        "role": item.get("role", "user"),
        "created_at": item.get("created_at") or utc(now),
        "api_key": api_key,
        "base_url": base_url,
    }
    # The hosted service's ids are UUIDs and are kept; anything else gets a new one.
    if item.get("id"):
        with contextlib.suppress(InvalidInputError):
            common["id"] = check_id(str(item["id"]))
    try:
        if "cron" in item:
            recurring: RecurringSchedule = build(
                RecurringSchedule,
                **common,
                cron=item["cron"],
                timezone=item.get("timezone") or timezone,
                last_run=item.get("last_run"),
            )
            return recurring
        if "execute_at" in item:
            one_time: OneTimeSchedule = build(OneTimeSchedule, **common, execute_at=item["execute_at"])
            return one_time
    except (InvalidInputError, NotFoundError) as exc:
        raise InvalidInputError(f"item {index}: {exc} — nothing was imported") from None
    raise InvalidInputError(f"item {index} has neither execute_at nor cron — nothing was imported")


def kind_of(path: str) -> str:
    """The kind of schedule a path holds."""
    if path.startswith(ONE_TIME):
        return "one-time"
    if path.startswith(RECURRING):
        return "recurring"
    raise ValueError(path)


def schedules_of(items: Iterable[Schedule]) -> list[dict[str, Any]]:
    """Public views of schedules."""
    return [s.public() for s in items]
