//! Persistence: one diesel-async codebase for SQLite and PostgreSQL.
//!
//! `Db` holds a pool per backend; the `read!` and `write!` macros expand a query body once per
//! backend, so each query is written once and type-checked against both. SQLite gets a read pool
//! and a single-connection write pool: writes are serialised in-process (WAL lets reads go on),
//! each transaction opened `BEGIN IMMEDIATE`, which avoids `SQLITE_BUSY` upgrade failures without
//! a busy loop. Reads run on blocking threads; the writer's statements run in place
//! (`sqlite::InPlace`). Every `write!` body runs in a transaction; a body that returns `Err`
//! rolls back, so a request never leaves a partial write.
//! Nothing here knows about HTTP beyond returning `ApiError`.
//!
//! Every operation has a deadline (`Timeouts::operation`): the checkout and the body together,
//! a whole transaction for `write!`. Past it the caller gets 503 and the operation is dropped;
//! its connection, still marked in use, is discarded by the pool rather than reused (`pool`), so
//! an abandoned transaction is never committed. PostgreSQL connections also carry the deadline
//! as `statement_timeout` and `idle_in_transaction_session_timeout`, so the server stops work the
//! client gave up on. SQLite cannot interrupt a statement: there `busy_timeout` (the same
//! deadline) bounds lock waits, which is how an embedded database hangs, and a read past its
//! deadline answers 503 once its current statement returns; a write, whose statements run in
//! place, is rolled back then and answers 503 too.
//!
//! Lookups of one row by a unique key use `get_result`, not `first`: `first` adds `LIMIT ?`,
//! and SQLite (3.50) marks a statement whose LIMIT is a bound parameter as depending on that
//! value, so every execution re-prepares it from its SQL text — measured at about a third of a
//! `GET /v1/me`. The key already guarantees at most one row.

/// Checks out a connection of `$pool` and runs `$body` with `$conn` bound to it. The connection is
/// marked idle again only when the body ran to completion; a body abandoned at its deadline, or
/// dropped with its request, leaves it marked and the pool discards it (see `pool`).
macro_rules! with_connection {
    ($pool:expr, |$conn:ident| $body:expr) => {{
        let mut guard = $pool.get().await.map_err($crate::db::pool_error)?;
        let result = async {
            let $conn = guard.begin_use();
            $body
        }
        .await;
        guard.end_use();
        result
    }};
}

/// Runs `$body` with `$conn` bound to a pooled read connection of either backend, within the
/// operation deadline.
macro_rules! read {
    ($db:expr, |$conn:ident| $body:expr) => {{
        let db: &$crate::db::Db = &$db;
        db.within_deadline(async {
            match &db.pools {
                $crate::db::Pools::Postgres(pool) => with_connection!(pool, |$conn| $body),
                $crate::db::Pools::Sqlite { read, .. } => with_connection!(read, |$conn| $body),
            }
        })
        .await
    }};
}

/// Runs `$body` (which yields `Result<_, ApiError>`) in a write transaction of either backend,
/// within the operation deadline: the transaction commits, rolls back, or — abandoned at the
/// deadline — is never committed.
macro_rules! write {
    ($db:expr, |$conn:ident| $body:expr) => {{
        let db: &$crate::db::Db = &$db;
        let started = tokio::time::Instant::now();
        db.within_deadline(async {
            match &db.pools {
                $crate::db::Pools::Postgres(pool) => with_connection!(pool, |conn| {
                    $crate::db::begin(conn).await?;
                    let result = async {
                        let $conn = &mut *conn;
                        $body
                    }
                    .await;
                    $crate::db::finish(conn, result).await
                }),
                $crate::db::Pools::Sqlite { write, .. } => with_connection!(write, |conn| {
                    $crate::db::begin(conn).await?;
                    let result = async {
                        let $conn = &mut *conn;
                        $body
                    }
                    .await;
                    // In place, nothing interrupts the body: one that ran past the deadline
                    // is rolled back here instead.
                    let result = db.by_deadline(started, result);
                    $crate::db::finish(conn, result).await
                }),
            }
        })
        .await
    }};
}

pub mod admins;
pub mod api_keys;
pub mod events;
pub mod lockout;
pub mod mail;
pub mod me;
pub mod models;
pub mod orgs;
pub mod password_reset;
mod pool;
mod postgres;
pub mod recovery_codes;
pub mod retention;
pub mod schema;
pub mod sealed_secrets;
pub mod search_keys;
pub mod secrets_key;
pub mod sessions;
pub mod sign_in_limits;
pub mod signing_keys;
mod sqlite;
pub mod teams;
pub mod tickets;
pub mod user_create;
pub mod users;
pub mod webhooks;

use std::time::Duration;

use chrono::{NaiveDateTime, SubsecRound, Utc};
use diesel::{Connection, SqliteConnection};
use diesel_async::{
    AnsiTransactionManager, AsyncConnection, AsyncPgConnection, SimpleAsyncConnection,
    TransactionManager,
    async_connection_wrapper::AsyncConnectionWrapper,
    sync_connection_wrapper::{SpawnBlocking, SyncConnectionWrapper},
};
use diesel_migrations::{EmbeddedMigrations, MigrationHarness, embed_migrations};

use crate::error::ApiError;
pub use pool::{Conn, PgManager, SqliteManager};

/// An SQLite connection whose statements run on a blocking thread (the read pool's).
pub type SqliteConn = SyncConnectionWrapper<SqliteConnection>;
/// An SQLite connection whose statements run in place (the writer's; see `sqlite::InPlace`).
pub type SqliteWriter = SyncConnectionWrapper<SqliteConnection, sqlite::InPlace>;

const SQLITE_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/sqlite");
const POSTGRES_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/postgres");

/// `/readyz` answers within this, whatever the database does.
const READINESS_DEADLINE: Duration = Duration::from_millis(1500);

/// The pools and the deadline of every operation run on them.
#[derive(Clone)]
pub struct Db {
    pools: Pools,
    timeouts: Timeouts,
}

#[derive(Clone)]
pub enum Pools {
    Postgres(bb8::Pool<PgManager>),
    Sqlite {
        read: bb8::Pool<SqliteManager<SqliteConn>>,
        write: bb8::Pool<SqliteManager<SqliteWriter>>,
    },
}

/// How long database work may take (`--database-*-timeout`; the defaults are the flags').
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timeouts {
    /// One operation: the checkout plus its statements, or its whole transaction.
    pub operation: Duration,
    /// Waiting for a free pooled connection.
    pub checkout: Duration,
    /// PostgreSQL: opening one connection.
    pub connect: Duration,
    /// PostgreSQL: applying the pending migrations.
    pub migration: Duration,
}

impl Default for Timeouts {
    fn default() -> Self {
        Self {
            operation: Duration::from_secs(5),
            checkout: Duration::from_secs(2),
            connect: Duration::from_secs(10),
            migration: Duration::from_secs(15),
        }
    }
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
    /// Applies pending migrations, builds the pools, then derives again every user's search key
    /// that is not current (`search_keys::backfill`: one look-up in an empty index once all
    /// are), so that every entry point serves `q` from current keys.
    pub async fn connect(url: &DatabaseUrl, timeouts: Timeouts) -> Result<Self, ConnectError> {
        migrate(url, timeouts).await?;
        let pools = match url {
            DatabaseUrl::Postgres(url) => {
                let manager = PgManager::new(postgres::Server::parse(url)?, timeouts);
                Pools::Postgres(build_pool(manager, 16, true, timeouts))
            }
            DatabaseUrl::Sqlite(path) => Pools::Sqlite {
                read: build_pool(SqliteManager::new(path, timeouts), 8, false, timeouts),
                write: build_pool(SqliteManager::new(path, timeouts), 1, false, timeouts),
            },
        };
        let db = Self { pools, timeouts };
        let derived = search_keys::backfill(&db).await.map_err(|e| {
            ConnectError(format!(
                "cannot derive the users' search keys: {}",
                e.message
            ))
        })?;
        if derived > 0 {
            tracing::info!(
                count = derived,
                "derived the search keys of users stored or changed by an earlier version"
            );
        }
        Ok(db)
    }

    /// The pools, for tests and tools that run their own statements.
    pub fn pools(&self) -> &Pools {
        &self.pools
    }

    /// Runs SQL statements on the write connection, outside the API (seeding by the bench
    /// harness); a failure is logged like any other database error.
    pub async fn execute_script(&self, sql: &str) -> Result<(), ApiError> {
        write!(self, |conn| conn
            .batch_execute(sql)
            .await
            .map_err(ApiError::from))
    }

    /// Whether the database answers a trivial query now; false after at most 1.5 s.
    pub async fn ping(&self) -> bool {
        let ping = async {
            read!(self, |conn| conn
                .batch_execute("SELECT 1")
                .await
                .map_err(ApiError::from))
        };
        matches!(
            tokio::time::timeout(READINESS_DEADLINE, ping).await,
            Ok(Ok(()))
        )
    }

    /// `result`, unless the operation that `started` then has run past its deadline.
    fn by_deadline<T>(
        &self,
        started: tokio::time::Instant,
        result: Result<T, ApiError>,
    ) -> Result<T, ApiError> {
        let deadline = self.timeouts.operation;
        match started.elapsed() >= deadline {
            true => Err(timed_out(deadline)),
            false => result,
        }
    }

    /// `operation` within the operation deadline; past it, 503. Dropping `operation` there
    /// leaves its connection marked in use, so the pool discards it. An internal error that
    /// arrives only at the deadline is the server's `statement_timeout` winning the race against
    /// the client's: a 503 too.
    async fn within_deadline<T>(
        &self,
        operation: impl Future<Output = Result<T, ApiError>>,
    ) -> Result<T, ApiError> {
        let deadline = self.timeouts.operation;
        let started = tokio::time::Instant::now();
        match tokio::time::timeout(deadline, operation).await {
            Ok(Err(error))
                if error.code == crate::error::ErrorCode::Internal
                    && started.elapsed() >= deadline =>
            {
                Err(timed_out(deadline))
            }
            Ok(result) => result,
            Err(_) => Err(timed_out(deadline)),
        }
    }
}

/// `check_on_checkout`: PostgreSQL connections can die with the server or the network, so each
/// checkout is checked first — without a round trip, by whether its socket closed (`pool`); an
/// embedded SQLite connection cannot go stale, so its pools skip the check. `build_unchecked`:
/// nothing connects until a request needs a connection (the migrations just proved the database
/// answers).
fn build_pool<M>(manager: M, size: u32, check_on_checkout: bool, timeouts: Timeouts) -> bb8::Pool<M>
where
    M: bb8::ManageConnection<Error = ConnectError>,
{
    bb8::Pool::builder()
        .max_size(size)
        .test_on_check_out(check_on_checkout)
        .connection_timeout(timeouts.checkout)
        .error_sink(Box::new(pool::LogErrors))
        .build_unchecked(manager)
}

/// Set on every PostgreSQL connection of the pool: the server gives up on a statement, or on a
/// transaction left idle by a client that went away, at the same deadline as the client.
/// (`statement_timeout` covers lock waits too, so there is no separate `lock_timeout`.)
fn postgres_session_sql(deadline: Duration) -> String {
    let ms = deadline.as_millis();
    format!("SET statement_timeout = {ms}; SET idle_in_transaction_session_timeout = {ms};")
}

/// Applies the embedded migrations of the URL's backend. The migration harness is synchronous,
/// so it runs on a blocking thread. On PostgreSQL the connection is opened (and its socket
/// driven) here, so a migration that outlives `timeouts.migration` is stopped by closing the
/// socket under it; its transaction is never committed.
pub async fn migrate(url: &DatabaseUrl, timeouts: Timeouts) -> Result<(), ConnectError> {
    let joined = match url {
        DatabaseUrl::Sqlite(path) => {
            let path = path.clone();
            let pragmas = sqlite::pragmas(timeouts.operation);
            let task = tokio::task::spawn_blocking(move || {
                sqlite::prepare(&path)?;
                let mut conn = SqliteConnection::establish(&path).map_err(|e| {
                    ConnectError(format!("cannot open SQLite database {path}: {e}"))
                })?;
                diesel::connection::SimpleConnection::batch_execute(&mut conn, &pragmas)
                    .map_err(|e| ConnectError(format!("cannot configure SQLite database: {e}")))?;
                run(&mut conn, SQLITE_MIGRATIONS)
            });
            task.await
        }
        DatabaseUrl::Postgres(url) => {
            let server = postgres::Server::parse(url)?;
            let session_sql = postgres_session_sql(timeouts.migration);
            let (conn, driver) = server.connect(timeouts.connect, &session_sql).await?;
            let mut conn = AsyncConnectionWrapper::<AsyncPgConnection>::from(conn);
            let address = server.address.clone();
            let task = tokio::task::spawn_blocking(move || {
                run(&mut conn, POSTGRES_MIGRATIONS)
                    .map_err(|e| ConnectError(format!("{e} (PostgreSQL at {address})")))
            });
            let started = tokio::time::Instant::now();
            match tokio::time::timeout(timeouts.migration, task).await {
                Ok(joined) if started.elapsed() < timeouts.migration => joined,
                // Failing at the deadline is the session's `statement_timeout`: a timeout too.
                Ok(Ok(Ok(()))) => Ok(Ok(())),
                _ => {
                    drop(driver);
                    return Err(server.timed_out(postgres::Step::Migrating, timeouts.migration));
                }
            }
        }
    };
    joined.map_err(|e| ConnectError(format!("migration task failed: {e}")))?
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

fn timed_out(deadline: Duration) -> ApiError {
    tracing::warn!(deadline = ?deadline, "database operation exceeded its deadline");
    ApiError::service_unavailable()
}

pub fn pool_error(error: impl std::fmt::Display) -> ApiError {
    tracing::warn!(error = %error, "database unavailable");
    ApiError::service_unavailable()
}

/// Opens a write transaction the backend's way.
pub(crate) async fn begin<C: Backend>(conn: &mut C) -> Result<(), ApiError> {
    conn.begin().await.map_err(ApiError::from)
}

/// Which database a connection talks to, for the few statements each is given its own way.
pub(crate) trait Backend {
    const POSTGRES: bool;
    /// Opens a write transaction.
    async fn begin(&mut self) -> diesel::QueryResult<()>;
}

/// Row locks (`SELECT … FOR UPDATE`) serialise the writers of one row.
impl Backend for AsyncPgConnection {
    const POSTGRES: bool = true;
    async fn begin(&mut self) -> diesel::QueryResult<()> {
        AnsiTransactionManager::begin_transaction(self).await
    }
}

/// SQLite has one writer: `BEGIN IMMEDIATE` takes the database's write lock at the start, so
/// what a write transaction reads cannot change under it, even from another process, and no
/// write fails half-way upgrading a read lock.
impl<S: SpawnBlocking + Send> Backend for SyncConnectionWrapper<SqliteConnection, S> {
    const POSTGRES: bool = false;
    async fn begin(&mut self) -> diesel::QueryResult<()> {
        self.spawn_blocking(|conn| {
            diesel::connection::AnsiTransactionManager::begin_transaction_sql(
                conn,
                "BEGIN IMMEDIATE",
            )
        })
        .await
    }
}

pub(crate) fn is_postgres<C: Backend>(_conn: &C) -> bool {
    C::POSTGRES
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
