//! The secrets stored sealed (TOTP secrets, webhook signing secrets, queued mail's links and
//! codes) and the keys that open them: `open_keys` loads the keys at start and refuses to run with keys that cannot open what
//! is stored, or with a key other than the one the instances on the database seal with
//! (`db::secrets_key`); `reseal` re-encrypts stored secrets under the current key in bounded
//! batches (TOTP secrets still in plaintext at start; every secret not under the current key for
//! `users-api admin rotate-secrets`).

use std::path::Path;

use anyhow::{Context, Result, anyhow, bail};

use super::secrets::{self, SecretKey, SecretKeys};
use crate::{
    db::{
        Db,
        sealed_secrets::{self, Replacement, SealedColumn},
        secrets_key::{self, Claim},
    },
    domain::{MailId, UserId, WebhookEndpointId},
};

/// Rows read and rewritten per transaction.
const BATCH: i64 = 500;
/// `v1.` plus a 16-digit key id.
const HEAD_LEN: usize = 19;

/// What `open_keys` found.
pub struct OpenedKeys {
    pub keys: SecretKeys,
    /// Some stored secret is still in plaintext (written by a version without encryption): the
    /// same scan that checks the keys tells, so start-up scans again only when there is work.
    pub plaintext_stored: bool,
}

/// The current key from `path` and the previous one from `previous`. The current key is
/// generated when its file is missing, unless the database already holds sealed secrets (a new
/// key would open none of them). Fails, in one line, when a stored secret is sealed under a key
/// that neither file holds: a wrong key file would otherwise refuse every 2FA sign-in; and when
/// the fleet's key (`db::secrets_key`) is another, which `previous` holding it moves to the
/// current key (a rotation).
pub async fn open_keys(db: &Db, path: &Path, previous: Option<&Path>) -> Result<OpenedKeys> {
    let mut heads = Vec::new();
    for column in SealedColumn::ALL {
        let sealed = secrets::sealed_prefix(None);
        let found = sealed_secrets::distinct_heads(db, column, &sealed, HEAD_LEN)
            .await
            .map_err(|e| anyhow!(e.message))
            .with_context(|| format!("cannot read the stored secrets ({column})"))?;
        heads.extend(found);
    }
    let mut in_use: Vec<&str> = heads
        .iter()
        .flatten()
        .filter_map(|head| secrets::key_id_of(head))
        .collect();
    in_use.sort_unstable();
    in_use.dedup();
    let current = match (path.exists(), in_use.is_empty()) {
        (false, false) => bail!(
            "secrets key {} does not exist, but stored secrets are sealed under key {}: \
             restore that key file (--secrets-key-file)",
            path.display(),
            in_use.join(", ")
        ),
        _ => SecretKey::load_or_create(path)?,
    };
    let previous = match previous {
        Some(path) => Some(SecretKey::load(path).context("--previous-secrets-key-file")?),
        None => None,
    };
    let keys = SecretKeys::new(current, previous);
    let unknown: Vec<&str> = in_use.into_iter().filter(|id| !keys.knows(id)).collect();
    if !unknown.is_empty() {
        bail!(
            "stored secrets are sealed under key {}, which neither --secrets-key-file {} \
             (key {}) nor --previous-secrets-key-file holds: a wrong key file?",
            unknown.join(", "),
            path.display(),
            keys.current_id()
        );
    }
    let claim = secrets_key::claim(db, keys.current_id(), keys.previous_id())
        .await
        .map_err(|e| anyhow!(e.message))
        .context("cannot read the fleet's secrets key")?;
    if let Claim::Another(fleet) = claim {
        bail!(
            "the instances on this database seal secrets with key {fleet}, but --secrets-key-file \
             {} holds key {}: give every instance the same key file (to rotate, pass the new \
             key as --secrets-key-file and key {fleet} as --previous-secrets-key-file)",
            path.display(),
            keys.current_id()
        );
    }
    Ok(OpenedKeys {
        keys,
        plaintext_stored: heads.contains(&None),
    })
}

/// Which stored secrets `reseal` re-encrypts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reseal {
    /// Those stored in plaintext by a version without encryption.
    Plaintext,
    /// Every one not sealed under the current key (rotation).
    NotCurrent,
}

/// What `reseal` did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Resealed {
    /// Secrets now sealed under the current key that were not before.
    pub changed: u64,
    /// Secrets that did not open (each logged with its user id); left as they were.
    pub failed: u64,
}

/// Re-encrypts the stored secrets that `which` names under the current key, `BATCH` rows per
/// transaction, column by column. Safe to run from several processes at once: a row is
/// replaced only if it still holds the value that was read.
pub async fn reseal(db: &Db, keys: &SecretKeys, which: Reseal) -> Result<Resealed> {
    let skip = match which {
        Reseal::Plaintext => secrets::sealed_prefix(None),
        Reseal::NotCurrent => secrets::sealed_prefix(Some(keys.current_id())),
    };
    let mut done = Resealed::default();
    for column in SealedColumn::ALL {
        let mut after: Option<String> = None;
        loop {
            let page =
                sealed_secrets::page_without_prefix(db, column, after.as_deref(), &skip, BATCH)
                    .await
                    .map_err(|e| anyhow!(e.message))
                    .with_context(|| format!("cannot read the stored secrets ({column})"))?;
            let mut replacements = Vec::with_capacity(page.len());
            for stored in &page {
                match resealed(keys, column, &stored.id, &stored.value) {
                    Ok(new) => replacements.push(Replacement {
                        id: stored.id.clone(),
                        old: stored.value.clone(),
                        new,
                    }),
                    Err(reason) => {
                        tracing::error!(%column, id = %stored.id, %reason, "a stored secret does not open: left as it is");
                        done.failed += 1;
                    }
                }
            }
            done.changed += sealed_secrets::replace(db, column, &replacements)
                .await
                .map_err(|e| anyhow!(e.message))
                .with_context(|| format!("cannot re-encrypt the stored secrets ({column})"))?;
            match page.last() {
                Some(last) if page.len() as i64 == BATCH => after = Some(last.id.clone()),
                _ => break,
            }
        }
    }
    Ok(done)
}

/// `stored`, the value of `column` in row `id`, opened and sealed again under the current key.
fn resealed(keys: &SecretKeys, column: SealedColumn, id: &str, stored: &str) -> Result<String> {
    match column {
        SealedColumn::TotpSecret => {
            let user_id: UserId = id.parse()?;
            let secret = keys.open(&user_id, stored).map_err(|e| anyhow!("{e}"))?;
            Ok(keys.seal(&user_id, &secret))
        }
        SealedColumn::WebhookSecret | SealedColumn::WebhookPreviousSecret => {
            let endpoint_id: WebhookEndpointId = id.parse()?;
            let secret = keys
                .open_webhook_secret(&endpoint_id, stored)
                .map_err(|e| anyhow!("{e}"))?;
            Ok(keys.seal_webhook_secret(&endpoint_id, &secret))
        }
        SealedColumn::MailSecrets => {
            let mail_id: MailId = id.parse()?;
            let secrets = keys
                .open_mail_secrets(&mail_id, stored)
                .map_err(|e| anyhow!("{e}"))?;
            Ok(keys.seal_mail_secrets(&mail_id, &secrets))
        }
    }
}
