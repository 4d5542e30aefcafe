"""``switchboard.letta.LettaClient`` against each real Letta server: the key check, a send, its run."""

from __future__ import annotations

import uuid

import pytest

from real_letta.conftest import RealLetta
from switchboard.exceptions import LettaPermanentError
from switchboard.letta import LettaClient, send_with_retry, wait_for_run

pytestmark = pytest.mark.real_letta

WRONG_KEY = "sk-let-wrong-0000000000000000"
UNKNOWN_RUN = "run-00000000-0000-4000-8000-000000000000"
UNKNOWN_AGENT = "agent-00000000-0000-4000-8000-000000000000"


def test_check_key_accepts_the_password_and_refuses_others(real_letta: RealLetta) -> None:
    """The server's password passes; a wrong key and no key are a permanent 401 that never shows the key."""
    with LettaClient(real_letta.base_url, real_letta.password) as client:
        client.check_key()
    for key in (WRONG_KEY, None):
        with LettaClient(real_letta.base_url, key) as client, pytest.raises(LettaPermanentError) as caught:
            client.check_key()
        assert caught.value.status == 401
        assert "rejected the API key" in str(caught.value)
        assert WRONG_KEY not in str(caught.value)


def test_send_then_follow_the_run_to_completion(real_letta: RealLetta) -> None:
    """send_with_retry → a Run; wait_for_run → completed; the message is stored with its otid."""
    agent_id = real_letta.create_agent("client-send")
    text, otid = f"client e2e {uuid.uuid4().hex[:8]}", str(uuid.uuid4())
    with LettaClient(real_letta.base_url, real_letta.password) as client:
        run = send_with_retry(client, agent_id, text, otid=otid, attempts=1)
        assert run.id.startswith("run-")
        assert run.status == "created"
        # 0.11.7's Run has no agent_id (0.16.8's has): nothing may rely on it.
        assert run.agent_id == (None if real_letta.version == "0.11.7" else agent_id)
        done = wait_for_run(client, run.id, timeout=60, poll_interval=0.2)
    assert (done.id, done.status, done.done) == (run.id, "completed", True)
    with real_letta.client() as http:
        history = http.get(f"/v1/agents/{agent_id}/messages", params={"limit": 50}).json()
    assert [(m["message_type"], m["content"]) for m in history if m.get("otid") == otid] == [("user_message", text)]


def test_a_resent_otid_is_not_deduplicated_by_letta(real_letta: RealLetta) -> None:
    """What the docs say of a claim taken over after a tick died: Letta (0.11.7 and 0.16.8) keeps both copies.

    The second send with the same otid is accepted as a new run and stored again; the shared otid is
    what lets the agent (or you) recognise the repeat.
    """
    agent_id = real_letta.create_agent("client-resend")
    text, otid = f"resent {uuid.uuid4().hex[:8]}", str(uuid.uuid4())
    with LettaClient(real_letta.base_url, real_letta.password) as client:
        runs = []
        # One at a time, as a takeover resends: the first run has long ended when the copy goes.
        for _ in range(2):
            runs.append(send_with_retry(client, agent_id, text, otid=otid, attempts=1))
            assert wait_for_run(client, runs[-1].id, timeout=60, poll_interval=0.2).status == "completed"
    assert runs[0].id != runs[1].id
    with real_letta.client() as http:
        history = http.get(f"/v1/agents/{agent_id}/messages", params={"limit": 50}).json()
    assert [(m["message_type"], m["content"]) for m in history if m.get("otid") == otid] == [("user_message", text)] * 2


def test_unknown_run_is_a_permanent_404(real_letta: RealLetta) -> None:
    """Letta's own 404 detail ("Run not found") becomes the client's "run … not found" message."""
    with LettaClient(real_letta.base_url, real_letta.password) as client, pytest.raises(LettaPermanentError) as caught:
        client.get_run(UNKNOWN_RUN)
    assert caught.value.status == 404
    assert f"run {UNKNOWN_RUN} not found" in str(caught.value)


def test_unknown_agent_is_refused_at_once_or_fails_its_run(real_letta: RealLetta) -> None:
    """The one delivery-visible difference between the versions, by version.

    0.11.7 accepts a message for an agent that does not exist (a Run, 200) and fails that run
    later; 0.16.8 refuses it at once with a permanent 404 that names no key.
    """
    with LettaClient(real_letta.base_url, real_letta.password) as client:
        if real_letta.version == "0.11.7":
            run = send_with_retry(client, UNKNOWN_AGENT, "to nobody", otid=str(uuid.uuid4()), attempts=1)
            assert run.status in ("created", "running")
            assert wait_for_run(client, run.id, timeout=60, poll_interval=0.2).status == "failed"
        else:
            with pytest.raises(LettaPermanentError) as caught:
                send_with_retry(client, UNKNOWN_AGENT, "to nobody", otid=str(uuid.uuid4()), attempts=1)
            assert caught.value.status == 404
            assert real_letta.password not in str(caught.value)
