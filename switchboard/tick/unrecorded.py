"""A record that could not be pushed: kept encrypted in the clone's .git, recorded by the next pass.

If the record commit of a pass cannot be pushed, the messages have gone out
all the same. The outcome is written (encrypted, like data/) under
``.git/switchboard-unrecorded/`` and the pass raises TickError naming the
runs it sent; the next pass from that clone commits it before claiming
anything, so nothing is sent twice.
"""

from __future__ import annotations

import dataclasses
import json
import time
from collections.abc import Callable, Sequence
from datetime import datetime
from pathlib import Path

from switchboard.exceptions import SwitchboardError, TickError
from switchboard.letta import Run
from switchboard.models import STORED, OneTimeSchedule, RecurringSchedule, Result, Schedule
from switchboard.store import Store
from switchboard.tick.model import UNRECORDED_DIR, Job, Outcome, TickOptions
from switchboard.tick.recording import record


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
        path.write_bytes(store.codec.encrypt(json.dumps(body).encode("utf-8")))
    except OSError:
        return None
    return path


def _read_unrecorded(store: Store, path: Path) -> tuple[str, datetime, list[Outcome]]:
    body = json.loads(store.codec.decrypt(path.read_bytes(), path=str(path)))
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


def record_unrecorded(store: Store, options: TickOptions, sleep: Callable[[float], None] = time.sleep) -> list[Result]:
    """Commit what earlier passes from this clone sent but could not push; their results."""
    folder = _unrecorded_dir(store)
    if folder is None or not folder.is_dir():
        return []
    results: list[Result] = []
    for path in sorted(folder.glob("*.json.enc")):
        try:
            pass_id, then, outcomes = _read_unrecorded(store, path)
        except (SwitchboardError, ValueError, KeyError, TypeError) as exc:
            raise TickError(
                f"cannot read {path} ({type(exc).__name__}), kept by an earlier tick that could not push its "
                "results — restore the encryption key it was written with, or delete the file"
            ) from None
        try:
            results += record(store, outcomes, pass_id, then, options, sleep)
        except SwitchboardError as exc:
            raise TickError(
                f"still cannot record what an earlier tick sent ({exc}) — it is kept in {path}; "
                "fix the remote and run the tick again"
            ) from exc
        path.unlink()
    return results


def _sent(outcomes: Sequence[Outcome]) -> str:
    return ", ".join(f"{o.job.schedule.id} (run {o.run.id})" for o in outcomes if o.run) or "nothing"


def record_or_raise(
    store: Store,
    outcomes: Sequence[Outcome],
    pass_id: str,
    now: datetime,
    options: TickOptions,
    sleep: Callable[[float], None],
) -> list[Result]:
    try:
        return record(store, outcomes, pass_id, now, options, sleep)
    except Exception as exc:
        kept = _keep_unrecorded(store, pass_id, now, outcomes)
        later = (
            f"the outcome is kept in {kept} and the next tick from this clone records it first"
            if kept is not None
            else f"the claims expire after {options.claim_ttl} and a later tick may send them again (same otid)"
        )
        reason = str(exc) if isinstance(exc, SwitchboardError) else type(exc).__name__
        raise TickError(f"sent but could not record the outcome ({reason}) — sent: {_sent(outcomes)}; {later}") from exc
