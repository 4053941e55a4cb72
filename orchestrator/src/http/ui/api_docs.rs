//! The API reference, served by the product itself from the committed `openapi.yaml` (no CDN,
//! no script): every route with its parameters, body and answers, then every schema with its
//! fields. Readable when signed in; the document itself is offered for download.

use askama::Template;
use axum::http::header;
use axum::response::{Html, IntoResponse, Response};
use serde_json::Value;

use crate::http::api::openapi::{OPENAPI_YAML, document_value};
use crate::http::error::PageError;
use crate::http::ui::{Page, render};

/// One route and method.
pub struct Operation {
    /// GET, POST, ...
    pub method: String,
    /// `/api/v1/apps/{name}`.
    pub path: String,
    /// An anchor for links.
    pub anchor: String,
    /// One line.
    pub summary: String,
    /// More, when the document has it.
    pub description: String,
    /// Parameters: name, where, required, description.
    pub parameters: Vec<(String, String, bool, String)>,
    /// The body's schema, when it takes one.
    pub body: Option<String>,
    /// Answers: status, description, schema (if any).
    pub responses: Vec<(String, String, Option<String>)>,
}

/// One schema.
pub struct Schema {
    /// Its name (the anchor too).
    pub name: String,
    /// What it is.
    pub description: String,
    /// Fields: name, type, required, description.
    pub fields: Vec<(String, String, bool, String)>,
}

#[derive(Template)]
#[template(path = "api_docs.html")]
struct DocsPage {
    page: Page,
    title: String,
    version: String,
    description: String,
    operations: Vec<Operation>,
    schemas: Vec<Schema>,
}

fn text(v: &Value, key: &str) -> String {
    v.get(key).and_then(Value::as_str).unwrap_or_default().trim().to_owned()
}

/// `#/components/schemas/AppView` → `AppView`.
fn schema_name(schema: &Value) -> Option<String> {
    if let Some(reference) = schema.get("$ref").and_then(Value::as_str) {
        return reference.rsplit('/').next().map(str::to_owned);
    }
    if let Some(items) = schema.get("items") {
        return schema_name(items).map(|n| format!("[{n}]"));
    }
    schema.get("type").map(type_words)
}

/// A schema's type in a few words: `string`, `integer or null`, `[CopyView]`, `AppView`.
fn type_words(t: &Value) -> String {
    match t {
        Value::String(s) => s.clone(),
        Value::Array(types) => types.iter().filter_map(Value::as_str).collect::<Vec<_>>().join(" or "),
        _ => String::new(),
    }
}

fn field_type(schema: &Value) -> String {
    if let Some(name) = schema_name(schema) {
        return name;
    }
    for combinator in ["anyOf", "oneOf", "allOf"] {
        if let Some(options) = schema.get(combinator).and_then(Value::as_array) {
            return options.iter().map(field_type).collect::<Vec<_>>().join(" or ");
        }
    }
    String::new()
}

/// Reads the document into operations and schemas.
fn read(doc: &Value) -> (Vec<Operation>, Vec<Schema>) {
    let mut operations = Vec::new();
    for (path, item) in doc.get("paths").and_then(Value::as_object).into_iter().flatten() {
        let shared: Vec<Value> = item.get("parameters").and_then(Value::as_array).cloned().unwrap_or_default();
        for method in ["get", "post", "put", "patch", "delete"] {
            let Some(op) = item.get(method) else { continue };
            let mut parameters: Vec<Value> = shared.clone();
            parameters.extend(op.get("parameters").and_then(Value::as_array).cloned().unwrap_or_default());
            let body = op
                .pointer("/requestBody/content")
                .and_then(Value::as_object)
                .and_then(|c| c.values().next())
                .and_then(|m| m.get("schema"))
                .and_then(schema_name);
            let mut responses: Vec<(String, String, Option<String>)> = op
                .get("responses")
                .and_then(Value::as_object)
                .into_iter()
                .flatten()
                .map(|(code, r)| {
                    let schema = r
                        .get("content")
                        .and_then(Value::as_object)
                        .and_then(|c| c.values().next())
                        .and_then(|m| m.get("schema"))
                        .and_then(schema_name);
                    (code.clone(), text(r, "description"), schema)
                })
                .collect();
            responses.sort_by(|a, b| a.0.cmp(&b.0));
            operations.push(Operation {
                method: method.to_uppercase(),
                anchor: format!("{method}-{}", path.replace(['/', '{', '}'], "-").trim_matches('-')),
                path: path.clone(),
                summary: text(op, "summary"),
                description: text(op, "description"),
                parameters: parameters
                    .iter()
                    .map(|p| {
                        let required = p.get("required").and_then(Value::as_bool).unwrap_or(false);
                        (text(p, "name"), text(p, "in"), required, text(p, "description"))
                    })
                    .collect(),
                body,
                responses,
            });
        }
    }
    let mut schemas = Vec::new();
    for (name, schema) in doc.pointer("/components/schemas").and_then(Value::as_object).into_iter().flatten() {
        let required: Vec<&str> =
            schema.get("required").and_then(Value::as_array).into_iter().flatten().filter_map(Value::as_str).collect();
        let fields = schema
            .get("properties")
            .and_then(Value::as_object)
            .into_iter()
            .flatten()
            .map(|(field, s)| {
                (field.clone(), field_type(s), required.contains(&field.as_str()), text(s, "description"))
            })
            .collect();
        schemas.push(Schema { name: name.clone(), description: text(schema, "description"), fields });
    }
    (operations, schemas)
}

/// GET /api-docs.
pub async fn page(page: Page) -> Result<Html<String>, PageError> {
    let doc = document_value();
    let (operations, schemas) = read(doc);
    let info = doc.get("info").cloned().unwrap_or_default();
    render(&DocsPage {
        page,
        title: text(&info, "title"),
        version: text(&info, "version"),
        description: text(&info, "description"),
        operations,
        schemas,
    })
}

/// GET /api-docs/openapi.yaml: the document itself.
pub async fn yaml(_page: Page) -> Response {
    ([(header::CONTENT_TYPE, "application/yaml; charset=utf-8")], OPENAPI_YAML).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_route_and_schema_of_the_document_is_read() {
        let doc = document_value();
        let (operations, schemas) = read(doc);
        let routes: usize = doc["paths"]
            .as_object()
            .unwrap()
            .values()
            .map(|item| ["get", "post", "put", "patch", "delete"].iter().filter(|m| item.get(**m).is_some()).count())
            .sum();
        assert_eq!(operations.len(), routes);
        assert_eq!(schemas.len(), doc["components"]["schemas"].as_object().unwrap().len());
        let cancel = operations.iter().find(|o| o.path == "/api/v1/runs/{id}/cancel").expect("cancel is documented");
        assert_eq!(cancel.method, "POST");
        assert!(cancel.parameters.iter().any(|p| p.0 == "id" && p.1 == "path" && p.2), "{:?}", cancel.parameters);
        assert!(cancel.responses.iter().any(|r| r.0 == "202" && r.2.as_deref() == Some("RunView")));
        let create = operations.iter().find(|o| o.path == "/api/v1/apps" && o.method == "POST").unwrap();
        assert_eq!(create.body.as_deref(), Some("AppBody"));
        let app_body = schemas.iter().find(|s| s.name == "AppBody").unwrap();
        assert!(app_body.fields.iter().any(|f| f.0 == "no_check" && !f.3.is_empty()));
    }
}
