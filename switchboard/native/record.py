"""What switchboard armed at Letta for a schedule: one encrypted record per schedule.

    data/native/{tenant}/{schedule_id}.json.enc

Apart from the schedule's own file, so that editing a schedule and reconciling
what is armed for it never write the same file, and so that a deleted
schedule's native fire can still be found (with the key to delete it).
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, ValidationError

from switchboard.exceptions import DecryptError
from switchboard.models import FORMAT_VERSION, STORED, Kind, ScheduleId, describe_validation, iso
from switchboard.store import NATIVE, Store, Transaction

#: arming: claimed to create (a create may have happened); armed: Letta holds it;
#: released: Letta's copy is gone and never fired, the tick delivers the fire.
NativeState = Literal["arming", "armed", "released"]


class NativeFire(BaseModel):
    """One fire of a schedule armed (or being armed) as a Letta native one-time schedule."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    schedule_id: ScheduleId
    schedule_kind: Kind
    agent_id: str
    base_url: str
    # Kept here so that the native schedule can be deleted after its schedule is gone.
    api_key: str | None = Field(default=None, repr=False)
    state: NativeState
    native_id: str | None = None
    fire: AwareDatetime
    skipped: int = 0
    otid: str
    #: A hash of what was armed (text, role, agent, key, server, fire): a change means re-arm.
    fingerprint: str
    armed_at: AwareDatetime | None = None
    #: Letta answered 200 to a delete of native_id (so only the history is left to read).
    deleted: bool = False
    claimed_by: str | None = None
    claimed_at: AwareDatetime | None = None

    def claim_is_live(self, now: datetime, ttl: float) -> bool:
        """Is a pass working on this record at ``now`` (claims lapse after ``ttl`` seconds)?"""
        return (
            self.claimed_by is not None
            and self.claimed_at is not None
            and (now - self.claimed_at).total_seconds() < ttl
        )


def native_path(tenant: str, schedule_id: str, suffix: str) -> str:
    """Where the native record of a schedule lives."""
    return f"{NATIVE}/{tenant}/{schedule_id}{suffix}"


def native_files(store: Store) -> list[str]:
    """Every native record file of this codec."""
    return [p for p in store.files(NATIVE) if p.count("/") == 3]


def load_native(store: Store, path: str) -> NativeFire | None:
    """Read a native record (None when the file is gone)."""
    raw = store.backend.read(path)
    if raw is None:
        return None
    fields = store.decode(path, raw)
    try:
        return NativeFire.model_validate(fields, context=STORED)
    except ValidationError as exc:
        raise DecryptError(
            f"{path} holds an invalid record ({describe_validation(exc)}) — remove it or restore it from git"
        ) from None


def save_native(tx: Transaction, record: NativeFire) -> str:
    """Stage a native record where it belongs; returns its path."""
    path = native_path(tx.tenant(record.api_key), record.schedule_id, tx.store.codec.suffix)
    fields = record.model_dump(mode="json")
    for name in ("fire", "armed_at", "claimed_at"):
        fields[name] = iso(getattr(record, name))
    body = {"format": FORMAT_VERSION, "record": fields}
    tx.put(path, tx.store.codec.encrypt(json.dumps(body, separators=(",", ":")).encode("utf-8")))
    return path
