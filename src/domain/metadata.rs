//! `Metadata`: a JSON object within the limits of PRODUCT §3 — at most 16 top-level keys, keys
//! of 1–64 characters from `[A-Za-z0-9_.-]` at every level, nesting at most 5 deep (the object
//! itself is depth 1; each object or array inside adds one), at most 8 KiB serialised.
//! `merge_patch` is RFC 7396 JSON Merge Patch; limits apply to its result.

use serde_json::{Map, Value};

use super::Invalid;
use crate::error::ErrorCode;

pub const MAX_KEYS: usize = 16;
pub const MAX_DEPTH: usize = 5;
pub const MAX_BYTES: usize = 8 * 1024;

#[derive(Debug, Clone, PartialEq)]
pub struct Metadata(Value);

impl Metadata {
    pub fn parse(value: Value) -> Result<Self, Invalid> {
        let invalid = |why: String| Invalid::new(ErrorCode::InvalidMetadata, why);
        let Value::Object(map) = &value else {
            return Err(invalid("must be a JSON object".into()));
        };
        if map.len() > MAX_KEYS {
            return Err(invalid(format!(
                "at most {MAX_KEYS} top-level keys (found {})",
                map.len()
            )));
        }
        check_level(&value, 1).map_err(invalid)?;
        let size = value.to_string().len();
        if size > MAX_BYTES {
            return Err(invalid(format!(
                "larger than 8 KiB serialised ({size} bytes)"
            )));
        }
        Ok(Self(value))
    }

    pub fn empty() -> Self {
        Self(Value::Object(Map::new()))
    }

    pub fn as_value(&self) -> &Value {
        &self.0
    }

    pub fn into_value(self) -> Value {
        self.0
    }
}

fn check_level(value: &Value, depth: usize) -> Result<(), String> {
    let children: Box<dyn Iterator<Item = &Value>> = match value {
        Value::String(text) if text.contains('\0') => {
            return Err("strings must not contain NUL (U+0000)".into());
        }
        Value::Object(map) => {
            if map.keys().any(|k| k.contains('\0')) {
                return Err("keys must not contain NUL (U+0000)".into());
            }
            if let Some(key) = map.keys().find(|k| !is_valid_key(k)) {
                return Err(format!(
                    "key {key:?} must be 1–64 characters of A-Z a-z 0-9 _ . -"
                ));
            }
            Box::new(map.values())
        }
        Value::Array(items) => Box::new(items.iter()),
        _ => return Ok(()),
    };
    if depth > MAX_DEPTH {
        return Err(format!("nested deeper than {MAX_DEPTH} levels"));
    }
    children
        .into_iter()
        .try_for_each(|child| check_level(child, depth + 1))
}

fn is_valid_key(key: &str) -> bool {
    (1..=64).contains(&key.len())
        && key
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'))
}

/// RFC 7396: a non-object patch replaces the target; in an object patch, `null` deletes a key
/// and every other value is merged recursively into the target (a non-object target counts as
/// an empty object).
pub fn merge_patch(target: &Value, patch: &Value) -> Value {
    let Value::Object(patch) = patch else {
        return patch.clone();
    };
    let mut merged = match target {
        Value::Object(map) => map.clone(),
        _ => Map::new(),
    };
    for (key, value) in patch {
        if value.is_null() {
            merged.remove(key);
        } else {
            let current = merged.get(key).unwrap_or(&Value::Null);
            let next = merge_patch(current, value);
            merged.insert(key.clone(), next);
        }
    }
    Value::Object(merged)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn nested(depth: usize) -> Value {
        (1..depth).fold(json!({"leaf": 1}), |inner, _| json!({ "n": inner }))
    }

    #[test]
    fn the_rfc_7396_appendix_a_examples_hold() {
        let cases = [
            (json!({"a":"b"}), json!({"a":"c"}), json!({"a":"c"})),
            (json!({"a":"b"}), json!({"b":"c"}), json!({"a":"b","b":"c"})),
            (json!({"a":"b"}), json!({"a":null}), json!({})),
            (
                json!({"a":"b","b":"c"}),
                json!({"a":null}),
                json!({"b":"c"}),
            ),
            (json!({"a":["b"]}), json!({"a":"c"}), json!({"a":"c"})),
            (json!({"a":"c"}), json!({"a":["b"]}), json!({"a":["b"]})),
            (
                json!({"a":{"b":"c"}}),
                json!({"a":{"b":"d","c":null}}),
                json!({"a":{"b":"d"}}),
            ),
            (json!({"a":[{"b":"c"}]}), json!({"a":[1]}), json!({"a":[1]})),
            (json!(["a", "b"]), json!(["c", "d"]), json!(["c", "d"])),
            (json!({"a":"b"}), json!(["c"]), json!(["c"])),
            (json!({"a":"foo"}), json!(null), json!(null)),
            (json!({"a":"foo"}), json!("bar"), json!("bar")),
            (json!({"e":null}), json!({"a":1}), json!({"e":null,"a":1})),
            (json!([1, 2]), json!({"a":"b","c":null}), json!({"a":"b"})),
            (
                json!({}),
                json!({"a":{"bb":{"ccc":null}}}),
                json!({"a":{"bb":{}}}),
            ),
        ];
        for (target, patch, expected) in cases {
            assert_eq!(merge_patch(&target, &patch), expected, "{target} + {patch}");
        }
    }

    #[test]
    fn sixteen_top_level_keys_pass_and_seventeen_fail() {
        let keys = |n: usize| Value::Object((0..n).map(|i| (format!("k{i}"), json!(i))).collect());
        assert!(Metadata::parse(keys(16)).is_ok());
        let invalid = Metadata::parse(keys(17)).unwrap_err();
        assert_eq!(invalid.code, ErrorCode::InvalidMetadata);
        assert!(
            invalid.reason.contains("16 top-level keys"),
            "{}",
            invalid.reason
        );
    }

    #[test]
    fn nesting_is_limited_to_five_levels() {
        assert!(Metadata::parse(nested(5)).is_ok());
        assert!(
            Metadata::parse(nested(6))
                .unwrap_err()
                .reason
                .contains("deeper than 5")
        );
        assert!(Metadata::parse(json!({"a":[[[[1]]]]})).is_ok());
        assert!(Metadata::parse(json!({"a":[[[[[1]]]]]})).is_err());
    }

    #[test]
    fn keys_must_be_short_and_plain_at_every_level() {
        assert!(Metadata::parse(json!({"theme.v2_x-y": {"Inner_9": true}})).is_ok());
        for bad in [
            json!({"a b": 1}),
            json!({"": 1}),
            json!({"ok": {"bad/key": 1}}),
            json!({"ok": [{"é": 1}]}),
        ] {
            assert_eq!(
                Metadata::parse(bad.clone()).unwrap_err().code,
                ErrorCode::InvalidMetadata,
                "{bad}"
            );
        }
        assert!(Metadata::parse(json!({ "k".repeat(64): 1 })).is_ok());
        assert!(Metadata::parse(json!({ "k".repeat(65): 1 })).is_err());
    }

    #[test]
    fn the_serialised_size_is_limited_to_8_kib_and_only_objects_are_metadata() {
        let fits = json!({"a": "x".repeat(MAX_BYTES - 8)});
        assert_eq!(fits.to_string().len(), MAX_BYTES);
        assert!(Metadata::parse(fits).is_ok());
        assert!(
            Metadata::parse(json!({"a": "x".repeat(MAX_BYTES - 7)}))
                .unwrap_err()
                .reason
                .contains("8 KiB")
        );
        for bad in [json!([]), json!("s"), json!(1), json!(null)] {
            assert!(Metadata::parse(bad).is_err());
        }
        assert_eq!(Metadata::empty().as_value(), &json!({}));
    }
}
