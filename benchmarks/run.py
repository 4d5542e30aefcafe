"""Run switchboard's benchmarks and print what they measured.

    python benchmarks/run.py                  the full run (about 4 minutes on 2 cores)
    python benchmarks/run.py --smoke          every benchmark at a tiny size: a check that they run
    python benchmarks/run.py --update-docs    the full run, and its numbers written into docs/benchmarks.md

Each benchmark is a module of this folder (scan, fanout, idle, growth,
importing, sendnow); docs/benchmarks.md says what each measures and why. The
tick job's install step has its own script, benchmarks/install.py: it needs
PyPI, so it is not part of this run or of --smoke. Nothing here asserts a
time: a run fails only when a benchmark could not do its work (a pass that
delivered less than it should, a command that failed).
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a script: make `benchmarks` and `switchboard` importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks import common, fanout, growth, idle, importing, scan, sendnow
from benchmarks.common import human_bytes, replace_between
from switchboard.testing.letta import LettaStandIn

DOCS = common.ROOT / "docs" / "benchmarks.md"
START, END = "<!-- results:start -->", "<!-- results:end -->"


@dataclass(frozen=True)
class Sizes:
    """How big each benchmark runs."""

    small: int
    large: int
    due: int
    scan_runs: int
    before: bool
    agents: int
    latency: float
    fanout_runs: int
    serial_runs: int
    idle_runs: int
    growth_stored: int
    growth_added: int
    growth_passes: int
    import_count: int
    import_runs: int
    send_stored: int
    send_runs: int


FULL = Sizes(
    small=200, large=20_000, due=20, scan_runs=7, before=True,
    agents=300, latency=0.2, fanout_runs=5, serial_runs=1,
    idle_runs=7,
    growth_stored=200, growth_added=20, growth_passes=10,
    import_count=20_000, import_runs=3,
    send_stored=200, send_runs=9,
)  # fmt: skip
SMOKE = Sizes(
    small=20, large=200, due=4, scan_runs=2, before=True,
    agents=12, latency=0.02, fanout_runs=1, serial_runs=1,
    idle_runs=1,
    growth_stored=20, growth_added=2, growth_passes=2,
    import_count=200, import_runs=1,
    send_stored=20, send_runs=1,
)  # fmt: skip


def run_all(sizes: Sizes, top: Path, only: set[str]) -> dict[str, Any]:
    """Every benchmark asked for, in one temporary folder; their results."""
    results: dict[str, Any] = {"machine": common.machine(), "sizes": sizes.__dict__}
    started = time.perf_counter()
    letta = LettaStandIn().start()
    try:
        if "scan" in only or "idle" in only:
            print(f"scan: {sizes.small} and {sizes.large} stored, {sizes.due} due, {sizes.scan_runs} passes each")
            results["scan"], worlds = scan.run(
                top, letta, small=sizes.small, large=sizes.large, due=sizes.due, runs=sizes.scan_runs,
                before=sizes.before,
            )  # fmt: skip
            if "idle" in only:
                print(f"idle: switchboard tick with nothing due, {sizes.idle_runs} runs in each scan world")
                results["idle"] = {
                    name: idle.run(
                        w.world, w.last_now + timedelta(minutes=2), top / "home", letta.base_url, runs=sizes.idle_runs
                    )
                    for name, w in worlds.items()
                }
                results["idle"]["stored"] = {name: w.stored for name, w in worlds.items()}
        if "fanout" in only:
            print(f"fan-out: {sizes.agents} agents, Letta answering in {sizes.latency}s")
            results["fanout"] = fanout.run(
                top, agents=sizes.agents, latency=sizes.latency, runs=sizes.fanout_runs, serial_runs=sizes.serial_runs
            )
        if "growth" in only:
            print("growth: bytes per schedule and per delivery")
            results["growth"] = growth.run(
                top, letta, stored=sizes.growth_stored, added=sizes.growth_added, passes=sizes.growth_passes,
                due=sizes.due,
            )  # fmt: skip
        if "import" in only:
            print(f"import: {sizes.import_count} schedules, {sizes.import_runs} runs")
            results["import"] = importing.run(top, letta, count=sizes.import_count, runs=sizes.import_runs)
        if "sendnow" in only:
            print(f"send now: `switchboard send` with no time, {sizes.send_stored} stored, {sizes.send_runs} runs")
            results["sendnow"] = sendnow.run(top, letta, stored=sizes.send_stored, runs=sizes.send_runs)
            results["sendnow"]["app_server"] = _send_now_app_server(top, sizes.send_runs)
    finally:
        letta.stop()
    results["machine"]["load_average_end"] = common.machine()["load_average"]
    results["total_s"] = round(time.perf_counter() - started, 1)
    return results


def _send_now_app_server(top: Path, runs: int) -> dict[str, Any] | None:
    """The send-now benchmark against a real App Server (started here, or SWITCHBOARD_APP_SERVER_STATE's)."""
    import importlib.util
    import os

    spec = importlib.util.spec_from_file_location("letta_app_server", common.ROOT / "scripts" / "letta_app_server.py")
    assert spec is not None and spec.loader is not None
    harness = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = harness
    spec.loader.exec_module(harness)
    reuse = os.environ.get("SWITCHBOARD_APP_SERVER_STATE")
    if not reuse and not harness.is_installed():
        print("  send now to the App Server: skipped (run `python3 scripts/letta_app_server.py install`)")
        return None
    info = harness.AppServerInfo.from_file(reuse) if reuse else harness.start_server(top / "app-server")
    try:
        app = sendnow.AppServerLetta(info.base_url, info.token, info.agent_id)
        return sendnow.run_app_server(top, app, runs=runs)
    finally:
        if not reuse:
            harness.stop_server(info)


def report(results: dict[str, Any], command: str) -> str:
    """The results as the Markdown that docs/benchmarks.md shows."""
    m = results["machine"]
    lines = [
        f"Measured with `{command}` on {time.strftime('%Y-%m-%d')}: {m['cpu']}, {m['cores']} cores, {m['memory']}, "
        f"{m['os']}, Python {m['python']}, {m['git']}. Load average {m['load_average'][0]} at the start and "
        f"{m['load_average_end'][0]} at the end (other work shared the machine); whole run {results['total_s']:.0f}s.",
        "",
    ]
    if "scan" in results:
        s = results["scan"]
        small, large = s["stored"]["small"], s["stored"]["large"]
        t = s["tick"]
        reads = s["read_phase"]
        lines += [
            f"### 1. Scan: a pass with {s['due_per_pass']} due, by how much is stored",
            "",
            "| | " + f"{small:,} stored | {large:,} stored | ratio |",
            "|---|---:|---:|---:|",
            f"| pass (`run_pass` in this process), median wall ({s['runs']} runs) | "
            f"{t['small']['median_wall_s']:.2f} s | "
            f"{t['large']['median_wall_s']:.2f} s | **{s['ratio_wall']:.2f}** |",
            f"| pass, median CPU incl. git | {t['small']['median_cpu_s']:.2f} s | {t['large']['median_cpu_s']:.2f} s "
            f"| {s['ratio_cpu']:.2f} |",
            "| of which this Python process (switchboard, and the Letta stand-in) | "
            f"{t['small']['median_own_cpu_s']:.2f} s | "
            f"{t['large']['median_own_cpu_s']:.2f} s | "
            f"{t['large']['median_own_cpu_s'] / t['small']['median_own_cpu_s']:.2f} |",
            "| of which git (both ends of each push: the remote is local) | "
            f"{t['small']['median_child_cpu_s']:.2f} s | "
            f"{t['large']['median_child_cpu_s']:.2f} s | "
            f"{t['large']['median_child_cpu_s'] / t['small']['median_child_cpu_s']:.2f} |",
            f"| `switchboard tick` as a process, median wall ({s['runs']} runs) | "
            f"{s['command']['small']['median_wall_s']:.2f} s | {s['command']['large']['median_wall_s']:.2f} s | "
            f"**{s['command_ratio_wall']:.2f}** |",
            f"| read phase with the index (median) | {1000 * reads['small']['indexed']['median_wall_s']:.0f} ms | "
            f"{1000 * reads['large']['indexed']['median_wall_s']:.0f} ms | |",
        ]
        if "full_scan_s" in reads["large"]:
            lines.append(
                f"| read phase as a full scan (before the index, 1 run) | {reads['small']['full_scan_s']:.2f} s | "
                f"{reads['large']['full_scan_s']:.2f} s | |"
            )
        lines += [
            "",
            f"Per-run ratios (runs paired in time): {', '.join(f'{r:.2f}' for r in s['ratio_per_run'])}; "
            f"building the worlds took {s['seed_s']['small']:.1f} s and {s['seed_s']['large']:.1f} s "
            "(one commit each).",
            "",
        ]
    if "fanout" in results:
        f = results["fanout"]
        lines += [
            f"### 2. Fan-out: {f['agents']} agents due at once, Letta answering each in {f['latency_s']} s",
            "",
            f"| | one agent at a time | default (parallel {f['parallelism']}) |",
            "|---|---:|---:|",
            f"| pass, median wall | {f['serial']['median_wall_s']:.2f} s | {f['parallel']['median_wall_s']:.2f} s |",
            f"| of which the claim commit | {_median(f['serial']['claim_s']):.2f} s | "
            f"{_median(f['parallel']['claim_s']):.2f} s |",
            f"| of which delivery + record commit | {_median(f['serial']['deliver_and_record_s']):.2f} s | "
            f"{_median(f['parallel']['deliver_and_record_s']):.2f} s |",
            f"| TCP connections the pass opened | {_median(f['serial']['connections']):.0f} | "
            f"{_median(f['parallel']['connections']):.0f} |",
            "",
            f"Ratio parallel / one at a time: **{f['ratio_wall']:.3f}** "
            f"(runs: {len(f['serial']['wall_s'])} and {len(f['parallel']['wall_s'])}; "
            f"the one-at-a-time floor is {f['floor_one_at_a_time_s']:.0f} s of Letta latency alone).",
            "",
        ]
    if "idle" in results:
        i = results["idle"]
        stored = i["stored"]
        lines += [
            "### 3. Idle tick: `switchboard tick` as a process, nothing due",
            "",
            f"| | {stored['small']:,} stored | {stored['large']:,} stored |",
            "|---|---:|---:|",
            f"| wall, median of {len(i['small']['wall_s'])} | {i['small']['median_wall_s']:.2f} s | "
            f"{i['large']['median_wall_s']:.2f} s |",
            f"| imports (`-X importtime`, sum of top-level) | {i['small']['importtime']['total_ms']:.0f} ms | "
            f"{i['large']['importtime']['total_ms']:.0f} ms |",
            f"| modules imported | {i['small']['importtime']['modules']} | {i['large']['importtime']['modules']} |",
            f"| dateparser / fastapi / PyGithub / uvicorn imported | "
            f"{_none(i['small']['importtime']['unwanted'])} | {_none(i['large']['importtime']['unwanted'])} |",
            "",
            "Top-level imports by cumulative time (small world): "
            + ", ".join(f"{name} {ms:.0f} ms" for name, ms in i["small"]["importtime"]["top_level_ms"][:8])
            + ".",
            "",
            "Packages by own import time: "
            + ", ".join(f"{name} {ms:.0f} ms" for name, ms in i["small"]["importtime"]["packages_self_ms"][:10])
            + ".",
            "",
        ]
    if "scan" in results or "growth" in results:
        lines += ["### 4. Repository growth", ""]
        lines += [
            "| bytes added to the remote | as pushed (loose objects) | packed (after `git gc`) |",
            "|---|---:|---:|",
        ]
        if "growth" in results:
            g = results["growth"]
            for label, key in (
                ("per one-time schedule added (its own commit)", "per_one_time_schedule"),
                ("per recurring schedule added (its own commit)", "per_recurring_schedule"),
                (f"per delivery, {g['stored']} stored (2 commits per pass of {results['sizes']['due']})",
                 "per_delivery"),
            ):  # fmt: skip
                lines.append(f"| {label} | {human_bytes(g[key]['as_pushed'])} | {human_bytes(g[key]['packed'])} |")
        if "scan" in results:
            per = results["scan"]["remote_bytes_per_delivery"]
            for name in ("small", "large"):
                lines.append(
                    f"| per delivery, {results['scan']['stored'][name]:,} stored (scan passes) "
                    f"| {human_bytes(per[name]['as_pushed'])} | {human_bytes(per[name]['packed'])} |"
                )
        if "growth" in results:
            g = results["growth"]
            lines += [
                "",
                f"A result file is {human_bytes(g['result_file_bytes'])} in the tree. Retention "
                f"({g['retention_days']} days, `SWITCHBOARD_RESULT_RETENTION`) removed "
                f"{g['results_pruned_after_retention']} of {g['deliveries']} results "
                f"({g['results_left_after_retention']} left) in a pass 91 days later.",
            ]
        lines.append("")
    if "import" in results:
        im = results["import"]
        stage = im["stages_s"][0] if im["stages_s"] else {}
        lines += [
            f"### 5. Import: {im['count']:,} schedules in one commit",
            "",
            f"`switchboard import`: median **{im['median_wall_s']:.1f} s** over {len(im['wall_s'])} runs "
            f"({', '.join(f'{x:.1f}' for x in im['wall_s'])} s), {im['per_schedule_ms']:.2f} ms per schedule. "
            + (
                f"First run's progress lines arrived at: checked {stage['checked']:.1f} s, "
                f"encrypted {stage['encrypted']:.1f} s, committing {stage['committing']:.1f} s "
                "(the rest is the commit)."
                if {"checked", "encrypted", "committing"} <= stage.keys()
                else ""
            ),
            "",
        ]
    if "sendnow" in results:
        sn = results["sendnow"]
        lines += [
            f"### 6. Send now: `switchboard send` with no time, as a process ({sn['stored']:,} stored)",
            "",
            f"| | median wall ({sn['runs']} runs) | median CPU incl. git | runs |",
            "|---|---:|---:|---|",
            f"| `send` until it prints the run id (claim commit, POST, record commit) | "
            f"**{sn['send']['median_wall_s']:.2f} s** | {sn['send']['median_cpu_s']:.2f} s | "
            f"{', '.join(f'{x:.2f}' for x in sn['send']['wall_s'])} s |",
            f"| of which until Letta had the message | {sn['median_letta_received_after_s']:.2f} s | | "
            f"{', '.join(f'{x:.2f}' for x in sn['letta_received_after_s'])} s |",
            f"| `send --no-deliver` (one commit; a dispatched workflow delivers later) | "
            f"{sn['no_deliver']['median_wall_s']:.2f} s | {sn['no_deliver']['median_cpu_s']:.2f} s | "
            f"{', '.join(f'{x:.2f}' for x in sn['no_deliver']['wall_s'])} s |",
        ]
        app = sn.get("app_server")
        if app:
            lines += [
                f"| `send` to an App Server (`LETTA_BASE_URL=ws://…`) until it prints the turn's proof (claim "
                f"commit, /ws turn with the fake model, record commit) | **{app['send']['median_wall_s']:.2f} s** | "
                f"{app['send']['median_cpu_s']:.2f} s | {', '.join(f'{x:.2f}' for x in app['send']['wall_s'])} s |",
            ]
        lines += [
            "",
            f"Commits per send: {', '.join(str(c) for c in sn['commits_per_send'])}. Goal: under 2 s; the "
            "dispatch it replaces waits for GitHub to start a runner, about a minute at best.",
            "",
        ]
    return "\n".join(lines)


def _median(values: list[float]) -> float:
    ordered = sorted(values)
    mid = len(ordered) // 2
    return ordered[mid] if len(ordered) % 2 else (ordered[mid - 1] + ordered[mid]) / 2


def _none(found: list[str]) -> str:
    return "none" if not found else ", ".join(found)


def update_docs(markdown: str, path: Path = DOCS) -> None:
    """Put ``markdown`` between the results markers of docs/benchmarks.md."""
    replace_between(path, START, END, markdown)


def main(argv: list[str] | None = None) -> int:
    """Parse the options, run, print; 0 when every benchmark did its work."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--smoke", action="store_true", help="tiny sizes: check the benchmarks run (CI)")
    parser.add_argument("--only", default="scan,fanout,idle,growth,import,sendnow", help="comma-separated benchmarks")
    parser.add_argument("--json", type=Path, help="also write every number to this JSON file")
    parser.add_argument("--update-docs", action="store_true", help=f"write the results into {DOCS.name}")
    parser.add_argument("--keep", action="store_true", help="keep the temporary repositories")
    args = parser.parse_args(argv)
    only = {name.strip() for name in args.only.split(",") if name.strip()}
    unknown = only - {"scan", "fanout", "idle", "growth", "import", "sendnow"}
    if unknown:
        parser.error(f"unknown benchmark(s): {', '.join(sorted(unknown))}")
    sizes = SMOKE if args.smoke else FULL
    top = Path(tempfile.mkdtemp(prefix="switchboard-bench-"))
    try:
        results = run_all(sizes, top, only)
    finally:
        if args.keep:
            print(f"kept {top}")
        else:
            shutil.rmtree(top, ignore_errors=True)
    command = "python benchmarks/run.py" + (" --smoke" if args.smoke else "")
    markdown = report(results, command)
    print()
    print(markdown)
    if args.json:
        args.json.write_text(json.dumps(results, indent=2, default=str))
    if args.update_docs:
        update_docs(markdown)
        print(f"wrote the results into {DOCS}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
