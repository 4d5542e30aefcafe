"""The GitHub Actions API of one repository: start the tick workflow, read its state and runs, set secrets.

Talks through a ``GitHubSession`` (``switchboard.backends.github``), so a
``--github`` store and its Actions calls share one connection; load it
lazily, like the GitHub backend, because it needs PyGithub.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from github.Workflow import Workflow

from switchboard.backends.github import GitHubSession
from switchboard.exceptions import BackendError


class ActionsClient:
    """Workflows, runs and secrets of ``session.repo``."""

    def __init__(self, session: GitHubSession) -> None:
        """Use ``session``'s connection (no request is made here)."""
        self.session = session
        self.repo = session.repo

    @property
    def branch(self) -> str:
        """The branch a dispatch runs on (the repository's default branch unless one was named)."""
        return self.session.branch

    def dispatch_workflow(
        self, workflow_file: str, ref: str | None = None, inputs: Mapping[str, str] | None = None
    ) -> None:
        """Start ``.github/workflows/<workflow_file>`` now (``workflow_dispatch``) on ``ref`` (default: the branch)."""
        ref = ref or self.branch
        hints = {
            404: f"is .github/workflows/{workflow_file} committed to {self.repo}?",
            422: self._workflow_hint(workflow_file),
        }
        with self.session.calling(f"starting workflow {workflow_file} on {self.repo}", hints):
            self._workflow(workflow_file).create_dispatch(ref, dict(inputs or {}), throw=True)

    def workflow_state(self, workflow_file: str) -> str:
        """The workflow's state: ``active``, ``disabled_manually``, ``disabled_fork``, ``disabled_inactivity``…"""
        hints = {404: f"is .github/workflows/{workflow_file} committed to {self.repo}?"}
        with self.session.calling(f"reading workflow {workflow_file} of {self.repo}", hints):
            return self._workflow(workflow_file).state

    def enable_workflow(self, workflow_file: str) -> None:
        """Enable a disabled workflow (forks start with scheduled workflows disabled)."""
        hints = {
            403: f"the token needs actions:write on {self.repo}, or enable it in the repository's Actions tab",
            404: f"is .github/workflows/{workflow_file} committed to {self.repo}?",
        }
        with self.session.calling(f"enabling workflow {workflow_file} on {self.repo}", hints):
            # Workflow.enable() reports failure as a bare False; this call raises with GitHub's reason.
            self.session.gh.requester.requestJsonAndCheck("PUT", f"{self._workflow(workflow_file).url}/enable")

    def last_workflow_run(self, workflow_file: str) -> dict[str, Any] | None:
        """The newest run of the workflow as ``{created_at, status, conclusion, html_url, event}``, or None."""
        hints = {404: f"is .github/workflows/{workflow_file} committed to {self.repo}?"}
        with self.session.calling(f"listing runs of workflow {workflow_file} on {self.repo}", hints):
            run = next(iter(self._workflow(workflow_file).get_runs()), None)
            if run is None:
                return None
            return {
                "created_at": run.created_at.isoformat(),
                "status": run.status,
                "conclusion": run.conclusion,
                "html_url": run.html_url,
                "event": run.event,
            }

    def set_actions_secret(self, name: str, value: str) -> None:
        """Create or replace the Actions secret ``name``; PyGithub seals it with the repository's public key."""
        if not isinstance(value, str):
            # PyGithub's own check would put the value in its AssertionError.
            raise BackendError(f"the value of secret {name} must be text")
        hints = {
            403: f"the token needs secrets:write on {self.repo}, "
            "or set it under Settings → Secrets and variables → Actions"
        }
        with self.session.calling(f"setting Actions secret {name} on {self.repo}", hints):
            self.session.api.create_secret(name, value, "actions")

    def close(self) -> None:
        """Close the HTTP connections."""
        self.session.close()

    def _workflow(self, workflow_file: str) -> Workflow:
        # Lazy: no request until an attribute or a call needs one.
        return self.session.api.get_workflow(workflow_file)

    def _workflow_hint(self, workflow_file: str) -> str:
        return (
            f"check that {workflow_file} has a workflow_dispatch trigger and is enabled "
            f"(forks start with workflows disabled: enable it in the Actions tab of {self.repo}, "
            "or run switchboard doctor)"
        )
