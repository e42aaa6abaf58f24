//! The request bodies that write users, as the spec documents them: `MePatch`, `UserPatch` and
//! `UserCreate`. The fields they share are documented once (`ProfileFields`, `AdminFields`,
//! flattened into each). The bodies are read as raw JSON (`patch::PatchBody`), and what each
//! surface may write is derived from these schemas (`FieldRules::derive`), so the documented
//! fields and the read ones are one list.

use std::{collections::BTreeMap, sync::LazyLock};

use poem_openapi::{Object, types::MaybeUndefined};
use serde_json::Value;

use super::{
    model::{AdminUser, Me},
    patch::{FieldRules, IMMUTABLE, properties},
};
use crate::domain::{
    Bio, DisplayName, EmailAddress, PersonName, PhoneNumber, Role, SuspensionReason, TeamId,
    Timestamp,
};

// The statuses a body may set (`invited` is set only by creating a user with `invite: true`).
// Documented for the spec only: bodies are read raw and parsed as `UserStatus`. (Not a doc
// comment: the schema's description stays on the fields that use it.)
#[derive(Debug, Clone, Copy, PartialEq, Eq, poem_openapi::Enum)]
#[oai(rename_all = "snake_case")]
pub enum SettableStatus {
    Active,
    Suspended,
}

/// The terms of a suspension, sent beside `status: suspended` (else 422 `INVALID_SUSPENSION`).
#[derive(Debug, Clone, Object)]
#[oai(deny_unknown_fields)]
pub struct SuspensionTerms {
    /// Why, for the organization's admins (returned by `/v1/users`, in events, never to the
    /// user): 1–500 characters after trimming, by the text rules of `bio`; else 422
    /// `INVALID_SUSPENSION`. Absent: no reason.
    #[oai(validator(min_length = 1, max_length = 500))]
    pub reason: Option<SuspensionReason>,
    /// When the suspension ends by itself: a future time (else 422 `INVALID_SUSPENSION`). From
    /// then on the user is `active` and may sign in again with nothing written: status is
    /// judged at each read and sign-in, so no job runs and no event is recorded at that
    /// instant. Absent: until an admin sets `status: active`.
    pub until: Option<Timestamp>,
}

/// The profile a user may write about themselves, on every surface.
#[derive(Debug, Clone, Object)]
pub struct ProfileFields {
    /// 1–100 characters after trimming with at least one visible letter or digit; emoji
    /// allowed; no control or invisible characters (see Text fields); stored NFC-normalised.
    #[oai(nullable, validator(min_length = 1, max_length = 100))]
    pub display_name: MaybeUndefined<DisplayName>,
    /// 1–64 letters (any script) with single spaces, hyphens or apostrophes between them; no
    /// emoji, digits or invisible characters (see Text fields).
    #[oai(nullable, validator(min_length = 1, max_length = 64))]
    pub first_name: MaybeUndefined<PersonName>,
    /// Same rules as `first_name`.
    #[oai(nullable, validator(min_length = 1, max_length = 64))]
    pub last_name: MaybeUndefined<PersonName>,
    /// 1–2,000 characters after trimming; line breaks, tabs and emoji allowed, other control
    /// and invisible characters (U+2028/U+2029 included) not (see Text fields).
    #[oai(nullable, validator(min_length = 1, max_length = 2000))]
    pub bio: MaybeUndefined<Bio>,
    /// An absolute `https://` or `http://` URL (≤ 2,048 characters) or a
    /// `data:image/{png,jpeg,gif,webp};base64,` URL of at most 100 KB whose bytes are that type.
    #[oai(nullable)]
    pub profile_image_url: MaybeUndefined<String>,
    /// A BCP 47 tag; stored canonicalised (`en-us` → `en-US`). Invalid: 422 `INVALID_LOCALE`.
    #[oai(nullable)]
    pub locale: MaybeUndefined<String>,
    /// An IANA time zone name (`America/New_York`, `UTC`), matched case-insensitively and
    /// stored in canonical spelling. Unknown: 422 `INVALID_TIMEZONE`.
    #[oai(nullable)]
    pub timezone: MaybeUndefined<String>,
    /// With its country code: `+`, then digits with optional spaces, hyphens, dots or
    /// parentheses (`pattern`); it must be a valid number in its country's numbering plan
    /// (422 `INVALID_PHONE_NUMBER`), and is stored and returned in E.164 (`+14155550123`). A new
    /// number resets `phone_number_verified` to false unless the same change sets it (only the
    /// admin surface can).
    #[oai(nullable)]
    pub phone_number: MaybeUndefined<PhoneNumber>,
    /// A valid address (`format: email`, ≤ 254 characters; a non-ASCII local part (RFC 6531)
    /// is accepted too, quoted local parts and look-alike mixes of scripts are not: 422
    /// `INVALID_EMAIL`), unique in the organization case-insensitively
    /// (409 `EMAIL_TAKEN`); stored and returned with its domain in ASCII (`xn--`) form (see
    /// E-mail addresses). Two modes, by server. Without a mailer, and always through
    /// `PATCH /v1/users/{user_id}`, a new address replaces the old one at once and resets
    /// `primary_email_verified` to false unless the same change sets it (only the admin
    /// surface can). Through `PATCH /v1/me` on a server that sends mail (`--mailer`,
    /// `--smtp-url`), the address and sign-in with it stay as they are: the new one becomes
    /// `pending_email`, a `change_email` link goes to it and a notice without a link to the
    /// old one (event `user.email_change_requested`); redeeming the link makes it the primary
    /// address, verified (409 `EMAIL_TAKEN` if another user took it meanwhile). `null`
    /// removes the address at once in both modes.
    #[oai(nullable)]
    pub primary_email: MaybeUndefined<EmailAddress>,
    /// Free-form data the user may write, merged as JSON Merge Patch (RFC 7396) into what is
    /// stored (`{}` for a new user): keys replace, `null` deletes a key, objects merge. The
    /// result may have at most 16 top-level keys, keys of 1–64 characters from
    /// `[A-Za-z0-9_.-]`, nesting at most 5 deep and 8 KiB serialised (422 `INVALID_METADATA`).
    /// OpenAPI 3.0 has no `propertyNames`, so the key rule is stated here only.
    #[oai(validator(max_properties = 16))]
    pub client_metadata: Option<BTreeMap<String, Value>>,
}

/// What only the admin surface writes, on create and on update.
#[derive(Debug, Clone, Object)]
pub struct AdminFields {
    /// Whether the number is known to belong to the user (false for a new user unless set).
    pub phone_number_verified: Option<bool>,
    /// Whether the address is known to belong to the user (false for a new user unless set).
    pub primary_email_verified: Option<bool>,
    /// Whether the user may sign in with e-mail and password (true for a new user unless set).
    pub primary_email_auth_enabled: Option<bool>,
    /// `member` for a new user unless set. Granting `admin` needs every scope.
    pub role: Option<Role>,
    /// `active` for a new user unless set. `suspended` refuses the user's sessions and
    /// sign-ins from the next request on (sign-in keeps its single 401), for as long as
    /// `suspension.until` says. Setting a status replaces the terms: `active` clears them,
    /// `suspended` without `suspension` is indefinite and gives no reason.
    pub status: Option<SettableStatus>,
    /// The terms of `status: suspended`, only beside it: a reason and an end. Sending them for
    /// a user who is suspended already replaces the terms.
    pub suspension: Option<SuspensionTerms>,
    /// Merged as JSON Merge Patch, with `client_metadata`'s limits; the user reads it through
    /// `/v1/me` but cannot write it.
    #[oai(validator(max_properties = 16))]
    pub client_read_only_metadata: Option<BTreeMap<String, Value>>,
    /// Merged as JSON Merge Patch, with `client_metadata`'s limits; never shown through
    /// `/v1/me`.
    #[oai(validator(max_properties = 16))]
    pub server_metadata: Option<BTreeMap<String, Value>>,
    /// A password hash imported from another system, in Modular Crypt Format: bcrypt (`$2a$`,
    /// `$2b$`, `$2y$`, cost ≤ 12) or argon2 (`$argon2id$`, `$argon2i$`, m ≤ 65536 KiB = 64 MiB,
    /// t × m ≤ 196608 = 3 passes over 64 MiB, p ≤ 8); anything else 422
    /// `INVALID_PASSWORD_HASH`, with the limit in the message. The limits keep every sign-in
    /// attempt near the cost of the server's own hash. The user signs in with the original
    /// password, and the hash is upgraded to argon2id at that sign-in; until then a wrong
    /// password against a hash cheaper than the server's own costs the server's own hash as
    /// well, so timing does not tell imported accounts apart. `null` removes the password.
    /// Send a value for `password` or for `password_hash`, not both (422); a value beside the
    /// other's `null` is that value. Changing it revokes every session of the user.
    #[oai(nullable)]
    pub password_hash: MaybeUndefined<String>,
    /// A TOTP secret (RFC 6238: HMAC-SHA1, 6 digits, 30 s) as standard base64 of 16–128
    /// bytes, imported without a code: sign-in then needs a code. `null` turns two-factor
    /// authentication off. Never returned. Any change deletes the user's recovery codes; an
    /// imported secret comes with none (the user issues a set with
    /// `POST /v1/me/recovery-codes`).
    #[oai(nullable)]
    pub totp_secret_base64: MaybeUndefined<String>,
}

/// Changes to the signed-in user. A field that is absent is left unchanged; `null` clears a
/// nullable field; `{}` changes nothing and returns the current state. All or nothing: when any
/// field is invalid nothing is written and every invalid field is reported. Unknown fields are a
/// 400; `id`, `org_id`, `created_at` a 400 `IMMUTABLE_FIELD`; fields that exist but are not the
/// user's to write (`role`, `status`, `server_metadata`, `client_read_only_metadata`,
/// `primary_email_verified`, `password_hash`, …) a 403 `FIELD_NOT_WRITABLE`.
#[derive(Debug, Clone, Object)]
pub struct MePatch {
    #[oai(flatten)]
    pub profile: ProfileFields,
    /// A team the user is a member of (422 `NOT_A_TEAM_MEMBER` otherwise); `null` clears it.
    #[oai(nullable)]
    pub selected_team_id: MaybeUndefined<TeamId>,
    /// A new password: 8–256 characters, not easily guessed (zxcvbn score 3 or more, not made
    /// of your own name or address), else 422 `WEAK_PASSWORD`. When a password is already set,
    /// `current_password` must be sent too (403 when missing or wrong). Every other session of
    /// the user is revoked; the one making this request stays signed in.
    #[oai(validator(min_length = 8, max_length = 256))]
    pub password: Option<String>,
    /// The user's current password: required with a new `password` (when one is set), and
    /// accepted with `primary_email` or `totp_secret_base64` as the step-up proof when the
    /// session was not authenticated within `--reauth-window` (403 when wrong). Refused (422)
    /// beside none of them.
    pub current_password: Option<String>,
    /// Turns two-factor authentication on: a TOTP secret (RFC 6238: HMAC-SHA1, 6 digits,
    /// 30-second steps) as standard base64 of 16–128 bytes, sent with a `totp_code` computed
    /// from it now; a code that does not match is 422 `INVALID_TOTP_SECRET` and nothing is
    /// stored. From an authenticator's base32 secret: `echo -n SECRET | base32 -d | base64`.
    /// `null` with a current `totp_code` turns it off (403 without a valid code). To replace a
    /// secret, turn 2FA off first. The secret is never returned; `otp_auth_enabled` says
    /// whether 2FA is on. Turning it on returns, in this response only, 10 recovery codes
    /// (`recovery_codes`), each good for one sign-in in place of a TOTP code; turning it off
    /// deletes them.
    #[oai(nullable)]
    pub totp_secret_base64: MaybeUndefined<String>,
    /// Six digits from the authenticator, proving the secret being enrolled or removed; with
    /// 2FA on, also accepted beside `primary_email` as the step-up proof (in place of
    /// `current_password`). Each code is accepted once.
    #[oai(validator(min_length = 6, max_length = 6))]
    pub totp_code: Option<String>,
}

/// Changes to a user, with the PATCH semantics of `/v1/me` (absent: unchanged; `null`: cleared;
/// `{}`: no-op; all or nothing; every invalid field reported) over a larger writable set:
/// `role`, `status`, the verification flags, `primary_email_auth_enabled` and the
/// `client_read_only_metadata` and `server_metadata` tiers, and the credentials (`password`,
/// `password_hash`, `totp_secret_base64`). `status: suspended` and a password change revoke
/// every session of the user. `id`, `org_id`, `created_at` are a 400 `IMMUTABLE_FIELD`;
/// read-only facts (`full_name`, `has_password`, …) a 403 `FIELD_NOT_WRITABLE`.
#[derive(Debug, Clone, Object)]
pub struct UserPatch {
    #[oai(flatten)]
    pub profile: ProfileFields,
    #[oai(flatten)]
    pub admin: AdminFields,
    /// A team the user is a member of (422 `NOT_A_TEAM_MEMBER` otherwise); `null` clears it.
    #[oai(nullable)]
    pub selected_team_id: MaybeUndefined<TeamId>,
    /// A new password (rules as on create), no current password needed; `null` removes it.
    /// Either way every session of the user is revoked.
    #[oai(nullable, validator(min_length = 8, max_length = 256))]
    pub password: MaybeUndefined<String>,
}

/// A new user. Every field is optional; `null` is the same as leaving a field out. Unknown
/// fields are a 400; invalid values a 422 listing every one.
#[derive(Debug, Clone, Object)]
pub struct UserCreate {
    #[oai(flatten)]
    pub profile: ProfileFields,
    #[oai(flatten)]
    pub admin: AdminFields,
    /// A password for e-mail sign-in: 8–256 characters, not easily guessed (zxcvbn score 3
    /// or more, and not made of the user's own name or address); else 422 `WEAK_PASSWORD`.
    /// Stored as an argon2id hash; never returned.
    #[oai(nullable, validator(min_length = 8, max_length = 256))]
    pub password: Option<String>,
    /// `true` creates the user as `invited`: they cannot sign in, and have no password
    /// (sending `password` or `password_hash` too is a 422, as is `status`), until they
    /// redeem an `invite` ticket (`POST /v1/users/{user_id}/tickets` with `type: invite`)
    /// and choose one. Records `user.created` and `user.invited`. On a server that sends
    /// mail (with `--public-url`), a user with a `primary_email` is also mailed an `invite`
    /// ticket at once, linking to `--public-url`'s `accept-invite` page; the response does not
    /// carry it (issue one with `POST /v1/users/{user_id}/tickets` to send it yourself, which
    /// supersedes the mailed one).
    pub invite: Option<bool>,
}

/// What a user may do through `/v1/me`: write `MePatch`'s fields; every other field of the
/// user exists but is not theirs to write (403).
pub static ME_FIELDS: LazyLock<FieldRules> = LazyLock::new(|| {
    FieldRules::derive::<MePatch>(IMMUTABLE, &[properties::<Me>(), properties::<UserPatch>()])
});

/// What the admin surface may change: `UserPatch`'s fields; the user's read-only facts are 403.
pub static ADMIN_FIELDS: LazyLock<FieldRules> =
    LazyLock::new(|| FieldRules::derive::<UserPatch>(IMMUTABLE, &[properties::<AdminUser>()]));

/// A new user: `UserCreate`'s fields; anything else is unknown (400).
pub static CREATE_FIELDS: LazyLock<FieldRules> =
    LazyLock::new(|| FieldRules::derive::<UserCreate>(IMMUTABLE, &[]));
