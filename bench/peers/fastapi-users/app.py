"""The fastapi-users peer of `cargo xtask bench --peers`.

fastapi-users' documented SQLAlchemy example with the database strategy: an `accesstoken` row
per sign-in, looked up on every authenticated request (as users-api checks its session row), a
bearer transport, the login route at `/auth/jwt/login`, and the users router (`GET` and
`PATCH /users/me`). The one addition is a `name` column, added the documented way (a mapped column
plus the schemas), so that `PATCH /users/me` has a plain profile field to write. `GET /healthz`
answers a plain 200 without touching fastapi-users: the framework's ceiling.

DATABASE_URL is `sqlite:///path/to.db` or `postgres://…`; `setup_db.py` creates the tables once,
before uvicorn starts its workers.
"""

import os
import uuid
from collections.abc import AsyncGenerator

from fastapi import Depends, FastAPI
from fastapi.responses import PlainTextResponse
from fastapi_users import BaseUserManager, FastAPIUsers, UUIDIDMixin, schemas
from fastapi_users.authentication import AuthenticationBackend, BearerTransport
from fastapi_users.authentication.strategy.db import AccessTokenDatabase, DatabaseStrategy
from fastapi_users.db import SQLAlchemyBaseUserTableUUID, SQLAlchemyUserDatabase
from fastapi_users_db_sqlalchemy.access_token import (
    SQLAlchemyAccessTokenDatabase,
    SQLAlchemyBaseAccessTokenTableUUID,
)
from sqlalchemy import String, event
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

SECRET = os.environ.get("SECRET", "bench-secret")


def sqlalchemy_url(url: str) -> str:
    # `sqlite:///abs/path` (the path's own slash after SQLAlchemy's three).
    if url.startswith("sqlite://"):
        return "sqlite+aiosqlite:///" + url.removeprefix("sqlite://")
    return "postgresql+asyncpg://" + url.split("://", 1)[1]


DATABASE_URL = os.environ["DATABASE_URL"]
IS_SQLITE = DATABASE_URL.startswith("sqlite")


class Base(DeclarativeBase):
    pass


class User(SQLAlchemyBaseUserTableUUID, Base):
    name: Mapped[str | None] = mapped_column(String(length=100), nullable=True)


class AccessToken(SQLAlchemyBaseAccessTokenTableUUID, Base):
    pass


# SQLAlchemy's defaults: a queue pool of 5 connections plus 10 overflow, per process. On SQLite
# the bench raises the busy timeout from 5 s to 30 s: a sign-in hashes on the event loop while
# another request's token INSERT, its COMMIT not yet sent, holds the write lock, so concurrent
# sign-ins on a busy machine would fail with "database is locked" rather than be slow.
engine = create_async_engine(
    sqlalchemy_url(DATABASE_URL), connect_args={"timeout": 30} if IS_SQLITE else {}
)
async_session_maker = async_sessionmaker(engine, expire_on_commit=False)

if IS_SQLITE:
    # The durability users-api runs SQLite with (WAL itself is set once, by setup_db.py).
    @event.listens_for(engine.sync_engine, "connect")
    def synchronous_normal(connection, _record):
        cursor = connection.cursor()
        cursor.execute("PRAGMA synchronous = NORMAL")
        cursor.close()


async def get_async_session() -> AsyncGenerator[AsyncSession, None]:
    async with async_session_maker() as session:
        yield session


async def get_user_db(session: AsyncSession = Depends(get_async_session)):
    yield SQLAlchemyUserDatabase(session, User)


async def get_access_token_db(session: AsyncSession = Depends(get_async_session)):
    yield SQLAlchemyAccessTokenDatabase(session, AccessToken)


class UserRead(schemas.BaseUser[uuid.UUID]):
    name: str | None = None


class UserCreate(schemas.BaseUserCreate):
    name: str | None = None


class UserUpdate(schemas.BaseUserUpdate):
    name: str | None = None


class UserManager(UUIDIDMixin, BaseUserManager[User, uuid.UUID]):
    reset_password_token_secret = SECRET
    verification_token_secret = SECRET


async def get_user_manager(user_db: SQLAlchemyUserDatabase = Depends(get_user_db)):
    yield UserManager(user_db)


bearer_transport = BearerTransport(tokenUrl="auth/jwt/login")


def get_database_strategy(
    access_token_db: AccessTokenDatabase[AccessToken] = Depends(get_access_token_db),
) -> DatabaseStrategy:
    return DatabaseStrategy(access_token_db, lifetime_seconds=3600)


auth_backend = AuthenticationBackend(
    name="jwt", transport=bearer_transport, get_strategy=get_database_strategy
)

fastapi_users = FastAPIUsers[User, uuid.UUID](get_user_manager, [auth_backend])

app = FastAPI()
app.include_router(fastapi_users.get_auth_router(auth_backend), prefix="/auth/jwt", tags=["auth"])
app.include_router(
    fastapi_users.get_register_router(UserRead, UserCreate), prefix="/auth", tags=["auth"]
)
app.include_router(
    fastapi_users.get_users_router(UserRead, UserUpdate), prefix="/users", tags=["users"]
)


@app.get("/healthz", response_class=PlainTextResponse)
async def healthz() -> str:
    return "ok"
