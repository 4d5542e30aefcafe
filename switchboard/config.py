"""Settings, the one place that reads the environment: flags beat the environment, which beats the config file.

``VARIABLES`` lists every environment variable switchboard reads, with its
meaning (``docs/settings.md`` shows the table, and a test keeps the two the
same). ``read_environment`` is the only read of ``os.environ``: the edges (a
CLI command, ``serve``, the tick) call it once, through ``resolve``, and hand
``Settings.env`` down; nothing below them looks at the process environment.
Two things are left alone on purpose: git is run with the environment it was
given (its own variables are git's business), and the agent tools' code runs
inside Letta with Letta's environment.

The config file is ``$XDG_CONFIG_HOME/letta-switchboard/config.json``
(``~/.config/…`` by default), written with mode 0600 by ``switchboard config``.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from switchboard.exceptions import ConfigError

DEFAULT_BASE_URL = "https://api.letta.com"
DEFAULT_GITHUB_API_URL = "https://api.github.com"

#: setting name -> environment variable
ENVIRONMENT = {
    "encryption_key": "SWITCHBOARD_ENCRYPTION_KEY",
    "api_key": "LETTA_API_KEY",
    "base_url": "LETTA_BASE_URL",
    "github_token": "GITHUB_TOKEN",
    "repo": "SWITCHBOARD_REPO",
    "github_repo": "SWITCHBOARD_GITHUB_REPO",
    "github_api_url": "SWITCHBOARD_GITHUB_API_URL",
    "timezone": "SWITCHBOARD_TZ",
}

SECRET_SETTINGS = {"encryption_key", "api_key", "github_token"}

#: Every environment variable switchboard reads, and what it is for (the table in docs/settings.md).
VARIABLES: dict[str, str] = {
    "SWITCHBOARD_ENCRYPTION_KEY": "Fernet key(s), comma-separated, newest first: the first encrypts, all decrypt.",
    "LETTA_API_KEY": "Your Letta key (an App Server's capability token): stored, encrypted, in each schedule it "
    "makes; it also picks your tenant.",
    "LETTA_BASE_URL": "Your Letta server: https://api.letta.com (the default), or ws://HOST:PORT for an App Server.",
    "GITHUB_TOKEN": "For --github mode, init's set-up, and starting the tick workflow.",
    "SWITCHBOARD_REPO": "The local clone to write to (default: the git root of the current folder).",
    "SWITCHBOARD_GITHUB_REPO": "owner/name: write through the GitHub API instead of a clone.",
    "SWITCHBOARD_GITHUB_API_URL": "GitHub's API (default https://api.github.com; GitHub Enterprise or a stand-in).",
    "SWITCHBOARD_TZ": "The zone phrases are read in when a command gets no --tz (else config set-tz, else TZ).",
    "TZ": "This machine's zone, when it names one (else /etc/localtime), for phrases with no other zone.",
    "SWITCHBOARD_DEV_MODE": "true: plaintext data/ in a clone without a remote (refused in Actions).",
    "SWITCHBOARD_MAX_MESSAGE_BYTES": "The largest message, in bytes of UTF-8 (default 65536).",
    "SWITCHBOARD_RESULT_RETENTION": "How long results are kept, e.g. 90d (the default) or 2160h.",
    "SWITCHBOARD_RUN_TIMEOUT": "How long a run is followed before its result says unknown (default 24h).",
    "SWITCHBOARD_NATIVE_GRACE": "How long a fire armed at Letta Cloud may be overdue before the watchdog acts "
    "(default 10m).",
    "SWITCHBOARD_WEBHOOK_URL": "A URL the tick POSTs a pass's counts and ids to after a failure (secret).",
    "SWITCHBOARD_WEBHOOK_EVENTS": "failures (the default) or all: when the webhook is posted to.",
    "SWITCHBOARD_API_RATE_PER_MINUTE": "serve: requests a minute per tenant (default 600; 0 turns it off).",
    "SWITCHBOARD_API_BURST": "serve: requests a tenant may make at once (default 120).",
    "SWITCHBOARD_API_MAX_BODY_BYTES": "serve: larger request bodies get 413 (default 262144).",
    "SWITCHBOARD_API_KEY_CACHE_SECONDS": "serve: how long an accepted Letta key is trusted (default 300).",
    "SWITCHBOARD_API_BAD_KEY_CACHE_SECONDS": "serve: how long a refused Letta key stays refused (default 30).",
    "SWITCHBOARD_SERVE_URL": "agent-tools attach: the URL the agent's tools reach serve at.",
    "SWITCHBOARD_DEBUG": "Set: an unexpected error shows its traceback instead of one line.",
    "XDG_CONFIG_HOME": "Where the config file lives (default ~/.config).",
    "HOME": "The home folder: the config file's default place, and where skill install puts the skill.",
    "USERPROFILE": "The home folder where HOME is not set (Windows), for skill install.",
    "GITHUB_ACTIONS": "Set by GitHub Actions: secrets are masked in the log, dev mode is refused.",
    "GITHUB_STEP_SUMMARY": "Set by GitHub Actions: the file the tick's job summary is appended to.",
    "GITHUB_REPOSITORY": "Set by GitHub Actions: named in the webhook's body.",
    "GITHUB_RUN_ID": "Set by GitHub Actions: named in the webhook's body.",
    "GITHUB_RUN_ATTEMPT": "Set by GitHub Actions: named in the webhook's body.",
    "GITHUB_SERVER_URL": "Set by GitHub Actions: the run's link in the webhook's body.",
    "COLUMNS": "The width tables are fitted to, even through a pipe (a terminal's own width otherwise).",
}


class Environment(Mapping[str, str]):
    """The variables of ``VARIABLES`` as they were when read: one snapshot, handed down from the edge."""

    def __init__(self, values: Mapping[str, str] | None = None) -> None:
        """Keep ``values`` (only names in VARIABLES: asking for another is a bug, and says so)."""
        self._values = dict(values or {})
        unknown = sorted(set(self._values) - set(VARIABLES))
        if unknown:
            raise KeyError(f"not a switchboard environment variable: {', '.join(unknown)} — add it to VARIABLES")

    def __getitem__(self, name: str) -> str:
        if name not in VARIABLES:
            raise KeyError(f"not a switchboard environment variable: {name} — add it to config.VARIABLES")
        return self._values[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._values)

    def __len__(self) -> int:
        return len(self._values)

    def __repr__(self) -> str:
        return f"Environment({sorted(self._values)})"  # names only: values may be secrets


def read_environment(environ: Mapping[str, str] | None = None) -> Environment:
    """The one read of the process environment (or of ``environ``): the variables switchboard knows."""
    source = os.environ if environ is None else environ
    return Environment({name: source[name] for name in VARIABLES if name in source})


@dataclass(frozen=True)
class Settings:
    """Everything a command may need, already resolved."""

    encryption_key: str | None = None
    api_key: str | None = None
    base_url: str = DEFAULT_BASE_URL
    github_token: str | None = None
    repo: str | None = None
    github_repo: str | None = None
    github_api_url: str = DEFAULT_GITHUB_API_URL
    timezone: str | None = None
    """The zone phrases are read in when a command gets no --tz (None: this machine's zone)."""
    #: Everything else the environment said, read once with the rest (see read_environment).
    env: Environment = field(default_factory=Environment, repr=False, compare=False)

    def shown(self) -> dict[str, Any]:
        """The settings with secrets reduced to whether they are set."""
        out: dict[str, Any] = {}
        for item in fields(self):
            if item.name == "env":
                continue
            value = getattr(self, item.name)
            out[item.name] = ("set" if value else "not set") if item.name in SECRET_SETTINGS else value
        return out


def config_path(env: Mapping[str, str] | None = None) -> Path:
    """Where the user config file lives (``env``: default, the environment read now)."""
    env = read_environment() if env is None else env
    base = env.get("XDG_CONFIG_HOME") or str(Path(env.get("HOME", "~")).expanduser() / ".config")
    return Path(base) / "letta-switchboard" / "config.json"


def read_config(path: Path) -> dict[str, str]:
    """The config file's values ({} when there is none)."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except (OSError, json.JSONDecodeError) as exc:
        raise ConfigError(f"cannot read {path}: {exc.__class__.__name__} — fix or delete the file") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{path} is not a JSON object — fix or delete the file")
    return {k: str(v) for k, v in data.items() if k in ENVIRONMENT and v is not None}


def write_config(path: Path, name: str, value: str, drop: tuple[str, ...] = ()) -> list[str]:
    """Set one value in the config file (created with mode 0600), removing ``drop``; return what was removed."""
    if name not in ENVIRONMENT:
        raise ConfigError(f"unknown setting {name!r} — one of: {', '.join(ENVIRONMENT)}")
    data = read_config(path)
    data[name] = value
    removed = [other for other in drop if data.pop(other, None) is not None]
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        json.dump(data, handle, indent=2, sort_keys=True)
    os.replace(tmp, path)
    return removed


def resolve(flags: dict[str, str | None] | None = None, environ: Mapping[str, str] | None = None) -> Settings:
    """Merge flags, environment (read here, once) and config file into Settings."""
    env = read_environment(environ)
    values: dict[str, Any] = dict(read_config(config_path(env)))
    for name, var in ENVIRONMENT.items():
        if env.get(var):
            values[name] = env[var]
    for name, value in (flags or {}).items():
        if value:
            values[name] = value
    values["base_url"] = (values.get("base_url") or DEFAULT_BASE_URL).rstrip("/")
    values["github_api_url"] = (values.get("github_api_url") or DEFAULT_GITHUB_API_URL).rstrip("/")
    return Settings(**values, env=env)
