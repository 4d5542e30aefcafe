"""Where the data/ tree lives: a local git clone, or a GitHub repository through its API."""

from switchboard.backends.base import Backend, Changes

__all__ = ["Backend", "Changes"]
