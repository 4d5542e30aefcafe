"""The tools themselves: plain Python functions whose source is registered on the Letta server.

Letta runs a custom tool's source in its sandbox, which may have nothing but
the standard library, so everything here imports inside the functions and
uses urllib only. Each tool's source is :func:`_switchboard` followed by the
tool function (see ``registry.tool_source``). What the tools need comes from
the agent's tool environment, set by ``switchboard agent-tools attach``:

- ``SWITCHBOARD_URL``: where ``switchboard serve`` answers;
- ``SWITCHBOARD_TOKEN``: the agent's grant token (see ``grants.py``);
- ``LETTA_AGENT_ID``, when the sandbox sets it (newer Letta servers do): sent
  along so that a token copied into another agent's environment is refused.

Every tool returns one sentence, never raises: a refusal or an outage comes
back as a sentence the agent can repeat.
"""

from __future__ import annotations


def _switchboard(method: str, path: str, body: object = None) -> str:
    """Call switchboard serve and return the sentence it answers (or one saying what went wrong)."""
    import json
    import os
    import urllib.error
    import urllib.request

    url = os.environ.get("SWITCHBOARD_URL", "").strip().rstrip("/")
    token = os.environ.get("SWITCHBOARD_TOKEN", "").strip()
    if not url or not token:
        return (
            "The scheduling tools are not set up for this agent (SWITCHBOARD_URL or SWITCHBOARD_TOKEN is "
            "missing) — ask the user to run `switchboard agent-tools attach` for it."
        )
    headers = {"Authorization": "Bearer " + token, "Accept": "application/json"}
    own_id = os.environ.get("LETTA_AGENT_ID", "").strip()
    if own_id:
        headers["X-Letta-Agent-Id"] = own_id
    data = None
    if body is not None:
        data = json.dumps(body).encode("utf-8")
        headers["Content-Type"] = "application/json"
    request = urllib.request.Request(url + path, data=data, headers=headers, method=method)
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            answer = json.loads(response.read().decode("utf-8"))
        return str(answer.get("sentence") or "Done.")
    except urllib.error.HTTPError as exc:
        try:
            detail = json.loads(exc.read().decode("utf-8")).get("detail")
        except Exception:
            detail = None
        if isinstance(detail, list):
            detail = "; ".join(str(item.get("msg", item)) if isinstance(item, dict) else str(item) for item in detail)
        return "Switchboard refused: " + str(detail or f"HTTP {exc.code}") + "."
    except Exception as exc:
        reason = getattr(exc, "reason", None) or type(exc).__name__
        return f"Could not reach switchboard at {url} ({reason}) — try again later, or tell the user."


def schedule_message(message: str, when: str, timezone: str = "", to_agent_id: str = "") -> str:
    """Schedule a message for later: to yourself by default, once or repeatedly.

    Args:
        message: The text you (or the other agent) will receive at that time, e.g. a reminder to yourself.
        when: When to send it: "in 10 minutes", "tomorrow at 9am", an ISO 8601 time, or, to repeat it,
            "every monday at 9am", "every weekday at 10am" or a cron expression.
        timezone: IANA time zone the time is read in, e.g. "Europe/Berlin" (default: the zone set for you).
        to_agent_id: Another agent's id to send it to instead of yourself (default: yourself).

    Returns:
        str: A sentence saying what was scheduled, when it goes out and its id.
    """
    # Not "agent_id": Letta (0.16.8) fills a tool parameter of that name with the calling agent's id itself,
    # and a call that also gives it fails with "keyword argument repeated: agent_id".
    body = {"message": message, "when": when, "timezone": timezone or None, "to_agent_id": to_agent_id or None}
    return _switchboard("POST", "/agent-tools/schedules", body)


def list_scheduled_messages(timezone: str = "") -> str:
    """List your scheduled messages: their ids, when each goes out next and what it says.

    Args:
        timezone: IANA time zone to show the times in, e.g. "Europe/Berlin" (default: the zone set for you).

    Returns:
        str: A sentence listing them.
    """
    from urllib.parse import quote

    query = "?timezone=" + quote(timezone) if timezone else ""
    return _switchboard("GET", "/agent-tools/schedules" + query)


def cancel_scheduled_message(schedule_id: str) -> str:
    """Cancel one of your scheduled messages, by the id that schedule_message or list_scheduled_messages gave.

    Args:
        schedule_id: The id of the scheduled message (a UUID).

    Returns:
        str: A sentence saying what was cancelled.
    """
    from urllib.parse import quote

    return _switchboard("DELETE", "/agent-tools/schedules/" + quote(schedule_id.strip(), safe=""))
