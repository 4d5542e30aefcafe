"""letta-switchboard: scheduled and immediate messages for Letta agents, with no server to run."""

__version__ = "0.1.0"
