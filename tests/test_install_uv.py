"""scripts/install_uv.py: the tick job's uv comes only from a wheel whose hash the lock lists.

Each test runs the script as the workflow does, with the python of a fresh
virtualenv (so the binary lands in that venv's bin/, not this one's), against
a real wheel built here and a lock that lists its SHA-256. pip, for the
cache-miss path, is this machine's real pip reading a local folder instead of
PyPI (`--no-index --find-links` through its environment variables), so it
checks hashes exactly as it does against the index.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from conftest import ROOT

SCRIPT = ROOT / "scripts" / "install_uv.py"
WHEEL_NAME = "uv-9.9.9-py3-none-any.whl"


def make_wheel(path: Path, says: str) -> Path:
    """A wheel shaped like uv's: its binary (a shell script printing `says`) under uv-*.data/scripts/."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("uv-9.9.9.data/scripts/uv", f"#!/bin/sh\necho '{says}'\n")
        archive.writestr("uv-9.9.9.dist-info/METADATA", "Metadata-Version: 2.1\nName: uv\nVersion: 9.9.9\n")
        archive.writestr("uv-9.9.9.dist-info/WHEEL", "Wheel-Version: 1.0\nRoot-Is-Purelib: false\nTag: py3-none-any\n")
        archive.writestr("uv-9.9.9.dist-info/RECORD", "")
    return path


def lock_for(path: Path, wheel: Path) -> Path:
    """A requirements/uv.txt that pins uv 9.9.9 to `wheel`'s hash."""
    digest = hashlib.sha256(wheel.read_bytes()).hexdigest()
    path.write_text(f"uv==9.9.9 \\\n    --hash=sha256:{digest}\n    # via -r requirements/uv.in\n")
    return path


@pytest.fixture
def venv(tmp_path: Path) -> Path:
    """A fresh virtualenv (no pip of its own: the base interpreter's, as setup-python's Python has one)."""
    where = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", "--system-site-packages", str(where)], check=True)
    return where


def install(venv: Path, wheel_dir: Path, lock: Path, index: Path) -> subprocess.CompletedProcess[str]:
    """The script as the workflow runs it; pip (on a miss) reads `index` instead of PyPI."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PIP_")}
    env.update(PIP_CONFIG_FILE=os.devnull, PIP_NO_INDEX="1", PIP_FIND_LINKS=str(index))
    return subprocess.run(
        [str(venv / "bin" / "python"), str(SCRIPT), str(wheel_dir), "--lock", str(lock)],
        cwd=ROOT, env=env, capture_output=True, text=True, check=False,
    )  # fmt: skip


def uv_says(venv: Path) -> str:
    """What the installed uv prints."""
    return subprocess.run([str(venv / "bin" / "uv")], capture_output=True, text=True, check=True).stdout.strip()


def test_a_cached_wheel_the_lock_lists_is_used_without_pip(tmp_path: Path, venv: Path) -> None:
    wheel = make_wheel(tmp_path / "cache" / WHEEL_NAME, "uv from the cache")
    lock = lock_for(tmp_path / "uv.txt", wheel)
    done = install(venv, wheel.parent, lock, index=tmp_path / "empty-index")
    assert done.returncode == 0, done.stderr
    assert uv_says(venv) == "uv from the cache"
    assert done.stderr == ""
    assert [p.name for p in wheel.parent.iterdir()] == [WHEEL_NAME]


def test_a_cache_miss_fetches_the_wheel_with_pip_checking_its_hash(tmp_path: Path, venv: Path) -> None:
    wheel = make_wheel(tmp_path / "index" / WHEEL_NAME, "uv from the index")
    lock = lock_for(tmp_path / "uv.txt", wheel)
    done = install(venv, tmp_path / "cache", lock, index=wheel.parent)
    assert done.returncode == 0, done.stderr
    assert uv_says(venv) == "uv from the index"
    assert (tmp_path / "cache" / WHEEL_NAME).read_bytes() == wheel.read_bytes()  # kept for the next job


def test_a_cached_wheel_the_lock_does_not_list_is_replaced_by_the_locked_one(tmp_path: Path, venv: Path) -> None:
    good = make_wheel(tmp_path / "index" / WHEEL_NAME, "uv from the index")
    lock = lock_for(tmp_path / "uv.txt", good)
    make_wheel(tmp_path / "cache" / WHEEL_NAME, "planted uv")
    done = install(venv, tmp_path / "cache", lock, index=good.parent)
    assert done.returncode == 0, done.stderr
    assert uv_says(venv) == "uv from the index"
    assert f"::warning title=uv wheel not in the lock::{WHEEL_NAME} does not match" in done.stderr


def test_nothing_runs_when_no_wheel_matches_the_lock(tmp_path: Path, venv: Path) -> None:
    locked = make_wheel(tmp_path / "elsewhere" / WHEEL_NAME, "the locked uv")
    lock = lock_for(tmp_path / "uv.txt", locked)
    make_wheel(tmp_path / "cache" / WHEEL_NAME, "planted uv")
    make_wheel(tmp_path / "index" / WHEEL_NAME, "another planted uv")
    done = install(venv, tmp_path / "cache", lock, index=tmp_path / "index")
    assert done.returncode == 1
    assert "THESE PACKAGES DO NOT MATCH THE HASHES" in done.stderr  # pip's own refusal
    assert done.stderr.strip().splitlines()[-1].startswith("Error: pip could not fetch the uv wheel")
    assert not (venv / "bin" / "uv").exists()
    assert not list((tmp_path / "cache").glob("*.whl"))  # the planted wheel is gone too


def test_a_lock_without_hashes_is_refused(tmp_path: Path, venv: Path) -> None:
    wheel = make_wheel(tmp_path / "cache" / WHEEL_NAME, "uv from the cache")
    lock = tmp_path / "uv.txt"
    lock.write_text("uv==9.9.9\n")
    done = install(venv, wheel.parent, lock, index=tmp_path / "index")
    assert done.returncode == 1
    assert done.stderr.strip() == f"Error: {lock} lists no --hash=sha256: lines; run `make lock`"
    assert not (venv / "bin" / "uv").exists()


def test_the_real_lock_pins_uv_by_hash_for_this_script() -> None:
    sys.path.insert(0, str(SCRIPT.parent))
    try:
        from install_uv import locked_hashes
    finally:
        sys.path.remove(str(SCRIPT.parent))
    hashes = locked_hashes(ROOT / "requirements" / "uv.txt")
    assert len(hashes) >= 10 and all(len(h) == 64 for h in hashes)
