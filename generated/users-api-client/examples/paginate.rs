//! Every user of the organization, page by page, as one stream.
//!
//! ```sh
//! USERS_API_URL=http://127.0.0.1:8080 USERS_API_TOKEN=uak_… \
//!   cargo run -p users-api-client --example paginate -- [prefix]
//! ```

use users_api_client::{ApiError, TryStreamExt, with_bearer_token};

#[tokio::main]
async fn main() -> Result<(), ApiError> {
    let url = std::env::var("USERS_API_URL").unwrap_or_else(|_| "http://127.0.0.1:8080".into());
    let token = std::env::var("USERS_API_TOKEN").expect("set USERS_API_TOKEN to an API key");
    let admin = with_bearer_token(&url, &token)?;
    let prefix = std::env::args().nth(1);

    let mut users = admin.all_users(prefix.as_deref());
    let mut count = 0;
    while let Some(user) = users.try_next().await? {
        count += 1;
        println!(
            "{} {}",
            user.id,
            user.primary_email.as_deref().unwrap_or("-")
        );
    }
    println!("{count} users");
    Ok(())
}
