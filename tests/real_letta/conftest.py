"""Fixtures for end-to-end tests against a real Letta 0.11.7 server on loopback.

The server, its venv (outside the repo) and the fake model it talks to are
managed by ``scripts/letta_server.py``; see that file for the CLI. The
session-scoped ``real_letta`` fixture installs the server when needed (or
skips with the reason), starts it with a fresh password and stops it at the
end, whatever happened.

Environment:

- ``SWITCHBOARD_SKIP_REAL_LETTA=1``: skip these tests without trying anything.
- ``LETTA_SERVER_VENV``: where the server venv lives (default under ``~/.cache``).
- ``SWITCHBOARD_LETTA_INSTALL_TIMEOUT``: seconds the fixture may spend
  installing (default 1800); CI installs beforehand, so this is for laptops.
- ``SWITCHBOARD_LETTA_START_TIMEOUT``: seconds to wait for ``/v1/health/``
  (default 120; start-up takes about 20 s on an idle 2-core machine).
- ``SWITCHBOARD_LETTA_STATE``: the state file of a server already started
  with ``python scripts/letta_server.py start --state FILE``; the tests use it
  and leave it running (saves the start-up when running them again and again).
"""

from __future__ import annotations

import atexit
import contextlib
import importlib.util
import os
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import httpx
import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
HARNESS_PATH = REPO_ROOT / "scripts" / "letta_server.py"


def _load_harness() -> ModuleType:
    """Import scripts/letta_server.py by path: ``scripts`` is not a package."""
    spec = importlib.util.spec_from_file_location("letta_server_harness", HARNESS_PATH)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    # dataclasses look the module up in sys.modules while the class is built.
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


harness = _load_harness()


# Why the install failed or was skipped, found once before the first test.
_install_problem: str | None = None


def pytest_collection_finish(session: pytest.Session) -> None:
    """Install the server before any test runs, when a ``real_letta`` test is selected.

    Done here rather than in the fixture because the install takes minutes
    and the project's per-test timeout (pytest-timeout) would count them
    against whichever test happens to come first.
    """
    global _install_problem
    if not any(item.get_closest_marker("real_letta") for item in session.items):
        return
    if os.environ.get("SWITCHBOARD_SKIP_REAL_LETTA") == "1" or harness.is_installed():
        return
    capman = session.config.pluginmanager.getplugin("capturemanager")
    # Show pip's heartbeat: minutes of silence look like a hang.
    with capman.global_and_fixture_disabled() if capman else contextlib.nullcontext():
        _install_problem = _install()


def _install() -> str | None:
    """Install the server venv; return why it is impossible, or None when it is there."""
    if not harness.pypi_reachable():
        return (
            f"letta {harness.LETTA_VERSION} is not installed in {harness.venv_dir()} and pip "
            "cannot reach its package index; run `python scripts/letta_server.py install` "
            "where it can"
        )
    timeout = float(os.environ.get("SWITCHBOARD_LETTA_INSTALL_TIMEOUT", "1800"))
    try:
        harness.ensure_installed(timeout=timeout)
    except (harness.LettaServerError, OSError) as exc:
        return f"could not install letta {harness.LETTA_VERSION}: {exc}"
    return None


@dataclass
class RealLetta:
    """A running Letta server plus the fake model its agents use."""

    info: Any  # harness.ServerInfo (loaded by path, so no static type)

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:<port>``, without a trailing slash."""
        return str(self.info.base_url)

    @property
    def password(self) -> str:
        """The bearer token this server accepts."""
        return str(self.info.password)

    @property
    def model_url(self) -> str:
        """The fake model's OpenAI-compatible base URL (ends in ``/v1``)."""
        return str(self.info.model_url)

    def client(self, token: str | None = None, timeout: float = 30.0) -> httpx.Client:
        """An httpx client for the server, authenticated with ``token`` (default: the password).

        ``trust_env=False`` keeps a proxy from the environment off loopback traffic.
        """
        return httpx.Client(
            base_url=self.base_url,
            headers={"Authorization": f"Bearer {token if token is not None else self.password}"},
            timeout=timeout,
            trust_env=False,
        )

    def create_agent(self, name: str) -> str:
        """Create an agent whose model is the fake one; return its id (``agent-…``)."""
        with self.client() as client:
            resp = client.post("/v1/agents/", json=self.info.agent_body(name))
        assert resp.status_code == 200, f"create agent: {resp.status_code} {resp.text[:500]}"
        agent_id = resp.json()["id"]
        assert isinstance(agent_id, str)
        return agent_id

    def wait_for_run(self, run_id: str, timeout: float = 60.0) -> dict[str, Any]:
        """Poll ``GET /v1/runs/{id}`` until the run is finished; return the last Run body."""
        deadline = time.monotonic() + timeout
        body: dict[str, Any] = {}
        with self.client() as client:
            while time.monotonic() < deadline:
                resp = client.get(f"/v1/runs/{run_id}")
                assert resp.status_code == 200, f"get run: {resp.status_code} {resp.text[:500]}"
                body = resp.json()
                if body.get("status") in ("completed", "failed", "cancelled"):
                    return body
                time.sleep(0.5)
        raise AssertionError(f"run {run_id} not finished after {timeout} s: {body}")


def _ensure_installed_or_skip() -> None:
    if os.environ.get("SWITCHBOARD_SKIP_REAL_LETTA") == "1":
        pytest.skip("SWITCHBOARD_SKIP_REAL_LETTA=1")
    if harness.is_installed():
        return
    # Normally pytest_collection_finish already tried; this covers a test in
    # this folder that uses the fixture without the marker (it then pays the
    # install inside its own timeout).
    problem = _install_problem or _install()
    if problem:
        pytest.skip(problem)


@pytest.fixture(scope="session")
def real_letta(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RealLetta]:
    """A secure Letta 0.11.7 server and the fake model, started once per test session."""
    _ensure_installed_or_skip()
    reuse = os.environ.get("SWITCHBOARD_LETTA_STATE")
    if reuse:
        # A server started with `scripts/letta_server.py start --state FILE`: used as is, left running.
        try:
            running = harness.ServerInfo.from_file(Path(reuse))
        except (OSError, ValueError, TypeError) as exc:
            pytest.fail(f"SWITCHBOARD_LETTA_STATE={reuse} is not a readable state file: {exc}", pytrace=False)
        if not harness.server_status(running)["healthy"]:
            pytest.fail(f"the server in SWITCHBOARD_LETTA_STATE={reuse} is not healthy", pytrace=False)
        yield RealLetta(running)
        return
    workdir = tmp_path_factory.mktemp("letta-server")
    try:
        info = harness.start_server(
            workdir,
            health_timeout=float(os.environ.get("SWITCHBOARD_LETTA_START_TIMEOUT", harness.HEALTH_TIMEOUT)),
        )
    except harness.LettaServerError as exc:
        pytest.fail(f"real Letta server did not start: {exc}", pytrace=False)
    # atexit as well as the finally: an interrupted session (Ctrl-C during
    # teardown) must still not leave a server behind. Stopping twice is fine.
    atexit.register(harness.stop_server, info)
    try:
        yield RealLetta(info)
    finally:
        harness.stop_server(info)
