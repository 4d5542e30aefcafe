"""Letta's stop reasons: what each means to someone reading results, and what a delivery makes of it.

A Letta run ends with a ``status`` (completed, failed, cancelled) and a
``stop_reason``. The status alone misleads: Letta calls a run that stopped to
wait for someone to approve a tool call, or that ran out of steps,
``completed``, though the agent did not finish what the message asked. So a
result is judged on both, by this table:

- **done**: the agent finished its turn (``end_turn``; ``tool_rule``, when a
  terminal tool rule ends the turn as the agent's author meant it to).
- **failure**: the delivery counts as failed; the tick alerts (webhook, failure
  issue, exit status). ``requires_approval`` is one: the agent waits for a person.
- **permanent**: it will happen again on every send until someone acts
  (``insufficient_credits``): a recurring schedule is paused until it is resumed.
- ``max_steps`` is shown as what it is, neither "completed" nor a failure:
  the agent worked, and stopped at the limit its author set.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class StopReason:
    """How one of Letta's stop reasons reads in a result, and what it makes of the delivery."""

    meaning: str
    done: bool = False
    failure: bool = False
    permanent: bool = False


#: Every stop reason of Letta's ``StopReasonType`` (Letta 0.16.8 and Letta Cloud).
STOP_REASONS: dict[str, StopReason] = {
    "end_turn": StopReason("the agent finished its turn", done=True),
    "tool_rule": StopReason("a tool rule ended the agent's turn", done=True),
    "requires_approval": StopReason(
        "the agent stopped to wait for someone to approve a tool call: approve or deny it in Letta; "
        "until then the agent does nothing more",
        failure=True,
    ),
    "insufficient_credits": StopReason(
        "the Letta account is out of credits: add credits, then resume the schedule", failure=True, permanent=True
    ),
    "max_steps": StopReason("the agent used all the steps it may take in one turn and stopped unfinished"),
    "max_tokens_exceeded": StopReason("the model's answer hit its token limit and was cut short", failure=True),
    "no_tool_call": StopReason("the model answered without calling a tool, so the turn ended", failure=True),
    "invalid_tool_call": StopReason("the model called a tool that does not exist or with bad arguments", failure=True),
    "invalid_llm_response": StopReason("the model's answer could not be read", failure=True),
    "llm_api_error": StopReason("the agent's model provider answered with an error", failure=True),
    "context_window_overflow_in_system_prompt": StopReason(
        "the agent's system prompt alone fills its context window", failure=True
    ),
    "error": StopReason("Letta hit an error while running the agent", failure=True),
    "cancelled": StopReason("someone cancelled the run", failure=True),
}


def meaning(stop_reason: str | None) -> str | None:
    """What ``stop_reason`` means, in words (None for none or one this table does not know)."""
    known = STOP_REASONS.get(stop_reason or "")
    return known.meaning if known else None


def run_end(run_status: str | None, stop_reason: str | None) -> str | None:
    """The word a result shows for how its run ended: the stop reason, unless the run simply completed.

    A run Letta calls ``completed`` that stopped for approval shows ``requires_approval``, not ``completed``.
    """
    if run_status is None:
        return None
    if run_status in ("created", "running", "unknown") or stop_reason is None:
        return run_status
    known = STOP_REASONS.get(stop_reason)
    if run_status == "completed" and known is not None and known.done:
        return "completed"
    return stop_reason
