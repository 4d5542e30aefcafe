"""``keys …``: make the encryption key, and move data/ to a new one."""

from __future__ import annotations

import dataclasses
from typing import Annotated

import typer

from switchboard import config as config_mod
from switchboard.cli.helppages import ReadableTyper
from switchboard.cli.render import print_json, warn_unreadable
from switchboard.cli.root import JsonFlag, handled, settings
from switchboard.crypto import KEY_ENV

keys_app = ReadableTyper(help="Make and rotate the encryption key.", no_args_is_help=True)


@keys_app.command("generate")
@handled
def keys_generate(as_json: JsonFlag = False) -> None:
    """Print a new Fernet key for SWITCHBOARD_ENCRYPTION_KEY."""
    from switchboard.crypto import generate_key

    key = generate_key()
    if as_json:
        print_json({"key": key})
    else:
        typer.echo(key)
        typer.echo(
            "Set it as SWITCHBOARD_ENCRYPTION_KEY here and as the repository secret of the same name. "
            "Keep it safe: without it the schedules cannot be read.",
            err=True,
        )


def rotation_keys(given: str | None, saved: str | None, new: str | None = None) -> list[str]:
    """The keys a rotation uses, newest first: ``new``, then the given ones, then saved ones not given."""
    keys: list[str] = []
    for value in (new, given, saved):
        for part in (value or "").split(","):
            if part.strip() and part.strip() not in keys:
                keys.append(part.strip())
    return keys


@keys_app.command("rotate")
@handled
def keys_rotate(
    ctx: typer.Context,
    new: Annotated[bool, typer.Option("--new", help="Make a new key first, rotate to it and save it.")] = False,
    as_json: JsonFlag = False,
) -> None:
    """Re-encrypt every file under data/ with the newest key (the first in SWITCHBOARD_ENCRYPTION_KEY)."""
    from switchboard.context import open_store
    from switchboard.crypto import generate_key
    from switchboard.service import rotate_keys

    conf = settings(ctx)
    path = config_mod.config_path(conf.env)
    saved = config_mod.read_config(path).get("encryption_key")
    # The environment beats the config file, so a key `init` saved would be hidden behind a new one
    # put in SWITCHBOARD_ENCRYPTION_KEY: the saved keys still open what they wrote.
    keys = rotation_keys(conf.encryption_key, saved, generate_key() if new else None)
    store = open_store(dataclasses.replace(conf, encryption_key=",".join(keys)))
    count = rotate_keys(store)
    skipped = store.take_unreadable()
    warn_unreadable(skipped)
    newest = store.codec.keys[0]
    # Everything is now written with the newest key: the saved one alone opens it all. A key made
    # here is saved even when none was, or it would exist nowhere but in this terminal.
    updated = (saved is not None or new) and saved != newest
    if updated:
        config_mod.write_config(path, "encryption_key", newest)
    stale = conf.env.get(KEY_ENV, "").split(",")[0].strip() not in ("", newest)
    if as_json:
        shown: dict[str, object] = {"reencrypted": count}
        if skipped:
            shown["skipped"] = skipped
        if new:
            shown["key"] = newest
        print_json(
            shown | ({"config_file": str(path)} if updated else {}) | ({"environment_stale": True} if stale else {})
        )
        return
    if len(store.codec.keys) == 1:
        typer.echo(
            f"Re-encrypted {count} files with the only key in SWITCHBOARD_ENCRYPTION_KEY, in one commit. To move to "
            f"a new key, run `switchboard keys rotate --new`."
        )
        return
    typer.echo(
        f"Re-encrypted {count} files with the newest key, in one commit. Set the repository secret "
        f"SWITCHBOARD_ENCRYPTION_KEY to that key too; the older keys can then be dropped."
    )
    if new:
        typer.echo(f"The new key:\n    {newest}")
    if updated:
        typer.echo(f"Saved the newest key in {path} (mode 0600), in place of the older one.")
    if stale:
        typer.echo(
            f"{KEY_ENV} in this shell still starts with the older key and beats the config file: put the new key "
            f"first in it, or unset it."
        )
