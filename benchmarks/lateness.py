"""How late a message goes out in each mode: GitHub's cadence (modelled), Letta's clock (stand-in), watch (measured).

    python benchmarks/lateness.py                 the full run (about 4 minutes: the watch part runs in real time)
    python benchmarks/lateness.py --quick         small runs (under a minute): a check that it works
    python benchmarks/lateness.py --update-docs   the full run, its table written into docs/cost.md
    python benchmarks/lateness.py --json FILE     also every number as JSON

Lateness is the time from a message's due instant to the moment Letta
receives it. A recurring fire that a late pass merges into a later one (the
tick delivers the latest missed fire once) counts as late until that delivery.

**The reference month** (30 days from 2026-10-10 00:00 UTC, across the end of
summer time in Europe/Berlin on 2026-10-25): 10 one-time messages a day at
random minutes; 3 daily recurring ones in Europe/Berlin (08:00, 12:30 and
02:30, the last in the hour that happens twice); one every 5 minutes. The fire
times come from switchboard's own ``due.fires``. Random numbers have fixed seeds.

**The GitHub cadence (modelled).** The shipped workflow is scheduled at :17
and :47. GitHub documents that scheduled runs "can be delayed during periods
of high loads" and that "some queued jobs may be dropped" (GitHub Docs,
"Events that trigger workflows", schedule), and publishes no numbers. Two
cases, each stated here and in the table:

* *quiet*: no run dropped; each starts after an exponential delay with a mean
  of 1 minute (reports of schedules off the top of the hour starting within
  about a minute, e.g. cronpreview.com's GitHub Actions guide, 2026);
* *busy*: half the runs dropped, the rest starting after an exponential delay
  with a mean of 10 minutes (reports of 10+ minute delays at busy hours; a
  public 2026 measurement of a ``*/5`` schedule saw about one run in five, with
  a median gap of 21 minutes between runs).

A run reaches Letta ``JOB_START`` seconds after it starts (runner, checkout,
Python, the locked install, the pass). Each run is one job under a minute: one
billed minute in a private repository (GitHub rounds each job up to a whole
minute); a dropped run bills nothing.

**Letta's clock (on the stand-in).** Run, not modelled
(``benchmarks/letta_clock.py``): the schedules of the 24 hours around the
change, on ``clock="letta"``, with real passes at the quiet case's tick
instants against the stand-in's native schedule API, its worker firing 0-60 s
after the minute, and ``OVERDUE_RATE`` of its fires stalled for the watchdog
(an assumption, pessimistic on purpose; none is published). The whole month
would be some 1,440 passes, 12 to 30 minutes here. The tick keeps running, so
the billed minutes are the quiet case's.

**watch (measured).** A real ``switchboard watch`` process beside the Letta
stand-in on 127.0.0.1, with a clone and a bare remote in a temporary folder,
on this machine: one-time messages due at random instants over a couple of
minutes, and a recurring one every minute, all pushed from another clone
before the watcher starts. Lateness is the stand-in's receive time minus the
due instant. It bills no Actions minutes itself; the tick workflow, kept as
the backstop, bills the quiet case's minutes on GitHub-hosted runners in a
private repository (none on a self-hosted runner or in a public repository).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
from bisect import bisect_left
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a script: make `benchmarks` and `switchboard` importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks import letta_clock
from benchmarks.common import ROOT, machine, replace_between
from benchmarks.idle import env_for
from benchmarks.letta_clock import LettaWindow
from benchmarks.world import API_KEY, git, make_world
from switchboard.backends.git import GitBackend
from switchboard.due import fires
from switchboard.index import indexed_store
from switchboard.models import OneTimeSchedule, RecurringSchedule
from switchboard.testing.letta import LettaStandIn

DOCS = ROOT / "docs" / "cost.md"
START_MARK, END_MARK = "<!-- lateness:start -->", "<!-- lateness:end -->"

MONTH_START = datetime(2026, 10, 10, tzinfo=UTC)
MONTH_DAYS = 30
ONE_TIME_PER_DAY = 10
BERLIN_DAILY = ("0 8 * * *", "30 12 * * *", "30 2 * * *")
EVERY_FIVE = "*/5 * * * *"
TICK_CRON = "17,47 * * * *"

#: Seconds from a tick job's start until its pass reaches Letta (runner, checkout, Python, install, pass).
JOB_START = 30.0
#: The fraction of Letta's native fires that never happen (the overdue fault): an assumption, none is published.
#: Pessimistic on purpose, so that the simulated window sees the watchdog's path several times.
OVERDUE_RATE = 0.10


@dataclass(frozen=True)
class GitHubCase:
    """How GitHub runs the scheduled tick, in one modelled case."""

    name: str
    drop: float
    """The chance that a scheduled run never starts."""
    mean_delay: float
    """Mean seconds (exponential) from the scheduled minute to the job's start."""


QUIET = GitHubCase("quiet", drop=0.0, mean_delay=60.0)
BUSY = GitHubCase("busy", drop=0.5, mean_delay=600.0)


# -- the reference month --------------------------------------------------------------------------


def reference_month(seed: int = 19) -> dict[str, list[datetime]]:
    """Due instants of the reference month, per schedule ("one-time" holds every one-time message)."""
    rng = random.Random(seed)
    end = MONTH_START + timedelta(days=MONTH_DAYS)
    month: dict[str, list[datetime]] = {"one-time": []}
    for day in range(MONTH_DAYS):
        midnight = MONTH_START + timedelta(days=day)
        month["one-time"] += sorted(midnight + timedelta(minutes=m) for m in rng.sample(range(24 * 60), 10))
    before = MONTH_START - timedelta(seconds=1)
    for cron in BERLIN_DAILY:
        month[f"{cron} Europe/Berlin"] = [f for f in fires(cron, "Europe/Berlin", before, 40) if f < end]
    month[f"{EVERY_FIVE} UTC"] = [f for f in fires(EVERY_FIVE, "UTC", before, MONTH_DAYS * 288 + 1) if f < end]
    return month


def tick_starts(case: GitHubCase, rng: random.Random, *, until: datetime) -> list[datetime]:
    """When the scheduled tick's jobs start in ``case``, through ``until`` (sorted; none dropped twice)."""
    scheduled = fires(TICK_CRON, "UTC", MONTH_START - timedelta(hours=1), 2 * 24 * (MONTH_DAYS + 2))
    starts = []
    for at in scheduled:
        if rng.random() < case.drop:
            continue
        starts.append(at + timedelta(seconds=rng.expovariate(1.0 / case.mean_delay)))
    # GitHub runs one tick at a time (the workflow's concurrency group): a later start waits for an earlier one.
    starts.sort()
    return [s for s in starts if s <= until + timedelta(days=1)]


def lateness_by_passes(due: Sequence[datetime], passes: Sequence[datetime]) -> list[float]:
    """Seconds from each due instant to the first pass at or after it (sorted ``passes``)."""
    late = []
    for instant in due:
        index = bisect_left(passes, instant)
        late.append((passes[index] - instant).total_seconds())
    return late


def model_github(case: GitHubCase, month: dict[str, list[datetime]], seed: int = 5) -> dict[str, Any]:
    """Lateness and billed minutes of the GitHub cadence in ``case``, over the reference month."""
    rng = random.Random(seed)
    end = MONTH_START + timedelta(days=MONTH_DAYS)
    starts = tick_starts(case, rng, until=end)
    passes = [s + timedelta(seconds=JOB_START) for s in starts]
    late: list[float] = []
    merged = 0
    for instants in month.values():
        late += lateness_by_passes(instants, passes)
    # A recurring schedule's fires that reach the same pass are delivered once: the rest are merged.
    for name, instants in month.items():
        if name != "one-time":
            merged += len(instants) - len({bisect_left(passes, i) for i in instants})
    billed = sum(1 for s in starts if MONTH_START <= s < end)  # each job < 60 s: one billed minute
    return {"case": case.name, **summary(late), "merged": merged, "billed_minutes": billed, "passes": billed}


#: The full run: the 24 hours around the end of summer time in Berlin (2026-10-25 01:00 UTC), about 50 passes.
#: The whole month would be about 1,440 passes: 12 to 30 minutes on a shared 2-core machine.
LETTA_FULL = LettaWindow(datetime(2026, 10, 24, 12, tzinfo=UTC), 24.0, OVERDUE_RATE)
#: --quick: 6 hours across the change; half the native fires stall, so that its handful still sees the watchdog.
LETTA_QUICK = LettaWindow(datetime(2026, 10, 25, tzinfo=UTC), 6.0, 0.5)


def run_letta_clock(
    top: Path, month: dict[str, list[datetime]], window: LettaWindow, log: Callable[[str], None] = print
) -> dict[str, Any]:
    """Lateness and billed minutes of Letta's clock, run on the stand-in over ``window`` with the quiet tick."""
    month_end = MONTH_START + timedelta(days=MONTH_DAYS)
    starts = tick_starts(QUIET, random.Random(5), until=month_end)
    run = letta_clock.simulate(top, month, window, [s + timedelta(seconds=JOB_START) for s in starts])
    how = {k: sum(1 for f in run.fires if f.how == k) for k in ("letta", "watchdog", "tick", "merged")}
    every_five = f"{EVERY_FIVE} UTC"
    result = {
        **summary([f.late for f in run.fires]),
        "window": {"start": window.start.isoformat(), "hours": window.hours, "overdue_rate": window.overdue_rate},
        "passes": len(run.pass_seconds),
        "pass_seconds_mean": round(sum(run.pass_seconds) / len(run.pass_seconds), 3),
        "pass_seconds_max": round(max(run.pass_seconds), 3),
        "native_armed": run.native_armed,
        "overdue": run.overdue,
        "sent_by": how,
        "merged": how["merged"],
        "groups": {
            "one-time and daily": summary([f.late for f in run.fires if f.schedule != every_five]),
            "every 5 minutes": summary([f.late for f in run.fires if f.schedule == every_five]),
        },
        # The tick runs the whole month on Letta's clock too (it arms, records and watches): one job < 60 s each.
        "billed_minutes": sum(1 for s in starts if MONTH_START <= s < month_end),
    }
    log(
        f"  Letta's clock: {result['count']} fires, p50 {result['p50_s']:.0f}s, p95 {result['p95_s']:.0f}s, "
        f"worst {result['worst_s']:.0f}s; sent by {how}; {run.overdue} of {run.native_armed} native fires stalled"
    )
    return result


def summary(late: Sequence[float]) -> dict[str, Any]:
    """p50, p95 and worst of ``late`` (seconds), and how many."""
    ordered = sorted(late)
    return {
        "count": len(ordered),
        "p50_s": round(_quantile(ordered, 0.50), 3),
        "p95_s": round(_quantile(ordered, 0.95), 3),
        "worst_s": round(ordered[-1], 3) if ordered else math.nan,
    }


def _quantile(ordered: Sequence[float], q: float) -> float:
    """The nearest-rank quantile (no interpolation: a value that was seen)."""
    if not ordered:
        return math.nan
    return ordered[min(len(ordered) - 1, max(0, math.ceil(q * len(ordered)) - 1))]


# -- watch, measured ------------------------------------------------------------------------------


@dataclass(frozen=True)
class WatchSize:
    """How much the measured watch run sends."""

    one_time: int
    window: float
    """Seconds over which the one-time messages fall due."""
    lead: float
    """Seconds from starting the watcher to the first due instant (the process starts and fetches)."""
    fetch_every: float
    agents: int


FULL = WatchSize(one_time=40, window=120.0, lead=15.0, fetch_every=30.0, agents=8)
QUICK = WatchSize(one_time=8, window=20.0, lead=10.0, fetch_every=30.0, agents=4)


def measure_watch(top: Path, size: WatchSize, log: Callable[[str], None] = print, seed: int = 3) -> dict[str, Any]:
    """Run a real ``switchboard watch`` and measure how late each due message reaches the stand-in."""
    rng = random.Random(seed)
    with LettaStandIn() as letta:
        world = make_world(top / "watch", letta)
        agents = world.agents(size.agents)
        laptop = top / "laptop"
        git(top, "clone", "--quiet", str(world.remote), str(laptop))
        git(laptop, "config", "user.name", "switchboard bench")
        git(laptop, "config", "user.email", "bench@switchboard.invalid")
        elsewhere = indexed_store(GitBackend(laptop), world.codec)

        begin = datetime.now(UTC) + timedelta(seconds=size.lead)
        end = begin + timedelta(seconds=size.window)
        due: dict[str, datetime] = {}
        made: list[OneTimeSchedule | RecurringSchedule] = []
        for index in range(size.one_time):
            at = begin + timedelta(seconds=rng.uniform(0.0, size.window))
            text = f"lateness check {index}"
            due[text] = at
            made.append(
                OneTimeSchedule(
                    agent_id=agents[index % len(agents)],
                    message=text,
                    execute_at=at,
                    created_at=datetime.now(UTC),
                    api_key=API_KEY,
                    base_url=letta.base_url,
                )
            )
        every_minute = "lateness check every minute"
        created = datetime.now(UTC)
        made.append(
            RecurringSchedule(
                agent_id=agents[-1],
                message=every_minute,
                cron="* * * * *",
                timezone="UTC",
                created_at=created,
                api_key=API_KEY,
                base_url=letta.base_url,
            )
        )
        minute_fires = [f for f in fires("* * * * *", "UTC", created, 10) if f <= end]

        def seed_all(tx: Any) -> None:
            for schedule in made:
                tx.save(schedule)

        elsewhere.transact("bench: schedules pushed from another clone", seed_all)

        env = {**os.environ, **env_for(world, top / "home", letta.base_url)}
        for name in ("SWITCHBOARD_GITHUB_REPO", "GITHUB_TOKEN", "GITHUB_ACTIONS", "GITHUB_STEP_SUMMARY"):
            env.pop(name, None)
        watcher = subprocess.Popen(
            [sys.executable, "-m", "switchboard", "watch", "--fetch-every", f"{size.fetch_every:g}"],
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            expected = size.one_time + len(minute_fires)
            deadline = end + timedelta(seconds=size.fetch_every + 30)
            while len(letta.deliveries) < expected and datetime.now(UTC) < deadline and watcher.poll() is None:
                time.sleep(0.2)
        finally:
            watcher.send_signal(signal.SIGTERM)
            try:
                _, err = watcher.communicate(timeout=60)
            except subprocess.TimeoutExpired:
                watcher.kill()
                _, err = watcher.communicate()
        deliveries = letta.deliveries

    late: list[float] = []
    for delivery in deliveries:
        if delivery.text == every_minute:
            fire = max(f for f in minute_fires if f <= delivery.received_at)
            late.append((delivery.received_at - fire).total_seconds())
        else:
            late.append((delivery.received_at - due[delivery.text]).total_seconds())
    got_one_time = sum(1 for d in deliveries if d.text != every_minute)
    got_minute = sum(1 for d in deliveries if d.text == every_minute)
    if got_one_time != size.one_time or got_minute < len(minute_fires):
        raise RuntimeError(
            f"watch delivered {got_one_time} of {size.one_time} one-time messages and {got_minute} of "
            f"{len(minute_fires)} minute fires; its stderr ended: {err[-800:]}"
        )
    early = [x for x in late if x < 0]
    if early:
        raise RuntimeError(f"watch delivered {len(early)} messages before they were due")
    result = {
        **summary(late),
        "one_time": size.one_time,
        "minute_fires": len(minute_fires),
        "billed_minutes": 0,
        # Each delivery's lateness, with the seconds since the previous due instant: a message due right
        # after another waits for that one's pass to finish.
        "deliveries": sorted(
            (round(x, 3), round(gap, 3))
            for x, gap in zip(late, _gaps(deliveries, due, minute_fires, every_minute), strict=True)
        ),
    }
    log(
        f"  watch: {result['count']} deliveries, p50 {result['p50_s']:.3f}s, p95 {result['p95_s']:.3f}s, "
        f"worst {result['worst_s']:.3f}s"
    )
    return result


def _gaps(deliveries: Sequence[Any], due: dict[str, datetime], minute: list[datetime], text: str) -> list[float]:
    """For each delivery, seconds from the previous due instant (of any message) to its own."""
    instants = sorted([*due.values(), *minute])
    gaps = []
    for delivery in deliveries:
        own = max(f for f in minute if f <= delivery.received_at) if delivery.text == text else due[delivery.text]
        index = instants.index(own)
        gaps.append((own - instants[index - 1]).total_seconds() if index else math.inf)
    return gaps


# -- the table ---------------------------------------------------------------------------------------


def _human(seconds: float) -> str:
    if seconds < 1:
        return f"{seconds * 1000:.0f} ms"
    if seconds < 10:
        return f"{seconds:.2f} s"
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 2 * 3600:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


def markdown(results: dict[str, Any]) -> str:
    """The lateness table for docs/cost.md."""
    quiet, busy, letta, watch = (
        results["github_quiet"],
        results["github_busy"],
        results["letta_clock"],
        results["watch"],
    )
    daily = letta["groups"]["one-time and daily"]
    rows = [
        (
            "GitHub tick at :17/:47, quiet (modelled)",
            quiet,
            f"{quiet['billed_minutes']:,}",
            f"{quiet['merged']:,} recurring fires merged into a later one",
        ),
        (
            "GitHub tick at :17/:47, busy (modelled)",
            busy,
            f"{busy['billed_minutes']:,}",
            f"{busy['merged']:,} recurring fires merged into a later one",
        ),
        (
            "Letta Cloud's clock + the tick's watchdog (on the stand-in)",
            letta,
            f"{letta['billed_minutes']:,} (the tick keeps running)",
            f"{letta['count']} fires in {letta['window']['hours']:g} h across the change. One-time and daily: "
            f"p50 {_human(daily['p50_s'])}, p95 {_human(daily['p95_s'])}, worst {_human(daily['worst_s'])}; "
            f"{letta['native_armed']} native fires armed, {letta['overdue']} stalled "
            f"({letta['window']['overdue_rate']:.0%} drawn per fire) and sent once by the watchdog. "
            f"Every 5 minutes: each pass finds the next fire already due and sends it itself "
            f"({letta['merged']} fires merged)",
        ),
        (
            "`switchboard watch` beside your server (measured)",
            watch,
            f"0 (+{quiet['billed_minutes']:,} for the backstop tick on hosted runners)",
            f"{watch['count']} deliveries in {results['watch_size']['window']:g} s on this machine",
        ),
    ]
    lines = [
        "| mode | p50 | p95 | worst | billed Actions minutes / month (private repo) | notes |",
        "| --- | ---: | ---: | ---: | --- | --- |",
    ]
    for name, numbers, billed, note in rows:
        lines.append(
            f"| {name} | {_human(numbers['p50_s'])} | {_human(numbers['p95_s'])} | {_human(numbers['worst_s'])} "
            f"| {billed} | {note} |"
        )
    when = results["machine"].get("date", "")
    lines += [
        "",
        f"Reference month: {results['month']['messages']:,} due fires ({results['month']['one_time']} one-time, "
        f"{results['month']['berlin']} daily in Europe/Berlin across the end of summer time, "
        f"{results['month']['every_five']:,} every 5 minutes). `python benchmarks/lateness.py` ({when}); "
        f"Letta's clock over {letta['window']['hours']:g} h of it from {letta['window']['start'][:16]}Z "
        f"({letta['passes']} real passes, {letta['pass_seconds_mean']:.1f} s each on average here); "
        f"the watch row on {results['machine'].get('cores', '?')} cores with a load average of "
        f"{results['machine'].get('load_after_watch', '?')}.",
    ]
    return "\n".join(lines)


def update_docs(text: str, path: Path = DOCS) -> None:
    """Put ``text`` between the lateness markers of docs/cost.md."""
    replace_between(path, START_MARK, END_MARK, text)


def main(argv: list[str] | None = None) -> int:
    """Model the month, measure watch, print the table; 0 when watch delivered everything on time or late."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="a small watch run: check that it works (CI)")
    parser.add_argument("--json", type=Path, help="also write every number to this JSON file")
    parser.add_argument("--update-docs", action="store_true", help=f"write the table into {DOCS.name}")
    args = parser.parse_args(argv)
    size = QUICK if args.quick else FULL
    month = reference_month()
    results: dict[str, Any] = {
        "machine": {**machine(), "date": datetime.now(UTC).strftime("%Y-%m-%d")},
        "month": {
            "messages": sum(len(v) for v in month.values()),
            "one_time": len(month["one-time"]),
            "berlin": sum(len(v) for k, v in month.items() if "Berlin" in k),
            "every_five": len(month[f"{EVERY_FIVE} UTC"]),
        },
        "assumptions": {
            "job_start_s": JOB_START,
            "overdue_rate": OVERDUE_RATE,
            "quiet": QUIET.__dict__,
            "busy": BUSY.__dict__,
        },
        "watch_size": size.__dict__,
    }
    print("Lateness, from the due instant to Letta receiving the message")
    results["github_quiet"] = model_github(QUIET, month)
    results["github_busy"] = model_github(BUSY, month)
    with tempfile.TemporaryDirectory(prefix="switchboard-lateness-") as top:
        results["letta_clock"] = run_letta_clock(Path(top), month, LETTA_QUICK if args.quick else LETTA_FULL)
        results["watch"] = measure_watch(Path(top), size)
    # A shared machine's load moves the watch row: say what it was (1-minute load average, after the run).
    results["machine"]["load_after_watch"] = round(os.getloadavg()[0], 1)
    table = markdown(results)
    print(table)
    if args.json:
        args.json.write_text(json.dumps(results, indent=2, default=str) + "\n")
    if args.update_docs:
        if args.quick:
            raise SystemExit("--update-docs takes the full run's numbers: leave out --quick")
        update_docs(table)
        print(f"Updated {DOCS.relative_to(ROOT)}.")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
