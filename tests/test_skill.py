"""The switchboard skill for Letta Code agents: where it installs, its front matter, and every command it shows."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest
import tick_support
import yaml
from tick_support import LETTA_KEY, World
from typer.testing import CliRunner

from switchboard.cli import app
from switchboard.skill import SKILL_NAME, front_matter, skill_text

# The fixtures `world`, `letta` and `git_template`.
world_fixture, letta_fixture, git_template_fixture = (
    tick_support.world_fixture,
    tick_support.letta_fixture,
    tick_support.git_template_fixture,
)

AGENT = "agent-0b7cbd6e-2f1e-4e55-9a57-6c1d6f0b2a11"
#: How Letta Code's parseFrontmatter finds the front matter (src/utils/frontmatter.ts).
LETTA_FRONT_MATTER = re.compile(r"^---\n([\s\S]*?)\n---(?:\n([\s\S]*))?$")


def install(home: Path, *args: str) -> tuple[int, str]:
    done = CliRunner().invoke(app, ["skill", "install", *args], env={"HOME": str(home), "USERPROFILE": None})
    return done.exit_code, done.output


def test_install_puts_it_where_letta_code_finds_global_skills(tmp_path: Path) -> None:
    code, out = install(tmp_path)
    assert code == 0, out
    installed = tmp_path / ".letta" / "skills" / "switchboard" / "SKILL.md"
    assert out.startswith(f"Installed: the switchboard skill in {installed.parent}\n")
    assert installed.read_text(encoding="utf-8") == skill_text()
    assert install(tmp_path) == (0, out.replace("Installed", "Already up to date"))
    installed.write_text(skill_text().replace("Scheduling messages", "Old words"), encoding="utf-8")
    assert install(tmp_path)[1].startswith("Updated: ")
    assert installed.read_text(encoding="utf-8") == skill_text()


def test_the_front_matter_is_what_letta_code_requires() -> None:
    text = skill_text()
    match = LETTA_FRONT_MATTER.match(text)
    assert match is not None
    fields = yaml.safe_load(match.group(1))
    assert fields == front_matter(text)
    assert fields["name"] == SKILL_NAME  # the folder it installs into has the same name: Letta Code's id
    assert 100 < len(fields["description"]) <= 1024
    assert "Use when" in fields["description"]  # what makes a model pick it from the skills list
    assert "\n" not in fields["name"] + fields["description"]


def test_project_and_agent_installs(tmp_path: Path) -> None:
    project = tmp_path / "project"
    project.mkdir()
    assert install(tmp_path, "--project", str(project))[0] == 0
    assert (project / ".agents" / "skills" / "switchboard" / "SKILL.md").is_file()
    assert install(tmp_path, "--agent-id", f"agent-local-{AGENT[6:]}")[0] == 0
    agent_dir = tmp_path / ".letta" / "agents" / f"agent-local-{AGENT[6:]}" / "memory" / "skills" / "switchboard"
    assert (agent_dir / "SKILL.md").is_file()
    assert install(tmp_path, "--dir", str(tmp_path / "mine"))[0] == 0
    assert (tmp_path / "mine" / "switchboard" / "SKILL.md").is_file()


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["--agent-id", "agent-1"], 'Error: agent id "agent-1" is not a Letta agent id — pass one such as '),
        (["--dir", "x", "--project", "."], "Error: give at most one of --dir, --project and --agent-id"),
        (["--project", "{home}/nowhere"], "Error: {home}/nowhere is not a folder — pass the project folder "),
    ],
)
def test_bad_install_options_are_one_error_line_and_write_nothing(
    tmp_path: Path, args: list[str], expected: str
) -> None:
    code, out = install(tmp_path, *[a.replace("{home}", str(tmp_path)) for a in args])
    assert code == 1 and out.startswith(expected.replace("{home}", str(tmp_path))) and out.count("\n") == 1, out
    assert not (tmp_path / ".letta").exists()


def test_another_skill_of_the_same_name_is_not_overwritten(tmp_path: Path) -> None:
    theirs = tmp_path / ".letta" / "skills" / "switchboard" / "SKILL.md"
    theirs.parent.mkdir(parents=True)
    theirs.write_text("---\nname: telephone-switchboard\ndescription: x\n---\nmine\n", encoding="utf-8")
    code, out = install(tmp_path)
    assert (code, out) == (
        1,
        f"Error: {theirs} holds another skill, not switchboard's — move it away, or pass another --dir\n",
    )
    assert theirs.read_text(encoding="utf-8").endswith("mine\n")


def skill_commands() -> list[list[str]]:
    """Every `switchboard …` command in the skill's code blocks, continuation lines joined, comments dropped."""
    blocks = re.findall(r"```bash\n(.*?)```", skill_text(), flags=re.S)
    commands = []
    for block in blocks:
        for line in block.replace("\\\n", " ").splitlines():
            if line.startswith("switchboard "):
                commands.append(shlex.split(line, comments=True)[1:])
    return commands


def test_every_command_the_skill_shows_works_in_order(world: World) -> None:
    """Run the skill's commands as an agent would, top to bottom, on a real clone: each one succeeds."""
    agent = world.letta.agents[0]
    env = {
        "SWITCHBOARD_ENCRYPTION_KEY": world.key,
        "SWITCHBOARD_REPO": str(world.path()),
        "LETTA_API_KEY": LETTA_KEY,
        "LETTA_BASE_URL": world.letta.base_url,
        "XDG_CONFIG_HOME": str(world.top / "config"),
        "HOME": str(world.top / "home"),
        "SWITCHBOARD_DEV_MODE": None,
    }
    assert world.store is not None  # the clone the commands write to
    commands = skill_commands()
    assert len(commands) >= 15
    sent: str | None = None
    for args in commands:
        if args[0] == "results" and sent is None:
            # Something delivered to look back at: a message with no time goes at once.
            now = CliRunner().invoke(app, ["send", "--agent-id", agent, "-m", "Now", "--json"], env=env)
            assert now.exit_code == 0, now.output
            sent = str(tick_support.as_json(now.stdout)["id"])
        args = [a.replace("$LETTA_AGENT_ID", agent).replace("<schedule-id>", sent or "-") for a in args]
        done = CliRunner().invoke(app, args, env=env)
        assert done.exit_code == 0, (args, done.output)
    assert len(world.letta.deliveries) == 1  # only the message sent now: the skill's own were deleted
