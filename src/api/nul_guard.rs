//! Refuses NUL (U+0000) in every string a request carries, before any handler runs (called by
//! the envelope middleware): in the path,
//! in the query parameters an operation reads, and in every JSON string of the body, object
//! keys included, at any depth (names, passwords). PostgreSQL text cannot hold NUL,
//! and no field of this API means anything with it; checking here, once, means no field can be
//! forgotten and both databases answer alike: 400 `MALFORMED_REQUEST` naming where the NUL was.
//! The metadata objects (`*_metadata` at the top of a body) are free-form, so their schema
//! cannot exclude NUL: their own rules refuse it (422 `INVALID_METADATA`, `domain::Metadata`),
//! like their other rules that JSON Schema cannot state.
//!
//! Other control characters are left to each field's rules (names and bios refuse them): every
//! other character is storable in both databases, and nothing a client sends is logged raw.

use poem::Request;
use serde_json::Value;

use super::routes::RouteTable;
use crate::error::{ApiError, ErrorCode, FieldError};

/// At most this many places are named, so an error never grows with the input.
const MAX_NAMED: usize = 16;
/// Longer keys are cut when they are named.
const MAX_KEY_CHARS: usize = 64;
const REASON: &str = "must not contain NUL (U+0000)";

/// Refuses a request whose path, or a query parameter its operation reads, holds NUL.
pub fn refuse_in_uri(req: &Request, routes: &RouteTable) -> Result<(), ApiError> {
    let mut found = Vec::new();
    // `%00` is the only way a NUL can be in a URI: raw control bytes are refused by the parser.
    if req.uri().path().contains("%00") {
        found.push("path".to_owned());
    }
    if let Some(query) = req.uri().query().filter(|q| q.contains("%00")) {
        let read = routes.query_params(req.method().as_str(), req.uri().path());
        found.extend(
            url::form_urlencoded::parse(query.as_bytes())
                .filter(|(name, value)| value.contains('\0') && read.iter().any(|r| r == name))
                .map(|(name, _)| name.into_owned()),
        );
    }
    refuse(found)
}

/// Refuses a JSON body (already in memory, bounded) with a NUL in any string or key.
pub fn refuse_in_body(body: &[u8]) -> Result<(), ApiError> {
    let mut found = Vec::new();
    if escapes_nul(body)
        && let Ok(json) = serde_json::from_slice::<Value>(body)
    {
        find_nul(&json, "", &mut found);
    }
    refuse(found)
}

fn refuse(mut found: Vec<String>) -> Result<(), ApiError> {
    if found.is_empty() {
        return Ok(());
    }
    found.sort();
    found.truncate(MAX_NAMED);
    let fields = found
        .into_iter()
        .map(|place| FieldError::new(place, ErrorCode::MalformedRequest, REASON))
        .collect();
    Err(ApiError::malformed_fields(
        &format!("strings {REASON}"),
        fields,
    ))
}

/// Whether a JSON text holds the escape `\u0000` (a raw NUL byte is not JSON at all, and the
/// body parser refuses it). A backslash in valid JSON always starts an escape, so skipping two
/// bytes after each one never mistakes `\\u0000` (a backslash, then text) for a NUL.
fn escapes_nul(json: &[u8]) -> bool {
    let mut rest = json;
    while let Some(at) = rest.iter().position(|&b| b == b'\\') {
        if rest[at + 1..].starts_with(b"u0000") {
            return true;
        }
        rest = rest.get(at + 2..).unwrap_or_default();
    }
    false
}

/// Collects the places (`client_metadata.a.b`, `scopes[1]`) of strings holding NUL.
fn find_nul(value: &Value, at: &str, found: &mut Vec<String>) {
    if found.len() >= MAX_NAMED {
        return;
    }
    match value {
        Value::String(text) if text.contains('\0') => found.push(place(at)),
        Value::Array(items) => {
            for (index, item) in items.iter().enumerate() {
                find_nul(item, &format!("{at}[{index}]"), found);
            }
        }
        Value::Object(fields) => {
            for (key, item) in fields {
                let key: String = key.chars().take(MAX_KEY_CHARS).collect();
                let here = match at {
                    "" => key,
                    _ => format!("{at}.{key}"),
                };
                if here.contains('\0') {
                    found.push(place(&here));
                } else if !(at.is_empty() && here.ends_with("_metadata") && item.is_object()) {
                    find_nul(item, &here, found);
                }
            }
        }
        _ => {}
    }
}

/// A place as it can be shown: a NUL in a key is spelled `\u0000`; the whole body is `body`.
fn place(at: &str) -> String {
    match at {
        "" => "body".to_owned(),
        _ => at.replace('\0', "\\u0000"),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn only_a_real_nul_escape_counts() {
        assert!(escapes_nul(br#"{"email": "a\u0000@x.example"}"#));
        assert!(escapes_nul(br#"{"a\u0000": 1}"#));
        assert!(!escapes_nul(br#"{"email": "a\\u0000@x.example"}"#));
        assert!(escapes_nul(br#"{"email": "a\\\u0000"}"#));
        assert!(!escapes_nul(br#"{"email": "a\u0001"}"#));
        assert!(!escapes_nul(br#"{"trailing": "\"#));
    }

    #[test]
    fn every_string_at_any_depth_is_named_keys_included_but_metadata_is_its_own() {
        let body = json!({
            "email": "a\u{0}@x.example",
            "ok": "fine",
            "scopes": [{"k\u{0}": 1}, {"a": ["x", "y\u{0}"]}],
            "client_metadata": {"a": {"b": ["x", "y\u{0}"]}, "k\u{0}": 1},
        });
        let mut found = Vec::new();
        find_nul(&body, "", &mut found);
        found.sort();
        assert_eq!(found, ["email", "scopes[0].k\\u0000", "scopes[1].a[1]"]);
        let mut found = Vec::new();
        find_nul(&json!("\u{0}"), "", &mut found);
        assert_eq!(found, ["body"]);
    }

    #[test]
    fn the_places_named_are_bounded() {
        let many: serde_json::Map<String, Value> = (0..1000)
            .map(|n| (format!("k{n}"), json!("\u{0}")))
            .collect();
        let mut found = Vec::new();
        find_nul(&Value::Object(many), "", &mut found);
        assert_eq!(found.len(), MAX_NAMED);
    }
}
