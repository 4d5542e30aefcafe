"""What every benchmark shares: timing, medians, the machine, and running the real CLI."""

from __future__ import annotations

import os
import platform
import resource
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]


@dataclass
class Timing:
    """Wall and CPU seconds of one measured run (CPU includes child processes such as git)."""

    wall: float
    cpu: float
    #: CPU seconds of this Python process alone (switchboard's own work, and the stand-in's when it runs here).
    own_cpu: float = float("nan")


@dataclass
class Series:
    """Several runs of one measurement."""

    name: str
    runs: list[Timing] = field(default_factory=list)

    @property
    def wall(self) -> float:
        """Median wall seconds."""
        return statistics.median(r.wall for r in self.runs)

    @property
    def cpu(self) -> float:
        """Median CPU seconds (this process and its children)."""
        return statistics.median(r.cpu for r in self.runs)

    @property
    def own_cpu(self) -> float:
        """Median CPU seconds of this process alone."""
        return statistics.median(r.own_cpu for r in self.runs)

    @property
    def child_cpu(self) -> float:
        """Median CPU seconds of child processes (git, and the git server side of a push to a local remote)."""
        return statistics.median(r.cpu - r.own_cpu for r in self.runs)

    def as_json(self) -> dict[str, Any]:
        """Medians and every run, for --json."""
        return {
            "median_wall_s": round(self.wall, 4),
            "median_cpu_s": round(self.cpu, 4),
            "median_own_cpu_s": round(self.own_cpu, 4),
            "median_child_cpu_s": round(self.child_cpu, 4),
            "wall_s": [round(r.wall, 4) for r in self.runs],
            "cpu_s": [round(r.cpu, 4) for r in self.runs],
        }


def _cpu() -> tuple[float, float]:
    own = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime, kids.ru_utime + kids.ru_stime


@contextmanager
def measure(series: Series) -> Iterator[None]:
    """Time the block and add it to ``series``."""
    wall, (own, kids) = time.perf_counter(), _cpu()
    yield
    own_after, kids_after = _cpu()
    series.runs.append(Timing(time.perf_counter() - wall, own_after - own + kids_after - kids, own_after - own))


def timed(action: Callable[[], Any]) -> tuple[float, Any]:
    """Wall seconds of ``action()``, and what it returned."""
    start = time.perf_counter()
    value = action()
    return time.perf_counter() - start, value


def machine() -> dict[str, Any]:
    """What the numbers were measured on."""
    model = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        model = platform.processor()
    memory = ""
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                memory = f"{int(line.split()[1]) // 1024} MiB"
                break
    except OSError:
        pass
    git = subprocess.run(["git", "--version"], capture_output=True, text=True, check=False).stdout.strip()
    return {
        "cpu": model,
        "cores": os.cpu_count(),
        "memory": memory,
        "os": f"{platform.system()} {platform.release()}",
        "python": platform.python_version(),
        "git": git,
        "load_average": [round(x, 2) for x in os.getloadavg()],
    }


def cli(
    *args: str, env: Mapping[str, str], python_flags: tuple[str, ...] = (), timeout: float = 3600
) -> subprocess.CompletedProcess[str]:
    """The real ``switchboard`` command in a subprocess, with only ``env`` as its switchboard settings."""
    full = {k: v for k, v in os.environ.items() if not k.startswith(("SWITCHBOARD_", "LETTA_", "GITHUB_"))}
    full.update(env)
    return subprocess.run(
        [sys.executable, *python_flags, "-m", "switchboard", *args],
        cwd=ROOT,
        env=full,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def human_bytes(count: float) -> str:
    """1.2 KiB, 3.4 MiB, …"""
    value = float(count)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if abs(value) < 1024 or unit == "GiB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} GiB"


def replace_between(path: Path, start: str, end: str, text: str) -> None:
    """Put ``text`` between the ``start`` and ``end`` markers of the page at ``path`` (the generated tables)."""
    body = path.read_text()
    head, _, rest = body.partition(start)
    _, _, tail = rest.partition(end)
    if not rest:
        raise SystemExit(f"{path} has no {start} … {end} markers")
    path.write_text(f"{head}{start}\n{text}\n{end}{tail}")
