"""The reconcile step of a pass: make what Letta has armed match what each letta-clock schedule wants.

Three moves, like the pass itself:

1. *Look.* Read every native record and every schedule on Letta's clock, and
   ``plan`` each (pure). Armed fires not yet due cost nothing more.
2. *Claim.* One commit marks the native record of everything that needs work
   as this pass's (a new one is created in state "arming"). A refused push means
   another pass committed first: recompute on its state. Only the pass holding
   a record's claim talks to Letta about it, so two passes never arm the same
   fire twice or both act on one history.
3. *Work, then record.* Per claimed schedule, in order: adopt or create the
   native schedule, read its history, and for a fire overdue past the grace
   period (or no longer wanted) delete it there and read the history again.
   One commit then stores the records, appends a result per fire Letta made
   (its run to be followed like any other), advances or removes the schedules,
   and claims the schedules of *released* fires, which the pass then delivers
   with the fire's own otid. ``docs/native-schedules.md`` has the argument.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import cast

from switchboard.exceptions import LettaError, LettaPermanentError
from switchboard.letta import LettaClient
from switchboard.models import (
    FINAL_RUN_STATUSES,
    OneTimeSchedule,
    RecurringSchedule,
    Result,
    RunStatus,
    Schedule,
    claim_is_live,
    utc,
)
from switchboard.native import api
from switchboard.native.arming import Step, overdue, plan, target
from switchboard.native.record import NativeFire, load_native, native_files, native_path, save_native
from switchboard.store import (
    NATIVE,
    NATIVE_WANTED,
    ONE_TIME,
    RECURRING,
    Store,
    Transaction,
    recurring_path,
    schedule_id_of,
    tenant_of_path,
)
from switchboard.tick.delivery import Clients
from switchboard.tick.following import note_pending
from switchboard.tick.model import OTID_NAMESPACE, ClientFactory, Job, TickOptions

log = logging.getLogger(__name__)

#: Steps one schedule may take in one pass (observe, replace, arm: three is the longest path).
MAX_STEPS = 6


@dataclass
class Item:
    """A schedule on Letta's clock (or one that was), and what is armed for it."""

    schedule_path: str | None
    schedule: Schedule | None
    record_path: str | None
    record: NativeFire | None
    #: The note that says where the schedule lives (data/native/wanted/…).
    wanted: str | None = None

    @property
    def stale(self) -> bool:
        """A note left by a schedule that is gone, with nothing armed for it."""
        return self.wanted is not None and self.schedule is None and self.record is None


@dataclass
class Reconciled:
    """What the reconcile step did: fires Letta made (or lost), and fires released to the pass."""

    results: list[Result] = field(default_factory=list)
    jobs: list[Job] = field(default_factory=list)


@dataclass
class _Work:
    item: Item
    record: NativeFire | None
    schedule: Schedule | None
    results: list[Result] = field(default_factory=list)
    advance_to: datetime | None = None
    remove: bool = False
    pause_reason: str | None = None
    release: bool = False


def _wanted_path(store: Store, wanted: str) -> str | None:
    raw = store.backend.read(wanted)
    if raw is None:
        return None
    path = store.decode(wanted, raw).get("path")
    ok = isinstance(path, str) and path.startswith((ONE_TIME + "/", RECURRING + "/")) and ".." not in path
    return path if ok else None


def _resolve(store: Store, item: Item) -> Item:
    """``item`` with its schedule read afresh (None when gone) and its record too."""
    record = load_native(store, item.record_path) if item.record_path is not None else None
    path = _wanted_path(store, item.wanted) if item.wanted is not None else None
    if path is None and record is not None and record.schedule_kind == "recurring" and item.record_path:
        path = recurring_path(tenant_of_path(item.record_path), record.schedule_id, store.codec.suffix)
    schedule = store.load(path) if path is not None and store.backend.read(path) is not None else None
    if schedule is not None and record is not None and schedule.id != record.schedule_id:
        schedule = None
    return Item(path if schedule is not None else None, schedule, item.record_path, record, item.wanted)


def _load(store: Store, on_secrets: Callable[[list[str]], None] | None) -> list[Item]:
    """Every schedule on Letta's clock and every record: what its note and its record name, nothing else."""
    items: dict[str, Item] = {}
    for path in native_files(store):
        items[schedule_id_of(path)] = Item(None, None, path, None)
    for wanted in store.files(NATIVE_WANTED):
        schedule_id = schedule_id_of(wanted)
        # Where its record goes, even before there is one: a pass that recomputes its claim must see another's.
        path = native_path(tenant_of_path(wanted), schedule_id, store.codec.suffix)
        items.setdefault(schedule_id, Item(None, None, path, None)).wanted = wanted
    found = [_resolve(store, item) for item in items.values()]
    if on_secrets is not None:
        keys = {i.schedule.api_key for i in found if i.schedule and i.schedule.api_key}
        keys |= {i.record.api_key for i in found if i.record and i.record.api_key}
        on_secrets(sorted(keys))
    return found


def _new_record(schedule: Schedule, now: datetime) -> NativeFire | None:
    wanted = target(schedule, now)
    if wanted is None:
        return None
    return NativeFire(
        schedule_id=schedule.id, schedule_kind=schedule.kind, agent_id=schedule.agent_id,
        base_url=schedule.base_url, api_key=schedule.api_key, state="arming", fire=wanted.fire,
        skipped=wanted.skipped, otid=wanted.otid, fingerprint=wanted.fingerprint,
    )  # fmt: skip


def reconcile(
    store: Store, now: datetime, client_factory: ClientFactory, options: TickOptions, *, pass_id: str
) -> Reconciled:
    """Reconcile every letta-clock schedule with Letta at ``now``; the fires the pass must deliver itself."""
    now = utc(now)
    ttl = options.claim_ttl
    store.backend.refresh()
    if not store.files(NATIVE):
        return Reconciled()  # no schedule was ever put on Letta's clock here: read nothing
    items = _load(store, options.on_secrets)
    todo = [i for i in items if plan(i.schedule, i.record, now, claim_ttl=ttl) is not Step.NOTHING]
    stale = [i for i in items if i.stale]
    if not todo and not stale:
        return Reconciled()

    def claim(tx: Transaction) -> list[Item]:
        for gone in stale:
            if _resolve(store, gone).stale:
                assert gone.wanted is not None
                tx.delete(gone.wanted)
        claimed = []
        for old in todo:
            item = _resolve(store, old)
            if plan(item.schedule, item.record, now, claim_ttl=ttl) is Step.NOTHING:
                continue
            record = item.record
            if record is None:
                assert item.schedule is not None  # plan says ARM only for a schedule that wants a fire
                record = _new_record(item.schedule, now)
                if record is None:
                    continue
            record = record.model_copy(update={"claimed_by": pass_id, "claimed_at": now})
            path = save_native(tx, record)
            claimed.append(Item(item.schedule_path, item.schedule, path, record, item.wanted))
        return claimed

    claimed = store.transact(f"switchboard: claim native schedules at {now:%Y-%m-%dT%H:%MZ} ({pass_id})", claim)
    if not claimed:
        return Reconciled()
    clients = Clients(client_factory)
    try:
        works = [_work(item, clients, now, options, pass_id) for item in claimed]
    finally:
        clients.close()

    def record(tx: Transaction) -> Reconciled:
        return _record(tx, works, now, options, pass_id)

    return store.transact(f"switchboard: reconcile native schedules ({pass_id})", record)


# -- the I/O for one schedule ---------------------------------------------------------------------


def _work(item: Item, clients: Clients, now: datetime, options: TickOptions, pass_id: str) -> _Work:
    assert item.record is not None
    work = _Work(item, item.record, item.schedule)
    target = clients.get(item.record.base_url, item.record.api_key)
    try:
        if not isinstance(target, LettaClient):
            # Only the Letta API has native schedules (models.check_clock refuses the rest when a schedule is made).
            raise LettaPermanentError(f"{item.record.base_url} has no native schedules", status=400)
        client = target
        for _ in range(MAX_STEPS):
            step = plan(work.schedule, work.record, now, claim_ttl=options.claim_ttl, pass_id=pass_id)
            if step is Step.NOTHING:
                break
            if step is Step.RELEASE:
                work.release = True
                break
            if step is Step.DROP:
                work.record = None
            elif step is Step.ARM:
                _arm(work, client, now)
            elif step is Step.OBSERVE:
                if not _observe(work, client, now, options.native_grace):
                    break
            elif step is Step.REPLACE:
                _replace(work, client, now)
    except LettaPermanentError as exc:
        if work.record is not None and work.record.state == "arming":
            _alert(work, now, f"could not arm the fire at Letta: {exc}", pause=True)
        else:
            log.warning("native schedule %s: %s — trying again next pass", item.record.schedule_id, exc)
    except LettaError as exc:
        log.info("native schedule %s: %s — trying again next pass", item.record.schedule_id, exc)
    return work


def _arm(work: _Work, client: LettaClient, now: datetime) -> None:
    record = work.record
    if record is None:  # its last fire was just recorded: arm the next one
        assert work.schedule is not None
        record = _new_record(work.schedule, now)
        if record is None:
            return
        work.record = record
    found = api.find_by_otid(client, record.agent_id, record.otid)
    if found is not None:  # armed by a pass that died before it could record it
        work.record = record.model_copy(update={"state": "armed", "native_id": found, "armed_at": now})
        return
    wanted = target(work.schedule, now)
    if wanted is None or work.schedule is None:
        work.record = None
        return
    fresh = record.model_copy(update={"fire": wanted.fire, "skipped": wanted.skipped, "otid": wanted.otid,
                                      "fingerprint": wanted.fingerprint, "state": "arming", "native_id": None,
                                      "deleted": False})  # fmt: skip
    if wanted.otid != record.otid and (found := api.find_by_otid(client, record.agent_id, wanted.otid)):
        work.record = fresh.model_copy(update={"state": "armed", "native_id": found, "armed_at": now})
        return
    if wanted.fire <= now:
        # Due already and nothing armed at Letta for it: nothing can fire there, the pass delivers it.
        work.record = fresh.model_copy(update={"state": "released"})
        return
    work.record = fresh  # if the create raises, the record stays "arming" (see _work)
    native_id = api.create_one_time(client, work.schedule, wanted.fire, wanted.otid)
    work.record = fresh.model_copy(update={"state": "armed", "native_id": native_id, "armed_at": now})


def _still_wanted(work: _Work, now: datetime) -> bool:
    record = work.record
    wanted = target(work.schedule, now)
    return (
        record is not None and wanted is not None and wanted.fire == record.fire
        and wanted.fingerprint == record.fingerprint
    )  # fmt: skip


def _observe(work: _Work, client: LettaClient, now: datetime, grace: timedelta) -> bool:
    """The fire's instant has passed. False: wait for Letta (no history yet, within the grace period)."""
    record = work.record
    assert record is not None and record.native_id is not None
    if not record.deleted:
        entries = api.history(client, record.agent_id, record.native_id)
        if entries:
            _fired(work, client, entries[0], now)
            return True
        if entries is not None and _still_wanted(work, now) and not overdue(record, now, grace):
            return False
    _delete_and_judge(work, client, now)
    return True


def _replace(work: _Work, client: LettaClient, now: datetime) -> None:
    """Armed, not yet due, but no longer what the schedule wants: delete it there."""
    _delete_and_judge(work, client, now, before_due=True)


def _delete_and_judge(work: _Work, client: LettaClient, now: datetime, *, before_due: bool = False) -> None:
    """Delete the native schedule, then read its history: fired, never fired, or cannot tell."""
    record = work.record
    assert record is not None and record.native_id is not None
    native_id = record.native_id
    deleted = record.deleted or api.delete(client, record.agent_id, native_id)
    if deleted and not record.deleted:
        work.record = record = record.model_copy(update={"deleted": True})  # kept if the history read fails
    entries = api.history(client, record.agent_id, native_id)
    if entries:
        _fired(work, client, entries[0], now)  # it went out (a delete racing the firing included)
        return
    if not deleted and not before_due:
        # Gone without a history entry: Letta may or may not have sent it. Sending again could double it.
        _alert(work, now, (
            f"Letta's native schedule {record.native_id} for this fire is gone and shows no history: it may "
            f"or may not have been sent, so it was not sent again — look for otid {record.otid} in the "
            f"agent's messages"
        ))  # fmt: skip
        return
    # Deleted by us (200) with no history entry: it never fired and now never will.
    if not before_due and _wanted_fire(work, now) == record.fire:
        work.record = record.model_copy(update={"state": "released", "native_id": None, "deleted": False})
    else:
        work.record = None  # paused, changed or gone: this fire is not sent (as the tick drops it too)


def _wanted_fire(work: _Work, now: datetime) -> datetime | None:
    wanted = target(work.schedule, now)
    return wanted.fire if wanted is not None else None


def _fired(work: _Work, client: LettaClient, entry: api.HistoryEntry, now: datetime) -> None:
    """Letta's history shows the fire: a result with its run id, and the schedule moves past it."""
    record = work.record
    assert record is not None
    run = None
    if entry.run_id is not None:
        try:
            run = client.get_run(entry.run_id)
        except LettaError:
            run = None  # followed by a later pass all the same
    run_status: RunStatus | None = None
    if entry.run_id is not None:
        run_status = cast("RunStatus", run.status) if run is not None and run.status in _RUN_STATUSES else "created"
    sent = entry.sent_at or now
    schedule = work.schedule
    work.results.append(
        Result(
            schedule_id=record.schedule_id,
            schedule_type=record.schedule_kind,
            status="delivered" if entry.status == "success" else "failed",
            run_id=entry.run_id,
            agent_id=record.agent_id,
            message=schedule.message if schedule is not None else None,
            name=schedule.name if schedule is not None else None,
            scheduled_for=record.fire,
            executed_at=sent,
            lateness_s=round(max(0.0, (sent - record.fire).total_seconds()), 3),
            skipped=record.skipped,
            error=None if entry.status == "success" else "Letta's native schedule fired, and Letta reported a failure",
            run_status=run_status,
            stop_reason=run.stop_reason if run is not None else None,
            run_checked_at=now if run is not None and run.status in FINAL_RUN_STATUSES else None,
        )
    )
    _move_past(work, record.fire)


_RUN_STATUSES = frozenset({"created", "running", "completed", "failed", "cancelled"})


def _alert(work: _Work, now: datetime, error: str, *, pause: bool = False) -> None:
    """A fire that will not be delivered: a failed result says so, and the schedule moves past it."""
    record = work.record
    assert record is not None
    schedule = work.schedule
    work.results.append(
        Result(
            schedule_id=record.schedule_id, schedule_type=record.schedule_kind, status="failed",
            agent_id=record.agent_id, message=schedule.message if schedule is not None else None,
            name=schedule.name if schedule is not None else None, scheduled_for=record.fire, executed_at=now,
            lateness_s=round(max(0.0, (now - record.fire).total_seconds()), 3), skipped=record.skipped,
            error=error,
        )
    )  # fmt: skip
    if pause and isinstance(schedule, RecurringSchedule):
        work.pause_reason = f"paused: {error}"
        work.schedule = schedule.model_copy(update={"status": "paused", "paused_reason": work.pause_reason})
        work.record = None
        return
    _move_past(work, record.fire)


def _move_past(work: _Work, fire: datetime) -> None:
    schedule = work.schedule
    if isinstance(schedule, OneTimeSchedule):
        work.remove = True
        work.schedule = None
    elif isinstance(schedule, RecurringSchedule):
        work.advance_to = fire
        if schedule.last_run is None or schedule.last_run < fire:
            work.schedule = schedule.model_copy(update={"last_run": fire, "attempts": 0})
    work.record = None


# -- the record commit ------------------------------------------------------------------------------


def _carrier(record: NativeFire) -> OneTimeSchedule:
    # note_pending reads only the server and key of a schedule: for a schedule deleted since, the record's.
    return OneTimeSchedule(agent_id=record.agent_id, message="-", execute_at=record.fire, created_at=record.fire,
                           api_key=record.api_key, base_url=record.base_url)  # fmt: skip


def _record(tx: Transaction, works: list[_Work], now: datetime, options: TickOptions, pass_id: str) -> Reconciled:
    store = tx.store
    done = Reconciled()
    for work in works:
        item = work.item
        assert item.record_path is not None and item.record is not None
        current = load_native(store, item.record_path)
        if current is None or current.claimed_by != pass_id:
            continue  # our claim lapsed and another pass took this schedule over: its word counts
        fresh = _resolve(store, item)
        schedule = fresh.schedule
        for result in work.results:
            nonce = uuid.uuid5(OTID_NAMESPACE, f"{pass_id}/{result.schedule_id}/{result.scheduled_for}").hex[:8]
            carrier = schedule or item.schedule or _carrier(item.record)
            path = tx.add_result(result, item.record.api_key, nonce=nonce)
            note_pending(tx, path, result, carrier)
            done.results.append(result)
        # Moved past a fire even under another pass's live claim (only `recurring run` can hold one here, and its
        # record leaves last_run alone): else the next pass would find the fire due again and send it.
        if schedule is not None and item.schedule_path is not None:
            changed: Schedule | None = schedule
            if work.remove and isinstance(changed, OneTimeSchedule):
                tx.delete(item.schedule_path)
                changed = None
            if isinstance(changed, RecurringSchedule):
                if work.advance_to is not None and (changed.last_run is None or changed.last_run < work.advance_to):
                    changed = changed.model_copy(update={"last_run": work.advance_to, "attempts": 0})
                if work.pause_reason is not None:
                    changed = changed.model_copy(update={"status": "paused", "paused_reason": work.pause_reason})
            held = claim_is_live(schedule, now, options.claim_ttl)
            if changed is not None and work.release and work.record is not None and not held:
                changed = changed.model_copy(update={"claimed_by": pass_id, "claimed_at": now})
                done.jobs.append(Job(item.schedule_path, changed, work.record.fire, work.record.skipped))
            if changed is not None and changed != schedule:
                tx.save(changed)
        if work.record is not None:
            kept = save_native(tx, work.record.model_copy(update={"claimed_by": None, "claimed_at": None}))
            if kept != item.record_path:
                tx.delete(item.record_path)  # a schedule whose Letta key changed moves to its new tenant's folder
            continue
        tx.delete(item.record_path)
        if item.wanted is not None and (schedule is None or work.remove):
            tx.delete(item.wanted)  # the schedule is gone: nothing is left to reconcile
    return done
