"""`switchboard demo`: the whole product, offline, in a throwaway repository.

It makes a bare "GitHub" remote and a clone of it in a temporary folder, a
fresh key, three schedules from plain English, and runs the same tick the
GitHub workflow runs. Letta is played by a stand-in HTTP server on 127.0.0.1
unless a real server is named with LETTA_BASE_URL, LETTA_API_KEY and
--agent-id. With ``keep`` the repository and the stand-in stay until Ctrl-C,
with the ``export`` lines that point other commands at them.
"""

from __future__ import annotations

import shlex
import shutil
import signal
import subprocess
import tempfile
import threading
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from switchboard.backends.git import GitBackend
from switchboard.context import letta_client
from switchboard.crypto import codec_from_keys, generate_key
from switchboard.index import indexed_store
from switchboard.service import add_one_time, add_recurring, list_results
from switchboard.store import Store
from switchboard.tick import TickOptions, run_pass
from switchboard.timeparse import parse_instant, parse_recurring

Echo = Callable[[str], None]


def _git(cwd: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, text=True).stdout


def make_repository(top: Path) -> Path:
    """A bare remote and a clone with one commit; returns the clone."""
    remote, clone = top / "remote.git", top / "clone"
    _git(top, "init", "--quiet", "--bare", "--initial-branch=main", str(remote))
    _git(top, "clone", "--quiet", str(remote), str(clone))
    _git(clone, "config", "user.name", "switchboard demo")
    _git(clone, "config", "user.email", "demo@switchboard.invalid")
    (clone / "README.md").write_text("# my switchboard\n")
    _git(clone, "add", "README.md")
    _git(clone, "commit", "--quiet", "-m", "Start from the template")
    _git(clone, "push", "--quiet", "origin", "HEAD:main")
    return clone


def wait_for_interrupt() -> None:
    """Block until Ctrl-C (SIGINT) or SIGTERM."""
    stop = threading.Event()

    def stopped(signum: int, frame: object) -> None:
        stop.set()

    # Set outright: a shell starts a background job with SIGINT ignored, and `kill` sends SIGTERM.
    old = {sig: signal.signal(sig, stopped) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        while not stop.wait(0.5):
            pass
    finally:
        for sig, handler in old.items():
            signal.signal(sig, handler)


def run_demo(
    *,
    agent_id: str | None = None,
    out: Echo = print,
    now: datetime | None = None,
    env: Mapping[str, str] | None = None,
    keep: bool = False,
    wait: Callable[[], None] = wait_for_interrupt,
) -> list[str]:
    """Narrate and run the main job once; returns the Letta run ids it got (``env``: LETTA_* for a real agent).

    With ``keep``, the repository and the stand-in stay up until ``wait`` returns
    (Ctrl-C), after the lines that point other commands at them.
    """
    env = env or {}
    real_url, real_key = env.get("LETTA_BASE_URL"), env.get("LETTA_API_KEY")
    now = now or datetime.now(UTC)
    tmp = tempfile.mkdtemp(prefix="switchboard-demo-")
    try:
        clone = make_repository(Path(tmp))
        out("1. A throwaway repository stands in for your private GitHub repository:")
        out(f"   a bare remote plus a clone, in {tmp} (deleted at the end).")
        key = generate_key()
        codec = codec_from_keys(key)
        store = indexed_store(GitBackend(clone), codec)
        out("2. A fresh Fernet key plays the repository secret SWITCHBOARD_ENCRYPTION_KEY.")

        standin = None
        if agent_id and real_url:
            base_url, api_key = real_url.rstrip("/"), real_key
            out(f"3. Letta: your server at {base_url}, agent {agent_id}.")
        else:
            from switchboard.testing.letta import LettaStandIn

            standin = LettaStandIn(api_keys={"demo-letta-key"}).start()
            agent_id = standin.add_agent()
            base_url, api_key = standin.base_url, "demo-letta-key"
            out(f"3. Letta: a STAND-IN server at {base_url} that speaks Letta's API (not a real agent).")
            out("   To use a real server: LETTA_BASE_URL=… LETTA_API_KEY=… switchboard demo --agent-id agent-…")
        try:
            run_ids = _schedule_and_tick(store, clone, agent_id, base_url, api_key, now, out)
            if keep:
                _keep_running(clone, key, base_url, api_key, agent_id, out, wait)
        finally:
            if standin is not None:
                standin.stop()
        return run_ids
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _keep_running(
    clone: Path, key: str, base_url: str, api_key: str | None, agent_id: str, out: Echo, wait: Callable[[], None]
) -> None:
    # The key is the demo's own, made a minute ago for a folder deleted at the end: showing it costs nothing.
    lines = {
        "SWITCHBOARD_REPO": str(clone),
        "SWITCHBOARD_ENCRYPTION_KEY": key,
        "LETTA_BASE_URL": base_url,
        "AGENT_ID": agent_id,
    }
    if api_key == "demo-letta-key":
        lines["LETTA_API_KEY"] = api_key  # a real key stays where the user keeps it
    out("")
    out(f"Kept running: the repository {clone} and Letta at {base_url}.")
    out("In another terminal, point switchboard at them:")
    for name, value in lines.items():
        out(f"   export {name}={shlex.quote(value)}")
    out('   switchboard send --agent-id "$AGENT_ID" --message "Hello" && switchboard results list')
    out("Press Ctrl-C to stop the stand-in and delete the repository.")
    wait()
    out("Stopped; the demo repository is deleted.")


def _schedule_and_tick(
    store: Store, clone: Path, agent_id: str, base_url: str, api_key: str | None, now: datetime, out: Echo
) -> list[str]:
    common: dict[str, Any] = {"api_key": api_key, "base_url": base_url, "agent_id": agent_id}
    out("4. Three schedules, from plain English:")
    due_now = add_one_time(
        store, **common, message="Demo: a message sent right away", execute_at=parse_instant("now", now=now), now=now
    )
    out(f'   - "now"                       → one-time {due_now.id}, due {due_now.execute_at:%H:%M} UTC')
    written = now - timedelta(hours=3)
    overdue_at = parse_instant("in 1 hour", now=written)
    overdue = add_one_time(
        store, **common, message="Demo: a message GitHub's scheduler was late for", execute_at=overdue_at, now=written
    )
    out(f'   - "in 1 hour", written 3h ago → one-time {overdue.id}, due {overdue_at:%H:%M} UTC (2 hours overdue:')
    out("     GitHub runs scheduled workflows late and sometimes not at all; the tick catches up on every old bucket)")
    cron, tz = parse_recurring("every 5 minutes")
    recurring = add_recurring(
        store, **common, message="Demo: a recurring check-in", cron=cron, timezone=tz, now=now - timedelta(minutes=12)
    )
    out(f'   - "every 5 minutes"           → recurring {recurring.id}, cron "{cron}" in {tz}, made 12 minutes ago')
    out("     (it missed two fires: the tick sends it once and records how many it skipped)")

    files = [p for p in store.backend.list("data") if p.endswith(".enc")]
    sample = (clone / files[0]).read_bytes()[:24].decode()
    out(f"5. Each change is one commit, pushed. data/ holds {len(files)} files, all ciphertext, e.g. {sample}…")

    out("6. The tick (what the GitHub Actions workflow runs every 30 minutes):")
    report = run_pass(store, now, letta_client, TickOptions())
    out(
        f"   claimed {len(report.planned)} due schedules in one commit, delivered {report.count('delivered')}, "
        f"then committed the results"
    )
    results = list_results(store, api_key)
    out("7. The results, as `switchboard results list` shows them:")
    out(f"   {'status':10} {'type':10} {'run id':42} {'late':>6} {'skipped':>7}")
    for r in results:
        out(f"   {r.status:10} {r.schedule_type:10} {r.run_id or '-':42} {r.lateness_s:5.0f}s {r.skipped:7}")
    log = _git(clone, "log", "--format=   %s", "origin/main")
    out("8. The remote's history (newest first):")
    out(log.rstrip())
    out("That is the whole product: schedules as encrypted files, a tick that delivers what is due exactly once,")
    out("and results with Letta run ids, all in git. Next: see README.md → 'Set up your own'")
    out("(or `switchboard demo --keep` to keep this repository and the stand-in running, to try commands on).")
    return [r.run_id for r in results if r.run_id]
