"""Letta Cloud's schedule API shape (``/v1/agents/{agent_id}/schedule``), over plain HTTP."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from api_server import OTHER_KEY, ApiServer, serve_api
from conftest import Repo

FIXED_NOW = datetime(2026, 3, 10, 15, 20, tzinfo=UTC)
AT_MS = 1_893_456_000_000  # 2030-01-01T00:00:00Z
MISSING_ID = "0b7c6a7e-3f1d-4d0e-9a55-2b1c3d4e5f60"


@pytest.fixture
def api(repo: Repo, key: str) -> Iterator[ApiServer]:
    """The API at a fixed instant."""
    with serve_api(repo, key, clock=lambda: FIXED_NOW) as server:
        yield server


def message(text: str, role: str = "user") -> dict[str, object]:
    """One MessageCreate with text content parts, as the SDK sends it."""
    return {"role": role, "content": [{"type": "text", "text": text}]}


def test_one_time_create_list_retrieve_delete(api: ApiServer) -> None:
    path = f"/v1/agents/{api.agent}/schedule"
    with api.client() as client:
        made = client.post(
            path, json={"messages": [message("Ping")], "schedule": {"type": "one-time", "scheduled_at": AT_MS}}
        )
        assert made.status_code == 200, made.text
        assert made.json() == {"id": made.json()["id"], "next_scheduled_at": "2030-01-01T00:00:00+00:00"}
        sid = made.json()["id"]
        expected = {
            "id": sid,
            "agent_id": api.agent,
            "message": {"messages": [{"role": "user", "content": [{"type": "text", "text": "Ping"}]}]},
            "next_scheduled_time": "2030-01-01T00:00:00+00:00",
            "schedule": {"type": "one-time", "scheduled_at": AT_MS},
        }
        assert client.get(f"{path}/{sid}").json() == expected
        assert client.get(path).json() == {"has_next_page": False, "scheduled_messages": [expected]}
        # The same schedule through the hosted-service endpoints.
        hosted = client.get(f"/schedules/one-time/{sid}").json()
        assert (hosted["execute_at"], hosted["message"]) == ("2030-01-01T00:00:00+00:00", "Ping")
        assert client.delete(f"{path}/{sid}").json() == {"success": True}
        assert client.get(f"{path}/{sid}").status_code == 404
        assert client.get(path).json() == {"has_next_page": False, "scheduled_messages": []}


def test_recurring_and_a_plain_string_content(api: ApiServer) -> None:
    path = f"/v1/agents/{api.agent}/schedule"
    with api.client() as client:
        body = {
            "messages": [{"role": "system", "content": "Daily digest"}],
            "schedule": {"type": "recurring", "cron_expression": "0 9 * * *"},
        }
        made = client.post(path, json=body).json()
        assert made["next_scheduled_at"] == "2026-03-11T09:00:00+00:00"
        got = client.get(f"{path}/{made['id']}").json()
        assert got["schedule"] == {"type": "recurring", "cron_expression": "0 9 * * *", "timezone": "UTC"}
        assert got["message"]["messages"] == [{"role": "system", "content": [{"type": "text", "text": "Daily digest"}]}]
        assert client.get(f"/schedules/recurring/{made['id']}").json()["role"] == "system"
        # switchboard's extensions: natural language and a zone.
        nl = {"type": "recurring", "cron_expression": "every weekday at 10am", "timezone": "Europe/Berlin"}
        second = client.post(path, json={"messages": [message("Standup")], "schedule": nl}).json()
        assert second["next_scheduled_at"] == "2026-03-11T09:00:00+00:00"


def test_a_one_time_without_type_is_one_time(api: ApiServer) -> None:
    with api.client() as client:
        made = client.post(
            f"/v1/agents/{api.agent}/schedule", json={"messages": [message("x")], "schedule": {"scheduled_at": AT_MS}}
        )
        assert made.status_code == 200
        assert (
            client.get(f"/v1/agents/{api.agent}/schedule/{made.json()['id']}").json()["schedule"]["type"] == "one-time"
        )


def test_a_conversation_id_is_where_each_fire_goes(api: ApiServer) -> None:
    with api.client() as client:
        every_day = {"type": "recurring", "cron_expression": "0 9 * * *"}
        body = {"messages": [message("into a thread")], "schedule": every_day, "conversation_id": "new"}
        made = client.post(f"/v1/agents/{api.agent}/schedule", json=body)
        assert made.status_code == 200, made.text
        [stored] = client.get("/schedules/recurring").json()
        assert (stored["id"], stored["conversation"]) == (made.json()["id"], "new")
        body["conversation_id"] = "not one/id"
        assert client.post(f"/v1/agents/{api.agent}/schedule", json=body).status_code == 422


def test_list_pages_with_limit_and_after_per_agent(repo: Repo, key: str) -> None:
    with serve_api(repo, key) as api:  # the real clock: the list is in creation order
        _pages(api)


def _pages(api: ApiServer) -> None:
    path = f"/v1/agents/{api.agent}/schedule"
    other_agent = api.standin.add_agent()
    with api.client() as client:
        ids = []
        for n in range(5):
            body = {"messages": [message(f"n{n}")], "schedule": {"type": "one-time", "scheduled_at": AT_MS + n}}
            ids.append(client.post(path, json=body).json()["id"])
            time.sleep(0.01)  # distinct created_at, so the order is the creation order
        client.post(
            f"/v1/agents/{other_agent}/schedule",
            json={"messages": [message("elsewhere")], "schedule": {"scheduled_at": AT_MS}},
        )
        first = client.get(path, params={"limit": "2"}).json()
        assert first["has_next_page"] is True
        assert [m["id"] for m in first["scheduled_messages"]] == ids[:2]
        rest = client.get(path, params={"limit": "10", "after": ids[1]}).json()
        assert rest["has_next_page"] is False
        assert [m["id"] for m in rest["scheduled_messages"]] == ids[2:]
        assert client.get(path, params={"after": MISSING_ID}).status_code == 422
        assert client.get(path, params={"limit": "lots"}).status_code == 422
        # Another agent's message is not this agent's.
        assert len(client.get(f"/v1/agents/{other_agent}/schedule").json()["scheduled_messages"]) == 1
        assert client.get(f"/v1/agents/{other_agent}/schedule/{ids[0]}").status_code == 404
        assert client.delete(f"/v1/agents/{other_agent}/schedule/{ids[0]}").status_code == 404
        assert client.get(f"{path}/{ids[0]}").status_code == 200


@pytest.mark.parametrize(
    ("body", "where"),
    [
        ({"messages": [], "schedule": {"scheduled_at": AT_MS}}, ["body", "messages"]),
        ({"messages": [message("a"), message("b")], "schedule": {"scheduled_at": AT_MS}}, ["body", "messages"]),
        ({"messages": [message("   ")], "schedule": {"scheduled_at": AT_MS}}, ["body", "messages"]),
        (
            {
                "messages": [
                    {"role": "user", "content": [{"type": "image", "source": {"data": "x", "media_type": "y"}}]}
                ],
                "schedule": {"scheduled_at": AT_MS},
            },
            ["body", "messages"],
        ),
        (
            {"messages": [message("a")], "schedule": {"type": "recurring", "cron_expression": "nope"}},
            ["body", "schedule", "cron_expression"],
        ),
        (
            {"messages": [message("a")], "schedule": {"scheduled_at": AT_MS}, "callback_url": "http://x"},
            ["body", "callback_url"],
        ),
        ({"messages": [message("a")], "schedule": {"scheduled_at": AT_MS}, "max_steps": 3}, ["body", "max_steps"]),
    ],
)
def test_what_switchboard_cannot_honour_is_422(api: ApiServer, body: dict[str, object], where: list[str]) -> None:
    with api.client() as client:
        response = client.post(f"/v1/agents/{api.agent}/schedule", json=body)
    assert response.status_code == 422, response.text
    assert response.json()["detail"][0]["loc"][: len(where)] == where


@pytest.mark.parametrize("scheduled_at", [1e30, -1e30, "soon"])
def test_scheduled_at_out_of_range_is_422(api: ApiServer, scheduled_at: object) -> None:
    with api.client() as client:
        response = client.post(
            f"/v1/agents/{api.agent}/schedule",
            json={"messages": [message("a")], "schedule": {"type": "one-time", "scheduled_at": scheduled_at}},
        )
    assert response.status_code == 422


@pytest.mark.parametrize("agent", ["agent%20one", "agent-1", "3f2b9c1e-8d4a-4b6e-9f0a-1c2d3e4f5a6b"])
def test_bad_agent_ids_in_the_path_are_422(api: ApiServer, agent: str) -> None:
    with api.client() as client:
        response = client.get(f"/v1/agents/{agent}/schedule")
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["path", "agent_id"]
    assert "is not a Letta agent id" in response.json()["detail"][0]["msg"]


def test_another_tenants_scheduled_message_is_403(api: ApiServer) -> None:
    path = f"/v1/agents/{api.agent}/schedule"
    with api.client() as alice, api.client(OTHER_KEY) as bob:
        sid = alice.post(path, json={"messages": [message("mine")], "schedule": {"scheduled_at": AT_MS}}).json()["id"]
        assert bob.get(f"{path}/{sid}").status_code == 403
        assert bob.delete(f"{path}/{sid}").status_code == 403
        assert bob.get(path).json() == {"has_next_page": False, "scheduled_messages": []}
        assert alice.get(f"{path}/{sid}").status_code == 200


def test_a_past_scheduled_at_is_400_as_letta_cloud_answers(api: ApiServer) -> None:
    path = f"/v1/agents/{api.agent}/schedule"
    now_ms = round(FIXED_NOW.timestamp() * 1000)
    with api.client() as client:
        for past in (now_ms - 1, now_ms - 86_400_000, 0):
            response = client.post(path, json={"messages": [message("late")], "schedule": {"scheduled_at": past}})
            assert response.status_code == 400, response.text
            detail = response.json()["detail"]
            assert detail.startswith(f"scheduled_at {past} (")
            assert "is in the past (now is 2026-03-10T15:20:00+00:00)" in detail
            assert "late" not in detail
        assert client.get(path).json()["scheduled_messages"] == [], "nothing was stored"
        exactly_now = client.post(path, json={"messages": [message("now")], "schedule": {"scheduled_at": now_ms}})
        assert exactly_now.status_code == 200, "now itself is not the past"
    # The hosted-service endpoint keeps the hosted service's answer: a past time is sent at once.
    with api.client() as client:
        hosted = client.post(
            "/schedules/one-time", json={"agent_id": api.agent, "message": "x", "execute_at": "2020-01-01T00:00:00Z"}
        )
    assert hosted.status_code == 201


def test_content_as_a_string_or_parts_and_the_fields_letta_takes_are_kept(api: ApiServer) -> None:
    path = f"/v1/agents/{api.agent}/schedule"
    fields = {"name": "Ada", "otid": "otid-client-7", "sender_id": "identity-42"}
    sent = [
        {"role": "user", "content": "As a string", **fields},
        {"role": "user", "content": [{"type": "text", "text": "Two", "signature": "sig"}, {"text": "parts"}]},
    ]
    with api.client() as client:
        ids = [
            client.post(path, json={"messages": [m], "schedule": {"scheduled_at": AT_MS}}).json()["id"] for m in sent
        ]
        [first], [second] = (client.get(f"{path}/{sid}").json()["message"]["messages"] for sid in ids)
        listed = {m["id"]: m["message"]["messages"] for m in client.get(path).json()["scheduled_messages"]}
    assert first == {"role": "user", "content": [{"type": "text", "text": "As a string"}], **fields}
    assert second == {"role": "user", "content": [{"type": "text", "text": "Two\nparts"}]}, "no fields, none shown"
    assert listed == {ids[0]: [first], ids[1]: [second]}
    with api.client() as client:
        too_long = {"role": "user", "content": "x", "otid": "o" * 257}
        response = client.post(path, json={"messages": [too_long], "schedule": {"scheduled_at": AT_MS}})
        assert response.status_code == 422
        assert response.json()["detail"][0]["loc"] == ["body", "messages", 0, "otid"]


def test_a_message_made_here_is_delivered_with_its_name_otid_and_sender_id(repo: Repo, key: str) -> None:
    with serve_api(repo, key, tick_every=0.5) as server, server.client() as client:
        soon = round(time.time() * 1000) + 1500
        sent = {"role": "system", "content": "Due soon", "name": "Ada", "otid": "otid-abc", "sender_id": "identity-1"}
        sid = client.post(
            f"/v1/agents/{server.agent}/schedule", json={"messages": [sent], "schedule": {"scheduled_at": soon}}
        ).json()["id"]
        deadline = time.monotonic() + 20
        while (result := client.get(f"/results/{sid}")).status_code == 404:
            assert time.monotonic() < deadline
            time.sleep(0.2)
        [delivery] = server.standin.deliveries
        assert (delivery.role, delivery.text, delivery.run_id) == ("system", "Due soon", result.json()["run_id"])
        assert (delivery.otid, delivery.name, delivery.sender_id) == ("otid-abc", "Ada", "identity-1")
        assert delivery.received_at.timestamp() * 1000 >= soon, "not before its time"
