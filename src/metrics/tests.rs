//! Unit tests of the metrics: names, per-AuthConfig series and their removal, reload results.

use std::sync::Arc;
use std::time::Duration;

use super::*;
use crate::compiled::{Snapshot, Store};
use crate::config::types::ObjectKey;

const AC: &str = "apiVersion: enterprise.gloo.solo.io/v1
kind: AuthConfig
metadata: {name: NAME, namespace: ns}
spec:
  configs: [{passThroughAuth: {http: {url: 'http://127.0.0.1:1/auth'}}}]
";

const VS: &str = "apiVersion: gateway.solo.io/v1
kind: VirtualService
metadata: {name: vs, namespace: ns}
spec:
  virtualHost:
    domains: ['*']
    routes:
    - matchers: [{prefix: /}]
      options: {extauth: {configRef: {name: REF, namespace: ns}}}
";

/// A snapshot of a directory holding `files`.
fn snapshot(files: &[(&str, String)]) -> Arc<Snapshot> {
    let dir = tempfile::tempdir().unwrap();
    for (name, text) in files {
        std::fs::write(dir.path().join(name), text).unwrap();
    }
    Store::new(dir.path()).reload().snapshot
}

fn ac(name: &str) -> String {
    AC.replace("NAME", name)
}

fn vs(reference: &str) -> String {
    VS.replace("REF", reference)
}

/// Lines of the scrape that mention `needle`, excluding HELP and TYPE.
fn series(m: &Metrics, needle: &str) -> Vec<String> {
    m.render()
        .unwrap()
        .lines()
        .filter(|l| !l.starts_with('#') && l.contains(needle))
        .map(str::to_string)
        .collect()
}

#[test]
fn every_family_is_exported_with_help() {
    let m = Metrics::new().unwrap();
    let text = m.render().unwrap();
    for name in [
        "extauth_build_info",
        "extauth_checks_total",
        "extauth_check_duration_seconds",
        "extauth_checks_in_flight",
        "extauth_config_reloads_total",
        "extauth_config_resources",
        "extauth_config_errors",
        "extauth_config_last_reload_success_timestamp_seconds",
    ] {
        assert!(text.contains(&format!("# HELP {name} ")), "{name}:\n{text}");
    }
    assert!(text.contains(&format!(
        "extauth_build_info{{version=\"{}\"}} 1",
        env!("CARGO_PKG_VERSION")
    )));
    assert_eq!(
        BYPASS_FAILURE,
        "extauth_solo_io_http_passthrough_bypass_failure_total"
    );
}

#[test]
fn checks_are_counted_by_config_and_decision() {
    let m = Metrics::new().unwrap();
    let key = ObjectKey::new("ns", "a");
    let handles = m.auth_config(&key);
    assert!(Arc::ptr_eq(&handles, &m.auth_config(&key)), "one per key");
    handles.count(CheckDecision::FailureModeAllowed);
    handles.bypassed(2);
    handles.observe_call(CallOutcome::Timeout, Duration::from_millis(5));
    m.check_finished(CheckDecision::FailureModeAllowed, Duration::from_millis(5));
    m.unattributed(CheckDecision::NoRoute);
    let text = m.render().unwrap();
    assert!(text
        .contains(r#"extauth_checks_total{auth_config="ns/a",decision="failure_mode_allowed"} 1"#));
    assert!(text.contains(r#"extauth_checks_total{auth_config="",decision="no_route"} 1"#));
    assert!(text.contains(&format!(r#"{BYPASS_FAILURE}{{auth_config="ns/a"}} 2"#)));
    assert!(text.contains(
        r#"extauth_passthrough_call_duration_seconds_count{auth_config="ns/a",outcome="timeout"} 1"#
    ));
    assert!(
        series(&m, "outcome=\"2xx\"").is_empty(),
        "call outcomes appear when they happen"
    );
}

#[test]
fn connection_gauges_follow_their_guards() {
    let m = Metrics::new().unwrap();
    let handles = m.auth_config(&ObjectKey::new("ns", "a"));
    let in_use = r#"extauth_passthrough_connections_in_use{auth_config="ns/a"}"#;
    let waiting = r#"extauth_passthrough_checks_waiting_for_connection{auth_config="ns/a"}"#;
    {
        let _a = handles.in_use();
        let _b = handles.in_use();
        let _w = handles.waiting();
        let text = m.render().unwrap();
        assert!(text.contains(&format!("{in_use} 2")), "{text}");
        assert!(text.contains(&format!("{waiting} 1")), "{text}");
    }
    let text = m.render().unwrap();
    assert!(text.contains(&format!("{in_use} 0")), "{text}");
    assert!(text.contains(&format!("{waiting} 0")), "{text}");
}

#[test]
fn series_of_a_removed_auth_config_stop_being_exported() {
    let m = Metrics::new().unwrap();
    let both = snapshot(&[("a.yaml", ac("a")), ("b.yaml", ac("b"))]);
    let a = m.auth_config(&ObjectKey::new("ns", "a"));
    let _b = m.auth_config(&ObjectKey::new("ns", "b"));
    a.observe_call(CallOutcome::Success, Duration::from_millis(1));
    m.forget_removed(&both);
    assert!(!series(&m, "ns/a").is_empty());

    let only_b = snapshot(&[("b.yaml", ac("b"))]);
    m.forget_removed(&only_b);
    assert_eq!(series(&m, "ns/a"), Vec::<String>::new());
    assert!(!series(&m, "ns/b").is_empty());
    // a handle kept by an actor still finishing its checks records nowhere visible
    a.count(CheckDecision::Allowed);
    let _guard = a.in_use();
    assert!(series(&m, "ns/a").is_empty());
    // back again: fresh series from zero
    let again = m.auth_config(&ObjectKey::new("ns", "a"));
    assert!(!Arc::ptr_eq(&a, &again));
    assert!(series(&m, "ns/a")
        .iter()
        .any(|l| l.starts_with("extauth_passthrough_connections_in_use") && l.ends_with(" 0")));
}

#[test]
fn missing_config_counts_live_while_referenced() {
    let m = Metrics::new().unwrap();
    let missing = ObjectKey::new("ns", "gone");
    m.config_missing(&missing);
    m.forget_removed(&snapshot(&[("vs.yaml", vs("gone"))]));
    assert_eq!(
        series(&m, "ns/gone"),
        [r#"extauth_checks_total{auth_config="ns/gone",decision="config_missing"} 1"#]
    );
    m.forget_removed(&snapshot(&[("vs.yaml", vs("other"))]));
    assert!(series(&m, "ns/gone").is_empty());
}

#[test]
fn reloads_by_result_resources_and_errors() {
    let m = Metrics::new().unwrap();
    let good = snapshot(&[("a.yaml", ac("a")), ("vs.yaml", vs("a"))]);
    m.config_reloaded(&good, true);
    let text = m.render().unwrap();
    assert!(text.contains(r#"extauth_config_reloads_total{result="success"} 1"#));
    assert!(text.contains(r#"extauth_config_resources{kind="AuthConfig"} 1"#));
    assert!(text.contains(r#"extauth_config_resources{kind="VirtualService"} 1"#));
    assert!(text.contains("extauth_config_errors 0"));
    assert!(!text.contains("extauth_config_last_reload_success_timestamp_seconds 0\n"));

    let bad = snapshot(&[("vs.yaml", vs("a")), ("x.yaml", "kind: [".into())]);
    m.config_reloaded(&bad, true);
    m.config_reloaded(&bad, false);
    let text = m.render().unwrap();
    assert!(text.contains(r#"extauth_config_reloads_total{result="partial"} 1"#));
    assert!(text.contains(r#"extauth_config_reloads_total{result="failure"} 1"#));
    assert!(text.contains(r#"extauth_config_resources{kind="AuthConfig"} 0"#));
    assert!(text.contains(&format!("extauth_config_errors {}", bad.errors.len())));
    assert!(bad.errors.len() >= 2, "{:?}", bad.errors);
}

#[test]
fn an_auth_configs_series_exist_at_zero_from_its_first_load() {
    let m = Metrics::new().unwrap();
    let _a = m.auth_config(&ObjectKey::new("ns", "a"));
    m.unattributed(CheckDecision::NoRoute);
    let mut got = series(&m, "ns/a");
    got.sort();
    let mut want: Vec<String> = ["allowed", "denied", "error", "failure_mode_allowed"]
        .iter()
        .map(|d| format!(r#"extauth_checks_total{{auth_config="ns/a",decision="{d}"}} 0"#))
        .collect();
    want.push(format!(r#"{BYPASS_FAILURE}{{auth_config="ns/a"}} 0"#));
    want.push(r#"extauth_passthrough_checks_waiting_for_connection{auth_config="ns/a"} 0"#.into());
    want.push(r#"extauth_passthrough_connections_in_use{auth_config="ns/a"} 0"#.into());
    want.sort();
    assert_eq!(got, want);
    // one family, whichever collector holds its series: one HELP and one TYPE line
    let text = m.render().unwrap();
    assert_eq!(
        text.matches("# HELP extauth_checks_total ").count(),
        1,
        "{text}"
    );
    assert_eq!(
        text.matches("# TYPE extauth_checks_total counter").count(),
        1,
        "{text}"
    );
    assert!(text.contains(r#"extauth_checks_total{auth_config="",decision="no_route"} 1"#));
}
