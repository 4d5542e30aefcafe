"""The official ``letta-client`` SDK's ``client.agents.schedule.*`` against ``switchboard serve``, unchanged.

``letta-client`` has ``agents.schedule`` from 1.7.0 on (its schedule types are
the same through 1.12.1). The SDK is pointed at the API with ``base_url``;
nothing else about it is touched. ``sdk_round_trip.py`` makes every schedule
call three times over: with the release this project's venv has, with the
newest release on the package index and with the oldest the dev extra
allows, each of those two in a venv of its own (``scripts/letta_client_venv.py``;
the newest is refreshed daily; the test skips, saying why, when a venv
cannot be had).
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import subprocess
import sys
import time
import tomllib
from collections.abc import Iterator
from typing import Any

import pytest
from api_server import OTHER_KEY, ApiServer, serve_api
from conftest import LETTA_KEY, ROOT, Repo

letta_client = pytest.importorskip("letta_client", reason="letta-client (>=1.7) is not installed")

AT_MS = 1_893_456_000_000  # 2030-01-01T00:00:00Z
ROUND_TRIP = ROOT / "tests" / "sdk_round_trip.py"


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


def test_a_past_scheduled_at_is_the_sdks_bad_request(api: ApiServer) -> None:
    past = round(time.time() * 1000) - 1000
    with pytest.raises(letta_client.BadRequestError) as caught:
        sdk(api).agents.schedule.create(
            agent_id=api.agent, messages=[{"role": "user", "content": "Late"}], schedule={"scheduled_at": past}
        )
    assert caught.value.status_code == 400
    assert "in the past" in str(caught.value)
    assert sdk(api).agents.schedule.list(agent_id=api.agent).scheduled_messages == []


def run_round_trip(api: ApiServer, python: str) -> dict[str, Any]:
    """Run ``sdk_round_trip.py`` with ``python`` against the API; what its SDK saw."""
    env = {**os.environ, "LETTA_API_KEY": LETTA_KEY, "AGENT_ID": api.agent}
    proc = subprocess.run(
        [python, str(ROUND_TRIP), api.base_url], capture_output=True, text=True, env=env, timeout=120, check=False
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    seen: dict[str, Any] = json.loads(proc.stdout)
    return seen


def sdk_venv(release: str | None) -> tuple[str, str]:
    """The interpreter of a venv with one letta-client release (None: the newest) and its version.

    Skips, saying why, when there is none and none can be made (no package index).
    """
    spec = importlib.util.spec_from_file_location("letta_client_venv", ROOT / "scripts" / "letta_client_venv.py")
    assert spec is not None and spec.loader is not None
    harness = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(harness)
    try:
        python, version = harness.ensure_newest() if release is None else harness.ensure_release(release)
    except harness.SdkVenvError as exc:
        flag = "" if release is None else f" --release {release}"
        pytest.skip(f"no venv with letta-client {release or 'newest'}: {exc} "
                    f"(python3 scripts/letta_client_venv.py install{flag})")  # fmt: skip
    return str(python), str(version)


def oldest_allowed() -> str:
    """The lowest letta-client release the dev extra allows ("letta-client>=1.7,<2" gives 1.7.0)."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    [pin] = [p for p in project["optional-dependencies"]["dev"] if p.startswith("letta-client")]
    [bound] = re.findall(r">=\s*([0-9.]+)", pin)
    return ".".join([*bound.split("."), "0", "0"][:3])


def release(version: str) -> tuple[int, ...]:
    """A release as numbers, for comparing releases: "1.12.1" is (1, 12, 1)."""
    return tuple(int(part) for part in version.split(".")[:3] if part.isdigit())


@pytest.mark.parametrize("sdk_release", ["pinned", "newest", "oldest"])
def test_the_sdk_round_trip_with_the_pinned_the_newest_and_the_oldest_release(api: ApiServer, sdk_release: str) -> None:
    if sdk_release == "pinned":
        python, version = sys.executable, letta_client.__version__
    elif sdk_release == "newest":
        python, version = sdk_venv(None)
        assert release(version) >= release(letta_client.__version__)
    else:
        python, version = sdk_venv(oldest_allowed())
        assert release(version) <= release(letta_client.__version__)
    seen = run_round_trip(api, python)
    assert seen["version"] == version

    as_string, as_parts, recurring = (c["id"] for c in seen["created"])
    assert seen["created"][0]["next_scheduled_at"] == "2030-01-01T00:00:00+00:00"
    assert [m["id"] for m in seen["listed"]] == [as_string, as_parts, recurring]
    assert seen["has_next_page"] is False
    assert seen["pages"] == [[as_string], True, [as_parts, recurring]]
    [kept] = seen["retrieved"]["message"]["messages"]
    assert (kept["role"], kept["name"], kept["otid"], kept["sender_id"]) == ("user", "Ada", "otid-q1", "identity-9")
    assert [(p["type"], p["text"]) for p in kept["content"]] == [("text", "Quarterly review")]
    [parts] = seen["listed"][1]["message"]["messages"]
    assert (parts["role"], parts["content"][0]["text"], parts["otid"]) == ("system", "Two\nparts", None)
    assert seen["listed"][2]["schedule"] == {"cron_expression": "0 10 * * 1-5", "type": "recurring", "timezone": "UTC"}
    assert seen["past"] == {"error": "BadRequestError", "status": 400}
    assert seen["deleted"] is True
    assert seen["after_delete"] == {"error": "NotFoundError", "status": 404}

    # The message due in a moment reaches Letta with its otid and name, and its result says so.
    deadline = time.monotonic() + 20
    with api.client() as client:
        while (result := client.get(f"/results/{seen['soon']}")).status_code == 404:
            assert time.monotonic() < deadline, "the built-in ticker did not deliver within 20 s"
            time.sleep(0.2)
        assert client.get(f"/schedules/one-time/{as_string}").json()["message"] == "Quarterly review"
    [delivery] = api.standin.deliveries
    assert (delivery.text, delivery.otid, delivery.name, delivery.run_id) == (
        "Due in a moment", "otid-soon", "Bo", result.json()["run_id"],
    )  # fmt: skip
    assert result.json()["status"] == "success"


def test_a_message_scheduled_with_the_sdk_is_delivered(api: ApiServer) -> None:
    soon = round(time.time() * 1000) + 1000
    made = sdk(api).agents.schedule.create(
        agent_id=api.agent, messages=[{"role": "user", "content": "Now please"}], schedule={"scheduled_at": soon}
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
