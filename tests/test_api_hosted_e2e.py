"""The hosted service's own end-to-end expectations, replayed against a real ``switchboard serve``.

The hosted service shipped an e2e suite (authentication, recurring and
one-time CRUD, results, execution, isolation between keys) that a client of it
can be expected to rely on. Each test here asks what one of those did, in our
own words, of ``switchboard serve --tick-every 1`` running as its own process
on a real git clone, with the Letta stand-in behind it: a hosted client must
not notice it changed its base URL.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from api_server import OTHER_KEY, free_port
from conftest import LETTA_KEY, ROOT, Repo, clone_of, make_remote

from switchboard.crypto import generate_key
from switchboard.testing.letta import LettaStandIn

#: The hosted suite waited up to 90 s for the minutely cron; the built-in ticker runs every second.
EXECUTION_WAIT = 30.0


@dataclass
class Served:
    """``switchboard serve`` as a hosted client meets it."""

    base_url: str
    agent: str
    standin: LettaStandIn

    def call(self, method: str, path: str, key: str | None = LETTA_KEY, **kwargs: Any) -> httpx.Response:
        """One request, with ``Authorization: Bearer <key>`` unless key is None."""
        headers = {"Authorization": f"Bearer {key}"} if key is not None else {}
        return httpx.request(method, self.base_url + path, headers=headers, timeout=30, **kwargs)

    def wait_for_result(self, schedule_id: str) -> dict[str, Any]:
        """Poll ``GET /results/{id}`` as the hosted suite did, until the result is there."""
        deadline = time.monotonic() + EXECUTION_WAIT
        while (response := self.call("GET", f"/results/{schedule_id}")).status_code != 200:
            assert response.status_code == 404, response.text
            assert time.monotonic() < deadline, f"not executed within {EXECUTION_WAIT:g} s"
            time.sleep(0.5)
        result: dict[str, Any] = response.json()
        return result


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    """``python -m switchboard serve --tick-every 1`` on a fresh clone, for the whole module."""
    top: Path = tmp_path_factory.mktemp("hosted-e2e")
    remote = make_remote(top)
    repo = Repo(remote, clone_of(remote, top / "clone"))
    port = free_port()
    with LettaStandIn(api_keys={LETTA_KEY, OTHER_KEY}) as standin:
        env = {
            "SWITCHBOARD_ENCRYPTION_KEY": generate_key(),
            "LETTA_BASE_URL": standin.base_url,
            "SWITCHBOARD_REPO": str(repo.clone),
            "XDG_CONFIG_HOME": str(top / "cfg"),
            "HOME": str(top / "home"),
            "PATH": "/usr/bin:/bin",
            "SWITCHBOARD_API_RATE_PER_MINUTE": "0",
        }
        proc = subprocess.Popen(
            [sys.executable, "-m", "switchboard", "serve", "--port", str(port), "--tick-every", "1"],
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        base = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 30
            while True:
                try:
                    httpx.get(f"{base}/health", timeout=2)
                    break
                except httpx.TransportError:
                    assert proc.poll() is None, proc.communicate()[1]
                    assert time.monotonic() < deadline, "switchboard serve did not start"
                    time.sleep(0.2)
            yield Served(base, standin.add_agent(), standin)
        finally:
            proc.send_signal(signal.SIGINT)
            proc.communicate(timeout=30)


def recurring(served: Served, cron: str, message: str) -> dict[str, Any]:
    """Create a recurring schedule with the hosted body; 201 and the schedule."""
    body = {"agent_id": served.agent, "cron": cron, "message": message, "role": "user"}
    response = served.call("POST", "/schedules/recurring", json=body)
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


def one_time(served: Served, execute_at: str, message: str) -> dict[str, Any]:
    """Create a one-time schedule with the hosted body; 201 and the schedule."""
    body = {"agent_id": served.agent, "execute_at": execute_at, "message": message, "role": "user"}
    response = served.call("POST", "/schedules/one-time", json=body)
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


# -- authentication -----------------------------------------------------------------------------


def test_a_key_letta_refuses_is_401(served: Served) -> None:
    assert served.call("GET", "/schedules/recurring", key="invalid-fake-key-123").status_code == 401


def test_no_authorization_header_is_403(served: Served) -> None:
    response = served.call("GET", "/schedules/recurring", key=None)
    assert (response.status_code, response.json()) == (403, {"detail": "Not authenticated"})


def test_the_key_is_never_in_an_answer(served: Served) -> None:
    made = recurring(served, "*/5 * * * *", "Test message")
    assert "api_key" not in made
    assert LETTA_KEY not in served.call("GET", "/schedules/recurring").text
    served.call("DELETE", f"/schedules/recurring/{made['id']}")


# -- recurring schedules ------------------------------------------------------------------------


def test_recurring_create_list_get_delete(served: Served) -> None:
    made = recurring(served, "0 9 * * *", "Daily morning message")
    assert (made["cron"], made["message"]) == ("0 9 * * *", "Daily morning message")
    listed = served.call("GET", "/schedules/recurring")
    assert listed.status_code == 200 and isinstance(listed.json(), list)
    assert [s["cron"] for s in listed.json() if s["id"] == made["id"]] == ["0 9 * * *"]
    got = served.call("GET", f"/schedules/recurring/{made['id']}")
    assert (got.status_code, got.json()["id"], got.json()["cron"]) == (200, made["id"], "0 9 * * *")
    assert served.call("DELETE", f"/schedules/recurring/{made['id']}").status_code == 200
    assert served.call("GET", f"/schedules/recurring/{made['id']}").status_code == 404


def test_deleting_what_does_not_exist_is_404(served: Served) -> None:
    assert served.call("DELETE", "/schedules/recurring/fake-uuid-123").status_code == 404


# -- one-time schedules -------------------------------------------------------------------------


def test_one_time_create_echoes_execute_at_as_sent(served: Served) -> None:
    future = datetime.now(UTC) + timedelta(hours=1)
    made = one_time(served, future.isoformat(), "Future message")
    assert made["execute_at"] == future.isoformat(), "the hosted suite compares the strings"
    served.call("DELETE", f"/schedules/one-time/{made['id']}")


def test_one_time_list_and_delete(served: Served) -> None:
    made = one_time(served, (datetime.now(UTC) + timedelta(hours=2)).isoformat(), "To be deleted")
    assert made["id"] in {s["id"] for s in served.call("GET", "/schedules/one-time").json()}
    assert served.call("DELETE", f"/schedules/one-time/{made['id']}").status_code == 200
    assert served.call("GET", f"/schedules/one-time/{made['id']}").status_code == 404


def test_a_json_body_without_content_type_is_read_as_json(served: Served) -> None:
    # Clients of the hosted service that send a bare body, as it accepted them.
    future = (datetime.now(UTC) + timedelta(hours=3)).isoformat()
    body = json.dumps({"agent_id": served.agent, "execute_at": future, "message": "No header", "role": "user"})
    request = httpx.Request("POST", served.base_url + "/schedules/one-time", content=body.encode())
    assert "content-type" not in request.headers  # httpx adds none for raw bytes
    request.headers["Authorization"] = f"Bearer {LETTA_KEY}"
    with httpx.Client(timeout=30) as client:
        response = client.send(request)
    assert response.status_code == 201, response.text
    assert response.json()["message"] == "No header"
    assert served.call("DELETE", f"/schedules/one-time/{response.json()['id']}").status_code == 200
    # A body that is not JSON is still a 422 naming the problem, with or without the header.
    bad = httpx.post(
        served.base_url + "/schedules/recurring",
        content=b"agent_id=x",
        headers={"Authorization": f"Bearer {LETTA_KEY}"},
        timeout=30,
    )
    assert bad.status_code == 422


# -- results ------------------------------------------------------------------------------------


def test_results_list_and_an_unknown_result(served: Served) -> None:
    listed = served.call("GET", "/results")
    assert listed.status_code == 200 and isinstance(listed.json(), list)
    assert served.call("GET", "/results/fake-uuid-123").status_code == 404


# -- execution ----------------------------------------------------------------------------------


def test_a_past_one_time_is_executed_once_then_gone_and_its_result_stays(served: Served) -> None:
    past = (datetime.now(UTC) - timedelta(seconds=30)).isoformat()
    made = one_time(served, past, "Should execute immediately")
    result = served.wait_for_result(made["id"])
    assert (result["schedule_id"], result["schedule_type"], result["status"]) == (made["id"], "one-time", "success")
    assert result["run_id"]
    assert served.call("GET", f"/schedules/one-time/{made['id']}").status_code == 404
    time.sleep(2.5)  # two more ticker passes: nothing is sent again
    again = served.call("GET", f"/results/{made['id']}")
    assert (again.status_code, again.json()["run_id"]) == (200, result["run_id"])
    assert [d.run_id for d in served.standin.deliveries if d.text == "Should execute immediately"] == [result["run_id"]]


# -- isolation between keys ---------------------------------------------------------------------


def test_two_keys_never_see_each_others_schedules(served: Served) -> None:
    mine = recurring(served, "*/10 * * * *", "Test")
    first = {s["id"] for s in served.call("GET", "/schedules/recurring").json()}
    second = {s["id"] for s in served.call("GET", "/schedules/recurring", key=OTHER_KEY).json()}
    assert mine["id"] in first and first.isdisjoint(second)
    served.call("DELETE", f"/schedules/recurring/{mine['id']}")


# -- the pages ----------------------------------------------------------------------------------


def test_the_landing_json_and_the_dashboard(served: Served) -> None:
    about = served.call("GET", "/", key=None)
    assert about.headers["content-type"] == "application/json"
    assert {"service", "description", "version", "documentation"} <= set(about.json())
    page = served.call("GET", "/dashboard", key=None)
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
