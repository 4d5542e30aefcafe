"""The REST API as a client of the hosted service sees it: a real uvicorn, a real git repo, a Letta stand-in."""

from __future__ import annotations

import http.client
import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from api_server import OTHER_KEY, ApiServer, clone_files, free_port, serve_api
from conftest import LETTA_KEY, ROOT, Repo, run_cli
from fastapi import FastAPI

from switchboard.api import ApiOptions
from switchboard.api.hosted import UNREADABLE_HEADER
from switchboard.backends.git import GitBackend
from switchboard.doctor import watcher_check
from switchboard.index import indexed_store
from switchboard.store import ONE_TIME, RECURRING, RESULTS
from switchboard.watch import HEARTBEAT_FILE, read_heartbeat

#: An agent id of the shape Letta makes.
AGENT_OK = "agent-3f2b9c1e-8d4a-4b6e-9f0a-1c2d3e4f5a60"

ONE_TIME_FIELDS = {"id", "agent_id", "message", "role", "execute_at", "created_at"}
RECURRING_HOSTED_FIELDS = {"id", "agent_id", "message", "role", "cron", "created_at", "last_run"}
RESULT_HOSTED_FIELDS = {"schedule_id", "schedule_type", "run_id", "agent_id", "message", "executed_at"}
MISSING_ID = "0b7c6a7e-3f1d-4d0e-9a55-2b1c3d4e5f60"
FIXED_NOW = datetime(2026, 3, 10, 15, 20, tzinfo=UTC)


@pytest.fixture
def api(repo: Repo, key: str) -> Iterator[ApiServer]:
    """The API on a fresh repository, no ticker, no rate limit."""
    with serve_api(repo, key) as server:
        yield server


def one_time(server: ApiServer, client: httpx.Client, **fields: object) -> dict[str, object]:
    """Create a one-time schedule (in an hour unless said otherwise) and return it."""
    body = {"agent_id": server.agent, "execute_at": "in 1 hour", "message": "Reminder: stand up", **fields}
    response = client.post("/schedules/one-time", json=body)
    assert response.status_code == 201, response.text
    created: dict[str, object] = response.json()
    return created


def recurring(server: ApiServer, client: httpx.Client, **fields: object) -> dict[str, object]:
    """Create a recurring schedule and return it."""
    body = {"agent_id": server.agent, "cron": "0 10 * * 1-5", "message": "Standup", **fields}
    response = client.post("/schedules/recurring", json=body)
    assert response.status_code == 201, response.text
    created: dict[str, object] = response.json()
    return created


# -- auth -----------------------------------------------------------------------------------------


def protected_routes(app: FastAPI) -> list[tuple[str, str]]:
    """Every (method, path) of the OpenAPI document behind the key check, parameters filled in (new ones too)."""
    routes = []
    for template, operations in app.openapi()["paths"].items():
        if template.startswith(("/schedules", "/results", "/v1/")):
            path = re.sub(r"\{[a-z_]+\}", MISSING_ID, template.replace("{agent_id}", "agent-x"))
            routes.extend((method.upper(), path) for method in sorted(operations))
    return routes


def test_the_hosted_routes_answer_403_without_a_bearer_key_as_the_hosted_service_did(api: ApiServer) -> None:
    hosted = [(m, p) for m, p in protected_routes(api.app) if not p.startswith("/v1/")]
    assert len(hosted) >= 13
    with api.client(key=None) as anonymous:
        for method, path in hosted:
            for headers in ({}, {"Authorization": "Basic dXNlcjpwYXNz"}, {"Authorization": "Bearer"}):
                response = anonymous.request(method, path, json={}, headers=headers)
                assert response.status_code == 403, (method, path, headers, response.text)
                assert response.json() == {"detail": "Not authenticated"}
    assert api.key_checks() == 0, "a request without a key never reaches Letta"


def test_the_letta_shaped_routes_answer_401_without_a_bearer_key_as_letta_does(api: ApiServer) -> None:
    letta = [(m, p) for m, p in protected_routes(api.app) if p.startswith("/v1/")]
    assert len(letta) == 4
    with api.client(key=None) as anonymous:
        for method, path in letta:
            for headers in ({}, {"Authorization": "Basic dXNlcjpwYXNz"}):
                response = anonymous.request(method, path, json={}, headers=headers)
                assert response.status_code == 401, (method, path, response.text)
                assert response.headers["WWW-Authenticate"] == "Bearer"
                assert "Bearer" in response.json()["detail"]
    assert api.key_checks() == 0, "a request without a key never reaches Letta"


def test_a_refused_key_is_401_on_every_route(api: ApiServer) -> None:
    with api.client(key="sk-let-refused") as wrong:
        for method, path in protected_routes(api.app):
            response = wrong.request(method, path, json={})
            assert (response.status_code, response.json()) == (401, {"detail": "Invalid Letta API key"}), path


def test_a_key_letta_refuses_is_401_and_remembered_briefly(api: ApiServer) -> None:
    with api.client(key="sk-let-wrong") as wrong:
        first = wrong.get("/schedules/one-time")
        second = wrong.get("/schedules/recurring")
    assert (first.status_code, second.status_code) == (401, 401)
    assert first.json() == {"detail": "Invalid Letta API key"}
    assert first.headers["WWW-Authenticate"] == "Bearer"
    assert api.key_checks() == 1, "the refusal is cached"
    assert "sk-let-wrong" not in first.text


def test_an_accepted_key_is_checked_once_then_cached(api: ApiServer) -> None:
    with api.client() as client:
        for _ in range(5):
            assert client.get("/schedules/one-time").status_code == 200
    assert api.key_checks() == 1
    assert LETTA_KEY in api.standin.received_keys


def test_concurrent_first_requests_share_one_key_check(api: ApiServer) -> None:
    with api.client() as client, ThreadPoolExecutor(8) as pool:
        codes = list(pool.map(lambda _: client.get("/schedules/recurring").status_code, range(16)))
    assert codes == [200] * 16
    assert api.key_checks() == 1


def test_letta_unreachable_is_503_with_a_clear_message_and_not_cached(api: ApiServer) -> None:
    api.standin.down()
    with api.client() as client:
        response = client.get("/schedules/one-time")
        assert response.status_code == 503
        assert response.json()["detail"] == "could not reach Letta to check the API key — try again in a moment"
        assert response.headers["Retry-After"]
        api.standin.up()
        assert client.get("/schedules/one-time").status_code == 200


def test_letta_answering_oddly_is_503_not_401(repo: Repo, key: str) -> None:
    with serve_api(repo, key) as server:
        # A server that is not Letta (here: a URL whose /v1/agents/ is unknown) cannot judge keys.
        server.state.keys.base_url = server.base_url + "/nowhere"
        with server.client() as client:
            response = client.get("/schedules/one-time")
    assert response.status_code == 503
    assert "LETTA_BASE_URL" in response.json()["detail"]


# -- the hosted service's endpoints ---------------------------------------------------------------


def test_one_time_round_trip_keeps_the_hosted_shapes(api: ApiServer) -> None:
    with api.client() as client:
        created = one_time(api, client, execute_at="2030-01-02T03:04:05+01:00", role="system")
        # The hosted service's fields, and switchboard's optional name.
        assert set(created) == ONE_TIME_FIELDS | {"name", "timezone", "conversation", "envelope", "clock"}
        assert created["execute_at"] == "2030-01-02T02:04:05+00:00"
        assert created["role"] == "system"
        sid = created["id"]
        assert client.get("/schedules/one-time").json() == [created]
        assert client.get(f"/schedules/one-time/{sid}").json() == created
        deleted = client.delete(f"/schedules/one-time/{sid}")
        assert (deleted.status_code, deleted.json()) == (200, {"message": "Schedule deleted"})
        gone = client.get(f"/schedules/one-time/{sid}")
        assert (gone.status_code, gone.json()) == (404, {"detail": "Schedule not found"})
        assert client.delete(f"/schedules/one-time/{sid}").status_code == 404
        assert client.get("/schedules/one-time").json() == []
    log = api.repo.remote_log()
    assert log[0].startswith(f"switchboard: delete one-time {sid}")
    assert f"switchboard: add one-time {sid}" in log


def test_recurring_round_trip_adds_fields_but_keeps_the_hosted_ones(api: ApiServer) -> None:
    with api.client() as client:
        created = recurring(api, client)
        assert set(created) >= RECURRING_HOSTED_FIELDS
        assert created["cron"] == "0 10 * * 1-5"
        assert created["timezone"] == "UTC"
        assert created["last_run"] is None
        assert created["status"] == "active"
        sid = created["id"]
        assert client.get(f"/schedules/recurring/{sid}").json() == created
        assert client.get("/schedules/recurring").json() == [created]
        # An id of the other kind is not found under this kind.
        assert client.get(f"/schedules/one-time/{sid}").status_code == 404
        assert client.delete(f"/schedules/recurring/{sid}").json() == {"message": "Schedule deleted"}
        assert client.get("/schedules/recurring").json() == []


def test_natural_language_is_read_in_the_given_zone(repo: Repo, key: str) -> None:
    with serve_api(repo, key, clock=lambda: FIXED_NOW) as server, server.client() as client:
        once = one_time(server, client, execute_at="tomorrow at 9am", timezone="Europe/Berlin")
        assert once["execute_at"] == "2026-03-11T08:00:00+00:00"
        assert once["created_at"] == "2026-03-10T15:20:00+00:00"
        every = recurring(server, client, cron="every weekday at 10am", timezone="America/New_York")
        assert (every["cron"], every["timezone"]) == ("0 10 * * 1-5", "America/New_York")
        assert every["next_run"] == "2026-03-11T14:00:00+00:00"
        now = one_time(server, client, execute_at=None)
        assert now["execute_at"] == "2026-03-10T15:20:00+00:00"


def test_an_api_key_in_the_body_is_ignored_and_never_returned(api: ApiServer) -> None:
    with api.client() as client:
        created = one_time(api, client, api_key="sk-let-someone-else")
        assert "api_key" not in created
        assert client.get(f"/schedules/one-time/{created['id']}").status_code == 200
    with api.client(OTHER_KEY) as other:
        assert other.get("/schedules/one-time").json() == []


@pytest.mark.parametrize(
    ("body", "where"),
    [
        ({"execute_at": "in 1 hour", "message": "m"}, ["body", "agent_id"]),
        ({"agent_id": "agent/../x", "execute_at": "in 1 hour", "message": "m"}, ["body", "agent_id"]),
        ({"agent_id": AGENT_OK, "execute_at": "in 1 hour", "message": "   "}, ["body", "message"]),
        ({"agent_id": AGENT_OK, "execute_at": "in 1 hour", "message": "m", "role": "tool"}, ["body", "role"]),
        ({"agent_id": AGENT_OK, "execute_at": "when pigs fly", "message": "m"}, ["body", "execute_at"]),
        (
            {"agent_id": AGENT_OK, "execute_at": "in 1 hour", "message": "m", "timezone": "Mars/Olympus"},
            ["body", "timezone"],
        ),
        ({"agent_id": 7, "execute_at": "in 1 hour", "message": "m"}, ["body", "agent_id"]),
    ],
)
def test_bad_one_time_bodies_are_422_naming_the_field(
    api: ApiServer, body: dict[str, object], where: list[str]
) -> None:
    with api.client() as client:
        response = client.post("/schedules/one-time", json=body)
    assert response.status_code == 422, response.text
    items = response.json()["detail"]
    assert [item["loc"] for item in items] == [where]
    assert all(set(item) == {"type", "loc", "msg"} for item in items), "the value given is never echoed"


@pytest.mark.parametrize(
    ("cron", "hint"),
    [("every blue moon", "could not understand"), ("61 * * * *", "minute must be 0-59"), ("every 90 minutes", "cron")],
)
def test_bad_cron_is_422_on_cron(api: ApiServer, cron: str, hint: str) -> None:
    with api.client() as client:
        response = client.post("/schedules/recurring", json={"agent_id": AGENT_OK, "cron": cron, "message": "m"})
    assert response.status_code == 422
    [item] = response.json()["detail"]
    assert item["loc"] == ["body", "cron"]
    assert hint in item["msg"]


def test_malformed_json_and_wrong_types_are_422(api: ApiServer) -> None:
    with api.client() as client:
        broken = client.post(
            "/schedules/one-time", content=b'{"agent_id": ', headers={"Content-Type": "application/json"}
        )
        assert broken.status_code == 422
        listed = client.post("/schedules/one-time", json=["not", "an", "object"])
        assert listed.status_code == 422
        assert client.get("/schedules/one-time", params={"limit": "0"}).status_code == 422
        assert client.get("/schedules/one-time", params={"limit": "many"}).status_code == 422


def test_a_secret_message_is_never_echoed_in_errors(api: ApiServer) -> None:
    secret = "the launch code is 0000 " * 4000  # ~96 KB: over the 64 KiB message limit, under the body limit
    with api.client() as client:
        response = client.post(
            "/schedules/one-time", json={"agent_id": AGENT_OK, "execute_at": "in 1 hour", "message": secret}
        )
    assert response.status_code == 422
    assert "launch code" not in response.text
    assert "limit" in response.json()["detail"][0]["msg"]


# -- two tenants ----------------------------------------------------------------------------------


def test_two_keys_never_see_or_touch_each_others_schedules(api: ApiServer) -> None:
    with api.client(LETTA_KEY) as alice, api.client(OTHER_KEY) as bob:
        mine = one_time(api, alice)
        rec = recurring(api, alice)
        theirs = one_time(api, bob, message="Bob's")
        assert [s["id"] for s in alice.get("/schedules/one-time").json()] == [mine["id"]]
        assert [s["id"] for s in bob.get("/schedules/one-time").json()] == [theirs["id"]]
        assert bob.get("/schedules/recurring").json() == []
        for method, path in [
            ("GET", f"/schedules/one-time/{mine['id']}"),
            ("DELETE", f"/schedules/one-time/{mine['id']}"),
            ("GET", f"/schedules/recurring/{rec['id']}"),
            ("DELETE", f"/schedules/recurring/{rec['id']}"),
            ("POST", f"/schedules/recurring/{rec['id']}/pause"),
            ("POST", f"/schedules/recurring/{rec['id']}/resume"),
            ("GET", f"/results/{rec['id']}"),
            ("GET", f"/results/{rec['id']}/history"),
            ("GET", f"/v1/agents/{api.agent}/schedule/{rec['id']}"),
            ("DELETE", f"/v1/agents/{api.agent}/schedule/{mine['id']}"),
        ]:
            response = bob.request(method, path)
            assert response.status_code == 403, (method, path, response.text)
            assert response.json()["detail"].startswith("Forbidden")
        # Nothing of Alice's moved.
        assert alice.get(f"/schedules/one-time/{mine['id']}").json() == mine
        assert alice.get(f"/schedules/recurring/{rec['id']}").json()["status"] == "active"
        # Unknown to everybody: 404, not 403.
        assert bob.get(f"/schedules/one-time/{MISSING_ID}").status_code == 404
        assert bob.get(f"/v1/agents/{api.agent}/schedule").json()["scheduled_messages"][0]["id"] == theirs["id"]


# -- ids that look like paths ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "raw",
    [
        "not-a-uuid",
        "..%2F..%2F..%2Fetc%2Fpasswd",
        "%2e%2e",
        "..",
        "%00",
        "{0b7c6a7e-3f1d-4d0e-9a55-2b1c3d4e5f60}",
        "urn:uuid:0b7c6a7e-3f1d-4d0e-9a55-2b1c3d4e5f60",
        "0b7c6a7e3f1d4d0e9a552b1c3d4e5f60",
        "x" * 5000,
        "data%2Ftenant.key.enc",
    ],
)
def test_path_like_ids_are_404_and_touch_no_file(api: ApiServer, raw: str) -> None:
    before = clone_files(api.repo.clone)
    # http.client sends the path as written: no client-side normalisation of "..".
    connection = http.client.HTTPConnection(api.base_url.removeprefix("http://"), timeout=30)
    try:
        for method, template in [
            ("GET", "/schedules/one-time/{}"),
            ("DELETE", "/schedules/one-time/{}"),
            ("GET", "/schedules/recurring/{}"),
            ("DELETE", "/schedules/recurring/{}"),
            ("POST", "/schedules/recurring/{}/pause"),
            ("GET", "/results/{}"),
            ("GET", "/results/{}/history"),
            ("GET", "/v1/agents/agent-3f2b9c1e-8d4a-4b6e-9f0a-1c2d3e4f5a60/schedule/{}"),
            ("DELETE", "/v1/agents/agent-3f2b9c1e-8d4a-4b6e-9f0a-1c2d3e4f5a60/schedule/{}"),
        ]:
            connection.request(method, template.format(raw), headers={"Authorization": f"Bearer {LETTA_KEY}"})
            response = connection.getresponse()
            body = response.read()
            assert response.status in (404, 405, 422), (method, template, raw, response.status, body)
            assert response.getheader("content-type", "").startswith("application/json")
    finally:
        connection.close()
    assert clone_files(api.repo.clone) == before


def test_an_uppercase_uuid_finds_the_schedule(api: ApiServer) -> None:
    with api.client() as client:
        created = one_time(api, client)
        assert client.get(f"/schedules/one-time/{str(created['id']).upper()}").json() == created


# -- pagination, pause, results ---------------------------------------------------------------------


def test_lists_page_with_limit_and_after(api: ApiServer) -> None:
    with api.client() as client:
        made = [one_time(api, client, execute_at=f"2030-01-0{day}T09:00:00Z") for day in range(1, 6)]
        everything = client.get("/schedules/one-time").json()
        assert [s["id"] for s in everything] == [s["id"] for s in made]
        first = client.get("/schedules/one-time", params={"limit": 2})
        assert [s["id"] for s in first.json()] == [s["id"] for s in made[:2]]
        link = first.headers["Link"]
        assert link == f'</schedules/one-time?limit=2&after={made[1]["id"]}>; rel="next"'
        second = client.get(link[1 : link.index(">")])
        assert [s["id"] for s in second.json()] == [s["id"] for s in made[2:4]]
        last = client.get("/schedules/one-time", params={"limit": 2, "after": made[3]["id"]})
        assert [s["id"] for s in last.json()] == [made[4]["id"]]
        assert "Link" not in last.headers
        unknown = client.get("/schedules/one-time", params={"after": MISSING_ID})
        assert unknown.status_code == 422
        assert unknown.json()["detail"][0]["loc"] == ["query", "after"]


def test_pause_and_resume(repo: Repo, key: str) -> None:
    with serve_api(repo, key, clock=lambda: FIXED_NOW) as server, server.client() as client:
        created = recurring(server, client)
        sid = created["id"]
        paused = client.post(f"/schedules/recurring/{sid}/pause")
        assert paused.status_code == 200
        assert paused.json()["status"] == "paused"
        assert paused.json()["next_run"] is None
        assert client.get(f"/schedules/recurring/{sid}").json()["status"] == "paused"
        resumed = client.post(f"/schedules/recurring/{sid}/resume").json()
        assert resumed["status"] == "active"
        assert resumed["next_run"] == "2026-03-11T10:00:00+00:00"
        assert client.post(f"/schedules/recurring/{MISSING_ID}/pause").status_code == 404
        one = one_time(server, client)
        assert client.post(f"/schedules/recurring/{one['id']}/pause").status_code == 404


def test_a_past_message_is_delivered_by_the_built_in_ticker(repo: Repo, key: str) -> None:
    with serve_api(repo, key, tick_every=0.5) as server, server.client() as client:
        created = one_time(server, client, execute_at="2020-01-01T00:00:00Z", message="Wake up")
        sid = created["id"]
        deadline = time.monotonic() + 20
        while (latest := client.get(f"/results/{sid}")).status_code == 404:
            assert time.monotonic() < deadline, "the ticker did not deliver within 20 s"
            time.sleep(0.2)
        result = latest.json()
        [delivery] = server.standin.deliveries
        assert result["run_id"] == delivery.run_id
        assert result["run_id"].startswith("run-")
        assert set(result) >= RESULT_HOSTED_FIELDS
        assert result["status"] == "success", "the hosted service's name for a delivery Letta accepted"
        assert result["message"] == "Wake up"
        assert (delivery.agent_id, delivery.text) == (server.agent, "Wake up")
        assert client.get(f"/schedules/one-time/{sid}").status_code == 404
        assert client.get(f"/results/{sid}/history").json() == [result]
        assert client.get("/results").json() == [result]
        assert client.get("/results", params={"schedule_id": sid}).json() == [result]
        health = client.get("/health").json()
        assert health["ticker"]["delivered"] == 1
        assert health["ticker"]["failures"] == 0


def test_english_that_resolves_to_the_past_is_refused_and_iso_is_kept(api: ApiServer) -> None:
    with api.client() as client:
        refused = client.post(
            "/schedules/one-time",
            json={"agent_id": api.agent, "message": "Wake up", "execute_at": "yesterday at 9am", "timezone": "UTC"},
        )
        assert refused.status_code == 422
        [detail] = refused.json()["detail"]
        assert detail["loc"] == ["body", "execute_at"]
        assert detail["msg"].startswith('"yesterday at 9am" is ')
        assert "an ISO 8601 time in the past is delivered at once" in detail["msg"]
        assert "Wake up" not in refused.text
        assert client.get("/schedules/one-time").json() == []

        later = one_time(api, client)
        moved = client.patch(f"/schedules/one-time/{later['id']}", json={"execute_at": "yesterday at 9am"})
        assert moved.status_code == 422
        assert client.get(f"/schedules/one-time/{later['id']}").json()["execute_at"] == later["execute_at"]

        kept = client.post(
            "/schedules/one-time",
            json={"agent_id": api.agent, "message": "Wake up", "execute_at": "2020-01-01T00:00:00Z"},
        )
        assert kept.status_code == 201, "the hosted service's contract: a past ISO time is delivered at once"


def test_the_built_in_ticker_plans_its_next_pass_for_the_next_due_instant(repo: Repo, key: str) -> None:
    # An interval far longer than the test: a pass comes at the due instant, not at the end of it.
    with serve_api(repo, key, tick_every=3600) as server, server.client() as client:
        ticker = server.state.ticker
        deadline = time.monotonic() + 20
        while ticker.passes == 0:  # the first pass, at start
            assert time.monotonic() < deadline
            time.sleep(0.05)
        assert (
            client.get("/health").json()["ticker"]["next_wake"]
            == (ticker.last_started + timedelta(hours=1)).isoformat()
        )
        due = (datetime.now(UTC) + timedelta(minutes=10)).replace(microsecond=0)
        passes = ticker.passes
        one_time(server, client, execute_at=due.isoformat())  # the route pokes the ticker
        while ticker.passes == passes:
            assert time.monotonic() < deadline
            time.sleep(0.05)
        assert client.get("/health").json()["ticker"]["next_wake"] == due.isoformat()
        # The heartbeat switchboard watch keeps: doctor sees the server's loop as the clone's watcher.
        beat = read_heartbeat(repo.clone / ".git" / HEARTBEAT_FILE)
        assert beat is not None and beat.pid == os.getpid() and beat.next_wake == due and beat.stopped is None
        assert watcher_check(GitBackend(repo.clone), datetime.now(UTC)).status == "ok"
    stopped = read_heartbeat(repo.clone / ".git" / HEARTBEAT_FILE)
    assert stopped is not None and stopped.stopped is not None


def test_results_are_the_callers_own(repo: Repo, key: str) -> None:
    with serve_api(repo, key, tick_every=0.5) as server, server.client() as alice, server.client(OTHER_KEY) as bob:
        sid = one_time(server, alice, execute_at="2020-01-01T00:00:00Z")["id"]
        deadline = time.monotonic() + 20
        while alice.get(f"/results/{sid}").status_code == 404:
            assert time.monotonic() < deadline
            time.sleep(0.2)
        assert bob.get("/results").json() == []
        assert bob.get(f"/results/{sid}").status_code == 403
        assert bob.get(f"/results/{sid}/history").status_code == 403
        assert alice.get(f"/results/{MISSING_ID}").json() == {"detail": "Result not found"}
        assert alice.get(f"/results/{MISSING_ID}/history").status_code == 404
        assert alice.get("/results", params={"schedule_id": "nope"}).status_code == 422
        assert alice.get("/results", params={"limit": 1, "offset": 1}).json() == []


def test_history_of_an_undelivered_schedule_is_empty(api: ApiServer) -> None:
    with api.client() as client:
        sid = recurring(api, client)["id"]
        assert client.get(f"/results/{sid}/history").json() == []
        assert client.get(f"/results/{sid}").status_code == 404


def test_a_listing_counts_the_callers_files_that_do_not_open_in_a_header(api: ApiServer) -> None:
    with api.client() as client:
        kept = one_time(api, client)
        store = api.state.store
        mine = store.tenant(LETTA_KEY)
        damaged = {
            f"{ONE_TIME}/2031-05-04/09/{mine}/{MISSING_ID}.json.enc": os.urandom(200),
            f"{RECURRING}/{mine}/{MISSING_ID}.json.enc": store.codec.encrypt(b"{}" * 40)[:-9],
            f"{RESULTS}/{mine}/{MISSING_ID}/20310504T090000000000Z-0a0b0c0d.json.enc": os.urandom(90),
        }
        store.transact("tests: files nobody can open", lambda tx: [tx.put(p, b) for p, b in damaged.items()])

        for path in ("/schedules/one-time", "/schedules/recurring", "/results"):
            answer = client.get(path)
            assert answer.status_code == 200 and answer.headers.get(UNREADABLE_HEADER) == "1", path
        assert [s["id"] for s in client.get("/schedules/one-time").json()] == [kept["id"]]  # the rest is shown
    with api.client(OTHER_KEY) as other:  # files of another Letta key are not this caller's to count
        assert UNREADABLE_HEADER not in other.get("/schedules/one-time").headers


# -- limits -------------------------------------------------------------------------------------------


def test_rate_limit_is_per_key_with_retry_after(repo: Repo, key: str) -> None:
    options = ApiOptions(rate_per_minute=6, burst=3)
    with serve_api(repo, key, options=options) as server, server.client() as alice, server.client(OTHER_KEY) as bob:
        codes = [alice.get("/schedules/one-time").status_code for _ in range(4)]
        assert codes == [200, 200, 200, 429]
        limited = alice.get("/schedules/one-time")
        assert limited.status_code == 429
        assert 1 <= int(limited.headers["Retry-After"]) <= 10
        assert "too many requests" in limited.json()["detail"]
        assert bob.get("/schedules/one-time").status_code == 200


def test_oversized_bodies_are_413_by_header_and_by_stream(api: ApiServer) -> None:
    big = b'{"agent_id": "' + AGENT_OK.encode() + b'", "message": "' + b"x" * (300 * 1024) + b'"}'
    with api.client() as client:
        declared = client.post("/schedules/one-time", content=big, headers={"Content-Type": "application/json"})
        assert declared.status_code == 413
        assert "larger than 262144 bytes" in declared.json()["detail"]

        def chunks() -> Iterator[bytes]:
            for start in range(0, len(big), 16 * 1024):
                yield big[start : start + 16 * 1024]

        streamed = client.post(
            "/v1/agents/" + AGENT_OK + "/schedule", content=chunks(), headers={"Content-Type": "application/json"}
        )
        assert streamed.status_code == 413
        assert client.get("/schedules/one-time").json() == []


# -- explain, health, docs, page ----------------------------------------------------------------------


def test_explain_previews_without_a_key(repo: Repo, key: str) -> None:
    with serve_api(repo, key, clock=lambda: FIXED_NOW) as server, server.client(key=None) as anyone:
        at = anyone.get("/explain", params={"at": "tomorrow at 9am", "tz": "Europe/Berlin"}).json()
        assert at == {
            "kind": "one-time",
            "execute_at": "2026-03-11T08:00:00+00:00",
            "local": "2026-03-11T09:00:00+01:00",
            "timezone": "Europe/Berlin",
            "past": False,
            "warnings": [],
        }
        past = anyone.get("/explain", params={"at": "yesterday at 9am", "tz": "Europe/Berlin"}).json()
        assert (past["execute_at"], past["past"]) == ("2026-03-09T08:00:00+00:00", True)
        every = anyone.get("/explain", params={"every": "every weekday at 10am", "count": 2}).json()
        assert every["cron"] == "0 10 * * 1-5"
        assert every["next"] == ["2026-03-11T10:00:00+00:00", "2026-03-12T10:00:00+00:00"]
        assert every["description"]
        for params, field in [
            ({}, "at"),
            ({"at": "x", "every": "y"}, "at"),
            ({"at": "when pigs fly"}, "at"),
            ({"every": "every blue moon"}, "every"),
            ({"at": "tomorrow", "tz": "Nowhere/Land"}, "tz"),
        ]:
            response = anyone.get("/explain", params=params)
            assert response.status_code == 422, params
            assert response.json()["detail"][0]["loc"] == ["query", field]


def test_health_and_docs(api: ApiServer) -> None:
    with api.client(key=None) as anyone:
        assert anyone.get("/health").json() == {"status": "ok", "version": "0.1.0", "ticker": None}
        assert anyone.get("/docs").status_code == 200
        spec = anyone.get("/openapi.json").json()
        assert {
            "/schedules/one-time",
            "/schedules/recurring/{schedule_id}/pause",
            "/v1/agents/{agent_id}/schedule",
        } <= set(spec["paths"])
        assert spec["components"]["securitySchemes"]["LettaApiKey"] == {
            "type": "http",
            "scheme": "bearer",
            "description": "Your Letta API key, as for Letta itself: `Authorization: Bearer <key>`.",
        }


BROWSER_ACCEPT = "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,*/*;q=0.8"


def test_the_root_is_the_page_for_a_browser_and_json_for_anything_else(api: ApiServer) -> None:
    with api.client(key=None) as anyone:
        page = anyone.get("/", headers={"Accept": BROWSER_ACCEPT})
        dashboard = anyone.get("/dashboard")
        assert page.headers["content-type"].startswith("text/html")
        assert dashboard.headers["content-type"].startswith("text/html"), "the hosted service's page address"
        assert page.text == dashboard.text and '<script src="/static/app.js"' in page.text
        assert page.headers["Content-Security-Policy"] == dashboard.headers["Content-Security-Policy"]
        for accept in (None, "application/json", "*/*"):
            about = anyone.get("/", headers={} if accept is None else {"Accept": accept})
            assert about.status_code == 200
            assert about.headers["content-type"] == "application/json", accept
            assert "Accept" in about.headers["Vary"]
            shown = about.json()
            assert shown["service"] == "letta-switchboard"
            assert shown["documentation"] == f"{api.base_url}/docs"
            assert shown["dashboard"] == f"{api.base_url}/dashboard"
            assert anyone.get(shown["documentation"]).status_code == 200
            assert anyone.get(shown["openapi"]).json()["info"]["version"] == shown["version"]


def test_the_page_is_served_with_a_strict_policy(api: ApiServer) -> None:
    with api.client(key=None) as anyone:
        anyone.headers["Accept"] = BROWSER_ACCEPT
        page = anyone.get("/")
        assert page.status_code == 200
        assert page.headers["content-type"].startswith("text/html")
        assert "script-src 'self'" in page.headers["Content-Security-Policy"]
        assert '<script src="/static/app.js"' in page.text
        script = anyone.get("/static/app.js")
        assert script.headers["content-type"].startswith("text/javascript")
        code = "\n".join(line for line in script.text.splitlines() if not line.lstrip().startswith("//"))
        assert "localStorage" not in code
        assert "document.cookie" not in code
        assert anyone.get("/static/style.css").status_code == 200
        assert anyone.get("/static/../pyproject.toml").status_code == 404
        assert anyone.get("/static/%2e%2e/app.py").status_code == 404


# -- the one store ------------------------------------------------------------------------------------


def test_the_api_and_the_cli_share_one_store(api: ApiServer, key: str, tmp_path: object) -> None:
    laptop = api.repo.another_clone("laptop")
    env = {
        "SWITCHBOARD_ENCRYPTION_KEY": key,
        "LETTA_API_KEY": LETTA_KEY,
        "LETTA_BASE_URL": api.standin.base_url,
        "SWITCHBOARD_REPO": str(laptop),
        "XDG_CONFIG_HOME": str(laptop / ".config-x"),
        "HOME": str(laptop / ".home-x"),
    }
    with api.client() as client:
        made = one_time(api, client, execute_at="2030-05-01T09:00:00Z")
        listed = run_cli("onetime", "list", "--json", env=env)
        assert listed.returncode == 0, listed.stderr
        assert json.loads(listed.stdout) == [made]
        sent = run_cli(
            "send", "--agent-id", api.agent, "-m", "from the laptop", "--at", "2030-06-01T09:00:00Z",
            "--no-dispatch", "--json", env=env,
        )  # fmt: skip
        assert sent.returncode == 0, sent.stderr
        assert [s["id"] for s in client.get("/schedules/one-time").json()] == [
            made["id"],
            json.loads(sent.stdout)["id"],
        ]


def test_concurrent_writes_all_land(api: ApiServer) -> None:
    with api.client() as client, ThreadPoolExecutor(6) as pool:
        made = list(pool.map(lambda n: one_time(api, client, message=f"n{n}")["id"], range(12)))
        listed = {s["id"] for s in client.get("/schedules/one-time").json()}
    assert listed == set(made)
    assert sum(1 for line in api.repo.remote_log() if line.startswith("switchboard: add one-time")) == 12


def test_an_unreachable_repository_is_503_not_500(api: ApiServer) -> None:
    with api.client() as client:
        one_time(api, client)
        api.repo.remote.rename(api.repo.remote.with_name("moved.git"))
        try:
            response = client.post(
                "/schedules/one-time", json={"agent_id": AGENT_OK, "execute_at": "in 1 hour", "message": "m"}
            )
            listed = client.get("/schedules/one-time")
        finally:
            api.repo.remote.with_name("moved.git").rename(api.repo.remote)
    assert response.status_code == 503, response.text
    assert listed.status_code == 503
    assert "unavailable" in response.json()["detail"]


# -- switchboard serve ----------------------------------------------------------------------------------


def test_switchboard_serve_runs_the_api_and_the_ticker(repo: Repo, key: str, tmp_path: object) -> None:
    from switchboard.testing.letta import LettaStandIn

    port = free_port()
    with LettaStandIn(api_keys={LETTA_KEY}) as standin:
        agent = standin.add_agent()
        env = {
            "SWITCHBOARD_ENCRYPTION_KEY": key,
            "LETTA_BASE_URL": standin.base_url,
            "SWITCHBOARD_REPO": str(repo.clone),
            "XDG_CONFIG_HOME": str(repo.clone.parent / "cfg"),
            "HOME": str(repo.clone.parent / "home"),
            "PATH": "/usr/bin:/bin",
        }
        proc = subprocess.Popen(
            [sys.executable, "-m", "switchboard", "serve", "--port", str(port), "--tick-every", "1"],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            base = f"http://127.0.0.1:{port}"
            deadline = time.monotonic() + 30
            while True:
                try:
                    health = httpx.get(f"{base}/health", timeout=2).json()
                    break
                except httpx.TransportError:
                    assert proc.poll() is None, proc.communicate()[1]
                    assert time.monotonic() < deadline
                    time.sleep(0.2)
            assert health["ticker"]["every_s"] == 1.0
            headers = {"Authorization": f"Bearer {LETTA_KEY}"}
            body = {"agent_id": agent, "execute_at": "now", "message": "served-secret-text"}
            sid = httpx.post(f"{base}/schedules/one-time", json=body, headers=headers).json()["id"]
            while (latest := httpx.get(f"{base}/results/{sid}", headers=headers)).status_code == 404:
                assert time.monotonic() < deadline + 30
                time.sleep(0.3)
            assert latest.json()["run_id"] == standin.deliveries[0].run_id
        finally:
            proc.send_signal(signal.SIGINT)
            _, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    assert "web page at /, docs at /docs, a tick pass every 1s" in err
    assert LETTA_KEY not in err and key not in err
    assert "served-secret-text" not in err


def test_serve_without_a_key_is_one_error_line(repo: Repo, tmp_path: object) -> None:
    env = {"SWITCHBOARD_REPO": str(repo.clone), "XDG_CONFIG_HOME": str(repo.clone.parent / "cfg")}
    done = run_cli("serve", "--port", str(free_port()), env=env)
    assert done.returncode == 1
    assert done.stderr.startswith("Error: ")
    assert done.stderr.count("\n") == 1


def test_the_api_writes_through_the_github_api_too(key: str) -> None:
    from api_server import uvicorn_thread

    from switchboard.api import create_app
    from switchboard.backends.github import GitHubBackend, GitHubSession
    from switchboard.config import Settings
    from switchboard.crypto import codec_from_keys
    from switchboard.testing.github import GitHubStandIn
    from switchboard.testing.letta import LettaStandIn

    token = "ghp_Standin0Secret0Token0abcdef0123456789"
    with GitHubStandIn("octo/switchboard", token) as github, LettaStandIn(api_keys={LETTA_KEY}) as letta:
        agent = letta.add_agent()
        backend = GitHubBackend(
            GitHubSession(
                "octo/switchboard", token, base_url=github.base_url, seconds_between_writes=None, retries=0, timeout=5
            )
        )
        app = create_app(
            Settings(encryption_key=key, base_url=letta.base_url),
            store=indexed_store(backend, codec_from_keys(key)),
            tick_every=0.5,
            options=ApiOptions(rate_per_minute=0),
        )
        with (
            uvicorn_thread(app) as base,
            httpx.Client(base_url=base, headers={"Authorization": f"Bearer {LETTA_KEY}"}) as client,
        ):
            later = client.post(
                "/schedules/recurring", json={"agent_id": agent, "cron": "every monday", "message": "m"}
            )
            assert later.status_code == 201
            now = client.post("/schedules/one-time", json={"agent_id": agent, "message": "via GitHub"}).json()
            deadline = time.monotonic() + 20
            while (result := client.get(f"/results/{now['id']}")).status_code == 404:
                assert time.monotonic() < deadline
                time.sleep(0.2)
        assert result.json()["run_id"] == letta.deliveries[0].run_id
        files = github.files()
        assert any(path.startswith("data/schedules/recurring/") for path in files)
        assert any(path.startswith("data/results/") for path in files)
        assert all(b"via GitHub" not in content for content in files.values())
        last = github.commit_message()
        assert last.startswith("switchboard: tick") and "delivered 1" in last


def test_a_schedule_keeps_the_callers_key_and_the_servers_letta(api: ApiServer) -> None:
    with api.client(OTHER_KEY) as client:
        sid = one_time(api, client)["id"]
    store = api.state.store
    stored = store.load(store.locate(store.tenant(OTHER_KEY), str(sid)))
    assert (stored.api_key, stored.base_url) == (OTHER_KEY, api.standin.base_url)
    # ...and only encrypted: neither the key nor the text is in any file of the repository.
    for path in api.repo.remote_files():
        content = (api.repo.clone / path).read_bytes()
        assert OTHER_KEY.encode() not in content
        assert b"Reminder: stand up" not in content


def test_a_failing_tick_pass_is_logged_without_secrets_and_retried(
    repo: Repo, key: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level("INFO", logger="switchboard")
    with serve_api(repo, key, tick_every=0.3) as server, server.client() as client:
        moved = repo.remote.with_name("away.git")
        repo.remote.rename(moved)
        try:
            deadline = time.monotonic() + 20
            while server.state.ticker.failures == 0:
                assert time.monotonic() < deadline
                time.sleep(0.1)
        finally:
            moved.rename(repo.remote)
        sid = one_time(server, client, execute_at="2020-01-01T00:00:00Z", message="Secret plans")["id"]
        while client.get(f"/results/{sid}").status_code == 404:
            assert time.monotonic() < deadline + 20
            time.sleep(0.2)
        health = client.get("/health").json()["ticker"]
    assert health["failures"] >= 1
    assert health["last_error"] is None, "the pass after the failure went through"
    failures = [r for r in caplog.records if r.name == "switchboard.ticker" and r.levelname == "ERROR"]
    assert failures
    assert "retrying in 0.3s" in failures[0].getMessage()
    for record in caplog.records:
        text = record.getMessage()
        assert LETTA_KEY not in text and key not in text and "Secret plans" not in text
