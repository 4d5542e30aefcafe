"""The key cache, the token bucket and the API's options, with time as a parameter."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from conftest import LETTA_KEY

from switchboard.api import ApiOptions
from switchboard.api.auth import (
    InvalidKeyError,
    KeyChecker,
    LettaUnavailableError,
    RateLimiter,
    key_hash,
    retry_after_header,
)
from switchboard.exceptions import ConfigError
from switchboard.testing.letta import LettaStandIn


class Clock:
    """A monotonic clock that moves only when told."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def letta() -> Iterator[LettaStandIn]:
    """A stand-in that accepts LETTA_KEY only."""
    with LettaStandIn(api_keys={LETTA_KEY}) as server:
        yield server


def checks(letta: LettaStandIn) -> int:
    """Key checks the stand-in answered."""
    return sum(1 for r in letta.requests if r.path.startswith("/v1/agents/?limit=1"))


def test_accepted_keys_are_trusted_for_ok_ttl(letta: LettaStandIn) -> None:
    clock = Clock()
    keys = KeyChecker(letta.base_url, ok_ttl=300, bad_ttl=30, clock=clock)
    caller = keys.check(LETTA_KEY)
    assert caller.key_hash == key_hash(LETTA_KEY)
    assert LETTA_KEY not in repr(caller)
    clock.now += 299
    keys.check(LETTA_KEY)
    assert checks(letta) == 1
    clock.now += 2
    keys.check(LETTA_KEY)
    assert checks(letta) == 2


def test_refused_keys_are_refused_for_bad_ttl_then_asked_again(letta: LettaStandIn) -> None:
    clock = Clock()
    keys = KeyChecker(letta.base_url, ok_ttl=300, bad_ttl=30, clock=clock)
    for _ in range(3):
        with pytest.raises(InvalidKeyError):
            keys.check("sk-let-wrong")
    assert checks(letta) == 1
    clock.now += 31
    with pytest.raises(InvalidKeyError):
        keys.check("sk-let-wrong")
    assert checks(letta) == 2


def test_what_cannot_be_a_key_never_reaches_letta(letta: LettaStandIn) -> None:
    keys = KeyChecker(letta.base_url)
    for bad in ["", "sk-ünïcode", "tab\there", "x" * 5000]:
        with pytest.raises(InvalidKeyError):
            keys.check(bad)
    assert checks(letta) == 0


def test_no_answer_is_not_remembered(letta: LettaStandIn) -> None:
    keys = KeyChecker(letta.base_url)
    letta.down()
    with pytest.raises(LettaUnavailableError) as caught:
        keys.check(LETTA_KEY)
    assert LETTA_KEY not in str(caught.value)
    letta.up()
    assert keys.check(LETTA_KEY).key == LETTA_KEY


def test_the_cache_is_bounded(letta: LettaStandIn) -> None:
    keys = KeyChecker(letta.base_url, max_entries=3)
    for n in range(6):
        with pytest.raises(InvalidKeyError):
            keys.check(f"sk-let-wrong-{n}")
    assert len(keys._answers) == 3


def test_token_bucket_refills_at_the_rate() -> None:
    clock = Clock()
    bucket = RateLimiter(per_minute=60, burst=2, clock=clock)
    assert bucket.take("a") is None
    assert bucket.take("a") is None
    wait = bucket.take("a")
    assert wait == pytest.approx(1.0)
    assert retry_after_header(wait or 0) == "1"
    assert bucket.take("b") is None, "buckets are per name"
    clock.now += 0.5
    assert bucket.take("a") == pytest.approx(0.5)
    clock.now += 0.5
    assert bucket.take("a") is None
    clock.now += 3600
    assert [bucket.take("a") for _ in range(3)][:2] == [None, None], "never more than the burst"


def test_a_rate_of_zero_turns_the_limit_off() -> None:
    bucket = RateLimiter(per_minute=0, burst=0)
    assert not bucket.enabled
    assert all(bucket.take("a") is None for _ in range(1000))


def test_options_come_from_the_environment() -> None:
    options = ApiOptions.from_env(
        {
            "SWITCHBOARD_API_RATE_PER_MINUTE": "30",
            "SWITCHBOARD_API_BURST": "5",
            "SWITCHBOARD_API_MAX_BODY_BYTES": "1024",
            "SWITCHBOARD_API_KEY_CACHE_SECONDS": "60",
        }
    )
    assert (options.rate_per_minute, options.burst, options.max_body_bytes, options.key_ok_ttl) == (30, 5, 1024, 60)
    assert ApiOptions.from_env({}) == ApiOptions()
    with pytest.raises(ConfigError, match="SWITCHBOARD_API_BURST"):
        ApiOptions.from_env({"SWITCHBOARD_API_BURST": "lots"})
