//! TOTP (RFC 6238) as authenticator apps compute it: HMAC-SHA1, 6 digits, 30-second steps, one
//! step of clock skew either way. `check` returns the step a code matched, so the caller can
//! accept each step once (`db::credentials::consume_totp_step`): a code seen once is refused
//! for the rest of its window. Secrets are stored sealed (`auth::secrets`), never as they are.

use base64::{
    Engine,
    alphabet::STANDARD,
    engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig},
};
use totp_rs::{Algorithm, Builder};

use crate::{domain::Invalid, error::ErrorCode};

/// RFC 4226 asks for at least 128 bits; 160 are recommended.
pub const MIN_SECRET_BYTES: usize = 16;
pub const MAX_SECRET_BYTES: usize = 128;
pub const STEP_SECONDS: u64 = 30;

/// Standard base64, padded or not.
const BASE64: GeneralPurpose = GeneralPurpose::new(
    &STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// A TOTP secret: 16–128 random bytes. Stored sealed (`auth::secrets`); never returned.
/// `Debug` hides it.
#[derive(Clone, PartialEq, Eq)]
pub struct TotpSecret(Vec<u8>);

impl std::fmt::Debug for TotpSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TotpSecret(…)")
    }
}

impl TotpSecret {
    /// The secret as sent in `totp_secret_base64`.
    pub fn parse(base64: &str) -> Result<Self, Invalid> {
        let bytes = BASE64.decode(base64.trim()).map_err(|_| {
            Invalid::new(
                ErrorCode::InvalidTotpSecret,
                "must be standard base64 of the secret's bytes",
            )
        })?;
        Self::from_bytes(bytes)
    }

    /// The secret's bytes, as an authenticator holds them.
    pub fn from_bytes(bytes: Vec<u8>) -> Result<Self, Invalid> {
        let invalid = |reason: &str| Invalid::new(ErrorCode::InvalidTotpSecret, reason);
        if bytes.len() < MIN_SECRET_BYTES {
            return Err(invalid("must be at least 128 bits (16 bytes)"));
        }
        if bytes.len() > MAX_SECRET_BYTES {
            return Err(invalid("must be at most 1,024 bits (128 bytes)"));
        }
        Ok(Self(bytes))
    }

    /// The secret's bytes, for sealing (`auth::secrets`) and nothing else.
    pub(crate) fn bytes(&self) -> &[u8] {
        &self.0
    }

    /// The time step `code` is valid for at `unix_seconds` (± one step), if any.
    pub fn check(&self, code: &str, unix_seconds: u64) -> Option<i64> {
        if code.len() != 6 || !code.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        let totp = Builder::new()
            .with_algorithm(Algorithm::SHA1)
            .with_digits(6)
            .with_skew(1)
            .with_step_duration(STEP_SECONDS)
            .with_secret(self.0.clone())
            .build()
            .ok()?;
        totp.check(code, unix_seconds)
            .and_then(|step| i64::try_from(step).ok())
    }
}

pub fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 6238 appendix B: the SHA-1 secret is the ASCII "12345678901234567890".
    const RFC_SECRET: &str = "MTIzNDU2Nzg5MDEyMzQ1Njc4OTA=";

    #[test]
    fn codes_match_the_rfc_6238_test_vectors_with_one_step_of_skew() {
        let secret = TotpSecret::parse(RFC_SECRET).unwrap();
        // T = 59 s → 94287082 in 8 digits, so 287082 in 6.
        assert_eq!(secret.check("287082", 59), Some(1));
        // T = 1111111109 → 07081804 → 081804.
        assert_eq!(secret.check("081804", 1_111_111_109), Some(37_037_036));
        // The previous and the next step are accepted; two steps away is not.
        assert_eq!(secret.check("081804", 1_111_111_109 + 30), Some(37_037_036));
        assert_eq!(secret.check("081804", 1_111_111_109 + 61), None);
        assert_eq!(secret.check("081805", 1_111_111_109), None);
        assert_eq!(secret.check("81804", 1_111_111_109), None);
        assert_eq!(secret.check("０８１８０４", 1_111_111_109), None);
    }

    #[test]
    fn secrets_need_128_bits_of_standard_base64() {
        assert!(TotpSecret::parse("MTIzNDU2Nzg5MDEyMzQ1Njc4OTA").is_ok());
        for bad in ["", "not base64!", "AAAAAAAAAAAAAAAAAAAA", &"A".repeat(200)] {
            assert_eq!(
                TotpSecret::parse(bad).map(|_| ()).map_err(|e| e.code),
                Err(ErrorCode::InvalidTotpSecret),
                "{bad}"
            );
        }
        let secret = TotpSecret::parse("MTIzNDU2Nzg5MDEyMzQ1Njc4OTA").unwrap();
        assert_eq!(secret, TotpSecret::parse(RFC_SECRET).unwrap());
        assert_eq!(secret.bytes(), b"12345678901234567890");
    }
}
