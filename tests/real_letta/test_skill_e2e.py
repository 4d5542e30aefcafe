"""An agent that follows the switchboard skill gets its own message back from a tick (real App Server).

The agent does what a model would: it loads the installed skill with Letta
Code's ``Skill`` tool (the server finds it in ``~/.letta/skills`` and hands
the agent SKILL.md), then, asked for a reminder, runs
``switchboard send --agent-id "$LETTA_AGENT_ID" … --execute-at "in 1 minute"``
with its ``Bash`` tool, as SKILL.md says. The App Server runs Bash as its own
user with ``LETTA_AGENT_ID`` set; the schedule lands in the repository; a
tick a little later delivers that message, in its envelope, back to the same
agent, once. The fake model (scripts/fake_model.py) makes each tool call a
user message's ``tool_directive`` asks for, in the shape Letta Code's tools
take (``{"skill": …}``; ``{"command": …, "description": …}``).

Written against the ``app_server`` and ``app_env`` fixtures of
tests/real_letta/conftest.py (``base_url``, ``token``, ``agent_id``,
``home``, ``send``, ``messages``).
"""

from __future__ import annotations

import importlib.util
import json
import shlex
import subprocess
import sys
import uuid
from datetime import datetime, timedelta
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from conftest import run_cli

from switchboard.envelope import written
from switchboard.skill import skill_text
from switchboard.tick import OTID_NAMESPACE

pytestmark = pytest.mark.real_letta

ROOT = Path(__file__).resolve().parents[2]


def _fake_model() -> ModuleType:
    spec = importlib.util.spec_from_file_location("fake_model_for_skill", ROOT / "scripts" / "fake_model.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


tool_directive = _fake_model().tool_directive

#: The switchboard command the agent's shell runs: this checkout's, whatever the server's PATH holds.
SWITCHBOARD = str(Path(sys.executable).with_name("switchboard"))


def cli(env: dict[str, str], *args: str) -> Any:
    """Run `switchboard ARGS --json` as the user would; its parsed stdout."""
    done: subprocess.CompletedProcess[str] = run_cli(*args, "--json", env=env)
    assert done.returncode == 0, f"switchboard {args[0]} exited {done.returncode}: {done.stderr}"
    return json.loads(done.stdout)


def text_of(message: dict[str, Any]) -> str:
    """A stored user message's own text (the App Server may put its reminders in front of it)."""
    content = message["content"]
    return content if isinstance(content, str) else str(content[-1]["text"])


def test_an_agent_that_followed_the_skill_gets_its_own_message_back(
    app_server: Any, app_env: dict[str, str], tmp_path: Path
) -> None:
    # The user installs the skill where the server's Letta Code looks for global skills.
    installed = run_cli("skill", "install", "--json", env={**app_env, "HOME": str(app_server.home)})
    assert installed.returncode == 0, installed.stderr
    assert (app_server.home / ".letta" / "skills" / "switchboard" / "SKILL.md").read_text() == skill_text()

    # Asked about reminders, the agent loads the skill: the server hands it SKILL.md as it was installed.
    loaded = app_server.send("Can you remind me of things later? " + tool_directive("Skill", {"skill": "switchboard"}))
    assert loaded.status == "completed", loaded
    said = [text_of(m) for m in app_server.messages()[:10] if m.get("message_type") == "user_message"]
    [handed] = [t for t in said if t.startswith('<skill_content name="switchboard">')]
    assert skill_text().split("---\n", 2)[2].strip() in handed

    # What the agent's shell needs to reach the repository, kept in a file so no key is in its messages.
    settings = tmp_path / "switchboard.env"
    settings.write_text("".join(f"export {k}={shlex.quote(v)}\n" for k, v in app_env.items() if k != "HOME"))
    text = f"skill e2e {uuid.uuid4().hex[:8]}: check the build"
    command = (
        f'. {shlex.quote(str(settings))} && {shlex.quote(SWITCHBOARD)} send --agent-id "$LETTA_AGENT_ID" '
        f'--tz Europe/Berlin --name skill-e2e --execute-at "in 1 minute" --message {shlex.quote(text)} --json'
    )
    asked = datetime.now().astimezone()
    turn = app_server.send(
        "Remind yourself in a minute to check the build. "
        + tool_directive("Bash", {"command": command, "description": "Schedule a reminder with switchboard"})
    )
    assert turn.status == "completed", turn

    # The agent's command stored a schedule, to itself, a minute out, in the envelope by default.
    [pending] = [s for s in cli(app_env, "onetime", "list") if s["name"] == "skill-e2e"]
    assert (pending["agent_id"], pending["message"], pending["envelope"]) == (app_server.agent_id, text, True)
    due = datetime.fromisoformat(pending["execute_at"])
    assert timedelta(seconds=30) <= due - asked <= timedelta(minutes=5), (asked, due)

    ran = next(m for m in app_server.messages() if m.get("message_type") == "tool_return_message")  # newest first
    assert json.loads(ran["tool_return"])["id"] == pending["id"], ran  # the agent saw the answer SKILL.md promises

    # A tick after it is due delivers it back to the same agent, once.
    report = cli(app_env, "tick", "--now", (due + timedelta(minutes=1)).isoformat())
    [result] = [r for r in report["results"] if r["schedule_id"] == pending["id"]]
    assert (result["status"], result["agent_id"], result["run_end"]) == ("delivered", app_server.agent_id, "completed")
    otid = str(uuid.uuid5(OTID_NAMESPACE, f"{pending['id']}@{due.isoformat()}"))
    [arrived] = app_server.with_otid(otid)
    assert written(text_of(arrived)) == text
    assert 'Scheduled message "skill-e2e" from switchboard.' in text_of(arrived)
    assert "Time zone: Europe/Berlin" in text_of(arrived)
    again = cli(app_env, "tick", "--now", (due + timedelta(minutes=2)).isoformat())
    assert [r for r in again["results"] if r["schedule_id"] == pending["id"]] == []
    # Nothing the agent saw or said holds the key or the token its shell used.
    seen = json.dumps(app_server.messages())
    assert app_env["SWITCHBOARD_ENCRYPTION_KEY"] not in seen and app_server.token not in seen
