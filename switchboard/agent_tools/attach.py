"""Putting the tools on an agent, and taking them off: ``switchboard agent-tools attach|detach|show``.

``attach`` registers (or updates) the three tools on the agent's Letta server
(``PUT /v1/tools/``), attaches those the agent lacks, makes the agent a new
grant (replacing its old one) and sets ``SWITCHBOARD_URL`` and
``SWITCHBOARD_TOKEN`` in the agent's tool environment, keeping every other
variable there. ``detach`` undoes all three; the tool definitions stay on the
server for other agents. The token never appears in tool source, output or
errors.

Letta replaces an agent's whole tool environment on ``PATCH``, so both read it
first and write back the merge. Letta 0.16 calls that field ``secrets``
(``tool_exec_environment_variables`` is its deprecated name, the only one 0.11
knows): the field the agent comes back with is the one written.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from switchboard.agent_tools import grants, registry
from switchboard.agent_tools.scheduling import checked_agent_id, is_active, schedules_of
from switchboard.exceptions import ConfigError, InvalidInputError, LettaError
from switchboard.letta import LettaClient
from switchboard.store import Store

URL_VAR = "SWITCHBOARD_URL"
TOKEN_VAR = "SWITCHBOARD_TOKEN"
OUR_VARS = (URL_VAR, TOKEN_VAR)


@dataclass(frozen=True)
class Attached:
    """What ``attach`` did."""

    agent_id: str
    tools: dict[str, str]  # name -> Letta tool id
    serve_url: str
    grant: grants.AgentGrant

    def as_json(self) -> dict[str, Any]:
        """For ``--json`` (no token)."""
        return {"agent_id": self.agent_id, "tools": self.tools, "serve_url": self.serve_url, **self.grant.public()}


def check_serve_url(url: str) -> str:
    """The serve URL the tools will call: http(s), with a host, no trailing slash."""
    text = (url or "").strip().rstrip("/")
    parts = urlsplit(text)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise InvalidInputError(
            f'--serve-url "{text[:80]}" is not an http(s) URL — give the address where `switchboard serve` '
            "answers, as the Letta server's tool sandbox reaches it, e.g. http://127.0.0.1:8000"
        )
    if parts.username or parts.password:
        raise InvalidInputError("--serve-url must not carry a user or password — the tools send their own token")
    return text


def _agent(client: LettaClient, agent_id: str) -> dict[str, Any]:
    found = client.call(
        "GET",
        f"/v1/agents/{agent_id}",
        params={"include": "agent.secrets"},
        action=f"reading agent {agent_id}",
        not_found=f"agent {agent_id} not found on this Letta server — check --agent-id",
    )
    if not isinstance(found, dict):
        raise ConfigError("the Letta server answered GET /v1/agents/{id} with something other than an agent")
    return found


def _env_field(agent: dict[str, Any]) -> str:
    return "secrets" if "secrets" in agent else "tool_exec_environment_variables"


def _env(agent: dict[str, Any]) -> dict[str, str]:
    items = agent.get(_env_field(agent)) or []
    return {str(i["key"]): str(i.get("value") or "") for i in items if isinstance(i, dict) and "key" in i}


def _set_env(client: LettaClient, agent: dict[str, Any], env: dict[str, str]) -> None:
    agent_id = agent["id"]
    client.call(
        "PATCH", f"/v1/agents/{agent_id}", json_body={_env_field(agent): env},
        action=f"setting the tool environment of agent {agent_id}",
    )  # fmt: skip


def _attached_tools(client: LettaClient, agent_id: str) -> dict[str, str]:
    """The agent's tools that are ours: name -> id."""
    found = client.call("GET", f"/v1/agents/{agent_id}/tools", action=f"listing the tools of agent {agent_id}")
    tools = found if isinstance(found, list) else []
    return {t["name"]: t["id"] for t in tools if isinstance(t, dict) and t.get("name") in registry.NAMES}


def attach(
    store: Store,
    client: LettaClient,
    *,
    api_key: str | None,
    base_url: str,
    agent_id: str,
    serve_url: str,
    now: datetime,
    max_schedules: int = grants.DEFAULT_MAX_SCHEDULES,
    min_interval_s: int = grants.DEFAULT_MIN_INTERVAL_S,
    timezone: str = "UTC",
) -> Attached:
    """Register the tools, attach them to ``agent_id``, grant it, and set its tool environment."""
    agent_id = checked_agent_id(agent_id)
    url = check_serve_url(serve_url)
    grants.check_limits(max_schedules, min_interval_s, timezone)  # before anything changes on Letta
    agent = _agent(client, agent_id)
    tool_ids: dict[str, str] = {}
    for name in registry.NAMES:
        made = client.call("PUT", "/v1/tools/", json_body=registry.tool_create(name), action=f"registering {name}")
        if not isinstance(made, dict) or not isinstance(made.get("id"), str):
            raise ConfigError(f"the Letta server answered PUT /v1/tools/ for {name} without a tool id")
        tool_ids[name] = made["id"]
    present = _attached_tools(client, agent_id)
    for name, tool_id in tool_ids.items():
        if present.get(name) != tool_id:
            client.call(
                "PATCH", f"/v1/agents/{agent_id}/tools/attach/{tool_id}", action=f"attaching {name} to {agent_id}"
            )
    grant, token = grants.create_grant(
        store, api_key=api_key, base_url=base_url, agent_id=agent_id, now=now,
        max_schedules=max_schedules, min_interval_s=min_interval_s, timezone=timezone,
    )  # fmt: skip
    try:
        _set_env(client, agent, {**_env(agent), URL_VAR: url, TOKEN_VAR: token})
    except LettaError as exc:
        # The old token is gone already; without the new one in place the tools cannot work: say how to fix it.
        hint = f"{exc} — the tools are attached but not configured: run attach again"
        raise type(exc)(hint, status=exc.status) from None
    return Attached(agent_id, tool_ids, url, grant)


def detach(store: Store, client: LettaClient, *, api_key: str | None, agent_id: str) -> dict[str, Any]:
    """Take the tools off ``agent_id``, clear its tool environment of ours, and revoke its grant."""
    agent_id = checked_agent_id(agent_id)
    agent = _agent(client, agent_id)
    removed = []
    for name, tool_id in _attached_tools(client, agent_id).items():
        client.call("PATCH", f"/v1/agents/{agent_id}/tools/detach/{tool_id}", action=f"detaching {name}")
        removed.append(name)
    env = _env(agent)
    if any(var in env for var in OUR_VARS):
        _set_env(client, agent, {k: v for k, v in env.items() if k not in OUR_VARS})
    revoked = grants.revoke_grants(store, api_key=api_key, agent_id=agent_id)
    return {"agent_id": agent_id, "detached": removed, "revoked_grants": revoked}


def show(store: Store, client: LettaClient, *, api_key: str | None, agent_id: str) -> dict[str, Any]:
    """What is attached to ``agent_id``: our tools, the serve URL its tools call, its grant and its schedules."""
    agent_id = checked_agent_id(agent_id)
    agent = _agent(client, agent_id)
    env = _env(agent)
    found = grants.grants_of(store, api_key, agent_id)
    tenant = store.tenant(api_key)
    made = [s for s in schedules_of(store, tenant) if s.created_by_agent == agent_id] if tenant is not None else []
    return {
        "agent_id": agent_id,
        "tools": sorted(_attached_tools(client, agent_id)),
        "serve_url": env.get(URL_VAR),
        "token_set": bool(env.get(TOKEN_VAR)),
        "grant": found[-1].public() if found else None,
        "active_schedules": sum(1 for s in made if is_active(s)),
    }
