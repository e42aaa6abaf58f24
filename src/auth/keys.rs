//! The Ed25519 key that signs session tokens: loaded from a PKCS#8 PEM file, or generated into
//! that file (mode 0600) on first start. Its public half is what `/.well-known/jwks.json` shows.

use std::path::Path;

use anyhow::{Context, Result};
use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use ed25519_dalek::{
    SigningKey,
    pkcs8::{DecodePrivateKey, EncodePrivateKey, spki::der::pem::LineEnding},
};
use jsonwebtoken::{DecodingKey, EncodingKey};
use sha2::{Digest, Sha256};

pub struct SigningKeys {
    /// Key id: the first 16 hex digits of the SHA-256 of the public key.
    pub kid: String,
    /// The public key, base64url (the JWK `x`).
    pub public_x: String,
    pub encoding: EncodingKey,
    pub decoding: DecodingKey,
}

impl SigningKeys {
    pub fn load_or_create(path: &Path) -> Result<Self> {
        let pem = if path.exists() {
            std::fs::read_to_string(path)
                .with_context(|| format!("cannot read signing key {}", path.display()))?
        } else {
            let pem = generate_pem()?;
            write_private(path, &pem)?;
            tracing::info!(path = %path.display(), "generated a new token signing key");
            pem
        };
        Self::from_pem(&pem).with_context(|| format!("signing key {}", path.display()))
    }

    pub fn from_pem(pem: &str) -> Result<Self> {
        let signing = SigningKey::from_pkcs8_pem(pem)
            .map_err(anyhow::Error::msg)
            .context("not an Ed25519 PKCS#8 PEM private key")?;
        let public = signing.verifying_key().to_bytes();
        let encoding = EncodingKey::from_ed_pem(pem.as_bytes())?;
        let public_x = URL_SAFE_NO_PAD.encode(public);
        let decoding = DecodingKey::from_ed_components(&public_x)?;
        let kid = hex::encode(&Sha256::digest(public)[..8]);
        Ok(Self {
            kid,
            public_x,
            encoding,
            decoding,
        })
    }
}

fn generate_pem() -> Result<String> {
    let signing = SigningKey::generate(&mut rand::rngs::OsRng);
    let pem = signing
        .to_pkcs8_pem(LineEnding::LF)
        .map_err(anyhow::Error::msg)
        .context("cannot encode the signing key")?;
    Ok(pem.to_string())
}

/// Writes a new private key file, mode 0600 whatever the umask, creating its directory; never
/// overwrites one (the signing key and `auth::secrets`' data-encryption key both use this).
pub(super) fn write_private(path: &Path, pem: &str) -> Result<()> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    }
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options
        .open(path)
        .with_context(|| format!("cannot create {}", path.display()))?;
    std::io::Write::write_all(&mut file, pem.as_bytes())
        .with_context(|| format!("cannot write {}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_generated_key_round_trips_through_its_pem_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("nested/key.pem");
        let created = SigningKeys::load_or_create(&path).unwrap();
        let loaded = SigningKeys::load_or_create(&path).unwrap();
        assert_eq!(created.kid, loaded.kid);
        assert_eq!(created.public_x, loaded.public_x);
        assert_eq!(created.public_x.len(), 43);
    }

    #[test]
    fn a_file_that_is_not_an_ed25519_key_is_refused() {
        assert!(
            SigningKeys::from_pem("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n")
                .is_err()
        );
    }
}
