"""Schemathesis against ``/openapi.json`` of a real running API: no input may make it answer 500.

Every operation is fuzzed with a few valid and a few invalid examples
(bounded: well under a few minutes in all), with a real key, so requests get
past the key check into validation, the store and git. Besides "no 5xx",
every answer must have a status code, content type and shape the document
declares.

Schemathesis's own pytest loader (``from_fixture``) does not run on pytest 9,
so each operation is a parametrized test that draws cases from
``operation.as_strategy`` with Hypothesis directly.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from api_server import ApiServer, serve_api
from conftest import LETTA_KEY, Repo, clone_of, make_remote
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable

from switchboard.agent_tools.grants import create_grant
from switchboard.backends.git import GitBackend
from switchboard.crypto import codec_from_keys, generate_key
from switchboard.index import indexed_store

schemathesis = pytest.importorskip("schemathesis", reason="schemathesis is not installed")
from schemathesis.specs.openapi.checks import positive_data_acceptance  # noqa: E402

pytestmark = pytest.mark.slow

#: Examples per operation and mode; SWITCHBOARD_FUZZ_EXAMPLES=200 for a deeper run by hand.
MAX_EXAMPLES = int(os.environ.get("SWITCHBOARD_FUZZ_EXAMPLES", "15"))

#: Every operation of the document (test_every_operation_is_fuzzed keeps this list honest).
OPERATIONS = [
    ("POST", "/schedules/one-time"),
    ("GET", "/schedules/one-time"),
    ("GET", "/schedules/one-time/{schedule_id}"),
    ("DELETE", "/schedules/one-time/{schedule_id}"),
    ("PATCH", "/schedules/one-time/{schedule_id}"),
    ("POST", "/schedules/recurring"),
    ("GET", "/schedules/recurring"),
    ("GET", "/schedules/recurring/{schedule_id}"),
    ("DELETE", "/schedules/recurring/{schedule_id}"),
    ("PATCH", "/schedules/recurring/{schedule_id}"),
    ("POST", "/schedules/recurring/{schedule_id}/pause"),
    ("POST", "/schedules/recurring/{schedule_id}/resume"),
    ("POST", "/schedules/recurring/{schedule_id}/run"),
    ("GET", "/results"),
    ("GET", "/results/{schedule_id}"),
    ("GET", "/results/{schedule_id}/history"),
    ("POST", "/v1/agents/{agent_id}/schedule"),
    ("GET", "/v1/agents/{agent_id}/schedule"),
    ("GET", "/v1/agents/{agent_id}/schedule/{scheduled_message_id}"),
    ("DELETE", "/v1/agents/{agent_id}/schedule/{scheduled_message_id}"),
    ("GET", "/explain"),
    ("GET", "/health"),
    ("POST", "/agent-tools/schedules"),
    ("GET", "/agent-tools/schedules"),
    ("DELETE", "/agent-tools/schedules/{schedule_id}"),
]


@pytest.fixture(scope="module")
def fuzzed_api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ApiServer]:
    """One API for the whole module (a server per example would only measure startup)."""
    top: Path = tmp_path_factory.mktemp("fuzz")
    remote = make_remote(top)
    repo = Repo(remote, clone_of(remote, top / "clone"))
    key = generate_key()
    with serve_api(repo, key) as server:
        # The agent-tools routes take an agent's grant token instead of a Letta key: make one, as attach does.
        laptop = indexed_store(GitBackend(repo.another_clone("laptop")), codec_from_keys(key))
        _, token = create_grant(
            laptop, api_key=LETTA_KEY, base_url=server.standin.base_url, agent_id=server.agent, now=datetime.now(UTC)
        )
        server.app.state.fuzz_token = token
        yield server


@pytest.fixture(scope="module")
def api_schema(fuzzed_api: ApiServer) -> schemathesis.BaseSchema:
    """The served OpenAPI document, as schemathesis reads it."""
    return schemathesis.openapi.from_url(f"{fuzzed_api.base_url}/openapi.json")


def test_every_operation_is_fuzzed(api_schema: schemathesis.BaseSchema) -> None:
    served = {(op.ok().method.upper(), op.ok().path) for op in api_schema.get_all_operations()}
    assert served == set(OPERATIONS)


@pytest.mark.parametrize("mode", ["positive", "negative"])
@pytest.mark.parametrize(("method", "path"), OPERATIONS, ids=[f"{m} {p}" for m, p in OPERATIONS])
def test_no_input_makes_the_api_fail(
    api_schema: schemathesis.BaseSchema, fuzzed_api: ApiServer, method: str, path: str, mode: str
) -> None:
    operation = api_schema[path][method]
    # The key is fixed, not generated: requests get past the key check, and a "missing key" is never
    # counted as the invalid part of a negative case.
    auth = {"Authorization": f"Bearer {LETTA_KEY}"}
    if path.startswith("/agent-tools/"):
        auth = {"Authorization": f"Bearer {fuzzed_api.app.state.fuzz_token}"}
    strategy = operation.as_strategy(generation_mode=schemathesis.GenerationMode(mode), headers=auth)

    @given(case=strategy)
    @settings(
        max_examples=MAX_EXAMPLES,
        deadline=None,
        database=None,
        phases=[Phase.explicit, Phase.generate, Phase.shrink],
        suppress_health_check=list(HealthCheck),
    )
    def check(case: schemathesis.Case) -> None:
        case.call_and_validate(
            base_url=fuzzed_api.base_url,
            headers=auth,
            timeout=30,
            # A string the schema allows may still be a time nobody can read ("when pigs fly"): a 422
            # for it is right, so "every schema-valid request succeeds" is not a property of this API.
            excluded_checks=[positive_data_acceptance],
        )

    try:
        check()
    except Unsatisfiable:
        if mode == "positive":
            raise
        pytest.skip(f"{method} {path} takes nothing that can be made invalid (only the fixed key, or no input)")
