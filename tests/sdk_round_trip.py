"""Letta's schedule API through ``letta-client`` exactly as a user calls it; run by any interpreter with the SDK.

``python tests/sdk_round_trip.py BASE_URL`` (the Letta key in ``LETTA_API_KEY``,
the agent in ``AGENT_ID``) creates, lists, retrieves and deletes scheduled
messages against the server at BASE_URL and prints what the SDK saw as one
JSON object; ``tests/test_api_letta_sdk.py`` checks it. It imports nothing of
switchboard's: it also runs in a venv holding only the newest letta-client.
"""

from __future__ import annotations

import json
import os
import sys
import time
from typing import Any

import letta_client

AT_MS = 1_893_456_000_000  # 2030-01-01T00:00:00Z


def main(base_url: str) -> dict[str, Any]:
    """Every schedule call, in a user's order; what each answered."""
    agent = os.environ["AGENT_ID"]
    client = letta_client.Letta(api_key=os.environ["LETTA_API_KEY"], base_url=base_url, max_retries=0, timeout=30)
    schedule = client.agents.schedule
    seen: dict[str, Any] = {"version": letta_client.__version__}

    as_string = schedule.create(
        agent_id=agent,
        messages=[
            {"role": "user", "content": "Quarterly review", "name": "Ada", "otid": "otid-q1", "sender_id": "identity-9"}
        ],
        schedule={"type": "one-time", "scheduled_at": AT_MS},
    )
    as_parts = schedule.create(
        agent_id=agent,
        messages=[{"role": "system", "content": [{"type": "text", "text": "Two"}, {"type": "text", "text": "parts"}]}],
        schedule={"scheduled_at": AT_MS + 1},
    )
    recurring = schedule.create(
        agent_id=agent,
        messages=[{"role": "user", "content": "Standup"}],
        schedule={"type": "recurring", "cron_expression": "0 10 * * 1-5"},
    )
    seen["created"] = [m.model_dump() for m in (as_string, as_parts, recurring)]

    listed = schedule.list(agent_id=agent)
    seen["listed"] = [m.model_dump() for m in listed.scheduled_messages]
    seen["has_next_page"] = listed.has_next_page
    page = schedule.list(agent_id=agent, limit="1")
    rest = schedule.list(agent_id=agent, limit="5", after=page.scheduled_messages[0].id)
    seen["pages"] = [[m.id for m in page.scheduled_messages], page.has_next_page]
    seen["pages"].append([m.id for m in rest.scheduled_messages])
    seen["retrieved"] = schedule.retrieve(as_string.id, agent_id=agent).model_dump()

    try:
        schedule.create(
            agent_id=agent,
            messages=[{"role": "user", "content": "Too late"}],
            schedule={"type": "one-time", "scheduled_at": int(time.time() * 1000) - 60_000},
        )
        seen["past"] = None
    except letta_client.APIStatusError as exc:
        seen["past"] = {"error": type(exc).__name__, "status": exc.status_code}

    seen["deleted"] = schedule.delete(as_parts.id, agent_id=agent).success
    try:
        schedule.retrieve(as_parts.id, agent_id=agent)
        seen["after_delete"] = None
    except letta_client.APIStatusError as exc:
        seen["after_delete"] = {"error": type(exc).__name__, "status": exc.status_code}

    soon = schedule.create(
        agent_id=agent,
        messages=[{"role": "user", "content": "Due in a moment", "otid": "otid-soon", "name": "Bo"}],
        schedule={"type": "one-time", "scheduled_at": int(time.time() * 1000) + 1500},
    )
    seen["soon"] = soon.id
    return seen


if __name__ == "__main__":
    print(json.dumps(main(sys.argv[1]), default=str))
