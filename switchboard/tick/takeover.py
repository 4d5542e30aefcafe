"""Before a pass sends a fire whose claim it took over, it asks Letta whether that fire already arrived.

A claim is taken over only after ``claim_ttl``, when the pass that made it
died without recording (and without keeping its outcome, see unrecorded.py).
That pass may have sent the message before it died. Letta stores each user
message with the ``otid`` it came with, and every fire carries the same otid
whoever sends it, so the agent's recent messages
(``GET /v1/agents/{agent_id}/messages``) say whether it arrived. A fire found
there is recorded as delivered, with the run that took it, and not sent again.

Only a takeover costs this call, once per agent. When Letta cannot answer
(an error, a server without that list, a message older than the newest
``LOOKBACK`` of the agent) the fire is sent as before, with the same otid.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence

from switchboard.exceptions import LettaError, SwitchboardError
from switchboard.letta import LettaClient, Run
from switchboard.tick.delivery import Clients
from switchboard.tick.model import ClientFactory, Job, Outcome

#: How many of an agent's newest messages are searched for a taken-over fire's otid (Letta's default page).
LOOKBACK = 100


def _arrived(client: LettaClient, agent: str) -> dict[str, str | None]:
    """The otids among the agent's newest messages, each with the run it came with (None: not said)."""
    page = client.call(
        "GET",
        f"/v1/agents/{agent}/messages",
        action=f"looking for messages taken over from a pass that died, in agent {agent}'s history",
        params={"limit": LOOKBACK, "order": "desc"},
    )
    found: dict[str, str | None] = {}
    for item in page if isinstance(page, list) else []:
        if isinstance(item, dict) and isinstance(item.get("otid"), str):
            run_id = item.get("run_id")
            found[item["otid"]] = run_id if isinstance(run_id, str) and run_id else None
    return found


def _run(client: LettaClient, run_id: str | None, agent_id: str) -> Run | None:
    if run_id is None:
        return None
    try:
        return client.get_run(run_id)
    except LettaError:
        # Recorded as not ended yet: a later pass follows it (following.py).
        return Run(run_id, "running", agent_id)


def already_delivered(jobs: Sequence[Job], client_factory: ClientFactory) -> list[Outcome]:
    """Delivered outcomes for the taken-over jobs whose fire Letta already holds (by otid); one call per agent."""
    by_agent: dict[tuple[str, str | None, str], list[Job]] = defaultdict(list)
    for job in jobs:
        if job.taken_over_at is not None and job.schedule.base_url.startswith(("http://", "https://")):
            by_agent[(job.schedule.base_url, job.schedule.api_key, job.schedule.agent_id)].append(job)
    if not by_agent:
        return []
    clients = Clients(client_factory)
    found: list[Outcome] = []
    try:
        for (base_url, api_key, agent), taken in by_agent.items():
            try:
                client = clients.get(base_url, api_key)
                if not isinstance(client, LettaClient):
                    continue  # only the Letta API lists an agent's messages here: send again, with the same otid
                arrived = _arrived(client, agent)
                for job in taken:
                    if job.otid in arrived:
                        found.append(Outcome(job, "delivered", _run(client, arrived[job.otid], agent)))
            except SwitchboardError:
                continue  # cannot tell: send them again, with the same otid
    finally:
        clients.close()
    return found
