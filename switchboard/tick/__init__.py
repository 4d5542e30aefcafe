"""One pass of the scheduler: claim what is due, deliver it, record the outcome.

A pass is three steps, after a look at the runs earlier passes sent:

0. *Follow.* Runs that had not ended when their result was recorded are
   asked about (the oldest, bounded), and the end of each that has ended is
   committed as a new line of its result (``following``).

1. *Claim.* On a fresh state of the repository, pick what is due at ``now``
   (``select_due``, a pure function) and mark each one ``claimed_by`` this
   pass, in one commit. If the push is refused, someone else committed first:
   recompute on their state and try again. Whatever this pass did not manage
   to claim, it does not send, so two ticks never send the same message.
2. *Deliver.* Different agents in parallel (bounded), the same agent one at a
   time in due order, waiting (bounded) for the previous run to finish.
3. *Record.* One commit: delivered one-time schedules removed, recurring ones
   advanced (or paused on a permanent failure), transient failures put back,
   and one result per outcome appended.

Whatever happens between 1 and 3, the claims do not outlive the pass when it
can help it: if delivering raises, what was tried is recorded and the rest
is released. If the record commit cannot be pushed, the pass raises
``TickError`` naming what it sent, and keeps the outcome in the clone's
``.git`` directory (encrypted); the next pass from that clone records it
before it claims anything, so nothing is sent twice. A claim left behind by a
pass that died altogether is taken over after ``claim_ttl``: that is the one
case where Letta may see a message twice, with the same ``otid`` both times.

No loop lives here: ``--watch`` and the API's ticker call ``run_pass``.

The modules follow the steps: ``model`` (options, jobs, outcomes, the
report), ``following`` (0), ``selection`` (1), ``delivery`` (2), ``run_end``
(how a run ended, for 0 and 2), ``recording`` (3),
``unrecorded`` (a record that could not be pushed) and ``run`` (the pass);
``now`` takes the same steps for one schedule a command delivers at once
(``send`` with a due time, ``recurring run``).
"""

from switchboard.exceptions import TickError
from switchboard.tick.delivery import RecentRuns, deliver
from switchboard.tick.following import follow, pending_runs
from switchboard.tick.model import (
    BUSY,
    OTID_NAMESPACE,
    UNRECORDED_DIR,
    ClientFactory,
    Job,
    Outcome,
    TickOptions,
    TickReport,
)
from switchboard.tick.now import NOW_OPTIONS, NowReport, deliver_now, run_now, send_now
from switchboard.tick.recording import prune, record
from switchboard.tick.run import claim, run_pass
from switchboard.tick.run_end import RunEnd, judge
from switchboard.tick.selection import due_candidates, next_due, select_due
from switchboard.tick.unrecorded import record_unrecorded

__all__ = [
    "BUSY",
    "NOW_OPTIONS",
    "OTID_NAMESPACE",
    "UNRECORDED_DIR",
    "ClientFactory",
    "Job",
    "NowReport",
    "Outcome",
    "RecentRuns",
    "RunEnd",
    "TickError",
    "TickOptions",
    "TickReport",
    "claim",
    "deliver",
    "deliver_now",
    "due_candidates",
    "follow",
    "judge",
    "next_due",
    "pending_runs",
    "prune",
    "record",
    "record_unrecorded",
    "run_now",
    "run_pass",
    "select_due",
    "send_now",
]
