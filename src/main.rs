//! The `users-api` binary: serve (default), migrate, or run an admin task.

use std::process::ExitCode;

use anyhow::{Result, anyhow, bail};
use clap::Parser;
use users_api::{
    auth::reseal::{self, OpenedKeys, Reseal},
    bootstrap,
    config::{AdminCommand, Cli, Command, CreateOrg, DatabaseArgs, ResetPassword},
    db::{self, DatabaseUrl, Db, migrate},
    server, telemetry,
};

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    telemetry::init(cli.log_format);
    match run(cli).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            // One line: the error with the context it went through, outermost first.
            eprintln!("users-api: {error:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> Result<()> {
    match cli.command {
        None => server::run(&cli.config).await,
        Some(Command::Serve(config)) => server::run(&config).await,
        Some(Command::Migrate(database)) => {
            let url = DatabaseUrl::parse(&database.database_url).map_err(anyhow::Error::msg)?;
            migrate(&url, database.timeouts()).await?;
            println!("migrations applied");
            Ok(())
        }
        Some(Command::Admin(AdminCommand::CreateOrg(args))) => create_org(args).await,
        Some(Command::Admin(AdminCommand::ResetPassword(args))) => reset_password(args).await,
        Some(Command::Admin(AdminCommand::SigningKeys { retire, database })) => {
            signing_keys(retire, database).await
        }
        Some(Command::Admin(AdminCommand::RotateSecrets { database, secrets })) => {
            let (db, OpenedKeys { keys, .. }) = server::open_database(&database, &secrets).await?;
            let done = reseal::reseal(&db, &keys, Reseal::NotCurrent).await?;
            println!(
                "re-encrypted {} secrets (TOTP and webhook signing secrets) under key {}",
                done.changed,
                keys.current_id()
            );
            match done.failed {
                0 => Ok(()),
                failed => bail!(
                    "{failed} TOTP secrets did not decrypt and were left as they were \
                     (their user ids are logged)"
                ),
            }
        }
    }
}

/// `admin signing-keys [--retire KID]`: the registry, one key per line (kid, created, retired).
async fn signing_keys(retire: Option<String>, database: DatabaseArgs) -> Result<()> {
    let url = DatabaseUrl::parse(&database.database_url).map_err(anyhow::Error::msg)?;
    let db = Db::connect(&url, database.timeouts()).await?;
    let failed = |e: users_api::error::ApiError| anyhow!(e.message);
    if let Some(kid) = retire {
        if !db::signing_keys::retire(&db, &kid).await.map_err(failed)? {
            bail!("no live signing key {kid} (see users-api admin signing-keys)");
        }
        println!("retired {kid}");
    }
    for key in db::signing_keys::all(&db).await.map_err(failed)? {
        let retired = key
            .retired_at
            .map(|at| format!("  retired {}", at.and_utc()));
        println!(
            "{}  published {}{}",
            key.kid,
            key.created_at.and_utc(),
            retired.unwrap_or_default()
        );
    }
    Ok(())
}

async fn create_org(args: CreateOrg) -> Result<()> {
    let (db, _) = server::open_database(&args.database, &args.secrets).await?;
    let tokens = server::tokens(&args.tokens)?;
    server::publish_signing_key(&db, &tokens, &args.tokens).await?;
    let created = bootstrap::create_org(&db, &tokens, &args.name, &args.admin_email)
        .await
        .map_err(|e| match e.fields.first() {
            Some(field) => anyhow!("{}: {}", field.field, field.message),
            None => anyhow!(e.message),
        })?;
    if args.json {
        println!("{}", serde_json::to_string(&created)?);
    } else {
        println!(
            "organization  {}\nadmin user    {} <{}>\npassword      {}\nsession token {}\nAPI key       {}",
            created.org_id,
            created.user_id,
            created.admin_email,
            created.admin_password,
            created.session_token,
            created.api_key
        );
    }
    Ok(())
}

async fn reset_password(args: ResetPassword) -> Result<()> {
    let db = server::connect(&args.database).await?;
    let reset = bootstrap::reset_password(&db, &args.email, args.org.as_ref()).await?;
    println!(
        "organization  {}\nuser          {} <{}>\npassword      {}\nsessions      {} revoked",
        reset.org_id, reset.user_id, reset.email, reset.password, reset.revoked_sessions
    );
    if reset.totp_enabled {
        println!("note: two-factor authentication is on; signing in also needs a code");
    }
    if !reset.can_sign_in {
        println!(
            "note: this user cannot sign in with a password (suspended, or e-mail sign-in off)"
        );
    }
    Ok(())
}
