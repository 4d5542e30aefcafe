"""Test support shipped on purpose, apart from the product (as Starlette ships ``starlette.testclient``).

- ``letta.py`` — a Letta REST server on 127.0.0.1, built from Letta's documented shapes
  (``python -m switchboard.testing.letta --port 8283``); ``switchboard demo`` uses it too;
- ``github.py`` — the GitHub REST API as PyGithub meets it, over a real bare git repository
  (needs the ``github`` extra);
- ``letta_schedules.py`` — Letta Cloud's native schedule API, mounted by the Letta stand-in;
- ``corpus.py`` — scores the time parser against a table of phrases and their meanings
  (``python -m benchmarks.corpus FILE.tsv``).

Nothing in the product imports this package except ``demo``.
"""
