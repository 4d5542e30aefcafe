"""How a Letta run ended, as a result records it: completed, or failed/cancelled and why.

Letta accepts a message before it works on it, so a run can fail after the
send was answered 200: Letta 0.11.7 even answers 200 for an agent that does
not exist and fails the run a moment later (0.16.8 answers 404 at once).
Neither says why in a field switchboard can rely on (0.11.7's Run has no
``stop_reason``), so a run that ends failed or cancelled is judged by asking
Letta about its agent with the same key: 404 (the agent is gone) or 401/403
(the key is no longer accepted) make the failure *permanent*, and a recurring
schedule is paused with that reason, as for a permanent HTTP failure at send
time. Any other failure (the agent's model failed, someone cancelled the run)
is a failed result, and the schedule keeps its course.

The status alone is not enough: Letta calls a run ``completed`` that stopped
to wait for a tool call's approval. ``stop_reason`` is judged by the table in
switchboard/stop_reasons.py: ``requires_approval`` is a failure (someone must
act), ``insufficient_credits`` a permanent one (it pauses a recurring schedule
without asking about the agent: the account, not the agent, is the problem).
"""

from __future__ import annotations

from dataclasses import dataclass

from switchboard.exceptions import LettaPermanentError, LettaTransientError
from switchboard.letta import LettaTarget, Run
from switchboard.stop_reasons import STOP_REASONS

#: Answers to "does this agent exist for this key?" that no later send can change.
PERMANENT_AGENT_ANSWERS = frozenset({401, 403, 404})


@dataclass(frozen=True)
class RunEnd:
    """A run's final state: its status, Letta's stop reason, and for a failure the reason and whether it lasts."""

    status: str  # completed | failed | cancelled | unknown
    stop_reason: str | None = None
    error: str | None = None
    #: The failure will repeat on every later send (agent missing, key refused): pause a recurring schedule.
    permanent: bool = False
    #: The delivery counts as a failure: a failed or cancelled run, or one that stopped waiting for approval.
    failed: bool = False


def judge(client: LettaTarget, agent_id: str, run: Run) -> RunEnd:
    """The end of a finished ``run`` (completed, failed or cancelled), judged on its status and stop reason."""
    if run.status not in ("completed", "failed", "cancelled"):
        return RunEnd("unknown", run.stop_reason, f"Letta run {run.id} ended with a status switchboard does not know")
    reason = STOP_REASONS.get(run.stop_reason or "")
    if run.status == "completed" and (reason is None or not reason.failure):
        return RunEnd(run.status, run.stop_reason)
    error = f"Letta run {run.id} " + ("stopped" if run.status == "completed" else f"ended {run.status}")
    if run.stop_reason:
        error += f" (stop reason: {run.stop_reason})"
    if reason is not None:
        error += f": {reason.meaning}"
    if run.status == "completed" or (reason is not None and reason.permanent):
        # The agent ran, so it exists; and out of credits is the account's state, not the agent's.
        return RunEnd(
            run.status, run.stop_reason, error, permanent=reason is not None and reason.permanent, failed=True
        )
    try:
        client.check_agent(agent_id)
    except LettaPermanentError as exc:
        if exc.status in PERMANENT_AGENT_ANSWERS:
            return RunEnd(run.status, run.stop_reason, f"{error}: {exc}", permanent=True, failed=True)
    except LettaTransientError:
        pass  # cannot tell now: a failure all the same, but nothing to pause for
    return RunEnd(run.status, run.stop_reason, error, failed=True)
