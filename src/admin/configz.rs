//! `GET /configz`: every resource in force (kind, namespace/name, source file and document,
//! content hash, when this version was loaded; an AuthConfig's spec too), the resources not in
//! force, the domains denied because several VirtualServices claim them, and every current
//! config error, as JSON. Secrets are redacted: `headersToAdd` values, every value inside a
//! step's `config` and credentials in a URL; error messages never quote them.

use std::sync::atomic::Ordering;
use std::time::SystemTime;

use actix_web::{web, HttpResponse};
use serde_json::{json, Map, Value};

use super::AdminState;
use crate::compiled::{Content, Loaded, Snapshot};
use crate::config::types::AuthConfigSpec;
use crate::config::ConfigError;

/// What replaces a secret.
pub const REDACTED: &str = "<redacted>";

/// Serves the status of the config directory as last read.
pub async fn configz(state: web::Data<AdminState>) -> HttpResponse {
    let snapshot = state.config.load_full();
    let ready = state.ready.load(Ordering::Acquire);
    match super::off_thread(move || format!("{:#}\n", render(&snapshot, ready))).await {
        Some(body) => HttpResponse::Ok()
            .content_type("application/json")
            .body(body),
        None => HttpResponse::ServiceUnavailable().finish(),
    }
}

/// The `/configz` document for `snapshot`; `ready` tells whether a complete load is in force.
pub fn render(snapshot: &Snapshot, ready: bool) -> Value {
    let resources: Vec<Value> = snapshot
        .resources
        .iter()
        .map(|((kind, key), loaded)| {
            let mut entry = json!({
                "kind": kind.to_string(),
                "namespace": key.namespace,
                "name": key.name,
                "file": loaded.resource.source.file.display().to_string(),
                "document": loaded.resource.source.document,
                "hash": loaded.resource.hash,
                "loaded_at": rfc3339(loaded.loaded_at),
            });
            if let Some(spec) = spec(loaded) {
                entry["spec"] = spec;
            }
            entry
        })
        .collect();
    let invalid: Vec<Value> = snapshot
        .invalid
        .iter()
        .map(|(kind, key)| json!({"kind": kind.to_string(), "namespace": key.namespace, "name": key.name}))
        .collect();
    let contested: Vec<Value> = snapshot
        .contested
        .iter()
        .map(|(domain, claimants)| {
            let claimants: Vec<String> = claimants.iter().map(ToString::to_string).collect();
            json!({"domain": domain, "claimants": claimants})
        })
        .collect();
    let errors: Vec<Value> = snapshot.errors.iter().map(error).collect();
    json!({
        "ready": ready,
        "resources": resources,
        "invalid": invalid,
        "contested": contested,
        "errors": errors,
    })
}

fn rfc3339(at: SystemTime) -> String {
    humantime::format_rfc3339_millis(at).to_string()
}

/// The spec as written, redacted; only AuthConfigs carry secrets worth showing redacted.
fn spec(loaded: &Loaded) -> Option<Value> {
    match &loaded.resource.content {
        Content::AuthConfig(ac) => Some(redacted_auth_config(&ac.spec)),
        _ => None,
    }
}

/// An AuthConfig spec with `headersToAdd` values, `config` values and URL credentials masked.
pub fn redacted_auth_config(spec: &AuthConfigSpec) -> Value {
    let mut v = serde_json::to_value(spec).unwrap_or(Value::Null);
    let steps = v
        .get_mut("configs")
        .and_then(Value::as_array_mut)
        .into_iter()
        .flatten();
    for step in steps {
        let Some(pta) = step.get_mut("passThroughAuth") else {
            continue;
        };
        if let Some(config) = pta.get_mut("config") {
            mask_leaves(config);
        }
        let Some(http) = pta.get_mut("http") else {
            continue;
        };
        if let Some(added) = http
            .pointer_mut("/request/headersToAdd")
            .and_then(Value::as_object_mut)
        {
            for value in added.values_mut() {
                *value = REDACTED.into();
            }
        }
        if let Some(Value::String(url)) = http.get_mut("url") {
            *url = without_userinfo(url);
        }
    }
    v
}

/// Replaces every scalar inside `value` (objects and arrays keep their shape).
fn mask_leaves(value: &mut Value) {
    match value {
        Value::Object(map) => map.values_mut().for_each(mask_leaves),
        Value::Array(items) => items.iter_mut().for_each(mask_leaves),
        Value::Null => {}
        other => *other = REDACTED.into(),
    }
}

/// `scheme://user:pass@host/…` becomes `scheme://<redacted>@host/…`.
fn without_userinfo(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_string();
    };
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    match rest[..authority_end].rfind('@') {
        Some(at) => format!("{scheme}://{REDACTED}@{}", &rest[at + 1..]),
        None => url.to_string(),
    }
}

/// A config error (its message holds no secret: see `ConfigError::without_secrets`).
fn error(e: &ConfigError) -> Value {
    let mut m = Map::new();
    m.insert("file".into(), e.file.display().to_string().into());
    m.insert("document".into(), e.document.into());
    m.insert("resource".into(), e.resource.clone().into());
    m.insert("field".into(), e.field.clone().into());
    m.insert("line".into(), e.line.into());
    m.insert("column".into(), e.column.into());
    m.insert("message".into(), e.message.clone().into());
    Value::Object(m)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_masked_and_the_rest_kept() {
        let yaml = "configs: [{name: a, passThroughAuth: {config: {token: s3cret, n: [1, {k: true}]}, http: {url: 'http://auth:9001/x', request: {allowedHeaders: [authorization], headersToAdd: {x-api-key: s3cret}}}}}]";
        let spec: AuthConfigSpec = serde_norway::from_str(yaml).unwrap();
        let v = redacted_auth_config(&spec);
        let text = v.to_string();
        assert!(!text.contains("s3cret"), "{text}");
        let pta = &v["configs"][0]["passThroughAuth"];
        assert_eq!(
            pta["http"]["request"]["headersToAdd"]["x-api-key"],
            REDACTED
        );
        assert_eq!(pta["config"]["token"], REDACTED);
        assert_eq!(pta["config"]["n"][1]["k"], REDACTED);
        assert_eq!(pta["http"]["url"], "http://auth:9001/x");
        assert_eq!(pta["http"]["request"]["allowedHeaders"][0], "authorization");
    }

    #[test]
    fn userinfo_is_masked() {
        assert_eq!(
            without_userinfo("http://u:p@h:1/a@b"),
            "http://<redacted>@h:1/a@b"
        );
        assert_eq!(without_userinfo("http://h/a@b"), "http://h/a@b");
    }
}
