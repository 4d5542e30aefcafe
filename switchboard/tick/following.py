"""Runs followed to their end: a small encrypted list of unfinished runs, and the step that checks them.

A result is written when Letta answers the send, and the run it names is
usually still ``created`` or ``running`` then. The record commit that writes
such a result also writes a note beside the results::

    data/runs/{tenant}/{executed_at}-{schedule_id}-{nonce}.json.enc

holding (encrypted, like everything under data/) the run id, the agent, the
Letta server and key the run belongs to, and the result's path. Each pass
starts by listing that one folder: with nothing unfinished (the common case)
it costs one listing and decrypts nothing. Otherwise it opens the oldest
``TickOptions.follow_limit`` notes (file names sort by delivery time), asks
``GET /v1/runs/{id}`` for each (in parallel, bounded), and for every run that
has ended commits, in one commit, a new line for the delivery with the final
``run_status`` and ``stop_reason`` (a failed or cancelled run, or one that stopped for approval, makes it a
failure; see run_end.py), pauses a recurring schedule whose failure is
permanent, and deletes the note. A run still unfinished
``TickOptions.run_timeout`` after its delivery (24 h) ends as ``unknown``.
Runs that are still going cost no commit. Two passes following the same note
cannot both write: the commit is computed on a fresh state, and a note that
is gone there was followed by the other.

``switchboard results list --refresh`` runs the same step for the caller's key.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from switchboard.exceptions import ConfigError, DecryptError, LettaPermanentError, LettaTransientError
from switchboard.models import FORMAT_VERSION, Result, Schedule, utc
from switchboard.store import RUNS, Store, Transaction, pending_run_path, recurring_path, result_update_path
from switchboard.tick.delivery import Clients
from switchboard.tick.model import BUSY, ClientFactory, TickOptions
from switchboard.tick.run_end import RunEnd, judge


@dataclass(frozen=True)
class PendingRun:
    """A delivery whose run was unfinished when it was recorded."""

    path: str
    result_path: str
    run_id: str
    agent_id: str
    schedule_id: str
    schedule_type: str
    base_url: str
    api_key: str | None
    sent_at: datetime


def note_pending(tx: Transaction, result_path: str, result: Result, schedule: Schedule) -> None:
    """Stage the note that the run of the result at ``result_path`` is to be followed."""
    if not result.unfinished or result.run_id is None:
        return
    body = {
        "result": result_path,
        "run_id": result.run_id,
        "agent_id": result.agent_id,
        "schedule_id": result.schedule_id,
        "schedule_type": result.schedule_type,
        "base_url": schedule.base_url,
        "api_key": schedule.api_key,
        "sent_at": utc(result.executed_at).isoformat(),
    }
    envelope = json.dumps({"format": FORMAT_VERSION, "record": body}, separators=(",", ":"))
    raw = tx.store.codec.encrypt(envelope.encode("utf-8"))
    tx.put(pending_run_path(result_path, tx.store.codec.suffix), raw)


def pending_runs(store: Store, tenant: str | None = None) -> list[str]:
    """The notes of unfinished runs (of one tenant), oldest delivery first."""
    prefix = RUNS if tenant is None else f"{RUNS}/{tenant}"
    return sorted(store.files(prefix), key=lambda p: (p.rsplit("/", 1)[-1], p))


def _read(store: Store, path: str) -> PendingRun:
    raw = store.backend.read(path)
    if raw is None:
        raise DecryptError(f"{path} vanished while it was being read — run the command again")
    body: dict[str, Any] = store.decode(path, raw)
    try:
        return PendingRun(
            path=path,
            result_path=str(body["result"]),
            run_id=str(body["run_id"]),
            agent_id=str(body["agent_id"]),
            schedule_id=str(body["schedule_id"]),
            schedule_type=str(body["schedule_type"]),
            base_url=str(body["base_url"]),
            api_key=body["api_key"] if isinstance(body.get("api_key"), str) else None,
            sent_at=utc(datetime.fromisoformat(str(body["sent_at"]))),
        )
    except (KeyError, ValueError, TypeError):
        raise DecryptError(f"{path} is not a note of an unfinished run — delete it (its result stays)") from None


def _check(
    clients: Clients, pending: PendingRun, now: datetime, options: TickOptions, unreached: set[str]
) -> RunEnd | None:
    """The run's end, or None while it is still going (and not yet past the run timeout).

    A server no connection could be made to this pass is not asked again in it (``unreached``):
    each try can wait for the connect timeout, and the pass's deliveries wait for the following.
    """
    status = "unanswered"
    if pending.base_url in unreached:
        return _timed_out(pending, now, options, status)
    try:
        client = clients.get(pending.base_url, pending.api_key)
        run = client.get_run(pending.run_id)
    except (LettaPermanentError, ConfigError) as exc:
        # Gone, or this key may no longer read it: nobody will learn more about this run.
        return RunEnd("unknown", error=f"could not follow Letta run {pending.run_id}: {exc}")
    except LettaTransientError as exc:
        if exc.unreached:
            unreached.add(pending.base_url)
    except Exception:
        pass  # Letta is struggling (or a bug): ask again next time; what is due is delivered all the same
    else:
        if run.status not in BUSY:
            return judge(client, pending.agent_id, run)
        status = run.status
    return _timed_out(pending, now, options, status)


def _timed_out(pending: PendingRun, now: datetime, options: TickOptions, status: str) -> RunEnd | None:
    """The end of a run still ``status`` past the run timeout (unknown), else None: ask again next pass."""
    if now - pending.sent_at >= options.run_timeout:
        seconds = options.run_timeout.total_seconds()
        limit = f"{seconds / 3600:g} hours" if seconds % 3600 == 0 else f"{seconds / 60:g} minutes"
        error = f"Letta run {pending.run_id} still {status} after {limit}: no longer followed"
        return RunEnd("unknown", error=error)
    return None


def settled(result: Result, end: RunEnd, now: datetime) -> Result:
    """The line that records ``end`` for a delivery whose newest line is ``result``."""
    update: dict[str, Any] = {"run_status": end.status, "stop_reason": end.stop_reason, "run_checked_at": utc(now)}
    if end.failed:
        update["status"] = "failed"
    if end.error is not None:
        update["error"] = end.error
    return result.model_copy(update=update)


def _pause(tx: Transaction, pending: PendingRun, error: str | None) -> None:
    tenant = pending.path.split("/")[2]
    path = recurring_path(tenant, pending.schedule_id, tx.store.codec.suffix)
    if tx.store.backend.read(path) is None:
        return  # deleted since
    current = tx.store.load_recurring(path)
    # Only while it still sends where that run went: pointed at another agent since, this failure is not its own.
    if current.status == "active" and (current.agent_id, current.base_url) == (pending.agent_id, pending.base_url):
        reason = f"paused after a permanent failure: {error}"
        tx.save(current.model_copy(update={"status": "paused", "paused_reason": reason}))


def _stage(
    tx: Transaction, ends: Sequence[tuple[PendingRun, RunEnd]], unreadable: Sequence[str], now: datetime
) -> list[Result]:
    store = tx.store
    results: list[Result] = []
    for path in unreadable:
        if store.backend.read(path) is not None:
            tx.delete(path)
    for pending, end in ends:
        if store.backend.read(pending.path) is None:
            continue  # another pass followed it first
        tx.delete(pending.path)
        if store.backend.read(pending.result_path) is None:
            continue  # pruned meanwhile: nothing left to update
        try:
            line = settled(store.load_result(pending.result_path), end, now)
        except DecryptError:
            continue  # a result line no configured key opens: it cannot be updated, and its note goes
        tx.put(result_update_path(pending.result_path, now, store.codec.suffix), store.encode(line))
        # A manual run leaves the schedule's status alone, as when it fails at send time.
        if end.permanent and pending.schedule_type == "recurring" and not line.manual:
            _pause(tx, pending, end.error)
        results.append(line)
    return results


def follow(
    store: Store, now: datetime, client_factory: ClientFactory, options: TickOptions, *, tenant: str | None = None
) -> list[Result]:
    """Ask Letta about the oldest unfinished runs (of one tenant); commit the ends seen, return their new lines."""
    now = utc(now)
    paths = pending_runs(store, tenant)[: max(0, options.follow_limit)]
    if not paths:
        return []
    notes, unreadable = [], []
    for path in paths:
        try:
            notes.append(_read(store, path))
        except DecryptError:
            # No configured key opens it (keys rotate re-encrypts notes, so it never will) or it is no note:
            # it is dropped, or enough of them would fill every pass's follow_limit and stop the following.
            unreadable.append(path)
    if unreadable:
        store.tenant_secret()  # a wrong key fails here, naming the file, before any note is dropped
    if options.on_secrets is not None:
        options.on_secrets(sorted({n.api_key for n in notes if n.api_key}))
    clients = Clients(client_factory)
    try:
        with ThreadPoolExecutor(max_workers=max(1, min(options.parallel, len(notes)))) as pool:
            unreached: set[str] = set()
            checked = list(pool.map(lambda n: _check(clients, n, now, options, unreached), notes))
    finally:
        clients.close()
    ends = [(note, end) for note, end in zip(notes, checked, strict=True) if end is not None]
    if not ends and not unreadable:
        return []
    failed = sum(1 for _, end in ends if end.failed)
    dropped = f", {len(unreadable)} unreadable notes dropped" if unreadable else ""
    message = f"switchboard: follow {len(ends)} runs to their end, {failed} failed{dropped} ({now:%Y-%m-%dT%H:%MZ})"
    return store.transact(message, lambda tx: _stage(tx, ends, unreadable, now))
