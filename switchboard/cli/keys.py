"""``keys …``: make the encryption key, and move data/ to a new one."""

from __future__ import annotations

import typer

from switchboard.cli.render import print_json
from switchboard.cli.root import JSON_OPT, handled, store_of

keys_app = typer.Typer(help="Make and rotate the encryption key.", no_args_is_help=True)


@keys_app.command("generate")
@handled
def keys_generate(as_json: bool = JSON_OPT) -> None:
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


@keys_app.command("rotate")
@handled
def keys_rotate(ctx: typer.Context, as_json: bool = JSON_OPT) -> None:
    """Re-encrypt every file under data/ with the first key in SWITCHBOARD_ENCRYPTION_KEY."""
    from switchboard.service import rotate_keys

    store = store_of(ctx)
    count = rotate_keys(store)
    if as_json:
        print_json({"reencrypted": count})
    elif len(store.codec.keys) == 1:
        typer.echo(
            f"Re-encrypted {count} files with the only key in SWITCHBOARD_ENCRYPTION_KEY, in one commit. To move to "
            f"a new key, put it in front (NEW,OLD; `switchboard keys generate` makes one) and run this again."
        )
    else:
        typer.echo(
            f"Re-encrypted {count} files with the newest key, in one commit. Set the repository secret "
            f"SWITCHBOARD_ENCRYPTION_KEY to that key too; the older keys can then be dropped."
        )
