"""Create Letta's schema in a fresh PostgreSQL database; run by the Letta server venv's python.

Letta's wheel ships no migrations, so ``scripts/letta_server.py`` builds the
tables straight from the ORM (``letta.orm.Base.metadata.create_all``), as a
migration would leave them. Reads ``LETTA_PG_URI`` (Letta itself reads it
too: with it set, ``letta.orm`` declares pgvector columns, not SQLite ones).
Creates the database named in the URI when it is missing.

    LETTA_PG_URI=postgresql://letta:PW@127.0.0.1:PORT/letta?sslmode=disable python letta_pg_schema.py
"""

from __future__ import annotations

import asyncio
import os
from urllib.parse import urlsplit


async def create_database(uri: str) -> None:
    """Create the URI's database and the ``vector`` extension in it, unless they exist."""
    import asyncpg

    parts = urlsplit(uri)
    name = parts.path.lstrip("/")
    login = {"host": parts.hostname, "port": parts.port, "user": parts.username, "password": parts.password}
    conn = await asyncpg.connect(database="postgres", ssl=False, **login)
    try:
        if not await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name):
            await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    conn = await asyncpg.connect(database=name, ssl=False, **login)
    try:
        await conn.execute("CREATE EXTENSION IF NOT EXISTS vector")
    finally:
        await conn.close()


async def create_tables(uri: str) -> None:
    """Every ORM table, plus the default Letta's migrations give ``messages.sequence_id``."""
    from letta.orm import Base
    from sqlalchemy import text
    from sqlalchemy.ext.asyncio import create_async_engine

    parts = urlsplit(uri)
    engine = create_async_engine(f"postgresql+asyncpg://{parts.netloc}{parts.path}", connect_args={"ssl": False})
    try:
        async with engine.begin() as conn:
            await conn.run_sync(Base.metadata.create_all)
            # The ORM declares sequence_id as filled by the server (FetchedValue);
            # the migrations fill it from a sequence.
            await conn.execute(
                text("CREATE SEQUENCE IF NOT EXISTS message_sequence_id_seq OWNED BY messages.sequence_id")
            )
            await conn.execute(
                text("ALTER TABLE messages ALTER COLUMN sequence_id SET DEFAULT nextval('message_sequence_id_seq')")
            )
    finally:
        await engine.dispose()


async def main() -> None:
    """Database, extension, tables."""
    uri = os.environ["LETTA_PG_URI"]
    await create_database(uri)
    await create_tables(uri)


if __name__ == "__main__":
    asyncio.run(main())
