//! Domain values: each type parses raw input once, at the edge, into a value that is valid by
//! construction (parse, don't validate). Past the API layer, an invalid profile value cannot
//! exist. Every refusal carries the field's stable error code and a reason a person can act on.

mod access;
mod cursor;
mod email;
mod event;
mod ids;
mod locale;
mod metadata;
mod names;
mod phone_number;
mod profile_image;
mod search_key;
mod text;
mod ticket;
mod timestamp;
mod timezone;

pub use access::{Role, Scope, UserStatus};
pub use cursor::Cursor;
pub use email::EmailAddress;
pub use event::{Actor, EventType};
pub use ids::{
    ApiKeyId, MailId, OrgId, SessionId, TeamId, TicketId, UserId, WebhookDeliveryId,
    WebhookEndpointId,
};
pub use locale::Locale;
pub use metadata::{Metadata, merge_patch};
pub use names::{Bio, DisplayName, PersonName, SuspensionReason};
pub use phone_number::PhoneNumber;
pub use profile_image::ProfileImage;
pub use search_key::{SearchKey, SearchPrefix};
pub use ticket::{MIN_TICKET_TTL, TicketType};
pub use timestamp::Timestamp;
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

/// A string newtype, valid by construction: `as_str`, `into_inner`, `Display`, `AsRef<str>`.
/// Stored as its text (the struct derives diesel's `AsExpression` and `FromSqlRow` with
/// `sql_type = Text`) and shown in the API as a `string`, plainly or with `$schema`'s `format`,
/// `pattern` and `maxLength`: what JSON Schema can say of the rules `parse` enforces, so that
/// schema-invalid input is always refused (with the type's own code, as `parse` refuses it).
/// The type needs a `parse(&str) -> Result<Self, Invalid>`.
macro_rules! string_value {
    ($name:ident) => {
        $crate::domain::string_value!($name, poem_openapi::registry::MetaSchema::new("string"));
    };
    ($name:ident, $schema:expr) => {
        impl $name {
            pub fn as_str(&self) -> &str {
                &self.0
            }

            pub fn into_inner(self) -> String {
                self.0
            }

            /// Stored text, validated when written: a value read back from the database is
            /// trusted as it is, without parsing it again (so a read costs what a `String` does).
            pub(in crate::domain) fn from_stored(text: String) -> Self {
                Self(text)
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

        $crate::domain::text_to_sql!($name);

        impl<DB> diesel::deserialize::FromSql<diesel::sql_types::Text, DB> for $name
        where
            DB: diesel::backend::Backend,
            String: diesel::deserialize::FromSql<diesel::sql_types::Text, DB>,
        {
            fn from_sql(bytes: DB::RawValue<'_>) -> diesel::deserialize::Result<Self> {
                <String as diesel::deserialize::FromSql<diesel::sql_types::Text, DB>>::from_sql(
                    bytes,
                )
                .map(Self::from_stored)
            }
        }

        impl poem_openapi::types::Type for $name {
            const IS_REQUIRED: bool = true;
            type RawValueType = String;
            type RawElementValueType = String;

            fn name() -> std::borrow::Cow<'static, str> {
                <String as poem_openapi::types::Type>::name()
            }

            fn schema_ref() -> poem_openapi::registry::MetaSchemaRef {
                poem_openapi::registry::MetaSchemaRef::Inline(Box::new($schema))
            }

            fn as_raw_value(&self) -> Option<&String> {
                Some(&self.0)
            }

            fn raw_element_iter<'a>(&'a self) -> Box<dyn Iterator<Item = &'a String> + 'a> {
                Box::new(std::iter::once(&self.0))
            }

            fn is_empty(&self) -> bool {
                self.0.is_empty()
            }
        }

        /// As `ToJSON` writes it, without building a `serde_json::Value` (`api::Rendered`).
        impl serde::Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.serialize_str(&self.0)
            }
        }

        impl poem_openapi::types::ToJSON for $name {
            fn to_json(&self) -> Option<serde_json::Value> {
                Some(serde_json::Value::String(self.0.clone()))
            }
        }

        /// Read like a `String`, then parsed: JSON holds untrusted text.
        impl poem_openapi::types::ParseFromJSON for $name {
            fn parse_from_json(
                value: Option<serde_json::Value>,
            ) -> poem_openapi::types::ParseResult<Self> {
                let text = <String as poem_openapi::types::ParseFromJSON>::parse_from_json(value)
                    .map_err(poem_openapi::types::ParseError::propagate)?;
                Self::parse(&text)
                    .map_err(|invalid| poem_openapi::types::ParseError::custom(invalid.reason))
            }
        }
    };
}

pub(crate) use string_value;

/// Stores a domain value as its text (`as_str`) on either backend, and reads it back through
/// `$parse`; a stored text that no longer parses is a database error, never a silent default.
macro_rules! stored_as_text {
    ($name:ty, $parse:expr) => {
        $crate::domain::text_to_sql!($name);

        /// Its stored name, which is also its name in the API (`api::Rendered`).
        impl serde::Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.serialize_str(self.as_str())
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

/// `ToSql<Text>` on either backend for a type with `as_str`.
macro_rules! text_to_sql {
    ($name:ty) => {
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
    };
}

pub(crate) use text_to_sql;

#[cfg(test)]
mod tests {
    use diesel::{Connection, IntoSql, RunQueryDsl, SqliteConnection, dsl::sql, sql_types::Text};
    use poem_openapi::types::{ParseFromJSON, ToJSON, Type};
    use serde_json::json;

    use super::*;

    #[test]
    fn a_string_value_is_stored_as_its_text_and_read_back_without_parsing_it_again() {
        let mut conn = SqliteConnection::establish(":memory:").unwrap();
        let paris = Timezone::parse("europe/paris").unwrap();
        let read: Timezone = diesel::select(paris.clone().into_sql::<Text>())
            .get_result(&mut conn)
            .unwrap();
        assert_eq!(read, paris);
        // Stored text was validated when written; reading trusts it as it is.
        let stored: Timezone = diesel::select(sql::<Text>("'Mars/Olympus'"))
            .get_result(&mut conn)
            .unwrap();
        assert_eq!(stored.as_str(), "Mars/Olympus");
    }

    #[test]
    fn a_string_value_is_a_plain_string_in_the_api_and_parsed_when_read_from_json() {
        assert_eq!(Timezone::name(), String::name());
        assert_eq!(Timezone::schema_ref(), String::schema_ref());
        let paris = Timezone::parse_from_json(Some(json!("europe/paris"))).unwrap();
        assert_eq!(paris.to_json(), Some(json!("Europe/Paris")));
        assert!(Timezone::parse_from_json(Some(json!("Mars/Olympus"))).is_err());
    }
}
