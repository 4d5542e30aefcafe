"""PATCH /schedules/{one-time,recurring}/{id} and names, through a real uvicorn on a real git repo."""

from __future__ import annotations

import http.client
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from api_server import OTHER_KEY, ApiServer, clone_files, serve_api
from conftest import LETTA_KEY, Repo

from switchboard.store import ONE_TIME, Transaction

FIXED_NOW = datetime(2026, 3, 10, 15, 20, tzinfo=UTC)
MISSING_ID = "0b7c6a7e-3f1d-4d0e-9a55-2b1c3d4e5f60"


@pytest.fixture
def api(repo: Repo, key: str) -> Iterator[ApiServer]:
    """The API at a fixed instant, no ticker."""
    with serve_api(repo, key, clock=lambda: FIXED_NOW) as server:
        yield server


def created(client: httpx.Client, path: str, body: dict[str, Any]) -> dict[str, Any]:
    response = client.post(path, json=body)
    assert response.status_code == 201, response.text
    made: dict[str, Any] = response.json()
    return made


def msg(response: httpx.Response) -> str:
    """The message of a one-item 422."""
    [item] = response.json()["detail"]
    text: str = item["msg"]
    return text


def test_patch_one_time_moves_it_and_keeps_its_id(api: ApiServer) -> None:
    with api.client() as client:
        made = created(
            client, "/schedules/one-time",
            {"agent_id": api.agent, "message": "Water", "execute_at": "2030-01-02T09:00:00Z", "name": "plants"},
        )  # fmt: skip
        assert made["name"] == "plants"
        sid = made["id"]
        patched = client.patch(
            f"/schedules/one-time/{sid}",
            json={"execute_at": "tomorrow at 9am", "timezone": "Europe/Berlin", "message": "Water the plants"},
        )
        assert patched.status_code == 200, patched.text
        body = patched.json()
        assert body == {
            **made,
            "execute_at": "2026-03-11T08:00:00+00:00",
            "timezone": "Europe/Berlin",
            "message": "Water the plants",
        }
        assert client.get(f"/schedules/one-time/{sid}").json() == body
        assert api.repo.remote_log()[0] == f"switchboard: update one-time {sid}"
        [path] = [f for f in api.repo.remote_files() if sid in f]
        assert path.startswith(f"{ONE_TIME}/2026-03-11/08/")
        # null takes the name away; a field left out stays.
        cleared = client.patch(f"/schedules/one-time/{sid}", json={"name": None}).json()
        assert (cleared["name"], cleared["message"]) == (None, "Water the plants")


def test_patch_recurring_reads_a_new_cron_in_its_own_zone(api: ApiServer) -> None:
    with api.client() as client:
        made = created(
            client, "/schedules/recurring",
            {"agent_id": api.agent, "message": "Standup", "cron": "0 10 * * 1-5", "timezone": "Europe/Berlin"},
        )  # fmt: skip
        sid = made["id"]
        body = client.patch(f"/schedules/recurring/{sid}", json={"cron": "every day at 8am", "name": "standup"}).json()
        assert (body["id"], body["name"]) == (sid, "standup")
        assert (body["cron"], body["timezone"]) == ("0 8 * * *", "Europe/Berlin")
        assert body["next_run"] == "2026-03-11T07:00:00+00:00"  # 08:00 in Berlin, counted from now
        moved = client.patch(f"/schedules/recurring/{sid}", json={"timezone": "America/New_York"}).json()
        assert (moved["cron"], moved["timezone"], moved["next_run"]) == (
            "0 8 * * *", "America/New_York", "2026-03-11T12:00:00+00:00",
        )  # fmt: skip
        assert client.get("/schedules/recurring").json() == [moved]


def test_patch_errors(api: ApiServer) -> None:
    with api.client() as client, api.client(OTHER_KEY) as other:
        one = created(client, "/schedules/one-time", {"agent_id": api.agent, "message": "M", "execute_at": "in 1 hour"})
        rec = created(client, "/schedules/recurring", {"agent_id": api.agent, "message": "M", "cron": "0 9 * * *"})
        one_path, rec_path = f"/schedules/one-time/{one['id']}", f"/schedules/recurring/{rec['id']}"
        log = api.repo.remote_log()

        empty = client.patch(one_path, json={})
        assert empty.status_code == 422
        assert msg(empty) == "nothing to change — send any of agent_id, execute_at, message, name, role, timezone"
        alone = client.patch(one_path, json={"timezone": "Europe/Berlin"})
        assert alone.status_code == 422
        assert msg(alone) == "timezone only says how to read execute_at — send execute_at too"
        assert client.patch(rec_path, json={"cron": "every blue moon"}).status_code == 422
        assert client.patch(one_path, json={"execute_at": "when pigs fly"}).status_code == 422
        too_long = client.patch(rec_path, json={"name": "x" * 201})
        assert too_long.status_code == 422 and "more than 200" in msg(too_long)
        assert client.patch(rec_path, json={"message": "  "}).status_code == 422
        assert client.patch(rec_path, json={"role": "boss"}).status_code == 422

        assert client.patch(f"/schedules/one-time/{MISSING_ID}", json={"message": "x"}).status_code == 404
        assert client.patch(f"/schedules/recurring/{one['id']}", json={"message": "x"}).status_code == 404
        assert client.patch("/schedules/recurring/standup", json={"message": "x"}).status_code == 404
        assert other.patch(rec_path, json={"message": "mine"}).status_code == 403
        assert other.patch(one_path, json={"message": "mine"}).status_code == 403
        assert api.repo.remote_log() == log


def test_patch_of_a_schedule_a_tick_holds_is_409(api: ApiServer) -> None:
    with api.client() as client:
        rec = created(client, "/schedules/recurring", {"agent_id": api.agent, "message": "M", "cron": "0 9 * * *"})
        store = api.state.store

        def claim(tx: Transaction) -> None:
            path = store.locate(store.tenant(LETTA_KEY), rec["id"], "recurring")
            held = store.load(path).model_copy(
                update={"claimed_by": "a-running-pass", "claimed_at": FIXED_NOW - timedelta(minutes=1)}
            )
            tx.save(held)

        store.transact("tests: a tick claims it", claim)
        log = api.repo.remote_log()
        refused = client.patch(f"/schedules/recurring/{rec['id']}", json={"message": "New"})
        assert refused.status_code == 409
        assert refused.json()["detail"].startswith(
            f"recurring schedule {rec['id']} is being delivered by a tick right now — nothing was changed; try again"
        )
        assert api.repo.remote_log() == log


@pytest.mark.parametrize("raw", ["..%2F..%2Fetc%2Fpasswd", "%2e%2e", "{0b7c6a7e-3f1d-4d0e-9a55-2b1c3d4e5f60}"])
def test_patch_of_path_like_ids_is_404_and_touches_no_file(api: ApiServer, raw: str) -> None:
    before = clone_files(api.repo.clone)
    connection = http.client.HTTPConnection(api.base_url.removeprefix("http://"), timeout=30)
    try:
        for template in ("/schedules/one-time/{}", "/schedules/recurring/{}"):
            connection.request(
                "PATCH",
                template.format(raw),
                body=b'{"message": "x"}',
                headers={"Authorization": f"Bearer {LETTA_KEY}", "Content-Type": "application/json"},
            )
            response = connection.getresponse()
            response.read()
            assert response.status == 404, (template, raw, response.status)
    finally:
        connection.close()
    assert clone_files(api.repo.clone) == before


def test_names_reach_results_but_not_the_letta_shaped_api(repo: Repo, key: str) -> None:
    with serve_api(repo, key, tick_every=0.5) as server, server.client() as client:
        made = created(
            client, "/schedules/one-time",
            {"agent_id": server.agent, "message": "Now", "execute_at": "2020-01-01T00:00:00Z", "name": "hello"},
        )  # fmt: skip
        later = created(
            client, "/schedules/one-time",
            {"agent_id": server.agent, "message": "Later", "execute_at": "2030-01-01T00:00:00Z", "name": "later"},
        )  # fmt: skip
        letta_view = client.get(f"/v1/agents/{server.agent}/schedule/{later['id']}")
        assert letta_view.status_code == 200 and "name" not in letta_view.json()
        deadline = time.monotonic() + 20
        while (latest := client.get(f"/results/{made['id']}")).status_code == 404:
            assert time.monotonic() < deadline, "the ticker did not deliver within 20 s"
            time.sleep(0.2)
        assert latest.json()["name"] == "hello"
        assert client.get("/results").json()[0]["name"] == "hello"
        assert client.get(f"/results/{made['id']}/history").json()[0]["name"] == "hello"
