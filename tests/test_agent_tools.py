"""The agent tools, run as Letta runs them, against a real `switchboard serve`.

Each tool call here is the registered tool source in a fresh ``python -I -S``
(no site-packages: the standard library only, as in a bare sandbox) with the
agent's tool environment, calling a real uvicorn on 127.0.0.1. Grants are
made from a second clone and pushed, as ``agent-tools attach`` on a laptop
does; the server sees them through the remote.
"""

from __future__ import annotations

import json
import subprocess
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from api_server import OTHER_KEY, ApiServer, serve_api
from conftest import LETTA_KEY, Repo

from switchboard import service
from switchboard.agent_tools import grants, registry
from switchboard.api import ApiOptions
from switchboard.backends.git import GitBackend
from switchboard.crypto import codec_from_keys
from switchboard.due import shortest_gap
from switchboard.index import indexed_store
from switchboard.store import Store
from switchboard.timeparse import looks_recurring

UUID_LIKE = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"


@dataclass
class Agent:
    """One agent's tool environment, and a way to call its tools the way Letta's sandbox does."""

    env: dict[str, str]
    agent_id: str
    grant: grants.AgentGrant

    def call(self, tool: str, **args: str) -> str:
        """Run ``tool(**args)`` from its registered source, in a bare interpreter; its answer."""
        program = registry.tool_source(tool) + f"\nprint({tool}(**{args!r}))\n"
        done = subprocess.run(
            [sys.executable, "-I", "-S", "-c", program], env=self.env, capture_output=True, text=True, timeout=60
        )
        assert done.returncode == 0 and not done.stderr, done.stderr
        return done.stdout.strip()


@dataclass
class World:
    """A served repository, and a laptop clone to make grants from."""

    server: ApiServer
    laptop: Store

    def agent(self, agent_id: str | None = None, *, api_key: str = LETTA_KEY, **limits: int) -> Agent:
        """Attach (as far as switchboard is concerned) an agent: a grant, and the env its tools get."""
        agent = agent_id or self.server.standin.add_agent()
        grant, token = grants.create_grant(
            self.laptop, api_key=api_key, base_url=self.server.standin.base_url, agent_id=agent,
            now=datetime.now(UTC), **limits,
        )  # fmt: skip
        env = {"SWITCHBOARD_URL": self.server.base_url, "SWITCHBOARD_TOKEN": token, "PATH": "/usr/bin:/bin"}
        return Agent(env, agent, grant)


@pytest.fixture
def world(repo: Repo, key: str) -> Iterator[World]:
    """`switchboard serve` on the clone; grants made from another clone of the same remote."""
    with serve_api(repo, key) as server:
        laptop = indexed_store(GitBackend(repo.another_clone("laptop")), codec_from_keys(key))
        yield World(server, laptop)


def id_in(sentence: str) -> str:
    """The schedule id a sentence ends with."""
    import re

    found = re.findall(UUID_LIKE, sentence)
    assert found, sentence
    return found[-1]


def test_schedule_list_and_cancel_in_sentences(world: World, repo: Repo) -> None:
    """The three tools answer sentences, and what they schedule is an ordinary encrypted schedule of the tenant."""
    agent = world.agent()
    made = agent.call("schedule_message", message="Check the oven", when="in 1 minute")
    assert made.startswith("Scheduled a one-time message to you for "), made
    assert "in 1 minute" in made
    schedule_id = id_in(made)

    listed = agent.call("list_scheduled_messages")
    assert listed.startswith("You have 1 scheduled message: 1) " + schedule_id), listed
    assert '"Check the oven"' in listed

    # The user sees it too, with their own key: it is theirs, addressed to the agent, stored encrypted.
    mine = service.list_one_time(world.laptop, LETTA_KEY)
    assert [(s.id, s.agent_id, s.created_by_agent) for s in mine] == [(schedule_id, agent.agent_id, agent.agent_id)]
    for path in repo.remote_files():
        if path.startswith("data/"):
            assert path.endswith((".enc", ".gitkeep")), path

    gone = agent.call("cancel_scheduled_message", schedule_id=schedule_id)
    assert gone.startswith(f"Cancelled the scheduled message {schedule_id}: once, "), gone
    assert agent.call("list_scheduled_messages") == "You have no scheduled messages."
    assert service.list_one_time(world.laptop, LETTA_KEY) == []


def test_recurring_phrases_answer_the_next_fire_in_the_zone(world: World) -> None:
    """The phrase decides: "every monday at 9am" is recurring, and the answer says when it fires in that zone."""
    agent = world.agent()
    made = agent.call("schedule_message", message="Weekly review", when="every monday at 9am", timezone="Europe/Berlin")
    assert made.startswith('Scheduled a recurring message to you, "0 9 * * 1" in Europe/Berlin'), made
    assert "the first is Monday " in made and "at 09:00 CE" in made and "(Europe/Berlin)" in made
    [schedule] = service.list_recurring(world.laptop, LETTA_KEY)
    assert (schedule.cron, schedule.timezone) == ("0 9 * * 1", "Europe/Berlin")
    assert schedule.created_by_agent == agent.agent_id
    listed = agent.call("list_scheduled_messages", timezone="America/New_York")
    assert "next Monday " in listed and "(America/New_York)" in listed, listed


def test_scheduling_for_another_agent_of_the_same_key(world: World) -> None:
    """agent_id sends it elsewhere; the caller still lists and cancels what it made."""
    agent, other = world.agent(), world.server.standin.add_agent()
    made = agent.call("schedule_message", message="Ping", when="tomorrow at 9am", agent_id=other)
    assert made.startswith(f"Scheduled a one-time message to agent {other} for "), made
    assert f"{id_in(made)} to {other}: once" in agent.call("list_scheduled_messages")


def test_recurring_schedules_fire_at_most_every_five_minutes(world: World) -> None:
    """Faster than the grant's interval is refused; at the interval is fine; a grant can allow faster."""
    agent = world.agent()
    refused = agent.call("schedule_message", message="Spam", when="every minute")
    assert refused == (
        'Switchboard refused: "every minute" can fire 1 minute apart; a recurring message an agent schedules '
        "may fire at most every 5 minutes — choose a slower schedule."
    )
    assert "refused" in agent.call("schedule_message", message="Spam", when="0,3 9 * * *")
    assert agent.call("schedule_message", message="Poll", when="*/5 * * * *").startswith("Scheduled a recurring")
    fast = world.agent(min_interval_s=60)
    assert fast.call("schedule_message", message="Poll", when="every minute").startswith("Scheduled a recurring")

    # A limit that is not whole minutes is said exactly, not rounded.
    odd = world.agent(min_interval_s=90)
    assert odd.call("schedule_message", message="Poll", when="every minute").endswith(
        "may fire at most every 90 seconds — choose a slower schedule."
    )


def test_the_number_of_active_schedules_is_bounded(world: World) -> None:
    """Past max_schedules the answer says to cancel one; cancelling makes room again."""
    agent = world.agent(max_schedules=2)
    first = id_in(agent.call("schedule_message", message="One", when="in 2 hours"))
    agent.call("schedule_message", message="Two", when="every day at 8am")
    refused = agent.call("schedule_message", message="Three", when="in 3 hours")
    assert refused == (
        "Switchboard refused: this agent already has 2 scheduled messages, its limit — cancel one "
        "(list_scheduled_messages shows their ids) before scheduling another."
    )
    agent.call("cancel_scheduled_message", schedule_id=first)
    assert agent.call("schedule_message", message="Three", when="in 3 hours").startswith("Scheduled")
    # What the user schedules for the agent does not count against it.
    service.add_one_time(
        world.laptop, api_key=LETTA_KEY, base_url="http://letta", agent_id=agent.agent_id, message="From the user",
        execute_at=datetime.now(UTC) + timedelta(days=1), now=datetime.now(UTC),
    )  # fmt: skip
    assert "3 scheduled messages" in agent.call("list_scheduled_messages")


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        ({"message": "x", "when": "every blue moon"}, 'Switchboard refused: could not understand "every blue moon"'),
        ({"message": "x", "when": "whenever you like"}, 'could not understand "whenever you like" as a time'),
        ({"message": "x", "when": "in 5 minutes", "timezone": "Mars/Olympus"}, 'unknown time zone "Mars/Olympus"'),
        ({"message": " ", "when": "in 5 minutes"}, "Switchboard refused: message is empty"),
        ({"message": "x", "when": ""}, 'Switchboard refused: say when — e.g. "in 10 minutes"'),
        ({"message": "x", "when": "2020-01-01T09:00:00Z"}, "which has already passed — give a time in the future"),
        ({"message": "x", "when": "in 5 minutes", "agent_id": "a b"}, 'agent id "a b" contains whitespace'),
    ],
)
def test_bad_input_is_a_sentence(world: World, args: dict[str, str], expected: str) -> None:
    """Whatever the model gets wrong comes back as one sentence saying what to do, and nothing is stored."""
    answer = world.agent().call("schedule_message", **args)
    assert expected in answer, answer
    assert answer.startswith("Switchboard refused: ") and "Traceback" not in answer
    assert service.list_one_time(world.laptop, LETTA_KEY) == service.list_recurring(world.laptop, LETTA_KEY) == []


def test_cancel_refusals(world: World) -> None:
    """Not an id, and an id that is nobody's, are sentences too."""
    agent = world.agent()
    assert agent.call("cancel_scheduled_message", schedule_id="../etc") == (
        'Switchboard refused: "../etc" is not the id of a scheduled message — ids are UUIDs, as schedule_message '
        "and list_scheduled_messages give them."
    )
    nobody = "3f2b9c1e-8d4a-4b6e-9f0a-1c2d3e4f5a6b"
    assert agent.call("cancel_scheduled_message", schedule_id=nobody) == (
        f"Switchboard refused: no scheduled message with id {nobody} for you — list_scheduled_messages shows their ids."
    )


def test_another_tenants_agent_sees_and_cancels_nothing(world: World) -> None:
    """A grant of another Letta key lists nothing of ours and cannot cancel it; "not found", like a made-up id."""
    ours = world.agent()
    schedule_id = id_in(ours.call("schedule_message", message="Private", when="in 1 hour"))
    theirs = world.agent(api_key=OTHER_KEY)
    assert theirs.call("list_scheduled_messages") == "You have no scheduled messages."
    refused = theirs.call("cancel_scheduled_message", schedule_id=schedule_id)
    assert refused.startswith(f"Switchboard refused: no scheduled message with id {schedule_id} for you"), refused
    # Even naming our agent as the target gives them no view of our schedules: theirs are kept under their key.
    theirs.call("schedule_message", message="Hello", when="in 2 hours", agent_id=ours.agent_id)
    assert "Private" not in theirs.call("list_scheduled_messages")
    assert [s.id for s in service.list_one_time(world.laptop, LETTA_KEY)] == [schedule_id]


def test_an_agent_of_the_same_key_sees_only_its_own(world: World) -> None:
    """Within one tenant, an agent lists and cancels what is addressed to it or made by it, nothing else."""
    first, second = world.agent(), world.agent()
    schedule_id = id_in(first.call("schedule_message", message="Mine", when="in 1 hour"))
    assert second.call("list_scheduled_messages") == "You have no scheduled messages."
    assert "no scheduled message with id" in second.call("cancel_scheduled_message", schedule_id=schedule_id)
    assert schedule_id in first.call("list_scheduled_messages")


def test_a_replaced_or_missing_token_opens_nothing(world: World) -> None:
    """Attaching again replaces the token; a missing one, a forged one and an unreachable server are sentences."""
    old = world.agent()
    world.agent(old.agent_id)  # attach again: a new grant, the old one deleted
    refused = old.call("list_scheduled_messages")
    assert refused.startswith("Switchboard refused: this agent's scheduling token is not valid (revoked or replaced)")

    forged = dict(old.env, SWITCHBOARD_TOKEN=f"sbg.{old.grant.id}.guessed")
    assert "token is not valid" in Agent(forged, old.agent_id, old.grant).call("list_scheduled_messages")

    bare = {"PATH": "/usr/bin:/bin"}
    assert "not set up for this agent" in Agent(bare, old.agent_id, old.grant).call("list_scheduled_messages")

    nowhere = dict(old.env, SWITCHBOARD_URL="http://127.0.0.1:9")
    answer = Agent(nowhere, old.agent_id, old.grant).call("list_scheduled_messages")
    assert answer.startswith("Could not reach switchboard at http://127.0.0.1:9 ("), answer


def test_made_up_tokens_are_rate_limited_before_the_repository_is_read(repo: Repo, key: str) -> None:
    """As a flood of wrong Letta keys is: each wrong token would otherwise cost a fetch, under the app's lock."""
    with serve_api(repo, key, options=ApiOptions(rate_per_minute=6, burst=3)) as server:
        made_up = {"Authorization": f"Bearer sbg.{uuid.uuid4()}.guessed"}
        with httpx.Client(base_url=server.base_url, headers=made_up, trust_env=False) as client:
            codes = [client.get("/agent-tools/schedules").status_code for _ in range(4)]
            assert codes == [401, 401, 401, 429]
            assert "too many calls" in client.get("/agent-tools/schedules").json()["detail"]
            malformed = client.get("/agent-tools/schedules", headers={"Authorization": "Bearer not-a-token"})
            assert malformed.status_code == 401


def test_a_token_in_another_agents_sandbox_is_refused(world: World) -> None:
    """Where the sandbox names the agent (LETTA_AGENT_ID), a token copied to another agent does not work."""
    agent = world.agent()
    assert agent.call("list_scheduled_messages") == "You have no scheduled messages."
    itself = Agent(dict(agent.env, LETTA_AGENT_ID=agent.agent_id), agent.agent_id, agent.grant)
    assert itself.call("list_scheduled_messages") == "You have no scheduled messages."
    copied = Agent(dict(agent.env, LETTA_AGENT_ID="agent-someone-else"), agent.agent_id, agent.grant)
    assert copied.call("list_scheduled_messages") == (
        "Switchboard refused: this scheduling token belongs to another agent — attach the tools to this agent itself."
    )


def test_the_grant_is_encrypted_and_shows_no_secret(world: World, repo: Repo) -> None:
    """The grant file is ciphertext holding neither the token nor the key in the clear; its public view has neither."""
    agent = world.agent()
    token = agent.env["SWITCHBOARD_TOKEN"]
    [path] = [p for p in repo.remote_files() if p.startswith("data/grants/")]
    raw = world.laptop.backend.read(path)
    assert raw is not None and token.encode() not in raw and LETTA_KEY.encode() not in raw
    shown = json.dumps(agent.grant.public())
    assert token.split(".")[2] not in shown and LETTA_KEY not in shown and "mac" not in shown
    assert grants.revoke_grants(world.laptop, api_key=LETTA_KEY, agent_id=agent.agent_id) == [agent.grant.id]
    assert "token is not valid" in agent.call("list_scheduled_messages")
    # Commit messages name grant and schedule ids, never the agent (its id is only inside the ciphertext).
    assert not [line for line in repo.remote_log() if agent.agent_id in line]


def test_the_tool_source_is_what_letta_gets() -> None:
    """Each registered tool is the helper plus one function, with an explicit schema naming its parameters."""
    for name in registry.NAMES:
        body = registry.tool_create(name)
        assert body["json_schema"]["name"] == name
        assert f"def {name}(" in body["source_code"] and "def _switchboard(" in body["source_code"]
        assert "import httpx" not in body["source_code"] and "switchboard." not in body["source_code"]
    assert registry.json_schema("schedule_message")["parameters"]["required"] == ["message", "when"]


@pytest.mark.parametrize(
    ("cron", "minutes"),
    [("*/5 * * * *", 5), ("* * * * *", 1), ("0 9 * * 1", 1440), ("0,59 * * * *", 1), ("58 23 * * *", 1440),
     ("0 */2 * * *", 120), ("30 9,17 * * 1-5", 480)],
)  # fmt: skip
def test_shortest_gap(cron: str, minutes: int) -> None:
    """The least wall-clock time between two fires, from the minute and hour fields."""
    assert shortest_gap(cron) == timedelta(minutes=minutes)


@pytest.mark.parametrize(
    ("phrase", "recurring"),
    [("every monday at 9am", True), ("Each day at noon", True), ("daily at 9", True), ("weekdays at 10am", True),
     ("*/15 * * * *", True), ("in 1 minute", False), ("tomorrow at 9am", False), ("2026-03-11T09:00:00Z", False),
     ("next friday at 10:00", False), ("now", False)],
)  # fmt: skip
def test_looks_recurring(phrase: str, recurring: bool) -> None:
    """The phrase alone tells a repeating schedule from a one-time one."""
    assert looks_recurring(phrase) is recurring


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["--agent-id", "a b"], 'Error: agent id "a b" contains whitespace, a control character or a slash'),
        (["--agent-id", "agent-1", "--serve-url", "ftp://x"], 'Error: --serve-url "ftp://x" is not an http(s) URL'),
        (["--agent-id", "agent-1", "--min-interval", "soon"], 'Error: "soon" is not a duration — use e.g. 90s, 4m'),
        (["--agent-id", "agent-1", "--tz", "Mars/Olympus"], 'Error: unknown time zone "Mars/Olympus"'),
        (["--agent-id", "agent-1", "--max-schedules", "0"], "Error: --max-schedules 0 is not a positive number"),
        (["--agent-id", "agent-00000000-0000-4000-8000-000000000000"], "Error: agent agent-00000000-0000-4000-8000"),
    ],
)
def test_attach_refusals(cli_env: dict[str, str], repo: Repo, args: list[str], expected: str) -> None:
    """Bad input to attach is one Error: line, and nothing is committed."""
    from conftest import run_cli

    before = repo.remote_log()
    done = run_cli("agent-tools", "attach", *args, env=cli_env)
    assert done.returncode == 1 and done.stdout == "", done.stdout
    assert done.stderr.startswith(expected) and done.stderr.count("\n") == 1, done.stderr
    assert repo.remote_log() == before


def test_attach_to_a_server_without_the_tool_api(cli_env: dict[str, str], repo: Repo, standin: object) -> None:
    """A Letta server that cannot take tools (the stand-in has no /v1/tools/) is a clear error; no grant is made."""
    from conftest import run_cli

    agent = standin.add_agent()  # type: ignore[attr-defined]
    done = run_cli("agent-tools", "attach", "--agent-id", agent, env=cli_env)
    assert done.returncode == 1
    assert done.stderr.startswith("Error: Letta answered 404 Not Found while registering schedule_message"), done.stderr
    assert not [p for p in repo.remote_files() if p.startswith("data/grants/")]
    assert cli_env["LETTA_API_KEY"] not in done.stderr
