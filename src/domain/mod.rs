//! Domain values: each type parses raw input once, at the edge, into a value that is valid by
//! construction (parse, don't validate). Past the API layer, an invalid profile value cannot
//! exist. Every refusal carries the field's stable error code and a reason a person can act on.

mod access;
mod cursor;
mod email;
mod ids;
mod locale;
mod metadata;
mod names;
mod phone_number;
mod profile_image;
mod text;
mod timezone;

pub use access::{Role, Scope, UserStatus};
pub use cursor::Cursor;
pub use email::EmailAddress;
pub use ids::{ApiKeyId, OrgId, SessionId, TeamId, UserId};
pub use locale::Locale;
pub use metadata::{Metadata, merge_patch};
pub use names::{Bio, DisplayName, PersonName};
pub use phone_number::PhoneNumber;
pub use profile_image::ProfileImage;
pub use timezone::Timezone;

use crate::error::ErrorCode;

/// Why a value was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invalid {
    pub code: ErrorCode,
    pub reason: String,
}

impl Invalid {
    pub fn new(code: ErrorCode, reason: impl Into<String>) -> Self {
        Self {
            code,
            reason: reason.into(),
        }
    }
}

/// A string newtype: `as_str`, `into_inner`, `Display`, `AsRef<str>`.
macro_rules! string_value {
    ($name:ident) => {
        impl $name {
            pub fn as_str(&self) -> &str {
                &self.0
            }

            pub fn into_inner(self) -> String {
                self.0
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(&self.0)
            }
        }
    };
}

pub(crate) use string_value;

/// Stores a domain value as its text (`as_str`) on either backend, and reads it back through
/// `$parse`; a stored text that no longer parses is a database error, never a silent default.
macro_rules! stored_as_text {
    ($name:ty, $parse:expr) => {
        impl<DB> diesel::serialize::ToSql<diesel::sql_types::Text, DB> for $name
        where
            DB: diesel::backend::Backend,
            str: diesel::serialize::ToSql<diesel::sql_types::Text, DB>,
        {
            fn to_sql<'b>(
                &'b self,
                out: &mut diesel::serialize::Output<'b, '_, DB>,
            ) -> diesel::serialize::Result {
                <str as diesel::serialize::ToSql<diesel::sql_types::Text, DB>>::to_sql(
                    self.as_str(),
                    out,
                )
            }
        }

        impl<DB> diesel::deserialize::FromSql<diesel::sql_types::Text, DB> for $name
        where
            DB: diesel::backend::Backend,
            String: diesel::deserialize::FromSql<diesel::sql_types::Text, DB>,
        {
            fn from_sql(bytes: DB::RawValue<'_>) -> diesel::deserialize::Result<Self> {
                let text =
                    <String as diesel::deserialize::FromSql<diesel::sql_types::Text, DB>>::from_sql(
                        bytes,
                    )?;
                let parse: fn(&str) -> Option<$name> = $parse;
                parse(&text).ok_or_else(|| {
                    format!(concat!("stored ", stringify!($name), " {:?} is unknown"), text).into()
                })
            }
        }
    };
}

pub(crate) use stored_as_text;
