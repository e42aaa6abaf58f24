//! A point in time as the API shows it: RFC 3339 in UTC with a `Z` and always six fractional
//! digits (`2026-11-30T23:12:45.087123Z`), the precision the database keeps, so a value is
//! shown exactly as stored, every timestamp has the same length, and timestamps sort as strings.

use std::borrow::Cow;

use chrono::{DateTime, NaiveDateTime, SecondsFormat, Utc};
use poem_openapi::{
    registry::MetaSchemaRef,
    types::{ParseError, ParseFromJSON, ParseResult, ToJSON, Type},
};
use serde_json::Value;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Timestamp(DateTime<Utc>);

impl From<NaiveDateTime> for Timestamp {
    /// A stored time, which is always UTC.
    fn from(stored: NaiveDateTime) -> Self {
        Self(stored.and_utc())
    }
}

impl std::fmt::Display for Timestamp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0.to_rfc3339_opts(SecondsFormat::Micros, true))
    }
}

/// Documented as `DateTime<Utc>` is: `type: string, format: date-time`.
impl Type for Timestamp {
    const IS_REQUIRED: bool = true;
    type RawValueType = Self;
    type RawElementValueType = Self;

    fn name() -> Cow<'static, str> {
        <DateTime<Utc> as Type>::name()
    }

    fn schema_ref() -> MetaSchemaRef {
        <DateTime<Utc> as Type>::schema_ref()
    }

    fn as_raw_value(&self) -> Option<&Self::RawValueType> {
        Some(self)
    }

    fn raw_element_iter<'a>(
        &'a self,
    ) -> Box<dyn Iterator<Item = &'a Self::RawElementValueType> + 'a> {
        Box::new(self.as_raw_value().into_iter())
    }
}

/// As `ToJSON` writes it, without building a `serde_json::Value` (`api::Rendered`).
impl serde::Serialize for Timestamp {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl ToJSON for Timestamp {
    fn to_json(&self) -> Option<Value> {
        Some(Value::String(self.to_string()))
    }
}

/// Any RFC 3339 time (a stored response read back, for an idempotent replay).
impl ParseFromJSON for Timestamp {
    fn parse_from_json(value: Option<Value>) -> ParseResult<Self> {
        let parsed = <DateTime<Utc> as ParseFromJSON>::parse_from_json(value)
            .map_err(ParseError::propagate)?;
        Ok(Self(parsed))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_timestamp_is_utc_with_a_z_and_six_fractional_digits_and_reads_back() {
        let at = chrono::NaiveDate::from_ymd_opt(2026, 11, 30)
            .unwrap()
            .and_hms_micro_opt(23, 12, 45, 87_000)
            .unwrap();
        let json = Timestamp::from(at).to_json().unwrap();
        assert_eq!(json, "2026-11-30T23:12:45.087000Z");
        let back = Timestamp::parse_from_json(Some(json)).unwrap();
        assert_eq!(back, Timestamp::from(at));
        let whole = chrono::NaiveDate::from_ymd_opt(2026, 1, 2)
            .unwrap()
            .and_hms_opt(3, 4, 5)
            .unwrap();
        assert_eq!(
            Timestamp::from(whole).to_string(),
            "2026-01-02T03:04:05.000000Z"
        );
    }
}
