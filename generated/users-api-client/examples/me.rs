//! Read the current user, then change their time zone only if nobody changed the profile since.
//!
//! ```sh
//! USERS_API_URL=http://127.0.0.1:8080 USERS_API_TOKEN=<session token> \
//!   cargo run -p users-api-client --example me
//! ```

use users_api_client::{ApiError, MePatch, Patch, with_bearer_token};

#[tokio::main]
async fn main() -> Result<(), ApiError> {
    let url = std::env::var("USERS_API_URL").unwrap_or_else(|_| "http://127.0.0.1:8080".into());
    let token = std::env::var("USERS_API_TOKEN").expect("set USERS_API_TOKEN to a session token");
    let client = with_bearer_token(&url, &token)?;

    let me = client.get_me().send().await?;
    let etag = me.headers()["etag"].to_str().unwrap_or_default().to_owned();
    println!(
        "{} <{}>",
        me.data.id,
        me.data.primary_email.as_deref().unwrap_or("-")
    );

    let patch = MePatch {
        timezone: Patch::Value("Europe/Paris".into()),
        ..Default::default()
    };
    let updated = client.patch_me().if_match(etag).body(patch).send().await?;
    println!("time zone: {:?}", updated.data.timezone);
    Ok(())
}
