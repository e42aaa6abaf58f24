//! The mail dispatcher: a background task, started by the server beside the webhook dispatcher
//! and never in a request's path, that sends queued messages.
//!
//! Every `poll_interval` it leases the due messages (`db::mail::claim_due`), opens each one's
//! link and code, renders it and sends it, a few at a time. A sent message's row is deleted. A
//! failure that may pass (a 4xx reply, a connection that fails) is retried after the next wait
//! of the retry schedule; one that will not (a 5xx reply, a message that cannot be opened or
//! rendered), or the last allowed attempt, gives the message up: its row is deleted, the
//! failure logged and counted. The state is in the database and every change is made only
//! while the lease is held, so a restart resumes where it stopped and an instance that dies
//! leaves leases that expire. Delivery is at least once: an instance that dies after the
//! server took a message but before its row was deleted sends it again, with the same
//! Message-ID. Logs name the message's id, kind and organization, never its link or code.

use std::{collections::BTreeMap, sync::Arc, time::Duration};

use anyhow::Result;
use chrono::{NaiveDateTime, TimeDelta};
use futures_util::StreamExt;
use tokio_util::sync::CancellationToken;

use super::{
    MailKind, MailSettings, Secrets,
    transport::{Outgoing, SendError, Transport},
};
use crate::{
    auth::SecretKeys,
    db::{Db, mail as outbox, mail::QueuedMail},
    telemetry,
};

/// Messages leased per poll.
const BATCH: i64 = 32;
/// Messages sent at once on this instance.
const CONCURRENCY: usize = 4;
/// The longest a message may take, whatever the SMTP server does: lettre's `--smtp-timeout`
/// bounds each read and write, not a server that stops answering mid-dialogue.
const SEND_DEADLINE: Duration = Duration::from_secs(120);

/// Stops the dispatcher when dropped.
pub struct MailDispatcherHandle {
    stop: CancellationToken,
}

impl Drop for MailDispatcherHandle {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}

#[derive(Clone)]
struct Dispatcher {
    db: Db,
    secrets: Arc<SecretKeys>,
    settings: Arc<MailSettings>,
    transport: Arc<Transport>,
    owner: Arc<str>,
}

/// Starts sending the queued messages of `db` as `settings` say.
pub fn spawn(
    db: Db,
    secrets: Arc<SecretKeys>,
    settings: Arc<MailSettings>,
) -> Result<MailDispatcherHandle> {
    let transport = Arc::new(Transport::new(&settings)?);
    let dispatcher = Dispatcher {
        db,
        secrets,
        settings,
        transport,
        owner: uuid::Uuid::new_v4().to_string().into(),
    };
    let stop = CancellationToken::new();
    tokio::spawn(dispatcher.run(stop.clone()));
    Ok(MailDispatcherHandle { stop })
}

impl Dispatcher {
    async fn run(self, stop: CancellationToken) {
        loop {
            tokio::select! {
                () = stop.cancelled() => return,
                () = tokio::time::sleep(self.settings.poll_interval) => {}
            }
            let work = self.claim_and_send();
            tokio::select! {
                () = stop.cancelled() => return,
                result = work => if let Err(error) = result {
                    tracing::warn!(error = %error.message, "mail dispatch failed; retrying");
                },
            }
        }
    }

    async fn claim_and_send(&self) -> Result<(), crate::error::ApiError> {
        let now = crate::db::now();
        let lease = TimeDelta::from_std(SEND_DEADLINE * 2).unwrap_or(TimeDelta::minutes(5));
        let claimed = outbox::claim_due(&self.db, &self.owner, now, now + lease, BATCH).await?;
        futures_util::stream::iter(claimed)
            .for_each_concurrent(CONCURRENCY, |(mail, org_name)| async move {
                if let Err(error) = self.attempt(&mail, org_name).await {
                    tracing::warn!(mail = %mail.id, error = %error.message, "mail outbox update failed");
                }
            })
            .await;
        Ok(())
    }

    /// One attempt at `mail`, and what follows it in the outbox.
    async fn attempt(
        &self,
        mail: &QueuedMail,
        org_name: String,
    ) -> Result<(), crate::error::ApiError> {
        let kind = MailKind::parse(&mail.kind);
        let kind_name = kind.map_or("unknown", MailKind::as_str);
        let result = match kind {
            Some(kind) => self.send(mail, kind, org_name).await,
            None => Err(SendError {
                transient: false,
                reason: format!("unknown kind {:?}", mail.kind),
            }),
        };
        let attempt = mail.attempts + 1;
        let error = match result {
            Ok(()) => {
                outbox::finish(&self.db, &mail.id, &self.owner).await?;
                telemetry::record_mail(kind_name, true);
                tracing::info!(mail = %mail.id, kind = kind_name, org = %mail.org_id, request_id = mail.request_id.as_deref().unwrap_or(""), attempt, "mail sent");
                return Ok(());
            }
            Err(error) => error,
        };
        let wait = if error.transient {
            self.settings.retry_schedule.wait_after(attempt as u32)
        } else {
            None
        };
        match wait {
            Some(wait) => {
                let next: NaiveDateTime =
                    crate::db::now() + TimeDelta::from_std(wait).unwrap_or(TimeDelta::hours(1));
                outbox::reschedule(
                    &self.db,
                    &mail.id,
                    &self.owner,
                    attempt,
                    next,
                    &error.reason,
                )
                .await?;
                telemetry::record_mail_retry(kind_name);
                tracing::info!(mail = %mail.id, kind = kind_name, org = %mail.org_id, attempt, error = %error.reason, retry_in_ms = wait.as_millis() as u64, "mail not sent; retrying later");
            }
            None => {
                outbox::finish(&self.db, &mail.id, &self.owner).await?;
                telemetry::record_mail(kind_name, false);
                tracing::warn!(mail = %mail.id, kind = kind_name, org = %mail.org_id, request_id = mail.request_id.as_deref().unwrap_or(""), attempt, error = %error.reason, permanent = !error.transient, "mail given up");
            }
        }
        Ok(())
    }

    async fn send(
        &self,
        mail: &QueuedMail,
        kind: MailKind,
        org_name: String,
    ) -> Result<(), SendError> {
        let permanent = |reason: String| SendError {
            transient: false,
            reason,
        };
        let mut vars: BTreeMap<String, String> = serde_json::from_str(&mail.vars)
            .map_err(|e| permanent(format!("stored variables are not a JSON object: {e}")))?;
        if let Some(sealed) = &mail.secrets {
            let json = self
                .secrets
                .open_mail_secrets(&mail.id, sealed)
                .map_err(|e| permanent(format!("the link and code do not open: {e}")))?;
            let secrets: Secrets = serde_json::from_str(&json)
                .map_err(|_| permanent("the link and code are malformed".into()))?;
            vars.extend(secrets.link.map(|link| ("link".to_owned(), link)));
            vars.extend(secrets.code.map(|code| ("code".to_owned(), code)));
        }
        vars.insert("org_name".into(), org_name);
        vars.insert("to".into(), mail.recipient.clone());
        let rendered = self
            .settings
            .templates
            .render(kind, &vars)
            // minijinja's error names the template and the variable, not the values.
            .map_err(|e| permanent(format!("cannot render: {e:#}")))?;
        let outgoing = Outgoing {
            id: &mail.id,
            to: &mail.recipient,
            rendered: &rendered,
        };
        match tokio::time::timeout(
            SEND_DEADLINE,
            self.transport.send(&self.settings.from, &outgoing),
        )
        .await
        {
            Ok(result) => result,
            Err(_) => Err(SendError {
                transient: true,
                reason: "timed out".into(),
            }),
        }
    }
}
