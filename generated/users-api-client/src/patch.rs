//! `Patch<T>`: one field of a PATCH body, where leaving a field out and sending `null` differ.

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// One field of a PATCH body: left out (`Absent`, the default: unchanged), sent as `null`
/// (`Null`: cleared) or sent with a value.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum Patch<T> {
    #[default]
    Absent,
    Null,
    Value(T),
}

impl<T> Patch<T> {
    pub fn is_absent(&self) -> bool {
        matches!(self, Patch::Absent)
    }

    /// `Some(v)` sets, `None` clears.
    pub fn from_option(value: Option<T>) -> Self {
        value.map_or(Patch::Null, Patch::Value)
    }
}

impl<T> From<T> for Patch<T> {
    fn from(value: T) -> Self {
        Patch::Value(value)
    }
}

impl<T: Serialize> Serialize for Patch<T> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Patch::Value(value) => value.serialize(serializer),
            Patch::Absent | Patch::Null => serializer.serialize_none(),
        }
    }
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Patch<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Ok(Patch::from_option(Option::deserialize(deserializer)?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Serialize, Deserialize, Default, Debug, PartialEq)]
    struct Body {
        #[serde(default, skip_serializing_if = "Patch::is_absent")]
        f: Patch<String>,
    }

    #[test]
    fn absent_null_and_value_serialise_distinctly() {
        let json = |f| serde_json::to_string(&Body { f }).unwrap();
        assert_eq!(json(Patch::Absent), "{}");
        assert_eq!(json(Patch::Null), r#"{"f":null}"#);
        assert_eq!(json(Patch::Value("x".into())), r#"{"f":"x"}"#);
    }

    #[test]
    fn absent_null_and_value_deserialise_distinctly() {
        let body = |s| serde_json::from_str::<Body>(s).unwrap().f;
        assert_eq!(body("{}"), Patch::Absent);
        assert_eq!(body(r#"{"f":null}"#), Patch::Null);
        assert_eq!(body(r#"{"f":"x"}"#), Patch::Value("x".into()));
    }
}
