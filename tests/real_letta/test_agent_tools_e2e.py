"""An agent on a real Letta server schedules its own messages through the switchboard tools.

Everything is real but the model: `switchboard agent-tools attach` registers
the tools on the real server and sets the agent's tool environment; the
loopback model (``scripts/fake_model.py``) answers a user message with the
tool call the message scripts (``tool_directive``); Letta runs the tool in its
own sandbox, which calls a real `switchboard serve` (uvicorn, in a subprocess)
on a clone with a bare remote; a later `switchboard tick --now …` from
another clone delivers what the agent scheduled back to it.
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import ModuleType
from typing import Any

import httpx
import pytest
from conftest import ROOT, clone_of, make_remote, run_cli

from real_letta.conftest import RealLetta, log_tail, serve_process
from switchboard.agent_tools import attach as agent_attach
from switchboard.backends.git import GitBackend
from switchboard.crypto import codec_from_keys, generate_key
from switchboard.envelope import written
from switchboard.index import indexed_store
from switchboard.letta import LettaClient
from switchboard.tick import OTID_NAMESPACE

pytestmark = pytest.mark.real_letta

START_TIMEOUT = 60.0
UUID_RE = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def _fake_model() -> ModuleType:
    spec = importlib.util.spec_from_file_location("fake_model_for_tests", ROOT / "scripts" / "fake_model.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


tool_directive = _fake_model().tool_directive


@dataclass
class Setup:
    """The real Letta server, `switchboard serve` on one clone, and a laptop clone for the CLI."""

    letta: RealLetta
    serve_url: str
    env: dict[str, str]  # the laptop's CLI environment
    log: Path

    def cli(self, *args: str) -> Any:
        """`switchboard ARGS --json` on the laptop; its JSON after checking it succeeded."""
        done = run_cli(*args, "--json", env=self.env)
        assert done.returncode == 0, f"switchboard {' '.join(args[:2])} exited {done.returncode}: {done.stderr}"
        return json.loads(done.stdout)

    def tool_call(self, agent_id: str, tool: str, **args: str) -> str:
        """Send the agent a user message that makes its model call ``tool``; what the tool returned."""
        text = "Please do this for me. " + tool_directive(tool, args)
        with self.letta.client(timeout=120) as client:
            resp = client.post(
                f"/v1/agents/{agent_id}/messages", json={"messages": [{"role": "user", "content": text}]}
            )
        assert resp.status_code == 200, resp.text[:500]
        messages = resp.json()["messages"]
        calls = [m for m in messages if m.get("message_type") == "tool_call_message"]
        assert calls and calls[0]["tool_call"]["name"] == tool, messages
        returns = [m for m in messages if m.get("message_type") == "tool_return_message"]
        assert returns and returns[0]["status"] == "success", f"{returns}\n{self.log_tail()}"
        answer: str = returns[0]["tool_return"]
        # The model repeats it to the user, as a real one would (send_message).
        said = [m["content"] for m in messages if m.get("message_type") == "assistant_message"]
        assert said == [answer], said
        return answer

    def log_tail(self) -> str:
        """The end of serve's log (it logs no keys or texts)."""
        return log_tail(self.log)


@pytest.fixture(scope="module")
def setup(real_letta: RealLetta, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Setup]:
    """`switchboard serve` (no ticker) on a clone; a second clone of the same remote for the CLI."""
    top = tmp_path_factory.mktemp("agent-tools")
    remote = make_remote(top)
    served, laptop = clone_of(remote, top / "served"), clone_of(remote, top / "laptop")
    base = {k: v for k, v in os.environ.items() if not k.startswith(("SWITCHBOARD_", "LETTA_", "GITHUB_"))}
    common = {
        "SWITCHBOARD_ENCRYPTION_KEY": generate_key(),
        "LETTA_BASE_URL": real_letta.base_url,
        "XDG_CONFIG_HOME": str(top / "config"),
        "HOME": str(top / "home"),
        "NO_PROXY": "127.0.0.1,localhost",
        "no_proxy": "127.0.0.1,localhost",
    }
    log = top / "serve.log"
    env = {**common, "SWITCHBOARD_REPO": str(laptop), "LETTA_API_KEY": real_letta.password}
    with serve_process({**base, **common, "SWITCHBOARD_REPO": str(served)}, log, timeout=START_TIMEOUT) as url:
        yield Setup(real_letta, url, env, log)


def attach(setup: Setup, agent_id: str) -> dict[str, Any]:
    """`switchboard agent-tools attach` for the agent, pointing its tools at the test's serve."""
    attached: dict[str, Any] = setup.cli(
        "agent-tools", "attach", "--agent-id", agent_id, "--serve-url", setup.serve_url
    )
    return attached


def agent_env(letta: RealLetta, agent_id: str) -> dict[str, str]:
    """The agent's tool environment, as the Letta server holds it."""
    with letta.client() as client:
        agent = client.get(f"/v1/agents/{agent_id}", params={"include": "agent.secrets"}).json()
    items = agent.get("secrets") if "secrets" in agent else agent.get("tool_exec_environment_variables")
    return {i["key"]: i["value"] for i in items or []}


def agent_tools(letta: RealLetta, agent_id: str) -> set[str]:
    """The names of the agent's tools on the Letta server."""
    with letta.client() as client:
        return {t["name"] for t in client.get(f"/v1/agents/{agent_id}/tools").json()}


def scheduled_id(sentence: str) -> str:
    """The id a schedule_message answer ends with."""
    found = UUID_RE.findall(sentence)
    assert found, sentence
    return found[-1]


def test_the_agent_schedules_a_message_that_a_later_tick_delivers_to_it(setup: Setup) -> None:
    """ "in 1 minute", asked for by the agent's own tool call, comes back to it after a tick a minute later."""
    letta = setup.letta
    agent_id = letta.create_agent("schedules-itself")
    attached = attach(setup, agent_id)
    assert set(attached["tools"]) == {"schedule_message", "list_scheduled_messages", "cancel_scheduled_message"}
    assert {"schedule_message", "list_scheduled_messages", "cancel_scheduled_message"} <= agent_tools(letta, agent_id)
    env = agent_env(letta, agent_id)
    assert env["SWITCHBOARD_URL"] == setup.serve_url and env["SWITCHBOARD_TOKEN"].startswith("sbg.")
    assert letta.password not in env["SWITCHBOARD_TOKEN"]

    text = f"Reminder to self {uuid.uuid4().hex[:8]}: check the oven"
    asked = datetime.now(UTC)
    answer = setup.tool_call(agent_id, "schedule_message", message=text, when="in 1 minute")
    assert answer.startswith("Scheduled a one-time message to you for "), answer
    assert answer.endswith(" UTC, in 1 minute. Its id is " + scheduled_id(answer) + "."), answer
    schedule_id = scheduled_id(answer)
    [pending] = setup.cli("onetime", "list")
    assert (pending["id"], pending["agent_id"], pending["message"]) == (schedule_id, agent_id, text)

    due = datetime.fromisoformat(pending["execute_at"])
    assert timedelta(seconds=50) <= due - asked <= timedelta(minutes=5), (asked, due)  # "in 1 minute" from the call
    report = setup.cli("tick", "--now", (due + timedelta(minutes=1)).isoformat())
    [result] = [r for r in report["results"] if r["schedule_id"] == schedule_id]
    assert (result["status"], result["agent_id"]) == ("delivered", agent_id), result
    run_id = result["run_id"]
    assert run_id.startswith("run-")
    assert letta.wait_for_run(run_id)["status"] == "completed"
    otid = str(uuid.uuid5(OTID_NAMESPACE, f"{schedule_id}@{pending['execute_at']}"))
    with letta.client() as client:
        messages = client.get(f"/v1/agents/{agent_id}/messages", params={"limit": 200}).json()
    users = [m for m in messages if m.get("message_type") == "user_message"]
    arrived = [m for m in users if written(m.get("content") or "") == text]
    assert len(arrived) == 1, [m.get("content") for m in messages if m.get("message_type") == "user_message"]
    assert arrived[0].get("otid") == otid
    assert arrived[0].get("run_id") in (None, run_id)  # 0.11.7 leaves run_id empty on history messages
    assert setup.cli("onetime", "list") == []


def test_list_and_cancel_through_tool_calls(setup: Setup) -> None:
    """A recurring schedule made by a tool call is listed and cancelled by tool calls, in the agent's zone."""
    agent_id = setup.letta.create_agent("lists-and-cancels")
    attach(setup, agent_id)
    made = setup.tool_call(
        agent_id, "schedule_message", message="Weekly review", when="every monday at 9am", timezone="Europe/Berlin"
    )
    assert made.startswith('Scheduled a recurring message to you, "0 9 * * 1" in Europe/Berlin'), made
    schedule_id = scheduled_id(made)
    listed = setup.tool_call(agent_id, "list_scheduled_messages")
    assert listed.startswith(f"You have 1 scheduled message: 1) {schedule_id}: recurring"), listed
    assert [s["id"] for s in setup.cli("recurring", "list") if s["agent_id"] == agent_id] == [schedule_id]

    gone = setup.tool_call(agent_id, "cancel_scheduled_message", schedule_id=schedule_id)
    assert gone.startswith(f"Cancelled the scheduled message {schedule_id}: recurring"), gone
    assert [s for s in setup.cli("recurring", "list") if s["agent_id"] == agent_id] == []


def test_a_refusal_comes_back_as_a_sentence(setup: Setup) -> None:
    """A recurring schedule faster than the agent may ask for is refused in words, through the real sandbox."""
    agent_id = setup.letta.create_agent("asks-too-often")
    attach(setup, agent_id)
    refused = setup.tool_call(agent_id, "schedule_message", message="Spam", when="every minute")
    assert refused.startswith('Switchboard refused: "every minute" can fire 1 minute apart'), refused
    assert [s for s in setup.cli("recurring", "list") if s["agent_id"] == agent_id] == []


def test_another_tenants_agent_can_neither_see_nor_cancel(setup: Setup) -> None:
    """An agent attached for another Letta account (another key, so another tenant) gets "not found".

    A self-hosted server knows one password, so the second account's grant is
    made with the attach library itself: its Letta calls go to this server
    with the password, its grant holds (and its schedules belong to) a key of
    its own, as for two accounts on Letta Cloud.
    """
    letta = setup.letta
    ours = letta.create_agent("tenant-a")
    attach(setup, ours)
    schedule_id = scheduled_id(setup.tool_call(ours, "schedule_message", message="Private", when="tomorrow at 9am"))

    theirs = letta.create_agent("tenant-b")
    laptop = indexed_store(
        GitBackend(Path(setup.env["SWITCHBOARD_REPO"])), codec_from_keys(setup.env["SWITCHBOARD_ENCRYPTION_KEY"])
    )
    with LettaClient(letta.base_url, letta.password) as client:
        agent_attach.attach(
            laptop, client, api_key="sk-let-tenant-b-0000", base_url=letta.base_url, agent_id=theirs,
            serve_url=setup.serve_url, now=datetime.now(UTC),
        )  # fmt: skip

    assert setup.tool_call(theirs, "list_scheduled_messages") == "You have no scheduled messages."
    refused = setup.tool_call(theirs, "cancel_scheduled_message", schedule_id=schedule_id)
    assert refused.startswith(f"Switchboard refused: no scheduled message with id {schedule_id} for you"), refused
    assert schedule_id in setup.tool_call(ours, "list_scheduled_messages")
    assert [s["id"] for s in setup.cli("onetime", "list") if s["agent_id"] == ours] == [schedule_id]


def test_detach_takes_the_tools_off_and_revokes_the_token(setup: Setup) -> None:
    """After detach the agent has none of the tools or variables, and the old token opens nothing."""
    letta = setup.letta
    agent_id = letta.create_agent("detached")
    with letta.client() as client:
        resp = client.patch(f"/v1/agents/{agent_id}", json={"tool_exec_environment_variables": {"OWN_VAR": "kept"}})
    assert resp.status_code == 200, resp.text[:300]
    attach(setup, agent_id)
    token = agent_env(letta, agent_id)["SWITCHBOARD_TOKEN"]
    assert agent_env(letta, agent_id)["OWN_VAR"] == "kept"
    shown = setup.cli("agent-tools", "show", "--agent-id", agent_id)
    assert shown["tools"] == ["cancel_scheduled_message", "list_scheduled_messages", "schedule_message"]
    assert (shown["serve_url"], shown["token_set"], shown["grant"]["max_schedules"]) == (setup.serve_url, True, 100)

    done = setup.cli("agent-tools", "detach", "--agent-id", agent_id)
    assert sorted(done["detached"]) == shown["tools"] and len(done["revoked_grants"]) == 1
    assert not agent_tools(letta, agent_id) & set(shown["tools"])
    assert agent_env(letta, agent_id) == {"OWN_VAR": "kept"}
    refused = httpx.get(
        setup.serve_url + "/agent-tools/schedules", headers={"Authorization": f"Bearer {token}"}, trust_env=False
    )
    assert refused.status_code == 401, refused.text
    shown = setup.cli("agent-tools", "show", "--agent-id", agent_id)
    assert (shown["tools"], shown["grant"], shown["token_set"]) == ([], None, False)
