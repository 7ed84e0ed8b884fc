"""The registry in PostgreSQL (`connectors.stores`): the stores merchants connected, credentials sealed."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from importlib.resources import files
from typing import Any

from psycopg.rows import dict_row
from psycopg.types.json import Jsonb
from psycopg_pool import AsyncConnectionPool

from connectors.stores.record import ConnectedStore, Credentials, StoreNotConnected
from connectors.stores.sealing import Sealer
from plumbing.database import migrate

OWNER = "connectors"
MIGRATIONS = files("connectors.stores") / "migrations"
_COLUMNS = (
    "platform, store_id, merchant_email, status, credentials_version, connected_at, updated_at, "
    "disconnected_at, disconnect_reason, details"
)


def _store(row: dict[str, Any]) -> ConnectedStore:
    return ConnectedStore(**{name: row[name] for name in _COLUMNS.split(", ")})


class PostgresStoreRegistry:
    def __init__(self, pool: AsyncConnectionPool, sealer: Sealer) -> None:
        self._pool = pool
        self._sealer = sealer

    def rekeyed(self, sealer: Sealer) -> PostgresStoreRegistry:
        """The same stores read with other keys: what a restart with a new PERSONALIZE_CREDENTIALS_KEY sees."""
        return PostgresStoreRegistry(self._pool, sealer)

    async def migrate(self) -> list[str]:
        async with self._pool.connection() as conn:
            return await migrate(conn, OWNER, MIGRATIONS)

    async def connect(
        self,
        platform: str,
        store_id: str,
        merchant_email: str,
        credentials: Mapping[str, str],
        details: Mapping[str, str] | None = None,
    ) -> ConnectedStore:
        sealed = self._sealer.seal(f"{platform}:{store_id}", credentials)
        row = await self._one(
            f"""
            INSERT INTO connectors.stores AS s
                (platform, store_id, merchant_email, status, credentials, credentials_version, connected_at, updated_at,
                 details)
            VALUES (%(platform)s, %(store_id)s, %(email)s, 'connected', %(sealed)s, 1, now(), now(), %(details)s)
            ON CONFLICT (platform, store_id) DO UPDATE SET
                merchant_email = EXCLUDED.merchant_email,
                status = 'connected',
                credentials = EXCLUDED.credentials,
                credentials_version = s.credentials_version + 1,
                connected_at = CASE WHEN s.status = 'disconnected' THEN now() ELSE s.connected_at END,
                updated_at = now(),
                disconnected_at = NULL,
                disconnect_reason = NULL,
                details = EXCLUDED.details
            RETURNING {_COLUMNS}
            """,
            {
                "platform": platform,
                "store_id": store_id,
                "email": merchant_email,
                "sealed": sealed,
                "details": Jsonb(dict(details or {})),
            },
        )
        assert row is not None  # an upsert always returns its row
        return _store(row)

    async def get(self, platform: str, store_id: str) -> ConnectedStore | None:
        row = await self._one(
            f"SELECT {_COLUMNS} FROM connectors.stores WHERE platform = %s AND store_id = %s", (platform, store_id)
        )
        return _store(row) if row else None

    async def stores(
        self, platform: str | None = None, *, connected_only: bool = True, changed_since: datetime | None = None
    ) -> list[ConnectedStore]:
        async with self._pool.connection() as conn:
            cursor = conn.cursor(row_factory=dict_row)
            await cursor.execute(
                f"""
                SELECT {_COLUMNS} FROM connectors.stores
                WHERE (%(platform)s::text IS NULL OR platform = %(platform)s)
                  AND (NOT %(connected_only)s OR status = 'connected')
                  AND (%(since)s::timestamptz IS NULL OR updated_at >= %(since)s)
                ORDER BY platform, store_id
                """,
                {"platform": platform, "connected_only": connected_only, "since": changed_since},
            )
            return [_store(row) for row in await cursor.fetchall()]

    async def credentials(self, platform: str, store_id: str) -> Credentials:
        row = await self._one(
            "SELECT credentials, credentials_version FROM connectors.stores "
            "WHERE platform = %s AND store_id = %s AND status = 'connected'",
            (platform, store_id),
        )
        if row is None:
            raise StoreNotConnected(f"{platform}:{store_id} is not connected")
        return Credentials(self._sealer.open(f"{platform}:{store_id}", row["credentials"]), row["credentials_version"])

    async def replace_credentials(
        self, platform: str, store_id: str, credentials: Mapping[str, str], *, expected_version: int
    ) -> bool:
        sealed = self._sealer.seal(f"{platform}:{store_id}", credentials)
        row = await self._one(
            """
            UPDATE connectors.stores
            SET credentials = %s, credentials_version = credentials_version + 1, updated_at = now()
            WHERE platform = %s AND store_id = %s AND status = 'connected' AND credentials_version = %s
            RETURNING credentials_version
            """,
            (sealed, platform, store_id, expected_version),
        )
        return row is not None

    async def disconnect(self, platform: str, store_id: str, reason: str) -> ConnectedStore | None:
        row = await self._one(
            f"""
            UPDATE connectors.stores
            SET status = 'disconnected', credentials = NULL, updated_at = now(),
                disconnected_at = COALESCE(disconnected_at, now()),
                disconnect_reason = COALESCE(disconnect_reason, %s)
            WHERE platform = %s AND store_id = %s
            RETURNING {_COLUMNS}
            """,
            (reason, platform, store_id),
        )
        return _store(row) if row else None

    async def reseal(self) -> int:
        resealed = 0
        async with self._pool.connection() as conn, conn.transaction():
            cursor = conn.cursor(row_factory=dict_row)
            await cursor.execute(
                "SELECT platform, store_id, credentials FROM connectors.stores WHERE credentials IS NOT NULL FOR UPDATE"
            )
            for row in await cursor.fetchall():
                await conn.execute(
                    "UPDATE connectors.stores SET credentials = %s WHERE platform = %s AND store_id = %s",
                    (self._sealer.reseal(row["credentials"]), row["platform"], row["store_id"]),
                )
                resealed += 1
        return resealed

    async def _one(self, sql: str, params: Any) -> dict[str, Any] | None:
        async with self._pool.connection() as conn:
            cursor = conn.cursor(row_factory=dict_row)
            await cursor.execute(sql.encode(), params)
            return await cursor.fetchone()
