"""The REST API of ``switchboard serve`` (needs the ``api`` extra: fastapi and uvicorn).

- ``app.py`` — ``create_app``: routes, errors, body limit, the ticker's lifespan.
- ``hosted.py`` — the hosted service's ``/schedules`` and ``/results`` endpoints.
- ``letta_schedule.py`` — Letta Cloud's ``/v1/agents/{agent_id}/schedule`` API.
- ``web.py`` — the page at ``/``, ``/explain``, ``/health``; ``static/`` holds the page.
- ``auth.py`` — the Letta key check (cached) and the per-tenant rate limit.
- ``deps.py`` — options, shared state, the store lock, FastAPI dependencies, what the schedule routes share.
- ``ticker.py`` — the tick loop of ``--tick-every``.
- ``schemas.py`` — request and response bodies.
"""

from switchboard.api.app import create_app
from switchboard.api.deps import ApiOptions

__all__ = ["ApiOptions", "create_app"]
