//! With an API key: create a user (safe to retry, thanks to the idempotency key), suspend them,
//! and show what an error looks like.
//!
//! ```sh
//! USERS_API_URL=http://127.0.0.1:8080 USERS_API_TOKEN=uak_… \
//!   cargo run -p users-api-client --example admin
//! ```

use users_api_client::{ApiError, UserPatch, types::SettableStatus, uuid::Uuid, with_bearer_token};

#[tokio::main]
async fn main() -> Result<(), ApiError> {
    let url = std::env::var("USERS_API_URL").unwrap_or_else(|_| "http://127.0.0.1:8080".into());
    let token = std::env::var("USERS_API_TOKEN").expect("set USERS_API_TOKEN to an API key");
    let admin = with_bearer_token(&url, &token)?;

    let email = format!("ada-{}@example.com", Uuid::new_v4().simple());
    let created = admin
        .create_user()
        .idempotency_key(Uuid::new_v4().to_string())
        // Plain strings: the server checks every rule and names the field it refuses (422).
        .body_map(|user| {
            user.primary_email(Some(email.clone()))
                .display_name(Some("Ada".into()))
        })
        .send()
        .await?;
    println!("created {} <{email}>", created.data.id);

    let suspend = UserPatch {
        status: Some(SettableStatus::Suspended),
        ..Default::default()
    };
    let user = admin
        .patch_user()
        .user_id(created.data.id)
        .body(suspend)
        .send()
        .await?;
    println!("status: {}", user.data.status);

    // Errors are one line: status, code, message, request id.
    if let Err(error) = admin
        .get_user()
        .user_id(Uuid::nil())
        .send()
        .await
        .map_err(ApiError::from)
    {
        println!("as expected: {error}");
    }
    Ok(())
}
