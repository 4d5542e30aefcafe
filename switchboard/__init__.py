"""letta-switchboard: scheduled and immediate messages for Letta agents, with no server to run."""

from importlib.metadata import PackageNotFoundError, version

try:
    # One source of truth: pyproject.toml's version, as the installed package's metadata records it.
    __version__ = version("letta-switchboard")
except PackageNotFoundError:  # run from a source tree that was never installed
    __version__ = "0+unknown"
