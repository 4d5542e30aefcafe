"""The Letta calls letta-switchboard makes, against each real Letta server (0.11.7 and 0.16.8).

These pin down what a real server answers (status codes, field names), so
the project's own Letta stand-in can be compared with it: the observed
shapes live in ``observed_<version>.json`` beside this file, one per
version. To re-record them after a deliberate change, run with
``SWITCHBOARD_RECORD_LETTA_OBSERVATIONS=1``. Only httpx is used, exactly as
the delivery code talks to Letta.

``real_letta`` is ``conftest.RealLetta``; it is typed ``Any`` here because
importing a conftest module by name breaks when several folders have one.
"""

from __future__ import annotations

import json
import os
import re
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

pytestmark = pytest.mark.real_letta


def observed_path(version: str) -> Path:
    """The record of what a real server of ``version`` answered."""
    return Path(__file__).with_name(f"observed_{version}.json")


UNKNOWN_AGENT = "agent-00000000-0000-4000-8000-000000000000"
UNKNOWN_RUN = "run-00000000-0000-4000-8000-000000000000"


def send_body(text: str, role: str = "user") -> dict[str, Any]:
    """The body letta-switchboard posts to ``/messages/async``."""
    return {"messages": [{"role": role, "content": [{"type": "text", "text": text}]}]}


def shape(resp: httpx.Response) -> dict[str, Any]:
    """Status and sorted top-level field names of an answer (no values: no ids, no secrets)."""
    body = resp.json()
    out: dict[str, Any] = {"status": resp.status_code}
    if isinstance(body, list):
        out["body"] = "list"
        if body and isinstance(body[0], dict):
            out["item_fields"] = sorted(body[0])
    elif isinstance(body, dict):
        out["body"] = "object"
        out["fields"] = sorted(body)
        # ``detail`` texts are fixed strings worth comparing (validation
        # errors are lists; only their kinds are kept).
        detail = body.get("detail")
        if isinstance(detail, str) and detail.startswith("[{'type': "):
            # 0.16.8 sends the list as one string, its Python repr: its kinds are read from that.
            out["detail_as_text"] = True
            out["detail_types"] = sorted(set(re.findall(r"\{'type': '(\w+)', 'loc'", detail)))
        elif isinstance(detail, str):
            # 0.16.8 appends the lookup (ids, the acting user and its timestamps) to "Run not found".
            out["detail"] = detail.split(" with id=", 1)[0]
        elif isinstance(detail, list):
            out["detail_types"] = sorted({d.get("type", "?") for d in detail if isinstance(d, dict)})
    return out


def test_health_needs_no_key(real_letta: Any) -> None:
    """``/v1/health/`` answers 200 even without a bearer (secure mode exempts it)."""
    with real_letta.client(token="") as client:
        resp = client.get("/v1/health/", headers={"Authorization": ""})
    assert resp.status_code == 200
    assert resp.json()["status"] == "ok"
    assert resp.json()["version"] == real_letta.version


def test_key_check_wrong_then_right(real_letta: Any) -> None:
    """A wrong bearer is 401 ``Unauthorized``; the server password gives 200 and a list."""
    with real_letta.client(token="sk-wrong") as client:
        bad = client.get("/v1/agents/", params={"limit": 1})
    assert bad.status_code == 401
    assert bad.json() == {"detail": "Unauthorized"}

    with real_letta.client() as client:
        good = client.get("/v1/agents/", params={"limit": 1})
    assert good.status_code == 200
    assert isinstance(good.json(), list)


def test_send_message_lands_in_history(real_letta: Any) -> None:
    """The full delivery path: send → Run id → run completes → user message in history."""
    agent_id = real_letta.create_agent("switchboard-e2e-send")
    assert agent_id.startswith("agent-")
    text = "hello from test"
    with real_letta.client() as client:
        sent = client.post(f"/v1/agents/{agent_id}/messages/async", json=send_body(text))
        assert sent.status_code == 200, sent.text
        run = sent.json()
        assert run["id"].startswith("run-")
        assert run["status"] in ("created", "running")

        done = real_letta.wait_for_run(run["id"], timeout=60)
        assert done["status"] == "completed", done

        history = client.get(f"/v1/agents/{agent_id}/messages", params={"limit": 20})
    assert history.status_code == 200
    user_texts = [m.get("content") for m in history.json() if m.get("message_type") == "user_message"]
    assert text in user_texts, user_texts


def observe(real_letta: Any) -> dict[str, Any]:
    """Make every call the project relies on and describe each answer's shape."""
    agent_id = real_letta.create_agent("switchboard-e2e-observe")
    calls: dict[str, Any] = {}
    with real_letta.client(token="sk-wrong") as bad_client:
        calls["list_agents_wrong_key"] = shape(bad_client.get("/v1/agents/", params={"limit": 1}))
    with real_letta.client() as client:
        calls["list_agents"] = shape(client.get("/v1/agents/", params={"limit": 1}))

        sent = client.post(f"/v1/agents/{agent_id}/messages/async", json=send_body("observe"))
        calls["send"] = shape(sent)
        run_id = sent.json()["id"]
        final = real_letta.wait_for_run(run_id)
        calls["get_run"] = shape(client.get(f"/v1/runs/{run_id}"))
        calls["get_run"]["final_status"] = final["status"]

        unknown = client.post(f"/v1/agents/{UNKNOWN_AGENT}/messages/async", json=send_body("x"))
        calls["send_unknown_agent"] = shape(unknown)
        if real_letta.version == "0.11.7":
            # 0.11.7 accepts the send and only the run fails; 0.16.8 says 404 at once.
            assert unknown.status_code == 200, unknown.text[:300]
            failed = real_letta.wait_for_run(unknown.json()["id"])
            calls["send_unknown_agent"]["final_status"] = failed["status"]
            calls["send_unknown_agent"]["final_metadata_fields"] = sorted(failed.get("metadata") or {})

        calls["send_bad_role"] = shape(
            client.post(f"/v1/agents/{agent_id}/messages/async", json=send_body("x", role="robot"))
        )
        calls["send_no_messages"] = shape(client.post(f"/v1/agents/{agent_id}/messages/async", json={}))
        calls["get_run_unknown"] = shape(client.get(f"/v1/runs/{UNKNOWN_RUN}"))

        history = client.get(f"/v1/agents/{agent_id}/messages", params={"limit": 20})
        users = [m for m in history.json() if m.get("message_type") == "user_message"]
        calls["history"] = {
            "status": history.status_code,
            "body": "list",
            "message_types": sorted({m.get("message_type") for m in history.json()}),
            "user_message_fields": sorted(users[-1]) if users else [],
            "user_message_content_type": type(users[-1].get("content")).__name__ if users else None,
            "user_message_run_id_set": bool(users and users[-1].get("run_id")),
        }
        calls["history_unknown_agent"] = shape(client.get(f"/v1/agents/{UNKNOWN_AGENT}/messages"))
    return {
        "letta_version": real_letta.version,
        "recorded_with": "tests/real_letta/test_server_basics.py::test_observed_shapes_match_record",
        "calls": calls,
    }


def test_observed_shapes_match_record(real_letta: Any) -> None:
    """Today's server still answers exactly as its ``observed_<version>.json`` says."""
    started = time.monotonic()
    observed = observe(real_letta)
    path = observed_path(real_letta.version)
    if os.environ.get("SWITCHBOARD_RECORD_LETTA_OBSERVATIONS") == "1":
        path.write_text(json.dumps(observed, indent=2, sort_keys=True) + "\n")
    recorded = json.loads(path.read_text())
    assert recorded["letta_version"] == real_letta.version
    assert observed["calls"] == recorded["calls"], f"took {time.monotonic() - started:.1f} s"
