//! Rust client for users-api. `generated.rs` is produced by `cargo xtask client generate` from
//! `spec/openapi.json` (never edit it); this file adds what progenitor cannot: a constructor that
//! takes a bearer credential, and `Patch<T>` for PATCH fields where absent and `null` differ.

// Kept exactly as generated: `cargo xtask client check` compares it byte for byte.
#[rustfmt::skip]
#[allow(clippy::all, clippy::pedantic, unused, missing_docs)]
mod generated;

pub use generated::*;

use std::time::Duration;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A client that sends `Authorization: Bearer <token>` on every request: a session token or an
/// API key (`uak_…`).
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

/// One field of a PATCH body: left out (`Absent`, the default: unchanged), sent as `null`
/// (`Null`: cleared) or sent with a value.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum Patch<T> {
    #[default]
    Absent,
    Null,
    Value(T),
}

impl<T> Patch<T> {
    pub fn is_absent(&self) -> bool {
        matches!(self, Patch::Absent)
    }

    /// `Some(v)` sets, `None` clears.
    pub fn from_option(value: Option<T>) -> Self {
        value.map_or(Patch::Null, Patch::Value)
    }
}

impl<T> From<T> for Patch<T> {
    fn from(value: T) -> Self {
        Patch::Value(value)
    }
}

impl<T: Serialize> Serialize for Patch<T> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Patch::Value(value) => value.serialize(serializer),
            Patch::Absent | Patch::Null => serializer.serialize_none(),
        }
    }
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Patch<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Ok(Patch::from_option(Option::deserialize(deserializer)?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Serialize, Deserialize, Default, Debug, PartialEq)]
    struct Body {
        #[serde(default, skip_serializing_if = "Patch::is_absent")]
        f: Patch<String>,
    }

    #[test]
    fn absent_null_and_value_serialise_distinctly() {
        let json = |f| serde_json::to_string(&Body { f }).unwrap();
        assert_eq!(json(Patch::Absent), "{}");
        assert_eq!(json(Patch::Null), r#"{"f":null}"#);
        assert_eq!(json(Patch::Value("x".into())), r#"{"f":"x"}"#);
    }

    #[test]
    fn absent_null_and_value_deserialise_distinctly() {
        let body = |s| serde_json::from_str::<Body>(s).unwrap().f;
        assert_eq!(body("{}"), Patch::Absent);
        assert_eq!(body(r#"{"f":null}"#), Patch::Null);
        assert_eq!(body(r#"{"f":"x"}"#), Patch::Value("x".into()));
    }

    #[test]
    fn a_client_refuses_a_token_that_cannot_be_a_header() {
        assert!(with_bearer_token("http://127.0.0.1:1", "bad\ntoken").is_err());
        assert!(with_bearer_token("http://127.0.0.1:1", "uak_fine").is_ok());
    }
}
