//! The traced and untraced routings agree, and the trace tells the decision.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use actix_web::http::header::{HeaderMap, HeaderName, HeaderValue, HOST};

use super::*;
use crate::config::types::ObjectKey;
use crate::routing::{
    compile_virtual_service, route_checked, route_checked_traced, CompiledVirtualService,
    RouteDecision, RouteTable,
};

/// Every event, in order.
#[derive(Default)]
struct Record {
    readings: Vec<String>,
    hosts: Vec<Option<String>>,
    matchers: Vec<(usize, usize, Result<(), Condition>)>,
}

impl RouteTracer for Record {
    fn reading(&mut self, label: &'static str, host: &str, path_and_query: &str) {
        self.readings
            .push(format!("{label} {host} {path_and_query}"));
        self.matchers.clear();
    }
    fn host(&mut self, _: &str, found: Option<(DomainMatch<'_>, VirtualHost<'_>)>) {
        self.hosts.push(found.map(|(m, _)| m.pattern()));
    }
    fn matcher(&mut self, route: usize, matcher: usize, result: Result<(), Condition>) {
        self.matchers.push((route, matcher, result));
    }
}

fn table() -> RouteTable {
    let docs = [
        ("admin", "virtualHost: {domains: [admin.example, 'api.*'], routes: [{matchers: [{prefix: /open}], options: {extauth: {disable: true}}}, {matchers: [{prefix: /other, methods: [POST]}, {exact: /x, headers: [{name: x-a, value: '1'}]}], options: {extauth: {configRef: {name: other}}}}, {matchers: [{regex: '/q/.*', queryParameters: [{name: v, value: '[0-9]+', regex: true}]}]}, {matchers: [{prefix: /}]}], options: {extauth: {configRef: {name: strict}}}}"),
        ("wild", "virtualHost: {domains: ['*.example'], routes: [{matchers: [{prefix: /only, caseSensitive: false}]}]}"),
        ("rest", "virtualHost: {domains: ['*'], routes: [{matchers: [{exact: /health}], options: {extauth: {disable: true}}}, {matchers: [{prefix: /}]}]}"),
    ];
    let compiled: Vec<(ObjectKey, Arc<CompiledVirtualService>)> = docs
        .iter()
        .map(|(name, yaml)| {
            let spec = serde_norway::from_str(yaml).unwrap();
            let vs = compile_virtual_service("ns", &spec).unwrap();
            (ObjectKey::new("ns", name), Arc::new(vs))
        })
        .collect();
    let denied = BTreeMap::from([(
        "contested.example".to_string(),
        BTreeSet::from([ObjectKey::new("ns", "x"), ObjectKey::new("ns", "y")]),
    )]);
    RouteTable::build(compiled.iter().map(|(k, v)| (k, v)), &denied).0
}

#[test]
fn traced_and_untraced_routing_agree_and_the_trace_names_the_route() {
    let t = table();
    let hosts = [
        "admin.example",
        "ADMIN.example:8080",
        "admin.example.",
        "api.v1",
        "a.example",
        "contested.example",
        "elsewhere",
        "",
    ];
    let paths = [
        "/",
        "/open/x",
        "/other",
        "/x",
        "/x?v=1",
        "/q/a?v=12",
        "/q/a?v=z",
        "/ONLY/y",
        "/health",
        "//open",
        "/x/../open",
        "/%2Fopen",
        "/x%00",
    ];
    let mut seen = 0;
    for host in hosts {
        for path in paths {
            for method in ["GET", "POST"] {
                for with_a in [false, true] {
                    let mut headers = HeaderMap::new();
                    if let Ok(v) = HeaderValue::from_str(host) {
                        headers.insert(HOST, v);
                    }
                    if with_a {
                        headers.insert(
                            HeaderName::from_static("x-a"),
                            HeaderValue::from_static("1"),
                        );
                    }
                    let plain = route_checked(&t, method, host, path, &headers);
                    let mut record = Record::default();
                    let traced =
                        route_checked_traced(&t, method, host, path, &headers, &mut record);
                    assert_eq!(plain, traced, "{method} {host} {path}");
                    seen += 1;
                    // the last reading's trace ends on the matcher that picked the route
                    if let Ok(RouteDecision::Matched { route, .. }) = traced {
                        if record.readings.len() == 1 {
                            let (i, _, last) = *record.matchers.last().unwrap();
                            assert_eq!(last, Ok(()), "{method} {host} {path}");
                            let name = format!("routes[{i}]");
                            assert_eq!(route, name, "{method} {host} {path}");
                            assert!(record.matchers[..record.matchers.len() - 1]
                                .iter()
                                .all(|(_, _, r)| r.is_err()));
                        }
                    }
                    if let Ok(RouteDecision::NoMatch) = traced {
                        assert!(record.matchers.iter().all(|(_, _, r)| r.is_err()));
                    }
                }
            }
        }
    }
    assert_eq!(seen, hosts.len() * paths.len() * 4);
}

#[test]
fn the_trace_says_how_the_domain_matched_and_which_condition_failed() {
    let t = table();
    let mut headers = HeaderMap::new();
    headers.insert(HOST, HeaderValue::from_static("api.v1"));
    let mut r = Record::default();
    let d = route_checked_traced(&t, "GET", "api.v1", "/x", &headers, &mut r).unwrap();
    assert!(matches!(
        d,
        RouteDecision::Matched {
            route: "routes[3]",
            ..
        }
    ));
    assert_eq!(r.hosts, [Some("api.*".to_string())]);
    assert_eq!(
        r.matchers,
        [
            (0, 0, Err(Condition::Path)),
            (1, 0, Err(Condition::Path)),
            (1, 1, Err(Condition::Header(0))),
            (2, 0, Err(Condition::Path)),
            (3, 0, Ok(())),
        ]
    );
    let mut r = Record::default();
    route_checked_traced(&t, "GET", "nowhere", "/x", &headers, &mut r).unwrap();
    assert_eq!(r.hosts, [Some("*".to_string())]);
    let mut r = Record::default();
    route_checked_traced(&t, "GET", "b.example", "/x", &headers, &mut r).unwrap();
    assert_eq!(r.hosts, [Some("*.example".to_string())]);
}
