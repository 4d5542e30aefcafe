"""Settings: flags beat the environment, the environment beats the config file.

The config file is ``$XDG_CONFIG_HOME/letta-switchboard/config.json``
(``~/.config/…`` by default), written with mode 0600 by ``switchboard config``.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, fields
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

    def shown(self) -> dict[str, Any]:
        """The settings with secrets reduced to whether they are set."""
        out: dict[str, Any] = {}
        for item in fields(self):
            value = getattr(self, item.name)
            out[item.name] = ("set" if value else "not set") if item.name in SECRET_SETTINGS else value
        return out


def config_path(environ: dict[str, str] | None = None) -> Path:
    """Where the user config file lives."""
    env = os.environ if environ is None else environ
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


def resolve(flags: dict[str, str | None] | None = None, environ: dict[str, str] | None = None) -> Settings:
    """Merge flags, environment and config file into Settings."""
    env = dict(os.environ if environ is None else environ)
    values: dict[str, Any] = dict(read_config(config_path(env)))
    for name, var in ENVIRONMENT.items():
        if env.get(var):
            values[name] = env[var]
    for name, value in (flags or {}).items():
        if value:
            values[name] = value
    values["base_url"] = (values.get("base_url") or DEFAULT_BASE_URL).rstrip("/")
    values["github_api_url"] = (values.get("github_api_url") or DEFAULT_GITHUB_API_URL).rstrip("/")
    return Settings(**values)
