"""Creates the fastapi-users peer's tables and seeds SEED_USERS users without passwords (so the
tables have a realistic size), once, before uvicorn starts its workers."""

import asyncio
import os

from sqlalchemy import text

from app import IS_SQLITE, Base, engine


def seed_sql(count: int) -> str:
    if IS_SQLITE:
        uuid, false, true = "'00000000-0000-4000-8000-' || printf('%012d', n)", "0", "1"
    else:
        uuid = "('00000000-0000-4000-8000-' || lpad(n::text, 12, '0'))::uuid"
        false, true = "false", "true"
    return (
        'INSERT INTO "user" (id, email, hashed_password, is_active, is_superuser, is_verified, '
        "name) WITH RECURSIVE seq(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM seq WHERE n < "
        f"{count}) SELECT {uuid}, 'user' || n || '@bench.example', '', {true}, {false}, {false}, "
        "'Bench user ' || n FROM seq"
    )


async def main() -> None:
    async with engine.begin() as connection:
        if IS_SQLITE:
            await connection.execute(text("PRAGMA journal_mode = WAL"))
        await connection.run_sync(Base.metadata.create_all)
        count = int(os.environ.get("SEED_USERS", "0"))
        if count > 0:
            await connection.execute(text(seed_sql(count)))
    await engine.dispose()


asyncio.run(main())
