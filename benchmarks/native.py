"""What Letta's own clock costs a pass: an idle pass with and without a schedule on it.

A repository that never used ``clock letta`` skips the reconcile step without
reading a schedule (no ``data/native/`` folder). Once schedules use it, a pass
reads only those (each has a note under ``data/native/wanted/``) and their
records; with all of them armed and none due, it makes no request to Letta and
no commit. This measures both idle passes in-process, on a real clone with
``count`` quiet recurring schedules on the tick's clock, against the stand-in
on 127.0.0.1.

    python -m benchmarks.native --schedules 500 --runs 5
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

import httpx

from benchmarks.common import Series, machine, measure
from benchmarks.world import STEP, T0, make_world
from switchboard.letta import LettaClient
from switchboard.models import RecurringSchedule
from switchboard.testing.letta import LettaStandIn
from switchboard.tick import TickOptions, run_pass

API_KEY = "sk-let-bench-5f1e2d3c4b5a"


def _client(base_url: str, api_key: str | None) -> LettaClient:
    return LettaClient(base_url, api_key, transport=httpx.HTTPTransport(), timeout=5.0)


def run(count: int, runs: int) -> dict[str, object]:
    """Median idle-pass times without and with one schedule on Letta's clock."""
    letta = LettaStandIn().start()
    try:
        with tempfile.TemporaryDirectory(prefix="bench-native-") as top:
            world = make_world(Path(top), letta)
            world.seed(world.quiet_recurring(count, T0))
            options = TickOptions()
            without, with_one = Series("idle pass, no schedule on Letta's clock"), Series("idle pass, one armed")
            now = T0
            for _ in range(runs):
                now += STEP
                with measure(without):
                    run_pass(world.store, now, _client, options)
            agent = world.agents(1)[0]
            daily = RecurringSchedule(agent_id=agent, message="Good morning", cron="0 9 * * *",
                                      timezone="Europe/Berlin", created_at=now, api_key=API_KEY,
                                      base_url=letta.base_url, clock="letta")  # fmt: skip
            world.seed([daily])
            now += STEP
            run_pass(world.store, now, _client, options)  # arms it
            requests = len(letta.requests)
            for _ in range(runs):
                now += STEP
                with measure(with_one):
                    run_pass(world.store, now, _client, options)
            return {
                "schedules": count,
                "runs": runs,
                "without": without.as_json(),
                "with_one_armed": with_one.as_json(),
                "letta_requests_while_armed": len(letta.requests) - requests,
                "machine": machine(),
            }
    finally:
        letta.stop()


def main(argv: list[str] | None = None) -> None:
    """Run and print JSON."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--schedules", type=int, default=500)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args(argv)
    print(json.dumps(run(args.schedules, args.runs), indent=2))


if __name__ == "__main__":
    main()
