//! Typed ids: every kind of row has an id type of its own, so a `UserId` cannot be passed where a
//! `TeamId` is meant — a swapped argument that a `&str` let through no longer compiles.
//!
//! Each is a UUID (v7 when minted here, so ids sort by creation) and travels as one:
//! - in the database, as its lowercase hyphenated text in a `TEXT` column, exactly as ids were
//!   always stored. A stored id in any other form is a database error on read, never a panic
//!   and never a silent rewrite: what is read is what a query binds back.
//! - in the API, with the schema of a `Uuid` (`string`, format `uuid`), parsed from a path
//!   parameter or a body like one (the same 400 for a malformed id);
//! - in tokens and printed credentials, as the same text (serde).
//!
//! Binding an id allocates nothing on PostgreSQL (its text is written from a stack buffer);
//! SQLite takes an owned string. Reading one allocates nothing on either backend.

use std::{fmt, io::Write, str::FromStr};

use diesel::{
    deserialize::{self, FromSql, FromSqlRow},
    expression::AsExpression,
    pg::{Pg, PgValue},
    serialize::{self, IsNull, Output, ToSql},
    sql_types::Text,
    sqlite::{Sqlite, SqliteValue},
};
use poem_openapi::NewType;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// Defines each id type. No doc comments on the types: `NewType` would copy them into the
/// schema, which must stay the plain `Uuid` one.
macro_rules! typed_ids {
    ($($name:ident),* $(,)?) => {$(
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
        #[derive(AsExpression, FromSqlRow, NewType, Serialize, Deserialize)]
        #[diesel(sql_type = Text)]
        #[serde(transparent)]
        pub struct $name(Uuid);

        impl $name {
            /// A new id (UUID v7: ids sort by creation). Not `Default`: a default that is new
            /// on every call would hide where ids are minted.
            #[allow(clippy::new_without_default)]
            pub fn new() -> Self {
                Self(Uuid::now_v7())
            }

            pub fn into_uuid(self) -> Uuid {
                self.0
            }
        }

        impl From<Uuid> for $name {
            fn from(id: Uuid) -> Self {
                Self(id)
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                fmt::Display::fmt(&self.0.hyphenated(), f)
            }
        }

        impl FromStr for $name {
            type Err = uuid::Error;

            fn from_str(text: &str) -> Result<Self, Self::Err> {
                Uuid::parse_str(text).map(Self)
            }
        }

        /// PostgreSQL takes the text from a stack buffer: no allocation.
        impl ToSql<Text, Pg> for $name {
            fn to_sql<'b>(&'b self, out: &mut Output<'b, '_, Pg>) -> serialize::Result {
                let mut buffer = Uuid::encode_buffer();
                out.write_all(stored_text(&self.0, &mut buffer).as_bytes())?;
                Ok(IsNull::No)
            }
        }

        /// SQLite binds text it owns (diesel-async copies every bind anyway).
        impl ToSql<Text, Sqlite> for $name {
            fn to_sql<'b>(&'b self, out: &mut Output<'b, '_, Sqlite>) -> serialize::Result {
                out.set_value(stored_text(&self.0, &mut Uuid::encode_buffer()).to_owned());
                Ok(IsNull::No)
            }
        }

        impl FromSql<Text, Pg> for $name {
            fn from_sql(value: PgValue<'_>) -> deserialize::Result<Self> {
                read_stored(stringify!($name), value.as_bytes()).map(Self)
            }
        }

        impl FromSql<Text, Sqlite> for $name {
            fn from_sql(mut value: SqliteValue<'_, '_, '_>) -> deserialize::Result<Self> {
                read_stored(stringify!($name), value.read_text().as_bytes()).map(Self)
            }
        }
    )*};
}

typed_ids!(
    OrgId,
    UserId,
    TeamId,
    SessionId,
    ApiKeyId,
    WebhookEndpointId,
    WebhookDeliveryId,
    MailId,
    TicketId
);

/// An id as stored: lowercase, hyphenated.
fn stored_text<'a>(id: &Uuid, buffer: &'a mut [u8; 45]) -> &'a str {
    id.hyphenated().encode_lower(buffer)
}

/// The id stored as `text`, which must be exactly the form `stored_text` writes.
fn read_stored(kind: &str, text: &[u8]) -> deserialize::Result<Uuid> {
    match Uuid::try_parse_ascii(text) {
        Ok(id) if stored_text(&id, &mut Uuid::encode_buffer()).as_bytes() == text => Ok(id),
        _ => Err(format!(
            "stored {kind} {:?} is not a lowercase hyphenated UUID",
            String::from_utf8_lossy(text)
        )
        .into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_id_shows_parses_and_serializes_as_its_lowercase_hyphenated_text() {
        let text = "0190f3c4-1b2a-7c3d-8e4f-a0b1c2d3e4f5";
        let id: UserId = text.parse().unwrap();
        assert_eq!(id.to_string(), text);
        assert_eq!(serde_json::to_value(id).unwrap(), text);
        assert_eq!(serde_json::from_value::<UserId>(text.into()).unwrap(), id);
        assert!("not-a-uuid".parse::<UserId>().is_err());
        assert_eq!(UserId::from(id.into_uuid()), id);
    }

    #[test]
    fn new_ids_are_v7_and_sort_by_creation() {
        let (first, second) = (TeamId::new(), TeamId::new());
        assert_eq!(first.into_uuid().get_version_num(), 7);
        assert!(first < second);
        assert!(first.to_string() < second.to_string());
    }

    #[test]
    fn only_the_stored_form_reads_back() {
        let text = "0190f3c4-1b2a-7c3d-8e4f-a0b1c2d3e4f5";
        let id = read_stored("UserId", text.as_bytes()).unwrap();
        assert_eq!(stored_text(&id, &mut Uuid::encode_buffer()), text);
        for bad in [
            "",
            "not-a-uuid",
            "0190F3C4-1B2A-7C3D-8E4F-A0B1C2D3E4F5",
            "0190f3c41b2a7c3d8e4fa0b1c2d3e4f5",
            "{0190f3c4-1b2a-7c3d-8e4f-a0b1c2d3e4f5}",
        ] {
            let error = read_stored("UserId", bad.as_bytes()).unwrap_err();
            assert!(error.to_string().contains("stored UserId"), "{error}");
        }
    }
}
