"""Turning settings into the objects a command works with."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from switchboard.backends.base import Backend
from switchboard.config import Settings
from switchboard.crypto import DEV_MODE_ENV, KEY_ENV, Codec, codec_from_env
from switchboard.exceptions import ConfigError, EncryptionKeyError
from switchboard.index import indexed_store
from switchboard.letta import LettaClient, LettaTarget, is_app_server
from switchboard.store import INTERACTIVE_PATIENCE, Store

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
    store = indexed_store(backend, codec)
    # A clone is wherever the command runs (the git root of the current folder): it may be any project.
    # The GitHub API backend names its repository on purpose.
    store.setup_required = not settings.github_repo
    # Commands someone waits on keep trying longer when others commit first (the tick sets its own patience).
    store.patience = INTERACTIVE_PATIENCE
    return store


def letta_client(base_url: str, api_key: str | None) -> LettaTarget:
    """The client for the Letta ``base_url`` names (the tick's client factory).

    ``ws://``/``wss://`` is Letta Code's App Server (its key is the capability
    token); anything else is the Letta API over HTTP.
    """
    if is_app_server(base_url):
        from switchboard.letta_ws import AppServerClient  # websockets is loaded only when used

        return AppServerClient(base_url, api_key)
    return LettaClient(base_url, api_key)


def letta_rest_client(base_url: str, api_key: str | None) -> LettaClient:
    """A client of the Letta API itself (tools, agents' secrets): refused for an App Server, which has none."""
    if is_app_server(base_url):
        raise ConfigError(
            f"{base_url} is an App Server, which has no tools API — agent tools need the Letta API "
            "(Letta Cloud); an App Server's agents use the switchboard skill instead"
        )
    return LettaClient(base_url, api_key)


def letta_client_now(base_url: str, api_key: str | None) -> LettaTarget:
    """A client for a delivery someone waits on: a Letta that cannot be reached is known in seconds."""
    if is_app_server(base_url):
        from switchboard.letta_ws import AppServerClient

        return AppServerClient(base_url, api_key, connect_timeout=5.0, turn_timeout=30.0)
    return LettaClient(base_url, api_key, connect_timeout=5.0)
