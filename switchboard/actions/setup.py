"""`switchboard init`: a key, the tenant secret, the repository set up on GitHub, and the steps that remain.

With a GitHub repository (``--github OWNER/NAME``, SWITCHBOARD_GITHUB_REPO, or
a clone whose ``origin`` is on github.com) and a ``GITHUB_TOKEN``, init also
does through GitHub's API what would otherwise be clicks:

- stores the encryption key as the Actions secret SWITCHBOARD_ENCRYPTION_KEY
  (sealed with the repository's public key; GitHub never shows it again);
- enables the tick workflow (repositories made from a fork start with
  scheduled workflows disabled).

Whatever the token may not do is printed as the exact steps to do by hand.
The key is only stored when it opens ``data/tenant.key.enc``: a repository
already set up with another key keeps its secret. The tick needs no Letta
secret: each schedule carries, encrypted, the Letta key and server it was
made with.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from switchboard import config as config_mod
from switchboard.config import Settings
from switchboard.crypto import KEY_ENV, generate_key
from switchboard.exceptions import ConfigError, DecryptError, SwitchboardError
from switchboard.store import TENANT_KEY, Store, Transaction

ENABLE_STEPS = (
    "Scheduled workflows can start disabled (in a fork they always do): open the repository's Actions "
    'tab (in a fork, press "I understand my workflows, go ahead and enable them" first), then open the '
    '"tick" workflow and press "Enable workflow" (or run `gh workflow enable tick.yml`).'
)


def ensure_tenant_secret(store: Store) -> bool:
    """Commit the tenant secret when the tree has none yet; True when it was made now."""

    def compute(tx: Transaction) -> bool:
        if store.backend.read(store.tenant_key) is not None:
            return False
        tx.tenant(None)
        return True

    return store.transact("switchboard: create the tenant secret", compute)


def secret_steps(repo: str | None) -> list[str]:
    """How to set the key as the repository secret by hand."""
    menu = "Settings → Secrets and variables → Actions → New repository secret"
    where = f"https://github.com/{repo}/settings/secrets/actions/new ({menu})" if repo else f"the repository's {menu}"
    gh = f"gh secret set {KEY_ENV} --repo {repo}" if repo else f"gh secret set {KEY_ENV}"
    return [f"Set the repository secret {KEY_ENV} to the key: `{gh}` (it asks for the value), or open {where}."]


def _setup_github(settings: Settings, key: str, repo: str, branch: str | None) -> tuple[dict[str, Any], list[str]]:
    """Store the key as an Actions secret and enable the tick workflow; what happened, and what is left."""
    from switchboard.actions.dispatch import WORKFLOW_FILE, Target, open_actions

    outcome: dict[str, Any] = {"github_repo": repo, "secret_stored": False, "workflow_state": None}
    done: list[str] = []
    todo: list[str] = []
    actions = open_actions(settings, Target(repo, branch))
    try:
        actions.set_actions_secret(KEY_ENV, key)
    except SwitchboardError as exc:
        done.append(f"Could not store the secret {KEY_ENV} in {repo}: {exc}")
        todo += secret_steps(repo)
    else:
        outcome["secret_stored"] = True
        done.append(f"Stored the key as the Actions secret {KEY_ENV} of {repo}.")
    try:
        state = actions.workflow_state(WORKFLOW_FILE)
        if state != "active":
            actions.enable_workflow(WORKFLOW_FILE)
            done.append(f"Enabled the tick workflow in {repo} (it was {state}).")
            state = "active"
        else:
            done.append(f"The tick workflow in {repo} is enabled.")
        outcome["workflow_state"] = state
    except SwitchboardError as exc:
        done.append(f"Could not enable the tick workflow in {repo}: {exc}")
        todo.append(ENABLE_STEPS)
    return outcome, done + (["Left to do by hand:"] + [f"  - {step}" for step in todo] if todo else [])


def init_repository(settings: Settings) -> dict[str, Any]:
    """Make a key unless one is set, commit the tenant secret, set up GitHub when possible, list the next steps."""
    from switchboard.actions.dispatch import github_target
    from switchboard.context import open_store

    generated = None
    if not settings.encryption_key:
        generated = generate_key()
        settings = dataclasses.replace(settings, encryption_key=generated)
    store = open_store(settings)  # a refused dev mode or a missing repository stops here, with nothing saved
    if generated:
        if store.backend.read(store.tenant_key) is not None:
            # A fresh key cannot open a repository set up with another one: keep no useless key around.
            raise ConfigError(
                f"{KEY_ENV} is not set, and {store.backend.describe()} is already set up with a key — put that "
                f"key (the one stored as the repository secret) in {KEY_ENV} and run init again"
            )
        config_mod.write_config(config_mod.config_path(), "encryption_key", generated)
    made = ensure_tenant_secret(store)
    try:
        store.tenant_secret()
    except DecryptError:
        # Storing this key as the secret would lock the tick out of every schedule already there.
        raise DecryptError(
            f"{TENANT_KEY} in {store.backend.describe()} was made with another key — this repository is already "
            f"set up: put its key in {KEY_ENV} (the one stored as the repository secret), then run init again"
        ) from None
    steps = []
    if generated:
        steps.append(f"Generated a new encryption key and saved it in {config_mod.config_path()} (mode 0600):")
        steps.append(f"    {generated}")
        steps.append("Keep a copy somewhere safe: without it nobody, you included, can read the schedules.")
    else:
        steps.append(f"Using the encryption key from {KEY_ENV} / the config file.")
    steps.append(("Committed" if made else "Found") + f" the tenant secret {TENANT_KEY} in {store.backend.describe()}.")
    outcome: dict[str, Any] = {"key_generated": generated is not None, "tenant_secret_created": made}

    target = github_target(settings)
    assert settings.encryption_key is not None
    if target.repo is not None and settings.github_token:
        github, done = _setup_github(settings, settings.encryption_key, target.repo, target.branch)
        outcome.update(github)
        steps += done
        steps += [
            "Next:",
            '  1. Schedule something: switchboard send --agent-id agent-… --message "Hello" '
            '--execute-at "in 5 minutes"',
            "  2. Check the set-up at any time: switchboard doctor",
        ]
        if settings.github_repo:
            steps.append(
                f"  Tip: `switchboard config set-repo --github {settings.github_repo}` saves the repository, "
                "so later commands need no --github."
            )
    else:
        outcome.update({"github_repo": target.repo, "secret_stored": False, "workflow_state": None})
        if target.repo is not None:
            steps.append(
                f"No GITHUB_TOKEN: set it (Actions, Secrets and Contents: read and write on {target.repo}) and run "
                "init again to store the secret and enable the workflow, or do it by hand:"
            )
        steps += [
            "Next:",
            f"  1. {secret_steps(target.repo)[0]}",
            f"  2. {ENABLE_STEPS}",
            '  3. Schedule something: switchboard send --agent-id agent-… --message "Hello" '
            '--execute-at "in 5 minutes"',
            "  4. Check the set-up at any time: switchboard doctor",
        ]
    outcome["steps"] = steps
    return outcome
