//! Who is calling: session tokens (EdDSA JWTs that users-api signs, backed by a live session row)
//! and API keys (opaque secrets stored only as SHA-256). `authenticate` turns a bearer credential
//! into a `Principal` or a 401 that never says which check failed, and marks the session
//! active (at most once a minute). Sign-in's parts live beside it: `password`, `totp`, `throttle`;
//! `secrets` and `reseal` keep TOTP secrets encrypted at rest.

pub mod access;
pub mod fleet;
pub mod keys;
pub mod password;
pub mod recovery;
pub mod reseal;
pub mod secrets;
pub mod sign_in;
pub mod throttle;
pub mod totp;

use std::{collections::HashMap, sync::Mutex, time::Duration};

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use chrono::{NaiveDateTime, Utc};
use jsonwebtoken::{Algorithm, Header, Validation};
use rand::RngCore;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::{
    db::{
        Db, api_keys,
        me::{self, MeRows},
        models::{ApiKey, Session, User},
        sessions,
        signing_keys::{self, Publication},
    },
    domain::{ApiKeyId, OrgId, Scope, SessionId, UserId, UserStatus},
    error::ApiError,
};
pub use access::{Caller, Principal};
pub use keys::SigningKeys;
pub use secrets::SecretKeys;

/// API key secrets start with this, so they are recognisable in logs, configs and secret scanners.
pub const API_KEY_PREFIX: &str = "uak_";

/// One-time ticket tokens start with this (a `random_secret`, like API keys).
pub const TICKET_PREFIX: &str = "tkt_";

/// Whether `token` has the shape of a ticket token: `tkt_` and 43 base64url characters.
pub fn is_ticket_token(token: &str) -> bool {
    token.strip_prefix(TICKET_PREFIX).is_some_and(|rest| {
        rest.len() == 43
            && rest
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    })
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Claims {
    pub iss: String,
    pub aud: String,
    /// User id.
    pub sub: UserId,
    /// Session id.
    pub sid: SessionId,
    /// Organization id.
    pub org: OrgId,
    pub iat: i64,
    pub exp: i64,
}

pub struct TokenSettings {
    pub issuer: String,
    pub audience: String,
    pub lifetime: Duration,
}

/// Signs and verifies session tokens. The algorithm is pinned to EdDSA: a token with any other
/// `alg`, `none` included, is refused before its claims are read.
pub struct Tokens {
    keys: SigningKeys,
    /// Keys of an earlier rotation: they still verify, they never sign.
    previous: Vec<SigningKeys>,
    /// The other instances' keys, from the database's registry.
    fleet: fleet::FleetKeys,
    settings: TokenSettings,
    validation: Validation,
    verified: VerifiedTokens,
}

/// Tokens whose signature and claims already checked out, keyed by their exact bytes, so a
/// client that sends the same token on every request pays for one Ed25519 verification (about
/// a quarter of a `GET /v1/me`) once per process rather than once per request. Only what
/// `verify` accepted goes in, it is emptied whenever the fleet's set of keys changes (a key
/// retired), and `exp` is checked again on every hit; the session row is still read on every request, so a revoked
/// session answers 401 from the next request on. Bounded: when full it is emptied and refills.
struct VerifiedTokens {
    entries: Mutex<HashMap<Box<str>, Claims>>,
}

const VERIFIED_TOKENS_MAX: usize = 4096;

impl VerifiedTokens {
    fn get(&self, token: &str) -> Option<Claims> {
        let entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        let claims = entries.get(token)?;
        // The same rule as `Validation` with no leeway: expired once `exp` is in the past.
        let now = jsonwebtoken::get_current_timestamp();
        (u64::try_from(claims.exp).is_ok_and(|exp| exp >= now)).then(|| claims.clone())
    }

    fn clear(&self) {
        self.entries
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clear();
    }

    fn insert(&self, token: &str, claims: &Claims) {
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        if entries.len() >= VERIFIED_TOKENS_MAX {
            entries.clear();
        }
        entries.insert(token.into(), claims.clone());
    }
}

impl Tokens {
    pub fn new(keys: SigningKeys, settings: TokenSettings) -> Self {
        let mut validation = Validation::new(Algorithm::EdDSA);
        validation.set_issuer(&[&settings.issuer]);
        validation.set_audience(&[&settings.audience]);
        validation.set_required_spec_claims(&["iss", "aud", "sub", "exp"]);
        validation.leeway = 0;
        Self {
            keys,
            previous: Vec::new(),
            fleet: fleet::FleetKeys::default(),
            settings,
            validation,
            verified: VerifiedTokens {
                entries: Mutex::new(HashMap::new()),
            },
        }
    }

    /// Adds a key of an earlier rotation: tokens it signed keep verifying (by their `kid`)
    /// until they expire, and `/.well-known/jwks.json` keeps publishing it.
    pub fn with_previous(mut self, keys: SigningKeys) -> Self {
        if keys.kid != self.keys.kid {
            self.previous.push(keys);
        }
        self
    }

    /// Every key that verifies tokens, as `(kid, public key)`: the signing key first, then
    /// earlier ones, then the rest of the fleet's.
    pub fn verifying_keys(&self) -> Vec<(String, String)> {
        let local = std::iter::once(&self.keys).chain(&self.previous);
        let mut keys: Vec<_> = local.map(|k| (k.kid.clone(), k.public_x.clone())).collect();
        let mut fleet: Vec<_> = self
            .fleet
            .all()
            .iter()
            .map(|(kid, key)| (kid.clone(), key.public_x.clone()))
            .collect();
        fleet.sort();
        for key in fleet {
            if !keys.iter().any(|(kid, _)| *kid == key.0) {
                keys.push(key);
            }
        }
        keys
    }

    /// Publishes this instance's signing key in the database's registry and reads the fleet's
    /// keys; says whether the key was retired (then this instance must not sign with it).
    pub async fn publish(&self, db: &Db) -> Result<Publication, ApiError> {
        let publication = signing_keys::publish(db, &self.keys.kid, &self.keys.public_x).await?;
        self.refresh(db).await?;
        Ok(publication)
    }

    /// Reads the fleet's keys again (`fleet::REFRESH_EVERY`), forgetting retired ones.
    pub async fn refresh(&self, db: &Db) -> Result<(), ApiError> {
        if self.fleet.refresh(db).await? {
            self.verified.clear();
        }
        Ok(())
    }

    pub fn lifetime(&self) -> Duration {
        self.settings.lifetime
    }

    pub fn keys(&self) -> &SigningKeys {
        &self.keys
    }

    pub fn issue(&self, session: &Session, org_id: &OrgId) -> Result<String, ApiError> {
        let claims = Claims {
            iss: self.settings.issuer.clone(),
            aud: self.settings.audience.clone(),
            sub: session.user_id,
            sid: session.id,
            org: *org_id,
            iat: session.created_at.and_utc().timestamp(),
            exp: session.expires_at.and_utc().timestamp(),
        };
        let mut header = Header::new(Algorithm::EdDSA);
        header.kid = Some(self.keys.kid.clone());
        jsonwebtoken::encode(&header, &claims, &self.keys.encoding).map_err(ApiError::internal)
    }

    /// The claims of `token` if a key this instance knows signed it and they are valid.
    pub fn verify(&self, token: &str) -> Option<Claims> {
        if let Some(claims) = self.verified.get(token) {
            return Some(claims);
        }
        let kid = jsonwebtoken::decode_header(token).ok()?.kid;
        let fleet_key;
        let decoding = match kid {
            None => &self.keys.decoding,
            Some(kid) => match std::iter::once(&self.keys)
                .chain(&self.previous)
                .find(|keys| keys.kid == kid)
            {
                Some(keys) => &keys.decoding,
                None => {
                    fleet_key = self.fleet.get(&kid)?;
                    &fleet_key.decoding
                }
            },
        };
        let claims = jsonwebtoken::decode::<Claims>(token, decoding, &self.validation)
            .map(|data| data.claims)
            .ok()?;
        self.verified.insert(token, &claims);
        Some(claims)
    }

    /// `verify`, reading the fleet's registry first when the token names a key this instance
    /// does not know yet (one started since the last read).
    pub async fn verify_in_fleet(&self, db: &Db, token: &str) -> Result<Option<Claims>, ApiError> {
        let asked_at = std::time::Instant::now();
        if let Some(claims) = self.verify(token) {
            return Ok(Some(claims));
        }
        let Some(kid) = jsonwebtoken::decode_header(token).ok().and_then(|h| h.kid) else {
            return Ok(None);
        };
        if self.verifying_keys().iter().any(|(known, _)| *known == kid) {
            return Ok(None);
        }
        if self.fleet.refresh_for_unknown_key(db, asked_at).await? {
            self.verified.clear();
        }
        Ok(self.verify(token))
    }
}

/// A new session row for `user_id`, live for the configured lifetime.
pub fn new_session(user_id: &UserId, lifetime: Duration) -> Session {
    let now = crate::db::now();
    let lifetime = chrono::Duration::from_std(lifetime).unwrap_or(chrono::Duration::days(1));
    Session {
        id: SessionId::new(),
        user_id: *user_id,
        created_at: now,
        expires_at: now + lifetime,
        revoked_at: None,
        last_active_at: now,
        authenticated_at: now,
        amr: "pwd".into(),
        client_address: None,
        user_agent: None,
    }
}

/// How much of a `User-Agent` a session keeps, in characters.
pub const USER_AGENT_MAX: usize = 512;

/// `user_agent` as a session keeps it: as sent, cut to `USER_AGENT_MAX` characters; `None`
/// when empty.
pub fn kept_user_agent(user_agent: &str) -> Option<String> {
    let kept: String = user_agent.chars().take(USER_AGENT_MAX).collect();
    (!kept.is_empty()).then_some(kept)
}

/// A new bearer secret: `prefix` and 256 random bits, base64url (43 characters). Shown once;
/// only its `hash_secret` is stored (API keys, one-time tickets).
pub fn random_secret(prefix: &str) -> String {
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    format!("{prefix}{}", URL_SAFE_NO_PAD.encode(bytes))
}

/// A new API key secret and its row. The secret is returned once and only its hash is stored.
pub fn new_api_key(org_id: &OrgId, name: &str, scopes: &[Scope]) -> (String, ApiKey) {
    let secret = random_secret(API_KEY_PREFIX);
    let row = ApiKey {
        id: ApiKeyId::new(),
        org_id: *org_id,
        name: name.to_owned(),
        secret_hash: hash_secret(&secret),
        scopes: Scope::to_stored(scopes),
        created_at: crate::db::now(),
        last_used_at: None,
        revoked_at: None,
        expires_at: None,
        previous_secret_hash: None,
        previous_secret_expires_at: None,
    };
    (secret, row)
}

/// A 6-digit code to type by hand (a mailed `verify_email` ticket's), uniformly drawn.
pub fn new_code() -> String {
    use rand::Rng;
    format!("{:06}", rand::rngs::OsRng.gen_range(0..1_000_000u32))
}

/// How a typed code is stored: bound to its ticket (`ticket_id` salts it), so a code matches
/// only the ticket it was mailed with. Six digits are few: what protects them is that a ticket
/// takes `db::tickets::MAX_CODE_ATTEMPTS` wrong codes and then ends, and that only its user,
/// signed in, may try one.
pub fn hash_code(ticket_id: &str, code: &str) -> String {
    hex::encode(Sha256::digest(format!("{ticket_id}:{code}").as_bytes()))
}

/// `random_secret`s carry 256 random bits, so a fast hash is enough (no salt or KDF needed).
pub fn hash_secret(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

/// `authenticate` for `/v1/me`: a session token's session, user, organization and the rest of
/// the Me payload, read on one pooled connection. An API key is authenticated as usual and then
/// refused (403), exactly as `authenticate(…)?.into_user()` does.
pub async fn authenticate_me(
    db: &Db,
    tokens: &Tokens,
    bearer: &str,
) -> Result<(User, Session, MeRows), ApiError> {
    if bearer.starts_with(API_KEY_PREFIX) {
        let principal = authenticate(db, tokens, bearer).await?;
        return match principal.into_user() {
            Err(error) => Err(error),
            Ok(_) => Err(ApiError::internal("an api key authenticated as a user")),
        };
    }
    let claims = tokens
        .verify_in_fleet(db, bearer)
        .await?
        .ok_or_else(ApiError::unauthorized)?;
    let now: NaiveDateTime = Utc::now().naive_utc();
    let (mut session, mut user, rows) = me::load_with_session(db, &claims.sid, &claims.sub, now)
        .await?
        .ok_or_else(ApiError::unauthorized)?;
    if user.status_at(now) != UserStatus::Active || user.org_id != claims.org {
        return Err(ApiError::unauthorized());
    }
    mark_active(db, &mut session, &mut user, now).await?;
    Ok((user, session, rows))
}

pub async fn authenticate(db: &Db, tokens: &Tokens, bearer: &str) -> Result<Principal, ApiError> {
    if bearer.starts_with(API_KEY_PREFIX) {
        let now = Utc::now().naive_utc();
        let mut key = api_keys::find_by_secret_hash(db, &hash_secret(bearer), now)
            .await?
            .ok_or_else(ApiError::unauthorized)?;
        api_keys::mark_used(db, &mut key, now).await?;
        return Ok(Principal::ApiKey(key));
    }
    let claims = tokens
        .verify_in_fleet(db, bearer)
        .await?
        .ok_or_else(ApiError::unauthorized)?;
    let now: NaiveDateTime = Utc::now().naive_utc();
    let (mut session, mut user) = sessions::find_live(db, &claims.sid, &claims.sub, now)
        .await?
        .ok_or_else(ApiError::unauthorized)?;
    if user.status_at(now) != UserStatus::Active || user.org_id != claims.org {
        return Err(ApiError::unauthorized());
    }
    mark_active(db, &mut session, &mut user, now).await?;
    Ok(Principal::User {
        user: Box::new(user),
        session,
    })
}

/// Authenticated use marks the session and its user active, at most once a minute per session.
async fn mark_active(
    db: &Db,
    session: &mut Session,
    user: &mut User,
    now: NaiveDateTime,
) -> Result<(), ApiError> {
    if sessions::activity_is_stale(session, now) {
        let now = crate::db::now();
        sessions::mark_active(db, &session.id, &user.id, now).await?;
        session.last_active_at = now;
        user.last_active_at = Some(now);
    }
    Ok(())
}
