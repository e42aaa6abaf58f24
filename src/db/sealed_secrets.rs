//! The secrets sealed at rest, column by column, for `auth::reseal`: which keys seal them, and
//! replacing them in batches. Values are opaque here: nothing here seals or opens one.

use diesel::{
    prelude::*,
    sql_types::{BigInt, Nullable, Text},
};
use diesel_async::RunQueryDsl;

use super::Db;
use crate::error::ApiError;

/// A column that holds sealed secrets, keyed by its row's `id`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SealedColumn {
    /// `users.totp_secret`: TOTP secrets (in plaintext when written by a version before
    /// encryption).
    TotpSecret,
    /// `webhook_endpoints.secret`: the signing secret.
    WebhookSecret,
    /// `webhook_endpoints.previous_secret`: the signing secret before a rotation, for 24 h.
    WebhookPreviousSecret,
    /// `mail_outbox.secrets`: a queued message's link and code, until it is sent.
    MailSecrets,
}

impl SealedColumn {
    pub const ALL: [SealedColumn; 4] = [
        Self::TotpSecret,
        Self::WebhookSecret,
        Self::WebhookPreviousSecret,
        Self::MailSecrets,
    ];

    /// (table, column).
    fn parts(self) -> (&'static str, &'static str) {
        match self {
            Self::TotpSecret => ("users", "totp_secret"),
            Self::WebhookSecret => ("webhook_endpoints", "secret"),
            Self::WebhookPreviousSecret => ("webhook_endpoints", "previous_secret"),
            Self::MailSecrets => ("mail_outbox", "secrets"),
        }
    }
}

impl std::fmt::Display for SealedColumn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let (table, column) = self.parts();
        std::write!(f, "{table}.{column}")
    }
}

#[derive(QueryableByName)]
struct Head {
    #[diesel(sql_type = Nullable<Text>)]
    head: Option<String>,
}

/// The distinct first `head_len` characters of the values of `column` that start with
/// `sealed_prefix` (`None` for any that does not). One scan of the table.
pub async fn distinct_heads(
    db: &Db,
    column: SealedColumn,
    sealed_prefix: &str,
    head_len: usize,
) -> Result<Vec<Option<String>>, ApiError> {
    debug_assert!(!sealed_prefix.contains(['\'', '%', '_']));
    let (table, column) = column.parts();
    let sql = format!(
        "SELECT DISTINCT CASE WHEN {column} LIKE '{sealed_prefix}%' \
         THEN substr({column}, 1, {head_len}) END AS head \
         FROM {table} WHERE {column} IS NOT NULL"
    );
    let heads: Vec<Head> = read!(db, |conn| Ok::<_, ApiError>(
        diesel::sql_query(&sql).load(conn).await?
    ))?;
    Ok(heads.into_iter().map(|h| h.head).collect())
}

/// A row's id and its stored value.
#[derive(Debug, Clone, QueryableByName)]
pub struct Stored {
    #[diesel(sql_type = Text)]
    pub id: String,
    #[diesel(sql_type = Text)]
    pub value: String,
}

/// Up to `limit` rows with ids after `after` (from the first when `None`), by id, whose value
/// of `column` does not start with `prefix`.
pub async fn page_without_prefix(
    db: &Db,
    column: SealedColumn,
    after: Option<&str>,
    prefix: &str,
    limit: i64,
) -> Result<Vec<Stored>, ApiError> {
    let (table, column) = column.parts();
    let [p1, p2, p3] = placeholders(db);
    let sql = format!(
        "SELECT id, {column} AS value FROM {table} \
         WHERE {column} IS NOT NULL AND {column} NOT LIKE {p1} AND id > {p2} \
         ORDER BY id LIMIT {p3}"
    );
    let pattern = format!("{prefix}%");
    let after = after.unwrap_or("").to_owned();
    read!(db, |conn| Ok(diesel::sql_query(&sql)
        .bind::<Text, _>(&pattern)
        .bind::<Text, _>(&after)
        .bind::<BigInt, _>(limit)
        .load(conn)
        .await?))
}

/// A stored value to replace, only if it is still `old` (a row changed meanwhile keeps the
/// change).
pub struct Replacement {
    pub id: String,
    pub old: String,
    pub new: String,
}

/// Applies `replacements` to `column` in one transaction; returns how many rows changed.
/// Nothing else of the row moves (no `version`, no `updated_at`): the secret is the same.
pub async fn replace(
    db: &Db,
    column: SealedColumn,
    replacements: &[Replacement],
) -> Result<u64, ApiError> {
    if replacements.is_empty() {
        return Ok(0);
    }
    let (table, column) = column.parts();
    let [p1, p2, p3] = placeholders(db);
    let sql = format!("UPDATE {table} SET {column} = {p1} WHERE id = {p2} AND {column} = {p3}");
    write!(db, |conn| {
        let mut changed = 0;
        for r in replacements {
            changed += diesel::sql_query(&sql)
                .bind::<Text, _>(&r.new)
                .bind::<Text, _>(&r.id)
                .bind::<Text, _>(&r.old)
                .execute(conn)
                .await?;
        }
        Ok(changed as u64)
    })
}

/// The first three bind placeholders of the backend: PostgreSQL's `$n`, SQLite's `?n`.
fn placeholders(db: &Db) -> [&'static str; 3] {
    match db.pools() {
        super::Pools::Postgres(_) => ["$1", "$2", "$3"],
        super::Pools::Sqlite { .. } => ["?1", "?2", "?3"],
    }
}
