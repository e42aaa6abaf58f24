//! The bb8 connection managers. A pooled connection is marked in use while an operation runs on
//! it; if the operation never finishes — abandoned at its deadline, or dropped with its request —
//! the mark stays and the pool discards the connection instead of handing out one that may be
//! mid-statement or mid-transaction. Discarding closes it, and the database rolls back whatever
//! transaction it had open. (An SQLite statement cannot be interrupted: diesel-async makes
//! dropping one that runs on a blocking thread wait until it returns.)

use std::{
    marker::PhantomData,
    ops::{Deref, DerefMut},
};

use diesel::SqliteConnection;
use diesel_async::{
    AsyncConnection, AsyncPgConnection, SimpleAsyncConnection, TransactionManager,
    sync_connection_wrapper::{SpawnBlocking, SyncConnectionWrapper},
};

use super::{
    ConnectError, Timeouts,
    postgres::{Driver, Server},
    sqlite,
};

/// A pooled connection, with its in-use mark (and, on PostgreSQL, the task driving its socket).
pub struct Conn<C> {
    conn: C,
    in_use: bool,
    driver: Option<Driver>,
}

impl<C: AsyncConnection> Conn<C> {
    fn new(conn: C, driver: Option<Driver>) -> Self {
        Self {
            conn,
            in_use: false,
            driver,
        }
    }

    /// Marks the connection in use and lends it out; `end_use` when the operation completed.
    pub fn begin_use(&mut self) -> &mut C {
        self.in_use = true;
        &mut self.conn
    }

    pub fn end_use(&mut self) {
        self.in_use = false;
    }

    /// In use (its operation was abandoned), in a transaction, its transaction state broken,
    /// or its socket closed.
    fn is_broken(&mut self) -> bool {
        std::thread::panicking()
            || self.in_use
            || self.driver.as_ref().is_some_and(Driver::is_finished)
            || C::TransactionManager::is_broken_transaction_manager(&mut self.conn)
    }
}

/// Raw access for tests and tools that run their own statements.
impl<C> Deref for Conn<C> {
    type Target = C;
    fn deref(&self) -> &C {
        &self.conn
    }
}

impl<C> DerefMut for Conn<C> {
    fn deref_mut(&mut self) -> &mut C {
        &mut self.conn
    }
}

pub struct PgManager {
    server: Server,
    connect_timeout: std::time::Duration,
    session_sql: String,
}

impl PgManager {
    pub fn new(server: Server, timeouts: Timeouts) -> Self {
        Self {
            server,
            connect_timeout: timeouts.connect,
            session_sql: super::postgres_session_sql(timeouts.operation),
        }
    }
}

impl bb8::ManageConnection for PgManager {
    type Connection = Conn<AsyncPgConnection>;
    type Error = ConnectError;

    async fn connect(&self) -> Result<Self::Connection, ConnectError> {
        let (conn, driver) = self
            .server
            .connect(self.connect_timeout, &self.session_sql)
            .await?;
        Ok(Conn::new(conn, Some(driver)))
    }

    /// No round trip: a connection whose socket closed while it sat in the pool (the server
    /// restarted, or ended its session) has a finished driver task and is replaced. A server
    /// that stops answering without closing is caught by the operation's deadline, which
    /// discards the connection. (A `SELECT 1` per checkout cost a round trip on every request.)
    async fn is_valid(&self, conn: &mut Self::Connection) -> Result<(), ConnectError> {
        match &conn.driver {
            Some(driver) if driver.is_finished() => Err(ConnectError(format!(
                "the connection to PostgreSQL at {} closed",
                self.server.address
            ))),
            _ => Ok(()),
        }
    }

    fn has_broken(&self, conn: &mut Self::Connection) -> bool {
        conn.is_broken()
    }
}

/// Opens SQLite connections of type `C` (`SqliteConn` or `SqliteWriter`).
pub struct SqliteManager<C> {
    path: String,
    pragmas: String,
    connection: PhantomData<fn() -> C>,
}

impl<C> SqliteManager<C> {
    pub fn new(path: &str, timeouts: Timeouts) -> Self {
        Self {
            path: path.to_owned(),
            pragmas: sqlite::pragmas(timeouts.operation),
            connection: PhantomData,
        }
    }
}

impl<S> bb8::ManageConnection for SqliteManager<SyncConnectionWrapper<SqliteConnection, S>>
where
    S: SpawnBlocking + Send + Sync + 'static,
    SyncConnectionWrapper<SqliteConnection, S>: AsyncConnection,
{
    type Connection = Conn<SyncConnectionWrapper<SqliteConnection, S>>;
    type Error = ConnectError;

    async fn connect(&self) -> Result<Self::Connection, ConnectError> {
        let open = async {
            let mut conn =
                SyncConnectionWrapper::<SqliteConnection, S>::establish(&self.path).await?;
            conn.batch_execute(&self.pragmas)
                .await
                .map_err(diesel::ConnectionError::CouldntSetupConfiguration)?;
            Ok::<_, diesel::ConnectionError>(conn)
        };
        open.await
            .map(|conn| Conn::new(conn, None))
            .map_err(|e| ConnectError(format!("cannot open SQLite database {}: {e}", self.path)))
    }

    /// An embedded connection cannot go stale; its pools do not test on checkout.
    async fn is_valid(&self, _conn: &mut Self::Connection) -> Result<(), ConnectError> {
        Ok(())
    }

    fn has_broken(&self, conn: &mut Self::Connection) -> bool {
        conn.is_broken()
    }
}

/// Logs why the pool could not open a connection; a request only sees that none was free.
#[derive(Debug, Clone, Copy)]
pub struct LogErrors;

impl bb8::ErrorSink<ConnectError> for LogErrors {
    fn sink(&self, error: ConnectError) {
        tracing::warn!(error = %error, "cannot open a database connection");
    }

    fn boxed_clone(&self) -> Box<dyn bb8::ErrorSink<ConnectError>> {
        Box::new(*self)
    }
}
