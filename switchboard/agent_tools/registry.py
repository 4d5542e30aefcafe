"""The three tools as Letta's tool API takes them: source code and an OpenAI-style JSON schema.

The schema is given explicitly rather than left for Letta to derive from the
docstring, so every Letta version shows the model the same parameters.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

from switchboard.agent_tools import source

#: The tag every tool switchboard registers carries.
TAG = "switchboard"

_STRING = {"type": "string"}

TOOLS: dict[str, tuple[Callable[..., str], dict[str, dict[str, Any]], list[str]]] = {
    "schedule_message": (
        source.schedule_message,
        {
            "message": {**_STRING, "description": "The text to receive at that time, e.g. a reminder to yourself."},
            "when": {
                **_STRING,
                "description": 'When: "in 10 minutes", "tomorrow at 9am", ISO 8601, or repeating: '
                '"every monday at 9am", "every weekday at 10am", a cron expression.',
            },
            "timezone": {**_STRING, "description": 'IANA time zone for the time, e.g. "Europe/Berlin" (optional).'},
            "to_agent_id": {**_STRING, "description": "Another agent to send it to instead of yourself (optional)."},
        },
        ["message", "when"],
    ),
    "list_scheduled_messages": (
        source.list_scheduled_messages,
        {"timezone": {**_STRING, "description": 'IANA time zone to show times in, e.g. "Europe/Berlin" (optional).'}},
        [],
    ),
    "cancel_scheduled_message": (
        source.cancel_scheduled_message,
        {"schedule_id": {**_STRING, "description": "The id of the scheduled message (a UUID)."}},
        ["schedule_id"],
    ),
}

NAMES = tuple(TOOLS)


def tool_source(name: str) -> str:
    """The source Letta runs for tool ``name``: the shared HTTP helper, then the tool function."""
    function = TOOLS[name][0]
    return inspect.getsource(source._switchboard) + "\n\n" + inspect.getsource(function)


def description(name: str) -> str:
    """The first line of the tool's docstring: what the model reads about it."""
    doc = inspect.getdoc(TOOLS[name][0]) or name
    return doc.splitlines()[0]


def json_schema(name: str) -> dict[str, Any]:
    """The tool's OpenAI function schema."""
    _, properties, required = TOOLS[name]
    return {
        "name": name,
        "description": description(name),
        "parameters": {"type": "object", "properties": properties, "required": required},
    }


def tool_create(name: str) -> dict[str, Any]:
    """The ``PUT /v1/tools/`` body (Letta's ToolCreate) that registers or updates tool ``name``."""
    return {
        "source_code": tool_source(name),
        "source_type": "python",
        "json_schema": json_schema(name),
        "description": description(name),
        "tags": [TAG],
    }
