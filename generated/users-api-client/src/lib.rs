//! Rust client for [users-api](https://github.com/users-api/users-api): the current user
//! (`/v1/me`), user administration (`/v1/users`), sessions, teams and API keys.
//!
//! Every operation of the spec is a method on [`Client`] returning a builder; `send()` runs it.
//! Bodies and responses are the [`types`] of the spec. A failed call converts into
//! [`ApiError`] with `?`, whose `code()` is the stable code to branch on.
//!
//! ```no_run
//! use users_api_client::{ApiError, ErrorCode, MePatch, Patch, with_bearer_token};
//!
//! # async fn run() -> Result<(), ApiError> {
//! // A session token (from `sign_in`) or an API key (`uak_…`).
//! let client = with_bearer_token("http://127.0.0.1:8080", "uak_…")?;
//!
//! let me = client.get_me().send().await?;
//! let etag = me.headers()["etag"].to_str().unwrap_or_default().to_owned();
//! println!("signed in as {:?}", me.data.primary_email);
//!
//! // PATCH changes only the fields sent; `Patch::Null` clears one. `If-Match` makes the
//! // change conditional on nobody having changed the profile since it was read.
//! let patch = MePatch {
//!     timezone: Patch::Value("Europe/Paris".into()),
//!     bio: Patch::Null,
//!     ..Default::default()
//! };
//! match client.patch_me().if_match(etag).body(patch).send().await.map_err(ApiError::from) {
//!     Ok(updated) => println!("now in {:?}", updated.data.timezone),
//!     Err(error) if error.code() == Some(&ErrorCode::PreconditionFailed) => println!("changed"),
//!     Err(error) => return Err(error),
//! }
//! # Ok(())
//! # }
//! ```
//!
//! Lists are paginated with `meta.next_cursor`; [`Client::all_users`] and
//! [`Client::all_teams`] read every page as a stream:
//!
//! ```no_run
//! use users_api_client::{TryStreamExt, with_bearer_token};
//!
//! # async fn run() -> Result<(), users_api_client::ApiError> {
//! let admin = with_bearer_token("http://127.0.0.1:8080", "uak_…")?;
//! let mut users = admin.all_users(Some("ada"));
//! while let Some(user) = users.try_next().await? {
//!     println!("{} {:?}", user.id, user.primary_email);
//! }
//! # Ok(())
//! # }
//! ```
//!
//! `generated.rs` is produced by `cargo xtask client generate` from `spec/openapi.json` (never
//! edit it); the other modules add what progenitor cannot: the bearer constructor, `Patch<T>`
//! for PATCH fields where absent and `null` differ, one-line errors and pagination.

// Kept exactly as generated: `cargo xtask client check` compares it byte for byte.
#[rustfmt::skip]
#[allow(clippy::all, clippy::pedantic, unused, missing_docs)]
mod generated;
mod error;
mod pages;
mod patch;

pub use generated::*;

pub use chrono;
pub use error::ApiError;
pub use futures_util::TryStreamExt;
pub use pages::pages;
pub use patch::Patch;
pub use uuid;

use std::time::Duration;

/// A client that sends `Authorization: Bearer <token>` on every request: a session token or an
/// API key (`uak_…`). `https://` URLs work out of the box (rustls, the `rustls` feature).
pub fn with_bearer_token(base_url: &str, token: &str) -> Result<Client, BuildError> {
    let mut value = reqwest::header::HeaderValue::from_str(&format!("Bearer {token}"))
        .map_err(|_| BuildError("the token is not a valid header value".into()))?;
    value.set_sensitive(true);
    let mut headers = reqwest::header::HeaderMap::new();
    headers.insert(reqwest::header::AUTHORIZATION, value);
    let http = reqwest::Client::builder()
        .default_headers(headers)
        .connect_timeout(Duration::from_secs(10))
        .timeout(Duration::from_secs(30))
        .build()
        .map_err(|e| BuildError(e.to_string()))?;
    Ok(Client::new_with_client(base_url, http))
}

/// Why a client could not be built.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BuildError(pub String);

impl std::fmt::Display for BuildError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for BuildError {}

impl From<BuildError> for ApiError {
    fn from(error: BuildError) -> Self {
        ApiError::Transport {
            status: None,
            message: error.0,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_client_refuses_a_token_that_cannot_be_a_header() {
        assert!(with_bearer_token("http://127.0.0.1:1", "bad\ntoken").is_err());
        assert!(with_bearer_token("http://127.0.0.1:1", "uak_fine").is_ok());
    }

    /// Without TLS compiled in, reqwest refuses an `https://` URL before connecting (a builder
    /// error); with it, the request gets as far as connecting.
    #[tokio::test]
    async fn https_works_without_opting_in_to_a_tls_feature() {
        let client = with_bearer_token("https://127.0.0.1:1", "uak_fine").unwrap();
        match client.healthz().send().await {
            Err(Error::CommunicationError(e)) => assert!(e.is_connect(), "{e:?}"),
            other => panic!("expected a refused connection, got {other:?}"),
        }
    }
}
