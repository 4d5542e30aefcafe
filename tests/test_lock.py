"""The hash-checked locks in requirements/ agree with pyproject.toml (offline: nothing is resolved).

`scripts/lock.sh` (`make lock`) compiles them with `uv pip compile
--generate-hashes`. This test reads what they pin and what each pin is there
for (uv's `# via` lines) and fails when pyproject.toml asks for a package the
lock does not pin, for a version the pin does not satisfy, or no longer asks
for a package the lock still pins as a direct dependency. The fix is always
the same: `make lock`.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import yaml
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

ROOT = Path(__file__).resolve().parents[1]
REQUIREMENTS = ROOT / "requirements"
PROJECT = "letta-switchboard (pyproject.toml)"
BUILD_IN = "-r requirements/build.in"
FIX = "run `make lock` and commit requirements/"

_PIN = re.compile(r"^(?P<name>[A-Za-z0-9][A-Za-z0-9._-]*)==(?P<version>[^\s;\\]+)")
_HASH = re.compile(r"--hash=sha256:[0-9a-f]{64}")


@dataclass
class Pin:
    """One locked package: its version, its hashes and what it is there for."""

    version: Version
    hashes: int = 0
    via: set[str] = field(default_factory=set)


def read_lock(text: str) -> dict[str, Pin]:
    """The pins of a `uv pip compile --generate-hashes` file, by canonical name."""
    pins: dict[str, Pin] = {}
    current: Pin | None = None
    for line in text.splitlines():
        match = _PIN.match(line)
        if match:
            current = pins[canonicalize_name(match["name"])] = Pin(Version(match["version"]))
        elif current is not None and _HASH.search(line):
            current.hashes += 1
        elif current is not None and line.startswith("    #"):
            # `# via x` on one line, or `# via` then `#   x` lines.
            reason = line.strip().removeprefix("#").strip().removeprefix("via").strip()
            if reason:
                current.via.add(reason)
    return pins


def wanted(pyproject: dict[str, object], build_in: str, *, extras: bool) -> list[Requirement]:
    """What a lock must satisfy: the core dependencies (and every extra), and the build backend."""
    project = pyproject["project"]
    assert isinstance(project, dict)
    reqs = [Requirement(r) for r in project["dependencies"]]
    if extras:
        reqs += [Requirement(r) for group in project["optional-dependencies"].values() for r in group]
    reqs += [Requirement(line.split("#")[0]) for line in build_in.splitlines() if line.split("#")[0].strip()]
    return reqs


def problems(pyproject_text: str, lock_text: str, build_in: str, *, extras: bool, name: str) -> list[str]:
    """Every way the lock `name` disagrees with pyproject.toml; empty when it agrees."""
    pyproject = tomllib.loads(pyproject_text)
    pins = read_lock(lock_text)
    found: list[str] = []
    direct: set[str] = set()
    for req in wanted(pyproject, build_in, extras=extras):
        key = canonicalize_name(req.name)
        direct.add(key)
        pin = pins.get(key)
        if pin is None:
            found.append(f"{name}: pyproject.toml asks for {req}, which it does not pin")
        elif not req.specifier.contains(pin.version, prereleases=True):
            found.append(f"{name}: pins {req.name}=={pin.version}, but pyproject.toml asks for {req}")
    for key, pin in sorted(pins.items()):
        if (PROJECT in pin.via or BUILD_IN in pin.via) and key not in direct:
            found.append(f"{name}: pins {key} for pyproject.toml, which no longer asks for it")
        if pin.hashes == 0:
            found.append(f"{name}: {key} has no hash")
    build_system = {str(Requirement(r)) for r in pyproject["build-system"]["requires"]}
    build_pins = {str(r) for r in wanted({"project": {"dependencies": []}}, build_in, extras=False)}
    if build_system != build_pins:
        found.append(f"requirements/build.in says {sorted(build_pins)}, [build-system] {sorted(build_system)}")
    return found


def _files() -> tuple[str, str, str, str]:
    return (
        (ROOT / "pyproject.toml").read_text(encoding="utf-8"),
        (REQUIREMENTS / "tick.txt").read_text(encoding="utf-8"),
        (REQUIREMENTS / "dev.txt").read_text(encoding="utf-8"),
        (REQUIREMENTS / "build.in").read_text(encoding="utf-8"),
    )


@pytest.mark.parametrize(("lock", "extras"), [("tick.txt", False), ("dev.txt", True)])
def test_each_lock_agrees_with_pyproject(lock: str, extras: bool) -> None:
    pyproject = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    text = (REQUIREMENTS / lock).read_text(encoding="utf-8")
    build_in = (REQUIREMENTS / "build.in").read_text(encoding="utf-8")
    found = problems(pyproject, text, build_in, extras=extras, name=f"requirements/{lock}")
    assert not found, "\n".join([*found, FIX])


def test_the_tick_runs_the_versions_the_tests_ran() -> None:
    _, tick, dev, _ = _files()
    tick_pins, dev_pins = read_lock(tick), read_lock(dev)
    assert tick_pins, "requirements/tick.txt pins nothing"
    differ = {k: (p.version, dev_pins[k].version if k in dev_pins else None) for k, p in tick_pins.items()}
    differ = {k: v for k, v in differ.items() if v[0] != v[1]}
    assert not differ, f"tick.txt and dev.txt pin these differently: {differ}; {FIX}"
    # Core only: the tick installs no extra (no API server, no test tools).
    assert {"fastapi", "uvicorn", "pygithub", "pytest"}.isdisjoint(tick_pins)


def test_uv_is_pinned_with_hashes() -> None:
    pins = read_lock((REQUIREMENTS / "uv.txt").read_text(encoding="utf-8"))
    assert list(pins) == ["uv"]
    assert pins["uv"].hashes >= 10  # one wheel per platform, and the sdist


def test_a_change_to_pyproject_without_a_new_lock_is_caught() -> None:
    pyproject, tick, dev, build_in = _files()
    assert not problems(pyproject, dev, build_in, extras=True, name="dev")

    added = pyproject.replace('"tzdata>=2024.1",', '"tzdata>=2024.1",\n    "a-new-dependency>=4",')
    assert problems(added, tick, build_in, extras=False, name="tick") == [
        "tick: pyproject.toml asks for a-new-dependency>=4, which it does not pin"
    ]
    typer = read_lock(tick)["typer"].version
    raised = re.sub(r'"typer>=[^"]*"', f'"typer>{typer}"', pyproject)
    assert problems(raised, tick, build_in, extras=False, name="tick") == [
        f"tick: pins typer=={typer}, but pyproject.toml asks for typer>{typer}"
    ]
    dropped = re.sub(r'\s*"croniter>=[^"]*",', "", pyproject)
    assert problems(dropped, tick, build_in, extras=False, name="tick") == [
        "tick: pins croniter for pyproject.toml, which no longer asks for it"
    ]
    backend = pyproject.replace('requires = ["setuptools>=77"]', 'requires = ["setuptools>=80", "wheel"]')
    assert len(problems(backend, tick, build_in, extras=False, name="tick")) == 1
    unhashed = re.sub(r"\s*\\\n\s*--hash=sha256:[0-9a-f]{64}", "", tick)
    assert "tick: typer has no hash" in problems(pyproject, unhashed, build_in, extras=False, name="tick")


def test_the_tick_job_installs_only_locked_hash_checked_packages() -> None:
    steps = yaml.safe_load((ROOT / ".github" / "workflows" / "tick.yml").read_text(encoding="utf-8"))["jobs"]["tick"]
    installs = [s for s in steps["steps"] if "install" in str(s.get("run", "")).lower()]
    assert [s["name"] for s in installs] == ["Install switchboard"]
    commands = [" ".join(c.split()) for c in installs[0]["run"].replace("\\\n", " ").splitlines()]
    commands = [c for c in commands if "install" in c and not c.startswith("#")]
    assert len(commands) == 3, commands
    # uv from the cached wheel, hashed against requirements/uv.txt (tests/test_install_uv.py), pip on a miss.
    assert commands[0] == "python scripts/install_uv.py ~/.cache/uv-wheel"
    # The core lock by uv, from its cache first, then from the index: hash-checked both ways.
    offline, online = commands[1].split(" || ")
    assert offline == "uv pip install --offline --quiet --require-hashes -r requirements/tick.txt 2>/dev/null"
    assert online == "uv pip install --require-hashes -r requirements/tick.txt"
    # switchboard itself: no dependencies, and no build tools fetched (the locked setuptools builds it).
    assert commands[2] == "uv pip install --no-deps --no-build-isolation ."


def test_the_tick_job_caches_the_uv_wheel_and_uv_cache_per_lock_only() -> None:
    steps = yaml.safe_load((ROOT / ".github" / "workflows" / "tick.yml").read_text(encoding="utf-8"))["jobs"]["tick"]
    caches = [s for s in steps["steps"] if str(s.get("uses", "")).startswith("actions/cache@")]
    assert len(caches) == 1
    (cache,) = caches
    assert cache["with"]["path"].split() == ["~/.cache/uv-wheel", "~/.cache/uv"]
    # Keyed on both locks and nothing else, with no restore-keys: a job never starts from another lock's files.
    assert cache["with"]["key"].endswith("${{ hashFiles('requirements/uv.txt', 'requirements/tick.txt') }}")
    assert "restore-keys" not in cache["with"]
    names = [s.get("name") for s in steps["steps"]]
    assert names.index(cache["name"]) < names.index("Install switchboard")
    # setup-python keeps no pip cache: pip runs only to fetch uv's wheel on a cold cache.
    (setup,) = [s for s in steps["steps"] if str(s.get("uses", "")).startswith("actions/setup-python@")]
    assert "cache" not in setup["with"]
