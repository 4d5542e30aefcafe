"""What a switchboard process that died inside a clone leaves behind, and how to know it died.

Every switchboard process that works in a clone holds the clone's lock
(``switchboard.lock``, an ``flock`` the kernel releases when the process dies)
and, while it holds it, writes its owner line there: pid, process start time,
host and boot id. A clean release empties the file. So a process that takes
the lock and finds an owner line knows the previous holder stopped in the
middle of its work; it checks that this owner is really gone (not running on
this machine with the same start time), then clears what it left: git's own
``*.lock`` files, a rebase it was in, the scratch ref of a commit it was
building, data/ files it had written but not committed. Git's lock files with
no such owner are removed only once older than any git command takes
(``STALE_LOCK_AGE``), since a person's own git command may hold one.
"""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

#: A git lock file older than this, with no switchboard process holding the clone, is left over.
STALE_LOCK_AGE = 15 * 60.0
#: Our own lock: never removed (the kernel releases it).
OWN_LOCK = "switchboard.lock"


def _boot_id() -> str:
    try:
        return Path("/proc/sys/kernel/random/boot_id").read_text().strip()
    except OSError:
        return "-"


def _start_time(pid: int) -> str:
    """A process's start time in clock ticks since boot (/proc), or "-" where there is no /proc."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return "-"
    # The command name (field 2) may hold spaces; the fields after its closing parenthesis do not.
    fields = stat.rpartition(")")[2].split()
    return fields[19] if len(fields) > 19 else "-"


@dataclass(frozen=True)
class Owner:
    """The process that holds (or held) a clone's lock."""

    pid: int
    started: str
    host: str
    boot: str

    @classmethod
    def me(cls) -> Owner:
        """This process."""
        pid = os.getpid()
        return cls(pid, _start_time(pid), socket.gethostname(), _boot_id())

    @classmethod
    def parse(cls, line: str) -> Owner | None:
        """The owner an owner line names; None for an empty or foreign line."""
        fields = line.split()
        if len(fields) != 5 or fields[0] != "pid" or not fields[1].isdigit():
            return None
        return cls(int(fields[1]), fields[2], fields[3], fields[4])

    def line(self) -> str:
        """The owner line written into the lock file."""
        return f"pid {self.pid} {self.started} {self.host} {self.boot}\n"

    def is_gone(self) -> bool:
        """Whether this process is certainly no longer running (False when that cannot be told)."""
        if self.host != socket.gethostname():
            return False  # another machine sharing the folder: it cannot be asked
        if self.boot != "-" and self.boot != _boot_id():
            return True  # the machine restarted since
        started = _start_time(self.pid)
        if started != "-" or Path("/proc").is_dir():
            return started == "-" or started != self.started  # no such process, or a new one with its pid
        try:
            os.kill(self.pid, 0)
        except ProcessLookupError:
            return True
        except OSError:
            return False
        return False


def git_lock_files(git_dir: Path) -> Iterator[Path]:
    """Git's own ``*.lock`` files: at the top of the git directory and below refs/ (not ours)."""
    try:
        top = list(os.scandir(git_dir))
    except OSError:
        return
    for entry in top:
        if entry.name.endswith(".lock") and entry.name != OWN_LOCK and entry.is_file():
            yield Path(entry.path)
    for dirpath, _dirs, files in os.walk(git_dir / "refs"):
        for name in files:
            if name.endswith(".lock"):
                yield Path(dirpath) / name


def is_old(path: Path, now: float | None = None) -> bool:
    """Whether a file was last written more than ``STALE_LOCK_AGE`` ago (by the file system's clock)."""
    try:
        written = path.stat().st_mtime
    except OSError:
        return False
    return (now if now is not None else time.time()) - written > STALE_LOCK_AGE
