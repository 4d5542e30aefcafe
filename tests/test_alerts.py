"""The failure webhook: a real HTTP receiver on 127.0.0.1, real passes against the Letta stand-in."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from conftest import LETTA_KEY

from switchboard.actions.alerts import notify, payload
from switchboard.cli import main
from switchboard.context import letta_client
from switchboard.service import add_one_time
from switchboard.store import Store
from switchboard.testing.letta import LettaStandIn
from switchboard.tick import TickOptions, TickReport, run_pass

TEXT = "Secret plans for the surprise party"
NOW = datetime.now(UTC)
FAST = TickOptions(send_attempts=1, base_delay=0.01, max_delay=0.01, run_wait=0.5, run_poll=0.05)


class Receiver:
    """Keeps every POST (path, headers, JSON body); answers with ``status``."""

    def __init__(self) -> None:
        self.posts: list[tuple[str, dict[str, str], Any]] = []
        self.status = 204
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                owner.posts.append((self.path, dict(self.headers), json.loads(self.rfile.read(length))))
                self.send_response(owner.status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self.thread.start()
        host, port = self.server.server_address[:2]
        self.url = f"http://{host!s}:{port}/services/T000/B000/XXXXSECRET"

    def stop(self) -> None:
        if self.thread.is_alive():
            self.server.shutdown()
            self.server.server_close()
            self.thread.join(timeout=5)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    server = Receiver()
    yield server
    server.stop()


def a_pass(store: Store, standin: LettaStandIn, *, fail: int | None = None, dry_run: bool = False) -> TickReport:
    """One real pass delivering one message (failing with ``fail`` when given)."""
    agent = standin.add_agent()
    add_one_time(
        store,
        api_key=LETTA_KEY,
        base_url=standin.base_url,
        agent_id=agent,
        message=TEXT,
        execute_at=NOW - timedelta(minutes=1),
        now=NOW - timedelta(minutes=2),
    )
    if fail is not None:
        standin.fail(agent, fail, detail=f"no: {TEXT}")
    options = TickOptions(**{**FAST.__dict__, "dry_run": dry_run})
    return run_pass(store, NOW, letta_client, options, sleep=lambda _: None)


def test_a_failure_is_posted_with_counts_and_ids_only(store: Store, standin: LettaStandIn, receiver: Receiver) -> None:
    report = a_pass(store, standin, fail=404)
    env = {"SWITCHBOARD_WEBHOOK_URL": receiver.url, "GITHUB_REPOSITORY": "octo/sb", "GITHUB_RUN_ID": "42"}
    warnings: list[str] = []
    assert notify(report, env=env, warn=warnings.append) is True
    assert warnings == []
    [(path, headers, body)] = receiver.posts
    assert path == "/services/T000/B000/XXXXSECRET"
    assert headers["Content-Type"] == "application/json"
    assert body["counts"] == {"delivered": 0, "failed": 1, "requeued": 0, "deferred": 0}
    [result] = body["results"]
    assert set(result) == {
        "schedule_id", "schedule_type", "status", "run_id", "agent_id",
        "scheduled_for", "executed_at", "http_status", "lateness_s", "skipped", "run_status", "stop_reason",
    }  # fmt: skip
    assert (result["status"], result["http_status"]) == ("failed", 404)
    assert body["github"] == {
        "repository": "octo/sb",
        "run_id": "42",
        "run_attempt": None,
        "run_url": "https://github.com/octo/sb/actions/runs/42",
    }
    text = json.dumps(body)
    assert TEXT not in text and LETTA_KEY not in text and "no: " not in text


def test_a_transient_failure_is_posted_too(store: Store, standin: LettaStandIn, receiver: Receiver) -> None:
    report = a_pass(store, standin, fail=503)
    assert notify(report, env={"SWITCHBOARD_WEBHOOK_URL": receiver.url}) is True
    assert receiver.posts[0][2]["counts"]["requeued"] == 1
    assert receiver.posts[0][2]["github"] is None  # not inside Actions


def test_a_run_seen_to_fail_by_a_later_pass_is_posted(store: Store, standin: LettaStandIn, receiver: Receiver) -> None:
    standin.set_run_outcome(None, "failed", "llm_api_error")
    first = a_pass(store, standin)
    env = {"SWITCHBOARD_WEBHOOK_URL": receiver.url}
    assert first.permanent_failures == 0 and notify(first, env=env) is False  # accepted: no news yet
    later = run_pass(store, NOW, letta_client, FAST)
    assert notify(later, env=env) is True
    [(_, _, body)] = receiver.posts
    assert body["counts"]["failed"] == 1
    [result] = body["results"]
    assert (result["status"], result["run_status"], result["stop_reason"]) == ("failed", "failed", "llm_api_error")
    assert result["run_id"] == first.results[0].run_id and TEXT not in json.dumps(body)


def test_success_is_posted_only_when_asked(store: Store, standin: LettaStandIn, receiver: Receiver) -> None:
    report = a_pass(store, standin)
    assert report.count("delivered") == 1
    assert notify(report, env={"SWITCHBOARD_WEBHOOK_URL": receiver.url}) is False
    assert receiver.posts == []
    events = {"SWITCHBOARD_WEBHOOK_URL": receiver.url, "SWITCHBOARD_WEBHOOK_EVENTS": "all"}
    assert notify(report, env=events) is True
    assert receiver.posts[0][2]["counts"]["delivered"] == 1
    # A pass that did nothing is not news, even with "all".
    empty = run_pass(store, NOW, letta_client, FAST)
    assert notify(empty, env=events) is False
    assert len(receiver.posts) == 1


def test_nothing_without_a_url_or_on_a_dry_run(store: Store, standin: LettaStandIn, receiver: Receiver) -> None:
    failed = a_pass(store, standin, fail=404)
    assert notify(failed, env={}) is False
    assert notify(failed, env={"SWITCHBOARD_WEBHOOK_URL": "  "}) is False
    dry = TickReport(now=NOW, dry_run=True, results=failed.results)
    assert notify(dry, env={"SWITCHBOARD_WEBHOOK_URL": receiver.url}) is False
    assert receiver.posts == []


def test_a_broken_webhook_is_a_warning_without_the_url(store: Store, standin: LettaStandIn, receiver: Receiver) -> None:
    report = a_pass(store, standin, fail=404)
    warnings: list[str] = []
    receiver.status = 500
    assert notify(report, env={"SWITCHBOARD_WEBHOOK_URL": receiver.url}, warn=warnings.append) is False
    url = receiver.url
    receiver.stop()
    assert notify(report, env={"SWITCHBOARD_WEBHOOK_URL": url}, warn=warnings.append, timeout=2) is False
    assert notify(report, env={"SWITCHBOARD_WEBHOOK_URL": "ftp://x/SECRET"}, warn=warnings.append) is False
    assert warnings == [
        "the webhook in SWITCHBOARD_WEBHOOK_URL answered 500 — nothing was retried",
        "could not reach the webhook in SWITCHBOARD_WEBHOOK_URL (ConnectError) — nothing was retried",
        "SWITCHBOARD_WEBHOOK_URL is not an http(s) URL — nothing was posted",
    ]


def test_payload_shape_of_an_empty_pass() -> None:
    body = payload(TickReport(now=NOW), {})
    assert body == {
        "source": "letta-switchboard",
        "event": "tick",
        "at": NOW.isoformat(),
        "counts": {"delivered": 0, "failed": 0, "requeued": 0, "deferred": 0},
        "results": [],
        "github": None,
    }


def test_the_tick_command_posts(
    cli_env: dict[str, str],
    store: Store,
    standin: LettaStandIn,
    receiver: Receiver,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    agent = standin.add_agent()
    add_one_time(
        store,
        api_key=LETTA_KEY,
        base_url=standin.base_url,
        agent_id=agent,
        message=TEXT,
        execute_at=NOW - timedelta(minutes=1),
        now=NOW - timedelta(minutes=2),
    )
    standin.fail(agent, 404)
    monkeypatch.setenv("SWITCHBOARD_WEBHOOK_URL", receiver.url)
    assert main(["tick", "--json"]) == 1  # a permanent failure
    out, err = capsys.readouterr()
    assert json.loads(out)["failed"] == 1
    assert len(receiver.posts) == 1
    assert receiver.url not in out + err
