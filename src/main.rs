//! The `users-api` binary: serve (default), migrate, or run an admin task.

use std::process::ExitCode;

use clap::Parser;
use users_api::{
    auth::reseal::{self, Reseal},
    bootstrap,
    config::{AdminCommand, Cli, Command},
    db::{DatabaseUrl, Db, migrate},
    server, telemetry,
};

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    telemetry::init(cli.config.log_format);
    match run(cli).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("users-api: {error}");
            ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> Result<(), String> {
    let config = cli.config;
    match cli.command.unwrap_or(Command::Serve) {
        Command::Serve => server::run(&config).await,
        Command::Migrate => {
            let url = DatabaseUrl::parse(&config.database_url)?;
            migrate(&url, config.database_timeouts())
                .await
                .map_err(|e| e.to_string())?;
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
                    Some(field) => format!("{}: {}", field.field, field.message),
                    None => e.message,
                })?;
            if json {
                println!(
                    "{}",
                    serde_json::to_string(&created).map_err(|e| e.to_string())?
                );
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
            let url = DatabaseUrl::parse(&config.database_url)?;
            let db = Db::connect(&url, config.database_timeouts())
                .await
                .map_err(|e| e.to_string())?;
            let keys = reseal::open_keys(
                &db,
                &config.secrets_key_file,
                config.previous_secrets_key_file.as_deref(),
            )
            .await?;
            let done = reseal::reseal(&db, &keys, Reseal::NotCurrent).await?;
            println!(
                "re-encrypted {} TOTP secrets under key {}",
                done.changed,
                keys.current_id()
            );
            match done.failed {
                0 => Ok(()),
                failed => Err(format!(
                    "{failed} TOTP secrets did not decrypt and were left as they were \
                     (their user ids are logged)"
                )),
            }
        }
    }
}
