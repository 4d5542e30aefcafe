"""The operations behind the CLI and the REST API, on a Store.

Each function takes the caller's Letta key (the tenant) and ``now`` as
parameters, does one thing in one commit, and returns records. Nothing here
prints, parses natural language, or reads the clock.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, TypeVar

from switchboard.crypto import FOREIGN_KEY
from switchboard.exceptions import BusyError, DecryptError, InvalidInputError, NotFoundError
from switchboard.letta import LettaTarget
from switchboard.models import (
    CLAIM_TTL,
    Kind,
    MessageFields,
    OneTimeSchedule,
    RecurringSchedule,
    Result,
    Schedule,
    build,
    check_id,
    claim_is_live,
    shown_value,
    utc,
)
from switchboard.store import Store, Transaction, schedule_id_of, tenant_of_path

S = TypeVar("S", OneTimeSchedule, RecurringSchedule)


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
    message_fields: MessageFields | None = None,
    name: str | None = None,
    envelope: bool = False,
    timezone: str | None = None,
    clock: str = "github",
    conversation: str | None = None,
) -> OneTimeSchedule:
    """Store a one-time schedule; one commit. ``timezone`` is the zone its time was given in, for showing it.

    ``envelope``: deliver it telling the agent the time, in ``timezone``. ``clock="letta"``: Letta Cloud fires
    it, armed by the next pass (see switchboard/native).
    """
    fields = {"agent_id": agent_id, "message": message, "role": role, "execute_at": execute_at,
              "message_fields": message_fields, "name": name, "timezone": timezone, "clock": clock,
              "conversation": conversation, "envelope": envelope}  # fmt: skip
    return _add(store, OneTimeSchedule, fields, api_key=api_key, base_url=base_url, now=now)


def new_one_time(
    *,
    api_key: str | None,
    base_url: str,
    agent_id: str,
    message: str,
    execute_at: datetime,
    now: datetime,
    role: str = "user",
    name: str | None = None,
    envelope: bool = False,
    timezone: str | None = None,
    conversation: str | None = None,
) -> OneTimeSchedule:
    """A one-time schedule made ``now``, checked but not stored (``tick.send_now`` stores it claimed)."""
    fields = {"agent_id": agent_id, "message": message, "role": role, "execute_at": execute_at, "name": name,
              "timezone": timezone, "conversation": conversation, "envelope": envelope}  # fmt: skip
    return _new(OneTimeSchedule, fields, api_key=api_key, base_url=base_url, now=now)


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
    message_fields: MessageFields | None = None,
    name: str | None = None,
    clock: str = "github",
    conversation: str | None = None,
    envelope: bool = False,
) -> RecurringSchedule:
    """Store a recurring schedule; one commit. Its first fire is the first after ``now``.

    ``clock="letta"``: each fire is armed at Letta Cloud by the next pass (see switchboard/native).
    """
    fields = {"agent_id": agent_id, "message": message, "role": role, "cron": cron, "timezone": timezone,
              "message_fields": message_fields, "name": name, "clock": clock,
              "conversation": conversation, "envelope": envelope}  # fmt: skip
    return _add(store, RecurringSchedule, fields, api_key=api_key, base_url=base_url, now=now)


def _add(
    store: Store, model: type[S], fields: Mapping[str, Any], *, api_key: str | None, base_url: str, now: datetime
) -> S:
    """Build a schedule made ``now`` with the caller's key and server, and store it; one commit."""
    schedule = _new(model, fields, api_key=api_key, base_url=base_url, now=now)
    store.transact(f"switchboard: add {schedule.kind} {schedule.id}", lambda tx: tx.save(schedule))
    return schedule


def _new(model: type[S], fields: Mapping[str, Any], *, api_key: str | None, base_url: str, now: datetime) -> S:
    """A schedule made ``now`` with the caller's key and server, checked."""
    schedule: S = build(model, **fields, created_at=utc(now), api_key=api_key, base_url=base_url)
    return schedule


def list_one_time(store: Store, api_key: str | None) -> list[OneTimeSchedule]:
    """The caller's one-time schedules, due first."""
    store.backend.refresh()
    return store.one_time(store.tenant(api_key))


def list_recurring(store: Store, api_key: str | None) -> list[RecurringSchedule]:
    """The caller's recurring schedules, oldest first."""
    store.backend.refresh()
    return store.recurring(store.tenant(api_key))


def others_schedules(store: Store, api_key: str | None, kind: Kind) -> int:
    """How many schedules of ``kind`` are kept for Letta keys other than the caller's (their files, not opened).

    An empty listing says so: a key that lists nothing while files are there
    may not be the key those schedules were made with.
    """
    tenant = store.tenant(api_key)
    files = store.one_time_files() if kind == "one-time" else store.recurring_files()
    return sum(1 for path in files if tenant_of_path(path) != tenant)


def get_schedule(store: Store, api_key: str | None, schedule_id: str, kind: str | None = None) -> Schedule:
    """One of the caller's schedules; NotFoundError when it is not theirs or not there."""
    schedule_id = check_id(schedule_id)
    store.backend.refresh()
    return store.load(store.locate(store.tenant(api_key), schedule_id, kind))


def delete_schedule(
    store: Store,
    api_key: str | None,
    schedule_id: str,
    kind: str | None = None,
    *,
    now: datetime,
    claim_ttl: timedelta = CLAIM_TTL,
) -> Schedule:
    """Remove one of the caller's schedules; one commit.

    A schedule a running tick has claimed is refused with BusyError: that tick
    may be sending it right now, and "deleted" must mean "not sent". The
    commit is made on exactly the state checked, so a claim made meanwhile
    makes it recompute and refuse.
    """
    schedule_id = check_id(schedule_id)

    def compute(tx: Transaction) -> Schedule:
        path = store.locate(store.tenant(api_key), schedule_id, kind)
        schedule = store.load(path)
        refuse_if_claimed(schedule, now, "deleted", claim_ttl)
        tx.delete(path)
        return schedule

    return store.transact(f"switchboard: delete {kind or 'schedule'} {schedule_id}", compute)


def set_paused(
    store: Store,
    api_key: str | None,
    schedule_id: str,
    *,
    paused: bool,
    now: datetime,
    claim_ttl: timedelta = CLAIM_TTL,
) -> RecurringSchedule:
    """Pause or resume a recurring schedule; one commit.

    Resuming counts from ``now``: fires missed while paused are not sent.
    Pausing a schedule a running tick has claimed is refused with BusyError,
    as deleting it is: that tick may be sending its fire right now.
    """
    schedule_id = check_id(schedule_id)

    def compute(tx: Transaction) -> RecurringSchedule:
        path = store.locate(store.tenant(api_key), schedule_id, "recurring")
        current = store.load_recurring(path)
        if paused:
            if current.status == "paused":
                return current  # already paused: keep its reason, commit nothing
            refuse_if_claimed(current, now, "paused", claim_ttl)
            updated = current.model_copy(update={"status": "paused", "paused_reason": "paused by request"})
        else:
            if current.status == "active":
                return current
            # last_run stays the real last fire; resumed_at makes the fires missed while paused not count.
            updated = current.model_copy(update={"status": "active", "paused_reason": None, "resumed_at": utc(now)})
        tx.save(updated)
        return updated

    verb = "pause" if paused else "resume"
    return store.transact(f"switchboard: {verb} recurring {schedule_id}", compute)


#: What an update may change, by kind ("name": "" or None takes the name away).
UPDATABLE: dict[str, frozenset[str]] = {
    "one-time": frozenset({"message", "execute_at", "timezone", "role", "agent_id", "name"}),
    "recurring": frozenset({"message", "cron", "timezone", "role", "agent_id", "name"}),
}


def update_schedule(
    store: Store,
    api_key: str | None,
    schedule_id: str,
    kind: Kind,
    changes: Mapping[str, Any],
    *,
    now: datetime,
    claim_ttl: timedelta = CLAIM_TTL,
) -> Schedule:
    """Change one of the caller's schedules in place; one commit. It keeps its id, and so its results.

    A one-time schedule whose time changes moves to its new bucket. A recurring
    schedule whose cron or zone changes counts its next fire from ``now`` (fires
    of the old schedule not yet sent are not sent). A schedule a running tick
    has claimed is refused with BusyError: that tick may be sending the old
    text right now, and recording it would undo the change. Changes equal to
    what is stored commit nothing.
    """
    schedule_id = _check_changes(schedule_id, kind, changes)

    def compute(tx: Transaction) -> Schedule:
        path = store.locate(store.tenant(api_key), schedule_id, kind)
        current = store.load(path)
        updated = changed(current, changes, now=now, claim_ttl=claim_ttl)
        if updated == current:
            return current
        if tx.save(updated) != path:
            tx.delete(path)  # a one-time schedule whose time moved it to another bucket
        return updated

    return store.transact(f"switchboard: update {kind} {schedule_id}", compute)


def refuse_if_claimed(schedule: Schedule, now: datetime, done: str, claim_ttl: timedelta = CLAIM_TTL) -> None:
    """BusyError while a tick holds a live claim on ``schedule`` (``done``: what was not done, e.g. "deleted")."""
    if claim_is_live(schedule, utc(now), claim_ttl):
        minutes = claim_ttl.total_seconds() / 60
        raise BusyError(
            f"{schedule.kind} schedule {schedule.id} is being delivered by a tick right now — nothing was {done}; "
            f"try again when that tick is done (a claim left by a tick that died lapses {minutes:g} minutes "
            f"after it was made)"
        )


def changed(
    current: Schedule, changes: Mapping[str, Any], *, now: datetime, claim_ttl: timedelta = CLAIM_TTL
) -> Schedule:
    """``current`` with ``changes`` applied and checked; BusyError while a tick holds it."""
    moment = utc(now)
    refuse_if_claimed(current, moment, "changed", claim_ttl)
    # A name of "" or None takes the name away: check_name makes a blank one None.
    fields = {**current.model_dump(), **changes}
    # A claim still here has lapsed (its tick died): the changed schedule starts afresh.
    fields.update(claimed_by=None, claimed_at=None)
    if isinstance(current, RecurringSchedule) and (
        fields["cron"] != current.cron or fields["timezone"] != current.timezone
    ):
        fields["resumed_at"] = max(moment, current.resumed_at or moment)
    updated: Schedule = build(type(current), **fields)
    return updated


def _check_changes(schedule_id: str, kind: Kind, changes: Mapping[str, Any]) -> str:
    schedule_id = check_id(schedule_id)
    unknown = sorted(set(changes) - UPDATABLE[kind])
    if unknown:
        raise InvalidInputError(f"a {kind} schedule has no {', '.join(unknown)} to change")
    if not changes:
        raise InvalidInputError(f"nothing to change — give a new {_choices(kind)}")
    return schedule_id


def _choices(kind: Kind) -> str:
    when = "time" if kind == "one-time" else "cron, zone"
    return f"message, {when}, role, agent id or name"


#: An id prefix names a schedule from this many characters on.
MIN_PREFIX = 8


def resolve_id(store: Store, api_key: str | None, ref: str, kind: Kind | None = None) -> str:
    """The id of the caller's schedule that ``ref`` stands for: its id, its name, or 8+ first characters of its id.

    A UUID is taken as it is (whether or not it exists). Anything else is
    compared with the caller's listing (a name as written, else ignoring
    case) and never becomes part of a path. No match is NotFoundError; more
    than one is an InvalidInputError listing the candidates.
    """
    text = str(ref).strip()
    try:
        uuid.UUID(text)
    except (ValueError, AttributeError, TypeError):
        pass
    else:
        return check_id(text)  # a UUID, or one written oddly: check_id says how to write it
    store.backend.refresh()
    tenant = store.tenant(api_key)
    items: list[Schedule] = []
    if kind in (None, "one-time"):
        items += store.one_time(tenant)
    if kind in (None, "recurring"):
        items += store.recurring(tenant)
    prefix = text.lower() if len(text) >= MIN_PREFIX else None
    by_id = [s for s in items if prefix is not None and s.id.startswith(prefix)]
    # A name written exactly wins; only when none is does case stop mattering.
    by_name = [s for s in items if s.name == text] or [
        s for s in items if s.name is not None and s.name.casefold() == text.casefold()
    ]
    matches = by_id + [s for s in by_name if s not in by_id]
    what = f"{kind} schedule" if kind else "schedule"
    shown = shown_value(text)
    if len(matches) == 1:
        return matches[0].id
    if not matches:
        lists = "`switchboard onetime list`" if kind == "one-time" else "`switchboard recurring list`"
        if kind is None:
            lists = "`switchboard onetime list` or `switchboard recurring list`"
        if prefix is None and all(ch in "0123456789abcdefABCDEF-" for ch in text):
            raise NotFoundError(
                f'"{shown}" is not the name of any of your {what}s, and an id prefix needs at least {MIN_PREFIX} '
                f"characters — give more of the id, the whole id, or the name (see {lists})"
            )
        raise NotFoundError(
            f'no {what} is named "{shown}" or has an id starting with it, for this Letta key — see {lists}'
        )
    listed = ", ".join(s.id + (f' ("{shown_value(s.name, 40)}")' if s.name else "") for s in matches[:10])
    more = f" and {len(matches) - 10} more" if len(matches) > 10 else ""
    raise InvalidInputError(
        f'"{shown}" matches {len(matches)} {what}s: {listed}{more} — give the whole id (or a longer prefix)'
    )


def list_results(
    store: Store, api_key: str | None, *, schedule_id: str | None = None, limit: int | None = None
) -> list[Result]:
    """The caller's results, newest first."""
    store.backend.refresh()
    return store.results(store.tenant(api_key), schedule_id, limit=limit)


def follow_runs(
    store: Store,
    api_key: str | None,
    now: datetime,
    client_factory: Callable[[str, str | None], LettaTarget],
    run_timeout: timedelta | None = None,
) -> list[Result]:
    """Ask Letta how the caller's unfinished runs ended (the tick's follow step, for one key); their new lines."""
    from switchboard.tick import TickOptions, follow  # late: the tick's modules only when asked for

    store.backend.refresh()
    tenant = store.tenant(api_key)
    if tenant is None:
        return []
    options = TickOptions() if run_timeout is None else TickOptions(run_timeout=run_timeout)
    return follow(store, now, client_factory, options, tenant=tenant)


def results_of(store: Store, api_key: str | None, schedule_id: str) -> tuple[list[Result], Schedule | None]:
    """One schedule's results, newest first, and the schedule while it is still pending.

    NotFoundError when the caller has neither a result nor a schedule with that id.
    """
    schedule_id = check_id(schedule_id)
    store.backend.refresh()
    tenant = store.tenant(api_key)
    results = store.results(tenant, schedule_id)
    try:
        pending: Schedule | None = store.load(store.locate(tenant, schedule_id))
    except NotFoundError:
        if not results:
            raise NotFoundError(
                f"no schedule and no results with id {schedule_id} for this Letta key — see `switchboard results list`"
            ) from None
        pending = None
    return results, pending


def resolve_result_ref(store: Store, api_key: str | None, ref: str) -> str:
    """The schedule id ``ref`` stands for, among the caller's schedules and those it has results of.

    Like ``resolve_id``, but a delivered one-time message (gone from the
    schedules, its name kept in its results) is found too.
    """
    text = str(ref).strip()
    try:
        return resolve_id(store, api_key, text)
    except NotFoundError:
        pass
    # Only the newest line of each delivery is read: that is where a result's name is.
    found: dict[str, str | None] = {}
    for result in store.results(store.tenant(api_key)):
        found.setdefault(result.schedule_id, result.name)
    prefix = text.lower() if len(text) >= MIN_PREFIX else None
    by_id = [sid for sid in found if prefix is not None and sid.startswith(prefix)]
    by_name = [sid for sid, name in found.items() if name == text] or [
        sid for sid, name in found.items() if name is not None and name.casefold() == text.casefold()
    ]
    matches = by_id + [sid for sid in by_name if sid not in by_id]
    shown = shown_value(text)
    if len(matches) == 1:
        return matches[0]
    if not matches:
        raise NotFoundError(
            f'no schedule and no result is named "{shown}" or has an id starting with it, for this Letta key '
            f"— see `switchboard results list`"
        )
    listed = ", ".join(matches[:10]) + (f" and {len(matches) - 10} more" if len(matches) > 10 else "")
    raise InvalidInputError(
        f'"{shown}" matches the results of {len(matches)} schedules: {listed} — give the whole id (or a longer prefix)'
    )


def rotate_keys(store: Store) -> int:
    """Re-encrypt every file under data/ with the newest key, in one commit.

    A damaged file (random bytes, cut short) opens with no key: it is left as
    it is and noted in ``store.unreadable``, so one such file does not keep
    the rest on an old key. A file of a key missing from the list stops the
    rotation instead: that key may still be somewhere, and the rotation
    would leave the file behind for good once the older keys are dropped.
    """
    codec = store.codec
    if codec.plaintext:
        raise InvalidInputError("dev mode stores plaintext: there is nothing to rotate")

    def compute(tx: Transaction) -> int:
        store.tenant_secret()  # a wrong key is named by the file every command reads first
        store.unreadable.clear()  # a retried pass notes again what it skips
        count = 0
        for path in store.backend.list("data"):
            if not path.endswith(".enc"):
                continue
            raw = store.backend.read(path)
            if raw is None:
                continue
            try:
                tx.put(path, codec.rotate(raw, path=path))
            except DecryptError as exc:
                if exc.reason == FOREIGN_KEY:
                    raise
                store.unreadable[path] = exc.reason or str(exc)
                continue
            count += 1
        return count

    return store.transact("switchboard: re-encrypt data/ with the newest key", compute)


#: Stable ids for imported schedules whose own id is not a UUID (the same file imports to the same ids).
IMPORT_NAMESPACE = uuid.UUID("5b0f7c1e-2f7d-4d7e-9a55-3c1d2b8e6f40")

#: import_schedules reports progress every this many items.
PROGRESS_EVERY = 500

#: progress(stage, done, total): stage is "checked", "encrypted" or "committing".
Progress = Callable[[str, int, int], None]


@dataclass(frozen=True)
class Imported:
    """What an import did."""

    one_time: int
    recurring: int
    unchanged: int = 0

    def as_json(self) -> dict[str, int]:
        """The counts, for --json."""
        return {"one_time": self.one_time, "recurring": self.recurring, "unchanged": self.unchanged}


def import_schedules(
    store: Store,
    payload: Any,
    *,
    api_key: str | None,
    base_url: str,
    now: datetime,
    timezone: str = "UTC",
    progress: Progress | None = None,
) -> Imported:
    """Import the hosted service's list output in one commit (all or nothing).

    Ids are kept (a non-UUID id becomes a UUID derived from it), so importing
    the same file again adds nothing: schedules already there are left as they
    are. An ``execute_at`` without an offset is read in ``timezone``; the
    hosted service's own timestamps (``created_at``, ``last_run``) without one
    are UTC, as it wrote them.
    """
    from switchboard.timeparse import zone

    zone(timezone)  # an unknown --tz is one clear error before anything else
    items = _import_items(payload)
    total = len(items)
    built: list[Schedule] = []
    for index, item in enumerate(items, start=1):
        built.append(_import_one(item, index, api_key=api_key, base_url=base_url, now=now, timezone=timezone))
        if progress is not None and (index % PROGRESS_EVERY == 0 or index == total):
            progress("checked", index, total)
    ids = [s.id for s in built]
    if len(set(ids)) != len(ids):
        twice = next(i for i in ids if ids.count(i) > 1)
        raise InvalidInputError(f"the file has two schedules with the id {twice} — nothing was imported")

    def compute(tx: Transaction) -> list[Schedule]:
        tenant = tx.tenant(api_key)
        present = {
            schedule_id_of(p) for p in [*store.one_time_files(tenant=tenant), *store.recurring_files(tenant=tenant)]
        }
        added = [s for s in built if s.id not in present]
        for index, schedule in enumerate(added, start=1):
            tx.save(schedule)
            if progress is not None and (index % PROGRESS_EVERY == 0 or index == len(added)):
                progress("encrypted", index, len(added))
        if progress is not None and added:
            progress("committing", len(added), len(added))
        return added

    added = store.transact(f"switchboard: import {len(built)} schedules", compute)
    one_time = sum(1 for s in added if isinstance(s, OneTimeSchedule))
    return Imported(one_time, len(added) - one_time, len(built) - len(added))


_IMPORT_SHAPES = (
    'the file is neither a JSON array of schedules nor {"one_time": [...], "recurring": [...]} '
    "— export it with the hosted service's list endpoints"
)


def _import_items(payload: Any) -> list[Mapping[str, Any]]:
    if isinstance(payload, list):
        items = payload
    elif isinstance(payload, dict) and ("one_time" in payload or "recurring" in payload):
        parts = [payload.get("one_time") or [], payload.get("recurring") or []]
        if not all(isinstance(part, list) for part in parts):
            raise InvalidInputError(_IMPORT_SHAPES)
        items = [*parts[0], *parts[1]]
    else:
        raise InvalidInputError(_IMPORT_SHAPES)
    for index, item in enumerate(items, start=1):
        if not isinstance(item, dict):
            raise InvalidInputError(f"item {index} is not a JSON object — nothing was imported")
    return items


def _import_one(
    item: Mapping[str, Any], index: int, *, api_key: str | None, base_url: str, now: datetime, timezone: str
) -> Schedule:
    try:
        common: dict[str, Any] = {
            "id": _import_id(item.get("id")),
            "agent_id": item.get("agent_id", ""),
            "message": item.get("message", ""),
            "role": item.get("role", "user"),
            "name": item.get("name"),
            "created_at": _instant(item.get("created_at"), "UTC", "created_at", now) or utc(now),
            "api_key": api_key,
            "base_url": base_url,
        }
        if "cron" in item:
            recurring: RecurringSchedule = build(
                RecurringSchedule,
                **common,
                cron=item["cron"],
                timezone=item.get("timezone") or timezone,
                last_run=_instant(item.get("last_run"), "UTC", "last_run", now),
                # The hosted service sent every fire until now: catching up on them would send them twice.
                resumed_at=utc(now),
            )
            return recurring
        if "execute_at" in item:
            execute_at = _instant(item["execute_at"], timezone, "execute_at", now)
            one_time: OneTimeSchedule = build(OneTimeSchedule, **common, execute_at=execute_at)
            return one_time
    except (InvalidInputError, NotFoundError) as exc:
        raise InvalidInputError(f"item {index}: {exc} — nothing was imported") from None
    raise InvalidInputError(f"item {index} has neither execute_at nor cron — nothing was imported")


def _import_id(value: Any) -> str:
    """The hosted service's ids are UUIDs and are kept; any other id maps to a stable UUID."""
    if value is None or value == "":
        return str(uuid.uuid4())
    text = str(value)
    try:
        return check_id(text)
    except InvalidInputError:
        return str(uuid.uuid5(IMPORT_NAMESPACE, text))


def _instant(value: Any, timezone: str, name: str, now: datetime) -> datetime | None:
    """An ISO 8601 value as an aware instant; without an offset it is read in ``timezone``."""
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise InvalidInputError(f"{name} is not an ISO 8601 time such as 2026-03-11T09:00:00Z")
    try:
        parsed = datetime.fromisoformat(value.strip().replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        raise InvalidInputError(f'{name} "{value[:40]}" is not an ISO 8601 time such as 2026-03-11T09:00:00Z') from None
    if parsed.tzinfo is not None:
        return parsed
    from switchboard.timeparse import parse_instant

    # A wall time in a zone is read as every command reads it (a DST gap moves it to the first valid instant).
    return parse_instant(parsed.isoformat(), tz=timezone, now=now)
