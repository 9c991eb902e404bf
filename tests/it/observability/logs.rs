//! Logs and `/configz`: one JSON object per line with `--log-format json`, the lines operators
//! need (config changes, config errors, failed checks), and no secret in either place.

use crate::harness::*;
use serde_json::{json, Value};
use std::time::Duration;

/// Every secret of these tests carries this marker.
const SECRET: &str = "S3CRET";

/// The AuthConfig `ac` (headersToAdd, config and forwarded credentials all secret), applied
/// to every host and path, plus two broken files whose errors could quote a secret.
fn secret_files(srv: &AuthServer) -> Vec<(&'static str, String)> {
    let mut s = step(
        "",
        json!({
            "url": srv.url("/auth"),
            "request": {
                "allowedHeaders": ["authorization", "cookie", "proxy-authorization", "x-custom"],
                "headersToAdd": {"x-api-key": format!("{SECRET}-ADDED")},
            },
        }),
    );
    s["passThroughAuth"]["config"] = json!({"token": format!("{SECRET}-CONFIG")});
    let misplaced = auth_config(
        "misplaced",
        json!({"configs": [step("", json!({
            "url": srv.url("/auth"),
            "request": {"headersToAdd": format!("{SECRET}-MISPLACED")},
        }))]}),
    );
    let credentials = auth_config(
        "credentials",
        json!({"configs": [step("", json!({"url": format!("http://bob:{SECRET}-URL@/auth")}))]}),
    );
    vec![
        ("config.yaml", guarded(json!({"configs": [s]}))),
        ("misplaced.yaml", yaml(&[misplaced])),
        ("credentials.yaml", yaml(&[credentials])),
    ]
}

const CREDENTIALS: [(&str, &str); 4] = [
    ("authorization", "Bearer S3CRET-AUTHZ"),
    ("cookie", "session=S3CRET-COOKIE"),
    ("proxy-authorization", "Basic S3CRET-PROXY"),
    ("x-custom", "S3CRET-CUSTOM"),
];

#[test]
fn no_secret_reaches_the_logs_or_configz() {
    let srv = AuthServer::start(Reply::ok());
    let files = secret_files(&srv);
    let files: Vec<(&str, &str)> = files.iter().map(|(n, c)| (*n, c.as_str())).collect();
    let custom = "x-custom,authorization,cookie,proxy-authorization";
    let plain = [&CREDENTIALS[..3], &[("x-custom", "plain-custom")]].concat();
    for args in [
        vec![],
        vec!["--log-format", "json", "--redact-headers", custom],
    ] {
        let ext = Extauth::start_with(&files, &args);
        // by default x-custom is logged as it is; in the second run it is a secret too
        let headers = if args.is_empty() {
            &plain[..]
        } else {
            &CREDENTIALS[..]
        };
        srv.set_reply(Reply::ok());
        assert_eq!(ext.get("/allowed", headers).status, 200);
        srv.set_reply(Reply::status(500));
        assert_eq!(ext.get("/failed", headers).status, 503);
        // the secrets did go through extauth
        let sent = srv.requests().pop().unwrap();
        assert_eq!(sent.all("authorization"), ["Bearer S3CRET-AUTHZ"]);
        assert_eq!(sent.all("x-api-key"), ["S3CRET-ADDED"]);

        // headers are logged (so redaction is what keeps the secrets out), then the failure
        ext.expect_log(&["authorization: <redacted>", "cookie: <redacted>"]);
        ext.expect_log(&["/failed", "proxy-authorization: <redacted>"]);
        ext.expect_log(&["warn", "auth service answered 500"]);
        if args.is_empty() {
            ext.expect_log(&["x-custom: plain-custom"]);
        } else {
            ext.expect_log(&["x-custom: <redacted>"]);
        }
        let logs = ext.logs();
        assert!(logs.contains("misplaced.yaml") && logs.contains("credentials.yaml"));
        assert!(
            !logs.contains(SECRET),
            "a secret in the logs ({args:?}):\n{logs}"
        );

        let (status, body) = ext.admin_get("/configz");
        assert_eq!(status, 200);
        assert!(!body.contains(SECRET), "a secret in /configz:\n{body}");
        check_configz(
            &serde_json::from_str(&body).expect("/configz is JSON"),
            &ext,
        );
    }
}

/// `/configz` lists the loaded resources and the errors of the broken files.
fn check_configz(v: &Value, ext: &Extauth) {
    assert_eq!(v["ready"], true);
    let resources = v["resources"].as_array().expect("resources");
    let ac = resources
        .iter()
        .find(|r| r["kind"] == "AuthConfig" && r["name"] == "ac")
        .unwrap_or_else(|| panic!("AuthConfig ac missing: {v:#}"));
    assert_eq!(ac["namespace"], NS);
    let file = ext.dir().join("config.yaml").display().to_string();
    assert_eq!(ac["file"], file);
    assert_eq!(ac["document"], 1);
    assert!(ac["hash"].as_str().is_some_and(|h| h.len() >= 16), "{ac}");
    assert!(
        ac["loaded_at"].as_str().is_some_and(|t| t.ends_with('Z')),
        "{ac}"
    );
    let pta = &ac["spec"]["configs"][0]["passThroughAuth"];
    assert_eq!(
        pta["http"]["request"]["headersToAdd"]["x-api-key"],
        "<redacted>"
    );
    assert_eq!(pta["config"]["token"], "<redacted>");
    assert!(resources
        .iter()
        .any(|r| r["kind"] == "VirtualService" && r["name"] == "vs"));

    let errors = v["errors"].as_array().expect("errors");
    for (name, field) in [
        ("misplaced.yaml", "headersToAdd"),
        ("credentials.yaml", "url"),
    ] {
        let found = errors.iter().any(|e| {
            e["file"].as_str().is_some_and(|f| f.ends_with(name))
                && e["field"].as_str().is_some_and(|f| f.contains(field))
                && e["message"].as_str().is_some_and(|m| !m.is_empty())
        });
        assert!(found, "no error for {name} at {field}: {errors:#?}");
    }
}

/// The log lines as JSON objects; panics on a line that is not one.
fn json_lines(ext: &Extauth) -> Vec<Value> {
    ext.logs()
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let v: Value =
                serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}"));
            for member in ["level", "ts", "logger", "msg"] {
                assert!(v[member].is_string(), "{member} missing: {l}");
            }
            v
        })
        .collect()
}

#[test]
fn json_logs_carry_config_changes_errors_and_failed_checks() {
    let srv = AuthServer::start(Reply::ok().delay(Duration::from_millis(800)));
    let config = single(
        json!({"url": srv.url("/auth"), "connectionTimeout": "200ms"}),
        json!({}),
    );
    let ext = Extauth::start_with(
        &[("config.yaml", &config), ("broken.yaml", "kind: [\n")],
        &["--log-format", "json"],
    );
    assert_eq!(ext.get("/posts/1", &[]).status, 503);
    ext.expect_log(&["\"level\":\"warn\"", "no answer within 200 ms"]);

    let lines = json_lines(&ext);
    let got = lines
        .iter()
        .find(|l| l["msg"] == "got new config")
        .expect("a got new config line");
    assert_eq!(got["level"], "info");
    assert_eq!(got["logger"], "extauth");
    let changes = got["changes"].as_str().unwrap_or_default();
    assert!(
        changes.contains(&format!("AuthConfig {NS}/ac")) && changes.contains("VirtualService"),
        "{got}"
    );

    let error = lines
        .iter()
        .find(|l| {
            l["level"] == "error"
                && l["file"]
                    .as_str()
                    .is_some_and(|f| f.ends_with("broken.yaml"))
        })
        .unwrap_or_else(|| panic!("no config error line: {lines:#?}"));
    assert!(error["field"].is_string(), "{error}");
    assert!(
        error["msg"].as_str().unwrap().starts_with("config error"),
        "{error}"
    );

    let warn = lines
        .iter()
        .find(|l| l["level"] == "warn" && l["auth_config"] == format!("{NS}/ac"))
        .unwrap_or_else(|| panic!("no failed-check line: {lines:#?}"));
    assert_eq!(warn["cause"], "no answer within 200 ms", "{warn}");
    assert_eq!(warn["step"], "config_0", "{warn}");
    let took = warn["duration_ms"]
        .as_f64()
        .expect("duration_ms is a number");
    assert!(took >= 199.0, "at least the 200 ms budget: {warn}");

    let check = lines
        .iter()
        .find(|l| l["level"] == "debug" && l["decision"] == "error")
        .unwrap_or_else(|| panic!("no debug check line: {lines:#?}"));
    assert_eq!(check["path"], "/posts/1");
    assert_eq!(check["auth_config"], format!("{NS}/ac"));

    // a config change is one more `got new config` line naming what changed
    let n = ext.reloads();
    super::replace_file(&ext, "config.yaml", &config.replace("200ms", "300ms"));
    let changed = wait_for(
        || {
            json_lines(&ext).iter().any(|l| {
                l["msg"] == "got new config"
                    && l["changes"]
                        .as_str()
                        .is_some_and(|c| c.contains(&format!("changed [AuthConfig {NS}/ac]")))
            })
        },
        Duration::from_millis(1500),
    );
    assert!(
        changed.is_some() && ext.reloads() > n,
        "logs:\n{}",
        ext.logs()
    );
}

/// The start-up `got new config` line counts every kind it loaded, Upstreams included.
#[test]
fn the_first_load_line_counts_every_kind() {
    let upstream = "apiVersion: gloo.solo.io/v1
kind: Upstream
metadata: {name: json-upstream, namespace: gloo-system}
spec: {static: {hosts: [{addr: 127.0.0.1, port: 9}]}}
";
    let config = single(
        serde_json::json!({"url": "http://127.0.0.1:9/auth"}),
        serde_json::json!({}),
    );
    let ext = Extauth::start(&[("c.yaml", &config), ("u.yaml", upstream)]);
    ext.expect_log(&[
        "got new config",
        "1 AuthConfig(s), 1 VirtualService(s), 1 Upstream(s)",
    ]);
}
