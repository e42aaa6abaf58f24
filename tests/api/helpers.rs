//! `spawn_app()`: a real server on `127.0.0.1:0` with its own fresh database — a SQLite file in
//! a temporary directory, or, when `TEST_DATABASE_URL` names a PostgreSQL server, a database of
//! its own created there and dropped afterwards. Every response the server sends during a test
//! is checked against the committed spec; a response the spec does not describe fails the test.

use std::{
    sync::{Arc, LazyLock, Mutex},
    time::{Duration, Instant},
};

use poem::{Body, Endpoint, EndpointExt, IntoResponse, Request, Response, http::StatusCode};
use tempfile::TempDir;
use tokio::{sync::oneshot, task::JoinHandle};
use users_api::{
    api::{self, EdgeOptions, TrustedProxies},
    auth::{
        SecretKeys, SigningKeys, TokenSettings, Tokens, reseal,
        throttle::{SignInLimits, SignInThrottle},
    },
    bootstrap::{self, Credentials},
    db::{DatabaseUrl, Db, Timeouts, lockout::Lockout},
    mail::{MailSettings, Mailer},
    server::ConnectionLimits,
    state::AppState,
};
use users_api_client::Client;

use crate::{contract::Contract, proxy::Proxy};

static CONTRACT: LazyLock<Contract> = LazyLock::new(|| {
    Contract::from_json(include_str!("../../spec/openapi.json")).expect("spec/openapi.json parses")
});

pub const ISSUER: &str = "users-api-test";
pub const AUDIENCE: &str = "users-api-test";

pub struct TestApp {
    /// `http://127.0.0.1:PORT`
    pub address: String,
    pub state: AppState,
    /// The first organization and its admin.
    pub admin: Credentials,
    /// The PEM file of the key that signs this server's session tokens.
    pub key_file: std::path::PathBuf,
    /// The server's database, reached directly (not through `proxy`).
    pub database_url: DatabaseUrl,
    /// On PostgreSQL with `TestOptions::through_proxy`: what stands between the server and its
    /// database.
    pub proxy: Option<Proxy>,
    /// The file of the key that encrypts this server's TOTP secrets.
    pub secrets_key_file: std::path::PathBuf,
    violations: Arc<Mutex<Vec<String>>>,
    shutdown: Option<oneshot::Sender<()>>,
    server: Option<JoinHandle<std::io::Result<()>>>,
    postgres: Option<TestDatabase>,
    _dir: TempDir,
}

/// What a test may change about the server it starts.
pub struct TestOptions {
    /// A previous signing key (PKCS#8 PEM) that still verifies tokens.
    pub previous_key_pem: Option<String>,
    pub sign_in_limits: SignInLimits,
    pub timeouts: Timeouts,
    /// On PostgreSQL, reach the database through a `Proxy` the test controls.
    pub through_proxy: bool,
    /// Deadlines and the connection cap (the server's defaults, with a cap that suits tests).
    pub connections: ConnectionLimits,
    pub edge: EdgeOptions,
    /// `--webhooks-allow-private-urls`: webhook URLs may be `http://` and private.
    pub allow_private_webhook_urls: bool,
    /// The mailer the API sees (its dispatcher is started by the test: `mail_sink`).
    pub mailer: Option<Arc<MailSettings>>,
    /// `--redirect-origins` (none by default, as the server's).
    pub redirect_origins: Vec<String>,
    /// `--lockout-threshold` and `--lockout-duration` (off by default, as the server's).
    pub lockout: Lockout,
    /// `--reauth-window` (10 minutes by default, as the server's).
    pub reauth_window: chrono::TimeDelta,
}

impl Default for TestOptions {
    fn default() -> Self {
        Self {
            previous_key_pem: None,
            sign_in_limits: SignInLimits::default(),
            timeouts: Timeouts::default(),
            through_proxy: false,
            connections: ConnectionLimits {
                header_read_timeout: Duration::from_secs(10),
                keep_alive_timeout: Duration::from_secs(75),
                max_connections: 256,
                shutdown_timeout: Duration::from_secs(30),
            },
            edge: EdgeOptions {
                cors_origins: Vec::new(),
                trusted_proxies: TrustedProxies::default(),
                body_read_timeout: Duration::from_secs(30),
            },
            allow_private_webhook_urls: false,
            mailer: None,
            redirect_origins: Vec::new(),
            lockout: Lockout::default(),
            reauth_window: users_api::state::REAUTH_WINDOW,
        }
    }
}

pub async fn spawn_app() -> TestApp {
    spawn_app_with(TestOptions::default()).await
}

/// A server allowing `per_account` and `per_address` sign-in attempts a minute.
pub async fn spawn_app_with_limits(per_account: u32, per_address: u32) -> TestApp {
    let limit = |n: u32| n.try_into().expect("a non-zero limit");
    spawn_app_with(TestOptions {
        sign_in_limits: SignInLimits {
            per_account: limit(per_account),
            per_address: limit(per_address),
        },
        ..TestOptions::default()
    })
    .await
}

pub async fn spawn_app_with(options: TestOptions) -> TestApp {
    let dir = tempfile::tempdir().expect("temp dir");
    let (url, postgres) = match std::env::var("TEST_DATABASE_URL") {
        Ok(server) if !server.is_empty() => {
            let database = TestDatabase::create(&server).await;
            (DatabaseUrl::Postgres(database.url.clone()), Some(database))
        }
        _ => (
            DatabaseUrl::Sqlite(dir.path().join("test.db").display().to_string()),
            None,
        ),
    };
    let proxy = match (&url, options.through_proxy) {
        (DatabaseUrl::Postgres(direct), true) => Some(Proxy::start(host_and_port(direct)).await),
        _ => None,
    };
    let server_url = match (&url, &proxy) {
        (DatabaseUrl::Postgres(direct), Some(proxy)) => {
            let mut through = url::Url::parse(direct).expect("a PostgreSQL URL");
            through
                .set_port(Some(proxy.address.port()))
                .expect("a port");
            DatabaseUrl::Postgres(through.to_string())
        }
        _ => url.clone(),
    };
    let db = Db::connect(&server_url, options.timeouts)
        .await
        .expect("database connects and migrates");
    let secrets_key_file = dir.path().join("secrets-key");
    let secrets = reseal::open_keys(&db, &secrets_key_file, None)
        .await
        .expect("secrets key")
        .keys;
    let key_file = dir.path().join("key.pem");
    let keys = SigningKeys::load_or_create(&key_file).expect("signing key");
    let settings = TokenSettings {
        issuer: ISSUER.into(),
        audience: AUDIENCE.into(),
        lifetime: std::time::Duration::from_secs(3600),
    };
    let mut tokens = Tokens::new(keys, settings);
    if let Some(pem) = &options.previous_key_pem {
        tokens = tokens.with_previous(SigningKeys::from_pem(pem).expect("previous key"));
    }
    let mut state = AppState::new(db, tokens, secrets, options.sign_in_limits);
    state.allow_private_webhook_urls = options.allow_private_webhook_urls;
    state.mailer = options.mailer.map(Mailer::new);
    state.redirect_origins = options.redirect_origins;
    state.lockout = options.lockout;
    state.reauth_window = options.reauth_window;
    // As the server does at start: the key is the fleet's from now on.
    state
        .tokens
        .publish(&state.db)
        .await
        .expect("publish the signing key");
    let admin = bootstrap::create_org(&state.db, &state.tokens, "Acme", "admin@acme.test")
        .await
        .expect("bootstrap org");

    let violations = Arc::new(Mutex::new(Vec::new()));
    let (address, shutdown, server) = serve_checked(
        state.clone(),
        violations.clone(),
        options.edge,
        options.connections,
    )
    .await;
    TestApp {
        address,
        state,
        admin,
        key_file,
        secrets_key_file,
        database_url: url,
        proxy,
        violations,
        shutdown: Some(shutdown),
        server: Some(server),
        postgres,
        _dir: dir,
    }
}

/// Serves `state` on a free port, recording responses the spec does not describe; stops when
/// the returned sender is dropped.
async fn serve_checked(
    state: AppState,
    violations: Arc<Mutex<Vec<String>>>,
    edge: EdgeOptions,
    connections: ConnectionLimits,
) -> (String, oneshot::Sender<()>, JoinHandle<std::io::Result<()>>) {
    let app = api::app(state, edge)
        .around(move |next, req| check_contract(next, req, violations.clone()));
    let (listener, local) = users_api::server::bind("127.0.0.1:0").await.expect("bind");
    let (shutdown, stopped) = oneshot::channel::<()>();
    let server = tokio::spawn(users_api::server::serve(
        listener,
        app,
        connections,
        async move {
            let _ = stopped.await;
        },
    ));
    (format!("http://{local}"), shutdown, server)
}

/// A second server on a `TestApp`'s database and signing key (`TestApp::sibling`).
pub struct Sibling {
    /// `http://127.0.0.1:PORT`
    pub address: String,
    _shutdown: oneshot::Sender<()>,
}

impl TestApp {
    /// Another instance on this app's database and signing key, with `secrets` as its
    /// secrets keys (as after a restart with other key files). Stops when dropped.
    pub async fn sibling(&self, secrets: SecretKeys) -> Sibling {
        let state = AppState {
            secrets: Arc::new(secrets),
            ..self.state.clone()
        };
        self.instance(state).await
    }

    /// Another instance on this app's database with a signing key of its own (as one started
    /// in another directory generates), published as the server does at start. Stops when
    /// dropped.
    pub async fn instance_with_own_key(&self) -> (Sibling, Arc<Tokens>) {
        let key_file = self.key_file.with_file_name("other-instance-key.pem");
        let settings = TokenSettings {
            issuer: ISSUER.into(),
            audience: AUDIENCE.into(),
            lifetime: std::time::Duration::from_secs(3600),
        };
        let keys = SigningKeys::load_or_create(&key_file).expect("signing key");
        let tokens = Arc::new(Tokens::new(keys, settings));
        tokens.publish(&self.state.db).await.expect("publish");
        let state = AppState {
            tokens: tokens.clone(),
            ..self.state.clone()
        };
        (self.instance(state).await, tokens)
    }

    /// Another instance on this app's database with pools and a sign-in limiter of its own,
    /// allowing `limits`, as a second process has (on PostgreSQL the limits are then shared
    /// through the database; on SQLite each process would count alone). Stops when dropped.
    pub async fn instance_with_own_limiter(&self, limits: SignInLimits) -> Sibling {
        let db = Db::connect(&self.database_url, Timeouts::default())
            .await
            .expect("a second instance connects");
        let state = AppState {
            sign_in_throttle: Arc::new(SignInThrottle::for_database(&db, limits)),
            db,
            ..self.state.clone()
        };
        self.instance(state).await
    }

    /// `state` served as another instance beside this app, its responses checked against the
    /// spec as this app's are. Stops when dropped.
    async fn instance(&self, state: AppState) -> Sibling {
        let defaults = TestOptions::default();
        let (address, shutdown, _) = serve_checked(
            state,
            self.violations.clone(),
            defaults.edge,
            defaults.connections,
        )
        .await;
        Sibling {
            address,
            _shutdown: shutdown,
        }
    }

    /// A generated client acting with `token` (a session token or an API key).
    pub fn client_with(&self, token: &str) -> Client {
        users_api_client::with_bearer_token(&self.address, token).expect("client")
    }

    /// The generated client acting as the first organization's admin (session token).
    pub fn client(&self) -> Client {
        self.client_with(&self.admin.session_token)
    }

    /// A generated client that sends no credentials.
    pub fn anonymous(&self) -> Client {
        Client::new(&self.address)
    }

    /// A plain HTTP client, for requests the generated client cannot make (bad JSON, wrong
    /// types, wrong content types). Responses are still checked against the spec.
    pub fn http(&self) -> reqwest::Client {
        reqwest::Client::new()
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.address)
    }

    /// Cuts the server off from its database: PostgreSQL refuses new connections to the test
    /// database and ends the open ones. Returns false on SQLite, which is embedded and cannot
    /// become unreachable.
    pub async fn cut_off_database(&self) -> bool {
        use diesel_async::{AsyncConnection, AsyncPgConnection, SimpleAsyncConnection};
        let Some(database) = &self.postgres else {
            return false;
        };
        let mut conn = AsyncPgConnection::establish(&database.server)
            .await
            .expect("TEST_DATABASE_URL connects");
        let name = &database.name;
        conn.batch_execute(&format!(
            "ALTER DATABASE {name} ALLOW_CONNECTIONS false; \
             SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{name}';"
        ))
        .await
        .expect("cut off the test database");
        true
    }

    /// Sends the shutdown signal and waits for the server to stop (to close its last
    /// connection); returns how long that took.
    pub async fn shut_down(&mut self) -> Duration {
        let started = Instant::now();
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
        if let Some(server) = self.server.take() {
            server
                .await
                .expect("server task")
                .expect("server stops cleanly");
        }
        started.elapsed()
    }

    /// `127.0.0.1:PORT`, for raw TCP.
    pub fn socket_address(&self) -> &str {
        self.address.trim_start_matches("http://")
    }

    /// Another organization with its own admin, in the same database.
    pub async fn create_org(&self, name: &str, admin_email: &str) -> Credentials {
        bootstrap::create_org(&self.state.db, &self.state.tokens, name, admin_email)
            .await
            .expect("create org")
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
        if let Some(database) = self.postgres.take() {
            database.drop_blocking();
        }
        let violations = self
            .violations
            .lock()
            .map(|v| v.clone())
            .unwrap_or_default();
        if !violations.is_empty() && !std::thread::panicking() {
            panic!(
                "responses that the spec does not describe:\n{}",
                violations.join("\n")
            );
        }
    }
}

fn host_and_port(url: &str) -> String {
    let url = url::Url::parse(url).expect("a PostgreSQL URL");
    let host = url.host_str().expect("a host");
    format!("{host}:{}", url.port().unwrap_or(5432))
}

/// Checks the final response (after the envelope middleware) against the spec.
async fn check_contract<E: Endpoint>(
    next: Arc<E>,
    req: Request,
    violations: Arc<Mutex<Vec<String>>>,
) -> poem::Result<Response> {
    let method = req.method().to_string();
    let path = req.uri().path().to_owned();
    let response = next.call(req).await?.into_response();
    let (parts, body) = response.into_parts();
    let bytes = body.into_vec().await.unwrap_or_default();
    let status = parts.status;
    let content_type = parts
        .headers
        .get("content-type")
        .and_then(|v| v.to_str().ok());
    // Undocumented paths (docs, the spec itself, unknown routes), methods a path does not
    // have (405) and CORS preflights are outside the spec; their envelopes are asserted by the
    // tests themselves.
    if CONTRACT.documents_path(&path)
        && status != StatusCode::METHOD_NOT_ALLOWED
        && method != "OPTIONS"
        && let Err(problem) = CONTRACT.check(&method, &path, status.as_u16(), content_type, &bytes)
    {
        let mut violations = violations.lock().expect("violations lock");
        violations.push(format!("{method} {path}: {problem}"));
    }
    Ok(Response::from_parts(parts, Body::from(bytes)))
}

/// A PostgreSQL database made for one test.
pub struct TestDatabase {
    server: String,
    name: String,
    pub url: String,
}

impl TestDatabase {
    pub async fn create(server: &str) -> Self {
        use diesel_async::{AsyncConnection, AsyncPgConnection, SimpleAsyncConnection};
        let name = format!("users_api_test_{}", uuid::Uuid::new_v4().simple());
        let mut conn = AsyncPgConnection::establish(server)
            .await
            .expect("TEST_DATABASE_URL connects");
        conn.batch_execute(&format!("CREATE DATABASE {name}"))
            .await
            .expect("create test database");
        let mut url = url::Url::parse(server).expect("TEST_DATABASE_URL is a URL");
        url.set_path(&format!("/{name}"));
        Self {
            server: server.to_owned(),
            name,
            url: url.to_string(),
        }
    }

    /// Drops the database from a thread of its own: `Drop` cannot await.
    pub fn drop_blocking(self) {
        let _ = std::thread::spawn(move || {
            use diesel_async::{AsyncConnection, AsyncPgConnection, SimpleAsyncConnection};
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()?;
            runtime.block_on(async {
                if let Ok(mut conn) = AsyncPgConnection::establish(&self.server).await {
                    let sql = format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name);
                    let _ = conn.batch_execute(&sql).await;
                }
            });
            Ok::<_, std::io::Error>(())
        })
        .join();
    }
}

/// Runs `$body` with `$conn` bound to a raw diesel connection to a `Db` of either backend
/// (reads; writes go through `Db::execute_script`), for tests that look at rows as stored.
macro_rules! on_db {
    ($db:expr, |$conn:ident| $body:expr) => {
        match $db.pools() {
            users_api::db::Pools::Postgres(pool) => {
                let mut guard = pool.get().await.expect("a connection");
                let $conn = &mut **guard;
                $body
            }
            users_api::db::Pools::Sqlite { read, .. } => {
                let mut guard = read.get().await.expect("a connection");
                let $conn = &mut **guard;
                $body
            }
        }
    };
}
pub(crate) use on_db;

/// `url` as `--database-url` takes it.
pub fn database_url_arg(url: &DatabaseUrl) -> String {
    match url {
        DatabaseUrl::Postgres(url) => url.clone(),
        DatabaseUrl::Sqlite(path) => format!("sqlite://{path}"),
    }
}
