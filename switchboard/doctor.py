"""`switchboard doctor`: is everything in place for messages to go out?

Each check answers ok, warn, fail or skip, says what it found, and for a
problem the fix. The command fails (exit 1) when a check fails; a warning is
something that works now but will bite (no tick for a long while, a local
clone without a remote).

Checks, in order:

1. repository — the clone (and its remote) or the GitHub repository can be read;
2. encryption key — set, made of Fernet keys, and it opens ``data/tenant.key.enc``;
3. Letta — the server at LETTA_BASE_URL answers and accepts LETTA_API_KEY
   (``GET /v1/agents/?limit=1``);
4. workflow — the tick workflow is enabled (needs a GitHub repository and a token);
5. last tick — when the workflow last ran; a warning past twice the cadence,
   because GitHub delays, drops, and after 60 quiet days disables scheduled runs;
6. watcher — whether ``switchboard watch`` (or ``tick --watch``) is running
   beside this clone and when its last pass ended (its heartbeat in ``.git``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from switchboard.actions.dispatch import (
    WORKFLOW_FILE,
    Target,
    cadence,
    github_target,
    open_actions,
    read_workflow,
    runs_url,
    workflow_crons,
)
from switchboard.config import Settings
from switchboard.crypto import KEY_ENV
from switchboard.exceptions import DecryptError, EncryptionKeyError, LettaError, SwitchboardError
from switchboard.index import indexed_store
from switchboard.letta import LettaClient

if TYPE_CHECKING:
    from switchboard.actions.client import ActionsClient
    from switchboard.backends.base import Backend
    from switchboard.store import Store

OK, WARN, FAIL, SKIP = "ok", "warn", "fail", "skip"


@dataclass(frozen=True)
class Check:
    """One check's answer: ok, warn, fail or skip, what was found, and the fix for a problem."""

    name: str
    status: str
    detail: str
    fix: str | None = None

    def as_json(self) -> dict[str, Any]:
        """The ``--json`` shape of a check."""
        return asdict(self)


def _age(delta: timedelta) -> str:
    minutes = int(delta.total_seconds() // 60)
    if minutes < 120:
        return f"{minutes} min"
    if minutes < 48 * 60:
        return f"{minutes // 60} h"
    return f"{minutes // (24 * 60)} days"


def _parse_instant(text: str) -> datetime | None:
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00"))
    except (TypeError, ValueError):
        return None


class _Doctor:
    """The checks, sharing what earlier ones opened."""

    def __init__(self, settings: Settings, now: datetime, letta_client: Callable[[str, str | None], LettaClient]):
        self.settings = settings
        self.now = now
        self.letta_client = letta_client
        self.backend: Backend | None = None
        self.store: Store | None = None

    def repository(self) -> Check:
        from switchboard.context import open_backend

        try:
            backend = open_backend(self.settings)
            backend.refresh()
        except SwitchboardError as exc:
            if self.settings.github_repo:
                fix = (
                    f"check that {self.settings.github_repo} exists and GITHUB_TOKEN can read it "
                    "(Contents: read and write)"
                )
            else:
                fix = "run switchboard inside your clone, or pass --repo PATH / --github OWNER/NAME"
            return Check("repository", FAIL, str(exc), fix)
        self.backend = backend
        describe = backend.describe()
        try:
            writable = backend.can_write()
        except SwitchboardError as exc:
            return Check("repository", FAIL, str(exc), "check GITHUB_TOKEN and the repository name")
        if writable is False:
            return Check(
                "repository",
                FAIL,
                f"{describe}: GITHUB_TOKEN may read but not push",
                f"give the token Contents: read and write on {self.settings.github_repo} (classic: repo scope)",
            )
        if not backend.has_remote:
            return Check(
                "repository",
                WARN,
                f"{describe}: commits stay on this machine, and the tick workflow never sees them",
                "git remote add origin https://github.com/OWNER/NAME.git && git push -u origin HEAD",
            )
        return Check("repository", OK, describe)

    def encryption_key(self) -> Check:
        from switchboard.context import open_codec
        from switchboard.store import TENANT_KEY

        fix_missing = (
            f"run `switchboard init` (it makes one), or set {KEY_ENV} to the key stored as the repository secret"
        )
        try:
            codec = open_codec(self.settings)
        except EncryptionKeyError as exc:
            return Check("encryption key", FAIL, str(exc), fix_missing)
        if codec.plaintext:
            return Check(
                "encryption key",
                WARN,
                "SWITCHBOARD_DEV_MODE: schedules are stored in plaintext",
                f"unset SWITCHBOARD_DEV_MODE and set {KEY_ENV}",
            )
        count = f"{len(codec.keys)} Fernet key{'s' if len(codec.keys) > 1 else ''}"
        if self.backend is None:
            return Check("encryption key", WARN, f"{count}; not tried on data/ (the repository could not be read)")
        self.store = indexed_store(self.backend, codec)
        try:
            secret = self.store.tenant_secret()
        except DecryptError:
            return Check(
                "encryption key",
                FAIL,
                f"{count}, but none opens {TENANT_KEY}: this is not the key the repository was set up with",
                f"set {KEY_ENV} to the key stored as the repository secret (add it to the list, comma-separated, "
                "to keep a newer one first)",
            )
        except SwitchboardError as exc:
            return Check("encryption key", FAIL, str(exc), "check the repository")
        if secret is None:
            return Check(
                "encryption key",
                WARN,
                f"{count}; {TENANT_KEY} does not exist yet",
                "run `switchboard init` (the first schedule also makes it)",
            )
        return Check("encryption key", OK, f"{count}; it opens {TENANT_KEY}")

    def letta(self) -> Check:
        base_url = self.settings.base_url
        try:
            with self.letta_client(base_url, self.settings.api_key) as client:
                client.check_key()
        except LettaError as exc:
            if exc.status in (401, 403):
                fix = "set LETTA_API_KEY to a valid key (`switchboard config set-api-key KEY`)"
            else:
                fix = f"check LETTA_BASE_URL (now {base_url}) points at a running Letta server"
            return Check("letta", FAIL, str(exc), fix)
        except SwitchboardError as exc:  # a malformed URL or key
            return Check("letta", FAIL, str(exc), "check LETTA_BASE_URL and LETTA_API_KEY")
        if not self.settings.api_key:
            return Check(
                "letta",
                WARN,
                f"{base_url} answers without a key; LETTA_API_KEY is not set, so schedules carry none",
                "set LETTA_API_KEY if the server needs one (Letta Cloud does)",
            )
        return Check("letta", OK, f"{base_url} accepts LETTA_API_KEY")

    def workflow(self) -> list[Check]:
        from switchboard.actions.setup import ENABLE_STEPS

        try:
            target = github_target(self.settings)
        except SwitchboardError as exc:
            return [Check("workflow", SKIP, str(exc))]
        if target.repo is None:
            detail = "no GitHub repository: the clone's origin is not on github.com (nothing to check)"
            return [Check("workflow", SKIP, detail), Check("last tick", SKIP, detail)]
        if not self.settings.github_token:
            detail = f"GITHUB_TOKEN is not set: cannot ask {target.repo} about its tick workflow"
            fix = f"set GITHUB_TOKEN (Actions: read) to check it, or look at {runs_url(target.repo)}"
            return [Check("workflow", SKIP, detail, fix), Check("last tick", SKIP, detail, fix)]
        try:
            actions = open_actions(self.settings, target)
            state = actions.workflow_state(WORKFLOW_FILE)
        except SwitchboardError as exc:
            return [
                Check("workflow", FAIL, str(exc), f"commit .github/workflows/{WORKFLOW_FILE} to {target.repo}"),
                Check("last tick", SKIP, "the workflow could not be read"),
            ]
        if state != "active":
            reason = {
                "disabled_fork": "forks start with scheduled workflows disabled",
                "disabled_inactivity": "GitHub disables scheduled workflows after 60 days without activity",
                "disabled_manually": "someone disabled it",
            }.get(state, state)
            fix = (
                f"`switchboard init --github {target.repo}` enables it with a token that has Actions: write, "
                f"or `gh workflow enable {WORKFLOW_FILE} --repo {target.repo}`, or: {ENABLE_STEPS}"
            )
            checks = [Check("workflow", FAIL, f"the tick workflow in {target.repo} is {state} ({reason})", fix)]
        else:
            checks = [Check("workflow", OK, f"the tick workflow in {target.repo} is enabled")]
        checks.append(self._last_tick(actions, target))
        return checks

    def _last_tick(self, actions: ActionsClient, target: Target) -> Check:
        repo = str(target.repo)
        try:
            run = actions.last_workflow_run(WORKFLOW_FILE)
        except SwitchboardError as exc:
            return Check("last tick", WARN, str(exc), f"look at {runs_url(repo)}")
        every = cadence(workflow_crons(read_workflow(self.backend, target)), self.now)
        if run is None:
            return Check(
                "last tick",
                WARN,
                f"the tick workflow has never run in {repo}",
                "start one with `switchboard dispatch` (scheduled runs start once the workflow is enabled)",
            )
        created = _parse_instant(str(run.get("created_at")))
        link = run.get("html_url") or runs_url(repo)
        if created is None:
            return Check("last tick", WARN, f"the last run has no readable start time: {link}")
        age = self.now - created
        outcome = run.get("conclusion") or run.get("status")
        detail = f"the last tick started {_age(max(age, timedelta(0)))} ago ({run.get('event')}, {outcome}): {link}"
        if age > 2 * every:
            return Check(
                "last tick",
                WARN,
                f"{detail} — over twice the cadence ({_age(every)})",
                "GitHub delays, drops and (after 60 quiet days) disables scheduled runs: check the Actions tab, "
                "run `switchboard dispatch` to tick now, and see docs/cost.md for delivery closer to the minute",
            )
        if run.get("status") == "completed" and run.get("conclusion") not in ("success", "skipped", "neutral"):
            return Check(
                "last tick",
                WARN,
                detail,
                "open the run's log; `switchboard results list` shows failed deliveries and why",
            )
        return Check("last tick", OK, detail)


def watcher_check(backend: Backend | None, now: datetime) -> Check:
    """Whether a watcher runs beside this clone, from the heartbeat it keeps in .git."""
    import os
    import socket

    from switchboard.watch import HEARTBEAT_FILE, read_heartbeat

    root = backend.root if backend is not None else None
    if root is None or not (root / ".git").is_dir():
        return Check("watcher", SKIP, "no local clone: a watcher runs beside a clone of the repository")
    beat = read_heartbeat(root / ".git" / HEARTBEAT_FILE)
    start = "start one with `switchboard watch` (as a service: docs/self-hosting.md)"
    if beat is None:
        return Check("watcher", SKIP, "no watcher has run beside this clone; the tick workflow delivers alone")
    if beat.stopped is not None:
        ago = _age(max(now - beat.stopped, timedelta(0)))
        return Check("watcher", WARN, f"the watcher (pid {beat.pid}) stopped {ago} ago", start)
    alive: bool | None = None
    if beat.host == socket.gethostname():
        try:
            os.kill(beat.pid, 0)
            alive = True
        except PermissionError:
            alive = True  # another user's process: it exists
        except (ProcessLookupError, OverflowError):
            alive = False
    if alive is False:
        return Check(
            "watcher", WARN, f"the watcher (pid {beat.pid}) is no longer running (it did not stop cleanly)", start
        )
    last = beat.last_pass or beat.started
    age = max(now - last, timedelta(0))
    ago = f"{age.total_seconds():.0f} s" if age < timedelta(minutes=2) else _age(age)
    where = "" if alive else f" on {beat.host}"
    detail = f"a watcher (pid {beat.pid}{where}) is running; its last pass ended {ago} ago"
    if age.total_seconds() > 2 * beat.fetch_every + 60:
        why = f" (its last pass failed: {beat.last_error})" if beat.last_error else ""
        return Check(
            "watcher",
            WARN,
            f"{detail} — it should pass every {beat.fetch_every:g}s{why}",
            "look at its log (journalctl -u switchboard-watch) and restart it",
        )
    return Check("watcher", OK, detail)


def run_checks(
    settings: Settings,
    *,
    now: datetime,
    letta_client: Callable[[str, str | None], LettaClient] = LettaClient,
) -> list[Check]:
    """Every check, in order; none raises."""
    doctor = _Doctor(settings, now, letta_client)
    checks = [doctor.repository(), doctor.encryption_key(), doctor.letta()]
    checks += doctor.workflow()
    checks.append(watcher_check(doctor.backend, now))
    return checks


def healthy(checks: list[Check]) -> bool:
    """No check failed (warnings and skips are fine)."""
    return all(c.status != FAIL for c in checks)
