//! The committed `openapi.yaml` and the Rust wire types must describe the same contract.
//!
//! `components.schemas` in the document must equal the JSON Schema generated from the types;
//! run with `PRINT_SCHEMAS=1 cargo test -p contract-spec --test openapi_drift -- --nocapture`
//! to print what the types generate when you change them.

use contract_spec::{Capabilities, ErrorBody, ErrorCode, ExportRequest, Health, ImportResult, VerifyReport};
use schemars::generate::SchemaSettings;
use serde_json::Value;

fn generated_schemas() -> serde_json::Map<String, Value> {
    let mut generator =
        SchemaSettings::draft2020_12().with(|s| s.definitions_path = "/components/schemas".into()).into_generator();
    let mut roots = serde_json::Map::new();
    for (name, schema) in [
        ("Capabilities", generator.subschema_for::<Capabilities>()),
        ("ExportRequest", generator.subschema_for::<ExportRequest>()),
        ("ImportResult", generator.subschema_for::<ImportResult>()),
        ("VerifyReport", generator.subschema_for::<VerifyReport>()),
        ("Health", generator.subschema_for::<Health>()),
        ("ErrorBody", generator.subschema_for::<ErrorBody>()),
        ("ErrorCode", generator.subschema_for::<ErrorCode>()),
    ] {
        roots.insert(name.to_owned(), schema.to_value());
    }
    let mut defs = generator.take_definitions(true);
    defs.extend(roots.into_iter().filter(|(_, v)| v.get("$ref").is_none()));
    defs
}

fn committed() -> Value {
    serde_yaml::from_str(contract_spec::OPENAPI_YAML).expect("openapi.yaml is valid YAML")
}

#[test]
fn committed_schemas_match_the_wire_types() {
    let generated = Value::Object(generated_schemas());
    if std::env::var_os("PRINT_SCHEMAS").is_some() {
        println!("{}", serde_yaml::to_string(&generated).unwrap());
    }
    let doc = committed();
    let committed = doc.pointer("/components/schemas").cloned().unwrap_or(Value::Null);
    assert_eq!(
        committed, generated,
        "contract-spec/openapi.yaml components.schemas drifted from the Rust types; \
         print the generated schemas with PRINT_SCHEMAS=1 and update one side"
    );
}

#[test]
fn committed_paths_are_the_contract_routes() {
    let doc = committed();
    let mut paths: Vec<&str> = doc["paths"].as_object().expect("paths").keys().map(String::as_str).collect();
    paths.sort_unstable();
    let mut expected = vec![
        contract_spec::CAPABILITIES_PATH,
        contract_spec::EXPORT_PATH,
        contract_spec::IMPORT_PATH,
        contract_spec::VERIFY_PATH,
    ];
    expected.sort_unstable();
    assert_eq!(paths, expected);
}

#[test]
fn every_error_code_is_documented_with_its_status() {
    let text = contract_spec::OPENAPI_YAML;
    let doc = committed();
    let statuses: Vec<String> = ["/backup/export", "/backup/import"]
        .iter()
        .flat_map(|p| doc["paths"][p]["post"]["responses"].as_object().expect("responses").keys().cloned())
        .collect();
    for code in ErrorCode::ALL {
        assert!(statuses.contains(&code.status().to_string()), "status {} of {code} is not documented", code.status());
        assert!(text.contains(&format!("`{code}`")), "code {code} is not described in a response");
    }
}

#[test]
fn trailers_and_headers_are_documented() {
    let doc = committed();
    let export = &doc["paths"]["/backup/export"]["post"]["responses"]["200"]["headers"];
    assert!(export.get(contract_spec::TRAILER_SHA256).is_some());
    assert!(export.get(contract_spec::TRAILER_BYTES).is_some());
    let import: Vec<String> = doc["paths"]["/backup/import"]["post"]["parameters"]
        .as_array()
        .expect("parameters")
        .iter()
        .map(|p| p["name"].as_str().unwrap_or_default().to_ascii_lowercase())
        .collect();
    assert!(import.contains(&contract_spec::HEADER_BACKUP_TYPE.to_owned()));
    assert!(import.contains(&contract_spec::HEADER_BACKUP_SHA256.to_owned()));
}
