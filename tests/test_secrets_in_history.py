"""Nothing secret is readable anywhere in the repository's history.

A user's whole week, through the CLI: schedules of every kind (some named),
an import, an update, a pause, a delete, a key rotation and ticks whose deliveries succeed and fail
(with Letta echoing the message and an agent reply back). Then every object
of every commit on the remote, and `git log -p`, are searched for the message
texts, the Letta key, every Fernet key and the agent reply.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from conftest import LETTA_KEY, Repo, git
from typer.testing import CliRunner

from switchboard.cli import app
from switchboard.crypto import generate_key
from switchboard.testing.letta import LettaStandIn

runner = CliRunner()
MESSAGES = {
    "now": "Plaintext-now: the safe combination is 31-41-59",
    "replied": "Plaintext-replied: how are you?",
    "failing": "Plaintext-failing: meet at the old mill",
    "recurring": "Plaintext-recurring: water the ficus",
    "later": "Plaintext-later: renew the passport",
    "imported": "Plaintext-imported: from the hosted service",
    "updated": "Plaintext-updated: renew the passport by Friday",
}
#: Names are the user's words too: encrypted like the messages, never in a path or a commit.
NAMES = ["Name-passport-renewal", "Name-safe-combination"]
REPLY = "Agent-reply: I will keep the combination safe"


def all_objects(remote: Path) -> list[bytes]:
    """The content of every object reachable from any ref: blobs, trees and commits."""
    listing = git(remote, "rev-list", "--all", "--objects").splitlines()
    ids = "".join(line.split()[0] + "\n" for line in listing)
    raw = subprocess.run(
        ["git", "cat-file", "--batch"], cwd=remote, input=ids.encode(), capture_output=True, check=True
    ).stdout
    contents, at = [], 0
    while at < len(raw):
        header_end = raw.index(b"\n", at)
        _sha, _kind, size = raw[at:header_end].split()
        start = header_end + 1
        contents.append(raw[start : start + int(size)])
        at = start + int(size) + 1
    assert len(contents) == len(listing)
    return contents


def test_no_secret_is_readable_in_any_commit(
    cli_env: dict[str, str], repo: Repo, standin: LettaStandIn, tmp_path: Path
) -> None:
    def run(*args: str, env: dict[str, str] = cli_env, codes: tuple[int, ...] = (0,)) -> str:
        result = runner.invoke(app, list(args), env=env)
        assert result.exit_code in codes, (args, result.stdout, result.stderr)
        return result.stdout + result.stderr

    plain, happy, grumpy = standin.add_agent(), standin.add_agent(), standin.add_agent()
    standin.script(happy, (200, {"id": "run-with-reply", "status": "completed", "agent_id": happy,
                                 "messages": [{"message_type": "assistant_message", "content": REPLY}]}))  # fmt: skip
    standin.script(grumpy, (422, {"detail": f"cannot take '{MESSAGES['failing']}', {REPLY}"}))

    shown = [
        run("send", "--agent-id", plain, "-m", MESSAGES["now"], "--name", NAMES[1]),
        run("send", "--agent-id", happy, "-m", MESSAGES["replied"]),
        run("send", "--agent-id", grumpy, "-m", MESSAGES["failing"], codes=(1,)),  # sent now, refused for good
        run("send", "--agent-id", happy, "-m", MESSAGES["later"], "--at", "in 3 days", "--name", NAMES[0]),
        run("onetime", "update", NAMES[0], "-m", MESSAGES["updated"], "--at", "in 4 days"),
        run("recurring", "create", "--agent-id", happy, "-m", MESSAGES["recurring"], "--cron", "every minute"),
    ]
    exported = tmp_path / "hosted.json"
    exported.write_text(json.dumps([{"agent_id": happy, "message": MESSAGES["imported"], "cron": "0 9 * * *"}]))
    shown.append(run("import", str(exported)))
    rec = json.loads(run("recurring", "list", "--json"))[0]["id"]
    shown += [run("recurring", "pause", rec), run("recurring", "resume", rec)]
    shown.append(run("tick", codes=(0, 1)))  # one delivery fails for good: exit 1
    old_key, new_key = cli_env["SWITCHBOARD_ENCRYPTION_KEY"], generate_key()
    rotated = cli_env | {"SWITCHBOARD_ENCRYPTION_KEY": f"{new_key},{old_key}"}
    shown.append(run("keys", "rotate", env=rotated))
    later = json.loads(run("onetime", "list", "--json", env=rotated))[0]["id"]
    shown.append(run("onetime", "delete", later, env=rotated))
    results = json.loads(run("results", "list", "--json", env=rotated))

    # The week really happened: Letta got the texts, and both outcomes are recorded.
    assert [d.text for d in standin.deliveries] == [MESSAGES["now"]]  # the others got scripted answers
    assert {r["status"] for r in results} >= {"delivered", "failed"}
    assert any(r["run_id"] == "run-with-reply" for r in results)
    assert any(r["name"] == NAMES[1] for r in results)

    secrets = [*MESSAGES.values(), *NAMES, LETTA_KEY, old_key, new_key, REPLY]
    objects = all_objects(repo.remote)
    assert len(objects) > 20
    assert any(b"# my switchboard" in content for content in objects)  # the scan does see plaintext blobs
    history = git(repo.remote, "log", "-p", "--all", "--format=%H %an %s%n%b")
    for secret in secrets:
        for content in objects:
            assert secret.encode() not in content, f"{secret[:16]}… is readable in the history"
        assert secret not in history
    # Nor is the Letta key, or a Fernet key, ever printed by the commands (the messages are the user's to see).
    for output in shown:
        for secret in (LETTA_KEY, old_key, new_key):
            assert secret not in output
    # The commit subjects say what happened, with ids only.
    subjects = repo.remote_log()
    assert any(s.startswith("switchboard: add one-time ") for s in subjects)
    assert "switchboard: re-encrypt data/ with the newest key" in subjects
