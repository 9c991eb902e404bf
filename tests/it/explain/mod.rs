//! `extauth check` (the built binary) and the admin port's `/explain`, against real auth
//! services on 127.0.0.1: what each reports, that nothing is called without `--call`, the exit
//! status, redaction, and that both agree with what the server really decides.

use crate::harness::*;
use crate::seed::{seed_v2, VIRTUAL_SERVICE};
use serde_json::{json, Value};
use std::process::Command;
use std::time::Duration;
use tempfile::TempDir;

/// A config directory holding `files`.
pub fn dir(files: &[(&str, &str)]) -> TempDir {
    let dir = TempDir::new().unwrap();
    for (name, content) in files {
        std::fs::write(dir.path().join(name), content).unwrap();
    }
    dir
}

/// Runs `extauth check --config-dir DIR ARGS`: exit status, stdout, stderr.
pub fn check(dir: &TempDir, args: &[&str]) -> (i32, String, String) {
    let out = Command::new(extauth::binary())
        .arg("check")
        .arg("--config-dir")
        .arg(dir.path())
        .args(args)
        .env_remove("EXTAUTH_REDACT_HEADERS")
        .env_remove("EXTAUTH_PATH_PREFIX")
        .output()
        .expect("run extauth check");
    (
        out.status.code().expect("exit status"),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// [`check`] with `--output json`, parsed.
pub fn check_json(dir: &TempDir, args: &[&str]) -> (i32, Value) {
    let mut all = vec!["--output", "json"];
    all.extend_from_slice(args);
    let (code, out, err) = check(dir, &all);
    let json = serde_json::from_str(&out)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {out}\nstderr: {err}"));
    (code, json)
}

fn seed(srv: &AuthServer) -> TempDir {
    dir(&[
        ("authconfig.yaml", &seed_v2(&srv.url("/auth"))),
        ("virtualservice.yaml", VIRTUAL_SERVICE),
    ])
}

const URL: &str = "http://foo-http/posts/1";

#[test]
fn the_seed_is_allowed_and_denied_with_call_and_the_json_says_why() {
    let srv = AuthServer::sample();
    let d = seed(&srv);
    let (code, t) = check_json(&d, &[URL, "-H", "authorization: authorize me", "--call"]);
    assert_eq!(code, 0, "{t:#}");
    assert_eq!(t["request"]["method"], "GET");
    assert_eq!(t["request"]["host"], "foo-http");
    assert_eq!(t["request"]["path"], "/posts/1");
    assert_eq!(
        t["request"]["headers"],
        json!([{"name": "host", "value": "foo-http"}, {"name": "authorization", "value": "<redacted>"}])
    );
    assert_eq!(t["config"]["loaded"], true);
    assert_eq!(t["config"]["auth_configs"], 1);
    assert_eq!(t["config"]["virtual_services"], 1);
    assert_eq!(t["config"]["errors"], json!([]));
    let r = &t["routing"];
    assert_eq!(r["result"], "matched");
    assert_eq!(r["virtual_service"], "gloo-system/http-auth-tutorial");
    assert_eq!(r["route"], "routes[0]");
    let vh = &r["readings"][0]["virtual_host"];
    assert_eq!(vh["domain"], "foo-http");
    assert_eq!(vh["how"], "exact");
    assert_eq!(
        r["readings"][0]["routes"][0]["matchers"][0],
        json!({"matcher": "matchers[0]", "conditions": ["prefix /"], "result": "matched", "failed": null})
    );
    assert_eq!(r["extauth"]["target"], "auth_config");
    assert_eq!(r["extauth"]["from"], "virtualHost");
    assert_eq!(
        r["extauth"]["auth_config"],
        "gloo-system/http-passthrough-auth"
    );
    let ac = &t["auth_config"];
    assert_eq!(ac["key"], "gloo-system/http-passthrough-auth");
    assert_eq!(ac["available"], true);
    assert!(ac["hash"].as_str().is_some_and(|h| !h.is_empty()), "{ac}");
    let step = &t["steps"][0];
    assert_eq!(step["name"], "config_0");
    assert_eq!(step["request"]["method"], "POST");
    assert_eq!(step["request"]["url"], srv.url("/auth"));
    assert_eq!(
        step["request"]["headers"],
        json!([{"name": "authorization", "value": "<redacted>"}])
    );
    assert_eq!(step["request"]["body"], Value::Null);
    assert_eq!(step["request"]["timeout_ms"], 3000);
    assert_eq!(step["answer"]["status"], 200);
    assert_eq!(step["answer"]["outcome"], "allow");
    assert!(step["answer"]["took_ms"].as_f64().unwrap() >= 0.0);
    assert_eq!(t["called"], true);
    assert_eq!(t["answer"]["status"], 200);
    assert_eq!(t["answer"]["headers"], json!([]));
    assert_eq!(t["exit_code"], 0);
    // exactly the server's call reached the auth service
    let r = srv.only_request();
    assert_eq!((r.method.as_str(), r.target.as_str()), ("POST", "/auth"));
    assert_eq!(r.all("authorization"), ["authorize me"]);
    srv.assert_headers(&r, &["authorization"]);

    let (code, t) = check_json(&d, &[URL, "-H", "authorization: let me in", "--call"]);
    assert_eq!(code, 1, "{t:#}");
    assert_eq!(t["steps"][0]["answer"]["status"], 403);
    assert_eq!(t["steps"][0]["answer"]["outcome"], "deny");
    assert_eq!(t["answer"]["status"], 401);
    assert_eq!(srv.count(), 2);
}

#[test]
fn without_call_nothing_is_sent_and_a_protected_route_exits_0() {
    let srv = AuthServer::sample();
    let d = seed(&srv);
    let (code, out, _) = check(&d, &[URL, "-H", "authorization: authorize me"]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("no call made"), "{out}");
    assert!(
        out.contains("=> VirtualService gloo-system/http-auth-tutorial"),
        "{out}"
    );
    assert!(out.contains(&format!("POST {}", srv.url("/auth"))), "{out}");
    let (_, t) = check_json(&d, &[URL]);
    assert_eq!(t["called"], false);
    assert_eq!(t["answer"], Value::Null);
    std::thread::sleep(Duration::from_millis(100));
    assert_eq!(srv.count(), 0, "nothing may be sent without --call");
}

#[test]
fn no_virtual_host_lists_the_closest_domains() {
    let srv = AuthServer::sample();
    let d = seed(&srv);
    let (code, t) = check_json(&d, &["http://foo-htp/posts/1", "--call"]);
    assert_eq!(code, 1, "{t:#}");
    assert_eq!(t["routing"]["result"], "no_virtual_host");
    let vh = &t["routing"]["readings"][0]["virtual_host"];
    assert_eq!(vh["matched"], false);
    assert_eq!(
        vh["closest"][0],
        json!({"domain": "foo-http", "owner": "VirtualService gloo-system/http-auth-tutorial"})
    );
    assert_eq!(t["answer"]["status"], 403);
    assert_eq!(srv.count(), 0);
}

/// A VirtualService for `api.example` whose routes are tried in order.
fn routes_vs(extra_routes: Vec<Value>) -> String {
    let mut routes = vec![
        route(json!([{"prefix": "/api", "methods": ["POST"]}]), None),
        route(
            json!([{"exact": "/x"}, {"prefix": "/y", "headers": [{"name": "x-team", "value": "a"}]}]),
            None,
        ),
    ];
    routes.extend(extra_routes);
    yaml(&[virtual_service(
        "vs",
        &["api.example"],
        json!(routes),
        Some(cref("ac")),
    )])
}

#[test]
fn no_route_lists_each_routes_failing_matcher() {
    let d = dir(&[("vs.yaml", &routes_vs(Vec::new()))]);
    let (code, t) = check_json(&d, &["http://api.example/api/1", "-H", "x-team: b"]);
    assert_eq!(code, 1, "{t:#}");
    let r = &t["routing"];
    assert_eq!(r["result"], "no_route");
    let routes = &r["readings"][0]["routes"];
    assert_eq!(routes[0]["route"], "routes[0]");
    assert_eq!(
        routes[0]["matchers"][0]["conditions"],
        json!(["prefix /api", "methods POST"])
    );
    assert_eq!(routes[0]["matchers"][0]["failed"], "methods: methods POST");
    assert_eq!(routes[1]["matchers"][0]["failed"], "path: exact /x");
    assert_eq!(routes[1]["matchers"][1]["failed"], "path: prefix /y");
    let (_, t) = check_json(&d, &["http://api.example/y", "-H", "x-team: b"]);
    assert_eq!(
        t["routing"]["readings"][0]["routes"][1]["matchers"][1]["failed"],
        "headers[0]: header x-team = a"
    );
    assert_eq!(t["answer"]["status"], 403);
    let (_, out, _) = check(&d, &["http://api.example/api/1"]);
    assert!(out.contains("failed at methods: methods POST"), "{out}");
    assert!(out.contains("=> no route matches (403)"), "{out}");
}

#[test]
fn a_disabled_route_is_allowed_without_a_call() {
    let srv = AuthServer::start(Reply::status(403));
    let vs = routes_vs(vec![route(
        json!([{"prefix": "/public"}]),
        Some(json!({"disable": true})),
    )]);
    let ac = yaml(&[auth_config(
        "ac",
        json!({"configs": [step("", json!({"url": srv.url("/")}))]}),
    )]);
    let d = dir(&[("vs.yaml", &vs), ("ac.yaml", &ac)]);
    let (code, t) = check_json(&d, &["http://api.example/public/a", "--call"]);
    assert_eq!(code, 0, "{t:#}");
    assert_eq!(t["routing"]["route"], "routes[2]");
    assert_eq!(t["routing"]["extauth"]["target"], "disabled");
    assert_eq!(t["routing"]["extauth"]["from"], "route");
    assert_eq!(t["auth_config"], Value::Null);
    assert_eq!(t["answer"]["status"], 200);
    assert_eq!(srv.count(), 0);
}

#[test]
fn a_missing_auth_config_is_named() {
    let d = dir(&[(
        "vs.yaml",
        &routes_vs(vec![route(json!([{"prefix": "/"}]), None)]),
    )]);
    let (code, t) = check_json(&d, &["http://api.example/a", "--call"]);
    assert_eq!(code, 1, "{t:#}");
    assert_eq!(t["auth_config"]["key"], "gloo-system/ac");
    assert_eq!(t["auth_config"]["available"], false);
    assert_eq!(t["auth_config"]["cause"], "missing");
    assert_eq!(t["answer"]["status"], 403);
    assert!(t["answer"]["reason"]
        .as_str()
        .unwrap()
        .contains("AuthConfig gloo-system/ac missing"));
}

#[test]
fn a_boolean_expr_short_circuit_is_shown_and_the_skipped_step_not_called() {
    let a = AuthServer::start(Reply::ok().header("x-up", "a").header("x-not-listed", "n"));
    let b = AuthServer::start(Reply::ok());
    let up = json!({"allowedUpstreamHeaders": ["x-up"]});
    let spec = json!({
        "configs": [
            step("a", json!({"url": a.url("/a"), "response": up})),
            step("b", json!({"url": b.url("/b")})),
        ],
        "booleanExpr": "a || b",
    });
    let d = dir(&[("chain.yaml", &guarded(spec))]);
    let (code, t) = check_json(&d, &["http://any/x", "--call"]);
    assert_eq!(code, 0, "{t:#}");
    let expr = &t["boolean_expr"];
    assert_eq!(expr["expr"], "(a || b)");
    assert_eq!(
        expr["evaluation"],
        json!([
            {"depth": 0, "node": "(a || b)", "value": true, "skipped": false},
            {"depth": 1, "node": "a", "value": true, "skipped": false},
            {"depth": 1, "node": "b", "value": null, "skipped": true},
        ])
    );
    assert_eq!(t["steps"][0]["answer"]["outcome"], "allow");
    assert_eq!(
        t["steps"][0]["answer"]["headers"],
        json!([{"name": "x-up", "value": "a"}])
    );
    // every header the auth service answered with is shown, not only those passed on
    let received: Vec<&str> = t["steps"][0]["answer"]["received"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["name"].as_str().unwrap())
        .collect();
    assert!(
        received.contains(&"x-up") && received.contains(&"x-not-listed"),
        "{received:?}"
    );
    assert_eq!(t["steps"][1]["answer"], Value::Null);
    assert!(t["steps"][1]["not_called"]
        .as_str()
        .unwrap()
        .contains("booleanExpr"));
    assert_eq!(
        t["answer"]["headers"],
        json!([{"name": "x-up", "value": "a"}])
    );
    assert_eq!((a.count(), b.count()), (1, 0));
    let (_, out, _) = check(&d, &["http://any/x", "--call"]);
    assert!(out.contains("b skipped (short-circuit)"), "{out}");
    assert!(out.contains("x-not-listed: n"), "{out}");
}

#[test]
fn an_auth_service_that_is_down_exits_2() {
    let url = format!("http://127.0.0.1:{}/auth", free_port());
    let d = dir(&[("c.yaml", &single(json!({"url": url}), json!({})))]);
    let (code, t) = check_json(&d, &["http://any/x", "--call"]);
    assert_eq!(code, 2, "{t:#}");
    assert_eq!(t["steps"][0]["answer"]["outcome"], "error");
    assert!(t["steps"][0]["answer"]["cause"]
        .as_str()
        .unwrap()
        .contains("cannot connect"));
    assert_eq!(t["answer"]["status"], 503);
}

#[test]
fn secrets_are_redacted_unless_show_secrets() {
    let srv = AuthServer::start(Reply::ok());
    // (credentials in a url are refused at load: headersToAdd is where they go)
    let http = json!({"url": srv.url("/auth"), "request": {
        "allowedHeaders": ["authorization", "x-visible"],
        "headersToAdd": {"x-api-key": "k3y-s3cret"},
    }});
    let d = dir(&[("c.yaml", &single(http, json!({})))]);
    let args = [
        "http://any/x",
        "-H",
        "authorization: Bearer t0ken",
        "-H",
        "x-visible: shown",
    ];
    let (code, out, _) = check(&d, &args);
    assert_eq!(code, 0, "{out}");
    for secret in ["k3y-s3cret", "t0ken"] {
        assert!(!out.contains(secret), "{secret} shown:\n{out}");
    }
    assert!(out.contains("x-api-key: <redacted>"), "{out}");
    assert!(out.contains("authorization: <redacted>"), "{out}");
    assert!(out.contains("x-visible: shown"), "{out}");
    let mut shown = args.to_vec();
    shown.push("--show-secrets");
    let (_, out, _) = check(&d, &shown);
    for secret in ["x-api-key: k3y-s3cret", "authorization: Bearer t0ken"] {
        assert!(out.contains(secret), "{secret} not shown:\n{out}");
    }
    // the list is serve's: replaced by --redact-headers
    let (_, out, _) = check(
        &d,
        &[
            "http://any/x",
            "-H",
            "x-visible: shown",
            "--redact-headers",
            "x-visible",
        ],
    );
    assert!(out.contains("x-visible: <redacted>"), "{out}");
}

#[test]
fn config_errors_are_listed_and_the_valid_resources_still_serve() {
    let srv = AuthServer::sample();
    let d = seed(&srv);
    std::fs::write(d.path().join("broken.yaml"), "kind: AuthConfig\nspec: [").unwrap();
    let (code, t) = check_json(&d, &[URL]);
    assert_eq!(code, 0, "{t:#}");
    let errors = t["config"]["errors"].as_array().unwrap();
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert!(
        errors[0].as_str().unwrap().contains("broken.yaml"),
        "{errors:?}"
    );
    assert_eq!(t["routing"]["result"], "matched");
}

#[test]
fn usage_errors_exit_64() {
    let d = dir(&[]);
    for args in [
        &["not a url"][..],
        &["http://h/", "-H", "no colon"],
        &["http://h/", "-X", "BAD METHOD"],
        &["http://h/", "--output", "yaml"],
        &["http://h/", "--body", "a", "--body-file", "b"],
        &[],
    ] {
        let (code, out, err) = check(&d, args);
        assert_eq!(code, 64, "{args:?}: {out} {err}");
    }
    let (code, out, _) = check(&d, &["--help"]);
    assert_eq!(code, 0);
    for flag in [
        "--config-dir",
        "--path-prefix",
        "--request",
        "--header",
        "--body",
        "--body-file",
        "--call",
        "--output",
        "--show-secrets",
        "--redact-headers",
    ] {
        assert!(out.contains(flag), "{flag} not in --help:\n{out}");
    }
}

mod admin;
