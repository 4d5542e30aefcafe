"""Bad input to every command: the exact `Error:` line, exit 1, and nothing changed anywhere.

One repository (with a one-time and a recurring schedule in it) serves every
case; after each, the remote's log and tree and the clone's HEAD and status
must be as they were. No case may print a key or the message text.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from conftest import LETTA_KEY, Repo, clone_of, git, make_remote
from typer.testing import CliRunner

from switchboard.cli import app, main
from switchboard.crypto import generate_key
from switchboard.testing.letta import LettaStandIn

MESSAGE = "Top secret: the plants need water"
UNKNOWN = "3f2b9c1e-8d4a-4b6e-9f0a-1c2d3e4f5a6b"
NOT_AN_ID = (
    '"{bad}" is not a schedule id — ids are UUIDs such as "3f2b9c1e-8d4a-4b6e-9f0a-1c2d3e4f5a6b" '
    "(see `switchboard onetime list` or `switchboard recurring list`)"
)
ZONE = 'unknown time zone "Mars/Olympus" — use an IANA name such as "Europe/Berlin" or "UTC"'
KEY_MISSING = (
    "SWITCHBOARD_ENCRYPTION_KEY is not set — run `switchboard keys generate` and set the key it prints as "
    "SWITCHBOARD_ENCRYPTION_KEY (and as the repository secret of the same name)"
)
KEY_WRONG = (
    "cannot decrypt data/tenant.key.enc with the keys in SWITCHBOARD_ENCRYPTION_KEY — it was written with "
    "another key: put that key in the list (comma-separated, newest first)"
)
KEY_MALFORMED = (
    "key number {n} in SWITCHBOARD_ENCRYPTION_KEY is not a Fernet key (32 url-safe base64 bytes) — make one "
    "with `switchboard keys generate`"
)
DEV_IN_ACTIONS = (
    "SWITCHBOARD_DEV_MODE=true stores schedules in plaintext and is refused inside GitHub Actions — unset it "
    "and set the SWITCHBOARD_ENCRYPTION_KEY secret instead"
)
AGENT_BAD = (
    'agent id "{shown}" is not a Letta agent id — pass one such as agent-3f2b9c1e-8d4a-4b6e-9f0a-1c2d3e4f5a6b or '
    "agent-local-3f2b9c1e-8d4a-4b6e-9f0a-1c2d3e4f5a6b"
)
PHRASE = (
    'could not understand "blue moon" as a time — try "in 5 minutes", "tomorrow at 9am" or an ISO 8601 time '
    "such as 2026-03-11T09:00:00+01:00"
)
SCHEDULE_PHRASE = (
    'could not understand "every blue moon" as a schedule — try "every monday at 9am", "every weekday at 10am", '
    '"every 15 minutes" or a cron expression such as "0 9 * * 1-5"'
)
SHAPES = (
    'the file is neither a JSON array of schedules nor {"one_time": [...], "recurring": [...]} — export it '
    "with the hosted service's list endpoints"
)

#: An agent id of the shape Letta makes.
AGENT_OK = "agent-0b7cbd6e-2f1e-4e55-9a57-6c1d6f0b2a11"


@dataclass
class World:
    """A repository in use, and what a command needs to reach it."""

    repo: Repo
    env: dict[str, str | None]
    files: Path
    one: str
    rec: str
    agent: str


runner = CliRunner()


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    top = tmp_path_factory.mktemp("errors")
    remote = make_remote(top)
    repo = Repo(remote, clone_of(remote, top / "clone"))
    standin = LettaStandIn(api_keys={LETTA_KEY}).start()
    env: dict[str, str | None] = {
        "SWITCHBOARD_ENCRYPTION_KEY": generate_key(),
        "LETTA_API_KEY": LETTA_KEY,
        "LETTA_BASE_URL": standin.base_url,
        "SWITCHBOARD_REPO": str(repo.clone),
        "XDG_CONFIG_HOME": str(top / "config"),
        "HOME": str(top / "home"),
        **dict.fromkeys(
            [
                "SWITCHBOARD_DEV_MODE",
                "SWITCHBOARD_GITHUB_REPO",
                "SWITCHBOARD_MAX_MESSAGE_BYTES",
                "GITHUB_TOKEN",
                "GITHUB_ACTIONS",
                "GITHUB_STEP_SUMMARY",
            ]
        ),
    }
    agent = standin.add_agent()
    made = [
        runner.invoke(app, [*args, "--agent-id", agent, "-m", MESSAGE, "--json"], env=env)
        for args in (["send", "--at", "2031-05-04T09:00:00Z"], ["recurring", "create", "--cron", "0 9 * * *"])
    ]
    assert [m.exit_code for m in made] == [0, 0], [m.stderr for m in made]
    files = top / "files"
    files.mkdir()
    for name, content in IMPORT_FILES.items():
        (files / name).write_text(content if isinstance(content, str) else json.dumps(content))
    try:
        yield World(repo, env, files, *(json.loads(m.stdout)["id"] for m in made), agent)
    finally:
        standin.stop()


def snapshot(repo: Repo) -> tuple[object, ...]:
    """Everything a command could have changed."""
    return (
        repo.remote_log(),
        repo.remote_files(),
        git(repo.clone, "rev-parse", "HEAD"),
        git(repo.clone, "status", "--porcelain", "--untracked-files=all"),
    )


def refused(world: World, args: list[str], expected: str, env: dict[str, str | None] | None = None) -> None:
    """The command fails with exactly ``Error: expected``, and changes nothing."""
    fill = {"{one}": world.one, "{rec}": world.rec, "{agent}": world.agent, "{files}": str(world.files)}

    def filled(text: str) -> str:
        for name, value in fill.items():
            text = text.replace(name, value)
        return text

    args = [filled(a) for a in args]
    before = snapshot(world.repo)
    result = runner.invoke(app, args, env=world.env | (env or {}))
    assert result.exit_code == 1, (args, result.stdout, result.stderr, result.exception)
    assert result.stdout == ""
    assert result.stderr == f"Error: {filled(expected)}\n"
    shown = result.stdout + result.stderr
    for secret in (LETTA_KEY, MESSAGE, str(world.env["SWITCHBOARD_ENCRYPTION_KEY"])):
        assert secret not in shown
    assert snapshot(world.repo) == before


# -- ids ------------------------------------------------------------------------------------

#: Commands that take a schedule's id, name or id prefix: anything else is looked for in the listing, never a path.
REF_COMMANDS = [
    ["onetime", "get"],
    ["onetime", "delete"],
    ["onetime", "update", "-m", "New text"],
    ["recurring", "get"],
    ["recurring", "delete"],
    ["recurring", "pause"],
    ["recurring", "resume"],
    ["recurring", "update", "-m", "New text"],
    ["recurring", "run"],
]
NO_SUCH_REF = 'no {kind} schedule is named "{bad}" or has an id starting with it, for this Letta key — see {lists}'


@pytest.mark.parametrize("bad", ["../../etc/passwd", "a/b", "%2e%2e"])
@pytest.mark.parametrize("command", REF_COMMANDS, ids=" ".join)
def test_path_like_refs_are_looked_up_not_opened(world: World, command: list[str], bad: str) -> None:
    kind = "one-time" if command[0] == "onetime" else "recurring"
    lists = f"`switchboard {command[0]} list`"
    refused(world, [*command, bad], NO_SUCH_REF.format(kind=kind, bad=bad, lists=lists))


ID_COMMANDS = [
    ["results", "list", "--schedule-id"],
]

NO_SUCH_RESULT = (
    'no schedule and no result is named "{bad}" or has an id starting with it, for this Letta key — see '
    "`switchboard results list`"
)


@pytest.mark.parametrize("bad", ["../../etc/passwd", "a/b", "%2e%2e", "deadbeef"])
def test_results_get_looks_refs_up(world: World, bad: str) -> None:
    refused(world, ["results", "get", bad], NO_SUCH_RESULT.format(bad=bad))


@pytest.mark.parametrize("bad", ["../../etc/passwd", "a/b", "%2e%2e"])
@pytest.mark.parametrize("command", ID_COMMANDS, ids=" ".join)
def test_path_like_ids(world: World, command: list[str], bad: str) -> None:
    refused(world, [*command, bad], NOT_AN_ID.replace("{bad}", bad))


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["onetime", "get", UNKNOWN], f"no one-time schedule with id {UNKNOWN} for this Letta key — list them with "
         "`switchboard onetime list`"),
        (["onetime", "delete", "{rec}"], "no one-time schedule with id {rec} for this Letta key — list them with "
         "`switchboard onetime list`"),
        (["recurring", "pause", "{one}"], "no recurring schedule with id {one} for this Letta key — list them with "
         "`switchboard recurring list`"),
        (["recurring", "delete", UNKNOWN], f"no recurring schedule with id {UNKNOWN} for this Letta key — list them "
         "with `switchboard recurring list`"),
        (["results", "get", UNKNOWN], f"no schedule and no results with id {UNKNOWN} for this Letta key — see "
         "`switchboard results list`"),
    ],
)  # fmt: skip
def test_unknown_ids(world: World, args: list[str], expected: str) -> None:
    refused(world, args, expected)


NOTHING_ONE = "nothing to change — give at least one of --message, --execute-at, --role, --agent-id or --name"
NOTHING_REC = "nothing to change — give at least one of --message, --cron, --tz, --role, --agent-id or --name"
LONG_NAME = "name is 201 characters, more than 200 — shorten it"
UUID_NAME = "name looks like a schedule id (a UUID) — choose a name that is not one"


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["onetime", "update", "{one}"], NOTHING_ONE),
        (["recurring", "update", "{rec}"], NOTHING_REC),
        (["onetime", "update", "{one}", "--tz", "Europe/Berlin"],
         "--tz only says how to read --execute-at for a one-time schedule — give --execute-at too"),
        (["onetime", "update", "{one}", "--tz", "Mars/Olympus", "--at", "tomorrow"], ZONE),
        (["recurring", "update", "{rec}", "--tz", "Mars/Olympus"], ZONE),
        (["recurring", "update", "{rec}", "--cron", "every day at 9am", "--tz", "UTC"],
         "nothing to change — it already runs 0 9 * * * in UTC"),
        (["onetime", "update", "{one}", "--at", "blue moon"], PHRASE),
        (["recurring", "update", "{rec}", "--cron", "every blue moon"], SCHEDULE_PHRASE),
        (["onetime", "update", "{one}", "-m", ""], "message is empty — give the text the agent should receive"),
        (["recurring", "update", "{rec}", "--role", "boss"], "role must be 'user', 'system' or 'assistant'"),
        (["onetime", "update", "{one}", "--agent-id", "a/b"], AGENT_BAD.replace("{shown}", "a/b")),
        (["onetime", "update", "{one}", "--name", "n" * 201], LONG_NAME),
        (["recurring", "update", "{rec}", "--name", UNKNOWN], UUID_NAME),
        (["recurring", "update", "{rec}", "--name", "two\nlines"],
         "name contains a line break or a control character — give one line of text"),
        (["send", "--agent-id", "{agent}", "-m", "x", "--name", "n" * 201], LONG_NAME),
        (["recurring", "create", "--agent-id", "{agent}", "-m", "x", "--cron", "0 9 * * *", "--name", UNKNOWN],
         UUID_NAME),
        (["onetime", "update", UNKNOWN, "-m", "x"], f"no one-time schedule with id {UNKNOWN} for this Letta key — "
         "list them with `switchboard onetime list`"),
        (["recurring", "update", "{one}", "-m", "x"], "no recurring schedule with id {one} for this Letta key — "
         "list them with `switchboard recurring list`"),
        (["onetime", "get", "3f2b"], '"3f2b" is not the name of any of your one-time schedules, and an id prefix '
         "needs at least 8 characters — give more of the id, the whole id, or the name (see `switchboard onetime "
         "list`)"),
        (["recurring", "pause", "{{UUID}}"], 'no recurring schedule is named "{{UUID}}" or has an id starting with '
         "it, for this Letta key — see `switchboard recurring list`"),
        (["onetime", "get", "{" + UNKNOWN + "}"], f'"{{{UNKNOWN}}}" is not a schedule id — write it as a plain '
         f'UUID such as "{UNKNOWN}"'),
    ],
)  # fmt: skip
def test_updates_and_names_refused(world: World, args: list[str], expected: str) -> None:
    refused(world, args, expected)


def test_someone_elses_schedule_is_not_found(world: World) -> None:
    other = {"LETTA_API_KEY": "sk-let-someone-else"}
    refused(
        world,
        ["onetime", "delete", "{one}"],
        "no one-time schedule with id {one} for this Letta key — list them with `switchboard onetime list`",
        env=other,
    )


# -- what a schedule is made of --------------------------------------------------------------

SEND = ["send", "--agent-id", "{agent}", "-m", MESSAGE]
RECURRING = ["recurring", "create", "--agent-id", "{agent}", "-m", MESSAGE, "--cron", "0 9 * * *"]


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        ([*SEND, "--tz", "Mars/Olympus"], ZONE),
        ([*SEND, "--at", "9am", "--tz", "Mars/Olympus"], ZONE),
        ([*RECURRING, "--tz", "Mars/Olympus"], ZONE),
        (["explain", "--at", "9am", "--tz", "Mars/Olympus"], ZONE),
        (["explain", "--every", "every day at 9am", "--tz", "Mars/Olympus"], ZONE),
        (["import", "{files}/good.json", "--tz", "Mars/Olympus"], ZONE),
        ([*SEND, "--at", "9am", "--tz", "europe/berlin"],
         'unknown time zone "europe/berlin" — use an IANA name such as "Europe/Berlin" or "UTC" (did you mean '
         '"Europe/Berlin"?)'),
        ([*SEND, "--at", "blue moon"], PHRASE),
        (["explain", "--at", "blue moon"], PHRASE),
        (["recurring", "create", "--agent-id", "{agent}", "-m", MESSAGE, "--cron", "every blue moon"],
         SCHEDULE_PHRASE),
        (["explain", "--every", "every blue moon"], SCHEDULE_PHRASE),
        (["recurring", "create", "--agent-id", "{agent}", "-m", MESSAGE, "--cron", "99 * * * *"],
         'minute must be 0-59, got 99 in "99 * * * *"'),
        ([*SEND, "--now", "yesterday"], '--now "yesterday" is not ISO 8601 — e.g. 2026-03-10T15:20:00Z'),
        ([*SEND, "--now", "2026-03-10T15:20:00"], '--now "2026-03-10T15:20:00" has no UTC offset — add Z or +01:00'),
        (["explain"], "give exactly one of --at TEXT or --every TEXT"),
        (["explain", "--at", "now", "--every", "every day"], "give exactly one of --at TEXT or --every TEXT"),
        ([*SEND, "--at", "today at 9am", "--tz", "Europe/Berlin", "--now", "2026-03-10T15:20:00Z"],
         '"today at 9am" is Tue 2026-03-10 09:00 CET (Europe/Berlin), 7 hours 20 minutes ago — a one-time message '
         'needs a time still to come: try "tomorrow at 09:00" or "in 10 minutes", or add --allow-past to send it now'),
        (["onetime", "create", "--agent-id", "{agent}", "-m", MESSAGE, "--at", "2026-03-10T15:18:00Z", "--now",
          "2026-03-10T15:20:00Z"],
         '"2026-03-10T15:18:00Z" is Tue 2026-03-10 15:18 UTC, 2 minutes ago — a one-time message needs a time still '
         'to come: try "tomorrow at 15:18" or "in 10 minutes", or add --allow-past to send it now'),
        (["onetime", "update", "{one}", "--at", "yesterday", "--now", "2026-03-10T15:20:00Z"],
         '"yesterday" is Mon 2026-03-09 09:00 UTC, 1 day 6 hours ago — a one-time message needs a time still to '
         'come: try "tomorrow at 09:00" or "in 10 minutes", or add --allow-past to keep it'),
        ([*SEND, "--at", "at 9", "--now", "2026-03-10T15:20:00Z", "--tz", "Europe/Berlin"],
         '"at 9" does not say whether 9:00 is in the morning or the evening — write "9:00am" or "9:00pm" '
         '(or 24-hour "21:00")'),
    ],
)  # fmt: skip
def test_times_zones_and_phrases(world: World, args: list[str], expected: str) -> None:
    refused(world, args, expected)


@pytest.mark.parametrize("command", ["send", "recurring"])
@pytest.mark.parametrize(
    ("agent", "expected"),
    [
        ("a/b", AGENT_BAD.replace("{shown}", "a/b")),
        ("agent 1", AGENT_BAD.replace("{shown}", "agent 1")),
        ("../x", AGENT_BAD.replace("{shown}", "../x")),
        ("agent-1", AGENT_BAD.replace("{shown}", "agent-1")),
        (
            "",
            "agent id is empty — pass the id of a Letta agent, e.g. agent-3f2b9c1e-8d4a-4b6e-9f0a-1c2d3e4f5a6b or "
            "agent-local-3f2b9c1e-8d4a-4b6e-9f0a-1c2d3e4f5a6b",
        ),
    ],
)
def test_bad_agent_ids(world: World, command: str, agent: str, expected: str) -> None:
    args = SEND if command == "send" else RECURRING
    refused(world, [a if a != "{agent}" else agent for a in args], expected)


@pytest.mark.parametrize("command", ["send", "recurring"])
@pytest.mark.parametrize(
    ("message", "env", "expected"),
    [
        ("", {}, "message is empty — give the text the agent should receive"),
        ("   ", {}, "message is empty — give the text the agent should receive"),
        (MESSAGE + "x" * 65536, {}, "message is 65569 bytes of UTF-8, more than the limit of 65536 — shorten it "
         "(or raise SWITCHBOARD_MAX_MESSAGE_BYTES)"),
        (MESSAGE, {"SWITCHBOARD_MAX_MESSAGE_BYTES": "16"}, "message is 33 bytes of UTF-8, more than the limit of 16 — "
         "shorten it (or raise SWITCHBOARD_MAX_MESSAGE_BYTES)"),
        (MESSAGE, {"SWITCHBOARD_MAX_MESSAGE_BYTES": "many"},
         'SWITCHBOARD_MAX_MESSAGE_BYTES="many" is not a positive number of bytes — e.g. 65536'),
    ],
)  # fmt: skip
def test_bad_messages(world: World, command: str, message: str, env: dict[str, str], expected: str) -> None:
    args = SEND if command == "send" else RECURRING
    refused(world, [message if a == MESSAGE else a for a in args], expected, env=env)


@pytest.mark.parametrize("args", [SEND, RECURRING], ids=["send", "recurring"])
def test_bad_role(world: World, args: list[str]) -> None:
    refused(world, [*args, "--role", "boss"], "role must be 'user', 'system' or 'assistant'")


@pytest.mark.parametrize("args", [SEND, RECURRING], ids=["send", "recurring"])
@pytest.mark.parametrize("conversation", ["a b", "conv/1", "c" * 129])
def test_bad_conversation(world: World, args: list[str], conversation: str) -> None:
    shown = conversation if len(conversation) <= 60 else conversation[:60] + "…"
    refused(
        world,
        [*args, "--conversation", conversation],
        f'conversation "{shown}" is not a conversation id — give "default", "new" or the id of one of the agent\'s '
        "conversations (e.g. conv-… or local-conv-…)",
    )


def test_agent_tools_need_the_letta_api(world: World) -> None:
    refused(
        world,
        ["agent-tools", "show", "--agent-id", "{agent}"],
        "ws://127.0.0.1:9 is an App Server, which has no tools API — agent tools need the Letta API (Letta Cloud); "
        "an App Server's agents use the switchboard skill instead",
        env={"LETTA_BASE_URL": "ws://127.0.0.1:9"},
    )


# -- keys -------------------------------------------------------------------------------------------

KEYED_COMMANDS = [
    SEND,
    RECURRING,
    ["onetime", "list"],
    ["onetime", "delete", "{one}"],
    ["recurring", "pause", "{rec}"],
    ["results", "list"],
    ["keys", "rotate"],
    ["import", "{files}/good.json"],
]


@pytest.mark.parametrize("args", KEYED_COMMANDS, ids=lambda a: " ".join(a[:2]))
@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({"SWITCHBOARD_ENCRYPTION_KEY": generate_key()}, KEY_WRONG),
        ({"SWITCHBOARD_ENCRYPTION_KEY": None}, KEY_MISSING),
        ({"SWITCHBOARD_ENCRYPTION_KEY": "not-a-key"}, KEY_MALFORMED.replace("{n}", "1")),
        ({"SWITCHBOARD_ENCRYPTION_KEY": f"{generate_key()},abc"}, KEY_MALFORMED.replace("{n}", "2")),
        ({"SWITCHBOARD_DEV_MODE": "true", "GITHUB_ACTIONS": "true"}, DEV_IN_ACTIONS),
    ],
    ids=["wrong", "missing", "malformed", "malformed-second", "dev-mode-in-actions"],
)
def test_keys(world: World, args: list[str], env: dict[str, str | None], expected: str) -> None:
    refused(world, args, expected, env=env)


@pytest.mark.parametrize("args", [["init"], ["tick"], ["tick", "--dry-run"]], ids=" ".join)
def test_a_malformed_key_for_init_and_tick(world: World, args: list[str]) -> None:
    refused(world, args, KEY_MALFORMED.replace("{n}", "1"), env={"SWITCHBOARD_ENCRYPTION_KEY": "not-a-key"})


def test_dev_mode_in_actions_for_init_and_tick(world: World) -> None:
    actions = {"SWITCHBOARD_ENCRYPTION_KEY": None, "SWITCHBOARD_DEV_MODE": "yes", "GITHUB_ACTIONS": "true"}
    refused(world, ["init"], DEV_IN_ACTIONS, env=actions)
    config = Path(str(world.env["XDG_CONFIG_HOME"])) / "letta-switchboard" / "config.json"
    assert not config.exists()  # init saved no key it could not use
    before = snapshot(world.repo)
    result = runner.invoke(app, ["tick"], env=world.env | actions)
    assert result.exit_code == 1
    # Inside Actions the tick first asks the runner to mask its secrets; then the one error line.
    *masks, last = result.stderr.splitlines()
    assert all(line.startswith("::add-mask::") for line in masks)
    assert last == f"Error: {DEV_IN_ACTIONS}"
    assert snapshot(world.repo) == before


def test_dev_mode_is_refused_where_plaintext_would_leave_the_machine(world: World) -> None:
    """Plaintext is for a clone that stays here: not one that pushes to GitHub, nor --github mode."""
    dev = {"SWITCHBOARD_ENCRYPTION_KEY": None, "SWITCHBOARD_DEV_MODE": "true"}
    advice = (
        "unset it and set SWITCHBOARD_ENCRYPTION_KEY (`switchboard keys generate` makes one), "
        "or use dev mode in a clone without a remote"
    )
    pushes_to = "https://x-access-token:ghp_pushsecret@github.com/octo/my-switchboard.git"
    git(world.repo.clone, "remote", "set-url", "--push", "origin", pushes_to)
    try:
        for args in ([*SEND, "--at", "2031-05-04T09:00:00Z"], ["tick"], ["onetime", "list"], ["init"]):
            refused(
                world,
                args,
                f"SWITCHBOARD_DEV_MODE=true stores schedules in plaintext, and git clone at {world.repo.clone} "
                f"(pushing to origin) publishes to github.com — {advice}",
                env=dev,
            )
    finally:
        git(world.repo.clone, "config", "--unset", "remote.origin.pushurl")
    github = {"SWITCHBOARD_GITHUB_REPO": "octo/my-switchboard", "GITHUB_TOKEN": "ghp_tokensecret"}
    refused(
        world,
        ["onetime", "list"],
        "SWITCHBOARD_DEV_MODE=true stores schedules in plaintext, and GitHub repository octo/my-switchboard, "
        f"default branch publishes to api.github.com — {advice}",
        env=dev | github,
    )


def test_init_without_a_key_in_a_repository_set_up_with_one(world: World) -> None:
    refused(
        world,
        ["init"],
        f"SWITCHBOARD_ENCRYPTION_KEY is not set, and git clone at {world.repo.clone} (pushing to origin) is already "
        "set up with a key — put that key (the one stored as the repository secret) in SWITCHBOARD_ENCRYPTION_KEY "
        "and run init again",
        env={"SWITCHBOARD_ENCRYPTION_KEY": None},
    )
    assert not (Path(str(world.env["XDG_CONFIG_HOME"])) / "letta-switchboard" / "config.json").exists()


def test_init_refuses_a_key_the_repository_was_not_made_with(world: World) -> None:
    refused(
        world,
        ["init"],
        f"data/tenant.key.enc in git clone at {world.repo.clone} (pushing to origin) was made with another key — "
        "this repository is already set up: put its key in SWITCHBOARD_ENCRYPTION_KEY (the one stored as the "
        "repository secret), then run init again",
        env={"SWITCHBOARD_ENCRYPTION_KEY": generate_key()},
    )


def test_keys_rotate_refuses_dev_mode(world: World) -> None:
    refused(
        world,
        ["keys", "rotate"],
        "dev mode stores plaintext: there is nothing to rotate",
        {"SWITCHBOARD_DEV_MODE": "1"},
    )


# -- import ---------------------------------------------------------------------------------------------

GOOD = {"agent_id": AGENT_OK, "message": "imported", "execute_at": "2031-05-04T09:00:00Z"}
IMPORT_FILES: dict[str, object] = {
    "good.json": [GOOD],
    "not-json.json": "{ this is not json",
    "shape.json": {"schedules": []},
    "shape-value.json": {"one_time": 5},
    "scalar.json": [GOOD, 1],
    "no-time.json": [{"agent_id": AGENT_OK, "message": "imported"}],
    "bad-role.json": [GOOD, GOOD | {"role": "boss"}],
    "bad-time.json": [GOOD | {"execute_at": "soon"}],
    "bad-cron.json": {"recurring": [{"agent_id": AGENT_OK, "message": "m", "cron": "every blue moon"}]},
    "bad-agent.json": [GOOD | {"agent_id": "a/b"}],
    "empty-message.json": [GOOD | {"message": ""}],
    "twice.json": [GOOD | {"id": UNKNOWN}, GOOD | {"id": UNKNOWN.upper()}],
}


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("missing.json", "{files}/missing.json does not exist — give the path of the exported JSON"),
        ("not-json.json", "{files}/not-json.json is not readable JSON (JSONDecodeError) — nothing was imported"),
        (".", "{files} is not readable JSON (IsADirectoryError) — nothing was imported"),
        ("shape.json", SHAPES),
        ("shape-value.json", SHAPES),
        ("scalar.json", "item 2 is not a JSON object — nothing was imported"),
        ("no-time.json", "item 1 has neither execute_at nor cron — nothing was imported"),
        ("bad-role.json", "item 2: role must be 'user', 'system' or 'assistant' — nothing was imported"),
        ("bad-time.json", 'item 1: execute_at "soon" is not an ISO 8601 time such as 2026-03-11T09:00:00Z — nothing '
         "was imported"),
        ("bad-cron.json", 'item 1: "every blue moon" is not a cron expression — a cron expression has 5 fields: '
         "minute (0-59), hour (0-23), day of month (1-31), month (1-12) and day of week (0-6, Sunday is 0) — "
         "nothing was imported"),
        ("bad-agent.json", f"item 1: {AGENT_BAD.replace('{shown}', 'a/b')} — nothing was imported"),
        ("empty-message.json", "item 1: message is empty — give the text the agent should receive — nothing was "
         "imported"),
        ("twice.json", f"the file has two schedules with the id {UNKNOWN} — nothing was imported"),
    ],
)  # fmt: skip
def test_bad_import_files(world: World, name: str, expected: str) -> None:
    refused(world, ["import", f"{{files}}/{name}"], expected)


# -- config --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["config", "set-url", "ftp://letta"], '"ftp://letta" is not an http(s) or ws(s) URL — e.g. '
         "https://api.letta.com, or ws://127.0.0.1:4500 for an App Server"),
        (["config", "set-url", "http://"], '"http://" is not an http(s) or ws(s) URL — e.g. https://api.letta.com, '
         "or ws://127.0.0.1:4500 for an App Server"),
        (["config", "set-repo"], "give either a PATH to a clone or --github OWNER/NAME"),
        (["config", "set-repo", "{files}/nowhere"], "{files}/nowhere does not exist or is not a folder — pass --repo "
         "PATH of your clone (or set SWITCHBOARD_REPO)"),
        (["config", "set-repo", "{files}"], "{files} is not inside a git repository — run switchboard inside your "
         "clone, or pass --repo PATH (or set SWITCHBOARD_REPO)"),
        (["config", "set-repo", "--github", "octocat"], '"octocat" is not OWNER/NAME — e.g. --github '
         "octocat/my-switchboard"),
        (["config", "set-api-key", "  "], "the Letta API key is empty — copy it from the Letta dashboard (API keys)"),
    ],
)  # fmt: skip
def test_config(world: World, args: list[str], expected: str) -> None:
    refused(world, args, expected)
    assert not (Path(str(world.env["XDG_CONFIG_HOME"])) / "letta-switchboard" / "config.json").exists()


# -- usage errors, through main() ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["send", "--agent-id", "a"], "missing option '--message' / '-m' — see `switchboard send --help`"),
        (["onetime", "get"], "missing argument 'ID' — see `switchboard onetime get --help`"),
        (["bogus"], "no such command 'bogus' — see `switchboard --help`"),
        (["send", "--agent-id", "a", "-m", "Top", "secret:", "the", "plants"],
         '3 unexpected extra arguments — put a value with spaces in quotes, e.g. --message "Good morning" — see '
         "`switchboard send --help`"),
        (["results", "list", "--limit", "0"],
         "invalid value for '--limit': Input should be greater than or equal to 1 — see `switchboard results list "
         "--help`"),
        (["onetime", "list", "--jsn"],
         "no such option: --jsn (Possible options: --json) — see `switchboard onetime list --help`"),
    ],
)  # fmt: skip
def test_usage_errors_are_one_line_too(
    args: list[str], expected: str, capsys: pytest.CaptureFixture[str], world: World
) -> None:
    before = snapshot(world.repo)
    assert main(args) == 1
    out, err = capsys.readouterr()
    assert (out, err) == ("", f"Error: {expected}\n")
    assert snapshot(world.repo) == before


def test_a_group_alone_shows_its_help(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["onetime"]) == 0
    out, err = capsys.readouterr()
    assert "list" in out and "delete" in out and "Error" not in out + err


def test_a_missing_extra_is_named_not_called_a_bug(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # An install without the `github` extra: importing PyGithub fails for real.
    monkeypatch.setitem(sys.modules, "github", None)
    monkeypatch.delitem(sys.modules, "switchboard.backends.github", raising=False)
    monkeypatch.setenv("GITHUB_TOKEN", "ghp_not-used")
    monkeypatch.setenv("SWITCHBOARD_ENCRYPTION_KEY", generate_key())
    monkeypatch.delenv("SWITCHBOARD_DEBUG", raising=False)
    assert main(["--github", "someone/somewhere", "onetime", "list"]) == 1
    out, err = capsys.readouterr()
    assert out == ""
    assert err.startswith("Error: this command needs switchboard's [github] extra (github is not installed)")
    assert "bug" not in err and len(err.splitlines()) == 1
