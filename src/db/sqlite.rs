//! The SQLite database on disk: private whatever the umask, and the pragmas of every connection.
//!
//! The data directory, when this creates it, is 0700 and the database file 0600; the file is
//! created here, before SQLite opens it, because SQLite would create it 0644 minus the umask.
//! SQLite gives its `-wal` and `-shm` files the mode of the database file, so they follow. A
//! database file (or `-wal`/`-shm`) that already exists with group or world access is tightened
//! to 0600, with a warning: it holds credentials' hashes and the files are ours. An existing
//! directory is never changed — it may be shared, or the working directory — but a group- or
//! world-accessible one gets a warning.

use std::{error::Error, path::Path, time::Duration};

use diesel_async::sync_connection_wrapper::SpawnBlocking;
use futures_util::future::BoxFuture;

use super::ConnectError;

/// Runs the writer's statements in place, on the task's own thread, instead of handing each to
/// a blocking thread and back. SQLite has one writer, so every write transaction queues behind
/// the one in flight; with a thread hand-off per statement (six for a `PATCH /v1/me`) the
/// writer spent most of its turn waiting to be scheduled, not writing. A write statement takes
/// microseconds, a lock wait at most `busy_timeout`, and the retention sweeps delete in bounded
/// batches, so blocking the worker thread that long is the cheaper trade. Reads, which a
/// search can make long, stay on blocking threads.
pub struct InPlace;

impl SpawnBlocking for InPlace {
    fn spawn_blocking<'a, R>(
        &mut self,
        task: impl FnOnce() -> R + Send + 'static,
    ) -> BoxFuture<'a, Result<R, Box<dyn Error + Send + Sync + 'static>>>
    where
        R: Send + 'static,
    {
        Box::pin(std::future::ready(Ok(task())))
    }

    fn get_runtime() -> Self {
        Self
    }
}

/// WAL so readers never block the writer; a busy timeout (the operation deadline) so a second
/// process holding the lock is waited for, not failed on, but never longer than a request may
/// wait; foreign keys on, which SQLite leaves off by default.
pub fn pragmas(busy_timeout: Duration) -> String {
    format!(
        "PRAGMA journal_mode = WAL; PRAGMA busy_timeout = {}; PRAGMA foreign_keys = ON; \
         PRAGMA synchronous = NORMAL;",
        busy_timeout.as_millis()
    )
}

/// Creates the directory and the database file if missing, both private; tightens existing
/// database files that are readable by others.
pub fn prepare(path: &str) -> Result<(), ConnectError> {
    let file = Path::new(path);
    if let Some(dir) = file.parent().filter(|d| !d.as_os_str().is_empty()) {
        if dir.exists() {
            warn_if_shared(dir);
        } else {
            create_private_dir(dir)
                .map_err(|e| ConnectError(format!("cannot create {}: {e}", dir.display())))?;
        }
    }
    create_private_file(file)
        .map_err(|e| ConnectError(format!("cannot create SQLite database {path}: {e}")))?;
    for suffix in ["", "-wal", "-shm"] {
        let companion = format!("{path}{suffix}");
        tighten(Path::new(&companion))
            .map_err(|e| ConnectError(format!("cannot restrict {companion} to 0600: {e}")))?;
    }
    Ok(())
}

#[cfg(unix)]
fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)?;
    // The umask may have removed owner bits; say exactly what we mean.
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
}

#[cfg(not(unix))]
fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)
}

fn create_private_file(file: &Path) -> std::io::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    match options.open(file) {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(e),
    }
}

#[cfg(unix)]
fn tighten(file: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    let mode = match std::fs::metadata(file) {
        Ok(metadata) => metadata.permissions().mode() & 0o777,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(e),
    };
    if mode & 0o077 != 0 {
        std::fs::set_permissions(file, std::fs::Permissions::from_mode(0o600))?;
        tracing::warn!(file = %file.display(), was = %format!("{mode:o}"), "database file was readable by others; restricted to 0600");
    }
    Ok(())
}

#[cfg(not(unix))]
fn tighten(_file: &Path) -> std::io::Result<()> {
    Ok(())
}

#[cfg(unix)]
fn warn_if_shared(dir: &Path) {
    use std::os::unix::fs::PermissionsExt;
    if let Ok(metadata) = std::fs::metadata(dir) {
        let mode = metadata.permissions().mode() & 0o777;
        if mode & 0o077 != 0 {
            tracing::warn!(dir = %dir.display(), mode = %format!("{mode:o}"), "the database directory is accessible to others; consider chmod 700");
        }
    }
}

#[cfg(not(unix))]
fn warn_if_shared(_dir: &Path) {}

/// For tests that pin a query's plan: a migrated SQLite database in a temporary directory
/// (kept alive by the returned guard), and `EXPLAIN QUERY PLAN` of a diesel query on it.
#[cfg(test)]
pub mod plan {
    use diesel::{
        Connection, QueryableByName, RunQueryDsl, SqliteConnection, query_builder::QueryFragment,
        sql_types::Text, sqlite::Sqlite,
    };

    pub async fn migrated_database() -> (tempfile::TempDir, SqliteConnection) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("plan.db").display().to_string();
        let url = crate::db::DatabaseUrl::Sqlite(path.clone());
        crate::db::migrate(&url, crate::db::Timeouts::default())
            .await
            .unwrap();
        let conn = SqliteConnection::establish(&path).unwrap();
        (dir, conn)
    }

    /// The `detail` of each step SQLite plans for `query` (its binds left as `?`).
    pub fn of(conn: &mut SqliteConnection, query: &impl QueryFragment<Sqlite>) -> Vec<String> {
        #[derive(QueryableByName)]
        struct Step {
            #[diesel(sql_type = Text)]
            detail: String,
        }
        let sql = diesel::debug_query::<Sqlite, _>(query).to_string();
        let sql = sql.split(" -- binds").next().unwrap();
        let plan: Vec<Step> = diesel::sql_query(format!("EXPLAIN QUERY PLAN {sql}"))
            .load(conn)
            .unwrap();
        plan.into_iter().map(|s| s.detail).collect()
    }
}
