//! Start-up: connect and migrate, load the secrets and signing keys (encrypting TOTP secrets
//! still stored in plaintext), start the retention sweeper, the webhook dispatcher and the
//! mail dispatcher (when a mailer is configured), bind, serve until SIGTERM/Ctrl-C,
//! then drain in-flight requests. The server keeps no state outside the database. The
//! connection handling itself (deadlines, the connection cap, shutdown) is in `http`.

mod descriptors;
mod http;

use std::{net::SocketAddr, sync::Arc};

use anyhow::{Context, Result, anyhow, bail};
use tokio::net::TcpListener;

use crate::{
    api::{self, EdgeOptions, TrustedProxies},
    auth::{
        SecretKeys, SigningKeys, TokenSettings, Tokens, fleet,
        reseal::{self, OpenedKeys, Reseal},
        throttle::SignInLimits,
    },
    bootstrap,
    config::{Config, DatabaseArgs, SecretsArgs, TokenArgs},
    db::{DatabaseUrl, Db, orgs, signing_keys::Publication},
    mail::{self, MailSettings, Mailer, TransportSettings},
    state::AppState,
    sweeper, webhooks,
};

/// Connects to the database, applying migrations.
pub async fn connect(database: &DatabaseArgs) -> Result<Db> {
    let url = DatabaseUrl::parse(&database.database_url).map_err(anyhow::Error::msg)?;
    Ok(Db::connect(&url, database.timeouts()).await?)
}

/// Connects to the database (applying migrations) and loads or creates the secrets keys,
/// checked against the secrets it stores: what serving and `admin rotate-secrets` both need.
pub async fn open_database(
    database: &DatabaseArgs,
    secrets: &SecretsArgs,
) -> Result<(Db, OpenedKeys)> {
    let db = connect(database).await?;
    let secrets = reseal::open_keys(
        &db,
        &secrets.secrets_key_file,
        secrets.previous_secrets_key_file.as_deref(),
    )
    .await?;
    Ok((db, secrets))
}

/// Loads or creates the signing key, with the token settings.
pub fn tokens(args: &TokenArgs) -> Result<Tokens> {
    let keys = SigningKeys::load_or_create(&args.signing_key_file)?;
    let settings = TokenSettings {
        issuer: args.issuer.clone(),
        audience: args.audience.clone(),
        lifetime: args.token_ttl,
    };
    Ok(Tokens::new(keys, settings))
}

/// Publishes this instance's signing key in the database's registry (`auth::fleet`), so that its
/// tokens verify on every instance; refuses a retired key.
pub async fn publish_signing_key(db: &Db, tokens: &Tokens, args: &TokenArgs) -> Result<()> {
    let publication = tokens
        .publish(db)
        .await
        .map_err(|e| anyhow!(e.message))
        .context("cannot publish the signing key")?;
    if publication == Publication::Retired {
        bail!(
            "the signing key {} in {} was retired (users-api admin signing-keys): move that \
             file away to have a new key generated, or give --signing-key-file another key",
            tokens.keys().kid,
            args.signing_key_file.display()
        );
    }
    Ok(())
}

/// The signing keys, token settings and sign-in limits of `config`, around an opened database.
fn app_state(config: &Config, db: Db, secrets: SecretKeys) -> Result<AppState> {
    let mut tokens = tokens(&config.tokens)?;
    if let Some(path) = &config.previous_signing_key_file {
        let pem = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read previous signing key {}", path.display()))?;
        let previous = SigningKeys::from_pem(&pem)
            .with_context(|| format!("previous signing key {}", path.display()))?;
        tokens = tokens.with_previous(previous);
    }
    let limits = SignInLimits {
        per_account: config.sign_in_limit_per_account,
        per_address: config.sign_in_limit_per_address,
    };
    Ok(AppState::new(db, tokens, secrets, limits))
}

pub use http::{ConnectionLimits, serve};

pub async fn bind(addr: &str) -> Result<(TcpListener, SocketAddr)> {
    let listener = TcpListener::bind(addr)
        .await
        .with_context(|| format!("cannot listen on {addr}"))?;
    let local = listener
        .local_addr()
        .with_context(|| format!("no local address for {addr}"))?;
    Ok((listener, local))
}

/// The connection limits from the configuration; fails when `--max-connections` leaves no
/// descriptors for the database.
pub fn connection_limits(config: &Config) -> Result<ConnectionLimits> {
    Ok(ConnectionLimits {
        header_read_timeout: config.header_read_timeout,
        keep_alive_timeout: config.keep_alive_timeout,
        max_connections: descriptors::connection_cap(config.max_connections)?,
        shutdown_timeout: config.shutdown_timeout,
    })
}

/// `users-api` / `users-api serve`.
pub async fn run(config: &Config) -> Result<()> {
    let limits = connection_limits(config)?;
    let (db, secrets) = open_database(&config.database, &config.secrets).await?;
    if secrets.plaintext_stored {
        let sealed = reseal::reseal(&db, &secrets.keys, Reseal::Plaintext).await?;
        if sealed.changed > 0 {
            tracing::info!(
                count = sealed.changed,
                "encrypted TOTP secrets stored in plaintext"
            );
        }
    }
    let mut state = app_state(config, db, secrets.keys)?;
    state.allow_private_webhook_urls = config.webhooks.webhooks_allow_private_urls;
    state.redirect_origins = config.redirect_origins.clone();
    state.lockout = crate::db::lockout::Lockout {
        threshold: config.lockout_threshold,
        duration: chrono::TimeDelta::from_std(config.lockout_duration)
            .unwrap_or(chrono::TimeDelta::MAX),
    };
    state.reauth_window =
        chrono::TimeDelta::from_std(config.reauth_window).unwrap_or(chrono::TimeDelta::MAX);
    publish_signing_key(&state.db, &state.tokens, &config.tokens).await?;
    fleet::spawn_refresh(state.db.clone(), state.tokens.clone());
    let (listener, local) = bind(&config.addr).await?;
    let orgs = orgs::count(&state.db)
        .await
        .map_err(|e| anyhow!(e.message))
        .context("cannot count the organizations")?;
    let demo_run = !config.no_demo
        && (orgs == 0
            || orgs::find(&state.db, &bootstrap::DEMO_ORG_ID.into())
                .await
                .is_ok());
    match (orgs, config.no_demo) {
        (0, false) => {
            let password = bootstrap::DemoPassword::for_listener(local);
            let demo = bootstrap::create_demo_org(&state.db, &state.tokens, password)
                .await
                .map_err(|e| anyhow!(e.message))
                .context("cannot create the demo organization")?;
            print_demo_banner(local, &demo, password);
        }
        (0, true) => println!("\n{}\n", bootstrap::empty_database_hint()),
        _ => println!("\n{}\n", bootstrap::restart_hint()),
    }
    let retention = sweeper::Retention {
        sessions: config.session_retention,
        events: config.event_retention,
        ..sweeper::Retention::default()
    };
    sweeper::spawn(state.db.clone(), retention, config.sweep_interval);
    // Stops with the process; every delivery state is in the database.
    let _dispatcher = webhooks::spawn(
        state.db.clone(),
        state.secrets.clone(),
        config.webhooks.settings(),
    );
    let _mail_dispatcher = match config
        .mail
        .resolve(demo_run, url::Url::parse(&format!("http://{local}/")).ok())?
    {
        Some(settings) => {
            let settings = Arc::new(settings);
            log_mailer(&settings);
            state.mailer = Some(Mailer::new(settings.clone()));
            Some(mail::spawn(
                state.db.clone(),
                state.secrets.clone(),
                settings,
            )?)
        }
        None => {
            tracing::info!("no mailer: operations that send mail answer 503 MAILER_NOT_CONFIGURED");
            None
        }
    };
    let shutdown = shutdown_signal();
    tracing::info!(
        addr = %local,
        docs = %format!("http://{local}/docs/"),
        max_connections = limits.max_connections,
        "listening"
    );
    let edge = EdgeOptions {
        cors_origins: config.cors_origins.clone(),
        body_read_timeout: config.body_read_timeout,
        trusted_proxies: TrustedProxies::new(config.trusted_proxies.clone()),
    };
    serve(listener, api::app(state, edge), limits, shutdown)
        .await
        .with_context(|| format!("serving on {local}"))
}

/// Says at start where mail goes (never the SMTP password).
fn log_mailer(settings: &MailSettings) {
    let overridden: Vec<String> = settings
        .templates
        .overridden
        .iter()
        .map(|path| path.display().to_string())
        .collect();
    match &settings.transport {
        TransportSettings::Console => tracing::info!(
            from = %settings.from,
            templates_overridden = ?overridden,
            "mailer: console (messages are printed to stdout, not sent)"
        ),
        TransportSettings::Smtp(smtp) => {
            let mut shown = smtp.url.clone();
            let _ = shown.set_password(None);
            tracing::info!(
                smtp = %shown,
                from = %settings.from,
                templates_overridden = ?overridden,
                "mailer: smtp"
            );
        }
    }
}

fn print_demo_banner(
    addr: SocketAddr,
    demo: &bootstrap::Credentials,
    kind: bootstrap::DemoPassword,
) {
    let shown = match kind {
        bootstrap::DemoPassword::WellKnown => {
            "token and key shown once; the password is the spec's sign-in example, as this \
             server listens on loopback only: behind a proxy, start with --no-demo"
        }
        bootstrap::DemoPassword::Random => "shown once; only hashes are stored",
    };
    println!(
        "\nCreated the demo organization ({shown}).\n\
         \n  Swagger UI:    http://{addr}/docs/  → Authorize → paste a credential\
         \n  organization:  {org}\
         \n  admin e-mail:  {email}\
         \n  password:      {password}\
         \n  session token: {token}\
         \n  API key:       {key}\
         \n\n  curl -H 'Authorization: Bearer {token}' http://{addr}/v1/me\
         \n  sign in again: POST /v1/sessions {{\"org_id\": \"{org}\", \"email\": \"{email}\", \"password\": \"{password}\"}}\n",
        org = demo.org_id,
        email = demo.admin_email,
        password = demo.admin_password,
        token = demo.session_token,
        key = demo.api_key,
    );
}

/// Resolves on SIGTERM or Ctrl-C. The handlers are registered now, before the server says it
/// listens, so a signal sent right after start-up is never lost to the default action.
fn shutdown_signal() -> impl Future<Output = ()> + Send + 'static {
    #[cfg(unix)]
    let mut terminate =
        tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok();
    #[cfg(unix)]
    let mut interrupt =
        tokio::signal::unix::signal(tokio::signal::unix::SignalKind::interrupt()).ok();
    async move {
        #[cfg(unix)]
        {
            let recv = |signal: Option<tokio::signal::unix::Signal>| async move {
                match signal {
                    Some(mut signal) => {
                        signal.recv().await;
                    }
                    None => std::future::pending::<()>().await,
                }
            };
            tokio::select! {
                () = recv(terminate.take()) => {},
                () = recv(interrupt.take()) => {},
            }
        }
        #[cfg(not(unix))]
        let _ = tokio::signal::ctrl_c().await;
    }
}
