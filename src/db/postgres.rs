//! Opening PostgreSQL connections. Each step has a deadline — the TCP (or Unix-socket) connect,
//! then authentication and session set-up — and every failure names the server as `host:port`
//! (never the password) and the step that failed, in one line.
//!
//! The socket is opened here rather than by `tokio_postgres::connect` so a timeout can say which
//! step hung, and its driving task is owned by the connection: dropping a connection closes its
//! socket at once, even while a partition leaves requests unanswered.

use std::time::Duration;

use diesel_async::{AsyncPgConnection, SimpleAsyncConnection};
use tokio::{
    io::{AsyncRead, AsyncWrite},
    time::{Instant, timeout_at},
};
use tokio_postgres::{NoTls, config::Host};

use super::ConnectError;

/// What was being done when PostgreSQL stopped answering.
#[derive(Debug, Clone, Copy)]
pub enum Step {
    Connecting,
    Authenticating,
    Migrating,
}

impl Step {
    fn describe(self) -> (&'static str, &'static str) {
        match self {
            Step::Connecting => ("connecting to", "--database-connect-timeout"),
            Step::Authenticating => ("authenticating to", "--database-connect-timeout"),
            Step::Migrating => ("applying migrations on", "--database-migration-timeout"),
        }
    }
}

/// A parsed PostgreSQL URL and the address it names, for messages.
#[derive(Clone)]
pub struct Server {
    config: tokio_postgres::Config,
    targets: Vec<(Host, u16)>,
    /// `host:port` (several, comma-separated, when the URL lists several hosts).
    pub address: String,
}

impl Server {
    pub fn parse(url: &str) -> Result<Self, ConnectError> {
        let config: tokio_postgres::Config = url.parse().map_err(|e| {
            let reason = with_causes(&e);
            ConnectError(format!("invalid PostgreSQL URL {}: {reason}", redact(url)))
        })?;
        let hosts: Vec<Host> = match config.get_hostaddrs() {
            [] => config.get_hosts().to_vec(),
            addrs => addrs.iter().map(|a| Host::Tcp(a.to_string())).collect(),
        };
        if hosts.is_empty() {
            return Err(ConnectError(format!(
                "invalid PostgreSQL URL {}: it names no host",
                redact(url)
            )));
        }
        let ports = config.get_ports();
        let targets: Vec<(Host, u16)> = hosts
            .into_iter()
            .enumerate()
            .map(|(i, host)| {
                let port = ports.get(i).or(ports.first()).copied().unwrap_or(5432);
                (host, port)
            })
            .collect();
        let address = targets
            .iter()
            .map(|(host, port)| match host {
                Host::Tcp(name) => format!("{name}:{port}"),
                #[cfg(unix)]
                Host::Unix(dir) => format!("{}:{port}", dir.display()),
            })
            .collect::<Vec<_>>()
            .join(",");
        Ok(Self {
            config,
            targets,
            address,
        })
    }

    /// Opens a connection within `timeout` and runs `session_sql` on it (the session's own
    /// timeouts). The connection closes when the returned `Driver` is dropped.
    pub async fn connect(
        &self,
        timeout: Duration,
        session_sql: &str,
    ) -> Result<(AsyncPgConnection, Driver), ConnectError> {
        let deadline = Instant::now() + timeout;
        let stream = timeout_at(deadline, self.open_socket())
            .await
            .map_err(|_| self.timed_out(Step::Connecting, timeout))??;
        let start = async {
            let (client, connection) = self.config.connect_raw(stream, NoTls).await?;
            let driver = Driver::spawn(connection);
            let mut conn = AsyncPgConnection::try_from(client).await?;
            conn.batch_execute(session_sql).await?;
            Ok::<_, Box<dyn std::error::Error + Send + Sync>>((conn, driver))
        };
        timeout_at(deadline, start)
            .await
            .map_err(|_| self.timed_out(Step::Authenticating, timeout))?
            .map_err(|e| {
                ConnectError(format!(
                    "cannot start a session on PostgreSQL at {}: {}",
                    self.address,
                    with_causes(&*e)
                ))
            })
    }

    /// The one line start-up prints when `step` did not finish within `after`.
    pub fn timed_out(&self, step: Step, after: Duration) -> ConnectError {
        let (doing, flag) = step.describe();
        ConnectError(format!(
            "timed out {doing} PostgreSQL at {} after {after:?} ({flag})",
            self.address
        ))
    }

    async fn open_socket(&self) -> Result<Box<dyn Socket>, ConnectError> {
        let mut errors = Vec::new();
        for (host, port) in &self.targets {
            let opened = match host {
                Host::Tcp(name) => tokio::net::TcpStream::connect((name.as_str(), *port))
                    .await
                    .map(|stream| {
                        let _ = stream.set_nodelay(true);
                        Box::new(stream) as Box<dyn Socket>
                    }),
                #[cfg(unix)]
                Host::Unix(dir) => {
                    tokio::net::UnixStream::connect(dir.join(format!(".s.PGSQL.{port}")))
                        .await
                        .map(|stream| Box::new(stream) as Box<dyn Socket>)
                }
            };
            match opened {
                Ok(socket) => return Ok(socket),
                Err(e) => errors.push(e.to_string()),
            }
        }
        Err(ConnectError(format!(
            "cannot connect to PostgreSQL at {}: {}",
            self.address,
            errors.join("; ")
        )))
    }
}

trait Socket: AsyncRead + AsyncWrite + Unpin + Send {}
impl<S: AsyncRead + AsyncWrite + Unpin + Send> Socket for S {}

/// The task that reads and writes a connection's socket; dropping it closes the socket.
pub struct Driver(tokio::task::AbortHandle);

impl Driver {
    fn spawn<F>(connection: F) -> Self
    where
        F: Future<Output = Result<(), tokio_postgres::Error>> + Send + 'static,
    {
        let task = tokio::spawn(async move {
            if let Err(error) = connection.await {
                tracing::debug!(error = %error, "PostgreSQL connection ended");
            }
        });
        Self(task.abort_handle())
    }
}

impl Driver {
    /// The socket closed (the server ended the session, restarted, or went away): the
    /// connection is dead.
    pub fn is_finished(&self) -> bool {
        self.0.is_finished()
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// `error: its cause: …` — tokio-postgres keeps the server's message in the cause.
fn with_causes(error: &(dyn std::error::Error + 'static)) -> String {
    let mut text = error.to_string();
    let mut cause = error.source();
    while let Some(next) = cause {
        text = format!("{text}: {next}");
        cause = next.source();
    }
    text
}

/// The URL without its password, for messages.
fn redact(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut parsed) => {
            if parsed.password().is_some() {
                let _ = parsed.set_password(Some("***"));
            }
            parsed.to_string()
        }
        // Unparseable: drop everything before the host, credentials included.
        Err(_) => match (url.split_once("://"), url.rsplit_once('@')) {
            (Some((scheme, _)), Some((_, rest))) => format!("{scheme}://***@{rest}"),
            _ => url.to_owned(),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_address_names_host_and_port_and_messages_never_show_the_password() {
        let server = Server::parse("postgres://ann:hunter2@db.internal:6543/users").unwrap();
        assert_eq!(server.address, "db.internal:6543");
        let line = server.timed_out(Step::Authenticating, Duration::from_secs(2));
        assert_eq!(
            line.to_string(),
            "timed out authenticating to PostgreSQL at db.internal:6543 after 2s \
             (--database-connect-timeout)"
        );
        assert_eq!(
            Server::parse("postgres://ann@db.internal/users")
                .unwrap()
                .address,
            "db.internal:5432"
        );
        let invalid = Server::parse("postgres://ann:hunter2@db.internal:port/users")
            .err()
            .unwrap()
            .to_string();
        assert!(invalid.contains("db.internal:port"), "{invalid}");
        assert!(!invalid.contains("hunter2"), "{invalid}");
    }
}
