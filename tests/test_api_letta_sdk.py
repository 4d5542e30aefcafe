"""The official ``letta-client`` SDK's ``client.agents.schedule.*`` against ``switchboard serve``, unchanged.

``letta-client`` has ``agents.schedule`` from 1.7.0 on (its schedule types are
the same through 1.12.1). The SDK is pointed at the API with ``base_url``;
nothing else about it is touched.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
from api_server import OTHER_KEY, ApiServer, serve_api
from conftest import LETTA_KEY, Repo

letta_client = pytest.importorskip("letta_client", reason="letta-client (>=1.7) is not installed")

AT_MS = 1_893_456_000_000  # 2030-01-01T00:00:00Z


@pytest.fixture
def api(repo: Repo, key: str) -> Iterator[ApiServer]:
    """The API with the built-in ticker."""
    with serve_api(repo, key, tick_every=0.5) as server:
        yield server


def sdk(api: ApiServer, key: str = LETTA_KEY) -> letta_client.Letta:
    """The SDK as a user would make it, pointed here."""
    return letta_client.Letta(api_key=key, base_url=api.base_url, max_retries=0, timeout=30)


def test_the_sdk_round_trip(api: ApiServer) -> None:
    client = sdk(api)
    created = client.agents.schedule.create(
        agent_id=api.agent,
        messages=[{"role": "user", "content": [{"type": "text", "text": "Quarterly review"}]}],
        schedule={"type": "one-time", "scheduled_at": AT_MS},
    )
    assert created.next_scheduled_at == "2030-01-01T00:00:00+00:00"
    recurring = client.agents.schedule.create(
        agent_id=api.agent,
        messages=[{"role": "user", "content": "Standup"}],
        schedule={"type": "recurring", "cron_expression": "0 10 * * 1-5"},
    )

    listed = client.agents.schedule.list(agent_id=api.agent)
    assert listed.has_next_page is False
    assert [m.id for m in listed.scheduled_messages] == [created.id, recurring.id]
    first = listed.scheduled_messages[0]
    assert first.agent_id == api.agent
    assert first.message.messages[0].role == "user"
    assert first.message.messages[0].content[0].text == "Quarterly review"
    assert first.schedule.scheduled_at == AT_MS
    assert listed.scheduled_messages[1].schedule.cron_expression == "0 10 * * 1-5"

    page = client.agents.schedule.list(agent_id=api.agent, limit="1")
    assert page.has_next_page is True
    after = client.agents.schedule.list(agent_id=api.agent, limit="1", after=page.scheduled_messages[0].id)
    assert [m.id for m in after.scheduled_messages] == [recurring.id]

    got = client.agents.schedule.retrieve(created.id, agent_id=api.agent)
    assert got.id == created.id
    assert got.next_scheduled_time == "2030-01-01T00:00:00+00:00"
    assert got.schedule.type == "one-time"

    deleted = client.agents.schedule.delete(created.id, agent_id=api.agent)
    assert deleted.success is True
    with pytest.raises(letta_client.NotFoundError):
        client.agents.schedule.retrieve(created.id, agent_id=api.agent)
    assert [m.id for m in client.agents.schedule.list(agent_id=api.agent).scheduled_messages] == [recurring.id]


def test_the_sdk_sees_switchboards_answers_as_letta_errors(api: ApiServer) -> None:
    mine = sdk(api).agents.schedule.create(
        agent_id=api.agent, messages=[{"role": "user", "content": "x"}], schedule={"scheduled_at": AT_MS}
    )
    with pytest.raises(letta_client.PermissionDeniedError):
        sdk(api, OTHER_KEY).agents.schedule.retrieve(mine.id, agent_id=api.agent)
    with pytest.raises(letta_client.AuthenticationError):
        sdk(api, "sk-let-nobody").agents.schedule.list(agent_id=api.agent)
    with pytest.raises(letta_client.UnprocessableEntityError):
        sdk(api).agents.schedule.create(
            agent_id=api.agent,
            messages=[{"role": "user", "content": "x"}],
            schedule={"type": "recurring", "cron_expression": "every blue moon"},
        )
    with pytest.raises(letta_client.NotFoundError):
        sdk(api).agents.schedule.delete("0b7c6a7e-3f1d-4d0e-9a55-2b1c3d4e5f60", agent_id=api.agent)


def test_a_message_scheduled_with_the_sdk_is_delivered(api: ApiServer) -> None:
    past = round(time.time() * 1000) - 1000
    made = sdk(api).agents.schedule.create(
        agent_id=api.agent, messages=[{"role": "user", "content": "Now please"}], schedule={"scheduled_at": past}
    )
    deadline = time.monotonic() + 20
    with api.client() as client:
        while (result := client.get(f"/results/{made.id}")).status_code == 404:
            assert time.monotonic() < deadline
            time.sleep(0.2)
    [delivery] = api.standin.deliveries
    assert delivery.text == "Now please"
    assert result.json()["run_id"] == delivery.run_id
    with pytest.raises(letta_client.NotFoundError):
        sdk(api).agents.schedule.retrieve(made.id, agent_id=api.agent)
