//! The decision cache (`passThroughAuth.http.cache`) against real auth services on 127.0.0.1
//! that count their calls: what may share an entry (`security`), lifetimes and what is never
//! stored (`lifetimes`), coalescing and stale-if-error (`flights`), purge, edits, the entry
//! bound, metrics and config errors (`operations`).

mod flights;
mod lifetimes;
mod operations;
mod security;

use crate::harness::http::{exchange, request_bytes};
use crate::harness::*;
use serde_json::{json, Value};
use std::time::Duration;

/// The `http` block of a step calling `srv` at `/auth`, copying `authorization`, with the
/// `cache` block `cache` (none when null).
pub fn http(srv: &AuthServer, cache: Value) -> Value {
    let mut h = json!({
        "url": srv.url("/auth"),
        "request": {"allowedHeaders": ["authorization"]},
        "response": {
            "allowedUpstreamHeaders": ["x-user"],
            "allowedUpstreamHeadersToOverwrite": ["x-role"],
            "allowedClientHeadersOnSuccess": ["set-cookie"],
            "allowedClientHeadersOnDenied": ["www-authenticate"],
        },
    });
    if !cache.is_null() {
        h["cache"] = cache;
    }
    h
}

/// extauth with 4 workers (so that successive checks land on different worker threads) and
/// the one AuthConfig `ac` whose single step is `http`.
pub fn serve(http: Value) -> Extauth {
    Extauth::start_with(
        &[("config.yaml", &single(http, json!({})))],
        &["--workers", "4"],
    )
}

/// A check carrying `authorization: token`.
pub fn check(ext: &Extauth, token: &str) -> Answer {
    ext.get("/", &[("authorization", token)])
}

/// `extauth_cache_lookups_total` of AuthConfig `name` for `result` (0 when absent).
pub fn lookups(ext: &Extauth, name: &str, result: &str) -> f64 {
    let series =
        format!("extauth_cache_lookups_total{{auth_config=\"{NS}/{name}\",result=\"{result}\"}}");
    ext.metric(&series).unwrap_or(0.0)
}

/// `METHOD path` on the admin port: status, headers and body.
pub fn admin(ext: &Extauth, method: &str, path: &str) -> (u16, Answer) {
    let raw = request_bytes(method, path, &[("host", "admin")], b"");
    let msg = exchange(&ext.admin_addr, &raw, Duration::from_secs(10)).expect("admin request");
    let answer = Answer::from_message(msg);
    (answer.status, answer)
}

/// `POST /cache/purge` (with `query`): the JSON answer, asserting a 200.
pub fn purge(ext: &Extauth, query: &str) -> Value {
    let (status, answer) = admin(ext, "POST", &format!("/cache/purge{query}"));
    assert_eq!(status, 200, "{answer:?}");
    serde_json::from_slice(&answer.body).expect("JSON purge answer")
}

/// An allow naming `user`, with a header of each list.
pub fn allow(user: &str) -> Reply {
    Reply::ok()
        .header("x-user", user)
        .header("x-role", &format!("role-of-{user}"))
        .header("set-cookie", &format!("s={user}"))
        .header("x-unlisted", "never passed on")
}

/// The answer's headers that a step's lists pass on, by name (the values of one name in
/// order; the order of names in an answer is the HTTP server's).
pub fn passed_on(a: &Answer) -> Vec<(String, String)> {
    let mut passed: Vec<(String, String)> = a
        .headers
        .iter()
        .filter(|(n, _)| {
            ["x-user", "x-role", "set-cookie", "www-authenticate"]
                .contains(&n.to_ascii_lowercase().as_str())
        })
        .map(|(n, v)| (n.to_ascii_lowercase(), v.clone()))
        .collect();
    passed.sort_by(|a, b| a.0.cmp(&b.0));
    passed
}

/// The auth service of the security tests: allows `Bearer alice` and `Bearer carol`, denies
/// anyone else, naming them in its headers.
pub fn by_token() -> AuthServer {
    AuthServer::with(|r| {
        let token = r.get("authorization").unwrap_or_default();
        match token.strip_prefix("Bearer ") {
            Some(user @ ("alice" | "carol")) => allow(user),
            _ => Reply::status(403).header("www-authenticate", &format!("denied {token}")),
        }
    })
}
