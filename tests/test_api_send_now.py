"""`serve` delivers at once: a one-time message due now, and `POST /schedules/recurring/{id}/run`.

A real uvicorn on a real clone with the Letta stand-in (tests/api_server.py), no ticker:
the request's own background delivers, and the result is there a moment after the answer.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime

import httpx
import pytest
from api_server import OTHER_KEY, ApiServer, serve_api
from conftest import LETTA_KEY, Repo

from switchboard.models import RecurringSchedule

MISSING_ID = "0b7c6a7e-3f1d-4d0e-9a55-2b1c3d4e5f60"


@pytest.fixture
def api(repo: Repo, key: str) -> Iterator[ApiServer]:
    """The API with no ticker: nothing but the request itself delivers."""
    with serve_api(repo, key) as server:
        yield server


def latest_result(client: httpx.Client, sid: str, timeout: float = 10.0) -> dict[str, object]:
    """GET /results/{sid} until there is one (bounded)."""
    deadline = time.monotonic() + timeout
    while (latest := client.get(f"/results/{sid}")).status_code == 404:
        assert time.monotonic() < deadline, f"no result for {sid} within {timeout:g} s"
        time.sleep(0.05)
    answer: dict[str, object] = latest.json()
    return answer


def test_a_message_due_now_is_delivered_by_the_request(api: ApiServer) -> None:
    with api.client() as client:
        created = client.post("/schedules/one-time", json={"agent_id": api.agent, "message": "Now, from serve"})
        assert created.status_code == 201, created.text
        sid = str(created.json()["id"])
        result = latest_result(client, sid)
        [delivery] = api.standin.deliveries
        assert (result["status"], result["run_id"], result["manual"]) == ("success", delivery.run_id, False)
        assert (delivery.agent_id, delivery.text) == (api.agent, "Now, from serve")
        assert client.get(f"/schedules/one-time/{sid}").status_code == 404
    claim, record = api.repo.remote_log()[1], api.repo.remote_log()[0]
    assert claim.startswith(f"switchboard: add one-time {sid}, claimed to send now (")
    assert record.startswith("switchboard: tick delivered 1, failed 0, put back 0, deferred 0 (")


def test_a_message_letta_cannot_take_now_stays_for_the_tick(api: ApiServer) -> None:
    with api.client() as client:
        assert client.get("/schedules/one-time").status_code == 200  # the key is checked (and cached) now
        api.standin.down()
        created = client.post("/schedules/one-time", json={"agent_id": api.agent, "message": "Later, then"})
        assert created.status_code == 201, created.text
        sid = created.json()["id"]
        deadline = time.monotonic() + 20
        while not api.repo.remote_log()[0].startswith(
            "switchboard: tick delivered 0, failed 0, put back 0, deferred 1"
        ):
            assert time.monotonic() < deadline, "the claim was not released"
            time.sleep(0.1)
        assert client.get(f"/schedules/one-time/{sid}").status_code == 200  # still pending, for the tick
        assert client.get(f"/results/{sid}").status_code == 404
    schedule = api.state.store.load(api.state.store.locate(api.state.store.tenant(LETTA_KEY), sid))
    assert schedule.claimed_by is None and api.standin.deliveries == []


def test_run_now_sends_a_manual_fire_and_keeps_the_next_one(api: ApiServer) -> None:
    with api.client() as client:
        made = client.post(
            "/schedules/recurring", json={"agent_id": api.agent, "cron": "0 10 * * 1-5", "message": "Extra"}
        )
        sid = made.json()["id"]
        ran = client.post(f"/schedules/recurring/{sid}/run")
        assert ran.status_code == 200, ran.text
        result = ran.json()
        [delivery] = api.standin.deliveries
        assert (result["status"], result["run_id"], result["manual"]) == ("success", delivery.run_id, True)
        assert result["message"] == "Extra" and result["schedule_type"] == "recurring"
        after = client.get(f"/schedules/recurring/{sid}").json()
        assert (after["last_run"], after["next_run"]) == (made.json()["last_run"], made.json()["next_run"])
        assert client.get(f"/results/{sid}/history").json() == [result]
        assert client.post(f"/schedules/recurring/{MISSING_ID}/run").status_code == 404
    with api.client(OTHER_KEY) as other:
        assert other.post(f"/schedules/recurring/{sid}/run").status_code == 403
    assert len(api.standin.deliveries) == 1


def test_run_now_while_a_tick_holds_the_schedule_is_409(api: ApiServer) -> None:
    with api.client() as client:
        sid = client.post(
            "/schedules/recurring", json={"agent_id": api.agent, "cron": "0 10 * * *", "message": "x"}
        ).json()["id"]
        store = api.state.store

        def claim(tx: object) -> None:
            path = store.locate(store.tenant(LETTA_KEY), sid, "recurring")
            held = store.load_recurring(path)
            assert isinstance(held, RecurringSchedule)
            tx.save(held.model_copy(update={"claimed_by": "a-tick", "claimed_at": datetime.now(UTC)}))  # type: ignore[attr-defined]

        store.transact("tests: a tick claims it", claim)
        busy = client.post(f"/schedules/recurring/{sid}/run")
        assert busy.status_code == 409
        expected = (
            f"a tick is delivering recurring {sid} (or to agent {api.agent}) right now — run it again in a minute"
        )
        assert busy.json() == {"detail": expected}
    assert api.standin.deliveries == []


def test_the_hosted_api_sends_as_written_unless_the_envelope_is_asked_for(api: ApiServer) -> None:
    other = api.standin.add_agent()  # two agents: neither message waits for the other's run
    with api.client() as client:
        plain = client.post("/schedules/one-time", json={"agent_id": api.agent, "message": "As sent"})
        wrapped = client.post(
            "/schedules/one-time",
            json={"agent_id": other, "message": "Wrapped", "envelope": True, "timezone": "Asia/Tokyo"},
        )
        assert (plain.json()["envelope"], wrapped.json()["envelope"]) == (False, True)
        latest_result(client, str(plain.json()["id"]))
        latest_result(client, str(wrapped.json()["id"]))
    texts = {d.text.rsplit("\n", 1)[-1]: d.text for d in api.standin.deliveries}
    assert texts["As sent"] == "As sent"
    assert texts["Wrapped"].startswith("<system-reminder>\nScheduled message ")
    assert "Time zone: Asia/Tokyo" in texts["Wrapped"] and "+09:00" in texts["Wrapped"]
