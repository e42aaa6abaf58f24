//! Persistence: one diesel-async codebase for SQLite and PostgreSQL.
//!
//! `Db` holds a pool per backend; the `read!` and `write!` macros expand a query body once per
//! backend, so each query is written once and type-checked against both. SQLite gets a read pool
//! and a single-connection write pool: writes are serialised in-process (WAL lets reads go on),
//! which avoids `SQLITE_BUSY` upgrade failures without a busy loop. Every `write!` body runs in a
//! transaction; a body that returns `Err` rolls back, so a request never leaves a partial write.
//! Nothing here knows about HTTP beyond returning `ApiError`.
//!
//! Lookups of one row by a unique key use `get_result`, not `first`: `first` adds `LIMIT ?`,
//! and SQLite (3.50) marks a statement whose LIMIT is a bound parameter as depending on that
//! value, so every execution re-prepares it from its SQL text — measured at about a third of a
//! `GET /v1/me`. The key already guarantees at most one row.

/// Runs `$body` with `$conn` bound to a pooled read connection of either backend.
macro_rules! read {
    ($db:expr, |$conn:ident| $body:expr) => {
        match $db {
            $crate::db::Db::Postgres(pool) => {
                let mut guard = pool.get().await.map_err($crate::db::pool_error)?;
                let $conn = &mut *guard;
                $body
            }
            $crate::db::Db::Sqlite { read, .. } => {
                let mut guard = read.get().await.map_err($crate::db::pool_error)?;
                let $conn = &mut *guard;
                $body
            }
        }
    };
}

/// Runs `$body` (which yields `Result<_, ApiError>`) in a write transaction of either backend.
macro_rules! write {
    ($db:expr, |$conn:ident| $body:expr) => {
        match $db {
            $crate::db::Db::Postgres(pool) => {
                let mut guard = pool.get().await.map_err($crate::db::pool_error)?;
                let $conn = &mut *guard;
                $crate::db::begin($conn).await?;
                let result = async { $body }.await;
                $crate::db::finish($conn, result).await
            }
            $crate::db::Db::Sqlite { write, .. } => {
                let mut guard = write.get().await.map_err($crate::db::pool_error)?;
                let $conn = &mut *guard;
                $crate::db::begin($conn).await?;
                let result = async { $body }.await;
                $crate::db::finish($conn, result).await
            }
        }
    };
}

pub mod admins;
pub mod api_keys;
pub mod me;
pub mod models;
pub mod orgs;
pub mod schema;
pub mod sessions;
pub mod teams;
pub mod user_create;
pub mod users;

use std::{path::Path, time::Duration};

use chrono::{NaiveDateTime, SubsecRound, Utc};
use diesel::{Connection, SqliteConnection};
use diesel_async::{
    AsyncConnection, AsyncPgConnection, SimpleAsyncConnection, TransactionManager,
    async_connection_wrapper::AsyncConnectionWrapper,
    pooled_connection::{AsyncDieselConnectionManager, ManagerConfig, bb8::Pool},
    sync_connection_wrapper::SyncConnectionWrapper,
};
use diesel_migrations::{EmbeddedMigrations, MigrationHarness, embed_migrations};
use futures_util::FutureExt;

use crate::error::ApiError;

pub type SqliteConn = SyncConnectionWrapper<SqliteConnection>;

const SQLITE_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/sqlite");
const POSTGRES_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/postgres");

#[derive(Clone)]
pub enum Db {
    Postgres(Pool<AsyncPgConnection>),
    Sqlite {
        read: Pool<SqliteConn>,
        write: Pool<SqliteConn>,
    },
}

/// A database URL, checked before anything connects.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DatabaseUrl {
    Postgres(String),
    /// A filesystem path (the part after `sqlite://`).
    Sqlite(String),
}

impl DatabaseUrl {
    pub fn parse(url: &str) -> Result<Self, String> {
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Ok(Self::Postgres(url.to_owned()))
        } else if let Some(path) = url.strip_prefix("sqlite://") {
            match path {
                "" => {
                    Err("sqlite:// URL has no file path (e.g. sqlite://data/users-api.db)".into())
                }
                _ => Ok(Self::Sqlite(path.to_owned())),
            }
        } else {
            Err(format!(
                "unsupported database URL {url:?}: expected sqlite://PATH or postgres://…"
            ))
        }
    }
}

/// Wraps any connection failure as one readable line.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct ConnectError(String);

impl Db {
    /// Applies pending migrations, then builds the pools.
    pub async fn connect(url: &DatabaseUrl) -> Result<Self, ConnectError> {
        migrate(url).await?;
        let db = match url {
            DatabaseUrl::Postgres(url) => {
                let manager = AsyncDieselConnectionManager::<AsyncPgConnection>::new(url.clone());
                Db::Postgres(build_pool(manager, 16, true).await?)
            }
            DatabaseUrl::Sqlite(path) => {
                let read = build_pool(sqlite_manager(path), 8, false).await?;
                let write = build_pool(sqlite_manager(path), 1, false).await?;
                Db::Sqlite { read, write }
            }
        };
        Ok(db)
    }

    /// Runs SQL statements on the write connection, outside the API (seeding by the bench
    /// harness); a failure is logged like any other database error.
    pub async fn execute_script(&self, sql: &str) -> Result<(), ApiError> {
        write!(self, |conn| conn
            .batch_execute(sql)
            .await
            .map_err(ApiError::from))
    }

    /// Whether the database answers a trivial query now.
    pub async fn ping(&self) -> bool {
        let result: Result<(), ApiError> = async {
            read!(self, |conn| conn
                .batch_execute("SELECT 1")
                .await
                .map_err(ApiError::from))
        }
        .await;
        result.is_ok()
    }
}

/// `ping_on_checkout`: PostgreSQL connections can die with the server or the network, so each
/// checkout is checked first (one round trip) and a request never fails on a stale connection;
/// an embedded SQLite connection cannot go stale, so its pools skip the check.
async fn build_pool<C>(
    manager: AsyncDieselConnectionManager<C>,
    size: u32,
    ping_on_checkout: bool,
) -> Result<Pool<C>, ConnectError>
where
    AsyncDieselConnectionManager<C>: bb8::ManageConnection<Error: std::fmt::Display>,
{
    Pool::builder()
        .max_size(size)
        .test_on_check_out(ping_on_checkout)
        .connection_timeout(Duration::from_secs(5))
        .build(manager)
        .await
        .map_err(|e| ConnectError(format!("cannot build the connection pool: {e}")))
}

fn sqlite_manager(path: &str) -> AsyncDieselConnectionManager<SqliteConn> {
    let mut config = ManagerConfig::default();
    config.custom_setup = Box::new(|path: &str| {
        let path = path.to_owned();
        async move {
            let mut conn = SqliteConn::establish(&path).await?;
            conn.batch_execute(SQLITE_PRAGMAS)
                .await
                .map_err(diesel::ConnectionError::CouldntSetupConfiguration)?;
            Ok(conn)
        }
        .boxed()
    });
    AsyncDieselConnectionManager::new_with_config(path, config)
}

/// WAL so readers never block the writer; a busy timeout so a second process waits instead of
/// failing; foreign keys on, which SQLite leaves off by default.
const SQLITE_PRAGMAS: &str = "PRAGMA journal_mode = WAL; PRAGMA busy_timeout = 5000; \
     PRAGMA foreign_keys = ON; PRAGMA synchronous = NORMAL;";

/// Applies the embedded migrations of the URL's backend. Runs on a blocking thread because the
/// migration harness is synchronous.
pub async fn migrate(url: &DatabaseUrl) -> Result<(), ConnectError> {
    let url = url.clone();
    tokio::task::spawn_blocking(move || match &url {
        DatabaseUrl::Sqlite(path) => {
            if let Some(dir) = Path::new(path)
                .parent()
                .filter(|d| !d.as_os_str().is_empty())
            {
                std::fs::create_dir_all(dir)
                    .map_err(|e| ConnectError(format!("cannot create {}: {e}", dir.display())))?;
            }
            let mut conn = SqliteConnection::establish(path)
                .map_err(|e| ConnectError(format!("cannot open SQLite database {path}: {e}")))?;
            diesel::connection::SimpleConnection::batch_execute(&mut conn, SQLITE_PRAGMAS)
                .map_err(|e| ConnectError(format!("cannot configure SQLite database: {e}")))?;
            run(&mut conn, SQLITE_MIGRATIONS)
        }
        DatabaseUrl::Postgres(url) => {
            let mut conn =
                <AsyncConnectionWrapper<AsyncPgConnection> as Connection>::establish(url)
                    .map_err(|e| ConnectError(format!("cannot connect to PostgreSQL: {e}")))?;
            run(&mut conn, POSTGRES_MIGRATIONS)
        }
    })
    .await
    .map_err(|e| ConnectError(format!("migration task failed: {e}")))?
}

fn run<DB: diesel::backend::Backend>(
    conn: &mut impl MigrationHarness<DB>,
    migrations: EmbeddedMigrations,
) -> Result<(), ConnectError> {
    conn.run_pending_migrations(migrations)
        .map(|_| ())
        .map_err(|e| ConnectError(format!("cannot apply migrations: {e}")))
}

/// The current time as stored: UTC, truncated to microseconds (PostgreSQL's precision), so a
/// value reads back exactly as it was written on both backends.
pub fn now() -> NaiveDateTime {
    Utc::now().naive_utc().trunc_subsecs(6)
}

pub fn pool_error(error: impl std::fmt::Display) -> ApiError {
    tracing::warn!(error = %error, "database unavailable");
    ApiError::service_unavailable()
}

pub async fn begin<C: AsyncConnection>(conn: &mut C) -> Result<(), ApiError> {
    C::TransactionManager::begin_transaction(conn)
        .await
        .map_err(ApiError::from)
}

/// Commits on `Ok`, rolls back on `Err`.
pub async fn finish<C: AsyncConnection, T>(
    conn: &mut C,
    result: Result<T, ApiError>,
) -> Result<T, ApiError> {
    match result {
        Ok(value) => {
            C::TransactionManager::commit_transaction(conn).await?;
            Ok(value)
        }
        Err(error) => {
            if let Err(rollback) = C::TransactionManager::rollback_transaction(conn).await {
                tracing::warn!(error = %rollback, "rollback failed");
            }
            Err(error)
        }
    }
}
