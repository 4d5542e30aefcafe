"""Agent grants: the credential an agent's tools carry instead of the user's Letta key.

``switchboard agent-tools attach`` makes one grant per agent and stores it
encrypted like every other record::

    data/grants/{tenant}/{grant id}.json.enc

A grant names the tenant (through the Letta key it holds, encrypted, for
delivering what the agent schedules), the agent, its limits and the HMAC of
its token. The token, ``sbg.{grant id}.{secret}``, goes to the agent's tool
environment and nowhere else; only a holder of the encryption key (that is,
``switchboard serve``) can open the grant and check the HMAC, keyed with the
tree's tenant secret. Re-attaching makes a new grant and deletes the old one;
``detach`` deletes it: a deleted grant's token opens nothing.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from switchboard.exceptions import DecryptError, InvalidGrantError, InvalidInputError, NotFoundError
from switchboard.models import (
    FORMAT_VERSION,
    AgentId,
    Instant,
    ScheduleId,
    check_id,
    describe_validation,
    iso,
    new_id,
    utc,
)
from switchboard.store import DATA, Store, Transaction

GRANTS = f"{DATA}/grants"
TOKEN_PREFIX = "sbg"

#: Defaults of a grant's limits (``attach --max-schedules`` and ``--min-interval`` change them).
DEFAULT_MAX_SCHEDULES = 100
DEFAULT_MIN_INTERVAL_S = 300


class AgentGrant(BaseModel):
    """What one agent's tools may do, for whom, and how to check their token."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    id: ScheduleId = Field(default_factory=new_id)
    agent_id: AgentId
    created_at: Instant
    #: The Letta key and server the agent's schedules are delivered with (stored only, never shown).
    api_key: str | None = Field(default=None, repr=False)
    base_url: str
    #: HMAC-SHA256 of the token's secret under the tenant secret, hex.
    token_mac: str = Field(repr=False)
    max_schedules: int = Field(DEFAULT_MAX_SCHEDULES, ge=1)
    min_interval_s: int = Field(DEFAULT_MIN_INTERVAL_S, ge=0)
    #: The zone the tools read times in when the agent names none.
    timezone: str = "UTC"

    def public(self) -> dict[str, Any]:
        """What ``agent-tools show`` prints: no key, no token, no MAC."""
        return {
            "grant_id": self.id,
            "agent_id": self.agent_id,
            "created_at": iso(self.created_at),
            "max_schedules": self.max_schedules,
            "min_interval_s": self.min_interval_s,
            "timezone": self.timezone,
        }


def grant_path(tenant: str, grant_id: str, suffix: str) -> str:
    """Where a grant lives."""
    return f"{GRANTS}/{tenant}/{check_id(grant_id)}{suffix}"


def _build(**fields: Any) -> AgentGrant:
    try:
        return AgentGrant(**fields)
    except ValidationError as exc:
        raise InvalidInputError(describe_validation(exc)) from None


def _mac(tenant_secret: bytes, grant_id: str, secret: str) -> str:
    return hmac.new(tenant_secret, f"grant:{grant_id}:{secret}".encode(), hashlib.sha256).hexdigest()


def _encode(store: Store, grant: AgentGrant) -> bytes:
    body = {"format": FORMAT_VERSION, "record": grant.model_dump(mode="json")}
    return store.codec.encrypt(json.dumps(body, separators=(",", ":")).encode("utf-8"))


def _load(store: Store, path: str) -> AgentGrant:
    raw = store.backend.read(path)
    if raw is None:
        raise NotFoundError(f"{path} vanished while it was being read — run the command again")
    try:
        return AgentGrant.model_validate(store.decode(path, raw))
    except ValidationError:
        raise DecryptError(f"{path} holds an invalid grant — remove it or restore it from git") from None


def grant_files(store: Store, tenant: str | None = None) -> list[str]:
    """Grant files of one tenant, or of all."""
    prefix = GRANTS if tenant is None else f"{GRANTS}/{tenant}"
    return [p for p in store.files(prefix) if p.count("/") == 3]  # data/grants/TENANT/FILE


def grants_of(store: Store, api_key: str | None, agent_id: str | None = None) -> list[AgentGrant]:
    """The caller's grants (of one agent), oldest first."""
    store.backend.refresh()
    tenant = store.tenant(api_key)
    if tenant is None:
        return []
    found = [_load(store, p) for p in grant_files(store, tenant)]
    return sorted((g for g in found if agent_id is None or g.agent_id == agent_id), key=lambda g: g.created_at)


def _revoke_in(tx: Transaction, tenant: str, agent_id: str) -> list[str]:
    """Stage the deletion of a tenant's grants for ``agent_id``; their ids."""
    gone = []
    for path in grant_files(tx.store, tenant):
        if _load(tx.store, path).agent_id == agent_id:
            tx.delete(path)
            gone.append(path.rsplit("/", 1)[-1].split(".", 1)[0])
    return gone


def check_limits(max_schedules: int, min_interval_s: int, timezone: str) -> str:
    """Refuse limits a grant cannot have; the zone's canonical name."""
    from switchboard.timeparse import zone

    zone_name = zone(timezone).key
    if max_schedules < 1:
        raise InvalidInputError(f"--max-schedules {max_schedules} is not a positive number — e.g. 100")
    if min_interval_s < 0:
        raise InvalidInputError("--min-interval cannot be negative — e.g. 5m")
    return zone_name


def create_grant(
    store: Store,
    *,
    api_key: str | None,
    base_url: str,
    agent_id: str,
    now: datetime,
    max_schedules: int = DEFAULT_MAX_SCHEDULES,
    min_interval_s: int = DEFAULT_MIN_INTERVAL_S,
    timezone: str = "UTC",
) -> tuple[AgentGrant, str]:
    """A new grant for ``agent_id`` (replacing any earlier one of this tenant) and its token; one commit."""
    zone_name = check_limits(max_schedules, min_interval_s, timezone)
    grant_id = new_id()
    secret = secrets.token_urlsafe(32)

    def compute(tx: Transaction) -> AgentGrant:
        tenant = tx.tenant(api_key)
        tenant_secret = tx.tenant_secret()
        grant = _build(
            id=grant_id,
            agent_id=agent_id,
            created_at=utc(now),
            api_key=api_key,
            base_url=base_url,
            token_mac=_mac(tenant_secret, grant_id, secret),
            max_schedules=max_schedules,
            min_interval_s=min_interval_s,
            timezone=zone_name,
        )
        _revoke_in(tx, tenant, grant.agent_id)
        tx.put(grant_path(tenant, grant.id, store.codec.suffix), _encode(store, grant))
        return grant

    grant = store.transact(f"switchboard: grant agent tools {grant_id}", compute)
    return grant, f"{TOKEN_PREFIX}.{grant.id}.{secret}"


def revoke_grants(store: Store, *, api_key: str | None, agent_id: str) -> list[str]:
    """Delete the caller's grants for ``agent_id``; one commit (none when there are none). Their ids."""

    def compute(tx: Transaction) -> list[str]:
        return _revoke_in(tx, tx.tenant(api_key), agent_id)

    # Agent ids live only inside encrypted files: the commit message names none.
    return store.transact("switchboard: revoke one agent's agent-tools grant", compute)


def token_parts(token: str) -> tuple[str, str]:
    """A token's grant id and secret, read without the repository; InvalidGrantError for anything else."""
    parts = token.split(".")
    if len(parts) != 3 or parts[0] != TOKEN_PREFIX or not parts[2]:
        raise InvalidGrantError
    try:
        return check_id(parts[1]), parts[2]
    except InvalidInputError:
        raise InvalidGrantError from None


def check_token(store: Store, token: str) -> AgentGrant:
    """The grant a token opens; InvalidGrantError for anything else (one answer for every failure)."""
    grant_id, secret = token_parts(token)
    tenant_secret = store.tenant_secret()
    if tenant_secret is None:
        raise InvalidGrantError
    suffix = f"/{grant_id}{store.codec.suffix}"
    for path in grant_files(store):
        if path.endswith(suffix):
            grant = _load(store, path)
            if hmac.compare_digest(grant.token_mac, _mac(tenant_secret, grant.id, secret)):
                return grant
            break
    raise InvalidGrantError
