"""The Letta stand-in the fast tests use answers like a real Letta server, call for call.

One request sequence (``exchange``) runs against the stand-in and against
each real Letta server of the session (0.11.7 and 0.16.8); each answer is
reduced to its status code, its top-level field names and the few fixed
values worth comparing (no ids, no times, no secrets). The stand-in follows
Letta 0.16.8's OpenAPI document (``tests/data/letta_schemas.json``). Where a
real server legitimately answers otherwise, ``as_0_11_7_would_answer`` and
``as_0_16_8_would_answer`` say so, one commented difference at a time; the
0.11.7 differences are checked against the 0.16.8 document. Anything else
that differs fails the test: the stand-in cannot drift unnoticed.
"""

from __future__ import annotations

import copy
import json
import time
import uuid
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from real_letta.conftest import RealLetta
from switchboard.testing.letta import STANDIN_VERSION, LettaStandIn

pytestmark = pytest.mark.real_letta

SCHEMAS = json.loads((Path(__file__).parents[1] / "data" / "letta_schemas.json").read_text())
STANDIN_KEY = "sk-let-parity-3c2b1a"
WRONG_KEY = "sk-let-wrong-0000000000000000"
UNKNOWN_AGENT = "agent-00000000-0000-4000-8000-000000000000"
UNKNOWN_RUN = "run-00000000-0000-4000-8000-000000000000"
FINAL = ("completed", "failed", "cancelled")

# -- what 0.11.7 legitimately answers otherwise (each checked against the 0.16.8 document below) --

#: Run properties 0.16.8 added: 0.11.7's Run is still a Job and names its agent only in metadata.
RUN_ONLY_IN_0_16_8 = {"agent_id", "background", "base_template_id", "conversation_id", "stop_reason"}
#: Job properties 0.11.7's Run still carries and 0.16.8's Run dropped.
RUN_ONLY_IN_0_11_7 = {"created_by_id", "job_type", "last_updated_by_id", "updated_at", "user_id"}
#: AgentState properties 0.16.8 added (the stand-in writes every 0.16.8 property).
AGENT_ONLY_IN_0_16_8 = {
    "blocks",
    "compaction_settings",
    "embedding",
    "identities",
    "last_stop_reason",
    "managed_group",
    "model",
    "model_settings",
    "pending_approval",
    "secrets",
}


def send_body(text: str, *, role: str = "user", otid: str | None = None) -> dict[str, Any]:
    """The body letta-switchboard posts to ``/messages/async`` (with an otid, as the tick sends)."""
    message: dict[str, Any] = {"role": role, "content": [{"type": "text", "text": text}]}
    if otid is not None:
        message["otid"] = otid
    return {"messages": [message]}


def shape(resp: httpx.Response) -> dict[str, Any]:
    """Status, top-level field names and fixed ``detail`` texts of an answer."""
    out: dict[str, Any] = {"status": resp.status_code}
    body = resp.json()
    if isinstance(body, list):
        out["body"] = "list"
        if body and isinstance(body[0], dict):
            out["item_fields"] = sorted(body[0])
    elif isinstance(body, dict):
        out["body"] = "object"
        out["fields"] = sorted(body)
        detail = body.get("detail")
        if isinstance(detail, str) and detail.startswith("[{'type': "):
            # 0.16.8 sends FastAPI's list of validation errors as one string, its Python repr.
            out["detail"] = "validation errors, as one string"
        elif isinstance(detail, str):
            # 0.16.8 appends the lookup (ids, the acting user, its timestamps) to "Run not found":
            # the fixed part is compared.
            out["detail"] = detail.split(" with id=", 1)[0]
        elif isinstance(detail, list):
            # FastAPI's validation errors: kinds and wording vary with the model, the item shape does not
            # (but "ctx" comes only with some kinds, e.g. literal_error, never with "missing").
            out["detail"] = "validation errors"
            out["error_fields"] = sorted(set.intersection(*(set(d) for d in detail)) - {"ctx"}) if detail else []
    return out


def has_offset(moment: str) -> bool:
    """Whether an ISO 8601 time from Letta names its UTC offset ("Z" or "+00:00")."""
    return datetime.fromisoformat(moment.replace("Z", "+00:00")).tzinfo is not None


def finish(client: httpx.Client, run_id: str, timeout: float = 60.0) -> dict[str, Any]:
    """Poll ``GET /v1/runs/{id}`` until the run is final; its last body."""
    deadline = time.monotonic() + timeout
    while True:
        resp = client.get(f"/v1/runs/{run_id}")
        assert resp.status_code == 200, resp.text[:300]
        run: dict[str, Any] = resp.json()
        if run["status"] in FINAL:
            return run
        assert time.monotonic() < deadline, f"run still {run['status']} after {timeout:g} s"
        time.sleep(0.2)


def exchange(base_url: str, key: str, agent_id: str) -> dict[str, dict[str, Any]]:
    """Every call letta-switchboard makes, and the error cases around them, described by ``shape``."""

    def client(token: str | None) -> httpx.Client:
        headers = {"Authorization": f"Bearer {token}"} if token is not None else {}
        return httpx.Client(base_url=base_url, headers=headers, timeout=30, trust_env=False)

    send_path = f"/v1/agents/{agent_id}/messages/async"
    calls: dict[str, dict[str, Any]] = {}
    with client(key) as ok, client(WRONG_KEY) as wrong, client(None) as anonymous:
        health = anonymous.get("/v1/health/")
        calls["health"] = shape(health) | {"version": health.json().get("version")}
        # The key check (GET /v1/agents/?limit=1) with no key, a wrong key and the right one.
        calls["list_agents_no_key"] = shape(anonymous.get("/v1/agents/", params={"limit": 1}))
        calls["list_agents_wrong_key"] = shape(wrong.get("/v1/agents/", params={"limit": 1}))
        calls["list_agents"] = shape(ok.get("/v1/agents/", params={"limit": 1}))
        calls["send_wrong_key"] = shape(wrong.post(send_path, json=send_body("x")))

        # Deliveries, as the tick sends them: each with its otid, one at a time.
        texts = {role: f"parity {role} {uuid.uuid4().hex[:8]}" for role in ("user", "system", "assistant")}
        otids = {role: str(uuid.uuid4()) for role in texts}
        for role, text in texts.items():
            sent = ok.post(send_path, json=send_body(text, role=role, otid=otids[role]))
            name = "send" if role == "user" else f"send_{role}"
            calls[name] = shape(sent)
            if sent.status_code == 200:
                calls[name]["run_status"] = sent.json()["status"]
                final = finish(ok, sent.json()["id"])
                calls[name]["final_status"] = final["status"]
                if role == "user":
                    calls["get_run"] = shape(ok.get(f"/v1/runs/{final['id']}")) | {
                        "run_status": final["status"],
                        "created_at_has_offset": has_offset(final["created_at"]),
                        "completed_at_has_offset": has_offset(final["completed_at"]),
                    }

        calls["send_bad_role"] = shape(ok.post(send_path, json=send_body("x", role="robot")))
        calls["send_empty_object"] = shape(ok.post(send_path, json={}))
        calls["send_no_body"] = shape(ok.post(send_path, content=b"", headers={"Content-Type": "application/json"}))
        unknown = ok.post(f"/v1/agents/{UNKNOWN_AGENT}/messages/async", json=send_body("x"))
        calls["send_unknown_agent"] = shape(unknown)
        if unknown.status_code == 200:
            calls["send_unknown_agent"]["final_status"] = finish(ok, unknown.json()["id"])["status"]
        calls["get_run_unknown"] = shape(ok.get(f"/v1/runs/{UNKNOWN_RUN}"))

        history = ok.get(f"/v1/agents/{agent_id}/messages", params={"limit": 100})
        by_otid = {m.get("otid"): m for m in history.json()} if history.status_code == 200 else {}
        user = by_otid.get(otids["user"], {})
        calls["history"] = {
            "status": history.status_code,
            "user_message_fields": sorted(user),
            "user_message_type": user.get("message_type"),
            "user_message_content_is_the_text": user.get("content") == texts["user"],
            "user_message_run_id_set": bool(user.get("run_id")),
            "system_message_type": by_otid.get(otids["system"], {}).get("message_type"),
            # An assistant-role message is kept only if its run went through.
            "assistant_message_kept": any(
                m.get("message_type") == "assistant_message" and m.get("content") == texts["assistant"]
                for m in (history.json() if history.status_code == 200 else [])
            ),
            "assistant_message_otid_kept": otids["assistant"] in by_otid,
        }
        calls["history_unknown_agent"] = shape(ok.get(f"/v1/agents/{UNKNOWN_AGENT}/messages"))
    return calls


def as_0_11_7_would_answer(standin: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """The stand-in's answers, changed by exactly the known 0.16.8 → 0.11.7 differences."""
    expected = copy.deepcopy(standin)
    expected["health"]["version"] = "0.11.7"
    for call in ("send", "send_system", "send_assistant", "get_run"):
        expected[call]["fields"] = sorted((set(expected[call]["fields"]) - RUN_ONLY_IN_0_16_8) | RUN_ONLY_IN_0_11_7)
    expected["list_agents"]["item_fields"] = sorted(set(expected["list_agents"]["item_fields"]) - AGENT_ONLY_IN_0_16_8)
    # 0.11.7 does not look the agent up before queueing: an unknown agent gets a Run (200) whose run
    # then fails. 0.16.8 answers 404 at once (the stand-in does).
    expected["send_unknown_agent"] = {
        "status": 200,
        "body": "object",
        "fields": expected["send"]["fields"],
        "final_status": "failed",
    }
    # Both 404; 0.11.7's detail names the agent.
    expected["history_unknown_agent"]["detail"] = f"Agent with ID {UNKNOWN_AGENT} not found"
    # 0.11.7 accepts role "assistant" (200) but its agent loop rejects it: the run fails
    # ("Invalid message role") and the message is not kept. The stand-in completes it.
    expected["send_assistant"]["final_status"] = "failed"
    expected["history"]["assistant_message_kept"] = False
    expected["history"]["assistant_message_otid_kept"] = False
    # 0.11.7 leaves run_id empty on stored messages; 0.16.8 fills it (the stand-in does).
    expected["history"]["user_message_run_id_set"] = False
    # A finished 0.11.7 run's created_at loses its "Z" too (its first answer has it).
    expected["get_run"]["created_at_has_offset"] = False
    return expected


def as_0_16_8_would_answer(standin: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """The stand-in's answers, changed by exactly the known differences between it and a real 0.16.8."""
    expected = copy.deepcopy(standin)
    expected["health"]["version"] = "0.16.8"
    # Real 0.16.8's exception handler answers a validation error unlike its own OpenAPI document
    # (HTTPValidationError, which the stand-in follows): the list of errors as one string, plus a
    # trace_id. switchboard summarises either form into one line.
    for call in ("send_bad_role", "send_empty_object", "send_no_body"):
        expected[call] = {
            "status": 422,
            "body": "object",
            "fields": ["detail", "trace_id"],
            "detail": "validation errors, as one string",
        }
    # 0.16.8 keeps an assistant-role message, but lists it under an otid of its own (made from the
    # message id), not the one sent; user and system messages keep theirs. The stand-in keeps it.
    expected["history"]["assistant_message_otid_kept"] = False
    return expected


#: How the stand-in's answers become each real version's, by ``real_letta.version``.
AS_REAL_WOULD_ANSWER = {"0.11.7": as_0_11_7_would_answer, "0.16.8": as_0_16_8_would_answer}


@pytest.fixture
def standin() -> Iterator[LettaStandIn]:
    """A stand-in whose runs take a moment, so "created" then "running" then "completed" is seen."""
    with LettaStandIn(api_keys={STANDIN_KEY}, run_duration=0.3) as server:
        yield server


def test_known_differences_are_differences_between_0_11_7_and_0_16_8() -> None:
    """Every listed difference is real: in 0.16.8's document (or absent from it), never a stand-in invention."""
    run, agent = set(SCHEMAS["Run"]["properties"]), set(SCHEMAS["AgentState"]["properties"])
    assert run >= RUN_ONLY_IN_0_16_8
    assert not RUN_ONLY_IN_0_11_7 & run
    assert agent >= AGENT_ONLY_IN_0_16_8


def test_standin_answers_like_the_real_server(real_letta: RealLetta, standin: LettaStandIn) -> None:
    """The same sequence gives the same statuses and field names, up to the known differences."""
    fake = exchange(standin.base_url, STANDIN_KEY, standin.add_agent())
    real = exchange(real_letta.base_url, real_letta.password, real_letta.create_agent("parity"))

    # The stand-in side is 0.16.8's shape, so the comparison is anchored to the document.
    assert fake["health"]["version"] == STANDIN_VERSION
    assert fake["send"]["fields"] == sorted(SCHEMAS["Run"]["properties"])
    assert fake["list_agents"]["item_fields"] == sorted(SCHEMAS["AgentState"]["properties"])
    assert fake["history"]["user_message_fields"] == sorted(SCHEMAS["UserMessage"]["properties"])

    version = real_letta.version
    expected = AS_REAL_WOULD_ANSWER[version](fake)
    differing = sorted(name for name in expected.keys() | real.keys() if expected.get(name) != real.get(name))
    assert not differing, "\n".join(
        f"{name}:\n  stand-in, as {version} would answer: {expected.get(name)}\n  real {version}: {real.get(name)}"
        for name in differing
    )
