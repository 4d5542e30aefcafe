"""The data/ tree: where each record lives, and how it is read and written.

    data/tenant.key.enc                                           tenant secret (data/tenant.key in dev mode)
    data/schedules/recurring/{tenant}/{id}.json.enc
    data/schedules/one-time/{YYYY-MM-DD}/{HH}/{tenant}/{id}.json.enc   UTC bucket
    data/results/{tenant}/{schedule_id}/{executed_at}-{nonce}.json.enc
    data/results/{tenant}/{schedule_id}/{executed_at}-{nonce}~{checked_at}.json.enc   a later line for it
    data/runs/{tenant}/{executed_at}-{schedule_id}-{nonce}.json.enc    a run still to follow (see tick/following.py)

Every file is an envelope ``{"format": 1, "record": {...}}`` encrypted with
the codec (plain ``.json`` files, and ``data/tenant.key``, in dev mode, so the
two never read each other's files). Paths hold only UUIDs, UTC dates and keyed hashes: nothing in a
path or a file tells a reader without the key what is scheduled. Results are
append-only: what is learnt about a delivery later (its run's end) is a new
line named after its first, and every listing shows each delivery's newest line.

Writes go through ``Store.transact``: read a fresh state, compute the change
from it, commit it on exactly that state, and start over when someone else
committed first (see backends/base.py).
"""

from __future__ import annotations

import json
import random
import secrets
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

from pydantic import ValidationError

from switchboard.backends.base import Backend
from switchboard.crypto import Codec, new_tenant_secret, tenant_of
from switchboard.exceptions import BackendError, DecryptError, NotFoundError
from switchboard.models import (
    FORMAT_VERSION,
    STORED,
    OneTimeSchedule,
    RecurringSchedule,
    Result,
    Schedule,
    check_id,
    describe_validation,
    utc,
)

DATA = "data"
ONE_TIME = f"{DATA}/schedules/one-time"
RECURRING = f"{DATA}/schedules/recurring"
RESULTS = f"{DATA}/results"
RUNS = f"{DATA}/runs"
TENANT_KEY = f"{DATA}/tenant.key.enc"
#: The tenant secret of a dev-mode (plaintext) tree.
TENANT_KEY_PLAIN = f"{DATA}/tenant.key"

T = TypeVar("T")
R = TypeVar("R", OneTimeSchedule, RecurringSchedule, Result)


def bucket(instant: datetime) -> str:
    """The one-time bucket of an instant: its UTC date and hour."""
    at = utc(instant)
    return f"{at:%Y-%m-%d}/{at:%H}"


def tenant_key_path(codec: Codec) -> str:
    """Where the tenant secret lives for this codec."""
    return TENANT_KEY_PLAIN if codec.plaintext else TENANT_KEY


def one_time_path(tenant: str, schedule: OneTimeSchedule, suffix: str) -> str:
    """Where a one-time schedule lives."""
    return f"{ONE_TIME}/{bucket(schedule.execute_at)}/{tenant}/{schedule.id}{suffix}"


def recurring_path(tenant: str, schedule_id: str, suffix: str) -> str:
    """Where a recurring schedule lives."""
    return f"{RECURRING}/{tenant}/{schedule_id}{suffix}"


def result_path(tenant: str, result: Result, suffix: str, nonce: str | None = None) -> str:
    """Where a result lives: sorted by time within its schedule's folder."""
    name = f"{_stamp(result.executed_at)}-{nonce or secrets.token_hex(4)}"
    return f"{RESULTS}/{tenant}/{result.schedule_id}/{name}{suffix}"


def _stamp(instant: datetime) -> str:
    return f"{utc(instant):%Y%m%dT%H%M%S%fZ}"


def result_update_path(path: str, checked_at: datetime, suffix: str) -> str:
    """Where a later line for the delivery whose first line is ``path`` goes (it sorts after that line)."""
    return f"{delivery_of(path, suffix)[0]}~{_stamp(checked_at)}{suffix}"


def delivery_of(path: str, suffix: str) -> tuple[str, str]:
    """(the delivery's first line without suffix, the revision: "" for it, a time for a later line)."""
    stem = path[: -len(suffix)] if suffix and path.endswith(suffix) else path
    head, _, rev = stem.partition("~")
    return head, rev


def pending_run_path(result_file: str, suffix: str) -> str:
    """Where the note lives that the delivery at ``result_file`` has a run still to follow (oldest sorts first)."""
    parts = result_file.split("/")  # data results TENANT SCHEDULE FILE
    stamp, _, nonce = delivery_of(parts[4], suffix)[0].partition("-")
    return f"{RUNS}/{parts[2]}/{stamp}-{parts[3]}-{nonce}{suffix}"


def result_time(path: str) -> datetime | None:
    """The executed_at instant encoded in a result file's name."""
    name = path.rsplit("/", 1)[-1]
    try:
        # The stamp is 22 characters (YYYYmmddTHHMMSSffffffZ); the nonce follows a "-".
        return datetime.strptime(name[:22], "%Y%m%dT%H%M%S%fZ").replace(tzinfo=UTC)
    except ValueError:
        return None


def schedule_id_of(path: str) -> str:
    """The schedule id a schedule file's name carries."""
    return path.rsplit("/", 1)[-1].split(".", 1)[0]


def tenant_of_path(path: str) -> str:
    """The tenant folder a schedule or result path sits in."""
    parts = path.split("/")
    if path.startswith(RESULTS):
        return parts[2]
    return parts[-2]


@dataclass
class Store:
    """The encrypted data/ tree on a backend."""

    backend: Backend
    codec: Codec
    #: Run on every transaction before it commits: the recurring index's step (``index.indexed_store`` hands it in).
    before_commit: Callable[[Transaction], None]
    #: What readers keep between calls on this store, each under its own name (see index._stored).
    memo: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    # -- encoding -------------------------------------------------------

    def encode(self, record: OneTimeSchedule | RecurringSchedule | Result) -> bytes:
        """Envelope and encrypt a record."""
        body = {"format": FORMAT_VERSION, "record": record.model_dump(mode="json")}
        return self.codec.encrypt(json.dumps(body, separators=(",", ":")).encode("utf-8"))

    def decode(self, path: str, raw: bytes) -> dict[str, Any]:
        """Decrypt and unwrap a record's fields."""
        try:
            body = json.loads(self.codec.decrypt(raw, path=path))
        except (UnicodeDecodeError, json.JSONDecodeError):
            raise DecryptError(f"{path} is not a switchboard record — remove it or restore it from git") from None
        if not isinstance(body, dict) or not isinstance(body.get("record"), dict):
            raise DecryptError(f"{path} is not a switchboard record — remove it or restore it from git")
        version = body.get("format")
        if version != FORMAT_VERSION:
            raise DecryptError(
                f"{path} has format {version!r}; this switchboard reads format {FORMAT_VERSION} — upgrade switchboard"
            )
        record: dict[str, Any] = body["record"]
        return record

    def _validate(self, model: type[R], path: str, fields: dict[str, Any]) -> R:
        try:
            return model.model_validate(fields, context=STORED)
        except ValidationError as exc:
            raise DecryptError(
                f"{path} holds an invalid record ({describe_validation(exc)}) — remove it or restore it from git"
            ) from None

    def _read(self, path: str) -> dict[str, Any]:
        raw = self.backend.read(path)
        if raw is None:
            raise NotFoundError(f"{path} vanished while it was being read — run the command again")
        return self.decode(path, raw)

    # -- tenants --------------------------------------------------------

    @property
    def tenant_key(self) -> str:
        """The path of the tenant secret (data/tenant.key.enc; data/tenant.key in dev mode)."""
        return tenant_key_path(self.codec)

    def tenant_secret(self) -> bytes | None:
        """The tenant secret, when the tree has one yet."""
        raw = self.backend.read(self.tenant_key)
        if raw is None:
            return None
        return self.codec.decrypt(raw, path=self.tenant_key)

    def tenant(self, api_key: str | None) -> str | None:
        """The tenant folder of a Letta key, or None before the tree has a secret."""
        secret = self.tenant_secret()
        return None if secret is None else tenant_of(secret, api_key or "")

    # -- reading --------------------------------------------------------

    def files(self, prefix: str) -> list[str]:
        """Record files below ``prefix`` written by this codec."""
        return [p for p in self.backend.list(prefix) if p.endswith(self.codec.suffix)]

    def one_time_files(self, *, tenant: str | None = None, through: datetime | None = None) -> list[str]:
        """One-time schedule files, optionally of one tenant and in buckets up to ``through``'s hour."""
        last = bucket(through) if through is not None else None
        found = []
        for path in self.files(ONE_TIME):
            parts = path.split("/")  # data schedules one-time DATE HOUR TENANT FILE
            if len(parts) != 7:
                continue  # not where switchboard puts a schedule: not ours to read
            if tenant is not None and parts[5] != tenant:
                continue
            if last is not None and f"{parts[3]}/{parts[4]}" > last:
                continue
            found.append(path)
        return found

    def recurring_files(self, *, tenant: str | None = None) -> list[str]:
        """Recurring schedule files, optionally of one tenant."""
        prefix = RECURRING if tenant is None else f"{RECURRING}/{tenant}"
        return [p for p in self.files(prefix) if p.count("/") == 4]  # data/schedules/recurring/TENANT/FILE

    def load_one_time(self, path: str) -> OneTimeSchedule:
        """Read a one-time schedule."""
        return self._validate(OneTimeSchedule, path, self._read(path))

    def load_recurring(self, path: str) -> RecurringSchedule:
        """Read a recurring schedule."""
        return self._validate(RecurringSchedule, path, self._read(path))

    def load(self, path: str) -> Schedule:
        """Read a schedule of either kind."""
        return self.load_one_time(path) if path.startswith(ONE_TIME) else self.load_recurring(path)

    def one_time(self, tenant: str | None) -> list[OneTimeSchedule]:
        """A tenant's one-time schedules, due first."""
        if tenant is None:
            return []
        items = [self.load_one_time(p) for p in self.one_time_files(tenant=tenant)]
        return sorted(items, key=lambda s: (s.execute_at, s.id))

    def recurring(self, tenant: str | None) -> list[RecurringSchedule]:
        """A tenant's recurring schedules, oldest first."""
        if tenant is None:
            return []
        items = [self.load_recurring(p) for p in self.recurring_files(tenant=tenant)]
        return sorted(items, key=lambda s: (s.created_at, s.id))

    def locate(self, tenant: str | None, schedule_id: str, kind: str | None = None) -> str:
        """The path of a tenant's schedule; NotFoundError when there is none."""
        schedule_id = check_id(schedule_id)
        name = f"{schedule_id}{self.codec.suffix}"
        if tenant is not None:
            if kind in (None, "recurring"):
                path = recurring_path(tenant, schedule_id, self.codec.suffix)
                if self.backend.read(path) is not None:
                    return path
            if kind in (None, "one-time"):
                for path in self.one_time_files(tenant=tenant):
                    if path.endswith("/" + name):
                        return path
        what = {"one-time": "one-time schedule", "recurring": "recurring schedule"}.get(kind or "", "schedule")
        lists = {"one-time": "`switchboard onetime list`", "recurring": "`switchboard recurring list`"}
        where = lists.get(kind or "", f"{lists['one-time']} or {lists['recurring']}")
        raise NotFoundError(f"no {what} with id {schedule_id} for this Letta key — list them with {where}")

    def owner_of(self, schedule_id: str) -> str | None:
        """The tenant that holds a schedule id, whoever it is (for 403 versus 404)."""
        name = f"/{check_id(schedule_id)}{self.codec.suffix}"
        for path in self.files(f"{DATA}/schedules"):
            if path.endswith(name):
                return tenant_of_path(path)
        return None

    def result_files(self, tenant: str | None, schedule_id: str | None = None) -> list[str]:
        """A tenant's result files (of one schedule), oldest first: the newest line of each delivery.

        Chosen by file name alone, so a listing decrypts only what it shows.
        """
        if tenant is None:
            return []
        prefix = f"{RESULTS}/{tenant}"
        if schedule_id is not None:
            prefix += f"/{check_id(schedule_id)}"
        suffix = self.codec.suffix
        newest: dict[str, tuple[str, str]] = {}
        for path in self.files(prefix):
            head, rev = delivery_of(path, suffix)
            if head not in newest or rev > newest[head][0]:
                newest[head] = (rev, path)
        lines = [path for _, path in newest.values()]
        return sorted(lines, key=lambda p: (delivery_of(p, suffix)[0].rsplit("/", 1)[-1], p))

    def load_result(self, path: str) -> Result:
        """Read one result line."""
        return self._validate(Result, path, self._read(path))

    def results(self, tenant: str | None, schedule_id: str | None = None, *, limit: int | None = None) -> list[Result]:
        """A tenant's results, newest first (one per delivery: its newest line)."""
        files = list(reversed(self.result_files(tenant, schedule_id)))
        if limit is not None:
            files = files[:limit]
        return [self.load_result(p) for p in files]

    # -- writing --------------------------------------------------------

    def transact(self, message: str, compute: Callable[[Transaction], T], *, attempts: int = 8) -> T:
        """Refresh, compute a change, commit it on that state; retry when beaten to it."""
        rng = random.Random()
        for attempt in range(1, attempts + 1):
            self.backend.refresh()
            tx = Transaction(self)
            value = compute(tx)
            self.before_commit(tx)
            if not tx.changes or self.backend.commit(dict(tx.changes), message):
                return value
            # Someone else committed first: back off a little (jittered) and recompute.
            time.sleep(min(2.0, 0.05 * 2**attempt) * rng.random())
        raise BackendError(f"gave up after {attempts} attempts: the repository kept changing under us — try again")


@dataclass
class Transaction:
    """A change being computed on one state of the tree."""

    store: Store
    changes: dict[str, bytes | None] = field(default_factory=dict)
    _secret: bytes | None = field(default=None, repr=False)
    #: Recurring schedules saved, and index repairs, for index.stage (run by Store.transact before committing).
    index_notes: dict[str, Any] = field(default_factory=dict, repr=False)

    def tenant(self, api_key: str | None) -> str:
        """The tenant folder of a key, making the tree's tenant secret on first use."""
        if self._secret is None:
            self._secret = self.store.tenant_secret()
        if self._secret is None:
            self._secret = new_tenant_secret()
            self.changes[self.store.tenant_key] = self.store.codec.encrypt(self._secret)
        return tenant_of(self._secret, api_key or "")

    def tenant_secret(self) -> bytes:
        """The tree's tenant secret, made on first use as ``tenant`` does (to key other HMACs with)."""
        self.tenant(None)
        assert self._secret is not None
        return self._secret

    def save(self, schedule: Schedule) -> str:
        """Write a schedule where it belongs; returns its path."""
        tenant = self.tenant(schedule.api_key)
        suffix = self.store.codec.suffix
        if isinstance(schedule, OneTimeSchedule):
            path = one_time_path(tenant, schedule, suffix)
        else:
            path = recurring_path(tenant, schedule.id, suffix)
            self.index_notes[path] = schedule  # so index.stage need not decrypt what we just encrypted
        self.changes[path] = self.store.encode(schedule)
        return path

    def delete(self, path: str) -> None:
        """Remove a file."""
        self.changes[path] = None

    def put(self, path: str, content: bytes) -> None:
        """Write raw bytes (already encrypted) to a path."""
        self.changes[path] = content

    def add_result(self, result: Result, api_key: str | None, *, nonce: str | None = None) -> str:
        """Append a result for the tenant of ``api_key``."""
        path = result_path(self.tenant(api_key), result, self.store.codec.suffix, nonce)
        self.changes[path] = self.store.encode(result)
        return path


def prune_results(store: Store, now: datetime, keep: timedelta) -> Iterator[str]:
    """Result files older than ``keep`` (by the time in their names)."""
    cutoff = utc(now) - keep
    for path in store.files(RESULTS):
        when = result_time(path)
        if when is not None and when < cutoff:
            yield path
