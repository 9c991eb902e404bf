//! The call each step makes, built by the server's own [`build_request`] from the check as the
//! AuthConfig's actor would receive it, and shown with its secrets masked.

use actix_web::http::header::{HeaderName, HeaderValue, CONTENT_TYPE, HOST};
use serde_json::{Map, Value};

use super::model::{AuthCall, Header, StepInfo};
use super::redact::Redactor;
use crate::passthrough::{build_request, AuthRequest, CheckRequest};
use crate::policy::{AuthPolicy, StepPolicy};

/// The steps of `policy` with the call each makes for `check`; the state is the one known
/// before any call (empty): a step after the first sees what earlier answers put there, which
/// only `--call` knows.
pub fn planned(policy: &AuthPolicy, check: &CheckRequest, redact: Redactor) -> Vec<StepInfo> {
    policy
        .steps
        .iter()
        .enumerate()
        .map(|(index, step)| StepInfo {
            index,
            name: step.name.clone(),
            request: Some(shown(
                step,
                &build_request(step, check, &Map::new()),
                redact,
            )),
            answer: None,
            not_called: None,
        })
        .collect()
}

/// The call `request` of `step` as the auth service receives it: the headers extauth sets
/// (copied ones, `headersToAdd`, the JSON content type), then those the HTTP client adds.
pub fn shown(step: &StepPolicy, request: &AuthRequest, redact: Redactor) -> AuthCall {
    let secret: Vec<HeaderName> = step.headers_to_add.iter().map(|(n, _)| n.clone()).collect();
    let mut headers = redact.headers(request.headers.iter().map(|(n, v)| (n, v)), &secret);
    if request.is_json() {
        headers.push(Header {
            name: CONTENT_TYPE.as_str().into(),
            value: "application/json".into(),
        });
    }
    let mut client_headers = Vec::new();
    if !request.headers.iter().any(|(n, _)| *n == HOST) {
        let authority = step.url.authority().map_or("", |a| a.as_str());
        let host = authority.rsplit('@').next().unwrap_or(authority);
        client_headers.push(redact.header(&HOST, &value(host), &[]));
    }
    client_headers.push(Header {
        name: "content-length".into(),
        value: request.body.len().to_string(),
    });
    client_headers.push(Header {
        name: "accept-encoding".into(),
        value: "identity".into(),
    });
    client_headers.push(Header {
        name: "date".into(),
        value: "(the time of the call)".into(),
    });
    let body = (!request.body.is_empty()).then(|| {
        serde_json::from_slice::<Value>(&request.body)
            .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&request.body).into()))
    });
    AuthCall {
        method: "POST".into(),
        url: redact.url(&step.url),
        headers,
        client_headers,
        body,
        timeout_ms: step.timeout.as_millis(),
    }
}

fn value(text: &str) -> HeaderValue {
    HeaderValue::from_str(text).unwrap_or_else(|_| HeaderValue::from_static(""))
}
