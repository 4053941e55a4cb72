//! The API's OpenAPI document: committed as `orchestrator/api/openapi.yaml`, served as JSON. Its
//! `components.schemas` must equal the JSON Schema generated from [`super::types`] (a test).

use std::sync::OnceLock;

use axum::response::Json;
use schemars::generate::SchemaSettings;
use serde_json::Value;

use crate::http::auth::api_token::ApiCaller;

/// The committed document.
pub const OPENAPI_YAML: &str = include_str!("../../../api/openapi.yaml");

/// The document as JSON.
pub fn document_value() -> &'static Value {
    static DOC: OnceLock<Value> = OnceLock::new();
    DOC.get_or_init(|| serde_yaml::from_str(OPENAPI_YAML).expect("api/openapi.yaml is valid YAML"))
}

/// GET /api/v1/openapi.json.
pub async fn document(_c: ApiCaller) -> Json<Value> {
    Json(document_value().clone())
}

/// The schemas the API's types generate.
pub fn generated_schemas() -> serde_json::Map<String, Value> {
    use super::error::ApiErrorBody;
    use super::types::*;
    let mut generator =
        SchemaSettings::draft2020_12().with(|s| s.definitions_path = "/components/schemas".into()).into_generator();
    let mut roots = serde_json::Map::new();
    for (name, schema) in [
        ("AppView", generator.subschema_for::<AppView>()),
        ("AppBody", generator.subschema_for::<AppBody>()),
        ("AppList", generator.subschema_for::<AppList>()),
        ("BulkBody", generator.subschema_for::<BulkBody>()),
        ("BulkView", generator.subschema_for::<BulkView>()),
        ("CheckBody", generator.subschema_for::<CheckBody>()),
        ("CheckView", generator.subschema_for::<CheckView>()),
        ("RunView", generator.subschema_for::<RunView>()),
        ("RunList", generator.subschema_for::<RunList>()),
        ("QueueView", generator.subschema_for::<QueueView>()),
        ("RunLogView", generator.subschema_for::<RunLogView>()),
        ("CopyView", generator.subschema_for::<CopyView>()),
        ("NoteBody", generator.subschema_for::<NoteBody>()),
        ("AdoptBody", generator.subschema_for::<AdoptBody>()),
        ("AdoptView", generator.subschema_for::<AdoptView>()),
        ("AuditBody", generator.subschema_for::<AuditBody>()),
        ("AuditView", generator.subschema_for::<AuditView>()),
        ("AuditHistoryView", generator.subschema_for::<AuditHistoryView>()),
        ("StatsView", generator.subschema_for::<StatsView>()),
        ("DriveBudgetView", generator.subschema_for::<DriveBudgetView>()),
        ("AppStatsView", generator.subschema_for::<AppStatsView>()),
        ("RestoreBody", generator.subschema_for::<RestoreBody>()),
        ("RestoreView", generator.subschema_for::<RestoreView>()),
        ("DrillBody", generator.subschema_for::<DrillBody>()),
        ("DestinationView", generator.subschema_for::<DestinationView>()),
        ("GoogleAccountView", generator.subschema_for::<GoogleAccountView>()),
        ("DestinationCheckBody", generator.subschema_for::<DestinationCheckBody>()),
        ("DestinationCheckView", generator.subschema_for::<DestinationCheckView>()),
        ("ApiErrorBody", generator.subschema_for::<ApiErrorBody>()),
        ("FleetFile", generator.subschema_for::<crate::fleet::file::FleetFile>()),
        ("FleetApplyBody", generator.subschema_for::<super::fleet::FleetApplyBody>()),
        ("FleetPlanView", generator.subschema_for::<super::fleet::FleetPlanView>()),
        ("Group", generator.subschema_for::<crate::registry::groups::Group>()),
        ("GroupInput", generator.subschema_for::<crate::registry::groups::GroupInput>()),
        ("ChannelBody", generator.subschema_for::<super::channels::ChannelBody>()),
        ("ChannelView", generator.subschema_for::<super::channels::ChannelView>()),
        ("ChannelTestView", generator.subschema_for::<super::channels::ChannelTestView>()),
        ("UserBody", generator.subschema_for::<super::users::UserBody>()),
        ("UserView", generator.subschema_for::<super::users::UserView>()),
        ("TokenBody", generator.subschema_for::<super::tokens::TokenBody>()),
        ("TokenView", generator.subschema_for::<super::tokens::TokenView>()),
        ("Progress", generator.subschema_for::<crate::http::live::Progress>()),
    ] {
        roots.insert(name.to_owned(), schema.to_value());
    }
    let mut defs = generator.take_definitions(true);
    defs.extend(roots.into_iter().filter(|(_, v)| v.get("$ref").is_none()));
    defs.values_mut().for_each(bound_integers);
    defs
}

/// Writes the range of each sized integer as `minimum` and `maximum`. JSON Schema validators
/// and request generators ignore `format: uint32`, so without bounds the document allows numbers
/// the API cannot read and refuses with 400.
fn bound_integers(schema: &mut Value) {
    match schema {
        Value::Object(fields) => {
            let range: Option<(Value, Value)> = match fields.get("format").and_then(Value::as_str) {
                Some("uint8") => Some((0.into(), u8::MAX.into())),
                Some("uint16") => Some((0.into(), u16::MAX.into())),
                Some("uint32") => Some((0.into(), u32::MAX.into())),
                Some("uint64" | "uint") => Some((0.into(), u64::MAX.into())),
                Some("int32") => Some((i32::MIN.into(), i32::MAX.into())),
                Some("int64") => Some((i64::MIN.into(), i64::MAX.into())),
                _ => None,
            };
            if let Some((min, max)) = range {
                fields.entry("minimum").or_insert(min);
                fields.entry("maximum").or_insert(max);
            }
            fields.values_mut().for_each(bound_integers);
        }
        Value::Array(items) => items.iter_mut().for_each(bound_integers),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn committed_schemas_match_the_api_types() {
        let generated = Value::Object(generated_schemas());
        if std::env::var_os("PRINT_SCHEMAS").is_some() {
            println!("{}", serde_yaml::to_string(&generated).unwrap());
        }
        let committed = document_value().pointer("/components/schemas").cloned().unwrap_or(Value::Null);
        assert_eq!(
            committed, generated,
            "orchestrator/api/openapi.yaml components.schemas drifted from the API types; print the generated \
             schemas with PRINT_SCHEMAS=1 cargo test -p orchestrator committed_schemas -- --nocapture"
        );
    }

    #[test]
    fn every_operation_documents_the_refusals_it_can_answer() {
        let doc = document_value();
        for rule in super::super::routes().rules() {
            let method = rule.method.as_str().to_ascii_lowercase();
            let op = &doc["paths"][rule.path][&method];
            let responses =
                op["responses"].as_object().unwrap_or_else(|| panic!("{method} {} is documented", rule.path));
            let reads_input = op.get("parameters").is_some() || op.get("requestBody").is_some();
            if reads_input {
                assert!(responses.contains_key("400"), "{method} {} does not document 400", rule.path);
            }
            if rule.need.role != crate::users::Role::Viewer || rule.need.confirm {
                assert!(responses.contains_key("403"), "{method} {} does not document 403", rule.path);
            }
            if rule.path.contains('{') {
                assert!(responses.contains_key("404"), "{method} {} does not document 404", rule.path);
            }
        }
    }

    #[test]
    fn every_documented_operation_needs_a_token() {
        let doc = document_value();
        for (path, item) in doc["paths"].as_object().expect("paths") {
            for (method, op) in item.as_object().expect("path item") {
                let security = op.get("security").or_else(|| doc.get("security"));
                assert!(security.is_some(), "{method} {path} documents no security");
                assert!(op["responses"].get("401").is_some(), "{method} {path} does not document 401");
            }
        }
    }
}
