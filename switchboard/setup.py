"""`switchboard init`: a key, the tenant secret, and the steps that remain."""

from __future__ import annotations

from typing import Any

from switchboard import config as config_mod
from switchboard.config import Settings
from switchboard.crypto import generate_key
from switchboard.store import TENANT_KEY, Store, Transaction

ENABLE_STEPS = (
    "Scheduled workflows start disabled in repositories made from a template or a fork: open the "
    'repository\'s Actions tab, press "I understand my workflows, go ahead and enable them", then open '
    'the "tick" workflow and press "Enable workflow" (or run `gh workflow enable tick.yml`).'
)


def ensure_tenant_secret(store: Store) -> bool:
    """Commit the tenant secret when the tree has none yet; True when it was made now."""

    def compute(tx: Transaction) -> bool:
        if store.backend.read(TENANT_KEY) is not None:
            return False
        tx.tenant(None)
        return True

    return store.transact("switchboard: create the tenant secret", compute)


def init_repository(settings: Settings) -> dict[str, Any]:
    """Make a key unless one is set, commit the tenant secret, and list the next steps."""
    from switchboard.context import open_store

    generated = None
    if not settings.encryption_key:
        generated = generate_key()
        config_mod.write_config(config_mod.config_path(), "encryption_key", generated)
        settings = Settings(**{**settings.__dict__, "encryption_key": generated})
    store = open_store(settings)
    made = ensure_tenant_secret(store)
    steps = []
    if generated:
        steps.append(f"Generated a new encryption key and saved it in {config_mod.config_path()} (mode 0600):")
        steps.append(f"    {generated}")
        steps.append("Keep a copy somewhere safe: without it nobody, you included, can read the schedules.")
    else:
        steps.append("Using the encryption key from SWITCHBOARD_ENCRYPTION_KEY / the config file.")
    steps.append(("Committed" if made else "Found") + f" the tenant secret {TENANT_KEY} in {store.backend.describe()}.")
    steps += [
        "Next:",
        "  1. Set the repository secret SWITCHBOARD_ENCRYPTION_KEY to the key "
        "(Settings → Secrets and variables → Actions, or `gh secret set SWITCHBOARD_ENCRYPTION_KEY`).",
        "  2. Optionally set LETTA_API_KEY and LETTA_BASE_URL as secrets too (for `doctor` and defaults).",
        f"  3. {ENABLE_STEPS}",
        '  4. Schedule something: switchboard send --agent-id agent-… --message "Hello" --execute-at "in 5 minutes"',
    ]
    return {"key_generated": generated is not None, "tenant_secret_created": made, "steps": steps}
