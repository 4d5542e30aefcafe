"""Contention: one person's writes against many writers on one remote, with a tick's patience and with a person's.

Writers are separate processes (this module with ``--writer``), each with its
own clone of one bare remote, committing through ``Store.transact`` as fast
as a tick's patience lets them. Meanwhile this process stores one-time
schedules (what ``send`` with a later time commits) from its own clone, first
with the tick's patience (8 tries, the old default for every command), then
with the patience commands someone waits on now have. It counts how many gave
up and how long each took. Run it alone: it is a contest for the CPU as much
as for the remote.

    python -m benchmarks.contention [--writers 13] [--sends 5]
"""

from __future__ import annotations

import argparse
import json
import random
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from benchmarks.common import ROOT
from benchmarks.world import git
from switchboard import service
from switchboard.backends.git import GitBackend
from switchboard.crypto import codec_from_keys, generate_key
from switchboard.exceptions import ContentionError
from switchboard.index import indexed_store
from switchboard.store import INTERACTIVE_PATIENCE, TICK_PATIENCE, Patience, Store

#: The instant the stored schedules are made at, and due after (nothing here is ever due).
MADE = datetime(2026, 1, 1, tzinfo=UTC)


def _clone(remote: Path, dest: Path) -> Path:
    git(dest.parent, "clone", "--quiet", str(remote), str(dest))
    git(dest, "config", "user.name", "switchboard bench")
    git(dest, "config", "user.email", "bench@switchboard.invalid")
    git(dest, "config", "gc.auto", "0")
    return dest


def _remote(top: Path) -> Path:
    remote = top / "remote.git"
    git(top, "init", "--quiet", "--bare", "--initial-branch=main", str(remote))
    git(remote, "config", "receive.autogc", "false")
    seed = _clone(remote, top / "seed")
    (seed / "data").mkdir()
    (seed / "data" / ".gitkeep").write_text("")
    git(seed, "add", "-A")
    git(seed, "commit", "--quiet", "-m", "Start from the template")
    git(seed, "push", "--quiet", "origin", "HEAD:main")
    return remote


def writer(clone: Path, key: str, stop: Path, lifetime: float) -> int:
    """Commit small files until ``stop`` exists (or ``lifetime`` runs out); how many landed."""
    store = indexed_store(GitBackend(clone), codec_from_keys(key))
    ends = time.monotonic() + lifetime
    landed = 0
    while not stop.exists() and time.monotonic() < ends:
        name = f"data/noise/{uuid.uuid4()}.json.enc"
        try:
            store.transact("noise", lambda tx, name=name: tx.put(name, store.codec.encrypt(b"noise")))
            landed += 1
        except ContentionError:
            pass
        time.sleep(random.uniform(0.05, 0.3))
    return landed


def _store_one(store: Store, index: int) -> None:
    service.add_one_time(
        store, api_key="sk-let-bench", base_url="http://127.0.0.1:9", agent_id="agent-bench", message="m",
        execute_at=MADE + timedelta(days=365, hours=index), now=MADE,
    )  # fmt: skip


def run(writers: int, sends: int, *, warmup: float = 8.0) -> dict[str, Any]:
    """Race ``sends`` writes of each patience against ``writers`` writer processes; what happened to each."""
    top = Path(tempfile.mkdtemp(prefix="switchboard-contention-"))
    remote = _remote(top)
    key = generate_key()
    laptop = indexed_store(GitBackend(_clone(remote, top / "laptop")), codec_from_keys(key))
    _store_one(laptop, -1)  # the tenant secret, before the race
    stop = top / "stop"
    procs = []
    for n in range(writers):
        clone = _clone(remote, top / f"writer-{n}")
        args = ["--writer", str(clone), key, str(stop), "600"]
        procs.append(
            subprocess.Popen([sys.executable, "-m", "benchmarks.contention", *args], cwd=ROOT, stdout=subprocess.PIPE)
        )
    results: dict[str, Any] = {"writers": writers, "sends": sends}
    try:
        time.sleep(warmup)  # the writers start and begin landing commits
        patiences: dict[str, Patience] = {"tick patience": TICK_PATIENCE, "interactive patience": INTERACTIVE_PATIENCE}
        for name, patience in patiences.items():
            laptop.patience = patience
            outcomes = []
            for index in range(sends):
                started = time.monotonic()
                try:
                    _store_one(laptop, index + (1000 if patience is INTERACTIVE_PATIENCE else 0))
                    outcomes.append({"landed": True, "seconds": round(time.monotonic() - started, 1)})
                except ContentionError as exc:
                    outcomes.append({"landed": False, "seconds": round(exc.seconds, 1), "attempts": exc.attempts})
                print(f"  {name}: {outcomes[-1]}", flush=True)
            results[name] = outcomes
    finally:
        stop.write_text("")
        landed = [int((p.communicate(timeout=120)[0] or b"0").strip() or 0) for p in procs]
    results["writers landed"] = landed
    return results


def main(argv: list[str] | None = None) -> int:
    """Run the race, print each outcome and a JSON summary."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--writers", type=int, default=13)
    parser.add_argument("--sends", type=int, default=5)
    parser.add_argument("--writer", nargs=4, metavar=("CLONE", "KEY", "STOP", "LIFETIME"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.writer:
        clone, key, stop, lifetime = args.writer
        print(writer(Path(clone), key, Path(stop), float(lifetime)))
        return 0
    results = run(args.writers, args.sends)
    for name in ("tick patience", "interactive patience"):
        outcomes = results[name]
        gave_up = sum(1 for o in outcomes if not o["landed"])
        times = ", ".join(f"{o['seconds']}s" for o in outcomes)
        print(f"{name}: {gave_up} of {len(outcomes)} gave up ({times})")
    print(json.dumps(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
