//! The `users-api` binary: serve (default), migrate, or run an admin task.

use std::process::ExitCode;

use anyhow::{Result, anyhow, bail};
use clap::Parser;
use users_api::{
    auth::reseal::{self, OpenedKeys, Reseal},
    bootstrap,
    config::{AdminCommand, Cli, Command},
    db::{DatabaseUrl, migrate},
    server, telemetry,
};

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    telemetry::init(cli.config.log_format);
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
    let config = cli.config;
    match cli.command.unwrap_or(Command::Serve) {
        Command::Serve => server::run(&config).await,
        Command::Migrate => {
            let url = DatabaseUrl::parse(&config.database_url).map_err(anyhow::Error::msg)?;
            migrate(&url, config.database_timeouts()).await?;
            println!("migrations applied");
            Ok(())
        }
        Command::Admin(AdminCommand::CreateOrg {
            name,
            admin_email,
            json,
        }) => {
            let state = server::state(&config).await?;
            let created = bootstrap::create_org(&state.db, &state.tokens, &name, &admin_email)
                .await
                .map_err(|e| match e.fields.first() {
                    Some(field) => anyhow!("{}: {}", field.field, field.message),
                    None => anyhow!(e.message),
                })?;
            if json {
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
        Command::Admin(AdminCommand::RotateSecrets) => {
            let (db, OpenedKeys { keys, .. }) = server::open_database(&config).await?;
            let done = reseal::reseal(&db, &keys, Reseal::NotCurrent).await?;
            println!(
                "re-encrypted {} TOTP secrets under key {}",
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
