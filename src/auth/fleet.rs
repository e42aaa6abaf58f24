//! The other instances' signing keys. Every instance signs with the key in its own key file and
//! publishes the public half in the database (`db::signing_keys`) when it starts; a token
//! signed by any published, unretired key verifies on every instance, and
//! `/.well-known/jwks.json` lists them all. So instances started with different key files (or
//! in different directories, each generating its own) never split the fleet, and rotating a key
//! is starting instances with a new one, then retiring the old (`users-api admin signing-keys`).
//!
//! The registry is read into memory at start and again every `REFRESH_EVERY`, and when a token
//! names a key this instance does not know — at most once per `MIN_REFRESH_GAP`, so tokens with
//! made-up key ids cannot turn into a query each (they wait for the next read instead). A refresh that finds a key retired drops it, so
//! its tokens stop verifying everywhere within `REFRESH_EVERY`.

use std::{
    collections::HashMap,
    sync::{Arc, RwLock},
    time::{Duration, Instant},
};

use jsonwebtoken::DecodingKey;

use crate::{
    db::{Db, signing_keys},
    error::ApiError,
};

/// How often each instance reads the registry anyway (to learn of retired keys).
pub const REFRESH_EVERY: Duration = Duration::from_secs(30);
/// The least time between two reads of the registry for unknown key ids.
const MIN_REFRESH_GAP: Duration = Duration::from_secs(1);

/// A published key, ready to verify with.
pub struct FleetKey {
    pub public_x: String,
    pub decoding: DecodingKey,
}

#[derive(Default)]
pub struct FleetKeys {
    /// Live keys by `kid`.
    keys: RwLock<Arc<HashMap<String, Arc<FleetKey>>>>,
    /// When the registry was last read (`None`: never).
    refreshed_at: RwLock<Option<Instant>>,
    /// One refresh at a time; requests that wait for it use its result.
    refreshing: tokio::sync::Mutex<()>,
}

impl FleetKeys {
    pub fn get(&self, kid: &str) -> Option<Arc<FleetKey>> {
        self.keys
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(kid)
            .cloned()
    }

    /// Every live key, by `kid`.
    pub fn all(&self) -> Arc<HashMap<String, Arc<FleetKey>>> {
        self.keys.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    fn refreshed_at(&self) -> Option<Instant> {
        *self.refreshed_at.read().unwrap_or_else(|e| e.into_inner())
    }

    /// Reads the registry; returns whether the set of live keys changed.
    pub async fn refresh(&self, db: &Db) -> Result<bool, ApiError> {
        let _one_at_a_time = self.refreshing.lock().await;
        self.read_registry(db).await
    }

    /// Reads the registry for a token whose key id is unknown, unless a read that started
    /// after the token arrived (at `asked_at`) has already happened. Reads are at least
    /// `MIN_REFRESH_GAP` apart: a request that comes sooner waits for the next one (holding
    /// the turn, so that the requests queued behind it use that read too). Returns whether the
    /// set of live keys changed.
    pub async fn refresh_for_unknown_key(
        &self,
        db: &Db,
        asked_at: Instant,
    ) -> Result<bool, ApiError> {
        let _one_at_a_time = self.refreshing.lock().await;
        if let Some(at) = self.refreshed_at() {
            if at >= asked_at {
                return Ok(false);
            }
            tokio::time::sleep(MIN_REFRESH_GAP.saturating_sub(at.elapsed())).await;
        }
        self.read_registry(db).await
    }

    async fn read_registry(&self, db: &Db) -> Result<bool, ApiError> {
        let started = Instant::now();
        let current = self.all();
        let mut keys = HashMap::new();
        for row in signing_keys::all(db).await? {
            if row.retired_at.is_some() {
                continue;
            }
            let key = match current.get(&row.kid) {
                Some(known) => known.clone(),
                None => match DecodingKey::from_ed_components(&row.public_x) {
                    Ok(decoding) => Arc::new(FleetKey {
                        public_x: row.public_x,
                        decoding,
                    }),
                    Err(error) => {
                        tracing::error!(kid = %row.kid, %error, "unusable signing key in the registry");
                        continue;
                    }
                },
            };
            keys.insert(row.kid, key);
        }
        let changed = keys.len() != current.len() || keys.keys().any(|k| !current.contains_key(k));
        *self.keys.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(keys);
        *self.refreshed_at.write().unwrap_or_else(|e| e.into_inner()) = Some(started);
        Ok(changed)
    }
}

/// Reads the registry every `REFRESH_EVERY`, for as long as the process runs. A failed read
/// keeps the keys known so far and is retried at the next tick.
pub fn spawn_refresh(db: Db, tokens: Arc<super::Tokens>) {
    tokio::spawn(async move {
        loop {
            tokio::time::sleep(REFRESH_EVERY).await;
            if let Err(error) = tokens.refresh(&db).await {
                tracing::warn!(error = %error.message, "cannot read the signing key registry");
            }
        }
    });
}
