"""End-to-end tests against a real Letta server (marker ``real_letta``).

A package on purpose: pytest then imports this folder's conftest as
``real_letta.conftest`` instead of a second top-level ``conftest`` module,
which would replace ``tests/conftest.py`` in ``sys.modules`` and break every
``from conftest import …`` (tests/api_server.py) in a full run.
"""
