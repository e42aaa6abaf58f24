//! Reading PATCH bodies by the rules of PRODUCT §4. The body arrives as a raw JSON object (its
//! documented schema is `T`'s), because absent, `null` and a value must stay distinct and JSON
//! types must be strict: `{"display_name": 5}` is a 400, never a stored `"5"`.
//!
//! Order of checks: unknown fields (400 `MALFORMED_REQUEST`), then immutable fields (400
//! `IMMUTABLE_FIELD`), then fields this principal may not write (403 `FIELD_NOT_WRITABLE`), then
//! JSON types (400), then values (422, every invalid field at once).

use std::{borrow::Cow, marker::PhantomData};

use poem_openapi::{
    registry::{MetaSchemaRef, Registry},
    types::{ParseError, ParseFromJSON, ParseResult, ToJSON, Type},
};
use serde_json::{Map, Value};

use crate::{
    domain::Invalid,
    error::{ApiError, ErrorCode, FieldError},
};

/// A PATCH body documented as `T` but kept as the JSON object that was sent.
pub struct PatchBody<T> {
    fields: Map<String, Value>,
    schema: PhantomData<fn() -> T>,
}

impl<T: Type> Type for PatchBody<T> {
    const IS_REQUIRED: bool = true;
    type RawValueType = Self;
    type RawElementValueType = Self;

    fn name() -> Cow<'static, str> {
        T::name()
    }

    fn schema_ref() -> MetaSchemaRef {
        T::schema_ref()
    }

    fn register(registry: &mut Registry) {
        T::register(registry)
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

impl<T: Type> ParseFromJSON for PatchBody<T> {
    fn parse_from_json(value: Option<Value>) -> ParseResult<Self> {
        match value {
            Some(Value::Object(fields)) => Ok(Self {
                fields,
                schema: PhantomData,
            }),
            _ => Err(ParseError::custom("the body must be a JSON object")),
        }
    }
}

impl<T: Type> ToJSON for PatchBody<T> {
    fn to_json(&self) -> Option<Value> {
        Some(Value::Object(self.fields.clone()))
    }
}

/// What a surface lets its principal do with each field name.
#[derive(Debug)]
pub struct FieldRules {
    pub writable: Vec<&'static str>,
    /// Fields that exist but that this principal may not write.
    pub not_writable: Vec<&'static str>,
    pub immutable: &'static [&'static str],
}

/// The fields no body may change: a resource's identity and birth.
pub const IMMUTABLE: &[&str] = &["id", "org_id", "created_at"];

impl FieldRules {
    /// The rules of a body documented as `T`: `T`'s properties are writable, `immutable` can
    /// never be written, and any other property of the `read_only` schemas exists but is not
    /// this principal's to write.
    pub fn derive<T: Type>(
        immutable: &'static [&'static str],
        read_only: &[Vec<&'static str>],
    ) -> Self {
        let writable = properties::<T>();
        let mut not_writable: Vec<&'static str> = read_only
            .iter()
            .flatten()
            .copied()
            .filter(|name| !writable.contains(name) && !immutable.contains(name))
            .collect();
        not_writable.sort_unstable();
        not_writable.dedup();
        Self {
            writable,
            not_writable,
            immutable,
        }
    }
}

/// The property names of `T`'s schema as poem-openapi registers it (flattened fields included).
pub fn properties<T: Type>() -> Vec<&'static str> {
    let mut registry = Registry::new();
    T::register(&mut registry);
    registry
        .schemas
        .get(T::name().as_ref())
        .map(|schema| schema.properties.iter().map(|(name, _)| *name).collect())
        .unwrap_or_default()
}

/// One field as sent: absent, `null`, or a value.
#[derive(Debug, Clone, PartialEq)]
pub enum Field<T> {
    Absent,
    Null,
    Value(T),
}

impl<T> Field<T> {
    /// The value, if one was sent (`null` counts as absent).
    pub fn into_value(self) -> Option<T> {
        match self {
            Field::Value(value) => Some(value),
            Field::Absent | Field::Null => None,
        }
    }
}

impl<T: ParseFromJSON> PatchBody<T> {
    /// The body read as `T` (400 `MALFORMED_REQUEST` when it is not one), for a body read
    /// whole once the caller is authenticated: as sent, a body is read before any handler
    /// runs, so a bad body would answer 400 where missing credentials must answer 401.
    pub fn parse(self) -> Result<T, ApiError> {
        T::parse_from_json(Some(Value::Object(self.fields)))
            .map_err(|error| ApiError::malformed(error.into_message()))
    }
}

impl<T> PatchBody<T> {
    /// Checks field names against `rules`, then hands out a reader for the values.
    pub fn reader(self, rules: &'static FieldRules) -> Result<Reader, ApiError> {
        let named = |pick: &dyn Fn(&str) -> bool, code: ErrorCode, message: &str| {
            let mut fields: Vec<FieldError> = self
                .fields
                .keys()
                .filter(|k| pick(k))
                .map(|k| FieldError::new(k.as_str(), code, message))
                .collect();
            fields.sort_by(|a, b| a.field.cmp(&b.field));
            fields
        };
        let known = |k: &str| {
            rules.writable.contains(&k)
                || rules.not_writable.contains(&k)
                || rules.immutable.contains(&k)
        };
        let unknown = named(&|k| !known(k), ErrorCode::MalformedRequest, "unknown field");
        if !unknown.is_empty() {
            let names: Vec<&str> = unknown.iter().map(|f| f.field.as_str()).collect();
            let message = format!("unknown fields: {}", names.join(", "));
            return Err(ApiError::malformed_fields(&message, unknown));
        }
        let immutable = named(
            &|k| rules.immutable.contains(&k),
            ErrorCode::ImmutableField,
            "can never be changed",
        );
        if !immutable.is_empty() {
            return Err(ApiError::immutable_fields(immutable));
        }
        let not_writable = named(
            &|k| rules.not_writable.contains(&k),
            ErrorCode::FieldNotWritable,
            "not writable by this principal",
        );
        if !not_writable.is_empty() {
            return Err(ApiError::not_writable(not_writable));
        }
        Ok(Reader {
            fields: self.fields,
            rules,
            wrong_types: Vec::new(),
            invalid: Vec::new(),
        })
    }
}

/// Takes typed fields out of a PATCH body, collecting every wrong JSON type and every invalid value.
/// Its surface's `rules` keep the documented fields and the read ones one list: a field read
/// but not documented, or documented but left unread, fails a debug assertion (and the
/// field-list test in `user_input`).
pub struct Reader {
    fields: Map<String, Value>,
    rules: &'static FieldRules,
    wrong_types: Vec<FieldError>,
    invalid: Vec<FieldError>,
}

impl Reader {
    fn take<T>(
        &mut self,
        name: &str,
        expected: &str,
        cast: impl Fn(Value) -> Option<T>,
    ) -> Field<T> {
        debug_assert!(
            self.rules.writable.contains(&name),
            "`{name}` is read but its body schema does not document it"
        );
        match self.fields.remove(name) {
            None => Field::Absent,
            Some(Value::Null) => Field::Null,
            Some(value) => cast(value).map(Field::Value).unwrap_or_else(|| {
                let message = format!("must be {expected}");
                self.wrong_types
                    .push(FieldError::new(name, ErrorCode::MalformedRequest, message));
                Field::Absent
            }),
        }
    }

    pub fn string(&mut self, name: &str) -> Field<String> {
        self.take(name, "a string or null", |v| match v {
            Value::String(s) => Some(s),
            _ => None,
        })
    }

    /// A string that may be left out but not `null`, such as a proof (there is nothing to
    /// clear): `null` is a wrong JSON type (400).
    pub fn non_null_string(&mut self, name: &str) -> Option<String> {
        match self.string(name) {
            Field::Null => {
                let message = "must be a string; leave it out when not needed".to_owned();
                self.wrong_type(name, message);
                None
            }
            field => field.into_value(),
        }
    }

    pub fn object(&mut self, name: &str) -> Field<Value> {
        self.take(name, "an object", |v| v.is_object().then_some(v))
    }

    /// A nullable string column: `null` clears it, a value must pass `parse`.
    /// Returns the column change (`None`: leave alone; `Some(None)`: clear).
    pub fn nullable<D>(
        &mut self,
        name: &str,
        parse: impl Fn(&str) -> Result<D, Invalid>,
    ) -> Option<Option<D>> {
        match self.string(name) {
            Field::Absent => None,
            Field::Null => Some(None),
            Field::Value(raw) => match parse(&raw) {
                Ok(value) => Some(Some(value)),
                Err(invalid) => {
                    self.invalid(name, invalid);
                    None
                }
            },
        }
    }

    /// An object field that may not be `null` (`code` is the field's 422 code).
    pub fn non_null_object(&mut self, name: &str, code: ErrorCode) -> Option<Value> {
        match self.object(name) {
            Field::Absent => None,
            Field::Value(value) => Some(value),
            Field::Null => {
                let message =
                    "must be an object; send {} to change nothing or a key with null to delete it";
                self.invalid.push(FieldError::new(name, code, message));
                None
            }
        }
    }

    /// A non-nullable boolean: `null` is a 422 (there is nothing to clear).
    pub fn boolean(&mut self, name: &str) -> Option<bool> {
        match self.take(name, "a boolean", |v| v.as_bool()) {
            Field::Absent => None,
            Field::Value(value) => Some(value),
            Field::Null => {
                self.null_refused(name, "must be true or false");
                None
            }
        }
    }

    /// A non-nullable string from a closed set (`parse` knows the members): any other string
    /// is outside the documented enum, a 400 like any other schema violation.
    pub fn choice<T>(
        &mut self,
        name: &str,
        members: &str,
        parse: impl Fn(&str) -> Option<T>,
    ) -> Option<T> {
        let expected = format!("one of {members}");
        match self.take(name, &expected, |v| v.as_str().and_then(&parse)) {
            Field::Absent => None,
            Field::Value(value) => Some(value),
            Field::Null => {
                self.null_refused(name, &format!("must be {expected}"));
                None
            }
        }
    }

    /// A nullable UUID, as whichever typed id `T` is: `null` clears. Returns the column change
    /// like `nullable`.
    pub fn nullable_uuid<T: From<uuid::Uuid>>(&mut self, name: &str) -> Option<Option<T>> {
        let uuid = |v: Value| {
            v.as_str()
                .and_then(|s| uuid::Uuid::parse_str(s).ok())
                .map(T::from)
        };
        match self.take(name, "a UUID or null", uuid) {
            Field::Absent => None,
            Field::Null => Some(None),
            Field::Value(id) => Some(Some(id)),
        }
    }

    /// A non-nullable array of strings.
    pub fn strings(&mut self, name: &str) -> Option<Vec<String>> {
        let strings = |v: Value| match v {
            Value::Array(items) => items
                .into_iter()
                .map(|item| match item {
                    Value::String(s) => Some(s),
                    _ => None,
                })
                .collect(),
            _ => None,
        };
        match self.take(name, "an array of strings", strings) {
            Field::Absent => None,
            Field::Value(value) => Some(value),
            Field::Null => {
                self.null_refused(name, "must be an array");
                None
            }
        }
    }

    /// A required, non-nullable string.
    pub fn required_string(&mut self, name: &str) -> Option<String> {
        match self.string(name) {
            Field::Value(value) => Some(value),
            Field::Absent if self.wrong_types.iter().any(|f| f.field == name) => None,
            Field::Absent => {
                self.wrong_types.push(FieldError::new(
                    name,
                    ErrorCode::MalformedRequest,
                    "is required",
                ));
                None
            }
            Field::Null => {
                self.null_refused(name, "must be a string");
                None
            }
        }
    }

    fn null_refused(&mut self, name: &str, message: &str) {
        self.invalid
            .push(FieldError::new(name, ErrorCode::ValidationFailed, message));
    }

    /// A value of the wrong JSON shape, found by the caller (400).
    pub fn wrong_type(&mut self, name: &str, message: String) {
        self.wrong_types
            .push(FieldError::new(name, ErrorCode::MalformedRequest, message));
    }

    /// Whether `name` already has an error.
    pub fn has_error(&self, name: &str) -> bool {
        self.wrong_types
            .iter()
            .chain(&self.invalid)
            .any(|f| f.field == name)
    }

    pub fn invalid_field(&mut self, field: FieldError) {
        self.invalid.push(field);
    }

    pub fn invalid(&mut self, name: &str, invalid: Invalid) {
        self.invalid
            .push(FieldError::new(name, invalid.code, invalid.reason));
    }

    /// Fails with 400 for wrong JSON types, else hands over the invalid values found so far,
    /// for a use case to report together with its own (422).
    pub fn into_invalid(self) -> Result<Vec<FieldError>, ApiError> {
        debug_assert!(
            self.fields.is_empty(),
            "documented but never read: {:?}",
            self.fields.keys().collect::<Vec<_>>()
        );
        if !self.wrong_types.is_empty() {
            let names: Vec<&str> = self.wrong_types.iter().map(|f| f.field.as_str()).collect();
            let message = format!("wrong JSON type for: {}", names.join(", "));
            return Err(ApiError::malformed_fields(&message, self.wrong_types));
        }
        Ok(self.invalid)
    }

    /// Fails with 400 for wrong JSON types, else with 422 for invalid values.
    pub fn finish(self) -> Result<(), ApiError> {
        let invalid = self.into_invalid()?;
        match invalid.is_empty() {
            true => Ok(()),
            false => Err(ApiError::validation(invalid)),
        }
    }
}
