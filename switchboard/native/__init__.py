"""Letta's own clock: a schedule's next fire armed as a Letta Cloud native one-time schedule.

A schedule with ``clock="letta"`` is not delivered by the tick's selection.
Instead every pass reconciles it with Letta Cloud's ``/v1/agents/{id}/schedule``
API before it claims anything: the fire Letta made becomes a result (with its
run id, followed to its end like any other), the next fire is armed, a change
to the schedule replaces what is armed, and a fire Letta left overdue past a
grace period is deleted there and, only when that delete shows it never fired,
handed to the pass to deliver with the same ``otid`` (the watchdog).

``arming`` decides (pure: what should be armed at ``now``), ``record`` keeps
what is armed (one encrypted file per schedule), ``api`` speaks Letta's schedule
API, ``reconcile`` is the I/O step a pass runs. The exactly-once argument is in
``docs/native-schedules.md``.
"""

from switchboard.native.arming import DEFAULT_GRACE, Step, Target, plan, target
from switchboard.native.reconcile import reconcile
from switchboard.native.record import NativeFire, native_path
from switchboard.store import NATIVE

__all__ = ["DEFAULT_GRACE", "NATIVE", "NativeFire", "Step", "Target", "native_path", "plan", "reconcile", "target"]
