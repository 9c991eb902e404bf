//! Observability (issue 4): `/metrics` checked by promtool and scraped by a real Prometheus,
//! per-AuthConfig series across reloads, `/configz`, JSON logs, and no secret anywhere.

mod flood;
mod logs;
mod probes;
pub mod prom;

use crate::harness::*;
use prom::{promtool_check, Prometheus};
use serde_json::{json, Value};
use std::time::Duration;

const BYPASS: &str = "extauth_solo_io_http_passthrough_bypass_failure_total";

/// The value of the sample `series` (name and labels exactly as exported) in a scrape.
fn sample(scrape: &str, series: &str) -> Option<f64> {
    scrape
        .lines()
        .find_map(|l| l.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
}

/// Replaces a config file atomically (as a ConfigMap update does): no half-written file is
/// ever read, so exactly one reload follows.
fn replace_file(ext: &Extauth, name: &str, content: &str) {
    let staged = ext.dir().join(format!("{name}.next"));
    std::fs::write(&staged, content).unwrap();
    std::fs::rename(&staged, ext.dir().join(name)).unwrap();
}

fn scrape(ext: &Extauth) -> String {
    let (status, body) = ext.admin_get("/metrics");
    assert_eq!(status, 200, "/metrics: {body}");
    body
}

/// `extauth_checks_total` of AuthConfig `name` (in [`NS`], or none when empty) and `decision`.
fn checks(scrape: &str, name: &str, decision: &str) -> Option<f64> {
    let config = if name.is_empty() {
        String::new()
    } else {
        format!("{NS}/{name}")
    };
    sample(
        scrape,
        &format!(r#"extauth_checks_total{{auth_config="{config}",decision="{decision}"}}"#),
    )
}

/// An AuthConfig `name` with one step calling `http`, failing open when `fma`.
fn one_step(name: &str, http: Value, fma: bool) -> Value {
    let mut s = step("", http);
    if fma {
        s["passThroughAuth"]["failureModeAllow"] = json!(true);
    }
    auth_config(name, json!({"configs": [s]}))
}

/// A VirtualService for every host: `/<name>` goes to AuthConfig `<name>` for each name,
/// `/open` has no extauth, `/off` disables it, `/missing` refers to a missing AuthConfig.
fn routes_to(names: &[&str]) -> Value {
    let mut routes: Vec<Value> = names
        .iter()
        .map(|n| route(json!([{"prefix": format!("/{n}")}]), Some(cref(n))))
        .collect();
    routes.push(route(json!([{"prefix": "/open"}]), None));
    routes.push(route(
        json!([{"prefix": "/off"}]),
        Some(json!({"disable": true})),
    ));
    routes.push(route(
        json!([{"prefix": "/missing"}]),
        Some(cref("missing")),
    ));
    virtual_service("vs", &["*"], Value::Array(routes), None)
}

/// The auth service of these tests, by path: `/allow` 200, `/deny` 403, `/fail` 500,
/// `/slow` 200 after `slow`.
fn auth_service(slow: Duration) -> AuthServer {
    AuthServer::with(move |r| match r.target.as_str() {
        "/allow" => Reply::ok(),
        "/deny" => Reply::status(403),
        "/slow" => Reply::ok().delay(slow),
        _ => Reply::status(500),
    })
}

#[test]
fn promtool_accepts_a_scrape_taken_after_every_outcome() {
    let srv = auth_service(Duration::from_secs(2));
    let refused = format!("http://127.0.0.1:{}/auth", free_port());
    let names = ["allow", "deny", "error", "bypass", "timeout", "refused"];
    let config = yaml(&[
        // with the extensions' blocks, so that their series are exported (and checked) too
        one_step(
            "allow",
            json!({
                "url": srv.url("/allow"),
                "cache": {"maxAge": "30s"},
                "circuitBreaker": {"consecutiveErrors": 5, "openFor": "10s"},
            }),
            false,
        ),
        one_step("deny", json!({"url": srv.url("/deny")}), false),
        one_step("error", json!({"url": srv.url("/fail")}), false),
        one_step("bypass", json!({"url": srv.url("/fail")}), true),
        one_step(
            "timeout",
            json!({"url": srv.url("/slow"), "connectionTimeout": "300ms"}),
            false,
        ),
        one_step("refused", json!({"url": refused}), false),
        routes_to(&names),
    ]);
    let ext = Extauth::start(&[("config.yaml", &config), ("broken.yaml", "kind: [\n")]);
    let secret_path = "/allow/private-path-7f3a";
    let secret_value = "user-value-9c1e";
    let expected = [
        (secret_path, 200),
        ("/deny", 401),
        ("/error", 503),
        ("/bypass", 200),
        ("/timeout", 503),
        ("/refused", 503),
        ("/open", 200),
        ("/off", 200),
        ("/missing", 403),
        ("/nowhere", 403),
    ];
    for (path, status) in expected {
        let a = ext.get(
            path,
            &[("x-user", secret_value), ("authorization", secret_value)],
        );
        assert_eq!(a.status, status, "{path}");
    }

    let text = scrape(&ext);
    let (ok, report) = promtool_check(&text);
    assert!(ok && report.trim().is_empty(), "promtool: {report}\n{text}");

    for (name, decision) in [
        ("allow", "allowed"),
        ("deny", "denied"),
        ("error", "error"),
        ("bypass", "failure_mode_allowed"),
        ("timeout", "error"),
        ("refused", "error"),
        ("missing", "config_missing"),
        ("", "unprotected"),
        ("", "no_route"),
    ] {
        let want = if name.is_empty() && decision == "unprotected" {
            2.0
        } else {
            1.0
        };
        assert_eq!(
            checks(&text, name, decision),
            Some(want),
            "{name} {decision}:\n{text}"
        );
    }
    let bypass = format!(r#"{BYPASS}{{auth_config="{NS}/bypass"}}"#);
    assert_eq!(sample(&text, &bypass), Some(1.0), "{text}");
    assert_eq!(
        sample(&text, &format!(r#"{BYPASS}{{auth_config="{NS}/error"}}"#)),
        Some(0.0)
    );
    for (name, outcome) in [
        ("allow", "2xx"),
        ("deny", "4xx"),
        ("error", "5xx"),
        ("bypass", "5xx"),
        ("timeout", "timeout"),
        ("refused", "connect_error"),
    ] {
        let series = format!(
            r#"extauth_passthrough_call_duration_seconds_count{{auth_config="{NS}/{name}",outcome="{outcome}"}}"#
        );
        assert_eq!(sample(&text, &series), Some(1.0), "{series}:\n{text}");
    }
    assert_eq!(sample(&text, "extauth_checks_in_flight"), Some(0.0));
    assert_eq!(
        sample(&text, r#"extauth_config_resources{kind="AuthConfig"}"#),
        Some(6.0)
    );
    assert!(
        sample(&text, "extauth_config_errors") >= Some(1.0),
        "{text}"
    );
    assert_eq!(
        sample(&text, r#"extauth_config_reloads_total{result="partial"}"#),
        Some(1.0)
    );
    assert!(
        sample(
            &text,
            "extauth_config_last_reload_success_timestamp_seconds"
        ) > Some(1e9)
    );
    assert!(text.contains(&format!(
        r#"extauth_build_info{{version="{}"}} 1"#,
        env!("CARGO_PKG_VERSION")
    )));
    for unbounded in ["private-path", secret_value, "/nowhere", "x-user"] {
        assert!(!text.contains(unbounded), "{unbounded} in a label:\n{text}");
    }

    docs_match(&text);

    // never on the check port: there `/metrics` is just another check
    let a = ext.check("GET", "any-host", "/metrics", &[], b"");
    assert_eq!(a.status, 403);
    assert!(a.body.is_empty());
}

#[test]
fn prometheus_reads_the_bypass_counter_after_a_failure_mode_allow_bypass() {
    let srv = AuthServer::start(Reply::status(503));
    let ext = Extauth::start(&[(
        "config.yaml",
        &single(
            json!({"url": srv.url("/auth")}),
            json!({"failureModeAllow": true}),
        ),
    )]);
    let prometheus = Prometheus::start(&ext.admin_addr);
    let expr = format!(r#"{BYPASS}{{job="extauth",auth_config="{NS}/ac"}}"#);
    let wait = Duration::from_secs(20);
    prometheus.expect_value(r#"up{job="extauth"}"#, 1.0, wait);
    prometheus.expect_value(&expr, 0.0, wait);

    assert_eq!(ext.get("/posts/1", &[]).status, 200);
    prometheus.expect_value(&expr, 1.0, wait);
    let decided =
        format!(r#"extauth_checks_total{{auth_config="{NS}/ac",decision="failure_mode_allowed"}}"#);
    prometheus.expect_value(&decided, 1.0, wait);
}

#[test]
fn series_of_a_removed_auth_config_stop_being_exported() {
    let srv = auth_service(Duration::ZERO);
    let files = |names: &[&str]| {
        let mut docs: Vec<Value> = names
            .iter()
            .map(|n| one_step(n, json!({"url": srv.url("/allow")}), false))
            .collect();
        docs.push(routes_to(names));
        yaml(&docs)
    };
    let ext = Extauth::start(&[("config.yaml", &files(&["a", "b"]))]);
    assert_eq!(ext.get("/a", &[]).status, 200);
    assert_eq!(ext.get("/b", &[]).status, 200);
    assert_eq!(ext.get("/missing", &[]).status, 403);
    let before = scrape(&ext);
    let a_series = format!(r#"auth_config="{NS}/a""#);
    for family in [
        "extauth_passthrough_connections_in_use",
        "extauth_passthrough_checks_waiting_for_connection",
        BYPASS,
        "extauth_checks_total",
        "extauth_passthrough_call_duration_seconds_count",
    ] {
        assert!(
            before
                .lines()
                .any(|l| l.starts_with(family) && l.contains(&a_series)),
            "{family} of a:\n{before}"
        );
    }

    let n = ext.reloads();
    let vs_without_missing = yaml(&[
        one_step("b", json!({"url": srv.url("/allow")}), false),
        virtual_service(
            "vs",
            &["*"],
            json!([route(json!([{"prefix": "/b"}]), Some(cref("b")))]),
            None,
        ),
    ]);
    replace_file(&ext, "config.yaml", &vs_without_missing);
    let applied = wait_for(|| ext.reloads() > n, Duration::from_millis(1500));
    assert!(applied.is_some(), "not reloaded; logs:\n{}", ext.logs());
    // the `got new config` line is written by the config actor before the registry has
    // applied the update (and dropped the series): poll for a while, then assert
    let leaked = |text: &str| -> Vec<String> {
        text.lines()
            .filter(|l| l.contains(&a_series) || l.contains(&format!("{NS}/missing")))
            .map(str::to_string)
            .collect()
    };
    wait_for(|| leaked(&scrape(&ext)).is_empty(), Duration::from_secs(2));
    let after = scrape(&ext);
    let left = leaked(&after);
    assert!(left.is_empty(), "series left behind: {left:#?}");
    assert!(after.contains(&format!(r#"{BYPASS}{{auth_config="{NS}/b"}} 0"#)));
    assert_eq!(
        checks(&after, "b", "allowed"),
        Some(1.0),
        "b keeps its count"
    );
    assert_eq!(
        sample(&after, r#"extauth_config_resources{kind="AuthConfig"}"#),
        Some(1.0)
    );
    // the first load had an error (the reference to `missing`), the second none
    let partial = r#"extauth_config_reloads_total{result="partial"}"#;
    assert_eq!(sample(&after, partial), Some(1.0));
    assert!(sample(&after, r#"extauth_config_reloads_total{result="success"}"#) >= Some(1.0));
    assert_eq!(sample(&after, "extauth_config_errors"), Some(0.0));
}

#[test]
fn a_full_pool_shows_connections_in_use_and_checks_waiting() {
    let srv = auth_service(Duration::from_millis(1500));
    let config = yaml(&[
        one_step(
            "pool",
            json!({"url": srv.url("/slow"), "connectionPool": {"maxConns": 1}}),
            false,
        ),
        routes_to(&["pool"]),
    ]);
    let ext = std::sync::Arc::new(Extauth::start(&[("config.yaml", &config)]));
    let in_use = format!(r#"extauth_passthrough_connections_in_use{{auth_config="{NS}/pool"}}"#);
    let waiting =
        format!(r#"extauth_passthrough_checks_waiting_for_connection{{auth_config="{NS}/pool"}}"#);
    let callers: Vec<_> = (0..2)
        .map(|_| {
            let ext = ext.clone();
            std::thread::spawn(move || ext.get("/pool", &[]).status)
        })
        .collect();
    let mut last = String::new();
    let seen = wait_for(
        || {
            last = scrape(&ext);
            sample(&last, &in_use) == Some(1.0)
                && sample(&last, &waiting) == Some(1.0)
                && sample(&last, "extauth_checks_in_flight") == Some(2.0)
        },
        Duration::from_millis(1400),
    );
    assert!(seen.is_some(), "full pool not visible:\n{last}");
    for caller in callers {
        assert_eq!(caller.join().unwrap(), 200);
    }
    let done = scrape(&ext);
    assert_eq!(sample(&done, &in_use), Some(0.0));
    assert_eq!(sample(&done, &waiting), Some(0.0));
    assert_eq!(sample(&done, "extauth_checks_in_flight"), Some(0.0));
}

/// docs/metrics.md describes every exported family, and the Grafana dashboard queries only
/// exported ones.
fn docs_match(scrape: &str) {
    let families: Vec<(&str, &str)> = scrape
        .lines()
        .filter_map(|l| l.strip_prefix("# TYPE "))
        .filter_map(|l| l.split_once(' '))
        .collect();
    assert!(families.len() >= 12, "{families:?}");
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let reference = std::fs::read_to_string(root.join("docs/metrics.md")).unwrap();
    for (name, _) in &families {
        assert!(
            reference.contains(&format!("`{name}`")),
            "docs/metrics.md lacks {name}"
        );
    }
    let dashboard = std::fs::read_to_string(root.join("docs/grafana-dashboard.json")).unwrap();
    let dashboard: Value = serde_json::from_str(&dashboard).expect("dashboard is JSON");
    let names = regex::Regex::new(r"extauth_[a-z_]+").unwrap();
    let mut queried = 0;
    for panel in dashboard["panels"].as_array().unwrap() {
        for target in panel["targets"].as_array().into_iter().flatten() {
            let expr = target["expr"].as_str().unwrap();
            for m in names.find_iter(expr) {
                let name = m.as_str();
                let known = families.iter().any(|(family, kind)| {
                    name == *family
                        || (*kind == "histogram"
                            && ["_bucket", "_count", "_sum"]
                                .iter()
                                .any(|suffix| name == format!("{family}{suffix}")))
                });
                assert!(known, "the dashboard queries {name}, which is not exported");
                queried += 1;
            }
        }
    }
    assert!(queried >= 10, "the dashboard queries {queried} metrics");
}
