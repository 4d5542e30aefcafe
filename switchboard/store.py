"""The data/ tree: where each record lives, and how it is read and written.

    data/tenant.key.enc                                           tenant secret (data/tenant.key in dev mode)
    data/schedules/recurring/{tenant}/{id}.json.enc
    data/schedules/one-time/{YYYY-MM-DD}/{HH}/{tenant}/{id}.json.enc   UTC bucket
    data/results/{tenant}/{schedule_id}/{executed_at}-{nonce}.json.enc
    data/results/{tenant}/{schedule_id}/{executed_at}-{nonce}~{checked_at}.json.enc   a later line for it
    data/runs/{tenant}/{executed_at}-{schedule_id}-{nonce}.json.enc    a run still to follow (see tick/following.py)
    data/native/{tenant}/{schedule_id}.json.enc                   a fire armed at Letta (see native/record.py)
    data/native/wanted/{tenant}/{schedule_id}.json.enc            a schedule on Letta's clock: where it lives

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
from switchboard.exceptions import ConfigError, ContentionError, DecryptError, NotFoundError
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
#: Native schedules armed at Letta (see switchboard/native), and where each schedule on Letta's clock lives.
NATIVE = f"{DATA}/native"
NATIVE_WANTED = f"{NATIVE}/wanted"
TENANT_KEY = f"{DATA}/tenant.key.enc"
#: The tenant secret of a dev-mode (plaintext) tree.
TENANT_KEY_PLAIN = f"{DATA}/tenant.key"

T = TypeVar("T")

#: What to do about files a pass or a listing skipped (said in the tick output, the job summary and doctor).
UNREADABLE_FIX = (
    "Restore each from git history (`git log -- PATH`), add the key that wrote it to SWITCHBOARD_ENCRYPTION_KEY, "
    "or delete it; `switchboard doctor` lists them too."
)

_NOT_A_RECORD = "{path} is not a switchboard record — remove it or restore it from git"
_NOT_A_RECORD_WHY = "opens, but is not a switchboard record"
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


def native_wanted_path(tenant: str, schedule_id: str, suffix: str) -> str:
    """Where the note lives that a schedule is on Letta's clock (it holds the schedule's path)."""
    return f"{NATIVE_WANTED}/{tenant}/{schedule_id}{suffix}"


def schedule_id_of(path: str) -> str:
    """The schedule id a schedule file's name carries."""
    return path.rsplit("/", 1)[-1].split(".", 1)[0]


def tenant_of_path(path: str) -> str:
    """The tenant folder a schedule or result path sits in."""
    parts = path.split("/")
    if path.startswith(RESULTS):
        return parts[2]
    return parts[-2]


@dataclass(frozen=True)
class Patience:
    """How long a write keeps trying while others keep committing first."""

    #: Tries at most (and at least, whatever the time).
    attempts: int = 8
    #: Past the first ``least`` tries, stop once this many seconds have gone by (0: only ``attempts`` counts).
    seconds: float = 0.0
    #: The longest pause between tries (each pause is random, up to twice the last one's cap).
    max_backoff: float = 2.0
    least: int = 8

    def goes_on(self, attempt: int, elapsed: float) -> bool:
        """Whether to try again after ``attempt`` lost tries and ``elapsed`` seconds."""
        if attempt >= self.attempts:
            return False
        return attempt < self.least or not self.seconds or elapsed < self.seconds


#: A tick: it runs again in minutes, and must not hold up the next one.
TICK_PATIENCE = Patience()
#: A person (or a script) is waiting, and would otherwise have to run the command again: many more tries,
#: for up to two minutes, each soon after the last (jittered up to half a second). A loser that backs off
#: long behind writers that keep landing only loses again; the ticks' longer back-off makes room for it.
INTERACTIVE_PATIENCE = Patience(attempts=200, seconds=120.0, max_backoff=0.5)


@dataclass
class Store:
    """The encrypted data/ tree on a backend."""

    backend: Backend
    codec: Codec
    #: Run on every transaction before it commits: the recurring index's step (``index.indexed_store`` hands it in).
    before_commit: Callable[[Transaction], None]
    #: What readers keep between calls on this store, each under its own name (see index._stored).
    memo: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)
    #: Files a listing or a pass skipped because they do not open: path -> why (see ``readable``).
    unreadable: dict[str, str] = field(default_factory=dict, repr=False, compare=False)
    #: How long ``transact`` keeps trying when others commit first (commands a person waits on try longer).
    patience: Patience = field(default=TICK_PATIENCE, compare=False)
    #: Refuse to make the tenant secret in a tree without data/ (a repository never set up: see ``Transaction.tenant``).
    setup_required: bool = field(default=False, compare=False)

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
            raise DecryptError(_NOT_A_RECORD.format(path=path), path=path, reason=_NOT_A_RECORD_WHY) from None
        if not isinstance(body, dict) or not isinstance(body.get("record"), dict):
            raise DecryptError(_NOT_A_RECORD.format(path=path), path=path, reason=_NOT_A_RECORD_WHY)
        version = body.get("format")
        if version != FORMAT_VERSION:
            raise DecryptError(
                f"{path} has format {version!r}; this switchboard reads format {FORMAT_VERSION} — upgrade switchboard",
                path=path,
                reason=f"has format {version!r} (upgrade switchboard to read it)",
            )
        record: dict[str, Any] = body["record"]
        return record

    def _validate(self, model: type[R], path: str, fields: dict[str, Any]) -> R:
        try:
            return model.model_validate(fields, context=STORED)
        except ValidationError as exc:
            raise DecryptError(
                f"{path} holds an invalid record ({describe_validation(exc)}) — remove it or restore it from git",
                path=path,
                reason="holds an invalid record",
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

    def readable(self, path: str, load: Callable[[str], T]) -> T | None:
        """``load(path)``, or None when the file does not open: it is noted in ``unreadable`` and skipped.

        One file nobody can read (random bytes, cut short, another key's) must
        not stop a listing or a pass for everyone else.
        """
        try:
            return load(path)
        except DecryptError as exc:
            self.unreadable[path] = exc.reason or str(exc)
            return None
        except NotFoundError:
            return None  # gone since it was listed: there is nothing to show

    def take_unreadable(self) -> dict[str, str]:
        """The files skipped since the last call (path -> why), forgetting them."""
        taken, self.unreadable = self.unreadable, {}
        return taken

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
        loaded = (self.readable(p, self.load_one_time) for p in self.one_time_files(tenant=tenant))
        return sorted((s for s in loaded if s is not None), key=lambda s: (s.execute_at, s.id))

    def recurring(self, tenant: str | None) -> list[RecurringSchedule]:
        """A tenant's recurring schedules, oldest first."""
        if tenant is None:
            return []
        loaded = (self.readable(p, self.load_recurring) for p in self.recurring_files(tenant=tenant))
        return sorted((s for s in loaded if s is not None), key=lambda s: (s.created_at, s.id))

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
        return [r for r in (self.readable(p, self.load_result) for p in files) if r is not None]

    # -- writing --------------------------------------------------------

    def transact(self, message: str, compute: Callable[[Transaction], T], *, attempts: int | None = None) -> T:
        """Refresh, compute a change, commit it on that state; retry when beaten to it.

        How long it keeps trying is the store's ``patience`` (``attempts``, when
        given, is an exact count instead). Giving up is ContentionError, and
        then nothing was written.
        """
        patience = self.patience if attempts is None else Patience(attempts=attempts, seconds=0.0)
        rng = random.Random()
        started = time.monotonic()
        attempt = 0
        while True:
            attempt += 1
            self.backend.refresh()
            tx = Transaction(self)
            value = compute(tx)
            self.before_commit(tx)
            if not tx.changes or self.backend.commit(dict(tx.changes), message):
                return value
            elapsed = time.monotonic() - started
            if not patience.goes_on(attempt, elapsed):
                raise ContentionError(
                    f"gave up after {attempt} attempts in {elapsed:.0f} s: the repository kept changing under us "
                    "(others committed first every time) — nothing was written; try again",
                    attempts=attempt,
                    seconds=elapsed,
                )
            # Someone else committed first: back off (full jitter, so writers that collided spread out) and recompute.
            time.sleep(rng.uniform(0.0, min(patience.max_backoff, 0.05 * 2**attempt)))


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
            if self.store.setup_required and not self.store.backend.list(DATA):
                # Not a switchboard repository (no data/ at all): writing here would commit a key and a schedule
                # into someone's project without a word.
                raise ConfigError(
                    f"{self.store.backend.describe()} has no data/ folder: it was never set up for switchboard — "
                    "run `switchboard init` in it first, or point --repo (SWITCHBOARD_REPO) at your switchboard "
                    "clone; nothing was written"
                )
            self.make_tenant_secret()
        assert self._secret is not None
        return tenant_of(self._secret, api_key or "")

    def make_tenant_secret(self) -> None:
        """Stage a new tenant secret (``switchboard init``, or the first write to a set-up tree)."""
        self._secret = new_tenant_secret()
        self.changes[self.store.tenant_key] = self.store.codec.encrypt(self._secret)

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
        if schedule.clock == "letta":
            # The reconcile step reads these, not every schedule (a one-time schedule's path moves with its time).
            wanted = native_wanted_path(tenant, schedule.id, suffix)
            if isinstance(schedule, OneTimeSchedule) or self.store.backend.read(wanted) is None:
                body = {"format": FORMAT_VERSION, "record": {"path": path}}
                self.changes[wanted] = self.store.codec.encrypt(json.dumps(body).encode("utf-8"))
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
