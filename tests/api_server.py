"""A real switchboard API on 127.0.0.1 for the API tests: uvicorn in a thread, a real git repo, a Letta stand-in.

``serve_api(...)`` starts ``uvicorn.Server`` on a free port in a background
thread and yields an :class:`ApiServer`; nothing is mocked. The stand-in
accepts two keys, ``LETTA_KEY`` and ``OTHER_KEY``, so tests can check that
two tenants never see each other's schedules.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import uvicorn
from conftest import LETTA_KEY, Repo
from fastapi import FastAPI

from switchboard.api import ApiOptions, create_app
from switchboard.api.deps import ApiState
from switchboard.config import Settings
from switchboard.testing.letta import LettaStandIn

OTHER_KEY = "sk-let-other-7a6b5c4d3e2f"

#: Limits that stay out of the way of tests not about them.
RELAXED = ApiOptions(rate_per_minute=0, burst=0)


def free_port() -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@contextmanager
def uvicorn_thread(app: FastAPI, port: int | None = None) -> Iterator[str]:
    """Serve ``app`` with a real uvicorn on 127.0.0.1 in a thread; yields its base URL."""
    port = port or free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on"))
    thread = threading.Thread(target=server.run, name=f"uvicorn-{port}", daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(15)


@dataclass
class ApiServer:
    """A running API with its stand-in and repository."""

    base_url: str
    app: FastAPI
    standin: LettaStandIn
    repo: Repo
    agent: str

    @property
    def state(self) -> ApiState:
        """The app's shared state (store, key checker, ticker…)."""
        state: ApiState = self.app.state.switchboard
        return state

    def client(self, key: str | None = LETTA_KEY, **kwargs: Any) -> httpx.Client:
        """An HTTP client for the API, with ``Authorization: Bearer <key>`` unless key is None.

        Every answer it gets is checked: no Letta key, in any header or body, ever.
        """
        headers = {"Authorization": f"Bearer {key}"} if key is not None else {}
        hooks = {"response": [no_key_in]}
        return httpx.Client(base_url=self.base_url, headers=headers, timeout=30, event_hooks=hooks, **kwargs)

    def key_checks(self) -> int:
        """How many times the stand-in was asked to check a key."""
        return sum(1 for r in self.standin.requests if r.path.startswith("/v1/agents/?"))


def no_key_in(response: httpx.Response) -> None:
    """Fail when an answer carries a Letta key."""
    response.read()
    shown = response.text + "".join(f"{k}: {v}" for k, v in response.headers.items())
    for secret in (LETTA_KEY, OTHER_KEY):
        assert secret not in shown, f"a Letta key in the answer to {response.request.method} {response.request.url}"


@contextmanager
def serve_api(
    repo: Repo,
    encryption_key: str,
    *,
    tick_every: float | None = None,
    options: ApiOptions = RELAXED,
    **create: Any,
) -> Iterator[ApiServer]:
    """Start a stand-in and the API on the clone of ``repo``; stop both at the end."""
    standin = LettaStandIn(api_keys={LETTA_KEY, OTHER_KEY}).start()
    agent = standin.add_agent()
    settings = Settings(encryption_key=encryption_key, base_url=standin.base_url, repo=str(repo.clone))
    app = create_app(settings, tick_every=tick_every, options=options, **create)
    try:
        with uvicorn_thread(app) as base_url:
            yield ApiServer(base_url, app, standin, repo, agent)
    finally:
        standin.stop()


def clone_files(clone: Path) -> set[str]:
    """Every file in a work tree outside .git, relative."""
    return {str(p.relative_to(clone)) for p in clone.rglob("*") if p.is_file() and ".git" not in p.parts}
