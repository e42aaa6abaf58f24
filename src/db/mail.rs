//! The mail outbox (`mail_outbox`): `enqueue_mail!` queues a message inside the caller's write
//! transaction; the dispatcher leases due messages (`claim_due`) and, while it holds a lease,
//! deletes the row once sent or given up (`finish`) or schedules the next attempt
//! (`reschedule`). On PostgreSQL `SKIP LOCKED` makes instances claiming at once take disjoint
//! messages; SQLite has one writer.

use chrono::NaiveDateTime;
use diesel::{
    prelude::*,
    sql_types::{BigInt, Text, Timestamp},
};
use diesel_async::RunQueryDsl;

use super::{
    Db, Pools,
    schema::{mail_outbox, organizations},
};
use crate::{
    domain::{MailId, OrgId},
    error::ApiError,
};

/// A queued message as stored; `secrets` is sealed (`auth::secrets`).
#[derive(Debug, Clone, PartialEq, Eq, Queryable, Selectable, Insertable)]
#[diesel(table_name = mail_outbox)]
pub struct QueuedMail {
    pub id: MailId,
    pub org_id: OrgId,
    /// `mail::MailKind`'s name.
    pub kind: String,
    pub recipient: String,
    /// The variables that are not secret, a JSON object of strings.
    pub vars: String,
    /// The link and code, sealed; `None` for a kind with neither.
    pub secrets: Option<String>,
    /// The request that queued it, for the logs.
    pub request_id: Option<String>,
    /// Failed attempts so far.
    pub attempts: i32,
    pub next_attempt_at: NaiveDateTime,
    /// Why the last attempt failed.
    pub last_error: Option<String>,
    pub lease_owner: Option<String>,
    pub lease_expires_at: Option<NaiveDateTime>,
    pub created_at: NaiveDateTime,
}

/// Inside a `write!` body: queues `$mail` (a `&QueuedMail` from `mail::Mailer::prepare`). It
/// is sent after the transaction commits, and never if it rolls back.
macro_rules! enqueue_mail {
    ($conn:ident, $mail:expr) => {{
        let mail: &$crate::db::mail::QueuedMail = $mail;
        diesel::insert_into($crate::db::schema::mail_outbox::table)
            .values(mail)
            .execute($conn)
            .await?;
    }};
}

pub(crate) use enqueue_mail;

/// Queues `mail` in a transaction of its own (a message that goes with no other write).
pub async fn enqueue(db: &Db, mail: &QueuedMail) -> Result<(), ApiError> {
    write!(db, |conn| {
        crate::db::mail::enqueue_mail!(conn, mail);
        Ok(())
    })
}

#[derive(QueryableByName)]
struct Claimed {
    #[diesel(sql_type = Text)]
    id: String,
}

/// Leases up to `limit` messages due at `now` to `owner` until `until`, and returns them with
/// their organization's name. Messages leased by another instance are skipped.
pub async fn claim_due(
    db: &Db,
    owner: &str,
    now: NaiveDateTime,
    until: NaiveDateTime,
    limit: i64,
) -> Result<Vec<(QueuedMail, String)>, ApiError> {
    let (p, lock) = match db.pools() {
        Pools::Postgres(_) => ('$', " FOR UPDATE SKIP LOCKED"),
        Pools::Sqlite { .. } => ('?', ""),
    };
    let sql = format!(
        "UPDATE mail_outbox SET lease_owner = {p}1, lease_expires_at = {p}2 \
         WHERE id IN (SELECT m.id FROM mail_outbox m \
           WHERE m.next_attempt_at <= {p}3 \
           AND (m.lease_expires_at IS NULL OR m.lease_expires_at < {p}3) \
           ORDER BY m.next_attempt_at LIMIT {p}4{lock}) \
         RETURNING id"
    );
    write!(db, |conn| {
        let claimed: Vec<Claimed> = diesel::sql_query(&sql)
            .bind::<Text, _>(owner)
            .bind::<Timestamp, _>(until)
            .bind::<Timestamp, _>(now)
            .bind::<BigInt, _>(limit)
            .load(conn)
            .await?;
        if claimed.is_empty() {
            return Ok(Vec::new());
        }
        let ids: Vec<String> = claimed.into_iter().map(|row| row.id).collect();
        Ok(mail_outbox::table
            .inner_join(organizations::table)
            .filter(mail_outbox::id.eq_any(ids))
            .filter(mail_outbox::lease_owner.eq(owner))
            .order(mail_outbox::next_attempt_at.asc())
            .select((QueuedMail::as_select(), organizations::name))
            .load(conn)
            .await?)
    })
}

/// Deletes the message, sent or given up, if `owner` still holds its lease.
pub async fn finish(db: &Db, id: &MailId, owner: &str) -> Result<(), ApiError> {
    write!(db, |conn| {
        diesel::delete(
            mail_outbox::table
                .filter(mail_outbox::id.eq(id))
                .filter(mail_outbox::lease_owner.eq(owner)),
        )
        .execute(conn)
        .await?;
        Ok(())
    })
}

/// Records a failed attempt and when the next one is due, and gives the lease up.
pub async fn reschedule(
    db: &Db,
    id: &MailId,
    owner: &str,
    attempts: i32,
    next_attempt_at: NaiveDateTime,
    error: &str,
) -> Result<(), ApiError> {
    write!(db, |conn| {
        diesel::update(
            mail_outbox::table
                .filter(mail_outbox::id.eq(id))
                .filter(mail_outbox::lease_owner.eq(owner)),
        )
        .set((
            mail_outbox::attempts.eq(attempts),
            mail_outbox::next_attempt_at.eq(next_attempt_at),
            mail_outbox::last_error.eq(error),
            mail_outbox::lease_owner.eq(None::<String>),
            mail_outbox::lease_expires_at.eq(None::<NaiveDateTime>),
        ))
        .execute(conn)
        .await?;
        Ok(())
    })
}

/// How many messages are queued (all organizations): for tests and operators.
pub async fn queued(db: &Db) -> Result<i64, ApiError> {
    read!(db, |conn| Ok(mail_outbox::table
        .count()
        .get_result(conn)
        .await?))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::db::{DatabaseUrl, Timeouts};

    fn mail(org_id: OrgId) -> QueuedMail {
        let now = crate::db::now();
        QueuedMail {
            id: MailId::new(),
            org_id,
            kind: "test".into(),
            recipient: "ada@example.com".into(),
            vars: "{}".into(),
            secrets: None,
            request_id: None,
            attempts: 0,
            next_attempt_at: now,
            last_error: None,
            lease_owner: None,
            lease_expires_at: None,
            created_at: now,
        }
    }

    /// A message queued by a change that rolls back is never queued: the outbox row goes with
    /// the transaction (the same `write!` on PostgreSQL).
    #[tokio::test]
    async fn a_message_queued_in_a_transaction_that_rolls_back_is_not_sent() {
        let dir = tempfile::tempdir().unwrap();
        let url = DatabaseUrl::Sqlite(dir.path().join("mail.db").display().to_string());
        let db = Db::connect(&url, Timeouts::default()).await.unwrap();
        let org: OrgId = uuid::Uuid::now_v7().into();
        db.execute_script(&format!(
            "INSERT INTO organizations (id, name, created_at) \
             VALUES ('{org}', 'Acme', '2026-01-01 00:00:00')"
        ))
        .await
        .unwrap();
        let rolled_back = mail(org);
        let result: Result<(), ApiError> = write!(db, |conn| {
            enqueue_mail!(conn, &rolled_back);
            Err(ApiError::not_found())
        });
        assert!(result.is_err());
        assert_eq!(queued(&db).await.unwrap(), 0);
        enqueue(&db, &mail(org)).await.unwrap();
        assert_eq!(queued(&db).await.unwrap(), 1);
        let now = crate::db::now();
        let later = now + chrono::TimeDelta::minutes(1);
        let claimed = claim_due(&db, "a", now, later, 10).await.unwrap();
        assert_eq!(claimed.len(), 1);
        assert_eq!(claimed[0].1, "Acme");
        assert!(
            claim_due(&db, "b", now, later, 10)
                .await
                .unwrap()
                .is_empty()
        );
    }
}
