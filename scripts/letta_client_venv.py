#!/usr/bin/env python3
"""Virtualenvs with one ``letta-client`` release each, for testing the SDK against ``switchboard serve``.

Usage::

    python scripts/letta_client_venv.py install                   # the newest release
    python scripts/letta_client_venv.py install --release 1.7.0   # one given release

Each prints the venv's python and its letta-client version as JSON.

The project's own venv has the letta-client its dependency pins allow (or its
lock pins). The newest release on the package index, in a venv of its own,
catches a new SDK that sends the schedule API differently before a user meets
it: cached outside the repository and refreshed (``pip install --upgrade``)
at most once a day; when the index cannot be reached, the cached venv is used
as it is. A given release (the oldest the pins allow) is installed once.

Importable too: :func:`ensure_newest`, :func:`ensure_release`. Stdlib only,
like ``letta_server.py``.
"""

from __future__ import annotations

import argparse
import fcntl
import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

PACKAGE = "letta-client"
#: How long an install counts as "the newest" before pip is asked again.
REFRESH_SECONDS = 24 * 3600
MARKER_NAME = ".switchboard-refreshed"


class SdkVenvError(RuntimeError):
    """The venv could not be made, or letta-client could not be installed into it."""


def venv_dir(release: str | None = None) -> Path:
    """Where the venv of ``release`` (None: the newest) lives, in the user's cache folder.

    ``LETTA_CLIENT_VENV`` moves the newest one's.
    """
    env = os.environ.get("LETTA_CLIENT_VENV")
    if env and release is None:
        return Path(env).expanduser()
    return Path.home() / ".cache" / "letta-switchboard" / f"letta-client-{release or 'newest'}"


def python_of(venv: Path) -> Path:
    """The venv's interpreter."""
    return venv / "bin" / "python"


def installed_version(venv: Path) -> str | None:
    """The letta-client version in the venv, or None when it has none."""
    python = python_of(venv)
    if not python.exists():
        return None
    probe = "import importlib.metadata as m; print(m.version('letta-client'))"
    proc = subprocess.run([str(python), "-c", probe], capture_output=True, text=True, timeout=60, check=False)
    return (proc.stdout.strip() or None) if proc.returncode == 0 else None


def _fresh(venv: Path, now: float) -> bool:
    try:
        return now - (venv / MARKER_NAME).stat().st_mtime < REFRESH_SECONDS
    except OSError:
        return False


def ensure_newest(*, now: float | None = None, timeout: float = 600) -> tuple[Path, str]:
    """The newest release's venv python and its version, installing or upgrading first (at most daily).

    Raises SdkVenvError when there is no usable venv and none can be made.
    """
    now = time.time() if now is None else now
    return _ensure(venv_dir(), PACKAGE, lambda venv, _: _fresh(venv, now), timeout)


def ensure_release(release: str, *, timeout: float = 600) -> tuple[Path, str]:
    """The venv python of one letta-client ``release`` (e.g. "1.7.0") and its version, installing it once."""
    return _ensure(venv_dir(release), f"{PACKAGE}=={release}", lambda _, version: version == release, timeout)


def _ensure(venv: Path, requirement: str, usable: Callable[[Path, str], bool], timeout: float) -> tuple[Path, str]:
    # A lock file keeps two callers (CI and a test run) from installing into one venv at once.
    venv.parent.mkdir(parents=True, exist_ok=True)
    with (venv.parent / f".{venv.name}.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        version = installed_version(venv)
        if version is not None and usable(venv, version):
            return python_of(venv), version
        try:
            _install(venv, requirement, timeout)
        except SdkVenvError:
            if version is None or requirement != PACKAGE:
                raise
            # The index is out of reach: yesterday's newest is still a real release to test.
            return python_of(venv), version
        version = installed_version(venv)
        if version is None:
            raise SdkVenvError(f"{PACKAGE} is not importable in {venv} after installing it")
        (venv / MARKER_NAME).write_text(version + "\n")
        return python_of(venv), version


def _install(venv: Path, requirement: str, timeout: float) -> None:
    python = python_of(venv)
    try:
        if not python.exists():
            # The base interpreter, not a venv's: a venv made from another venv breaks when that one is rebuilt.
            base = getattr(sys, "_base_executable", None) or sys.executable
            subprocess.run([base, "-m", "venv", str(venv)], check=True, capture_output=True, timeout=300)
        proc = subprocess.run(
            [str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "--upgrade", requirement],
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
    except (OSError, subprocess.SubprocessError) as exc:
        raise SdkVenvError(f"could not make a venv for {requirement} in {venv}: {type(exc).__name__}") from None
    if proc.returncode != 0:
        last = (proc.stderr.strip().splitlines() or ["no output"])[-1]
        raise SdkVenvError(f"pip could not install {requirement} into {venv}: {last}")


def main(argv: list[str] | None = None) -> int:
    """``install [--release X]``: make or refresh the venv, print its python and letta-client version as JSON."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("command", choices=["install"])
    parser.add_argument("--release", help="one letta-client release (default: the newest on the index)")
    args = parser.parse_args(argv)
    try:
        python, version = ensure_release(args.release) if args.release else ensure_newest()
    except SdkVenvError as exc:
        print(f"Error: {exc}", file=sys.stderr)
        return 1
    print(json.dumps({"python": str(python), "letta_client": version}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
