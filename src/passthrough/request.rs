//! Building the call to the auth service: which headers, which JSON body.

use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::web::Bytes;
use serde_json::{Map, Value};

use super::CheckRequest;
use crate::policy::StepPolicy;

/// What to send to the auth service for one step.
#[derive(Debug, Clone, PartialEq)]
pub struct AuthRequest {
    /// Headers in order: copied ones, then `headersToAdd` (which replaced same-named copies).
    pub headers: Vec<(HeaderName, HeaderValue)>,
    /// The JSON body, or empty.
    pub body: Bytes,
}

impl AuthRequest {
    /// Whether the body is JSON (and needs `content-type: application/json`).
    pub fn is_json(&self) -> bool {
        !self.body.is_empty()
    }
}

/// Builds the call for `step` from the check and the chain's current `state`.
pub fn build_request(
    step: &StepPolicy,
    check: &CheckRequest,
    state: &Map<String, Value>,
) -> AuthRequest {
    let mut headers: Vec<(HeaderName, HeaderValue)> =
        Vec::with_capacity(step.allowed_headers.len() + step.headers_to_add.len());
    for name in &step.allowed_headers {
        for (_, value) in check.headers.iter().filter(|(n, _)| n == name) {
            headers.push((name.clone(), value.clone()));
        }
    }
    for (name, value) in &step.headers_to_add {
        headers.retain(|(n, _)| n != name);
        headers.push((name.clone(), value.clone()));
    }
    let body = if step.has_body() {
        let mut doc = Map::new();
        if step.pass_body {
            doc.insert(
                "body".into(),
                Value::String(String::from_utf8_lossy(&check.body).into_owned()),
            );
        }
        if step.pass_state {
            doc.insert("state".into(), Value::Object(state.clone()));
        }
        if step.pass_filter_metadata {
            // Envoy's HTTP mode sends no filter metadata; Gloo's field is kept, always empty.
            doc.insert("filterMetadata".into(), Value::Object(Map::new()));
        }
        if let Some(config) = &step.config {
            doc.insert("config".into(), config.clone());
        }
        Bytes::from(serde_json::to_vec(&Value::Object(doc)).unwrap_or_default())
    } else {
        Bytes::new()
    };
    AuthRequest { headers, body }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::types::AuthConfigSpec;
    use actix_web::http::Method;

    fn step(yaml: &str) -> StepPolicy {
        let spec: AuthConfigSpec = serde_norway::from_str(yaml).unwrap();
        crate::policy::compile(&spec).unwrap().steps.remove(0)
    }

    fn check() -> CheckRequest {
        let mut headers = Vec::new();
        for (k, v) in [
            ("authorization", "a"),
            ("x-multi", "1"),
            ("x-multi", "2"),
            ("cookie", "secret"),
            ("x-over", "client"),
        ] {
            headers.push((HeaderName::from_static(k), HeaderValue::from_static(v)));
        }
        CheckRequest {
            method: Method::GET,
            path: "/p".into(),
            headers,
            body: Bytes::from_static(b"hello"),
        }
    }

    #[test]
    fn copies_only_allowed_headers_and_overwrites() {
        let s = step("configs: [{passThroughAuth: {http: {url: 'http://a/x', request: {allowedHeaders: [Authorization, X-Multi, x-over, host], headersToAdd: {x-over: mine}}}}}]");
        let req = build_request(&s, &check(), &Map::new());
        let got: Vec<(String, String)> = req
            .headers
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_str().unwrap().to_string()))
            .collect();
        let want: Vec<(String, String)> = [
            ("authorization", "a"),
            ("x-multi", "1"),
            ("x-multi", "2"),
            ("x-over", "mine"),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        assert_eq!(got, want);
        assert!(req.body.is_empty());
    }

    #[test]
    fn json_body_has_exactly_the_enabled_keys() {
        let s = step("configs: [{passThroughAuth: {config: {k: 1}, http: {url: 'http://a/', request: {passThroughBody: true, passThroughFilterMetadata: true}}}}]");
        let req = build_request(&s, &check(), &Map::new());
        let v: Value = serde_json::from_slice(&req.body).unwrap();
        assert_eq!(
            v,
            serde_json::json!({"body": "hello", "filterMetadata": {}, "config": {"k": 1}})
        );
        let s = step("configs: [{passThroughAuth: {http: {url: 'http://a/', request: {passThroughState: true}}}}]");
        let mut state = Map::new();
        state.insert("user".into(), Value::from("bob"));
        let v: Value = serde_json::from_slice(&build_request(&s, &check(), &state).body).unwrap();
        assert_eq!(v, serde_json::json!({"state": {"user": "bob"}}));
    }

    /// awc refuses to send an `expect` header without a body, and waits for `100 Continue`
    /// with one: copied, it would turn every check into a failed call.
    #[test]
    fn expect_is_never_copied_even_when_listed() {
        let s = step("configs: [{passThroughAuth: {http: {url: 'http://a/x', request: {allowedHeaders: [Expect, authorization]}}}}]");
        let mut check = check();
        check.headers.push((
            HeaderName::from_static("expect"),
            HeaderValue::from_static("foo"),
        ));
        let req = build_request(&s, &check, &Map::new());
        let names: Vec<&str> = req.headers.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names, ["authorization"]);
    }
}
