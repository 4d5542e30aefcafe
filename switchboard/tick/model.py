"""What a pass works with and reports: options, jobs, outcomes, the report, and the errors."""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from switchboard.letta import LettaClient, Run
from switchboard.models import CLAIM_TTL, Result, Schedule, utc

#: The otid namespace: the same fire of the same schedule always carries the same otid.
OTID_NAMESPACE = uuid.UUID("6b1f3c1e-4b8e-4f43-9d0e-2f7d1f1c5a10")
BUSY = {"created", "running"}
#: Where a pass that could not push its record keeps it, inside the clone's .git directory.
UNRECORDED_DIR = "switchboard-unrecorded"

ClientFactory = Callable[[str, "str | None"], LettaClient]


def pass_id_at(now: datetime, what: str | None = None) -> str:
    """A claim owner's name, unique to this call (shown in commit messages): the time, what claims, a nonce."""
    kind = f"-{what}" if what else ""
    return f"{utc(now):%Y%m%dT%H%M%SZ}{kind}-{secrets.token_hex(4)}"


@dataclass(frozen=True)
class TickOptions:
    """How a pass behaves; every number has a safe default."""

    dry_run: bool = False
    parallel: int = 16
    send_attempts: int = 4
    base_delay: float = 0.5
    max_delay: float = 30.0
    run_wait: float = 20.0
    run_poll: float = 0.5
    claim_ttl: timedelta = CLAIM_TTL
    #: A pass starts no delivery later than this after its claim (default: half of claim_ttl),
    #: so its claims never expire while it is still sending.
    send_window: timedelta | None = None
    give_up_after: timedelta = timedelta(hours=72)
    retention: timedelta = timedelta(days=90)
    #: Tries at pushing the record (backing off 0.5 s, 1 s, …) before the pass raises TickError.
    record_attempts: int = 3
    #: Pushes per record attempt when the remote keeps moving (or keeps refusing).
    commit_attempts: int = 8
    #: Unfinished runs a pass asks Letta about (oldest first); the rest wait for a later pass.
    follow_limit: int = 200
    #: A run still unfinished this long after its delivery is recorded as "unknown" and no longer followed.
    run_timeout: timedelta = timedelta(hours=24)
    #: Called with the claimed jobs before anything is sent.
    on_claimed: Callable[[list[Job]], None] | None = None
    #: Called with each job just before it is sent (the watch loop holds a send claimed ahead until it is due).
    before_send: Callable[[Job], None] | None = None
    #: Called with every Letta key the pass decrypts, before any is used (the runner masks them).
    on_secrets: Callable[[list[str]], None] | None = None


@dataclass(frozen=True)
class Job:
    """One schedule's due fire, claimed by this pass."""

    path: str
    schedule: Schedule
    scheduled_for: datetime
    skipped: int = 0
    #: An extra fire sent by request (`recurring run`): recording it leaves last_run and next_run alone.
    manual: bool = False

    @property
    def otid(self) -> str:
        """The idempotency id Letta receives with this fire.

        Made from the schedule id and the fire time; a caller's own otid (Letta's schedule API)
        is sent as it is with a one-time message, and stands in for the schedule id for a
        recurring one, since Letta wants a fresh otid for every new message.
        """
        given = self.schedule.message_fields.otid if self.schedule.message_fields else None
        if given is not None and self.schedule.kind == "one-time" and not self.manual:
            return given
        fire = f"{given or self.schedule.id}@{self.scheduled_for.isoformat()}"
        # A manual fire at the very instant of a cron fire is still another message.
        return str(uuid.uuid5(OTID_NAMESPACE, fire + ("/manual" if self.manual else "")))

    @property
    def agent_key(self) -> tuple[str, str]:
        """Deliveries with the same key go one at a time."""
        return (self.schedule.base_url, self.schedule.agent_id)


@dataclass(frozen=True)
class Outcome:
    """What happened to a job: delivered, failed, put back, or deferred.

    ``run`` is the run as last seen: as the send answered it, or finished when
    the pass waited for it. A failure that is not ``permanent`` (a run that
    failed while its agent still exists) does not pause a recurring schedule.
    """

    job: Job
    status: str  # delivered | failed | requeued | deferred
    run: Run | None = None
    http_status: int | None = None
    error: str | None = None
    #: No connection to Letta could be made (refused, DNS, connect timeout): nothing reached it.
    unreached: bool = False
    permanent: bool = True


@dataclass
class TickReport:
    """What a pass did."""

    now: datetime
    dry_run: bool = False
    planned: list[Job] = field(default_factory=list)
    outcomes: list[Outcome] = field(default_factory=list)
    results: list[Result] = field(default_factory=list)
    #: Results of an earlier pass from this clone that could not push them, committed by this one.
    recovered: list[Result] = field(default_factory=list)
    #: Result updates for runs of earlier passes that this pass saw finish (or time out).
    followed: list[Result] = field(default_factory=list)
    pruned: int = 0

    def count(self, status: str) -> int:
        """How many outcomes had ``status``."""
        return sum(1 for o in self.outcomes if o.status == status)

    @property
    def permanent_failures(self) -> int:
        """Failures that will not be retried: failed deliveries, and runs seen to end failed or cancelled."""
        return sum(1 for r in [*self.results, *self.followed] if r.status == "failed")

    def as_json(self) -> dict[str, object]:
        """The ``--json`` shape: {delivered, failed, deferred, results}."""
        return {
            "now": self.now.isoformat(),
            "dry_run": self.dry_run,
            "delivered": self.count("delivered"),
            "failed": self.permanent_failures,
            "requeued": sum(1 for r in self.results if r.status == "requeued"),
            "deferred": self.count("deferred"),
            "due": [
                {
                    "schedule_id": j.schedule.id,
                    "schedule_type": j.schedule.kind,
                    "agent_id": j.schedule.agent_id,
                    "scheduled_for": j.scheduled_for.isoformat(),
                    "skipped": j.skipped,
                }
                for j in self.planned
            ]
            if self.dry_run
            else [],
            "results": [r.public() for r in self.results],
            "recovered": [r.public() for r in self.recovered],
            "followed": [r.public() for r in self.followed],
            "pruned": self.pruned,
        }
