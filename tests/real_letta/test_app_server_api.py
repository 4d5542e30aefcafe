"""`switchboard serve` in front of a real App Server: callers' tokens checked there, messages delivered over /ws."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator

import httpx
import pytest
from conftest import clone_of, make_remote

from real_letta.conftest import AppServer, serve_process
from switchboard.crypto import generate_key

pytestmark = pytest.mark.real_letta


@pytest.fixture(scope="module")
def api(app_server: AppServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """`switchboard serve` (no ticker: a message due now is delivered by the request) with LETTA_BASE_URL ws://…."""
    top = tmp_path_factory.mktemp("serve-app")
    clone = clone_of(make_remote(top), top / "clone")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SWITCHBOARD_", "LETTA_", "GITHUB_"))}
    env.update({
        "SWITCHBOARD_ENCRYPTION_KEY": generate_key(), "LETTA_BASE_URL": app_server.base_url,
        "SWITCHBOARD_REPO": str(clone), "XDG_CONFIG_HOME": str(top / "config"), "HOME": str(top / "home"),
        "NO_PROXY": "127.0.0.1,localhost", "no_proxy": "127.0.0.1,localhost",
    })  # fmt: skip
    with serve_process(env, top / "serve.log") as base:
        yield base


def test_the_api_delivers_to_the_app_server_with_the_token_as_key(app_server: AppServer, api: str) -> None:
    """POST a message due now with conversation "new": delivered over /ws; its result keeps the proof."""
    headers = {"Authorization": f"Bearer {app_server.token}"}
    with httpx.Client(base_url=api, headers=headers, timeout=60, trust_env=False) as client:
        made = client.post(
            "/schedules/one-time",
            json={"agent_id": app_server.agent_id, "message": "via the API", "conversation": "new"},
        )
        assert made.status_code == 201, made.text
        assert made.json()["conversation"] == "new"
        # Delivered right after the answer: its result appears a moment later.
        deadline = time.monotonic() + 60
        while (got := client.get(f"/results/{made.json()['id']}")).status_code == 404 and time.monotonic() < deadline:
            time.sleep(0.3)
        assert got.status_code == 200, got.text
        result = got.json()
    assert result["status"] == "success" and result["turn_id"].startswith("turn-")
    assert result["conversation_id"] not in (None, "default")
    assert len(app_server.with_otid(result["otid"], result["conversation_id"])) == 1

    with httpx.Client(base_url=api, headers={"Authorization": "Bearer not-the-token"}, trust_env=False) as wrong:
        refused = wrong.get("/schedules/one-time")
    assert refused.status_code == 401
    assert "not-the-token" not in refused.text and app_server.token not in refused.text
