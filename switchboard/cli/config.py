"""``config …``: the user config file (Letta key and URL, repository, time zone) and the resolved settings."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from switchboard import config as config_mod
from switchboard.cli.helppages import ReadableTyper
from switchboard.cli.render import Column, print_json, table
from switchboard.cli.root import JsonFlag, fail, handled, settings

config_app = ReadableTyper(help="The user config file.", no_args_is_help=True)


@config_app.command("set-api-key")
@handled
def config_set_api_key(
    key: Annotated[str | None, typer.Argument(help="Your Letta API key (leave it out to be asked, unechoed).")] = None,
    as_json: JsonFlag = False,
) -> None:
    """Save the Letta API key in the user config file."""
    if key is None:
        # Asked for rather than typed on the command line, the key stays out of the shell history.
        key = typer.prompt("Letta API key", hide_input=True, err=True)
    if not key.strip():
        raise fail("the Letta API key is empty — copy it from the Letta dashboard (API keys)")
    _set("api_key", key.strip(), as_json)


@config_app.command("set-url")
@handled
def config_set_url(
    url: Annotated[
        str, typer.Argument(help="Letta base URL: https://api.letta.com, or ws://HOST:PORT for an App Server.")
    ],
    as_json: JsonFlag = False,
) -> None:
    """Save the Letta base URL in the user config file."""
    from urllib.parse import urlsplit

    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https", "ws", "wss") or not parts.hostname:
        raise fail(
            f'"{url}" is not an http(s) or ws(s) URL — e.g. https://api.letta.com, or ws://127.0.0.1:4500 '
            "for an App Server"
        )
    _set("base_url", url.strip().rstrip("/"), as_json)


@config_app.command("set-repo")
@handled
def config_set_repo(
    path: Annotated[str | None, typer.Argument(help="Local clone to write to.")] = None,
    github: Annotated[str | None, typer.Option("--github", help="OWNER/NAME to write through the GitHub API.")] = None,
    as_json: JsonFlag = False,
) -> None:
    """Save which repository switchboard writes to."""
    if (path is None) == (github is None):
        raise fail("give either a PATH to a clone or --github OWNER/NAME")
    if github is not None:
        if github.count("/") != 1 or not all(github.split("/")):
            raise fail(f'"{github}" is not OWNER/NAME — e.g. --github octocat/my-switchboard')
        # One repository at a time: a saved --github would otherwise win over a saved clone, unseen.
        _set("github_repo", github, as_json, replaces="repo")
    else:
        from switchboard.backends.git import GitBackend

        assert path is not None  # exactly one of the two, checked above
        # Saved only once it is a clone: its top folder, wherever inside it the path pointed.
        _set("repo", str(GitBackend(Path(path).expanduser().resolve()).root), as_json, replaces="github_repo")


@config_app.command("set-tz")
@handled
def config_set_tz(
    name: Annotated[str, typer.Argument(help="IANA time zone, e.g. Europe/Berlin.")], as_json: JsonFlag = False
) -> None:
    """Save the time zone phrases are read in when a command gets no --tz (else this machine's zone is used)."""
    from switchboard.zones import zone

    _set("timezone", zone(name.strip()).key, as_json)


@config_app.command("show")
@handled
def config_show(ctx: typer.Context, as_json: JsonFlag = False) -> None:
    """Show the resolved settings (secrets only as set / not set)."""
    conf = settings(ctx)
    shown = conf.shown()
    shown["config_file"] = str(config_mod.config_path(conf.env))
    if as_json:
        print_json(shown)
        return
    from switchboard.zones import system_zone

    unset = {
        "repo": "not set: the git root of the current directory",
        "github_repo": "not set: use a clone",
        "timezone": f"not set: this machine's zone, {system_zone(conf.env)}",
    }
    rows = [[k, unset.get(k, "not set") if v is None else v] for k, v in shown.items()]
    table("Settings (flags > environment > config file)", [Column("setting", keep=9), Column("value", cut=True)], rows)


def _set(name: str, value: str, as_json: bool, replaces: str | None = None) -> None:
    path = config_mod.config_path()
    removed = config_mod.write_config(path, name, value, drop=(replaces,) if replaces else ())
    if as_json:
        shown = "set" if name in config_mod.SECRET_SETTINGS else value
        saved: dict[str, object] = {"saved": name, "value": shown, "config_file": str(path)}
        print_json(saved | ({"removed": removed} if removed else {}))
    else:
        instead = f", instead of the saved {removed[0]}" if removed else ""
        typer.echo(f"Saved {name} in {path} (mode 0600){instead}.")
