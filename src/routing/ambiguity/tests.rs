use std::collections::BTreeMap;
use std::sync::Arc;

use super::*;
use crate::config::types::ObjectKey;
use crate::routing::{compile_virtual_service, CompiledVirtualService};

fn table(docs: &[(&str, &str)]) -> RouteTable {
    let compiled: Vec<(ObjectKey, Arc<CompiledVirtualService>)> = docs
        .iter()
        .map(|(name, yaml)| {
            let spec = serde_norway::from_str(yaml).unwrap();
            let vs = compile_virtual_service("ns", &spec).unwrap();
            (ObjectKey::new("ns", name), Arc::new(vs))
        })
        .collect();
    RouteTable::build(compiled.iter().map(|(k, v)| (k, v)), &BTreeMap::new()).0
}

/// A protected `admin.example` (`/open` unprotected, `/other` another config) and an open
/// catch-all.
fn sites() -> RouteTable {
    table(&[
        ("admin", "virtualHost: {domains: [admin.example], routes: [{matchers: [{prefix: /open}], options: {extauth: {disable: true}}}, {matchers: [{prefix: /other}], options: {extauth: {configRef: {name: other}}}}, {matchers: [{prefix: /}]}], options: {extauth: {configRef: {name: strict}}}}"),
        ("rest", "virtualHost: {domains: ['*'], routes: [{matchers: [{prefix: /}]}]}"),
    ])
}

/// The AuthConfig (or `-` for none, `404` for no route) or `ambiguous`.
fn outcome(table: &RouteTable, host: &str, path: &str, headers: &HeaderMap) -> String {
    match route_checked(table, "GET", host, path, headers) {
        Err(_) => "ambiguous".into(),
        Ok(RouteDecision::NoMatch) => "404".into(),
        Ok(RouteDecision::Matched {
            auth: AuthTarget::Config(k),
            ..
        }) => k.name.clone(),
        Ok(RouteDecision::Matched { .. }) => "-".into(),
        Ok(RouteDecision::Contested { .. }) => "contested".into(),
    }
}

fn get(table: &RouteTable, host: &str, path: &str) -> String {
    let mut headers = HeaderMap::new();
    headers.insert(HOST, HeaderValue::from_str(host).unwrap());
    outcome(table, host, path, &headers)
}

#[test]
fn hosts_envoy_reads_otherwise_are_refused_when_the_policy_differs() {
    let t = sites();
    for (host, want) in [
        ("admin.example", "strict"),
        ("ADMIN.example", "strict"),
        ("other.example", "-"),
        // a port: Envoy strips it, a plain Envoy matches domains with it
        ("ADMIN.example:8080", "ambiguous"),
        ("admin.example:0", "ambiguous"),
        // Envoy strips the dot (and a port), a plain Envoy does not
        ("admin.example.", "ambiguous"),
        ("admin.example.:80", "ambiguous"),
        ("Admin.Example.", "ambiguous"),
        // Envoy strips any port that fits in 32 bits
        ("admin.example:99999", "ambiguous"),
        ("admin.example:65536", "ambiguous"),
        ("admin.example:+80", "ambiguous"),
        ("admin.example:00000080", "ambiguous"),
        // ...and no other: every reading keeps them, and they go to the catch-all
        ("admin.example:", "-"),
        ("admin.example:4294967296", "-"),
        ("admin.example:abc", "-"),
        ("admin.example:-1", "-"),
        ("admin.example::80", "-"),
        // what the generated Envoy leaves of `admin.example:80:80`, matched with its port
        ("admin.example:80:80", "-"),
        ("admin.example.:", "-"),
        // one dot goes: `admin.example.` as Envoy reads it, the catch-all either way
        ("admin.example..", "-"),
        ("admin.example..:80", "-"),
        // an odd host whose readings agree is not refused
        ("other.example.", "-"),
        ("other.example:99999", "-"),
        ("other.example:80", "-"),
    ] {
        assert_eq!(get(&t, host, "/x"), want, "Host {host:?}");
    }
}

#[test]
fn paths_not_in_normal_form_are_refused_when_the_policy_differs() {
    let t = sites();
    for (path, want) in [
        ("/open/x", "-"),
        ("/x", "strict"),
        ("/other/x", "other"),
        ("//open/x", "ambiguous"),
        ("/./open", "ambiguous"),
        ("/x/../open", "ambiguous"),
        ("/%6Fpen", "ambiguous"),
        ("/%2Fopen", "ambiguous"),
        ("/x%2F..%2Fopen", "ambiguous"),
        ("/x\\..\\open", "ambiguous"),
        ("/x/..;/open", "ambiguous"),
        ("/x/%2e%2e/open", "ambiguous"),
        ("/open/../x", "ambiguous"),
        ("/open/../other", "ambiguous"),
        // both readings ask for the same AuthConfig or none
        ("//x", "strict"),
        ("/x/./y", "strict"),
        ("/open/./x", "-"),
        ("/open//x", "-"),
        ("/x%2Fy", "strict"),
        ("/%7Ex", "strict"),
        ("/other/../other", "other"),
        // not normal form, but the same string normalised
        ("/x%zz", "strict"),
        // the query is not part of the path
        ("/x?/../open", "strict"),
        // Envoy refuses these itself
        ("/x%00", "ambiguous"),
    ] {
        assert_eq!(get(&t, "admin.example", path), want, "path {path:?}");
    }
}

#[test]
fn host_and_path_readings_are_combined() {
    let t = sites();
    // the path is ambiguous on the admin host only
    assert_eq!(get(&t, "admin.example.", "/x/../open"), "ambiguous");
    assert_eq!(get(&t, "other.example.", "/x/../open"), "-");
    // both odd, every reading protected by the same config: the host dot goes to the
    // catch-all, so this is ambiguous too
    assert_eq!(get(&t, "admin.example.", "//x"), "ambiguous");
}

#[test]
fn no_route_and_an_open_route_disagree_and_a_contested_domain_disagrees_with_anything() {
    let t = table(&[(
        "only",
        "virtualHost: {domains: ['*'], routes: [{matchers: [{exact: /health}], options: {extauth: {disable: true}}}]}",
    )]);
    assert_eq!(get(&t, "h", "/health"), "-");
    assert_eq!(get(&t, "h", "/nothing"), "404");
    assert_eq!(get(&t, "h", "//health"), "ambiguous");
    assert_eq!(get(&t, "h", "//nothing"), "404");
    let spec = serde_norway::from_str(
        "virtualHost: {domains: ['*'], routes: [{matchers: [{prefix: /}]}]}",
    )
    .unwrap();
    let any = Arc::new(compile_virtual_service("ns", &spec).unwrap());
    let key = ObjectKey::new("ns", "any");
    let denied = BTreeMap::from([(
        "site.example".to_string(),
        [ObjectKey::new("ns", "x"), ObjectKey::new("ns", "y")].into(),
    )]);
    let (t, _) = RouteTable::build([(&key, &any)], &denied);
    assert_eq!(get(&t, "site.example", "/"), "contested");
    assert_eq!(get(&t, "site.example", "//"), "contested");
    assert_eq!(get(&t, "site.example.", "/"), "ambiguous");
    assert_eq!(get(&t, "elsewhere.", "/"), "-");
}

#[test]
fn same_policy_compares_auth_configs_not_routes() {
    let t = table(&[(
        "v",
        "virtualHost: {domains: ['*'], routes: [{matchers: [{prefix: /a}], options: {extauth: {configRef: {name: c}}}}, {matchers: [{prefix: /b}], options: {extauth: {configRef: {name: c}}}}, {matchers: [{prefix: /u}]}, {matchers: [{prefix: /d}], options: {extauth: {disable: true}}}]}",
    )]);
    assert_eq!(get(&t, "h", "/a/../b"), "c");
    assert_eq!(get(&t, "h", "/u/../d"), "-");
    assert_eq!(get(&t, "h", "/a/../u"), "ambiguous");
}

#[test]
fn authority_matchers_see_each_readings_host() {
    let t = table(&[(
        "v",
        "virtualHost: {domains: ['*'], routes: [{matchers: [{prefix: /, headers: [{name: ':authority', value: a.example}]}], options: {extauth: {configRef: {name: exact}}}}, {matchers: [{prefix: /, headers: [{name: host, value: 'b\\.example:.*', regex: true}]}], options: {extauth: {configRef: {name: port}}}}, {matchers: [{prefix: /}]}]}",
    )]);
    assert_eq!(get(&t, "a.example", "/"), "exact");
    // Envoy compares the value as it is, case included
    assert_eq!(get(&t, "A.example", "/"), "-");
    // `a.example.` and `a.example:80` are `a.example` to the generated Envoy, and not to a
    // plain one
    assert_eq!(get(&t, "a.example.", "/"), "ambiguous");
    assert_eq!(get(&t, "a.example:80", "/"), "ambiguous");
    assert_eq!(get(&t, "b.example:80", "/"), "ambiguous");
    // no Envoy strips an empty port
    assert_eq!(get(&t, "b.example:", "/"), "port");
    // a check over HTTP/2 has no Host header: its authority is used
    assert_eq!(outcome(&t, "a.example", "/", &HeaderMap::new()), "exact");
}

#[test]
fn an_ambiguity_names_both_readings_and_never_the_query() {
    let t = sites();
    let headers = HeaderMap::new();
    let err = route_checked(&t, "GET", "admin.example.", "/x?token=secret", &headers)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("as sent (Host `admin.example.`, path `/x`)"),
        "{err}"
    );
    assert!(err.contains("VirtualService ns/rest"), "{err}");
    assert!(
        err.contains("normalised (Host `admin.example`, path `/x`)"),
        "{err}"
    );
    assert!(err.contains("AuthConfig ns/strict"), "{err}");
    assert!(!err.contains("secret"), "{err}");
    let long = format!("/{}/../open", "x".repeat(500));
    let err = route_checked(&t, "GET", "admin.example", &long, &headers)
        .unwrap_err()
        .to_string();
    assert!(err.len() < 600, "{err}");
}
