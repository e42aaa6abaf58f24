//! Holds every response the tests receive to the committed OpenAPI document: the path and method
//! must be an operation, the status must be declared for it, and a JSON body must validate
//! against the declared schema. OpenAPI 3.0 schemas are converted to JSON Schema (2019-09, which knows the `uuid` format) once:
//! `nullable: true` becomes `anyOf [schema, null]` and `#/components/schemas/X` refs become
//! `#/definitions/X`.

use std::{collections::HashMap, sync::Mutex};

use serde_json::{Map, Value, json};

pub struct Contract {
    spec: Value,
    definitions: Value,
    validators: Mutex<HashMap<String, std::sync::Arc<jsonschema::Validator>>>,
}

impl Contract {
    pub fn from_json(spec: &str) -> Result<Self, String> {
        let spec: Value = serde_json::from_str(spec).map_err(|e| e.to_string())?;
        let schemas = spec
            .pointer("/components/schemas")
            .cloned()
            .unwrap_or(json!({}));
        Ok(Self {
            definitions: convert(&schemas),
            spec,
            validators: Mutex::default(),
        })
    }

    pub fn documents_path(&self, path: &str) -> bool {
        self.template(path).is_some()
    }

    pub fn check(
        &self,
        method: &str,
        path: &str,
        status: u16,
        content_type: Option<&str>,
        body: &[u8],
    ) -> Result<(), String> {
        let template = self
            .template(path)
            .ok_or_else(|| format!("no spec path matches {path}"))?;
        let operation = &self.spec["paths"][template.as_str()][method.to_ascii_lowercase()];
        let operation_id = operation["operationId"]
            .as_str()
            .ok_or_else(|| format!("{method} {template} is not an operation"))?;
        let responses = &operation["responses"];
        let code = status.to_string();
        let range = format!("{}XX", status / 100);
        let (key, response) = [code.as_str(), range.as_str(), "default"]
            .into_iter()
            .find_map(|key| responses.get(key).map(|r| (key, r)))
            .ok_or_else(|| format!("{operation_id}: status {status} is not declared"))?;
        if response.pointer("/content/text~1plain").is_some() {
            let is_text = content_type.is_some_and(|c| c.starts_with("text/plain"));
            return match (is_text, std::str::from_utf8(body)) {
                (true, Ok(_)) => Ok(()),
                _ => Err(format!(
                    "{operation_id} {status}: expected UTF-8 text/plain, got {content_type:?}"
                )),
            };
        }
        let Some(schema) = response.pointer("/content/application~1json/schema") else {
            return if body.is_empty() {
                Ok(())
            } else {
                Err(format!(
                    "{operation_id} {status}: body where none is declared"
                ))
            };
        };
        if !content_type.is_some_and(|c| c.starts_with("application/json")) {
            return Err(format!(
                "{operation_id} {status}: content type {content_type:?} is not application/json"
            ));
        }
        let instance: Value = serde_json::from_slice(body)
            .map_err(|e| format!("{operation_id} {status}: body is not JSON ({e})"))?;
        self.validate(&format!("{operation_id} {key}"), schema, &instance)
            .map_err(|problems| format!("{operation_id} {status}: body {problems}"))?;
        // An error response lists the codes it can carry, one example each.
        if let Some(listed) = response
            .pointer("/content/application~1json/examples")
            .and_then(Value::as_object)
        {
            let code = instance.pointer("/error/code").and_then(Value::as_str);
            if !code.is_some_and(|code| listed.contains_key(code)) {
                let listed: Vec<&String> = listed.keys().collect();
                return Err(format!(
                    "{operation_id} {status}: code {code:?} is not one the spec lists for it {listed:?}"
                ));
            }
        }
        Ok(())
    }

    /// Checks `instance` against `schema` (an OpenAPI schema of the spec, cached under `key`).
    pub fn validate(&self, key: &str, schema: &Value, instance: &Value) -> Result<(), String> {
        let problems: Vec<String> = self
            .validator(key, schema)?
            .iter_errors(instance)
            .take(5)
            .map(|e| format!("at {:?}: {e}", e.instance_path.to_string()))
            .collect();
        match problems.is_empty() {
            true => Ok(()),
            false => Err(format!(
                "does not match the schema: {}",
                problems.join("; ")
            )),
        }
    }

    /// The spec path template matching `path`; literal segments win over `{parameters}`.
    fn template(&self, path: &str) -> Option<String> {
        let segments: Vec<&str> = path.split('/').collect();
        self.spec["paths"]
            .as_object()?
            .keys()
            .filter_map(|template| {
                let parts: Vec<&str> = template.split('/').collect();
                let fits = parts.len() == segments.len()
                    && parts
                        .iter()
                        .zip(&segments)
                        .all(|(t, s)| t.starts_with('{') || t == s);
                fits.then(|| {
                    (
                        parts.iter().filter(|t| !t.starts_with('{')).count(),
                        template,
                    )
                })
            })
            .max_by_key(|(literal_segments, _)| *literal_segments)
            .map(|(_, template)| template.clone())
    }

    fn validator(
        &self,
        key: &str,
        schema: &Value,
    ) -> Result<std::sync::Arc<jsonschema::Validator>, String> {
        let mut cache = self.validators.lock().map_err(|e| e.to_string())?;
        if let Some(validator) = cache.get(key) {
            return Ok(validator.clone());
        }
        let mut root = match convert(schema) {
            Value::Object(map) => map,
            other => Map::from_iter([("allOf".to_owned(), json!([other]))]),
        };
        root.insert("definitions".into(), self.definitions.clone());
        let validator = jsonschema::options()
            .with_draft(jsonschema::Draft::Draft201909)
            .should_validate_formats(true)
            .build(&Value::Object(root))
            .map_err(|e| format!("{key}: schema does not compile: {e}"))?;
        let validator = std::sync::Arc::new(validator);
        cache.insert(key.to_owned(), validator.clone());
        Ok(validator)
    }
}

/// OpenAPI 3.0 schema → JSON Schema 2019-09.
fn convert(schema: &Value) -> Value {
    match schema {
        Value::Object(map) => {
            let mut out = Map::new();
            for (key, value) in map {
                match key.as_str() {
                    "nullable" | "example" | "discriminator" | "xml" | "externalDocs" => {}
                    "$ref" => {
                        let reference = value.as_str().unwrap_or_default();
                        let target = reference.replace("#/components/schemas/", "#/definitions/");
                        out.insert(key.clone(), Value::String(target));
                    }
                    // Property names are data, not schema keywords: convert their values only.
                    "properties" | "definitions" => {
                        let converted = value.as_object().map(|props| {
                            props
                                .iter()
                                .map(|(name, s)| (name.clone(), convert(s)))
                                .collect::<Map<_, _>>()
                        });
                        out.insert(key.clone(), converted.map_or(Value::Null, Value::Object));
                    }
                    _ => {
                        out.insert(key.clone(), convert(value));
                    }
                }
            }
            // Keep a `$ref` alone inside allOf so that no draft ignores its siblings.
            if out.contains_key("$ref") && out.len() > 1 {
                let reference = out.remove("$ref").unwrap_or_default();
                out.insert("allOf".into(), json!([{ "$ref": reference }]));
            }
            if map.get("nullable") == Some(&Value::Bool(true)) {
                json!({ "anyOf": [Value::Object(out), { "type": "null" }] })
            } else {
                Value::Object(out)
            }
        }
        Value::Array(items) => Value::Array(items.iter().map(convert).collect()),
        other => other.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn contract() -> Contract {
        let spec = json!({
            "openapi": "3.0.0",
            "paths": {
                "/v1/users/{user_id}": {"get": {"operationId": "getUser", "responses": {
                    "200": {"description": "", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/User"}}}},
                    "404": {"description": ""},
                    "409": {"description": "", "content": {"application/json": {
                        "schema": {"type": "object"},
                        "examples": {"LAST_ADMIN": {"value": {}}}
                    }}}
                }}},
                "/v1/users/me": {"get": {"operationId": "getMe", "responses": {
                    "2XX": {"description": "", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/User"}}}}
                }}}
            },
            "components": {"schemas": {
                "User": {"type": "object", "required": ["id", "name"], "additionalProperties": false, "properties": {
                    "id": {"type": "string", "format": "uuid"},
                    "name": {"type": "string"},
                    "nick": {"type": "string", "nullable": true},
                    "team": {"allOf": [{"$ref": "#/components/schemas/Team"}], "nullable": true}
                }},
                "Team": {"type": "object", "required": ["id"], "properties": {"id": {"type": "string"}}}
            }}
        });
        Contract::from_json(&spec.to_string()).unwrap()
    }

    const ID: &str = "0192f7e0-0000-7000-8000-000000000000";

    #[test]
    fn an_error_code_the_response_does_not_list_fails() {
        let path = format!("/v1/users/{ID}");
        let error = |code: &str| json!({"success": false, "error": {"code": code}});
        assert!(check(&path, 409, error("LAST_ADMIN")).is_ok());
        let refused = check(&path, 409, error("EMAIL_TAKEN")).unwrap_err();
        assert!(refused.contains("EMAIL_TAKEN"), "{refused}");
        assert!(check(&path, 409, json!({"success": false})).is_err());
    }

    fn check(path: &str, status: u16, body: Value) -> Result<(), String> {
        contract().check(
            "GET",
            path,
            status,
            Some("application/json"),
            body.to_string().as_bytes(),
        )
    }

    #[test]
    fn a_body_matching_its_schema_passes_with_nullable_fields_null() {
        let user = json!({"id": ID, "name": "Ada", "nick": null, "team": null});
        assert_eq!(check("/v1/users/42", 200, user), Ok(()));
        assert_eq!(
            check(
                "/v1/users/42",
                200,
                json!({"id": ID, "name": "Ada", "team": {"id": "t"}})
            ),
            Ok(())
        );
    }

    #[test]
    fn schema_violations_fail_with_a_message() {
        for bad in [
            json!({"id": ID}),
            json!({"id": ID, "name": 5}),
            json!({"id": ID, "name": "Ada", "extra": 1}),
            json!({"id": ID, "name": null}),
            json!({"id": "not-a-uuid", "name": "Ada"}),
            json!({"id": ID, "name": "Ada", "team": {"name": "no id"}}),
        ] {
            let error = check("/v1/users/42", 200, bad.clone()).unwrap_err();
            assert!(error.contains("getUser 200"), "{bad}: {error}");
        }
    }

    #[test]
    fn undeclared_statuses_wrong_content_types_and_non_json_fail() {
        let c = contract();
        assert!(
            c.check("GET", "/v1/users/1", 500, Some("application/json"), b"{}")
                .unwrap_err()
                .contains("not declared")
        );
        assert!(
            c.check("GET", "/v1/users/1", 200, Some("text/plain"), b"{}")
                .unwrap_err()
                .contains("content type")
        );
        assert!(
            c.check("GET", "/v1/users/1", 200, Some("application/json"), b"nope")
                .unwrap_err()
                .contains("not JSON")
        );
        assert!(c.check("GET", "/v1/users/1", 404, None, b"").is_ok());
        assert!(c.check("POST", "/v1/users/1", 200, None, b"").is_err());
    }

    #[test]
    fn literal_path_segments_win_and_range_keys_match() {
        let c = contract();
        assert!(c.documents_path("/v1/users/me") && c.documents_path("/v1/users/x"));
        assert!(!c.documents_path("/v1/teams"));
        let user = json!({"id": ID, "name": "Ada"}).to_string();
        assert_eq!(
            c.check(
                "GET",
                "/v1/users/me",
                201,
                Some("application/json"),
                user.as_bytes()
            ),
            Ok(())
        );
        assert!(
            c.check("GET", "/v1/users/me", 404, None, b"")
                .unwrap_err()
                .contains("getMe")
        );
    }
}
