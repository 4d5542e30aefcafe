"""switchboard's App Server client against a real ``letta server``: proof, errors, deduplication, conversations."""

from __future__ import annotations

import json
import socket
import subprocess
import uuid
from typing import Any

import pytest
from conftest import run_cli

from real_letta.conftest import AppServer
from switchboard.exceptions import ConfigError, LettaPermanentError, LettaTransientError
from switchboard.letta_ws import AppServerClient

pytestmark = pytest.mark.real_letta


def closed_port() -> int:
    """A loopback port nothing listens on."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_a_message_comes_back_with_its_turn_and_is_stored_once(app_server: AppServer) -> None:
    otid = str(uuid.uuid4())
    with app_server.client() as client:
        run = client.send_message(app_server.agent_id, "hello from the client test", otid=otid)
        assert (run.status, run.stop_reason, run.conversation_id, run.otid) == (
            "completed",
            "end_turn",
            "default",
            otid,
        )
        assert run.turn_id is not None and run.id == run.turn_id and not run.deduplicated
        assert client.get_run(run.id) == run  # the turn this client saw end
        with pytest.raises(LettaPermanentError, match="keeps no runs"):
            client.get_run("local-run-1")
    assert len(app_server.with_otid(otid)) == 1


def test_a_repeated_otid_is_found_in_the_conversation_not_sent_again(app_server: AppServer) -> None:
    otid = str(uuid.uuid4())
    first = app_server.send("said once", otid=otid)
    with app_server.client(quiet=1.0) as client:
        again = client.send_message(app_server.agent_id, "said once", otid=otid)
    assert (again.status, again.deduplicated, again.turn_id, again.otid) == ("completed", True, None, otid)
    assert first.turn_id is not None
    assert len(app_server.with_otid(otid)) == 1


def test_a_new_conversation_per_message_and_a_named_one(app_server: AppServer) -> None:
    otid = str(uuid.uuid4())
    with app_server.client() as client:
        made = client.send_message(app_server.agent_id, "into a new conversation", otid=otid, conversation="new")
        assert made.conversation_id not in (None, "default")
        assert made.status == "completed"
        assert made.conversation_id is not None
        assert len(app_server.with_otid(otid, made.conversation_id)) == 1
        assert app_server.with_otid(otid) == []  # not in the default conversation
        follow_up = str(uuid.uuid4())
        named = client.send_message(
            app_server.agent_id, "into the same one", otid=follow_up, conversation=made.conversation_id
        )
    assert named.conversation_id == made.conversation_id
    assert len(app_server.with_otid(follow_up, made.conversation_id)) == 1


def test_each_failure_is_one_clear_error(app_server: AppServer) -> None:
    gone = f"agent-local-{uuid.uuid4()}"
    with app_server.client() as client:
        with pytest.raises(LettaPermanentError) as missing:
            client.send_message(gone, "to nobody", otid=str(uuid.uuid4()))
        assert missing.value.status == 404
        assert str(missing.value) == f"agent {gone} not found on {app_server.base_url} (404) — check --agent-id"
        with pytest.raises(LettaPermanentError) as checked:
            client.check_agent(gone)
        assert checked.value.status == 404
        client.check_agent(app_server.agent_id)
        client.check_key()
        with pytest.raises(LettaPermanentError, match=r"conversation local-conv-999999 of agent .* not found"):
            client.send_message(
                app_server.agent_id, "nowhere", otid=str(uuid.uuid4()), conversation="local-conv-999999"
            )

    with pytest.raises(LettaPermanentError) as refused, app_server.client(token="not-the-token") as wrong:
        wrong.check_key()
    assert refused.value.status == 401 and "not-the-token" not in str(refused.value)
    assert "rejected the token (401)" in str(refused.value)

    port = closed_port()
    with pytest.raises(LettaTransientError) as unreachable, AppServerClient(f"ws://127.0.0.1:{port}", "t") as down:
        down.send_message(app_server.agent_id, "hello", otid=str(uuid.uuid4()))
    assert unreachable.value.unreached
    assert str(unreachable.value).startswith(f"could not connect to the App Server at ws://127.0.0.1:{port}")

    with pytest.raises(ConfigError, match="not a ws:// or wss:// URL"):
        AppServerClient("http://127.0.0.1:1", "t")


def cli(env: dict[str, str], *args: str) -> Any:
    done: subprocess.CompletedProcess[str] = run_cli(*args, "--json", env=env)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_send_to_a_new_conversation_from_the_cli(app_server: AppServer, app_env: dict[str, str]) -> None:
    """`send --conversation new`: the result names the conversation made for it, and the message is there."""
    sent = cli(app_env, "send", "--agent-id", app_server.agent_id, "-m", "a fresh thread", "--conversation", "new")
    assert sent["conversation"] == "new"
    result = sent["result"]
    assert result["status"] == "delivered" and result["conversation_id"] not in (None, "default")
    assert len(app_server.with_otid(result["otid"], result["conversation_id"])) == 1

    bad = run_cli("send", "--agent-id", app_server.agent_id, "-m", "x", "--conversation", "a b", env=app_env)
    assert bad.returncode == 1
    assert bad.stderr.strip() == (
        'Error: conversation "a b" is not a conversation id — give "default", "new" or the id of one of the '
        "agent's conversations (e.g. conv-… or local-conv-…)"
    )
