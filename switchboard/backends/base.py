"""The small interface every storage backend offers.

A backend is a versioned tree of files (paths are POSIX, relative to the
repository root, e.g. ``data/schedules/…``). Writers never merge: they read a
fresh state, compute the whole change from it, and ask the backend to commit
it *on top of exactly that state*. When someone else moved the branch first
the commit is refused (``commit`` returns False) and the caller recomputes on
the new state. That one rule is what makes two ticks, or a tick and a laptop,
safe to run at the same time.
"""

from __future__ import annotations

import builtins
from collections.abc import Mapping
from pathlib import Path
from typing import Protocol

#: path -> new content, or None to delete the file.
Changes = Mapping[str, bytes | None]


class Backend(Protocol):
    """A versioned file tree that accepts compare-and-swap commits."""

    def describe(self) -> str:
        """A short human description, e.g. ``git clone at ./repo`` (never a token)."""
        ...

    def refresh(self) -> None:
        """Bring the local view up to the newest state of the remote, if any."""
        ...

    def read(self, path: str) -> bytes | None:
        """The content of ``path`` in the current view, or None if absent."""
        ...

    def list(self, prefix: str) -> list[str]:
        """Every file path below the directory ``prefix`` in the current view, sorted."""
        ...

    def children(self, prefix: str) -> builtins.list[str]:
        """The names directly below the directory ``prefix`` (files and folders), sorted."""
        ...

    def blob_ids(self, prefix: str) -> Mapping[str, str]:
        """The git blob id of every file below ``prefix`` in the current view (the index's fingerprints)."""
        ...

    @property
    def object_format(self) -> str:
        """The hash git names objects with here: "sha1", or "sha256"."""
        ...

    @property
    def has_remote(self) -> bool:
        """Whether commits leave this machine (pushed, or written through an API)."""
        ...

    @property
    def root(self) -> Path | None:
        """The local clone's top folder, or None when there is no clone."""
        ...

    def remote_host(self) -> str | None:
        """The machine that stores the commits, or None when it is this machine."""
        ...

    def can_write(self) -> bool | None:
        """Whether our credentials may publish commits, as far as can be told without one; None: unknown."""
        ...

    def commit(self, changes: Changes, message: str) -> bool:
        """Commit ``changes`` on top of the current view and publish it.

        Returns True when the commit landed (and was pushed, when there is a
        remote). Returns False when the remote moved since the last
        ``refresh``; the backend has then dropped the attempted commit and
        refreshed, so the caller can recompute and try again. Raises
        BackendError for anything else.
        """
        ...


_LOOPBACK = {"localhost", "127.0.0.1", "::1"}


def off_machine_host(url: str) -> str | None:
    """The host a git or API URL reaches when it is another machine; None for a path or loopback.

    Handles ``scheme://[user@]host[:port]/…``, scp-like ``[user@]host:path``
    and plain paths (absolute, relative, ``file://``). Credentials never
    appear in the answer.
    """
    from urllib.parse import urlsplit

    if "://" in url:
        parts = urlsplit(url)
        if parts.scheme == "file":
            return None
        host = parts.hostname
    else:
        head, colon, _ = url.partition(":")
        if not colon or "/" in head:
            return None  # a path (git reads "a/b:c" as one, too)
        host = head.rpartition("@")[2]
    return None if not host or host in _LOOPBACK else host
