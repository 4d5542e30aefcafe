"""The tick job's install step: `pip install .` (what it ran before) against what it runs now, warm caches.

    python benchmarks/install.py                 5 runs of each, alternating (about a minute; needs PyPI)
    python benchmarks/install.py --update-docs   the same, and the table written into docs/benchmarks.md

Each run starts from a fresh virtualenv (made outside the timing, as
actions/setup-python hands the job a fresh interpreter) whose bin/ leads PATH,
in a fresh copy of the project (fresh file times, as actions/checkout writes
them), and times the step's commands as the job runs them. The shipped step
is read from .github/workflows/tick.yml itself, so this measures what ships.
Each side has a HOME of its own whose ~/.cache is warm (one untimed run
first), as the job's cache restores leave it: pip's cache for `pip install .`
(setup-python's `cache: pip` then); the uv wheel and uv's cache, the paths the
shipped workflow's actions/cache step restores, for the shipped step. pip and
uv run with no configuration file and no PIP_*, UV_*, PYTHON* or XDG_*
variables, as on a runner (this machine sets PYTHONDONTWRITEBYTECODE, which a
runner does not). After each install the installed `switchboard tick` runs
once, nothing due, against the Letta stand-in: the job's own first tick, which
also compiles the bytecode of what it imports (pip compiled every module while
installing; uv leaves it to that first import). Nothing here asserts a time: a
run fails only when an install or the tick fails.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml

if __package__ in (None, ""):  # run as a script: make `benchmarks` importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks import common
from benchmarks.idle import env_for
from benchmarks.world import World, make_world
from switchboard.testing.letta import LettaStandIn

WORKFLOW = common.ROOT / ".github" / "workflows" / "tick.yml"
DOCS = common.ROOT / "docs" / "benchmarks.md"
START, END = "<!-- install:start -->", "<!-- install:end -->"
BEFORE = ["python -m pip install --disable-pip-version-check --no-input --progress-bar off ."]
#: Schedules stored in the world the first tick reads (none due): a small user's repository.
STORED = 20


def shipped_step() -> tuple[list[str], dict[str, str]]:
    """The tick job's install step: its commands (continuation lines joined) and its env."""
    steps = yaml.safe_load(WORKFLOW.read_text(encoding="utf-8"))["jobs"]["tick"]["steps"]
    (step,) = [s for s in steps if s.get("name") == "Install switchboard"]
    commands = [" ".join(c.split()) for c in step["run"].replace("\\\n", " ").splitlines()]
    return [c for c in commands if c and not c.startswith("#")], {k: str(v) for k, v in step.get("env", {}).items()}


def _project_copy(top: Path) -> Path:
    dest = top / "project"
    skip = shutil.ignore_patterns(".venv", ".git", "*.egg-info", "build", "dist", "__pycache__", ".*_cache", "data")
    # shutil.copy, not copy2: new modification times, as in a fresh checkout (uv keys local builds on them).
    shutil.copytree(common.ROOT, dest, ignore=skip, copy_function=shutil.copy)
    return dest


def _environment(top: Path, venv: Path, extra: dict[str, str]) -> dict[str, str]:
    """A runner's environment: this side's HOME (its ~/.cache is what the job restores), no tool settings."""
    drop = ("PIP_", "UV_", "PYTHON", "XDG_", "VIRTUAL_ENV", "SWITCHBOARD_", "LETTA_")
    env = {k: v for k, v in os.environ.items() if not k.startswith(drop)}
    (top / "home").mkdir(exist_ok=True)
    env.update(PATH=f"{venv / 'bin'}{os.pathsep}{env['PATH']}", HOME=str(top / "home"), PIP_CONFIG_FILE=os.devnull)
    env.update(extra)
    return env


def _timed_script(commands: list[str], marks: Path) -> str:
    """The commands as one bash script (an `export` carries on, as in the step) that stamps each one's end."""
    lines = [f'echo "start $EPOCHREALTIME" >> {marks}']
    for number, command in enumerate(commands):
        lines += [command, f'echo "{number} $EPOCHREALTIME" >> {marks}']
    return "\n".join(lines) + "\n"


def run_once(
    top: Path, commands: list[str], extra_env: dict[str, str], world: World
) -> tuple[list[float], float, float]:
    """One install in a fresh venv and a fresh copy of the project: seconds per command, the first tick, CPU."""
    venv = top / "venv"
    shutil.rmtree(venv, ignore_errors=True)
    shutil.rmtree(top / "project", ignore_errors=True)
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    project = _project_copy(top)
    env = _environment(top, venv, extra_env)
    marks = top / "marks.txt"
    marks.unlink(missing_ok=True)
    cpu_before = _children_cpu()
    done = subprocess.run(
        ["bash", "-e", "-c", _timed_script(commands, marks)], cwd=project, env=env, capture_output=True, text=True
    )
    cpu = _children_cpu() - cpu_before
    if done.returncode != 0:
        raise SystemExit(f"the install step failed:\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}")
    stamps = [float(line.split()[1]) for line in marks.read_text().splitlines()]
    seconds = [b - a for a, b in itertools.pairwise(stamps)]
    # The job's tick, the first run of the installed package: pip compiled every module's bytecode
    # while installing, uv leaves that to this first import, which compiles only what the tick imports.
    tick_env = {**env, **env_for(world, top / "tick-home", world.letta.base_url)}
    now = datetime.now(UTC).isoformat()
    started = time.perf_counter()
    tick = subprocess.run(
        [str(venv / "bin" / "switchboard"), "tick", "--now", now, "--json"],
        cwd=project, env=tick_env, capture_output=True, text=True,
    )  # fmt: skip
    tick_s = time.perf_counter() - started
    if tick.returncode != 0 or '"delivered": 0' not in tick.stdout:
        raise SystemExit(f"the installed switchboard's idle tick failed: {tick.stderr[-2000:]}")
    check = subprocess.run([str(venv / "bin" / "switchboard"), "--version"], capture_output=True, text=True, env=env)
    if check.returncode != 0 or not check.stdout.startswith("switchboard "):
        raise SystemExit(f"the installed switchboard has no version: {check.stdout!r} {check.stderr}")
    return seconds, tick_s, cpu


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run(runs: int) -> dict[str, Any]:
    """Warm each side's cache, then `runs` timed installs of each, alternating; medians and every run."""
    sides = {"pip": (BEFORE, {}), "shipped": shipped_step()}
    results: dict[str, Any] = {"machine": common.machine(), "runs": runs, "commands": {}}
    letta = LettaStandIn().start()
    try:
        with tempfile.TemporaryDirectory(prefix="switchboard-install-") as tmp:
            return _run(Path(tmp), letta, sides, runs, results)
    finally:
        letta.stop()


def _run(
    tmp: Path, letta: LettaStandIn, sides: dict[str, tuple[list[str], dict[str, str]]], runs: int,
    results: dict[str, Any],
) -> dict[str, Any]:  # fmt: skip
    world = make_world(tmp / "world", letta)
    world.seed(world.future_one_time(STORED, datetime.now(UTC)))
    tops = {name: tmp / name for name in sides}
    cold: dict[str, float] = {}
    for name, (cmds, extra) in sides.items():
        tops[name].mkdir()
        print(f"{name}: warming the cache")
        cold[name] = sum(run_once(tops[name], cmds, extra, world)[0])
    timings: dict[str, list[list[float]]] = {name: [] for name in sides}
    ticks: dict[str, list[float]] = {name: [] for name in sides}
    cpus: dict[str, list[float]] = {name: [] for name in sides}
    for number in range(runs):
        for name, (cmds, extra) in sides.items():
            seconds, tick, cpu = run_once(tops[name], cmds, extra, world)
            timings[name].append(seconds)
            ticks[name].append(tick)
            cpus[name].append(cpu)
            print(f"{name} run {number + 1}: {sum(seconds):.2f} s, then the first tick {tick:.2f} s")
    for name, per_run in timings.items():
        totals = [sum(r) for r in per_run]
        results[name] = {
            "median_s": round(statistics.median(totals), 3),
            "runs_s": [round(t, 3) for t in totals],
            "per_command_median_s": [round(statistics.median(c), 3) for c in zip(*per_run, strict=True)],
            "first_tick_median_s": round(statistics.median(ticks[name]), 3),
            "with_first_tick_median_s": round(
                statistics.median(a + b for a, b in zip(totals, ticks[name], strict=True)), 3
            ),
            "cpu_median_s": round(statistics.median(cpus[name]), 3),
            # The untimed first run: an empty cache, as after a lock change or an evicted cache entry.
            "cold_cache_s": round(cold[name], 3),
        }
        results["commands"][name] = sides[name][0]
    results["machine"]["load_average_end"] = common.machine()["load_average"]
    return results


def report(results: dict[str, Any], command: str) -> str:
    """The results as the Markdown that docs/benchmarks.md shows."""
    m = results["machine"]
    lines = [
        f"Measured with `{command}` on {time.strftime('%Y-%m-%d')}: {m['cpu']}, {m['cores']} cores, "
        f"Python {m['python']}; load average {m['load_average'][0]} at the start and "
        f"{m['load_average_end'][0]} at the end. Median of {results['runs']} runs each, fresh venv, warm cache.",
        "",
        "| install step | median wall | runs | median CPU | then the first idle tick | install and first tick |",
        "|---|---:|---|---:|---:|---:|",
    ]
    for name, label in (("pip", "before: `pip install .` (resolves every dependency)"),
                        ("shipped", "now: the checked uv wheel, then the locks by uv, hash-checked")):  # fmt: skip
        if name in results:
            r = results[name]
            runs = ", ".join(f"{t:.2f}" for t in r["runs_s"])
            lines.append(
                f"| {label} | **{r['median_s']:.2f} s** | {runs} | {r['cpu_median_s']:.2f} s "
                f"| {r['first_tick_median_s']:.2f} s | {r['with_first_tick_median_s']:.2f} s |"
            )
    if "pip" in results and "shipped" in results:
        lines += [
            "",
            f"With an empty cache (each side's first, untimed run; one run): {results['pip']['cold_cache_s']:.2f} s "
            f"before, {results['shipped']['cold_cache_s']:.2f} s now.",
        ]
    if "shipped" in results:
        lines += ["", "The shipped step, command by command (medians):", ""]
        for cmd, sec in zip(results["commands"]["shipped"], results["shipped"]["per_command_median_s"], strict=True):
            lines.append(f"- {sec:.2f} s `{cmd}`")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Parse the options, run, print."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=5, help="timed runs of each side (default 5)")
    parser.add_argument("--json", type=Path, help="also write every number to this JSON file")
    parser.add_argument("--update-docs", action="store_true", help=f"write the results into {DOCS.name}")
    args = parser.parse_args(argv)
    results = run(args.runs)
    command = "python benchmarks/install.py" + (f" --runs {args.runs}" if args.runs != 5 else "")
    markdown = report(results, command)
    print()
    print(markdown)
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))
    if args.update_docs:
        text = DOCS.read_text(encoding="utf-8")
        head, _, rest = text.partition(START)
        _, _, tail = rest.partition(END)
        if not rest:
            raise SystemExit(f"{DOCS} has no {START} … {END} markers")
        DOCS.write_text(f"{head}{START}\n{markdown}\n{END}{tail}", encoding="utf-8")
        print(f"wrote the results into {DOCS}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
