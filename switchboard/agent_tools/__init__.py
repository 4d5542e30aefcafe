"""Letta tools with which an agent schedules its own messages, served by ``switchboard serve``.

- ``source.py`` — the tools: plain, stdlib-only Python functions whose source
  Letta runs in its tool sandbox; they call ``switchboard serve`` over HTTP;
- ``registry.py`` — their source and JSON schemas, as Letta's tool API takes them;
- ``grants.py`` — the credential the tools carry: a per-agent grant token, not the Letta key;
- ``scheduling.py`` — what a grant may do (its tenant, its agent, its limits), and the sentences;
- ``attach.py`` — ``switchboard agent-tools attach|detach|show`` against the agent's Letta server.

The routes are ``switchboard/api/agent_tools.py``; the command is ``switchboard/cli/agent_tools.py``.
"""
