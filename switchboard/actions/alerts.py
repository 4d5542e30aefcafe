"""Failure alerts from the tick: a JSON POST to a webhook of your choice.

Opt in with the repository secret ``SWITCHBOARD_WEBHOOK_URL`` (the tick
workflow passes it to ``switchboard tick``; elsewhere, set the environment
variable). After a pass with a failure — a delivery failed for good, was
put back after transient errors, or an earlier delivery's run ended failed
or cancelled — the tick POSTs::

    {"source": "letta-switchboard", "event": "tick", "at": "…",
     "counts": {"delivered": 1, "failed": 1, "requeued": 0, "deferred": 0},
     "results": [{"schedule_id", "schedule_type", "status", "run_id", "agent_id",
                  "scheduled_for", "executed_at", "http_status", "lateness_s", "skipped",
                  "run_status", "stop_reason"}, …],
     "github": {"repository", "run_id", "run_attempt", "run_url"} | null}

With ``SWITCHBOARD_WEBHOOK_EVENTS=all`` it posts after every pass that
delivered or failed anything. Only counts and ids travel: never message text,
error text (it may quote a server's answer), keys or the URL itself. The POST
is best effort: a webhook that fails is a warning on stderr, never a failed
tick.

The other alert, a GitHub issue opened or updated when deliveries fail, is the
workflow's ``report-failures`` job (repository variable
``SWITCHBOARD_FAILURE_ISSUES=true``).
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import urlsplit

import httpx

from switchboard.tick import TickReport

WEBHOOK_ENV = "SWITCHBOARD_WEBHOOK_URL"
EVENTS_ENV = "SWITCHBOARD_WEBHOOK_EVENTS"
_RESULT_FIELDS = (
    "schedule_id",
    "schedule_type",
    "status",
    "run_id",
    "agent_id",
    "scheduled_for",
    "executed_at",
    "http_status",
    "lateness_s",
    "skipped",
    "run_status",
    "stop_reason",
)


def payload(report: TickReport, env: Mapping[str, str]) -> dict[str, Any]:
    """The JSON body for one pass: counts and ids, no text and no keys."""
    data = report.as_json()
    results = []
    for result in [*report.results, *report.followed]:
        public = result.public()
        results.append({name: public.get(name) for name in _RESULT_FIELDS})
    github: dict[str, Any] | None = None
    if env.get("GITHUB_RUN_ID") and env.get("GITHUB_REPOSITORY"):
        server = env.get("GITHUB_SERVER_URL") or "https://github.com"
        github = {
            "repository": env["GITHUB_REPOSITORY"],
            "run_id": env["GITHUB_RUN_ID"],
            "run_attempt": env.get("GITHUB_RUN_ATTEMPT"),
            "run_url": f"{server}/{env['GITHUB_REPOSITORY']}/actions/runs/{env['GITHUB_RUN_ID']}",
        }
    return {
        "source": "letta-switchboard",
        "event": "tick",
        "at": report.now.isoformat(),
        "counts": {name: data[name] for name in ("delivered", "failed", "requeued", "deferred")},
        "results": results,
        "github": github,
    }


def wanted(report: TickReport, events: str) -> bool:
    """Whether this pass is worth a POST: a failure, or (events=all) any outcome at all."""
    if report.dry_run:
        return False
    if events.strip().lower() == "all":
        return bool(report.results) or report.permanent_failures > 0 or report.count("deferred") > 0
    return report.permanent_failures > 0 or report.count("requeued") > 0


def _warner(env: Mapping[str, str]) -> Callable[[str], None]:
    # Inside Actions a ::warning:: line becomes an annotation on the run.
    prefix = "::warning title=switchboard webhook::" if env.get("GITHUB_ACTIONS") == "true" else "Warning: "
    return lambda text: print(f"{prefix}{text}", file=sys.stderr, flush=True)


def notify(
    report: TickReport,
    *,
    env: Mapping[str, str],
    transport: httpx.BaseTransport | None = None,
    timeout: float = 10.0,
    warn: Callable[[str], None] | None = None,
) -> bool:
    """POST the pass's summary to SWITCHBOARD_WEBHOOK_URL when it is set and the pass is worth it.

    Returns True when the webhook accepted it (2xx). Never raises: a broken
    webhook must not fail a tick whose deliveries are already committed.
    """
    warn = warn or _warner(env)
    url = (env.get(WEBHOOK_ENV) or "").strip()
    if not url or not wanted(report, env.get(EVENTS_ENV) or "failures"):
        return False
    try:
        parts = urlsplit(url)
        usable = parts.scheme in ("http", "https") and bool(parts.hostname)
    except ValueError:
        usable = False
    if not usable:
        # The URL is a secret (webhook URLs often carry a token): say what is wrong, not what it is.
        warn(f"{WEBHOOK_ENV} is not an http(s) URL — nothing was posted")
        return False
    try:
        with httpx.Client(timeout=timeout, transport=transport, follow_redirects=False) as client:
            response = client.post(url, json=payload(report, env), headers={"User-Agent": "letta-switchboard"})
    except (httpx.HTTPError, httpx.InvalidURL) as exc:
        warn(f"could not reach the webhook in {WEBHOOK_ENV} ({type(exc).__name__}) — nothing was retried")
        return False
    if not 200 <= response.status_code < 300:
        warn(f"the webhook in {WEBHOOK_ENV} answered {response.status_code} — nothing was retried")
        return False
    return True
