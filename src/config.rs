//! All configuration, from flags with environment-variable twins (`users-api --help`). Loaded
//! once in `main`; nothing else reads the environment.

use std::{
    num::{NonZeroU32, NonZeroUsize},
    path::PathBuf,
    time::Duration,
};

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::{db::Timeouts, domain::OrgId};

/// `users-api [serve] [FLAGS]`, or a subcommand with only the flags it uses. Flags come after
/// the subcommand's name (`users-api migrate --database-url …`); one before it is refused rather
/// than silently ignored.
#[derive(Debug, Parser)]
#[command(
    name = "users-api",
    version,
    about = "The user-profile service: /v1/me, users, sessions and API keys.",
    args_conflicts_with_subcommands = true
)]
pub struct Cli {
    /// Serving's flags, for `users-api` without a subcommand.
    #[command(flatten)]
    pub config: Config,
    /// Log line format.
    #[arg(
        long,
        env = "USERS_API_LOG_FORMAT",
        value_enum,
        default_value = "text",
        global = true
    )]
    pub log_format: LogFormat,
    #[command(subcommand)]
    pub command: Option<Command>,
}

/// Everything `users-api serve` is configured by.
#[derive(Debug, Clone, Args)]
pub struct Config {
    /// Address to listen on.
    #[arg(long, env = "USERS_API_ADDR", default_value = "127.0.0.1:8080")]
    pub addr: String,
    #[command(flatten)]
    pub database: DatabaseArgs,
    #[command(flatten)]
    pub tokens: TokenArgs,
    /// A previous signing key (PKCS#8 PEM) during a rotation: tokens it signed keep verifying
    /// and `/.well-known/jwks.json` keeps publishing it; it never signs. Drop it once the
    /// tokens it signed have expired.
    #[arg(long, env = "USERS_API_PREVIOUS_SIGNING_KEY_FILE")]
    pub previous_signing_key_file: Option<PathBuf>,
    #[command(flatten)]
    pub secrets: SecretsArgs,
    /// Sign-in attempts allowed per account per minute (a burst that refills over the minute);
    /// more get 429 `RATE_LIMITED` with `Retry-After`. On PostgreSQL the limits are kept in the
    /// database and hold for all instances together.
    #[arg(
        long,
        env = "USERS_API_SIGN_IN_LIMIT_PER_ACCOUNT",
        default_value = "10"
    )]
    pub sign_in_limit_per_account: NonZeroU32,
    /// Sign-in attempts allowed per client address per minute, whatever the account.
    #[arg(
        long,
        env = "USERS_API_SIGN_IN_LIMIT_PER_ADDRESS",
        default_value = "60"
    )]
    pub sign_in_limit_per_address: NonZeroU32,
    /// Failed sign-ins in a row that lock an account for `--lockout-duration` (counted in the
    /// database, across instances); 0, the default, turns lockout off. A success, a password
    /// reset or `POST /v1/users/{id}/unlock` clears the count.
    #[arg(long, env = "USERS_API_LOCKOUT_THRESHOLD", default_value = "0")]
    pub lockout_threshold: u32,
    /// How long a lockout lasts: seconds, or a number with `s`, `m`, `h` or `d`.
    #[arg(long, env = "USERS_API_LOCKOUT_DURATION", default_value = "15m", value_parser = parse_duration)]
    pub lockout_duration: Duration,
    /// How recent a session's authentication must be to change `primary_email`, `password` or
    /// the TOTP settings through `/v1/me` without proving it again in the request (sign-in, or
    /// `POST /v1/sessions/current/reauthenticate`): seconds, or a number with `s`, `m`, `h` or
    /// `d`.
    #[arg(long, env = "USERS_API_REAUTH_WINDOW", default_value = "10m", value_parser = parse_duration)]
    pub reauth_window: Duration,
    /// How long expired or revoked sessions, and expired, redeemed or superseded one-time
    /// tickets, are kept (for audit) before the sweeper deletes them: seconds, or a number
    /// with `s`, `m`, `h` or `d`.
    #[arg(long, env = "USERS_API_SESSION_RETENTION", default_value = "30d", value_parser = parse_duration)]
    pub session_retention: Duration,
    /// How long change events are kept (the audit log's reach) before the sweeper deletes
    /// them: seconds, or a number with `s`, `m`, `h` or `d`.
    #[arg(long, env = "USERS_API_EVENT_RETENTION", default_value = "90d", value_parser = parse_duration)]
    pub event_retention: Duration,
    /// How often the sweeper deletes expired sessions and idempotency records (each wait is
    /// randomised by ±25 %, so instances drift apart).
    #[arg(long, env = "USERS_API_SWEEP_INTERVAL", default_value = "1h", value_parser = parse_duration)]
    pub sweep_interval: Duration,
    /// Total time a client has to send a request's line and headers, counted from when the
    /// connection starts waiting for them (on a new connection: from accept); a client still
    /// sending headers then, however active, is disconnected. Seconds, or a number with a unit.
    #[arg(long, env = "USERS_API_HEADER_READ_TIMEOUT", default_value = "10s", value_parser = parse_duration)]
    pub header_read_timeout: Duration,
    /// Total time a client has to send a request body once its headers are in; past it the
    /// request is answered 408 `REQUEST_TIMEOUT` and the connection closed.
    #[arg(long, env = "USERS_API_BODY_READ_TIMEOUT", default_value = "30s", value_parser = parse_duration)]
    pub body_read_timeout: Duration,
    /// How long a keep-alive connection may sit idle between requests before it is closed.
    /// Longer than the usual load balancer idle timeout (60 s), so the balancer, not the server,
    /// closes idle connections and never reuses one the server is closing.
    #[arg(long, env = "USERS_API_KEEP_ALIVE_TIMEOUT", default_value = "75s", value_parser = parse_duration)]
    pub keep_alive_timeout: Duration,
    /// Most client connections open at once; past it new clients wait in the listen backlog.
    /// Default: the open-file limit (raised to its hard limit at start) minus 128 descriptors
    /// kept for the database, files and logs; a larger value is refused at start.
    #[arg(long, env = "USERS_API_MAX_CONNECTIONS")]
    pub max_connections: Option<NonZeroUsize>,
    /// On SIGTERM/Ctrl-C, how long requests in flight may take to finish; idle connections and
    /// connections still sending their headers are closed at once.
    #[arg(long, env = "USERS_API_SHUTDOWN_TIMEOUT", default_value = "30s", value_parser = parse_duration)]
    pub shutdown_timeout: Duration,
    /// Browser origins allowed to call the API cross-origin, comma-separated exact origins
    /// (`https://app.example.com`); none by default. Other origins get no CORS headers.
    #[arg(long, env = "USERS_API_CORS_ORIGINS", value_delimiter = ',', value_parser = parse_origin)]
    pub cors_origins: Vec<String>,
    /// Origins a one-time ticket's `redirect_url` may point to, comma-separated exact origins
    /// (`https://app.example.com`); none by default, and then any `redirect_url` is refused
    /// (422 `REDIRECT_NOT_ALLOWED`): tickets are returned without a link.
    #[arg(long, env = "USERS_API_REDIRECT_ORIGINS", value_delimiter = ',', value_parser = parse_origin)]
    pub redirect_origins: Vec<String>,
    /// Load balancers in front of the server, comma-separated CIDRs or addresses
    /// (`10.0.0.0/8,127.0.0.1`); none by default. From these peers only, `X-Forwarded-For` is
    /// read from the right, past every trusted hop, and the first other address is the client
    /// (for sign-in limits and logs).
    #[arg(long, env = "USERS_API_TRUSTED_PROXIES", value_delimiter = ',', value_parser = crate::api::parse_network)]
    pub trusted_proxies: Vec<ipnet::IpNet>,
    /// Leave an empty database empty instead of creating the demo organization (for
    /// production: create organizations with `users-api admin create-org`).
    #[arg(long, env = "USERS_API_NO_DEMO")]
    pub no_demo: bool,
    #[command(flatten)]
    pub webhooks: WebhookArgs,
    #[command(flatten)]
    pub mail: crate::mail::MailArgs,
}

/// How webhooks are delivered.
#[derive(Debug, Clone, Args)]
pub struct WebhookArgs {
    /// Let webhook URLs be plain `http://` and name loopback, private and link-local
    /// addresses, at creation and at delivery. For development and tests only: it lets anyone
    /// with `webhooks:write` make this server send requests into its own network. Logged
    /// loudly at start.
    #[arg(long, env = "USERS_API_WEBHOOKS_ALLOW_PRIVATE_URLS")]
    pub webhooks_allow_private_urls: bool,
    /// A delivery succeeds with a 2xx within this; anything else is retried.
    #[arg(long, env = "USERS_API_WEBHOOK_TIMEOUT", default_value = "10s", value_parser = parse_duration)]
    pub webhook_timeout: Duration,
    /// The waits between attempts of an event, comma-separated (`1s,2s,4s`); each is varied by
    /// ±20 %. Once they are used up the endpoint is disabled.
    #[arg(
        long,
        env = "USERS_API_WEBHOOK_RETRY_SCHEDULE",
        default_value = crate::webhooks::DEFAULT_RETRY_SCHEDULE,
        value_parser = crate::webhooks::RetrySchedule::parse
    )]
    pub webhook_retry_schedule: crate::webhooks::RetrySchedule,
    /// Webhook requests in flight at once on this instance, all endpoints together (each
    /// endpoint gets one at a time, to keep its order).
    #[arg(long, env = "USERS_API_WEBHOOK_CONCURRENCY", default_value = "64")]
    pub webhook_concurrency: NonZeroUsize,
    /// How often the dispatcher looks for new events and due retries: the most a committed
    /// event waits before it leaves.
    #[arg(long, env = "USERS_API_WEBHOOK_POLL_INTERVAL", default_value = "500ms", value_parser = parse_duration)]
    pub webhook_poll_interval: Duration,
}

impl WebhookArgs {
    pub fn settings(&self) -> crate::webhooks::WebhookSettings {
        crate::webhooks::WebhookSettings {
            allow_private_urls: self.webhooks_allow_private_urls,
            timeout: self.webhook_timeout,
            retry_schedule: self.webhook_retry_schedule.clone(),
            max_concurrent: self.webhook_concurrency.get(),
            poll_interval: self.webhook_poll_interval,
        }
    }
}

/// Where the database is and how long its work may take: every command needs these.
#[derive(Debug, Clone, Args)]
pub struct DatabaseArgs {
    /// `sqlite://PATH` (created if missing) or `postgres://USER@HOST/DB`.
    #[arg(
        long,
        env = "DATABASE_URL",
        default_value = "sqlite://data/users-api.db"
    )]
    pub database_url: String,
    /// Deadline of one database operation: waiting for a connection plus every statement of it
    /// (a whole transaction for a write). Past it the request answers 503
    /// `SERVICE_UNAVAILABLE` and the transaction is rolled back. Also PostgreSQL's
    /// `statement_timeout` and `idle_in_transaction_session_timeout`, and SQLite's
    /// `busy_timeout`. Accepts `ms` as well as `s`, `m`, `h`, `d`.
    #[arg(long, env = "USERS_API_DATABASE_TIMEOUT", default_value = "5s", value_parser = parse_duration)]
    pub database_timeout: Duration,
    /// How long a request waits for a free pooled connection before answering 503, so an
    /// exhausted or unreachable pool fails fast.
    #[arg(long, env = "USERS_API_DATABASE_CHECKOUT_TIMEOUT", default_value = "2s", value_parser = parse_duration)]
    pub database_checkout_timeout: Duration,
    /// PostgreSQL: deadline to open one connection (TCP connect, then authentication and session
    /// set-up).
    #[arg(long, env = "USERS_API_DATABASE_CONNECT_TIMEOUT", default_value = "10s", value_parser = parse_duration)]
    pub database_connect_timeout: Duration,
    /// PostgreSQL: deadline for applying pending migrations at start-up (`migrate`, `serve`);
    /// raise it for a migration known to be long.
    #[arg(long, env = "USERS_API_DATABASE_MIGRATION_TIMEOUT", default_value = "15s", value_parser = parse_duration)]
    pub database_migration_timeout: Duration,
}

impl DatabaseArgs {
    pub fn timeouts(&self) -> Timeouts {
        Timeouts {
            operation: self.database_timeout,
            checkout: self.database_checkout_timeout,
            connect: self.database_connect_timeout,
            migration: self.database_migration_timeout,
        }
    }
}

/// How session tokens are signed and what they claim: serving and `admin create-org` (which
/// issues the new admin's first token).
#[derive(Debug, Clone, Args)]
pub struct TokenArgs {
    /// Ed25519 PKCS#8 PEM key that signs session tokens; generated here if missing. Every
    /// instance behind one load balancer must share it.
    #[arg(
        long,
        env = "USERS_API_SIGNING_KEY_FILE",
        default_value = "data/signing-key.pem"
    )]
    pub signing_key_file: PathBuf,
    /// `iss` of issued session tokens, and the only issuer accepted.
    #[arg(long, env = "USERS_API_ISSUER", default_value = "users-api")]
    pub issuer: String,
    /// `aud` of issued session tokens, and the only audience accepted.
    #[arg(long, env = "USERS_API_AUDIENCE", default_value = "users-api")]
    pub audience: String,
    /// Session lifetime: seconds, or a number with `s`, `m`, `h` or `d`.
    #[arg(long, env = "USERS_API_TOKEN_TTL", default_value = "24h", value_parser = parse_duration)]
    pub token_ttl: Duration,
}

/// The keys of the TOTP secrets stored in the database: every command that opens them.
#[derive(Debug, Clone, Args)]
pub struct SecretsArgs {
    /// The 256-bit key (standard base64) that encrypts TOTP secrets in the database;
    /// generated here (mode 0600) if missing and no stored secret needs another. Every
    /// instance must share it; keep it apart from database backups.
    #[arg(
        long,
        env = "USERS_API_SECRETS_KEY_FILE",
        default_value = "data/secrets-key"
    )]
    pub secrets_key_file: PathBuf,
    /// A previous secrets key during a rotation: it still decrypts what it encrypted, never
    /// encrypts. Drop it after `users-api admin rotate-secrets`.
    #[arg(long, env = "USERS_API_PREVIOUS_SECRETS_KEY_FILE")]
    pub previous_secrets_key_file: Option<PathBuf>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve the API (the default). On an empty database, creates a demo organization first.
    Serve(Box<Config>),
    /// Apply pending migrations and exit.
    Migrate(DatabaseArgs),
    /// Administrative tasks for scripts.
    #[command(subcommand)]
    Admin(AdminCommand),
}

#[derive(Debug, Subcommand)]
pub enum AdminCommand {
    /// Create an organization with its first admin user; print how to act as them.
    CreateOrg(CreateOrg),
    /// Give a user a new random password, print it once, and revoke all of the user's
    /// sessions: how to get in again when the credentials printed at creation are lost.
    ResetPassword(ResetPassword),
    /// Re-encrypt every stored TOTP secret under the current `--secrets-key-file` (opening
    /// old ones with `--previous-secrets-key-file`); print how many changed. Safe to run
    /// while servers are up, and to run again.
    RotateSecrets {
        #[command(flatten)]
        database: DatabaseArgs,
        #[command(flatten)]
        secrets: SecretsArgs,
    },
    /// List the fleet's token signing keys (each instance publishes its own at start), or
    /// retire one: tokens it signed stop verifying on every instance within 30 s, and an
    /// instance holding it refuses to start.
    SigningKeys {
        /// The key id to retire (`kid`, as listed).
        #[arg(long)]
        retire: Option<String>,
        #[command(flatten)]
        database: DatabaseArgs,
    },
}

#[derive(Debug, Args)]
pub struct CreateOrg {
    #[arg(long)]
    pub name: String,
    #[arg(long)]
    pub admin_email: String,
    /// Print one JSON object (org_id, user_id, admin_email, admin_password, session_token,
    /// api_key).
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub database: DatabaseArgs,
    #[command(flatten)]
    pub secrets: SecretsArgs,
    #[command(flatten)]
    pub tokens: TokenArgs,
}

#[derive(Debug, Args)]
pub struct ResetPassword {
    /// The user's sign-in address.
    #[arg(long)]
    pub email: String,
    /// The user's organization; needed when users of several organizations have the address.
    #[arg(long)]
    pub org: Option<OrgId>,
    #[command(flatten)]
    pub database: DatabaseArgs,
}

pub(crate) fn parse_duration(text: &str) -> Result<Duration, String> {
    let (number, unit) = match text.find(|c: char| !c.is_ascii_digit()) {
        Some(i) => text.split_at(i),
        None => (text, "s"),
    };
    let n: u64 = number
        .parse()
        .map_err(|_| format!("{text:?} is not a duration like 3600, 500ms or 24h"))?;
    let duration = match unit {
        "ms" => Duration::from_millis(n),
        "s" => Duration::from_secs(n),
        "m" => Duration::from_secs(n * 60),
        "h" => Duration::from_secs(n * 3600),
        "d" => Duration::from_secs(n * 86_400),
        _ => return Err(format!("unknown unit in {text:?}: use ms, s, m, h or d")),
    };
    if duration.is_zero() {
        return Err("a duration must be positive".into());
    }
    Ok(duration)
}

/// An exact browser origin: `http` or `https`, a host, an optional port, nothing else. Returned
/// as browsers send it in `Origin` (lower-case host, default port dropped).
fn parse_origin(text: &str) -> Result<String, String> {
    let text = text.trim();
    let url = url::Url::parse(text).map_err(|e| format!("{text:?} is not an origin: {e}"))?;
    let bare = url.path() == "/"
        && url.query().is_none()
        && url.fragment().is_none()
        && url.username().is_empty()
        && url.password().is_none()
        && !text.ends_with(['?', '#']);
    if !matches!(url.scheme(), "http" | "https") || !bare {
        return Err(format!(
            "{text:?} is not an exact origin like https://app.example.com (scheme, host and port only)"
        ));
    }
    let origin = url.origin().ascii_serialization();
    Ok(origin)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_take_seconds_or_a_unit() {
        assert_eq!(parse_duration("90").unwrap(), Duration::from_secs(90));
        assert_eq!(parse_duration("15m").unwrap(), Duration::from_secs(900));
        assert_eq!(parse_duration("24h").unwrap(), Duration::from_secs(86_400));
        assert_eq!(parse_duration("250ms").unwrap(), Duration::from_millis(250));
        assert!(parse_duration("0").is_err());
        assert!(parse_duration("5y").is_err());
        assert!(parse_duration("h").is_err());
    }

    #[test]
    fn the_database_timeouts_default_to_the_documented_values() {
        let cli = Cli::try_parse_from(["users-api"]).unwrap();
        assert_eq!(cli.config.database.timeouts(), Timeouts::default());
    }

    #[test]
    fn the_webhook_flags_default_to_the_documented_values() {
        let cli = Cli::try_parse_from(["users-api"]).unwrap();
        let settings = cli.config.webhooks.settings();
        let defaults = crate::webhooks::WebhookSettings::default();
        assert_eq!(settings.retry_schedule, defaults.retry_schedule);
        assert_eq!(settings.timeout, defaults.timeout);
        assert_eq!(settings.poll_interval, defaults.poll_interval);
        assert_eq!(settings.max_concurrent, defaults.max_concurrent);
        assert!(!settings.allow_private_urls);
        let cli = Cli::try_parse_from([
            "users-api",
            "--webhook-retry-schedule",
            "1s,1s,2s",
            "--webhooks-allow-private-urls",
        ])
        .unwrap();
        let settings = cli.config.webhooks.settings();
        assert_eq!(settings.retry_schedule.attempts(), 4);
        assert!(settings.allow_private_urls);
        assert!(Cli::try_parse_from(["users-api", "--webhook-retry-schedule", "soon"]).is_err());
    }

    #[test]
    fn redirect_origins_are_exact_origins_checked_at_start() {
        let cli = Cli::try_parse_from([
            "users-api",
            "--redirect-origins",
            "https://App.example.com,http://localhost:3000",
        ])
        .unwrap();
        assert_eq!(
            cli.config.redirect_origins,
            ["https://app.example.com", "http://localhost:3000"]
        );
        assert!(
            Cli::try_parse_from(["users-api", "--redirect-origins", "https://a.test/x"]).is_err()
        );
        assert!(
            Cli::try_parse_from(["users-api"])
                .unwrap()
                .config
                .redirect_origins
                .is_empty()
        );
    }

    #[test]
    fn cors_origins_are_exact_origins() {
        assert_eq!(
            parse_origin("https://App.example.com").unwrap(),
            "https://app.example.com"
        );
        assert_eq!(
            parse_origin("http://localhost:3000/").unwrap(),
            "http://localhost:3000"
        );
        assert_eq!(
            parse_origin("https://a.example:443").unwrap(),
            "https://a.example"
        );
        for bad in [
            "*",
            "app.example.com",
            "https://a.example/path",
            "ftp://a.example",
            "https://a.example?q",
            "null",
        ] {
            assert!(parse_origin(bad).is_err(), "{bad}");
        }
        let cli = Cli::try_parse_from([
            "users-api",
            "--cors-origins",
            "https://a.example,http://b.example:8080",
        ])
        .unwrap();
        assert_eq!(
            cli.config.cors_origins,
            ["https://a.example", "http://b.example:8080"]
        );
    }

    #[test]
    fn each_subcommand_takes_its_own_flags_after_its_name() {
        let cli = Cli::try_parse_from([
            "users-api",
            "admin",
            "create-org",
            "--name",
            "Acme",
            "--admin-email",
            "a@acme.test",
            "--json",
            "--database-url",
            "sqlite://x.db",
            "--log-format",
            "json",
        ])
        .unwrap();
        assert_eq!(cli.log_format, LogFormat::Json);
        let Some(Command::Admin(AdminCommand::CreateOrg(create))) = cli.command else {
            panic!("{:?}", cli.command);
        };
        assert!(create.json);
        assert_eq!(create.database.database_url, "sqlite://x.db");

        let cli = Cli::try_parse_from(["users-api", "serve", "--addr", "0.0.0.0:1"]).unwrap();
        assert!(matches!(cli.command, Some(Command::Serve(c)) if c.addr == "0.0.0.0:1"));
        for refused in [
            // A flag before the subcommand would be serving's, and silently unused.
            &["users-api", "--database-url", "sqlite://x.db", "migrate"][..],
            // A flag of another command.
            &["users-api", "migrate", "--addr", "0.0.0.0:1"],
            &[
                "users-api",
                "admin",
                "rotate-secrets",
                "--signing-key-file",
                "k",
            ],
        ] {
            assert!(Cli::try_parse_from(refused).is_err(), "{refused:?}");
        }
    }
}
