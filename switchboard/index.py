"""What a tick reads: a next-fire index of the recurring schedules, and only the past one-time buckets.

A pass must cost what is due, not what is stored. One-time schedules already
sit in UTC hour buckets, so the pass lists bucket folders (dates, then hours)
and opens only those at or before now's hour. Recurring schedules sit in one
folder per tenant whatever their next fire, so they get an index::

    data/index/recurring/{xx}.json.enc      xx = the first two hex digits of the schedule id

Each of the (at most) 256 shards is encrypted like every file under data/ and
maps each recurring path of its ids to an :class:`Entry`: the *wake* instant
(when a pass must first open the file) and a fingerprint of the file it was
computed from. A pass opens a recurring file only when its wake is at or before
``now``, and ``select_due`` then decides on the records themselves, exactly as
on a full scan: the index may make a pass open more files, never fewer.

* Wake is the schedule's next fire after its anchor while it is active and not
  claimed, 0 ("open it on every pass") while anyone holds a claim on it
  (a live claim makes its agent busy, whatever the schedule's state or the
  claiming pass's clock), and none while it is paused (or never fires again).
* Every commit keeps the index true: ``Store.transact`` calls :func:`stage`
  after computing a change, which rewrites the shards of the recurring files
  the change writes or deletes, on the same state the change was computed on.
  A commit beaten by another writer is recomputed from scratch, index included.
  Shards are small (about 40 entries at 10,000 recurring schedules), so a fire
  adds a few kilobytes of history, not the whole index; a commit that writes
  no recurring file rewrites no shard.
* The index heals itself. Each pass compares it with the listing of recurring
  files and, where the backend offers them, the files' git blob ids: a file
  with no entry (written by an older switchboard, or by hand), an entry with no
  file, or a file whose blob changed since its entry was computed is read and
  its entry recomputed, and the repairs ride along with the pass's claim commit
  (on their own only when there are many: :data:`REPAIR_ALONE`). A shard that
  does not decrypt or parse counts as missing. Deleting data/index/ rebuilds it.
* ``keys rotate`` re-encrypts the shards like every ``.enc`` file, and the
  recurring files it rewrites get fresh fingerprints in the same commit.

Nothing here reads a clock: ``now`` is a parameter, as everywhere in the tick.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, NamedTuple

from pydantic import ValidationError

from switchboard.backends.base import Backend
from switchboard.crypto import Codec
from switchboard.due import next_fire
from switchboard.exceptions import SwitchboardError
from switchboard.models import STORED, OneTimeSchedule, RecurringSchedule, Schedule, utc
from switchboard.store import Store, Transaction

__all__ = [
    "INDEX",
    "REPAIR_ALONE",
    "Entry",
    "due_one_time_files",
    "due_recurring",
    "entry_of",
    "fingerprint",
    "indexed_store",
    "next_due",
    "read_index",
    "shard_path",
    "stage",
]

#: Where the shards live (not below data/schedules/: nothing that lists schedules should see them).
INDEX = "data/index/recurring"
#: The shard file format; a shard of another format counts as missing and is rebuilt.
INDEX_FORMAT = 1
#: Repairs found by a pass that commits nothing else are committed on their own from this many on.
REPAIR_ALONE = 100
#: Fingerprints keep this many hex digits of a git blob id: enough to notice any change.
FINGERPRINT = 16

# Mirrors store.py's layout (imported lazily there, so kept literal here to avoid an import cycle).
_ONE_TIME = "data/schedules/one-time"
_RECURRING = "data/schedules/recurring"
_HEX2 = re.compile(r"^[0-9a-f]{2}$")


class Entry(NamedTuple):
    """What the index knows of one recurring file."""

    wake: int | None
    """Epoch seconds at which a pass must first open the file; 0 = every pass; None = never."""
    blob: str | None
    """The first FINGERPRINT hex digits of the git blob id of the content it was computed from."""

    def due(self, now: float) -> bool:
        """Whether a pass at ``now`` (epoch seconds) must open the file."""
        return self.wake is not None and self.wake <= now


# -- entries ----------------------------------------------------------------------


def fingerprint(content: bytes, object_format: str = "sha1") -> str:
    """The git blob id of ``content``, shortened: what ``git ls-tree`` shows for that file.

    ``object_format`` is the repository's hash ("sha1", or "sha256" in a clone made with
    ``--object-format=sha256``): a fingerprint that could never match would make every
    pass reread, and repair, every recurring file.
    """
    digest = hashlib.new(object_format, b"blob %d\0" % len(content) + content, usedforsecurity=False)
    return digest.hexdigest()[:FINGERPRINT]


def entry_of(schedule: RecurringSchedule, blob: str | None) -> Entry:
    """The entry of a recurring schedule stored as a file with fingerprint ``blob``."""
    if schedule.claimed_by is not None or schedule.claimed_at is not None:
        return Entry(0, blob)
    if schedule.status != "active":
        return Entry(None, blob)
    try:
        fire = next_fire(schedule.cron, schedule.timezone, schedule.anchor)
    except SwitchboardError:
        return Entry(None, blob)  # never fires again (31 February): a full scan finds it never due either
    # Floor: a wake a little early only opens the file a little early.
    return Entry(int(fire.timestamp()), blob)


def _split(path: str, suffix: str) -> tuple[str, str] | None:
    """(tenant, id) of a recurring schedule path, or None when it is not one."""
    parts = path.split("/")
    if len(parts) != 5 or f"{parts[0]}/{parts[1]}/{parts[2]}" != _RECURRING or not parts[4].endswith(suffix):
        return None
    name = parts[4][: -len(suffix)]
    return (parts[3], name) if name else None


def shard_path(schedule_id: str, suffix: str) -> str:
    """The shard that holds a schedule id's entry."""
    head = schedule_id[:2].lower()
    return f"{INDEX}/{head if _HEX2.match(head) else 'other'}{suffix}"


def _shard_of(path: str, suffix: str) -> str | None:
    split = _split(path, suffix)
    return None if split is None else shard_path(split[1], suffix)


# -- shards -------------------------------------------------------------------------


#: Entries as shards hold them: tenant -> schedule id -> [wake, blob] (checked when used).
_Raw = dict[str, dict[str, Any]]


def _shard_body(store: Store, path: str, raw: bytes | None) -> _Raw:
    """A shard's entries as stored; {} when it is absent, unreadable or of another format."""
    if raw is None:
        return {}
    try:
        body = json.loads(store.codec.decrypt(raw, path=path))
        entries = body["entries"] if body.get("format") == INDEX_FORMAT else {}
        if isinstance(entries, dict) and all(isinstance(ids, dict) for ids in entries.values()):
            return entries
    except (SwitchboardError, ValueError, TypeError, AttributeError, KeyError):
        pass
    # Not ours to trust: its entries count as missing and the next pass rebuilds them.
    return {}


def _entry(value: Any) -> Entry | None:
    """A stored [wake, blob] as an Entry; None when it is malformed (then it counts as missing)."""
    if isinstance(value, list) and len(value) == 2:
        wake, blob = value
        if (wake is None or type(wake) is int) and (blob is None or isinstance(blob, str)):
            return Entry(wake, blob)
    return None


def _entries(raw: _Raw, suffix: str) -> dict[str, Entry]:
    """Entries by recurring path."""
    found = {}
    for tenant, ids in raw.items():
        for schedule_id, value in ids.items():
            entry = _entry(value)
            if entry is not None:
                found[f"{_RECURRING}/{tenant}/{schedule_id}{suffix}"] = entry
    return found


def _decode_shard(store: Store, path: str, raw: bytes | None) -> dict[str, Entry]:
    """A shard's entries by recurring path; {} when it is absent, unreadable or of another format."""
    return _entries(_shard_body(store, path, raw), store.codec.suffix)


def _encode_shard(store: Store, entries: Mapping[str, Entry]) -> bytes:
    suffix = store.codec.suffix
    grouped: dict[str, dict[str, list[Any]]] = {}
    for path in sorted(entries):
        split = _split(path, suffix)
        if split is not None:
            grouped.setdefault(split[0], {})[split[1]] = [entries[path].wake, entries[path].blob]
    body = {"format": INDEX_FORMAT, "entries": grouped}
    return store.codec.encrypt(json.dumps(body, separators=(",", ":")).encode("utf-8"))


def _stored(store: Store) -> dict[str, list[Any]]:
    """Every entry of the index as stored ([wake, blob]), by recurring path; malformed ones left out.

    The store remembers each shard it decoded, with its ciphertext: a
    long-running process (`tick --watch`, `serve`) decrypts and unpacks only
    the shards that changed since its previous pass.
    """
    merged: dict[str, list[Any]] = {}
    cache: dict[str, tuple[bytes, dict[str, list[Any]]]] = store.memo.setdefault("index shards", {})
    for path in store.files(INDEX):
        raw = store.backend.read(path)
        if raw is None:
            continue
        known = cache.get(path)
        if known is None or known[0] != raw:
            known = cache[path] = (raw, _by_path(_shard_body(store, path, raw), store.codec.suffix))
        merged.update(known[1])  # copies: what the cache holds is never changed
    return merged


def _by_path(raw: _Raw, suffix: str) -> dict[str, list[Any]]:
    """A shard's stored entries keyed by recurring path, keeping only those shaped [int | None, str | None]."""
    return {
        f"{_RECURRING}/{tenant}/{schedule_id}{suffix}": value
        for tenant, ids in raw.items()
        for schedule_id, value in ids.items()
        if type(value) is list and len(value) == 2 and (value[0] is None or type(value[0]) is int)
    }


def read_index(store: Store) -> dict[str, Entry]:
    """Every entry of the index in the backend's current view, by recurring path."""
    return {path: entry for path, value in _stored(store).items() if (entry := _entry(value)) is not None}


def _blob_ids(store: Store, prefix: str) -> Mapping[str, str] | None:
    """Blob ids of the files below ``prefix`` from the backend's listing, if it offers them.

    A fingerprint is the first FINGERPRINT characters of one.
    """
    return store.backend.blob_ids(prefix)


# -- keeping it true: every commit ------------------------------------------------------


def stage(tx: Transaction) -> None:
    """Add to ``tx`` the shard changes its recurring writes, deletes and repairs call for.

    Called by ``Store.transact`` once ``compute`` has run, on the same state.
    Saved schedules are noted in ``tx.index_notes`` by ``Transaction.save``;
    other writes to a recurring path (``put``, as ``keys rotate`` does) are
    decoded here. Repairs from a pass are noted there as entries (or None).
    """
    store = tx.store
    suffix = store.codec.suffix
    object_format = store.backend.object_format
    updates: dict[str, Entry | None] = {}
    for path, content in tx.changes.items():
        if _split(path, suffix) is None:
            continue
        if content is None:
            updates[path] = None
            continue
        note = tx.index_notes.get(path)
        schedule = note if isinstance(note, RecurringSchedule) else _decode(store, path, content)
        blob = fingerprint(content, object_format)
        updates[path] = Entry(0, blob) if schedule is None else entry_of(schedule, blob)
    repairs = {p: n for p, n in tx.index_notes.items() if p not in tx.changes and not isinstance(n, RecurringSchedule)}
    if repairs and (updates or len(repairs) >= REPAIR_ALONE or _writes_anything_else(tx)):
        updates.update(repairs)
    by_shard: dict[str, dict[str, Entry | None]] = {}
    for path, entry in updates.items():
        shard = _shard_of(path, suffix)
        if shard is not None:
            by_shard.setdefault(shard, {})[path] = entry
    for shard, changed in by_shard.items():
        staged = tx.changes.get(shard, b"") if shard in tx.changes else store.backend.read(shard)
        current = _decode_shard(store, shard, staged or None)
        wanted = dict(current)
        for path, entry in changed.items():
            if entry is None:
                wanted.pop(path, None)
            else:
                wanted[path] = entry
        if wanted == current and (staged or not wanted):
            continue  # nothing changes in this shard: write nothing, so history does not grow
        tx.changes[shard] = _encode_shard(store, wanted) if wanted else None


def indexed_store(backend: Backend, codec: Codec) -> Store:
    """A Store whose every commit keeps this index true (``stage`` runs before each commit)."""
    return Store(backend, codec, stage)


def _writes_anything_else(tx: Transaction) -> bool:
    return any(not path.startswith(INDEX + "/") for path in tx.changes)


def _decode(store: Store, path: str, content: bytes) -> RecurringSchedule | None:
    """The recurring schedule in ``content``; None when it is not one (then every pass opens it)."""
    try:
        return RecurringSchedule.model_validate(store.decode(path, content), context=STORED)
    except (SwitchboardError, ValidationError):
        return None


# -- what a pass reads -------------------------------------------------------------------


def _children(store: Store, prefix: str) -> list[str] | None:
    return sorted(store.backend.children(prefix))


def due_one_time_files(store: Store, through: datetime) -> list[str]:
    """The one-time files in buckets up to ``through``'s hour; only those folders are listed.

    The same files as ``store.one_time_files(through=through)``, which walks every
    future bucket too: when the backend cannot list a folder's children, that is used.
    """
    dates = _children(store, _ONE_TIME)
    if dates is None:
        return store.one_time_files(through=through)
    at = utc(through)
    last = f"{at:%Y-%m-%d}/{at:%H}"
    found: list[str] = []
    for day in dates:
        if f"{day}/" > last:
            continue  # every bucket of this day sorts after `last` (a future day)
        for hour in _children(store, f"{_ONE_TIME}/{day}") or []:
            if f"{day}/{hour}" > last:
                continue
            found += [p for p in store.files(f"{_ONE_TIME}/{day}/{hour}") if p.count("/") == 6]
    return found


@dataclass
class _Scan:
    """One look at the recurring files through the index."""

    paths: list[str]
    #: The wake of every listed file: from a trusted entry, or recomputed from the file.
    wakes: dict[str, int | None]
    repairs: dict[str, Entry | None]
    loaded: dict[str, RecurringSchedule]


def _scan(store: Store, wanted: Callable[[int | None], bool]) -> _Scan:
    """Check the index against the listing; open the files whose wake is ``wanted`` or whose entry is not trusted.

    This runs on every pass over every recurring path, so the common case (an
    entry whose fingerprint matches) costs a few dictionary lookups: entries
    stay as the shards' JSON holds them, and an Entry is made only for what is
    repaired.
    """
    blobs = _blob_ids(store, _RECURRING)
    suffix = store.codec.suffix
    if blobs is None:
        paths = store.recurring_files()
    else:  # the same files as a walk of the folder finds in a clean clone, without the walk
        paths = sorted(p for p in blobs if p.endswith(suffix) and p.count("/") == 4)
    stored = _stored(store)
    # Trusted: an entry whose fingerprint is the file's blob id (without blob ids, any entry at all).
    if blobs is None:
        trusted = [p for p in paths if p in stored]
    else:
        trusted = [p for p in paths if (v := stored.get(p)) is not None and v[1] == blobs[p][:FINGERPRINT]]
    scan = _Scan(paths, {p: stored[p][0] for p in trusted}, {}, {})
    for path, wake in scan.wakes.items():
        if wanted(wake):
            scan.loaded[path] = store.load_recurring(path)
    for path in paths:
        if path in scan.wakes:
            continue
        entry = _entry(stored.get(path))
        blob = None if blobs is None else blobs[path][:FINGERPRINT]
        schedule = store.load_recurring(path)
        scan.loaded[path] = schedule
        fresh = entry_of(schedule, blob if blobs is not None else (entry.blob if entry else None))
        scan.wakes[path] = fresh.wake
        # Without blob ids an entry cannot be checked: the file is reread every pass, and repaired only
        # when its wake moved, so it never causes a commit per pass.
        if entry is None or (fresh != entry and (blob is not None or fresh.wake != entry.wake)):
            scan.repairs[path] = fresh
    listed = set(paths)
    for path in stored.keys() - listed:
        scan.repairs[path] = None
    return scan


def due_recurring(store: Store, now: datetime, tx: Transaction | None = None) -> list[tuple[str, RecurringSchedule]]:
    """The recurring schedules a pass at ``now`` must look at: every one a full scan could find due or busy.

    Repairs found on the way are noted in ``tx`` (and so committed with it).
    """
    moment = utc(now).timestamp()
    scan = _scan(store, lambda wake: wake is not None and wake <= moment)
    if tx is not None and scan.repairs:
        tx.index_notes.update(scan.repairs)
    return [(path, scan.loaded[path]) for path in scan.paths if path in scan.loaded]


def next_due(
    store: Store, after: datetime, *, on_secrets: Callable[[list[str]], None] | None = None
) -> datetime | None:
    """The earliest instant after ``after`` at which something falls due (None: nothing is scheduled).

    One-time buckets are walked in time order from ``after``'s hour and the
    walk stops at the first bucket holding something later than ``after``; a
    recurring file is opened only when its entry cannot answer (claimed, due
    already, or not trusted).
    """
    after = utc(after)
    loaded: list[Schedule] = []
    best = _next_one_time(store, after, loaded)
    moment = after.timestamp()
    scan = _scan(store, lambda wake: wake is not None and wake <= moment)
    for path in scan.paths:
        wake = scan.wakes.get(path)
        rec = scan.loaded.get(path)
        when: datetime | None = None
        if rec is not None:
            loaded.append(rec)
            if rec.status != "active":
                continue
            try:
                when = next_fire(rec.cron, rec.timezone, max(rec.anchor, after))
            except SwitchboardError:
                continue  # a cron that never fires again has no next fire to wait for
        elif wake is not None:
            # Trusted, active, unclaimed and later than `after`: its next fire after `after` is its wake.
            when = datetime.fromtimestamp(wake, UTC)
        if when is not None and (best is None or when < best):
            best = when
    if on_secrets is not None:
        on_secrets(sorted({s.api_key for s in loaded if s.api_key}))
    return best


def _next_one_time(store: Store, after: datetime, loaded: list[Schedule]) -> datetime | None:
    """The earliest execute_at later than ``after``, from the first bucket (in time order) that has one."""
    first_day, first_hour = f"{after:%Y-%m-%d}", f"{after:%H}"
    for day, hour in _buckets_from(store, first_day, first_hour):
        best: datetime | None = None
        for path in store.files(f"{_ONE_TIME}/{day}/{hour}"):
            if path.count("/") != 6:
                continue
            one: OneTimeSchedule = store.load_one_time(path)
            loaded.append(one)
            if one.execute_at > after and (best is None or one.execute_at < best):
                best = one.execute_at
        if best is not None:
            return best
    return None


def _buckets_from(store: Store, first_day: str, first_hour: str) -> Iterator[tuple[str, str]]:
    """(date, hour) bucket folders at or after the given one, in time order."""
    dates = _children(store, _ONE_TIME)
    if dates is None:
        dates = sorted({p.split("/")[3] for p in store.one_time_files()})
    for day in dates:
        if day < first_day:
            continue
        hours = _children(store, f"{_ONE_TIME}/{day}")
        if hours is None:
            hours = sorted({p.split("/")[4] for p in store.one_time_files() if p.split("/")[3] == day})
        for hour in hours:
            if day == first_day and hour < first_hour:
                continue
            yield day, hour
