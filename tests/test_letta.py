"""The Letta client against the Letta stand-in: real HTTP on 127.0.0.1, no mocks.

``tests/data/letta_schemas.json`` holds the pieces of Letta 0.16.8's OpenAPI
document these tests check shapes against (Run, LettaAsyncRequest,
MessageCreate, HTTPValidationError, …). They were taken from
``shared/letta/letta-openapi-0.16.8.json`` (``components.schemas``), the document
a real 0.16.8 server serves, keeping only field names, required lists and enums,
so the tests run without ``shared/``.
"""

from __future__ import annotations

import http.client
import json
import random
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from switchboard.exceptions import ConfigError, LettaError, LettaPermanentError, LettaTransientError
from switchboard.letta import LettaClient, Run, classify, parse_retry_after, send_with_retry, wait_for_run
from switchboard.testing.letta import AGENT_ID_PATTERN, DROP, LettaStandIn, RequestRecord
from switchboard.testing.letta import main as standin_main

KEY = "sk-let-test-4f1c9a0e-secret-key"
TEXT = "Reminder: the launch code is 7 2 9 — do not share"
SCHEMAS = json.loads((Path(__file__).parent / "data" / "letta_schemas.json").read_text())


class Sleeps:
    """A ``sleep`` that records the delays asked for instead of sleeping."""

    def __init__(self) -> None:
        self.delays: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.delays.append(seconds)


@pytest.fixture
def standin() -> Iterator[LettaStandIn]:
    with LettaStandIn(api_keys={KEY}) as server:
        yield server


@pytest.fixture
def agent(standin: LettaStandIn) -> str:
    return standin.add_agent()


@pytest.fixture
def client(standin: LettaStandIn) -> Iterator[LettaClient]:
    with LettaClient(standin.base_url + "/", KEY, timeout=5) as c:
        yield c


def sends(standin: LettaStandIn) -> list[RequestRecord]:
    return [r for r in standin.requests if r.path.endswith("/messages/async")]


def assert_safe(exc: BaseException) -> None:
    """Neither the key nor the text in the error, its repr, or anything it was raised from."""
    seen: BaseException | None = exc
    while seen is not None:
        for shown in (str(seen), repr(seen)):
            assert KEY not in shown
            assert TEXT not in shown
        seen = seen.__cause__ or seen.__context__
    if isinstance(exc, LettaError) and exc.detail:
        assert KEY not in exc.detail
        assert TEXT not in exc.detail


# --------------------------------------------------------------------------- sending


def test_send_returns_the_run_and_letta_sees_body_headers_and_otid(
    standin: LettaStandIn, client: LettaClient, agent: str
) -> None:
    run = client.send_message(agent, TEXT, role="system", otid="otid-1")

    assert re.fullmatch(r"run-[0-9a-f-]{36}", run.id)
    assert (run.status, run.agent_id) == ("created", agent)
    [delivery] = standin.deliveries
    assert (delivery.agent_id, delivery.role, delivery.text, delivery.otid, delivery.run_id) == (
        agent,
        "system",
        TEXT,
        "otid-1",
        run.id,
    )
    assert standin.received_keys == {KEY}
    assert sends(standin) == [("POST", f"/v1/agents/{agent}/messages/async", 200)]
    assert TEXT not in repr(delivery) and TEXT not in repr(run)


def test_body_is_what_the_product_contract_and_the_schemas_say() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={"id": "run-1234abcd", "status": "created", "agent_id": "agent-x"})

    with LettaClient("http://letta.example:8283/", KEY, transport=httpx.MockTransport(handler)) as client:
        client.send_message("agent-x", TEXT, otid="o-1")
        client.send_message("agent-x", TEXT)
        client.send_message("agent-x", TEXT, name="Ada", sender_id="identity-1")
    body = json.loads(seen[0].content)
    assert body == {"messages": [{"role": "user", "content": [{"type": "text", "text": TEXT}], "otid": "o-1"}]}
    assert set(json.loads(seen[1].content)["messages"][0]) == {"role", "content"}, "nothing that was not given"
    named = json.loads(seen[2].content)["messages"][0]
    assert (named["name"], named["sender_id"]) == ("Ada", "identity-1") and "otid" not in named
    assert set(named) <= set(SCHEMAS["MessageCreate"]["properties"])
    assert set(body) <= set(SCHEMAS["LettaAsyncRequest"]["properties"])
    message = body["messages"][0]
    assert set(SCHEMAS["MessageCreate"]["required"]) <= set(message) <= set(SCHEMAS["MessageCreate"]["properties"])
    assert set(SCHEMAS["TextContent"]["required"]) <= set(message["content"][0])
    assert str(seen[0].url) == "http://letta.example:8283/v1/agents/agent-x/messages/async"
    assert seen[0].headers["Authorization"] == f"Bearer {KEY}"


def test_no_key_means_no_authorization_header() -> None:
    with LettaStandIn() as open_server, LettaClient(open_server.base_url, None) as client:
        agent = open_server.add_agent()
        client.check_key()
        client.send_message(agent, TEXT)
        assert open_server.received_keys == set()
        assert repr(client) == f"LettaClient(base_url='{open_server.base_url}', api_key=none)"


def test_agent_id_is_quoted_as_one_path_segment() -> None:
    seen: list[bytes] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request.url.raw_path)
        return httpx.Response(404, json={"detail": "Agent not found"})

    with LettaClient("http://h", None, transport=httpx.MockTransport(handler)) as client:
        for agent_id in ("..", "a/b", "x?y#z"):
            with pytest.raises(LettaPermanentError):
                client.send_message(agent_id, TEXT)
    assert seen == [
        b"/v1/agents/%2E%2E/messages/async",
        b"/v1/agents/a%2Fb/messages/async",
        b"/v1/agents/x%3Fy%23z/messages/async",
    ]


# --------------------------------------------------------------------------- errors


def test_check_key_accepts_the_right_key(standin: LettaStandIn, client: LettaClient) -> None:
    client.check_key()
    assert standin.requests[-1] == ("GET", "/v1/agents/?limit=1", 200)


def test_wrong_key_is_permanent_401(standin: LettaStandIn) -> None:
    with LettaClient(standin.base_url, "sk-wrong-key") as client, pytest.raises(LettaPermanentError) as caught:
        client.check_key()
    assert caught.value.status == 401
    assert str(caught.value) == (
        f"Letta rejected the API key (401 Unauthorized) while checking the API key on {standin.base_url} "
        "— check LETTA_API_KEY"
    )
    assert "sk-wrong-key" not in str(caught.value)


def test_unknown_agent_is_permanent_404_with_detail(client: LettaClient, standin: LettaStandIn) -> None:
    missing = "agent-00000000-0000-4000-8000-000000000000"
    with pytest.raises(LettaPermanentError) as caught:
        client.send_message(missing, TEXT)
    assert (caught.value.status, caught.value.detail) == (404, "Agent not found")
    assert str(caught.value) == f"agent {missing} not found on {standin.base_url} (404) — check --agent-id"


def test_bad_role_is_permanent_422_summarised_without_the_text(client: LettaClient, agent: str) -> None:
    with pytest.raises(LettaPermanentError) as caught:
        client.send_message(agent, TEXT, role="bot")
    assert caught.value.status == 422
    assert caught.value.detail == "body.messages.0.role: Input should be 'user', 'system' or 'assistant'"
    assert "body.messages.0.role: Input should be" in str(caught.value)
    assert_safe(caught.value)


def test_malformed_agent_id_is_a_422_on_the_path_like_letta_0_16_8(client: LettaClient) -> None:
    with pytest.raises(LettaPermanentError) as caught:
        client.send_message("agent-123", TEXT)
    assert caught.value.status == 422
    assert caught.value.detail == "path.agent_id: String should have at least 42 characters"


def test_letta_detail_is_scrubbed_of_key_and_text(standin: LettaStandIn, client: LettaClient, agent: str) -> None:
    standin.script(agent, (400, {"detail": f"cannot take {TEXT!r} with key {KEY}"}))
    with pytest.raises(LettaPermanentError) as caught:
        client.send_message(agent, TEXT)
    assert caught.value.detail == "cannot take '***' with key ***"
    assert_safe(caught.value)


@pytest.mark.parametrize(
    ("status", "kind"),
    [
        (400, LettaPermanentError),
        (403, LettaPermanentError),
        (409, LettaPermanentError),
        (418, LettaPermanentError),
        (307, LettaPermanentError),
        (429, LettaTransientError),
        (500, LettaTransientError),
        (502, LettaTransientError),
        (503, LettaTransientError),
        (504, LettaTransientError),
        (599, LettaTransientError),
    ],
)
def test_classify_maps_status_codes(status: int, kind: type[LettaError]) -> None:
    error = classify(httpx.Response(status, json={"detail": "nope"}), action="testing")
    assert type(error) is kind
    assert error is not None and error.status == status


def test_classify_passes_2xx_and_ignores_html_bodies() -> None:
    assert classify(httpx.Response(200, json=[])) is None
    error = classify(httpx.Response(502, text="<html>Bad gateway</html>"), action="sending")
    assert isinstance(error, LettaTransientError)
    assert (error.detail, str(error)) == (
        None,
        "Letta failed (502 Bad Gateway) while sending — will retry; if it persists, check the Letta server",
    )


def test_a_bare_not_found_points_at_the_base_url() -> None:
    with (
        LettaStandIn() as server,
        LettaClient(server.base_url + "/v1", None) as client,
        pytest.raises(LettaPermanentError) as caught,
    ):
        client.check_key()
    assert "check LETTA_BASE_URL" in str(caught.value) and "without /v1" in str(caught.value)


def test_a_404_page_that_is_not_letta_is_not_called_a_missing_agent() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(404, text="<html>nginx</html>")

    with (
        LettaClient("http://h", None, transport=httpx.MockTransport(handler)) as client,
        pytest.raises(LettaPermanentError) as caught,
    ):
        client.send_message("agent-x", TEXT)
    assert str(caught.value).startswith("Letta answered 404 Not Found while sending to agent agent-x on http://h")
    assert "check LETTA_BASE_URL" in str(caught.value)


def test_parse_retry_after_reads_seconds_and_http_dates() -> None:
    now = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)
    assert parse_retry_after("7", now=now) == 7.0
    assert parse_retry_after(" 1.5 ", now=now) == 1.5
    assert parse_retry_after("-3", now=now) == 0.0
    assert parse_retry_after(format_datetime(now + timedelta(seconds=90), usegmt=True), now=now) == 90.0
    assert parse_retry_after(format_datetime(now - timedelta(seconds=90), usegmt=True), now=now) == 0.0
    assert parse_retry_after("soon", now=now) is None
    assert parse_retry_after("inf", now=now) is None
    assert parse_retry_after(None) is None


@pytest.mark.parametrize("key", [KEY + "\u2014", KEY + "\nX-Evil: 1", "\u00e9" + KEY])
def test_a_key_no_header_can_carry_is_a_config_error_that_does_not_show_it(key: str) -> None:
    with pytest.raises(ConfigError) as caught:
        LettaClient("http://127.0.0.1:9", key)
    assert KEY not in str(caught.value) and caught.value.__cause__ is None


def test_surrounding_whitespace_is_trimmed_from_the_key(standin: LettaStandIn) -> None:
    with LettaClient(standin.base_url, f"  {KEY}\n") as client:
        client.check_key()
    assert standin.received_keys == {KEY}


def test_bad_base_urls_are_config_errors_without_credentials() -> None:
    with pytest.raises(ConfigError, match="not an http"):
        LettaClient("localhost:8283", KEY)
    client = LettaClient(f"http://user:{KEY}@127.0.0.1:9", KEY, timeout=2)
    assert KEY not in repr(client)
    with client, pytest.raises(LettaTransientError) as caught:
        client.check_key()
    assert_safe(caught.value)
    assert "http://127.0.0.1:9" in str(caught.value)


# --------------------------------------------------------------------------- retries


def test_429_waits_retry_after_then_succeeds(standin: LettaStandIn, client: LettaClient, agent: str) -> None:
    standin.rate_limit(agent, retry_after=1)
    sleeps = Sleeps()
    run = send_with_retry(client, agent, TEXT, role="user", otid="o-429", sleep=sleeps, rng=random.Random(1))
    assert sleeps.delays == [1.0]
    assert [r.status for r in sends(standin)] == [429, 200]
    assert [d.run_id for d in standin.deliveries] == [run.id]


def test_retry_after_as_http_date(standin: LettaStandIn, client: LettaClient, agent: str) -> None:
    later = datetime.now(UTC) + timedelta(seconds=20)
    standin.rate_limit(agent, retry_after=format_datetime(later, usegmt=True))
    sleeps = Sleeps()
    send_with_retry(client, agent, TEXT, otid=None, sleep=sleeps)
    [delay] = sleeps.delays
    assert 17 <= delay <= 20


def test_retry_after_beyond_max_delay_is_not_cut_short(standin: LettaStandIn, client: LettaClient, agent: str) -> None:
    standin.rate_limit(agent, retry_after=3600)
    sleeps = Sleeps()
    with pytest.raises(LettaTransientError) as caught:
        send_with_retry(client, agent, TEXT, max_delay=30, sleep=sleeps)
    assert (caught.value.status, caught.value.retry_after, sleeps.delays) == (429, 3600.0, [])
    assert "it asks to wait 3600s" in str(caught.value)


def test_503_twice_then_success_with_jittered_backoff(standin: LettaStandIn, client: LettaClient, agent: str) -> None:
    standin.fail(agent, 503, times=2)
    sleeps = Sleeps()
    run = send_with_retry(client, agent, TEXT, base_delay=0.5, sleep=sleeps, rng=random.Random(7))
    assert [r.status for r in sends(standin)] == [503, 503, 200]
    assert len(sleeps.delays) == 2
    assert 0 <= sleeps.delays[0] <= 0.5 and 0 <= sleeps.delays[1] <= 1.0
    # Full jitter is reproducible with a seeded rng.
    rng = random.Random(7)
    assert sleeps.delays == [rng.uniform(0, 0.5), rng.uniform(0, 1.0)]
    assert standin.deliveries[0].run_id == run.id


def test_every_attempt_carries_the_same_otid(standin: LettaStandIn, client: LettaClient, agent: str) -> None:
    standin.drop(agent, after_accept=True)
    run = send_with_retry(client, agent, TEXT, sleep=Sleeps())
    first, second = standin.deliveries
    # The first was taken but never answered: Letta sees it twice, recognisably.
    assert first.otid is not None and first.otid == second.otid
    assert second.run_id == run.id


def test_retries_exhausted_raise_the_last_transient_error(
    standin: LettaStandIn, client: LettaClient, agent: str
) -> None:
    standin.fail(agent, 502, times=3)
    standin.fail(agent, 504, times=1)
    sleeps = Sleeps()
    with pytest.raises(LettaTransientError) as caught:
        send_with_retry(client, agent, TEXT, attempts=4, max_delay=2, sleep=sleeps)
    assert caught.value.status == 504
    assert len(sleeps.delays) == 3 and all(0 <= d <= 2 for d in sleeps.delays)
    assert [r.status for r in sends(standin)] == [502, 502, 502, 504]
    assert standin.deliveries == []
    assert_safe(caught.value)


def test_permanent_errors_are_never_retried(standin: LettaStandIn, client: LettaClient) -> None:
    sleeps = Sleeps()
    with pytest.raises(LettaPermanentError):
        send_with_retry(client, "agent-00000000-0000-4000-8000-000000000000", TEXT, sleep=sleeps)
    assert sleeps.delays == [] and len(sends(standin)) == 1


def test_connection_refused_is_transient_and_recovers(standin: LettaStandIn, client: LettaClient, agent: str) -> None:
    port = standin.port
    standin.down()
    with pytest.raises(LettaTransientError) as caught:
        client.send_message(agent, TEXT)
    assert caught.value.status is None
    assert str(caught.value).startswith(f"could not connect to Letta at {standin.base_url}")
    assert_safe(caught.value)
    standin.up()
    assert standin.port == port
    assert client.send_message(agent, TEXT).agent_id == agent


def test_down_while_kept_alive_refuses_and_retry_waits(standin: LettaStandIn, client: LettaClient, agent: str) -> None:
    client.check_key()  # leaves a kept-alive connection in the pool
    standin.down()
    waits: list[float] = []

    def sleep_then_come_back(seconds: float) -> None:
        waits.append(seconds)
        standin.up()

    run = send_with_retry(client, agent, TEXT, sleep=sleep_then_come_back)
    assert run.agent_id == agent and len(waits) == 1
    assert [d.run_id for d in standin.deliveries] == [run.id]


def test_dropped_connection_is_transient(standin: LettaStandIn, client: LettaClient, agent: str) -> None:
    standin.script(agent, DROP)
    with pytest.raises(LettaTransientError) as caught:
        client.send_message(agent, TEXT)
    assert "may still have received" in str(caught.value)
    assert standin.deliveries == []


def test_a_slow_answer_times_out_as_transient(standin: LettaStandIn, agent: str) -> None:
    standin.latency = 0.5
    with LettaClient(standin.base_url, KEY, timeout=0.1) as client, pytest.raises(LettaTransientError) as caught:
        client.send_message(agent, TEXT)
    assert "did not answer in time" in str(caught.value)


@pytest.mark.parametrize(
    "scenario",
    ["wrong-key", "unknown-agent", "bad-role", "422-echo", "429", "503", "refused", "drop", "timeout"],
)
def test_no_error_ever_shows_the_key_or_the_text(scenario: str) -> None:
    with LettaStandIn(api_keys={KEY}) as server:
        agent = server.add_agent()
        key, role, timeout = KEY, "user", 5.0
        if scenario == "wrong-key":
            key = "sk-wrong-but-still-secret-0192"  # even a wrong key is a secret
        target = "agent-00000000-0000-4000-8000-000000000000" if scenario == "unknown-agent" else agent
        if scenario == "bad-role":
            role = "bot"
        if scenario == "422-echo":
            server.script(
                agent, (422, {"detail": [{"loc": ["body"], "msg": f"bad {TEXT}", "type": "x", "input": TEXT}]})
            )
        if scenario == "429":
            server.rate_limit(agent, retry_after=99)
        if scenario == "503":
            server.fail(agent, 503, times=5, detail=f"overloaded by {TEXT}")
        if scenario == "drop":
            server.drop(agent, times=5)
        if scenario == "timeout":
            server.latency, timeout = 0.3, 0.05
        if scenario == "refused":
            server.down()
        with LettaClient(server.base_url, key, timeout=timeout) as client:
            with pytest.raises(LettaError) as caught:
                send_with_retry(client, target, TEXT, role=role, attempts=2, sleep=Sleeps())
            assert key not in str(caught.value) and key not in repr(client)
        assert_safe(caught.value)


# --------------------------------------------------------------------------- runs


def test_get_run_progresses_to_completed_and_the_message_shows_in_history() -> None:
    with LettaStandIn(api_keys={KEY}, run_duration=1.0) as server, LettaClient(server.base_url, KEY) as client:
        agent = server.add_agent()
        run = client.send_message(agent, TEXT, otid="o-hist")
        assert run.status == "created" and not run.done
        assert client.get_run(run.id).status == "running"
        history = httpx.get(
            f"{server.base_url}/v1/agents/{agent}/messages?limit=10", headers={"Authorization": f"Bearer {KEY}"}
        )
        assert history.json() == []

        done = wait_for_run(client, run.id, timeout=5, poll_interval=0.05)
        assert (done.status, done.done, done.id, done.agent_id) == ("completed", True, run.id, agent)
        [message] = httpx.get(
            f"{server.base_url}/v1/agents/{agent}/messages", headers={"Authorization": f"Bearer {KEY}"}
        ).json()
        assert message["message_type"] == "user_message"
        assert (message["content"], message["run_id"], message["otid"]) == (TEXT, run.id, "o-hist")
        assert set(SCHEMAS["UserMessage"]["required"]) <= set(message) <= set(SCHEMAS["UserMessage"]["properties"])


def test_wait_for_run_gives_up_at_the_deadline() -> None:
    with LettaStandIn(run_duration=60) as server, LettaClient(server.base_url, None) as client:
        run = client.send_message(server.add_agent(), TEXT)
        clock = iter([0.0, 0.5, 1.0, 1.5, 2.0, 2.5, 3.0])
        last = wait_for_run(client, run.id, timeout=1, poll_interval=0.5, sleep=Sleeps(), clock=lambda: next(clock))
        assert (last.status, last.done) == ("running", False)


def test_failed_runs_and_unknown_runs() -> None:
    with LettaStandIn() as server, LettaClient(server.base_url, None) as client:
        agent = server.add_agent()
        server.set_run_outcome(agent, "failed", "llm_api_error")
        run = client.get_run(client.send_message(agent, TEXT).id)
        assert (run.status, run.done) == ("failed", True)
        assert server.run(run.id)["stop_reason"] == "llm_api_error"
        with pytest.raises(LettaPermanentError) as caught:
            client.get_run("run-00000000-0000-4000-8000-000000000000")
        assert (caught.value.status, caught.value.detail) == (404, "Run not found")


def test_run_from_json_rejects_what_is_not_a_run() -> None:
    assert Run.from_json({"id": "run-1", "agent_id": "a"}) == Run("run-1", "created", "a")
    bad: object
    for bad in ([], {"status": "created"}, {"id": 3}):
        with pytest.raises((TypeError, ValueError)):
            Run.from_json(bad)

    def not_letta(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, text="<html>hello</html>")

    # Some other web server at LETTA_BASE_URL answers 200 with a page.
    with LettaClient("http://not-letta.example", None, transport=httpx.MockTransport(not_letta)) as client:
        with pytest.raises(LettaPermanentError, match="is LETTA_BASE_URL a Letta server"):
            client.send_message("agent-x", TEXT)
        with pytest.raises(LettaPermanentError, match="is LETTA_BASE_URL a Letta server"):
            client.check_key()


# --------------------------------------------------------------------------- the stand-in itself


def test_overlaps_are_detected_in_flight_and_while_a_run_is_running() -> None:
    with LettaStandIn(latency=0.5) as server:
        a, b = server.add_agent(), server.add_agent()
        with LettaClient(server.base_url, None) as client, ThreadPoolExecutor(3) as pool:
            list(pool.map(lambda agent: client.send_message(agent, TEXT), [a, a, b]))
        assert server.overlaps == [a]

    with LettaStandIn(run_duration=1.0) as server, LettaClient(server.base_url, None) as client:
        agent = server.add_agent()
        client.send_message(agent, TEXT)
        second = client.send_message(agent, TEXT)  # the first run is still running
        assert server.overlaps == [agent]
        wait_for_run(client, second.id, timeout=5, poll_interval=0.05)
        client.send_message(agent, TEXT)  # both runs are done by now
        assert server.overlaps == [agent]


def test_one_at_a_time_per_agent_is_no_overlap() -> None:
    with LettaStandIn(run_duration=0.1) as server, LettaClient(server.base_url, None) as client:
        agent = server.add_agent()
        for _ in range(3):
            run = client.send_message(agent, TEXT)
            assert wait_for_run(client, run.id, timeout=5, poll_interval=0.02).done
        assert server.overlaps == []
        assert len(server.deliveries) == 3


def test_three_hundred_agents_in_parallel_with_latency() -> None:
    with LettaStandIn(api_keys={KEY}, latency=0.2) as server, LettaClient(server.base_url, KEY, timeout=30) as client:
        agents = [server.add_agent() for _ in range(300)]
        started = time.monotonic()
        # One client shared by the threads, as the tick does.
        with ThreadPoolExecutor(300) as pool:
            runs = list(pool.map(lambda agent: client.send_message(agent, TEXT), agents))
        elapsed = time.monotonic() - started
    assert [r.agent_id for r in runs] == agents
    assert len(server.deliveries) == 300 and server.overlaps == []
    assert elapsed < 20  # one after the other would take 60 s


def test_the_standin_holds_three_hundred_open_connections_at_once() -> None:
    body = json.dumps({"messages": [{"role": "user", "content": "x"}]}).encode()
    with LettaStandIn(latency=0.2) as server:
        agents = [server.add_agent() for _ in range(300)]

        def one(agent: str) -> int:
            # Bare http.client: measures the server, not a client's pool.
            conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
            try:
                conn.request("POST", f"/v1/agents/{agent}/messages/async", body=body)
                return conn.getresponse().status
            finally:
                conn.close()

        started = time.monotonic()
        with ThreadPoolExecutor(300) as pool:
            statuses = list(pool.map(one, agents))
        elapsed = time.monotonic() - started
    assert statuses == [200] * 300
    assert elapsed < 8


def test_standin_answers_with_the_openapi_shapes(standin: LettaStandIn, agent: str) -> None:
    auth = {"Authorization": f"Bearer {KEY}"}
    base = standin.base_url
    run_schema = SCHEMAS["Run"]

    sent = httpx.post(
        f"{base}/v1/agents/{agent}/messages/async",
        json={"messages": [{"role": "user", "content": "plain string content"}]},
        headers=auth,
    )
    assert sent.status_code == 200
    run = sent.json()
    # additionalProperties is false: exactly the schema's properties, as FastAPI's response_model writes.
    assert set(run) == set(run_schema["properties"])
    assert set(run_schema["required"]) <= set(run)
    assert run["status"] in SCHEMAS["RunStatus"]["enum"]
    assert re.match(r"^(job|run)-[a-fA-F0-9]{8}", run["id"])
    assert datetime.fromisoformat(run["created_at"]).tzinfo is not None
    assert set(run["request_config"]) == set(SCHEMAS["LettaRequestConfig"]["properties"])
    assert (run["background"], run["metadata"]["run_type"]) == (True, "send_message_async")

    fetched = httpx.get(f"{base}/v1/runs/{run['id']}", headers=auth).json()
    assert set(fetched) == set(run_schema["properties"])
    assert fetched["status"] == "completed"
    assert fetched["stop_reason"] in SCHEMAS["StopReasonType"]["enum"]

    invalid = httpx.post(
        f"{base}/v1/agents/{agent}/messages/async",
        json={"messages": [{"role": "bot", "content": [{"type": "text"}]}]},
        headers=auth,
    )
    assert invalid.status_code == 422
    assert set(invalid.json()) == set(SCHEMAS["HTTPValidationError"]["properties"])
    for item in invalid.json()["detail"]:
        assert set(SCHEMAS["ValidationError"]["required"]) <= set(item) <= set(SCHEMAS["ValidationError"]["properties"])
    assert [item["loc"] for item in invalid.json()["detail"]] == [
        ["body", "messages", 0, "role"],
        ["body", "messages", 0, "content", 0, "text"],
    ]

    assert SCHEMAS["agent_id_path_parameter"]["pattern"] == AGENT_ID_PATTERN
    assert re.fullmatch(AGENT_ID_PATTERN, agent)

    health = httpx.get(f"{base}/v1/health/").json()
    assert set(health) == set(SCHEMAS["HealthCheck"]["properties"])


@pytest.mark.parametrize(
    ("body", "loc", "kind"),
    [
        (b"", ["body"], "missing"),
        (b"{not json", ["body", 1], "json_invalid"),
        (b"[]", ["body"], "model_attributes_type"),
        (b"{}", ["body", "messages"], "missing"),
        (b'{"messages": []}', ["body", "messages"], "too_short"),
        (b'{"messages": "hi"}', ["body", "messages"], "list_type"),
        (b'{"messages": [{"content": "x"}]}', ["body", "messages", 0, "role"], "missing"),
        (b'{"messages": [{"role": "user"}]}', ["body", "messages", 0, "content"], "missing"),
        (b'{"messages": [{"role": "user", "content": 5}]}', ["body", "messages", 0, "content"], "string_type"),
        (
            b'{"messages": [{"role": "user", "content": "x", "otid": 5}]}',
            ["body", "messages", 0, "otid"],
            "string_type",
        ),
        (
            b'{"messages": [{"role": "user", "content": "x", "name": ["Ada"]}]}',
            ["body", "messages", 0, "name"],
            "string_type",
        ),
        (
            b'{"messages": [{"role": "user", "content": "x", "sender_id": 7}]}',
            ["body", "messages", 0, "sender_id"],
            "string_type",
        ),
        (
            b'{"messages": [{"role": "user", "content": [{"type": "image"}]}]}',
            ["body", "messages", 0, "content", 0, "type"],
            "union_tag_invalid",
        ),
    ],
)
def test_standin_validates_like_fastapi(
    standin: LettaStandIn, agent: str, body: bytes, loc: list[Any], kind: str
) -> None:
    answer = httpx.post(
        f"{standin.base_url}/v1/agents/{agent}/messages/async",
        content=body,
        headers={"Authorization": f"Bearer {KEY}", "Content-Type": "application/json"},
    )
    assert answer.status_code == 422
    [item] = answer.json()["detail"]
    assert (item["loc"], item["type"]) == (loc, kind)
    assert standin.deliveries == []


def test_standin_agents_routes_and_auth(standin: LettaStandIn) -> None:
    auth = {"Authorization": f"Bearer {KEY}"}
    base = standin.base_url
    assert httpx.get(f"{base}/v1/agents/?limit=1").status_code == 401
    assert httpx.get(f"{base}/v1/agents/?limit=1").json() == {"detail": "Unauthorized"}
    created = [httpx.post(f"{base}/v1/agents/", json={"name": f"t{i}"}, headers=auth).json() for i in range(3)]
    assert all(re.fullmatch(AGENT_ID_PATTERN, a["id"]) for a in created)
    listed = httpx.get(f"{base}/v1/agents", params={"limit": 2}, headers=auth).json()
    assert [a["id"] for a in listed] == [a["id"] for a in created[:2]]
    assert standin.agents == [a["id"] for a in created]
    assert httpx.get(f"{base}/v1/agents/?limit=x", headers=auth).status_code == 422
    assert httpx.get(f"{base}/v1/nothing", headers=auth).json() == {"detail": "Not Found"}
    assert httpx.delete(f"{base}/v1/runs/run-1", headers=auth).status_code == 405
    with pytest.raises(ValueError, match="agent-<uuid4>"):
        standin.add_agent("agent-1")
    assert LettaStandIn(validate_ids=False, agents=["agent-1"]).agents == ["agent-1"]


def test_module_runs_as_a_manual_server() -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "switchboard.testing.letta", "--port", "0", "--run-duration", "0"],
        stdout=subprocess.PIPE,
        text=True,
        cwd=Path(__file__).resolve().parents[1],
    )
    try:
        assert proc.stdout is not None
        first = proc.stdout.readline()
        assert "NOT a real Letta server" in first
        base_url = first.rsplit(" ", 1)[-1].strip()
        lines = [proc.stdout.readline() for _ in range(3)]
        agent = next(line.split()[-1] for line in lines if line.startswith("agent:"))
        with LettaClient(base_url, "any-key") as client:
            client.check_key()
            assert client.get_run(client.send_message(agent, "hello").id).status == "completed"
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_module_refuses_an_agent_id_letta_would_not_make(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        standin_main(["--port", "0", "--agent", "agent-123"])
    assert exited.value.code == 2
    err = capsys.readouterr().err
    assert err.splitlines()[-1].endswith(
        "--agent takes an id as Letta makes them, agent-<uuid4>; leave it out to get one"
    )
    assert "Traceback" not in err


def _self_signed(folder: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 that no certificate authority signed, and its key."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=1))
        .not_valid_after(now + timedelta(hours=1))
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = folder / "cert.pem", folder / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return cert_path, key_path


def test_every_client_verifies_tls_certificates(tmp_path: Path) -> None:
    """Clients share one TLS context (it is costly to make); it still refuses a certificate nobody vouches for."""
    import ssl
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    class Answer(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    cert, key = _self_signed(tmp_path)
    server = ThreadingHTTPServer(("127.0.0.1", 0), Answer)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        for api_key in ("sk-first", "sk-second"):  # the second client reuses the first one's context
            client = LettaClient(f"https://127.0.0.1:{server.server_address[1]}", api_key)
            with pytest.raises(LettaTransientError, match="CERTIFICATE_VERIFY_FAILED"):
                client.get_run("run-1")
            client.close()
    finally:
        server.shutdown()
        server.server_close()
