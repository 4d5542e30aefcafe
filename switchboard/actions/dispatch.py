"""Starting the tick workflow now, instead of waiting for its schedule.

``.github/workflows/tick.yml`` runs on a cron schedule (``17,47 * * * *``:
every 30 minutes) and on ``workflow_dispatch``. ``switchboard dispatch`` and
``switchboard send`` use the second to deliver without waiting for the first:

- ``send`` with a time before the next scheduled tick, or with no time when
  it cannot deliver from where it runs (``tick.now``: Letta out of reach from
  there) or is told ``--no-deliver``, dispatches the workflow itself when a
  GitHub token and a GitHub repository are known (``--github``/``SWITCHBOARD_GITHUB_REPO``, or a clone whose
  ``origin`` is on github.com). A message due in the future is dispatched with
  a *hold* until its time, so it goes out on time rather than at the next
  tick. A failed dispatch never fails the send: the schedule is stored, and
  the next scheduled tick delivers it.
- ``dispatch [--hold D] [--dry-run] [--wait]`` starts it on request and,
  with ``--wait``, follows the run until it completes (bounded).

The pure parts (the workflow's cron lines, the next scheduled tick, the
cadence, what a send should do) take ``now`` and touch nothing else.
"""

from __future__ import annotations

import math
import re
import subprocess
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from itertools import pairwise
from pathlib import Path
from typing import TYPE_CHECKING, Any

from switchboard.config import Settings
from switchboard.due import fires, next_fire
from switchboard.exceptions import ConfigError, GitHubError, InvalidInputError, SwitchboardError

if TYPE_CHECKING:
    from switchboard.actions.client import ActionsClient
    from switchboard.backends.base import Backend

WORKFLOW_FILE = "tick.yml"
WORKFLOW_PATH = f".github/workflows/{WORKFLOW_FILE}"
#: The shipped schedule, used when the workflow file cannot be read.
DEFAULT_CRONS = ("17,47 * * * *",)
#: The workflow refuses a longer hold (its job stops at 40 minutes).
MAX_HOLD = timedelta(minutes=30)

_CRON_LINE = re.compile(r"""^\s*-?\s*cron:\s*(?P<q>["']?)(?P<cron>[^"'#\n]+?)(?P=q)\s*(?:#.*)?$""", re.M)
_GITHUB_URL = re.compile(
    r"""^(?:https?://(?:[^@/\s]+@)?github\.com/|ssh://(?:[^@/\s]+@)?github\.com(?::\d+)?/|[^@/\s]+@github\.com:)
        (?P<repo>[A-Za-z0-9][A-Za-z0-9-]{0,38}/[A-Za-z0-9._-]{1,100}?)(?:\.git)?/?$""",
    re.X,
)


# -- the schedule (pure) ----------------------------------------------------------


def workflow_crons(text: str | None) -> tuple[str, ...]:
    """The ``cron:`` lines of the workflow's ``schedule`` trigger; the shipped one when there are none.

    A line scan rather than a YAML parser: the tick needs no YAML library, and
    the lines GitHub reads are ``- cron: "…"`` under ``on.schedule``.
    """
    found = tuple(m.group("cron").strip() for m in _CRON_LINE.finditer(text or ""))
    return found or DEFAULT_CRONS


def next_tick(crons: Iterable[str], now: datetime) -> datetime:
    """The first scheduled tick strictly after ``now`` (GitHub reads cron in UTC)."""
    return min(next_fire(cron, "UTC", now) for cron in crons)


def cadence(crons: Iterable[str], now: datetime, *, window: timedelta = timedelta(days=8)) -> timedelta:
    """The longest gap between two consecutive scheduled ticks in the ``window`` after ``now``."""
    end = now + window
    instants: set[datetime] = set()
    for cron in crons:
        # Enough fires to cover the window for any cadence of a minute or more.
        instants.update(t for t in fires(cron, "UTC", now, int(window.total_seconds() // 60) + 1) if t <= end)
    ordered = sorted(instants)
    if len(ordered) < 2:
        return window
    return max(b - a for a, b in pairwise(ordered))


def format_hold(hold: timedelta) -> str:
    """A hold as the workflow's ``hold`` input takes it: ``0m``, ``5m`` or ``95s``."""
    seconds = math.ceil(hold.total_seconds())
    if seconds <= 0:
        return "0m"
    return f"{seconds // 60}m" if seconds % 60 == 0 else f"{seconds}s"


def check_hold(hold: timedelta) -> timedelta:
    """``hold`` when the workflow accepts it; InvalidInputError otherwise."""
    if hold < timedelta(0):
        raise InvalidInputError("the hold cannot be negative — use e.g. 90s, 5m or 30m")
    if hold > MAX_HOLD:
        raise InvalidInputError(
            f"a hold of {format_hold(hold)} is over 30m — the tick workflow stops at 40 minutes; "
            "use at most 30m (every held minute is a billed minute in a private repository)"
        )
    return hold


@dataclass(frozen=True)
class SendPlan:
    """What a send should do about the workflow: dispatch now (with a hold), or leave it to the schedule."""

    dispatch: bool
    hold: timedelta
    next_tick: datetime


def plan_send(execute_at: datetime, now: datetime, crons: Iterable[str]) -> SendPlan:
    """Dispatch when the message is due now, or falls due before the next scheduled tick.

    A message due in the future gets a hold until its time, so the dispatched
    tick delivers it then; one the hold cannot reach (past 30 minutes, with a
    slower cadence than the shipped one) is left to the scheduled tick.
    """
    upcoming = next_tick(crons, now)
    if execute_at <= now:
        return SendPlan(True, timedelta(0), upcoming)
    if execute_at < upcoming and execute_at - now <= MAX_HOLD:
        return SendPlan(True, execute_at - now, upcoming)
    return SendPlan(False, timedelta(0), upcoming)


# -- which repository ----------------------------------------------------------------


def parse_github_url(url: str) -> str | None:
    """``owner/name`` of a github.com remote URL (https, ssh or scp-like), or None."""
    match = _GITHUB_URL.match(url.strip())
    return match.group("repo") if match else None


def _git(root: Path, *args: str) -> str | None:
    try:
        out = subprocess.run(["git", "-C", str(root), *args], capture_output=True, text=True, check=False)
    except FileNotFoundError:
        return None
    return out.stdout.strip() if out.returncode == 0 else None


@dataclass(frozen=True)
class Target:
    """The GitHub repository the settings point at, and the branch its data lives on."""

    repo: str | None
    branch: str | None = None
    #: Where the answer came from, for messages: "--github", "origin".
    source: str = ""
    clone: Path | None = None


def github_target(settings: Settings) -> Target:
    """``--github``/SWITCHBOARD_GITHUB_REPO, else the clone's ``origin`` when it is on github.com."""
    if settings.github_repo:
        return Target(settings.github_repo, None, "--github")
    top = _git(Path(settings.repo or ".").expanduser(), "rev-parse", "--show-toplevel")
    if top is None:
        return Target(None)
    root = Path(top)
    # The configured URL, not `git remote get-url`: an insteadOf rewrite must not hide github.com.
    url = _git(root, "config", "--get", "remote.origin.url")
    repo = parse_github_url(url) if url else None
    branch = _git(root, "symbolic-ref", "--quiet", "--short", "HEAD")
    return Target(repo, branch or None, "origin" if repo else "", root)


def open_actions(settings: Settings, target: Target | None = None) -> ActionsClient:
    """The Actions API of the target repository; ConfigError with the fix when there is none."""
    from switchboard.actions.client import ActionsClient  # PyGithub only when asked for
    from switchboard.context import open_github_session

    target = target or github_target(settings)
    if target.repo is None:
        raise ConfigError(
            "no GitHub repository to start the workflow in — pass --github OWNER/NAME (or set "
            "SWITCHBOARD_GITHUB_REPO), or run inside a clone whose origin is on github.com"
        )
    if not settings.github_token:
        raise ConfigError(
            f"starting the workflow in {target.repo} needs GITHUB_TOKEN — a token with Actions: read and write "
            f"on {target.repo} (classic: the repo and workflow scopes); or run `gh workflow run {WORKFLOW_FILE}`"
        )
    return ActionsClient(open_github_session(settings, target.repo, settings.github_token, target.branch))


def read_workflow(backend: Backend | None, target: Target | None = None) -> str | None:
    """The tick workflow's text from the clone or the repository, or None when it cannot be read."""
    if target is not None and target.clone is not None:
        try:
            return (target.clone / WORKFLOW_PATH).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            return None
    if backend is None:
        return None
    try:
        raw = backend.read(WORKFLOW_PATH)
    except SwitchboardError:
        return None
    return raw.decode("utf-8", "replace") if raw is not None else None


# -- dispatching -------------------------------------------------------------------------


def dispatch_tick(actions: ActionsClient, *, hold: timedelta = timedelta(0), dry_run: bool = False) -> dict[str, str]:
    """Start the tick workflow now on the target branch; returns the inputs sent. Errors are raised."""
    check_hold(hold)
    inputs: dict[str, str] = {}
    if hold > timedelta(0):
        inputs["hold"] = format_hold(hold)
    if dry_run:
        inputs["dry_run"] = "true"
    actions.dispatch_workflow(WORKFLOW_FILE, inputs=inputs)
    return inputs


def runs_url(repo: str) -> str:
    """Where a person follows the tick workflow's runs."""
    return f"https://github.com/{repo}/actions/workflows/{WORKFLOW_FILE}"


def wait_for_run(
    actions: ActionsClient,
    before: dict[str, Any] | None,
    *,
    timeout: float,
    poll: float = 5.0,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
    on_change: Callable[[dict[str, Any]], None] | None = None,
) -> dict[str, Any]:
    """Poll the newest run until one newer than ``before`` has completed; bounded by ``timeout`` seconds.

    GitHub answers a dispatch before the run exists, so "newer" is the newest
    run whose URL differs from the one listed before dispatching. A scheduled
    run that starts meanwhile counts too: it does the same work.
    """
    deadline = clock() + timeout
    previous_url = (before or {}).get("html_url")
    seen: dict[str, Any] | None = None
    while True:
        run = actions.last_workflow_run(WORKFLOW_FILE)
        if run is not None and run.get("html_url") != previous_url:
            if on_change is not None and (seen is None or seen.get("status") != run.get("status")):
                on_change(run)
            seen = run
            if run.get("status") == "completed":
                return run
        if clock() >= deadline:
            where = seen.get("html_url") if seen else runs_url(actions.repo)
            state = f"is still {seen.get('status')}" if seen else "has not appeared"
            raise GitHubError(
                f"the tick run {state} after {timeout:g}s — GitHub may be queueing it; follow it at {where}"
            )
        sleep(poll)


@dataclass(frozen=True)
class SendNotice:
    """What ``send`` tells the user about the workflow after storing a message."""

    dispatched: bool
    text: str
    #: True when the text is a warning (dispatch wanted but not done).
    warning: bool = False
    inputs: dict[str, str] = field(default_factory=dict)


def after_send(
    settings: Settings,
    backend: Backend | None,
    execute_at: datetime,
    now: datetime,
) -> SendNotice | None:
    """Dispatch the tick for a message due before the next scheduled tick; never raises.

    None when there is nothing to say: the message waits for a scheduled tick,
    or no GitHub repository is known (a local-only clone runs its own ticks).
    """
    try:
        target = github_target(settings)
    except Exception:  # what a send did must not be undone by a lookup
        return None
    if target.repo is None:
        return None
    plan = plan_send(execute_at, now, workflow_crons(read_workflow(backend, target)))
    if not plan.dispatch:
        return None
    at = f"{plan.next_tick:%H:%M} UTC"
    later = f"the scheduled tick at {at} delivers it (or run `switchboard dispatch` when fixed)"
    if not settings.github_token:
        return SendNotice(
            False,
            f"Not starting the tick workflow: GITHUB_TOKEN is not set — {later}. A token with Actions: "
            f"read and write on {target.repo} makes send deliver right away.",
            warning=True,
        )
    try:
        inputs = dispatch_tick(open_actions(settings, target), hold=plan.hold)
    except SwitchboardError as exc:
        return SendNotice(False, f"Stored, but starting the tick workflow failed: {exc} — {later}.", warning=True)
    except Exception as exc:  # never fail the send; name the kind of failure only (it may carry request text)
        return SendNotice(
            False,
            f"Stored, but starting the tick workflow failed ({type(exc).__name__}) — {later}.",
            warning=True,
        )
    if plan.hold > timedelta(0):
        billed = math.ceil(plan.hold.total_seconds() / 60) + 1
        text = (
            f"Started the tick workflow in {target.repo} with a hold of {inputs['hold']}: it delivers at the due "
            f"time instead of at {at} (a private repository is billed up to {billed} minutes; --no-dispatch "
            f"leaves it to the schedule). Runs: {runs_url(target.repo)}"
        )
    else:
        text = (
            f"Started the tick workflow in {target.repo}: delivery once GitHub runs it, usually within a minute "
            f"or two. Runs: {runs_url(target.repo)}"
        )
    return SendNotice(True, text, inputs=inputs)
