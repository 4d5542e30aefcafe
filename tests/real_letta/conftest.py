"""Fixtures for end-to-end tests against real Letta servers on loopback: the V1 REST server and the App Server.

**The ``app_server`` fixture** (session-scoped) is Letta Code's App Server
(``scripts/letta_app_server.py``): ``app_server.base_url`` (``ws://…``),
``.token``, ``.agent_id``, ``.home``, ``.send(text, otid=…)`` and
``.messages(conversation)``; ``app_env`` is the CLI environment pointing at it.
See the ``AppServer`` class below.

The servers, their venvs (outside the repo), the fake model they talk to and
0.16.8's PostgreSQL are managed by ``scripts/letta_server.py``; see that
file for the CLI.

**The ``real_letta`` fixture** is session-scoped and parametrized over
``harness.VERSIONS``: every test that takes it runs once per Letta version,
with ids ``[letta-0.11.7]`` and ``[letta-0.16.8]``, and a new test file in
this folder needs nothing more than the fixture argument (and the
``real_letta`` marker). pytest groups the tests by version, so one server
runs at a time: started with a fresh password before the version's first
test, stopped (Letta, fake model, Postgres) after its last, whatever
happened. ``real_letta.version`` says which server a test talks to; a test
whose expectation differs by version branches on it explicitly, e.g.
``if real_letta.version == "0.11.7":``. Helpers: ``client()``,
``create_agent()``, ``wait_for_run()``.

A version whose venv is missing is skipped, saying why and how to install
it; the default version alone is installed on demand before the first test
(when pip can reach its index), as CI installs it up front.

Environment:

- ``SWITCHBOARD_SKIP_REAL_LETTA=1``: skip these tests without trying anything.
- ``SWITCHBOARD_LETTA_VERSIONS``: a comma-separated list of versions to run
  (default: 0.16.8, the last V1 server; 0.11.7 runs only when named); the others are skipped.
- ``LETTA_SERVER_CACHE``: where the server venvs live (default ``~/.cache/letta-switchboard``).
- ``SWITCHBOARD_LETTA_INSTALL_TIMEOUT``: seconds the tests may spend
  installing 0.11.7 (default 1800); CI installs beforehand, so this is for laptops.
- ``SWITCHBOARD_LETTA_START_TIMEOUT``: seconds to wait for ``/v1/health/``
  (default 120; start-up takes 15-20 s on an idle 2-core machine).
- ``SWITCHBOARD_LETTA_STATE``: state files of servers already started with
  ``python scripts/letta_server.py start --version V --state FILE``, separated
  by ``:``; each serves the version it names (its ``letta_version``), which
  starts no server of its own. The tests use them and leave them running
  (saves the start-up when running the tests again and again).
"""

from __future__ import annotations

import atexit
import contextlib
import importlib.util
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import httpx
import pytest
from conftest import Repo

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


#: The version the tests install themselves when it is missing (the others are installed up front).
ON_DEMAND = harness.DEFAULT_VERSION


def selected_versions() -> list[str]:
    """The versions ``SWITCHBOARD_LETTA_VERSIONS`` asks for (default: the harness's TESTED_VERSIONS)."""
    wanted = os.environ.get("SWITCHBOARD_LETTA_VERSIONS", "")
    if not wanted:
        return list(harness.TESTED_VERSIONS)
    return [v for v in harness.VERSIONS if v in {w.strip() for w in wanted.split(",")}]


def pytest_collection_finish(session: pytest.Session) -> None:
    """Install 0.11.7 before any test runs, when a ``real_letta`` test is selected.

    Done here rather than in the fixture because the install takes minutes
    and the project's per-test timeout (pytest-timeout) would count them
    against whichever test happens to come first.
    """
    global _install_problem
    # The App Server's tests are marked real_letta too but need no V1 server: only the fixture counts.
    if not any("real_letta" in getattr(item, "fixturenames", ()) for item in session.items):
        return
    if os.environ.get("SWITCHBOARD_SKIP_REAL_LETTA") == "1" or ON_DEMAND not in selected_versions():
        return
    if harness.is_installed(ON_DEMAND) or ON_DEMAND in _reused_states():
        return
    capman = session.config.pluginmanager.getplugin("capturemanager")
    # Show pip's heartbeat: minutes of silence look like a hang.
    with capman.global_and_fixture_disabled() if capman else contextlib.nullcontext():
        _install_problem = _install()


def _install() -> str | None:
    """Install the on-demand version's venv; return why it is impossible, or None when it is there."""
    if not harness.pypi_reachable(version=ON_DEMAND):
        return (
            f"letta {ON_DEMAND} is not installed in {harness.venv_dir(ON_DEMAND)} and pip "
            "cannot reach its package index; run `python scripts/letta_server.py install` "
            "where it can"
        )
    timeout = float(os.environ.get("SWITCHBOARD_LETTA_INSTALL_TIMEOUT", "1800"))
    try:
        harness.ensure_installed(timeout=timeout, version=ON_DEMAND)
    except (harness.LettaServerError, OSError) as exc:
        return f"could not install letta {ON_DEMAND}: {exc}"
    return None


def _reused_states() -> dict[str, Path]:
    """``SWITCHBOARD_LETTA_STATE``'s files, by the Letta version each names."""
    found: dict[str, Path] = {}
    for entry in filter(None, os.environ.get("SWITCHBOARD_LETTA_STATE", "").split(os.pathsep)):
        path = Path(entry)
        try:
            version = harness.ServerInfo.from_file(path).letta_version
        except (OSError, ValueError, TypeError) as exc:
            pytest.fail(f"SWITCHBOARD_LETTA_STATE: {path} is not a readable state file: {exc}", pytrace=False)
        found[version] = path
    return found


@dataclass
class RealLetta:
    """A running Letta server plus the fake model its agents use."""

    info: Any  # harness.ServerInfo (loaded by path, so no static type)

    @property
    def version(self) -> str:
        """The server's Letta version, e.g. ``"0.16.8"``: branch on it where the versions differ."""
        return str(self.info.letta_version)

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


def _skip_unless_wanted(version: str) -> None:
    if os.environ.get("SWITCHBOARD_SKIP_REAL_LETTA") == "1":
        pytest.skip("SWITCHBOARD_SKIP_REAL_LETTA=1")
    if version not in selected_versions():
        pytest.skip(f"letta {version} is not in SWITCHBOARD_LETTA_VERSIONS")


def _ensure_installed_or_skip(version: str) -> None:
    if harness.is_installed(version):
        return
    if version != ON_DEMAND:
        pytest.skip(
            f"letta {version} is not installed in {harness.venv_dir(version)}; "
            f"run `python3 scripts/letta_server.py install --version {version}` (CI installs every version)"
        )
    # Normally pytest_collection_finish already tried; this covers a test in
    # this folder that uses the fixture without the marker (it then pays the
    # install inside its own timeout).
    problem = _install_problem or _install()
    if problem:
        pytest.skip(problem)


@pytest.fixture(scope="session", params=selected_versions(), ids=lambda version: f"letta-{version}")
def real_letta(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RealLetta]:
    """A secure Letta server of each version (``real_letta.version``) and its fake model, started once per session."""
    version: str = request.param
    _skip_unless_wanted(version)
    reuse = _reused_states().get(version)
    if reuse:
        # A server started with `scripts/letta_server.py start --state FILE`: used as is, left running.
        running = harness.ServerInfo.from_file(reuse)
        if not harness.server_status(running)["healthy"]:
            pytest.fail(f"the letta {version} server in SWITCHBOARD_LETTA_STATE ({reuse}) is unhealthy", pytrace=False)
        yield RealLetta(running)
        return
    _ensure_installed_or_skip(version)
    workdir = tmp_path_factory.mktemp(f"letta-{version}-server")
    try:
        info = harness.start_server(
            workdir,
            version=version,
            health_timeout=float(os.environ.get("SWITCHBOARD_LETTA_START_TIMEOUT", harness.HEALTH_TIMEOUT)),
        )
    except harness.LettaServerError as exc:
        pytest.fail(f"real Letta {version} server did not start: {exc}", pytrace=False)
    # atexit as well as the finally: an interrupted session (Ctrl-C during
    # teardown) must still not leave a server behind. Stopping twice is fine.
    atexit.register(harness.stop_server, info)
    try:
        yield RealLetta(info)
    finally:
        harness.stop_server(info)


@pytest.fixture
def env(tmp_path: Path, repo: Repo, key: str, real_letta: RealLetta) -> dict[str, str]:
    """Environment for the CLI: the clone, a fresh encryption key, the real server and its password."""
    return {
        "SWITCHBOARD_ENCRYPTION_KEY": key,
        "LETTA_API_KEY": real_letta.password,
        "LETTA_BASE_URL": real_letta.base_url,
        "SWITCHBOARD_REPO": str(repo.clone),
        "XDG_CONFIG_HOME": str(tmp_path / "config"),
        "HOME": str(tmp_path / "home"),
        # A proxy from the environment must not carry loopback traffic.
        "NO_PROXY": "127.0.0.1,localhost",
        "no_proxy": "127.0.0.1,localhost",
    }


# --------------------------------------------------------------------------- the App Server

APP_HARNESS_PATH = REPO_ROOT / "scripts" / "letta_app_server.py"


def _load_app_harness() -> ModuleType:
    """Import scripts/letta_app_server.py by path (it imports letta_server.py beside it)."""
    spec = importlib.util.spec_from_file_location("letta_app_server_harness", APP_HARNESS_PATH)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


app_harness = _load_app_harness()


@dataclass
class AppServer:
    """A running Letta Code App Server (``letta server``), its fake model and one agent made for the tests.

    ``base_url`` is ``ws://127.0.0.1:PORT``; ``token`` its capability token
    (what LETTA_API_KEY holds for it); ``agent_id`` an ``agent-local-…`` agent
    whose model is the fake one; ``home`` the server's isolated HOME (its
    ``.letta`` holds agents, conversations and skills). ``send`` hands the agent
    a user message over /ws and waits for its turn; ``messages`` lists a
    conversation's stored messages.
    """

    info: Any  # app_harness.AppServerInfo (loaded by path, so no static type)

    @property
    def base_url(self) -> str:
        """``ws://127.0.0.1:<port>``."""
        return str(self.info.base_url)

    @property
    def token(self) -> str:
        """The capability token the server accepts."""
        return str(self.info.token)

    @property
    def agent_id(self) -> str:
        """The agent every start creates (``agent-local-<uuid>``)."""
        return str(self.info.agent_id)

    @property
    def home(self) -> Path:
        """The server's HOME."""
        return Path(self.info.home)

    def client(self, token: str | None = None, **options: Any) -> Any:
        """switchboard's own App Server client, with ``token`` (default: the right one)."""
        from switchboard.letta_ws import AppServerClient

        return AppServerClient(self.base_url, token if token is not None else self.token, **options)

    def send(self, text: str, *, otid: str | None = None, conversation: str | None = None) -> Any:
        """Send a user message (otid: a new one) and wait for its turn; the Run with its proof."""
        import uuid

        with self.client() as client:
            return client.send_message(self.agent_id, text, otid=otid or str(uuid.uuid4()), conversation=conversation)

    def messages(self, conversation: str = "default", agent_id: str | None = None) -> list[dict[str, Any]]:
        """The newest stored messages of a conversation (``conversation_messages_list``), newest first."""
        import json

        from websockets.sync.client import connect

        query: dict[str, Any] = {"limit": 200, "order": "desc"}
        if conversation == "default":
            query["agent_id"] = agent_id or self.agent_id
        headers = {"Authorization": f"Bearer {self.token}"}
        with connect(f"{self.base_url}/ws", additional_headers=headers, max_size=None, proxy=None) as ws:
            ws.send(json.dumps({"type": "conversation_messages_list", "request_id": "list-1",
                                "conversation_id": conversation, "query": query}))  # fmt: skip
            while True:
                answer = json.loads(ws.recv(timeout=30))
                if answer.get("request_id") == "list-1":
                    assert answer.get("success"), answer.get("error")
                    messages: list[dict[str, Any]] = answer["messages"]
                    return messages

    def with_otid(self, otid: str, conversation: str = "default") -> list[dict[str, Any]]:
        """The stored messages carrying ``otid`` (exactly one when a message was delivered once)."""
        return [m for m in self.messages(conversation) if m.get("otid") == otid]


@pytest.fixture(scope="session")
def app_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AppServer]:
    """A real App Server (letta 0.34.12) with its fake model and an agent, started once per session.

    Skipped when its venv is missing (``python3 scripts/letta_app_server.py install``;
    CI installs it) or with SWITCHBOARD_SKIP_REAL_LETTA=1.
    ``SWITCHBOARD_APP_SERVER_STATE`` names the state file of a server already
    started with ``scripts/letta_app_server.py start``: it is used and left running.
    """
    if os.environ.get("SWITCHBOARD_SKIP_REAL_LETTA") == "1":
        pytest.skip("SWITCHBOARD_SKIP_REAL_LETTA=1")
    reuse = os.environ.get("SWITCHBOARD_APP_SERVER_STATE")
    if reuse:
        yield AppServer(app_harness.AppServerInfo.from_file(reuse))
        return
    if not app_harness.is_installed():
        pytest.skip(
            f"the App Server (letta {app_harness.APP_VERSION}) is not installed in {app_harness.venv_dir()}; "
            "run `python3 scripts/letta_app_server.py install` (CI installs it)"
        )
    workdir = tmp_path_factory.mktemp("letta-app-server")
    try:
        info = app_harness.start_server(workdir)
    except app_harness.base.LettaServerError as exc:
        pytest.fail(f"the App Server did not start: {exc}", pytrace=False)
    atexit.register(app_harness.stop_server, info)
    try:
        yield AppServer(info)
    finally:
        app_harness.stop_server(info)


@pytest.fixture
def app_env(tmp_path: Path, repo: Repo, key: str, app_server: AppServer) -> dict[str, str]:
    """Environment for the CLI against the App Server: LETTA_BASE_URL ws://…, LETTA_API_KEY its token."""
    return {
        "SWITCHBOARD_ENCRYPTION_KEY": key,
        "LETTA_API_KEY": app_server.token,
        "LETTA_BASE_URL": app_server.base_url,
        "SWITCHBOARD_REPO": str(repo.clone),
        "XDG_CONFIG_HOME": str(tmp_path / "config"),
        "HOME": str(tmp_path / "home"),
        "NO_PROXY": "127.0.0.1,localhost",
        "no_proxy": "127.0.0.1,localhost",
    }


def log_tail(log: Path) -> str:
    """The end of a server's output, for failure messages (switchboard logs no keys or texts)."""
    return "\n".join(log.read_text(errors="replace").splitlines()[-30:])


@contextlib.contextmanager
def serve_process(env: dict[str, str], log: Path, *options: str, timeout: float = 60.0) -> Iterator[str]:
    """`switchboard serve OPTIONS` on a free port of 127.0.0.1 with ``env``, output to ``log``; its base URL.

    Yielded once ``/health`` answers; stopped at the end (SIGTERM first: uvicorn shuts down gracefully and a
    ticker finishes its pass).
    """
    port = harness.free_port()
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "switchboard", "serve", "--host", "127.0.0.1", "--port", str(port), *options],
            cwd=REPO_ROOT, env=env, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
        )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + timeout
        while True:
            if proc.poll() is not None:
                pytest.fail(f"switchboard serve exited {proc.returncode}:\n{log_tail(log)}", pytrace=False)
            try:
                if httpx.get(f"{base}/health", timeout=5, trust_env=False).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"switchboard serve not up after {timeout:g} s:\n{log_tail(log)}", pytrace=False)
            time.sleep(0.2)
        yield base
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
