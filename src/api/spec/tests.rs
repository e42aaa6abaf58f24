use super::*;

#[test]
fn every_link_joins_two_operations_that_exist() {
    let mut spec: Value = serde_json::from_str(&crate::api::api_service().spec()).unwrap();
    normalise(&mut spec);
    let ids: Vec<String> = operations(&mut spec)
        .filter_map(|op| op["operationId"].as_str().map(str::to_owned))
        .collect();
    for link in LINKS {
        assert!(
            ids.iter().any(|id| id == link.to),
            "{}: {}",
            link.name,
            link.to
        );
    }
}

#[test]
fn nullable_response_fields_are_required_but_request_body_fields_stay_optional() {
    let body = json!({"content": {"application/json": {"schema": {
        "$ref": "#/components/schemas/MePatch"}}}});
    let mut spec = json!({"paths": {"/v1/me": {"patch": {"requestBody": body}}},
        "components": {"schemas": {
        "Me": {"type": "object", "required": ["id"], "properties": {
            "id": {"type": "string"}, "bio": {"type": "string", "nullable": true}}},
        "MePatch": {"type": "object", "properties": {
            "bio": {"type": "string", "nullable": true}}}
    }}});
    require_nullable_response_fields(&mut spec);
    let schemas = &spec["components"]["schemas"];
    assert_eq!(schemas["Me"]["required"], json!(["id", "bio"]));
    assert!(schemas["MePatch"].get("required").is_none());
}

#[test]
fn a_nullable_reference_to_an_object_gets_the_object_type() {
    let mut spec = json!({"components": {"schemas": {
        "TeamRef": {"type": "object", "properties": {}},
        "Me": {"type": "object", "properties": {"selected_team": {
            "allOf": [{"$ref": "#/components/schemas/TeamRef"},
                      {"description": "expanded", "nullable": true}],
            "description": "expanded", "nullable": true}}}
    }}});
    type_nullable_references(&mut spec);
    assert_eq!(
        spec["components"]["schemas"]["Me"]["properties"]["selected_team"],
        json!({"allOf": [{"$ref": "#/components/schemas/TeamRef"}],
               "description": "expanded", "nullable": true, "type": "object"})
    );
}

#[test]
fn public_operations_declare_an_empty_security_requirement() {
    let mut op = Map::new();
    declare_public_operations(&mut op);
    assert_eq!(op["security"], json!([]));
    let mut secured = json!({"security": [{"BearerAuth": []}]});
    declare_public_operations(secured.as_object_mut().unwrap());
    assert_eq!(secured["security"], json!([{"BearerAuth": []}]));
}

/// Every error response lists the codes it can carry, each with an example envelope whose
/// code has that status; a status several codes share names its codes in the description.
#[test]
fn every_error_response_lists_its_codes_with_an_example_of_each() {
    let spec: Value = serde_json::from_str(&crate::api::spec_json()).unwrap();
    let mut responses = 0;
    for (path, item) in spec["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            for (status, response) in op["responses"].as_object().unwrap() {
                let Ok(status) = status.parse::<u16>() else {
                    continue;
                };
                if status < 400 {
                    continue;
                }
                responses += 1;
                let examples = response
                    .pointer("/content/application~1json/examples")
                    .and_then(Value::as_object)
                    .unwrap_or_else(|| panic!("{method} {path} {status}: no examples"));
                assert!(!examples.is_empty(), "{method} {path} {status}");
                let shared = crate::error::ErrorCode::ALL
                    .iter()
                    .filter(|c| c.status().as_u16() == status)
                    .filter(|c| !super::error_examples::only_where_named(**c))
                    .count();
                let description = response["description"].as_str().unwrap();
                let names_one = examples
                    .keys()
                    .any(|code| description.contains(&format!("`{code}`")));
                assert!(
                    shared == 1 || names_one,
                    "{method} {path} {status}: name its codes in the description"
                );
                for (code, example) in examples {
                    let known = crate::error::ErrorCode::ALL
                        .iter()
                        .find(|c| c.as_str() == code)
                        .unwrap_or_else(|| panic!("{code} is not an ErrorCode"));
                    assert_eq!(known.status().as_u16(), status, "{method} {path}: {code}");
                    assert_eq!(example["value"]["error"]["code"], *code);
                    assert_eq!(example["value"]["success"], false);
                }
            }
        }
    }
    assert!(responses > 100, "{responses}");
}

/// Every property of every schema says what it is: responses document their fields as request
/// bodies document their rules.
#[test]
fn every_schema_property_has_a_description() {
    let spec: Value = serde_json::from_str(&crate::api::spec_json()).unwrap();
    let mut missing = Vec::new();
    for (name, schema) in spec["components"]["schemas"].as_object().unwrap() {
        for (field, property) in schema["properties"].as_object().into_iter().flatten() {
            let described = property.get("description").is_some()
                || property["allOf"]
                    .as_array()
                    .is_some_and(|all| all.iter().any(|p| p.get("description").is_some()));
            if !described {
                missing.push(format!("{name}.{field}"));
            }
        }
    }
    assert!(missing.is_empty(), "undocumented: {missing:?}");
}

/// Team and API-key names follow `display_name`'s text rules; their `pattern` is written as a
/// literal in poem's validator attribute, so it is checked against `DisplayName`'s here.
#[test]
fn names_of_teams_and_keys_have_the_pattern_of_a_display_name() {
    let spec: Value = serde_json::from_str(&crate::api::spec_json()).unwrap();
    let schemas = &spec["components"]["schemas"];
    let display_name = &schemas["MePatch"]["properties"]["display_name"]["pattern"];
    assert!(display_name.is_string());
    for schema in ["TeamCreate", "TeamPatch", "ApiKeyCreate"] {
        assert_eq!(
            &schemas[schema]["properties"]["name"]["pattern"], display_name,
            "{schema}"
        );
    }
}

/// `Rendered` writes `Me` through serde: it must write what poem-openapi's `ToJSON` writes,
/// with every field filled in and with the optional ones absent or null.
#[test]
fn me_rendered_by_serde_is_what_the_schema_writes() {
    use poem_openapi::types::{ParseFromJSON, ToJSON};

    use crate::api::{me::MeEnvelope, model::Me};

    let full = {
        let mut data = response_examples::body("MeEnvelope").expect("an example")["data"].clone();
        data["pending_email"] = json!("new@example.com");
        data["recovery_codes_remaining"] = json!(7);
        data["recovery_codes"] = json!(["k7mq-2xdp-9h"]);
        data["client_metadata"] = json!({"nested": {"a": [1, "two", null, 3.5]}, "b": true});
        data
    };
    let mut empty = full.clone();
    for field in [
        "display_name",
        "bio",
        "selected_team",
        "recovery_codes_remaining",
    ] {
        empty[field] = Value::Null;
    }
    empty.as_object_mut().unwrap().remove("recovery_codes");
    for data in [full, empty] {
        let me = Me::parse_from_json(Some(data.clone())).expect("the example parses");
        let envelope = MeEnvelope::from(me);
        let by_schema = envelope.to_json().expect("JSON");
        let by_serde = serde_json::to_value(&envelope).expect("serialises");
        assert_eq!(by_serde, by_schema);
        assert_eq!(by_serde["data"], data, "and both are the example");
    }
}
