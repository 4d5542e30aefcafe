"""Turning settings into the objects a command works with."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from switchboard.backends.base import Backend
from switchboard.config import Settings
from switchboard.crypto import DEV_MODE_ENV, KEY_ENV, Codec, codec_from_env
from switchboard.exceptions import ConfigError, EncryptionKeyError
from switchboard.index import indexed_store
from switchboard.letta import LettaClient
from switchboard.store import Store

if TYPE_CHECKING:
    from switchboard.backends.github import GitHubBackend, GitHubSession


def open_backend(settings: Settings) -> Backend:
    """The GitHub API backend when a repository name is set, else the local clone."""
    if settings.github_repo:
        if not settings.github_token:
            raise ConfigError(
                f"--github {settings.github_repo} needs GITHUB_TOKEN (a token with contents: write "
                f"on that repository) — set it, or work in a clone with --repo"
            )
        return open_github(settings, settings.github_repo, settings.github_token)
    from switchboard.backends.git import GitBackend

    return GitBackend(Path(settings.repo or ".").resolve())


def open_github_session(settings: Settings, repo: str, token: str, branch: str | None = None) -> GitHubSession:
    """A PyGithub session for ``repo`` at ``settings.github_api_url`` (SWITCHBOARD_GITHUB_API_URL)."""
    from urllib.parse import urlsplit

    from switchboard.backends.github import GitHubSession  # PyGithub only when asked for

    # GitHub asks for a second between writes; a loopback API (a stand-in, a local proxy) is not GitHub.
    loopback = urlsplit(settings.github_api_url).hostname in ("127.0.0.1", "localhost", "::1")
    return GitHubSession(
        repo,
        token,
        branch=branch,
        base_url=settings.github_api_url,
        seconds_between_writes=None if loopback else 1.0,
    )


def open_github(settings: Settings, repo: str, token: str, branch: str | None = None) -> GitHubBackend:
    """The data tree of ``repo`` through GitHub's API."""
    from switchboard.backends.github import GitHubBackend  # PyGithub only when asked for

    return GitHubBackend(open_github_session(settings, repo, token, branch))


def open_codec(settings: Settings) -> Codec:
    """The codec for the configured keys (or dev mode)."""
    env = dict(settings.env)
    if settings.encryption_key:
        env["SWITCHBOARD_ENCRYPTION_KEY"] = settings.encryption_key
    return codec_from_env(env)


def open_store(settings: Settings) -> Store:
    """The encrypted store the settings point at.

    Dev mode (plaintext files) is for a clone that stays on this machine: with
    a backend that publishes to another one (a GitHub remote, the GitHub API),
    it is refused before anything is written.
    """
    codec = open_codec(settings)
    backend = open_backend(settings)
    host: str | None = backend.remote_host() if codec.plaintext else None
    if host is not None:
        raise EncryptionKeyError(
            f"{DEV_MODE_ENV}=true stores schedules in plaintext, and {backend.describe()} publishes to {host} — "
            f"unset it and set {KEY_ENV} (`switchboard keys generate` makes one), or use dev mode in a clone "
            f"without a remote"
        )
    return indexed_store(backend, codec)


def letta_client(base_url: str, api_key: str | None) -> LettaClient:
    """A Letta client with the default transport (the tick's client factory)."""
    return LettaClient(base_url, api_key)


def letta_client_now(base_url: str, api_key: str | None) -> LettaClient:
    """A Letta client for a delivery someone waits on: a Letta that cannot be reached is known in seconds."""
    return LettaClient(base_url, api_key, connect_timeout=5.0)
