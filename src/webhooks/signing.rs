//! Signing per the Standard Webhooks specification: a secret is `whsec_` and the standard
//! base64 of 32 random bytes; a delivery's `webhook-signature` is `v1,` and the standard base64
//! of HMAC-SHA256, keyed with the secret's bytes, over `{webhook-id}.{webhook-timestamp}.{body}`.
//! During a rotation the header carries one such signature per live secret, separated by
//! spaces, so a consumer holding either secret verifies the delivery.

use base64::{Engine, engine::general_purpose::STANDARD};
use hmac::{Hmac, Mac};
use rand::RngCore;
use sha2::Sha256;

/// What every secret starts with.
pub const SECRET_PREFIX: &str = "whsec_";
/// Random bytes in a new secret (the specification allows 24 to 64).
const SECRET_BYTES: usize = 32;

/// A new signing secret, `whsec_…`.
pub fn new_secret() -> String {
    let mut bytes = [0u8; SECRET_BYTES];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    format!("{SECRET_PREFIX}{}", STANDARD.encode(bytes))
}

/// The key bytes of a `whsec_…` secret; `None` for anything else.
fn key_bytes(secret: &str) -> Option<Vec<u8>> {
    STANDARD.decode(secret.strip_prefix(SECRET_PREFIX)?).ok()
}

/// `v1,<signature>` of one delivery under `secret`; `None` when `secret` is not a `whsec_`
/// secret.
pub fn sign(secret: &str, id: &str, timestamp: i64, body: &str) -> Option<String> {
    let key = key_bytes(secret)?;
    let mut mac = Hmac::<Sha256>::new_from_slice(&key).expect("HMAC takes a key of any length");
    mac.update(format!("{id}.{timestamp}.").as_bytes());
    mac.update(body.as_bytes());
    Some(format!(
        "v1,{}",
        STANDARD.encode(mac.finalize().into_bytes())
    ))
}

/// The `webhook-signature` value: one signature per secret, space-separated, in the order
/// given (the current secret first).
pub fn signature_header<'a>(
    secrets: impl IntoIterator<Item = &'a str>,
    id: &str,
    timestamp: i64,
    body: &str,
) -> String {
    secrets
        .into_iter()
        .filter_map(|secret| sign(secret, id, timestamp, body))
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The example of the Standard Webhooks specification's reference libraries.
    #[test]
    fn signs_the_specifications_example() {
        let secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
        let id = "msg_p5jXN8AQM9LWM0D4loKWxJek";
        let body = r#"{"test": 2432232314}"#;
        assert_eq!(
            sign(secret, id, 1614265330, body).as_deref(),
            Some("v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=")
        );
    }

    #[test]
    fn new_secrets_are_whsec_and_32_random_bytes() {
        let secret = new_secret();
        assert_eq!(key_bytes(&secret).map(|k| k.len()), Some(32));
        assert_ne!(secret, new_secret());
        assert_eq!(sign("not-a-secret", "id", 1, "{}"), None);
    }

    #[test]
    fn the_header_carries_one_signature_per_secret() {
        let (a, b) = (new_secret(), new_secret());
        let header = signature_header([a.as_str(), b.as_str()], "id", 7, "{}");
        let parts: Vec<&str> = header.split(' ').collect();
        assert_eq!(parts.len(), 2);
        assert_eq!(Some(parts[0].to_owned()), sign(&a, "id", 7, "{}"));
        assert_eq!(Some(parts[1].to_owned()), sign(&b, "id", 7, "{}"));
    }
}
