"""The ``switchboard`` skill for Letta Code agents, and where to install it.

Letta Code extends an agent with skills: a folder holding ``SKILL.md`` (YAML
front matter with ``name`` and ``description``, then instructions the agent
follows, here by running the ``switchboard`` CLI with its Bash tool). It finds
them, in rising priority, in its bundled skills, ``~/.letta/skills/`` (global),
``~/.letta/agents/<agent id>/memory/skills/`` (one agent) and
``.agents/skills/`` in the project the agent works in. ``switchboard skill
install`` copies this folder's ``SKILL.md`` into one of them as
``switchboard/SKILL.md``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from switchboard.exceptions import InvalidInputError
from switchboard.models import check_agent_id

#: The skill's folder name, and the ``name`` in its front matter.
SKILL_NAME = "switchboard"
#: The files the skill is made of (package data beside this module).
FILES = ("SKILL.md",)


def skill_text(name: str = "SKILL.md") -> str:
    """One of the skill's files, as shipped."""
    return resources.files(__name__).joinpath(name).read_text(encoding="utf-8")


def front_matter(text: str) -> dict[str, str]:
    """The ``key: value`` lines between the opening and closing ``---`` of a SKILL.md (empty when there are none)."""
    lines = text.replace("\r\n", "\n").split("\n")
    if not lines or lines[0] != "---" or "---" not in lines[1:]:
        return {}
    end = lines.index("---", 1)
    fields = {}
    for line in lines[1:end]:
        key, sep, value = line.partition(":")
        if sep and key.strip():
            fields[key.strip()] = value.strip()
    return fields


def home(env: Mapping[str, str]) -> Path:
    """The home folder Letta Code uses: HOME, else USERPROFILE (from the settings' environment)."""
    where = env.get("HOME") or env.get("USERPROFILE")
    if not where:
        raise InvalidInputError("neither HOME nor USERPROFILE is set — pass --dir FOLDER to say where skills go")
    return Path(where)


def skills_dir(*, env: Mapping[str, str], project: Path | None = None, agent_id: str | None = None) -> Path:
    """The skills folder Letta Code reads: a project's, one agent's, or (by default) the user's global one."""
    if project is not None:
        return project / ".agents" / "skills"
    if agent_id is not None:
        try:
            agent = check_agent_id(agent_id)
        except ValueError as exc:
            raise InvalidInputError(str(exc)) from None
        return home(env) / ".letta" / "agents" / agent / "memory" / "skills"
    return home(env) / ".letta" / "skills"


@dataclass(frozen=True)
class Installed:
    """Where the skill went, and whether it replaced an earlier copy."""

    folder: Path
    updated: bool
    unchanged: bool


def install(skills: Path) -> Installed:
    """Write the skill into ``skills``/switchboard/, replacing an earlier copy of it.

    A folder of that name holding some other skill is left alone (InvalidInputError): it is not ours to replace.
    """
    folder = skills / SKILL_NAME
    if folder.exists() and not folder.is_dir():
        raise InvalidInputError(f"{folder} exists and is not a folder — move it away, or pass another --dir")
    current = folder / "SKILL.md"
    updated = current.is_file()
    if updated and front_matter(current.read_text(encoding="utf-8", errors="replace")).get("name") != SKILL_NAME:
        raise InvalidInputError(
            f"{current} holds another skill, not switchboard's — move it away, or pass another --dir"
        )
    unchanged = updated and all(
        (folder / name).is_file() and (folder / name).read_text(encoding="utf-8") == skill_text(name) for name in FILES
    )
    try:
        folder.mkdir(parents=True, exist_ok=True)
        for name in FILES:
            (folder / name).write_text(skill_text(name), encoding="utf-8")
    except OSError as exc:
        raise InvalidInputError(
            f"could not write the skill to {folder} ({exc.strerror or type(exc).__name__}) — pass a --dir you can "
            "write to"
        ) from None
    return Installed(folder, updated, unchanged)
