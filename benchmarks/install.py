"""The tick job's install step: `pip install .` (what it ran before) against what it runs now, warm caches.

    python benchmarks/install.py                 5 runs of each, alternating (about a minute; needs PyPI)
    python benchmarks/install.py --update-docs   the same, and the table written into docs/benchmarks.md

Each run starts from a fresh virtualenv (made outside the timing, as
actions/setup-python hands the job a fresh interpreter) whose bin/ leads PATH,
in a fresh copy of the project, and times the step's commands as the job
runs them. The shipped step is read from .github/workflows/tick.yml itself,
so this measures what ships. Both sides get a warm cache of their own (one
untimed run first), as setup-python's and actions/cache's restores give the
job: pip's for `pip install .`; pip's (for uv) and uv's for the shipped step.
pip runs with no configuration file and no PIP_* variables, as on a runner.
Nothing here asserts a time: a run fails only when an install fails.
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
from pathlib import Path
from typing import Any

import yaml

if __package__ in (None, ""):  # run as a script: make `benchmarks` importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks import common

WORKFLOW = common.ROOT / ".github" / "workflows" / "tick.yml"
DOCS = common.ROOT / "docs" / "benchmarks.md"
START, END = "<!-- install:start -->", "<!-- install:end -->"
BEFORE = ["python -m pip install --disable-pip-version-check --no-input --progress-bar off ."]
FIRST_IMPORT = "import switchboard.cli, switchboard.runner, switchboard.tick.run, switchboard.backends.git"


def shipped_step() -> tuple[list[str], dict[str, str]]:
    """The tick job's install step: its commands (continuation lines joined) and its env."""
    steps = yaml.safe_load(WORKFLOW.read_text(encoding="utf-8"))["jobs"]["tick"]["steps"]
    (step,) = [s for s in steps if s.get("name") == "Install switchboard"]
    commands = [" ".join(c.split()) for c in step["run"].replace("\\\n", " ").splitlines()]
    return [c for c in commands if c and not c.startswith("#")], {k: str(v) for k, v in step.get("env", {}).items()}


def _project_copy(top: Path) -> Path:
    dest = top / "project"
    skip = shutil.ignore_patterns(".venv", ".git", "*.egg-info", "build", "dist", "__pycache__", ".*_cache", "data")
    shutil.copytree(common.ROOT, dest, ignore=skip)
    return dest


def _environment(top: Path, venv: Path, extra: dict[str, str]) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PIP_", "UV_", "VIRTUAL_ENV"))}
    env.update(
        PATH=f"{venv / 'bin'}{os.pathsep}{env['PATH']}",
        PIP_CONFIG_FILE=os.devnull,
        PIP_CACHE_DIR=str(top / "pip-cache"),
        UV_CACHE_DIR=str(top / "uv-cache"),
    )
    env.update(extra)
    return env


def _timed_script(commands: list[str], marks: Path) -> str:
    """The commands as one bash script (an `export` carries on, as in the step) that stamps each one's end."""
    lines = [f'echo "start $EPOCHREALTIME" >> {marks}']
    for number, command in enumerate(commands):
        lines += [command, f'echo "{number} $EPOCHREALTIME" >> {marks}']
    return "\n".join(lines) + "\n"


def run_once(top: Path, commands: list[str], extra_env: dict[str, str]) -> tuple[list[float], float, float]:
    """One install in a fresh venv and a fresh copy of the project: seconds per command, the first import, CPU."""
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
    # What the tick then imports, for the first time: pip compiled every module's bytecode while
    # installing, uv leaves that to the first import, which compiles only what is imported.
    started = time.perf_counter()
    first = subprocess.run([str(venv / "bin" / "python"), "-c", FIRST_IMPORT], cwd=top, env=env, capture_output=True)
    first_s = time.perf_counter() - started
    check = subprocess.run([str(venv / "bin" / "switchboard"), "--version"], capture_output=True, text=True, env=env)
    if first.returncode != 0 or check.returncode != 0 or not check.stdout.startswith("switchboard "):
        raise SystemExit(f"the installed switchboard does not run: {first.stderr!r} {check.stderr}")
    return seconds, first_s, cpu


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run(runs: int) -> dict[str, Any]:
    """Warm each side's cache, then `runs` timed installs of each, alternating; medians and every run."""
    sides = {"pip": (BEFORE, {}), "shipped": shipped_step()}
    results: dict[str, Any] = {"machine": common.machine(), "runs": runs, "commands": {}}
    with tempfile.TemporaryDirectory(prefix="switchboard-install-") as tmp:
        tops = {name: Path(tmp) / name for name in sides}
        for name, (cmds, extra) in sides.items():
            tops[name].mkdir()
            print(f"{name}: warming the cache")
            run_once(tops[name], cmds, extra)
        timings: dict[str, list[list[float]]] = {name: [] for name in sides}
        firsts: dict[str, list[float]] = {name: [] for name in sides}
        cpus: dict[str, list[float]] = {name: [] for name in sides}
        for number in range(runs):
            for name, (cmds, extra) in sides.items():
                seconds, first, cpu = run_once(tops[name], cmds, extra)
                timings[name].append(seconds)
                firsts[name].append(first)
                cpus[name].append(cpu)
                print(f"{name} run {number + 1}: {sum(seconds):.2f} s, then the first import {first:.2f} s")
    for name, per_run in timings.items():
        totals = [sum(r) for r in per_run]
        results[name] = {
            "median_s": round(statistics.median(totals), 3),
            "runs_s": [round(t, 3) for t in totals],
            "per_command_median_s": [round(statistics.median(c), 3) for c in zip(*per_run, strict=True)],
            "first_import_median_s": round(statistics.median(firsts[name]), 3),
            "cpu_median_s": round(statistics.median(cpus[name]), 3),
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
        "| install step | median wall | runs | median CPU | then the first import of the tick's modules |",
        "|---|---:|---|---:|---:|",
    ]
    for name, label in (("pip", "before: `pip install .` (resolves every dependency)"),
                        ("shipped", "now: uv from requirements/uv.txt, then the locks, hash-checked")):  # fmt: skip
        if name in results:
            r = results[name]
            runs = ", ".join(f"{t:.2f}" for t in r["runs_s"])
            lines.append(
                f"| {label} | **{r['median_s']:.2f} s** | {runs} | {r['cpu_median_s']:.2f} s "
                f"| {r['first_import_median_s']:.2f} s |"
            )
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
