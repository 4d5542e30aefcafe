"""`switchboard serve` in front of a real Letta 0.11.7 server.

The API is the real command in a subprocess (uvicorn and all), on a real git
clone with a bare remote, with ``LETTA_BASE_URL`` pointing at the session's
real Letta server. It checks callers' keys against that server, and with
``--tick-every`` it delivers what falls due, in-process and on the real clock.
"""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from conftest import clone_of, make_remote

from real_letta.conftest import RealLetta, log_tail, serve_process
from switchboard.crypto import generate_key

pytestmark = pytest.mark.real_letta

WRONG_KEY = "sk-let-wrong-0000000000000000"
START_TIMEOUT = 60.0


@dataclass
class Served:
    """A running `switchboard serve --tick-every 1` and the Letta server behind it."""

    base_url: str
    letta: RealLetta
    log: Path

    def client(self, key: str | None) -> httpx.Client:
        """An HTTP client for the API, with ``Authorization: Bearer <key>`` unless key is None."""
        headers = {"Authorization": f"Bearer {key}"} if key is not None else {}
        return httpx.Client(base_url=self.base_url, headers=headers, timeout=30, trust_env=False)

    def log_tail(self) -> str:
        """The end of the server's output, for failure messages (it logs no keys or texts)."""
        return log_tail(self.log)


@pytest.fixture(scope="module")
def served(real_letta: RealLetta, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    """`switchboard serve --tick-every 1` on a fresh clone, talking to the real Letta server."""
    top = tmp_path_factory.mktemp("serve")
    clone = clone_of(make_remote(top), top / "clone")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SWITCHBOARD_", "LETTA_", "GITHUB_"))}
    env.update(
        {
            "SWITCHBOARD_ENCRYPTION_KEY": generate_key(),
            "LETTA_BASE_URL": real_letta.base_url,
            "SWITCHBOARD_REPO": str(clone),
            "XDG_CONFIG_HOME": str(top / "config"),
            "HOME": str(top / "home"),
            "NO_PROXY": "127.0.0.1,localhost",
            "no_proxy": "127.0.0.1,localhost",
        }
    )
    log = top / "serve.log"
    with serve_process(env, log, "--tick-every", "1", timeout=START_TIMEOUT) as base_url:
        yield Served(base_url, real_letta, log)


def wait_for_result(served: Served, key: str, schedule_id: str, timeout: float = 60.0) -> dict[str, Any]:
    """Poll ``GET /results/{id}`` until the ticker has recorded a result for the schedule."""
    deadline = time.monotonic() + timeout
    with served.client(key) as client:
        while time.monotonic() < deadline:
            resp = client.get(f"/results/{schedule_id}")
            if resp.status_code == 200:
                result: dict[str, Any] = resp.json()
                return result
            assert resp.status_code == 404, resp.text[:300]
            time.sleep(0.5)
    with served.client(None) as client:
        health = client.get("/health").json()
    raise AssertionError(f"no result for {schedule_id} after {timeout:g} s; ticker: {health}\n{served.log_tail()}")


def assert_in_history(letta: RealLetta, agent_id: str, run_id: str, text: str) -> None:
    """The run exists and completed on the Letta server, and the text is in the agent's history."""
    with letta.client() as client:
        assert client.get(f"/v1/runs/{run_id}").status_code == 200
    assert letta.wait_for_run(run_id)["status"] == "completed"
    with letta.client() as client:
        messages = client.get(f"/v1/agents/{agent_id}/messages", params={"limit": 200}).json()
    users = [m["content"] for m in messages if m.get("message_type") == "user_message"]
    assert users.count(text) == 1, users


def test_api_checks_keys_against_the_real_server(served: Served) -> None:
    """A key the real server refuses is 401; its password is 200; no key at all is the hosted service's 403."""
    with served.client(WRONG_KEY) as client:
        refused = client.get("/schedules/one-time")
    assert refused.status_code == 401, refused.text
    assert refused.json() == {"detail": "Invalid Letta API key"}
    assert refused.headers["WWW-Authenticate"] == "Bearer"

    with served.client(None) as client:
        assert client.get("/schedules/one-time").status_code == 403

    with served.client(served.letta.password) as client:
        accepted = client.get("/schedules/one-time")
    assert accepted.status_code == 200, accepted.text
    assert accepted.json() == []


def test_serve_tick_every_delivers_to_the_real_agent(served: Served) -> None:
    """A schedule made through the API falls due and the built-in ticker delivers it."""
    letta, key = served.letta, served.letta.password
    agent_id = letta.create_agent("e2e-serve")
    text = f"served e2e {uuid.uuid4().hex[:8]}"
    with served.client(key) as client:
        made = client.post("/schedules/one-time", json={"agent_id": agent_id, "message": text})
    assert made.status_code == 201, made.text
    schedule_id = made.json()["id"]

    result = wait_for_result(served, key, schedule_id)
    assert (result["status"], result["agent_id"], result["message"]) == ("success", agent_id, text)
    assert result["run_id"].startswith("run-")
    assert_in_history(letta, agent_id, result["run_id"], text)

    with served.client(None) as client:
        ticker = client.get("/health").json()["ticker"]
    assert ticker["running"] and ticker["delivered"] >= 1, ticker


def test_letta_schedule_api_delivers_to_the_real_agent(served: Served) -> None:
    """Letta Cloud's ``/v1/agents/{id}/schedule`` shape, served here, delivers through the real server."""
    letta, key = served.letta, served.letta.password
    agent_id = letta.create_agent("e2e-serve-schedule")
    text = f"scheduled via the Letta API shape {uuid.uuid4().hex[:8]}"
    otid = f"otid-{uuid.uuid4()}"
    sent = {"role": "user", "content": [{"type": "text", "text": text}], "name": "Ada", "otid": otid,
            "sender_id": "identity-00000000-0000-4000-8000-000000000001"}  # fmt: skip
    # A moment ahead: a scheduled_at already past when it arrives is a 400, as on Letta Cloud.
    body = {"messages": [sent], "schedule": {"type": "one-time", "scheduled_at": int(time.time() * 1000) + 2000}}
    with served.client(key) as client:
        made = client.post(f"/v1/agents/{agent_id}/schedule", json=body)
    assert made.status_code in (200, 201), made.text
    schedule_id = made.json()["id"]

    result = wait_for_result(served, key, schedule_id)
    assert result["status"] == "success", result
    assert_in_history(letta, agent_id, result["run_id"], text)
    # The real server stored the message with the name, otid and sender id it was scheduled with.
    with letta.client() as client:
        messages = client.get(f"/v1/agents/{agent_id}/messages", params={"limit": 200}).json()
    [stored] = [m for m in messages if m.get("message_type") == "user_message" and m["content"] == text]
    assert (stored["otid"], stored["name"], stored["sender_id"]) == (otid, "Ada", sent["sender_id"]), stored
