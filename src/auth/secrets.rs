//! Secrets at rest: TOTP secrets are stored sealed with XChaCha20-Poly1305 under a 256-bit
//! data-encryption key kept in a file beside the signing key (`--secrets-key-file`, generated
//! mode 0600 on first start). A sealed value reads `v1.<key id>.<nonce>.<ciphertext>`: the key id
//! is 16 hex digits derived from the key, nonce and ciphertext are base64url without padding.
//! The user id is the associated data, so a value copied to another user's row does not open.
//!
//! During a rotation a previous key (`--previous-secrets-key-file`) still opens what it sealed;
//! new values are always sealed under the current key, and `reseal` re-encrypts stored ones.
//! Values stored before encryption existed (plain base64) are still read, and sealed by
//! `reseal(Reseal::Plaintext)` at start.
//!
//! Never log or return a secret; a value that does not open is logged (user id and reason
//! only) and treated by callers as a wrong code.

use std::{fmt, path::Path};

use anyhow::{Context, Result};
use base64::{
    Engine,
    engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD},
};
use chacha20poly1305::{
    AeadCore, KeyInit, XChaCha20Poly1305, XNonce,
    aead::{Aead, OsRng, Payload, rand_core::RngCore},
};
use sha2::{Digest, Sha256};

use super::{keys::write_private, totp::TotpSecret};
use crate::domain::{MailId, UserId, WebhookEndpointId};

/// The version tag that starts every sealed value. Plain base64 never contains a `.`, so a
/// value that starts with it is never mistaken for a secret stored in plaintext.
const FORMAT: &str = "v1";
const KEY_BYTES: usize = 32;

/// One data-encryption key and its id.
pub struct SecretKey {
    id: String,
    cipher: XChaCha20Poly1305,
}

impl SecretKey {
    /// The key in `path` (32 bytes, standard base64), or a new one written there (0600) when
    /// the file does not exist.
    pub fn load_or_create(path: &Path) -> Result<Self> {
        if path.exists() {
            return Self::load(path);
        }
        let mut bytes = [0u8; KEY_BYTES];
        OsRng.fill_bytes(&mut bytes);
        write_private(path, &format!("{}\n", STANDARD.encode(bytes)))?;
        tracing::info!(path = %path.display(), "generated a new secrets encryption key");
        Ok(Self::from_bytes(&bytes))
    }

    /// The key in `path`, which must exist.
    pub fn load(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read secrets key {}", path.display()))?;
        Self::parse(&text).with_context(|| {
            format!(
                "secrets key {}: not 32 bytes of standard base64 (make one with \
                 `head -c 32 /dev/urandom | base64`)",
                path.display()
            )
        })
    }

    fn parse(text: &str) -> Option<Self> {
        let bytes = STANDARD.decode(text.trim()).ok()?;
        let bytes: [u8; KEY_BYTES] = bytes.try_into().ok()?;
        Some(Self::from_bytes(&bytes))
    }

    fn from_bytes(bytes: &[u8; KEY_BYTES]) -> Self {
        let digest = Sha256::new()
            .chain_update(b"users-api secrets key id\0")
            .chain_update(bytes)
            .finalize();
        Self {
            id: hex::encode(&digest[..8]),
            cipher: XChaCha20Poly1305::new(bytes.into()),
        }
    }

    pub fn id(&self) -> &str {
        &self.id
    }
}

/// Why a stored value did not open. Says nothing about the secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OpenError {
    /// Sealed under a key that is neither the current nor the previous one.
    UnknownKey(String),
    /// Not a sealed value, nor a secret stored in plaintext.
    Malformed,
    /// The key is known but authentication failed: tampered, or copied from another row.
    Forged,
}

impl fmt::Display for OpenError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::UnknownKey(id) => write!(f, "sealed under unknown key {id}"),
            Self::Malformed => f.write_str("malformed"),
            Self::Forged => {
                f.write_str("does not authenticate (tampered, or copied from another user)")
            }
        }
    }
}

/// The current key, which seals, and optionally the previous one, which only opens.
pub struct SecretKeys {
    current: SecretKey,
    previous: Option<SecretKey>,
}

impl SecretKeys {
    pub fn new(current: SecretKey, previous: Option<SecretKey>) -> Self {
        Self { current, previous }
    }

    pub fn current_id(&self) -> &str {
        self.current.id()
    }

    /// The previous key's id, when there is one (a rotation in progress).
    pub fn previous_id(&self) -> Option<&str> {
        self.previous.as_ref().map(SecretKey::id)
    }

    /// Whether `key_id` is the current or the previous key.
    pub fn knows(&self, key_id: &str) -> bool {
        self.key(key_id).is_some()
    }

    fn key(&self, key_id: &str) -> Option<&SecretKey> {
        std::iter::once(&self.current)
            .chain(&self.previous)
            .find(|key| key.id == key_id)
    }

    /// `secret` sealed under the current key for the row of `user_id`.
    pub fn seal(&self, user_id: &UserId, secret: &TotpSecret) -> String {
        self.seal_bytes(&associated_data(user_id), secret.bytes())
    }

    /// The secret stored in the row of `user_id`: sealed by `seal`, or in plaintext (as stored
    /// before encryption).
    pub fn open(&self, user_id: &UserId, stored: &str) -> Result<TotpSecret, OpenError> {
        let Some(sealed) = sealed_part(stored) else {
            return TotpSecret::parse(stored).map_err(|_| OpenError::Malformed);
        };
        let bytes = self.open_bytes(&associated_data(user_id), sealed)?;
        TotpSecret::from_bytes(bytes).map_err(|_| OpenError::Malformed)
    }

    /// A webhook endpoint's signing secret (`whsec_…`) sealed under the current key for the
    /// endpoint's row.
    pub fn seal_webhook_secret(&self, endpoint_id: &WebhookEndpointId, secret: &str) -> String {
        self.seal_bytes(&webhook_associated_data(endpoint_id), secret.as_bytes())
    }

    /// The signing secret stored (sealed by `seal_webhook_secret`) in the row of `endpoint_id`.
    pub fn open_webhook_secret(
        &self,
        endpoint_id: &WebhookEndpointId,
        stored: &str,
    ) -> Result<String, OpenError> {
        let sealed = sealed_part(stored).ok_or(OpenError::Malformed)?;
        let bytes = self.open_bytes(&webhook_associated_data(endpoint_id), sealed)?;
        String::from_utf8(bytes).map_err(|_| OpenError::Malformed)
    }

    /// A queued message's secrets (its link and code, as JSON) sealed under the current key
    /// for the outbox row of `mail_id`.
    pub fn seal_mail_secrets(&self, mail_id: &MailId, secrets: &str) -> String {
        self.seal_bytes(&mail_associated_data(mail_id), secrets.as_bytes())
    }

    /// The secrets stored (sealed by `seal_mail_secrets`) in the outbox row of `mail_id`.
    pub fn open_mail_secrets(&self, mail_id: &MailId, stored: &str) -> Result<String, OpenError> {
        let sealed = sealed_part(stored).ok_or(OpenError::Malformed)?;
        let bytes = self.open_bytes(&mail_associated_data(mail_id), sealed)?;
        String::from_utf8(bytes).map_err(|_| OpenError::Malformed)
    }

    /// `msg` sealed under the current key, bound to `aad`: `v1.<key id>.<nonce>.<ciphertext>`.
    fn seal_bytes(&self, aad: &[u8], msg: &[u8]) -> String {
        let nonce = XChaCha20Poly1305::generate_nonce(&mut OsRng);
        let ciphertext = self
            .current
            .cipher
            .encrypt(&nonce, Payload { msg, aad })
            .expect("XChaCha20-Poly1305 seals any message under 256 GiB");
        format!(
            "{FORMAT}.{}.{}.{}",
            self.current.id,
            URL_SAFE_NO_PAD.encode(nonce),
            URL_SAFE_NO_PAD.encode(ciphertext)
        )
    }

    /// The bytes `seal_bytes` sealed with `aad`, from `sealed` (its value after `v1.`).
    fn open_bytes(&self, aad: &[u8], sealed: &str) -> Result<Vec<u8>, OpenError> {
        let mut parts = sealed.split('.');
        let (Some(key_id), Some(nonce), Some(ciphertext), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(OpenError::Malformed);
        };
        let key = self
            .key(key_id)
            .ok_or_else(|| OpenError::UnknownKey(key_id.to_owned()))?;
        let nonce: [u8; 24] = URL_SAFE_NO_PAD
            .decode(nonce)
            .ok()
            .and_then(|n| n.try_into().ok())
            .ok_or(OpenError::Malformed)?;
        let ciphertext = URL_SAFE_NO_PAD
            .decode(ciphertext)
            .map_err(|_| OpenError::Malformed)?;
        key.cipher
            .decrypt(
                &XNonce::from(nonce),
                Payload {
                    msg: &ciphertext,
                    aad,
                },
            )
            .map_err(|_| OpenError::Forged)
    }

    /// The step `code` is valid for at `unix_seconds` under the secret stored for `user_id`.
    /// A value that does not open is logged as an error and matches no code.
    pub fn check_totp(
        &self,
        user_id: &UserId,
        stored: &str,
        code: &str,
        unix_seconds: u64,
    ) -> Option<i64> {
        match self.open(user_id, stored) {
            Ok(secret) => secret.check(code, unix_seconds),
            Err(reason) => {
                tracing::error!(%user_id, %reason, "the stored TOTP secret does not open: its codes are refused");
                None
            }
        }
    }
}

/// The key id of a stored value, `None` for a secret stored in plaintext.
pub fn key_id_of(stored: &str) -> Option<&str> {
    stored
        .strip_prefix(FORMAT)?
        .strip_prefix('.')?
        .split('.')
        .next()
}

/// The start of every value sealed under `key_id` (and of every sealed value with `None`), as
/// a SQL `LIKE` pattern matches it.
pub fn sealed_prefix(key_id: Option<&str>) -> String {
    match key_id {
        Some(id) => format!("{FORMAT}.{id}."),
        None => format!("{FORMAT}."),
    }
}

/// The part of a stored value after `v1.`, if it is sealed.
fn sealed_part(stored: &str) -> Option<&str> {
    stored
        .strip_prefix(FORMAT)
        .and_then(|s| s.strip_prefix('.'))
}

/// A webhook secret's associated data: its endpoint's row, its column and this format.
fn webhook_associated_data(endpoint_id: &WebhookEndpointId) -> Vec<u8> {
    format!("users-api webhook_endpoints.secret {FORMAT} {endpoint_id}").into_bytes()
}

/// A queued message's associated data: its outbox row, its column and this format.
fn mail_associated_data(mail_id: &MailId) -> Vec<u8> {
    format!("users-api mail_outbox.secrets {FORMAT} {mail_id}").into_bytes()
}

/// The associated data binds a value to its row, its column and this format.
fn associated_data(user_id: &UserId) -> Vec<u8> {
    format!("users-api users.totp_secret {FORMAT} {user_id}").into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(byte: u8) -> SecretKey {
        SecretKey::from_bytes(&[byte; KEY_BYTES])
    }

    fn user(n: u128) -> UserId {
        uuid::Uuid::from_u128(n).into()
    }

    fn secret() -> TotpSecret {
        TotpSecret::parse("MTIzNDU2Nzg5MDEyMzQ1Njc4OTA=").unwrap()
    }

    #[test]
    fn a_sealed_secret_opens_for_its_own_row_only() {
        let keys = SecretKeys::new(key(1), None);
        let sealed = keys.seal(&user(1), &secret());
        assert!(
            sealed.starts_with(&format!("v1.{}.", keys.current_id())),
            "{sealed}"
        );
        assert!(!sealed.contains("MTIzNDU2"), "{sealed}");
        assert_eq!(keys.open(&user(1), &sealed), Ok(secret()));
        assert_eq!(keys.open(&user(2), &sealed), Err(OpenError::Forged));
        assert_ne!(
            sealed,
            keys.seal(&user(1), &secret()),
            "a fresh nonce each time"
        );
    }

    #[test]
    fn a_tampered_or_malformed_value_does_not_open() {
        let keys = SecretKeys::new(key(1), None);
        let sealed = keys.seal(&user(1), &secret());
        let mut tampered = sealed.clone().into_bytes();
        let last = tampered.len() - 1;
        tampered[last] = if tampered[last] == b'A' { b'B' } else { b'A' };
        let tampered = String::from_utf8(tampered).unwrap();
        assert_eq!(keys.open(&user(1), &tampered), Err(OpenError::Forged));
        for bad in ["v1.", "v1.x.y", "v1.a.b.c.d", "not base64!", ""] {
            assert!(keys.open(&user(1), bad).is_err(), "{bad}");
        }
        let other = format!("v1.0123456789abcdef.{}", &sealed[20..]);
        assert_eq!(
            keys.open(&user(1), &other),
            Err(OpenError::UnknownKey("0123456789abcdef".into()))
        );
    }

    #[test]
    fn the_previous_key_opens_what_it_sealed_and_never_seals() {
        let old = SecretKeys::new(key(1), None);
        let sealed_by_old = old.seal(&user(1), &secret());
        let rotated = SecretKeys::new(key(2), Some(key(1)));
        assert_eq!(rotated.open(&user(1), &sealed_by_old), Ok(secret()));
        assert_eq!(
            key_id_of(&rotated.seal(&user(1), &secret())),
            Some(rotated.current_id())
        );
        let new_only = SecretKeys::new(key(2), None);
        assert!(matches!(
            new_only.open(&user(1), &sealed_by_old),
            Err(OpenError::UnknownKey(_))
        ));
    }

    #[test]
    fn a_sealed_webhook_secret_opens_for_its_own_endpoint_only() {
        let keys = SecretKeys::new(key(1), None);
        let endpoint = WebhookEndpointId::from(uuid::Uuid::from_u128(1));
        let other = WebhookEndpointId::from(uuid::Uuid::from_u128(2));
        let sealed = keys.seal_webhook_secret(&endpoint, "whsec_c2VjcmV0");
        assert!(!sealed.contains("c2VjcmV0"), "{sealed}");
        assert_eq!(
            keys.open_webhook_secret(&endpoint, &sealed).as_deref(),
            Ok("whsec_c2VjcmV0")
        );
        assert_eq!(
            keys.open_webhook_secret(&other, &sealed),
            Err(OpenError::Forged)
        );
        assert_eq!(
            keys.open_webhook_secret(&endpoint, "whsec_c2VjcmV0"),
            Err(OpenError::Malformed),
            "never read in the clear"
        );
    }

    #[test]
    fn a_secret_stored_in_plaintext_still_opens() {
        let keys = SecretKeys::new(key(1), None);
        assert_eq!(
            keys.open(&user(1), "MTIzNDU2Nzg5MDEyMzQ1Njc4OTA="),
            Ok(secret())
        );
        assert_eq!(key_id_of("MTIzNDU2Nzg5MDEyMzQ1Njc4OTA="), None);
        assert_eq!(
            keys.check_totp(&user(1), "MTIzNDU2Nzg5MDEyMzQ1Njc4OTA=", "287082", 59),
            Some(1)
        );
    }

    #[test]
    fn a_key_file_is_created_0600_and_read_back() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("nested/secrets-key");
        let created = SecretKey::load_or_create(&path).unwrap();
        assert_eq!(SecretKey::load(&path).unwrap().id(), created.id());
        assert_eq!(created.id().len(), 16);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        std::fs::write(&path, "c2hvcnQ=\n").unwrap();
        let error = SecretKey::load(&path).err().unwrap().to_string();
        assert!(error.contains("not 32 bytes"), "{error}");
    }
}
