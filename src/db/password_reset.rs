//! `users-api admin reset-password`: finds the user by address and, in the same transaction,
//! replaces their password hash and revokes every session they have.

use diesel::prelude::*;
use diesel_async::RunQueryDsl;

use super::{Db, now, schema::users, search_keys, sessions::revoke_sessions};
use crate::{
    domain::{OrgId, UserId, UserStatus},
    error::ApiError,
};

/// What a reset found and did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// The password was replaced and `revoked` live sessions were ended.
    Reset {
        org_id: OrgId,
        user_id: UserId,
        revoked: usize,
        /// Whether signing in also needs a TOTP code.
        totp_enabled: bool,
        /// Whether the user can sign in with address and password at all.
        can_sign_in: bool,
    },
    /// No user has this address (in the organization, when one was named).
    NotFound,
    /// Users of several organizations have this address; nothing changed.
    InSeveralOrgs(Vec<OrgId>),
}

/// Sets `password_hash` on the one user whose address key is `email_key` (within `org_id` if
/// given) and revokes all their sessions; changes nothing unless exactly one user matches.
pub async fn reset(
    db: &Db,
    email_key: &str,
    org_id: Option<&OrgId>,
    password_hash: &str,
) -> Result<Outcome, ApiError> {
    write!(db, |conn| {
        let mut matching = users::table
            .filter(users::primary_email_key.eq(email_key))
            .into_boxed();
        if let Some(org_id) = org_id {
            matching = matching.filter(users::org_id.eq(org_id));
        }
        let found: Vec<(UserId, OrgId)> = matching
            .select((users::id, users::org_id))
            .order(users::org_id)
            .load(conn)
            .await?;
        let (user_id, org_id) = match found.as_slice() {
            [] => return Ok(Outcome::NotFound),
            [one] => *one,
            several => {
                return Ok(Outcome::InSeveralOrgs(
                    several.iter().map(|(_, org)| *org).collect(),
                ));
            }
        };
        let (status, email_auth, totp): (UserStatus, bool, Option<String>) =
            diesel::update(users::table.find(user_id))
                .set((
                    users::password_hash.eq(Some(password_hash)),
                    users::version.eq(users::version + 1),
                    search_keys::kept_current(),
                    users::updated_at.eq(now()),
                ))
                .returning((
                    users::status,
                    users::primary_email_auth_enabled,
                    users::totp_secret,
                ))
                .get_result(conn)
                .await?;
        let revoked = revoke_sessions!(conn, &user_id, Revoke::All);
        Ok(Outcome::Reset {
            org_id,
            user_id,
            revoked,
            totp_enabled: totp.is_some(),
            can_sign_in: email_auth && status == UserStatus::Active,
        })
    })
}
