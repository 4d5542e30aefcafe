"""A record that could not be pushed: kept encrypted, beside the branch, and recorded by the next pass.

Before a pass commits its record, it writes the outcome (encrypted, like
data/) under ``.git/switchboard-unrecorded/``, and removes it once the record
landed: a pass killed while recording leaves it there. If the record commit
cannot be pushed, the messages have gone out all the same: the kept outcome is
also pushed to the remote as ``refs/switchboard/unrecorded/<pass id>`` (a ref
of its own, retried with backoff), and the pass raises TickError naming the
runs it sent. Every pass, from any clone, first records what it finds kept
(here or on the remote) before it claims anything, so nothing is sent twice.
"""

from __future__ import annotations

import dataclasses
import json
import os
import time
from collections.abc import Callable, Sequence
from datetime import datetime
from pathlib import Path

from switchboard.exceptions import BackendError, SwitchboardError, TickError
from switchboard.letta import Run
from switchboard.models import STORED, OneTimeSchedule, RecurringSchedule, Result, Schedule
from switchboard.store import Store
from switchboard.tick.model import UNRECORDED_DIR, Job, Outcome, TickOptions
from switchboard.tick.recording import record

#: The remote refs kept outcomes go under (Backend.keep_aside on a git clone).
_KEPT_REF = "refs/switchboard/unrecorded"
#: Tries at pushing a kept outcome to the remote, backing off 0.5 s, 1 s, … between them.
_KEEP_ATTEMPTS = 3


def _unrecorded_dir(store: Store) -> Path | None:
    """The clone's .git/switchboard-unrecorded, or None for a backend without a local clone."""
    root = store.backend.root
    if root is None or not (root / ".git").is_dir():
        return None
    return root / ".git" / UNRECORDED_DIR


def _keep_unrecorded(store: Store, pass_id: str, now: datetime, outcomes: Sequence[Outcome]) -> Path | None:
    """Write the outcomes (encrypted, like data/) where the next pass from this clone finds them."""
    folder = _unrecorded_dir(store)
    if folder is None:
        return None
    body = {
        "format": 1,
        "pass_id": pass_id,
        "now": now.isoformat(),
        "outcomes": [
            {
                "path": o.job.path,
                "schedule": o.job.schedule.model_dump(mode="json"),
                "scheduled_for": o.job.scheduled_for.isoformat(),
                "skipped": o.job.skipped,
                "manual": o.job.manual,
                "status": o.status,
                "run": None if o.run is None else dataclasses.asdict(o.run),
                "http_status": o.http_status,
                "error": o.error,
                "permanent": o.permanent,
            }
            for o in outcomes
        ],
    }
    try:
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"{pass_id}.json.enc"
        # Written whole or not at all: a pass killed while writing must not leave a file no pass can read.
        partial = folder / f".{pass_id}.partial"
        partial.write_bytes(store.codec.encrypt(json.dumps(body).encode("utf-8")))
        os.replace(partial, path)
    except OSError:
        return None
    return path


def _read_unrecorded(store: Store, raw: bytes, where: str) -> tuple[str, datetime, list[Outcome]]:
    body = json.loads(store.codec.decrypt(raw, path=where))
    outcomes = []
    for item in body["outcomes"]:
        data = item["schedule"]
        # Checked when it was made: a limit lowered since must not make it unreadable (STORED).
        schedule: Schedule = (
            OneTimeSchedule.model_validate(data, context=STORED)
            if data.get("kind") == "one-time"
            else RecurringSchedule.model_validate(data, context=STORED)
        )
        job = Job(
            item["path"],
            schedule,
            datetime.fromisoformat(item["scheduled_for"]),
            int(item["skipped"]),
            bool(item.get("manual", False)),
        )
        run = None if item["run"] is None else Run(**item["run"])
        outcomes.append(
            Outcome(
                job,
                item["status"],
                run,
                item["http_status"],
                item["error"],
                permanent=bool(item.get("permanent", True)),
            )
        )
    return str(body["pass_id"]), datetime.fromisoformat(body["now"]), outcomes


def _kept_on_remote(store: Store) -> dict[str, bytes]:
    """Outcomes that passes from any clone kept on the remote (see Backend.keep_aside), by pass id."""
    try:
        return store.backend.kept_aside()
    except SwitchboardError as exc:
        # Nothing was sent yet: the repository could not be read, which is what the pass says and stops on.
        raise BackendError(
            f"cannot look for outcomes earlier ticks kept on the remote ({exc}) — check the remote is reachable, "
            "then run the tick again"
        ) from exc


def record_unrecorded(store: Store, options: TickOptions, sleep: Callable[[float], None] = time.sleep) -> list[Result]:
    """Commit what earlier passes sent but could not push (kept in this clone or on the remote); their results."""
    folder = _unrecorded_dir(store)
    local = {p.name.removesuffix(".json.enc"): p for p in sorted(folder.glob("*.json.enc"))} if folder else {}
    remote = _kept_on_remote(store)
    results: list[Result] = []
    for name in sorted(set(local) | set(remote)):
        path = local.get(name)
        where = str(path) if path is not None else f"{_KEPT_REF}/{name} on the remote"
        try:
            pass_id, then, outcomes = _read_unrecorded(store, path.read_bytes() if path else remote[name], where)
        except (SwitchboardError, ValueError, KeyError, TypeError) as exc:
            drop = "delete the file" if path is not None else f"delete it (git push origin :{_KEPT_REF}/{name})"
            raise TickError(
                f"cannot read {where} ({type(exc).__name__}), kept by an earlier tick that could not push its "
                f"results — restore the encryption key it was written with, or {drop}"
            ) from None
        try:
            results += record(store, outcomes, pass_id, then, options, sleep)
        except SwitchboardError as exc:
            raise TickError(
                f"still cannot record what an earlier tick sent ({exc}) — it is kept in {where}; "
                "fix the remote and run the tick again"
            ) from exc
        if path is not None:
            path.unlink(missing_ok=True)
        if name in remote:
            store.backend.forget_aside(name)
    return results


def _sent(outcomes: Sequence[Outcome]) -> str:
    return ", ".join(f"{o.job.schedule.id} (run {o.run.id})" for o in outcomes if o.run) or "nothing"


def _keep_on_remote(store: Store, pass_id: str, kept: Path, sleep: Callable[[float], None]) -> bool:
    """Push a kept outcome to the remote under a ref of its own, retried with backoff; whether it got there."""
    if not store.backend.has_remote:
        return False
    content = kept.read_bytes()
    for attempt in range(_KEEP_ATTEMPTS):
        try:
            if store.backend.keep_aside(pass_id, content):
                return True
        except SwitchboardError:
            pass
        if attempt < _KEEP_ATTEMPTS - 1:
            sleep(min(10.0, 0.5 * 2**attempt))
    return False


def record_or_raise(
    store: Store,
    outcomes: Sequence[Outcome],
    pass_id: str,
    now: datetime,
    options: TickOptions,
    sleep: Callable[[float], None],
) -> list[Result]:
    """Record the outcomes, keeping them first (so a pass killed while recording loses nothing).

    When the record cannot be pushed, the kept outcome is also pushed to the
    remote under ``refs/switchboard/unrecorded/<pass id>``, where the next pass
    from any clone finds it, and TickError names what was sent.
    """
    sent = any(o.status != "deferred" for o in outcomes)
    kept = _keep_unrecorded(store, pass_id, now, outcomes) if sent else None
    try:
        results = record(store, outcomes, pass_id, now, options, sleep)
    except Exception as exc:
        if kept is not None and _keep_on_remote(store, pass_id, kept, sleep):
            # One copy only: the clone that records it deletes the ref, and could not delete a file here.
            kept.unlink(missing_ok=True)
            later = (
                f"the outcome is kept on the remote as {_KEPT_REF}/{pass_id}; "
                "the next tick from any clone records it first"
            )
        elif kept is not None:
            later = f"the outcome is kept in {kept} and the next tick from this clone records it first"
        else:
            later = f"the claims expire after {options.claim_ttl} and a later tick may send them again (same otid)"
        reason = str(exc) if isinstance(exc, SwitchboardError) else type(exc).__name__
        raise TickError(f"sent but could not record the outcome ({reason}) — sent: {_sent(outcomes)}; {later}") from exc
    if kept is not None:
        kept.unlink(missing_ok=True)
    return results
