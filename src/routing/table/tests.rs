//! The table's lookup order, inheritance, contested domains and route identities.

use super::*;
use crate::routing::compile_virtual_service;
use actix_web::http::header::HeaderMap;

fn vs(yaml: &str) -> Arc<CompiledVirtualService> {
    let spec = serde_norway::from_str(yaml).unwrap();
    Arc::new(compile_virtual_service("ns", &spec).unwrap())
}

fn decide<'a>(table: &'a RouteTable, host: &str, path: &str) -> RouteDecision<'a> {
    let headers = HeaderMap::new();
    let host = crate::routing::normalize_host(host);
    table.route(&RequestView {
        method: "GET",
        host: &host,
        path_and_query: path,
        headers: &headers,
    })
}

fn config_of(d: RouteDecision<'_>) -> Option<String> {
    match d {
        RouteDecision::Matched {
            auth: AuthTarget::Config(k),
            ..
        } => Some(k.to_string()),
        RouteDecision::Matched { .. } => Some("none".into()),
        RouteDecision::NoMatch => None,
        RouteDecision::Contested { .. } => Some("contested".into()),
    }
}

#[test]
fn domain_order_and_inheritance() {
    let a = vs("virtualHost: {domains: [foo.com], routes: [{matchers: [{prefix: /open}], options: {extauth: {disable: true}}}, {matchers: [{prefix: /}]}], options: {extauth: {configRef: {name: strict}}}}");
    let b = vs("virtualHost: {domains: ['*.com'], routes: [{matchers: [{prefix: /}], options: {extauth: {configRef: {name: other, namespace: x}}}}]}");
    let c = vs("virtualHost: {domains: ['*'], routes: [{matchers: [{exact: /only}]}]}");
    let keys = [
        ObjectKey::new("ns", "a"),
        ObjectKey::new("ns", "b"),
        ObjectKey::new("ns", "c"),
    ];
    let (table, conflicts) = RouteTable::build(keys.iter().zip([&a, &b, &c]), &BTreeMap::new());
    assert!(conflicts.is_empty());
    assert_eq!(
        config_of(decide(&table, "FOO.com:8080", "/x")).as_deref(),
        Some("ns/strict")
    );
    assert_eq!(
        config_of(decide(&table, "foo.com", "/open/1")).as_deref(),
        Some("none")
    );
    assert_eq!(
        config_of(decide(&table, "bar.com", "/x")).as_deref(),
        Some("x/other")
    );
    assert_eq!(config_of(decide(&table, ".com", "/x")), None);
    assert_eq!(
        config_of(decide(&table, "other", "/only")).as_deref(),
        Some("none")
    );
    assert_eq!(config_of(decide(&table, "other", "/only/x")), None);
}

#[test]
fn a_contested_domain_denies_in_its_place_in_envoys_order() {
    let exact = vs("virtualHost: {domains: [site.example], routes: [{matchers: [{prefix: /}]}]}");
    let any = vs("virtualHost: {domains: ['*'], routes: [{matchers: [{prefix: /}]}]}");
    let keys = [ObjectKey::new("ns", "exact"), ObjectKey::new("ns", "any")];
    let denied = BTreeMap::from([(
        "*.site.example".to_string(),
        BTreeSet::from([ObjectKey::new("ns", "x"), ObjectKey::new("ns", "y")]),
    )]);
    let (table, conflicts) = RouteTable::build(keys.iter().zip([&exact, &any]), &denied);
    assert!(conflicts.is_empty());
    assert_eq!(
        config_of(decide(&table, "a.site.example", "/")).as_deref(),
        Some("contested")
    );
    assert_eq!(
        config_of(decide(&table, "site.example", "/")).as_deref(),
        Some("none")
    );
    assert_eq!(
        config_of(decide(&table, "elsewhere", "/")).as_deref(),
        Some("none")
    );
}

#[test]
fn a_route_is_found_by_its_identity_with_the_policy_in_force() {
    let a = vs("virtualHost: {domains: [foo.com], routes: [{matchers: [{prefix: /open}], options: {extauth: {disable: true}}}, {matchers: [{prefix: /}]}], options: {extauth: {configRef: {name: strict}}}}");
    let key = ObjectKey::new("ns", "a");
    let (table, _) = RouteTable::build([(&key, &a)], &BTreeMap::new());
    let ids: Vec<(String, usize)> = crate::routing::identity::identities(&key, &a).collect();
    let decide = |id: &str| table.route_by_identity(id, "foo.com").map(config_of);
    assert_eq!(decide(&ids[0].0), Some(Some("none".into())));
    assert_eq!(decide(&ids[1].0), Some(Some("ns/strict".into())));
    assert_eq!(decide("ns/a/1/0/0000000000000000"), None);
    assert_eq!(decide(""), None);
    // the files send another host elsewhere: drift
    assert_eq!(
        table.route_by_identity(&ids[1].0, "bar.com").map(config_of),
        None
    );
}

#[test]
fn conflicting_domain_leaves_later_out() {
    let a = vs("virtualHost: {domains: [foo], routes: []}");
    let b = vs("virtualHost: {domains: [bar, foo], routes: []}");
    let keys = [ObjectKey::new("ns", "a"), ObjectKey::new("ns", "b")];
    let (_, conflicts) = RouteTable::build(keys.iter().zip([&a, &b]), &BTreeMap::new());
    assert_eq!(conflicts.len(), 1);
    assert_eq!(conflicts[0].index, 1);
    assert_eq!(conflicts[0].owner, keys[0]);
}
