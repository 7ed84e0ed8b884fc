"""PostgreSQL, for what the business must keep: a connection pool and each owner's migrations.

Each service owns its tables in a schema of its own (the connectors' store registry in `connectors`) and
ships its migrations as numbered SQL files. `migrate` applies the missing ones at start-up, in order,
each in its own transaction, under an advisory lock so copies starting together apply each file once.
Alembic would bring SQLAlchemy, which nothing else here uses; a few numbered files need no more than this.
"""

from __future__ import annotations

import logging
import re
from importlib.resources.abc import Traversable

from psycopg import AsyncConnection
from psycopg_pool import AsyncConnectionPool

log = logging.getLogger(__name__)

MIGRATION_NAME = re.compile(r"^(\d{4})_[a-z0-9_]+\.sql$")
_LEDGER = """
CREATE TABLE IF NOT EXISTS personalize_migrations (
    owner text NOT NULL,
    version integer NOT NULL,
    name text NOT NULL,
    applied_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (owner, version)
)
"""


class MigrationError(RuntimeError):
    """A migration folder is malformed or a migration failed; the message names the file."""


def open_pool(url: str, *, min_size: int = 1, max_size: int = 4) -> AsyncConnectionPool:
    """A pool that is not yet open: `await pool.open(wait=True)` connects (and fails loudly if it cannot)."""
    return AsyncConnectionPool(url, min_size=min_size, max_size=max_size, open=False, kwargs={"autocommit": True})


def migrations_in(folder: Traversable) -> list[tuple[int, str, str]]:
    """(version, file name, SQL) of every migration in `folder`, oldest first; gaps and strays refused."""
    found: list[tuple[int, str, str]] = []
    for entry in folder.iterdir():
        if not entry.name.endswith(".sql"):
            continue
        match = MIGRATION_NAME.match(entry.name)
        if match is None:
            raise MigrationError(f"{entry.name}: migrations are named NNNN_words.sql")
        found.append((int(match.group(1)), entry.name, entry.read_text(encoding="utf-8")))
    found.sort()
    for expected, (version, name, _) in enumerate(found, start=1):
        if version != expected:
            raise MigrationError(f"{name}: expected migration {expected:04d} here (no gaps, no duplicates)")
    return found


async def migrate(conn: AsyncConnection, owner: str, folder: Traversable) -> list[str]:
    """Apply `owner`'s migrations that are missing; return the names applied (none when up to date)."""
    wanted = migrations_in(folder)
    applied: list[str] = []
    async with conn.transaction():
        # CREATE TABLE IF NOT EXISTS is not safe against itself: two copies may both create it.
        await conn.execute("SELECT pg_advisory_xact_lock(hashtext('personalize_migrations'))")
        await conn.execute(_LEDGER)
    for version, name, sql in wanted:
        async with conn.transaction():
            # One copy at a time per owner; the others wait here, then see the version recorded.
            await conn.execute("SELECT pg_advisory_xact_lock(hashtext('personalize_migrations:' || %s))", (owner,))
            cursor = await conn.execute(
                "SELECT 1 FROM personalize_migrations WHERE owner = %s AND version = %s", (owner, version)
            )
            if await cursor.fetchone():
                continue
            try:
                await conn.execute(sql.encode())
            except Exception as error:
                raise MigrationError(f"{owner} migration {name} failed: {error}") from error
            await conn.execute(
                "INSERT INTO personalize_migrations (owner, version, name) VALUES (%s, %s, %s)", (owner, version, name)
            )
            applied.append(name)
            log.info("migration applied", extra={"owner": owner, "migration": name})
    return applied
