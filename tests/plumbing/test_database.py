"""Migrations on a real PostgreSQL: applied once, in order, by copies starting together; bad folders refused."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path

import pytest
from psycopg import AsyncConnection

from devstack.embedded import EmbeddedPostgres
from plumbing.database import MigrationError, migrate, migrations_in


def folder(where: Path, files: dict[str, str]) -> Path:
    where.mkdir(exist_ok=True)
    for name, sql in files.items():
        (where / name).write_text(sql)
    return where


def test_migration_names_with_gaps_or_strays_are_refused(tmp_path: Path) -> None:
    with pytest.raises(MigrationError, match="0002"):
        migrations_in(folder(tmp_path / "gap", {"0001_a.sql": "", "0003_c.sql": ""}))
    with pytest.raises(MigrationError, match="NNNN_words"):
        migrations_in(folder(tmp_path / "stray", {"1_a.sql": ""}))


async def test_migrations_apply_once_even_from_copies_starting_together(
    postgres: EmbeddedPostgres, tmp_path: Path
) -> None:
    owner = f"test_{uuid.uuid4().hex[:8]}"
    table = f"{owner}_things"
    migrations = folder(
        tmp_path,
        {
            "0001_create.sql": f"CREATE TABLE {table} (n integer);",
            "0002_seed.sql": f"INSERT INTO {table} VALUES (1);",
        },
    )
    conns = [await AsyncConnection.connect(postgres.url, autocommit=True) for _ in range(3)]
    try:
        applied = await asyncio.gather(*(migrate(conn, owner, migrations) for conn in conns))
        assert sorted(name for names in applied for name in names) == ["0001_create.sql", "0002_seed.sql"]
        rows = await (await conns[0].execute(f"SELECT count(*) FROM {table}")).fetchone()
        assert rows == (1,)  # the seed ran once
        assert await migrate(conns[0], owner, migrations) == []  # up to date
        (migrations / "0003_more.sql").write_text(f"INSERT INTO {table} VALUES (2);")
        assert await migrate(conns[1], owner, migrations) == ["0003_more.sql"]
    finally:
        for conn in conns:
            await conn.close()


async def test_a_failing_migration_names_its_file_and_is_not_recorded(
    postgres: EmbeddedPostgres, tmp_path: Path
) -> None:
    owner = f"test_{uuid.uuid4().hex[:8]}"
    migrations = folder(tmp_path, {"0001_broken.sql": "CREATE TABLE ("})
    async with await AsyncConnection.connect(postgres.url, autocommit=True) as conn:
        with pytest.raises(MigrationError, match=r"0001_broken\.sql"):
            await migrate(conn, owner, migrations)
        recorded = await (
            await conn.execute("SELECT count(*) FROM personalize_migrations WHERE owner = %s", (owner,))
        ).fetchone()
        assert recorded == (0,)
