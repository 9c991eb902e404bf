//! `extauth validate DIR`, config errors located by file, document and field path, and serving
//! with an invalid file present.

use crate::harness::extauth::run;
use crate::harness::*;
use crate::seed::{seed_v1, seed_v2, VIRTUAL_SERVICE};
use serde_json::{json, Value};
use std::process::Output;
use std::time::{Duration, Instant};
use tempfile::TempDir;

mod every_error;

fn dir_with(files: &[(&str, &str)]) -> TempDir {
    let dir = TempDir::new().unwrap();
    for (name, content) in files {
        std::fs::write(dir.path().join(name), content).unwrap();
    }
    dir
}

fn validate(dir: &TempDir) -> Output {
    run(&["validate", dir.path().to_str().unwrap()])
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Asserts `validate` fails with code 1 and one stderr line holding all of `needles`.
fn assert_error(dir: &TempDir, needles: &[&str]) -> String {
    let out = validate(dir);
    let err = stderr(&out);
    assert_eq!(
        out.status.code(),
        Some(1),
        "validate must exit 1; stderr:\n{err}"
    );
    let line = err.lines().find(|l| needles.iter().all(|n| l.contains(n)));
    line.unwrap_or_else(|| panic!("no stderr line containing all of {needles:?}:\n{err}"))
        .to_string()
}

fn ac_doc(name: &str, configs: Value) -> Value {
    auth_config(name, json!({"configs": configs}))
}

#[test]
fn the_seed_files_are_valid() {
    for ac in [
        seed_v1("http://127.0.0.1:9001/auth"),
        seed_v2("http://127.0.0.1:9001/auth"),
    ] {
        let dir = dir_with(&[
            ("authconfig.yaml", &ac),
            ("virtualservice.yaml", VIRTUAL_SERVICE),
        ]);
        let out = validate(&dir);
        assert!(out.status.success(), "seed rejected:\n{}", stderr(&out));
        assert!(
            !out.stdout.is_empty(),
            "validate prints a summary on success"
        );
        assert!(
            stderr(&out)
                .lines()
                .all(|l| !l.to_lowercase().contains("error")),
            "{}",
            stderr(&out)
        );
    }
    // Unchanged seed url (a cluster DNS name) and several documents in one file.
    let both = format!(
        "{}---\n{}",
        seed_v2("http://example-http-auth-service.default.svc.cluster.local:9001/auth"),
        VIRTUAL_SERVICE
    );
    assert!(validate(&dir_with(&[("seed.yaml", &both)]))
        .status
        .success());
}

/// Documents are numbered from 1 in a file (like lines); list indices in field paths from 0.
#[test]
fn an_error_names_file_document_field_path_and_reason() {
    let good = ac_doc(
        "good",
        json!([step("", json!({"url": "http://127.0.0.1:1/auth"}))]),
    );
    let bad = ac_doc(
        "bad",
        json!([
            step("", json!({"url": "http://127.0.0.1:1/auth"})),
            step("", json!({"url": "not a url"})),
        ]),
    );
    let dir = dir_with(&[("multi.yaml", &yaml(&[good, bad]))]);
    let line = assert_error(
        &dir,
        &[
            "multi.yaml",
            "document 2",
            "spec.configs[1].passThroughAuth.http.url",
        ],
    );
    assert!(
        line.len() > "multi.yaml document 2 spec.configs[1].passThroughAuth.http.url".len() + 5,
        "reason missing: {line}"
    );
}

#[test]
fn every_error_of_every_file_is_reported() {
    let bad_url = ac_doc("one", json!([step("", json!({"url": "ftp//nope"}))]));
    let dir = dir_with(&[
        ("one.yaml", &yaml(&[bad_url])),
        (
            "two.yaml",
            "apiVersion: enterprise.gloo.solo.io/v1\nkind: AuthConfig\nmetadata: {name: [\n",
        ),
        (
            "three.yaml",
            &yaml(&[ac_doc(
                "three",
                json!([step(
                    "",
                    json!({"url": "http://h/a", "connectionTimeout": "soon"})
                )]),
            )]),
        ),
    ]);
    assert_error(
        &dir,
        &["one.yaml", "spec.configs[0].passThroughAuth.http.url"],
    );
    assert_error(&dir, &["two.yaml"]);
    assert_error(
        &dir,
        &[
            "three.yaml",
            "spec.configs[0].passThroughAuth.http.connectionTimeout",
        ],
    );
}

#[test]
fn unknown_or_misspelled_fields_are_errors() {
    let mut typo = ac_doc(
        "t",
        json!([step(
            "",
            json!({"url": "http://h/a", "connectonTimeout": "3s"})
        )]),
    );
    let dir = dir_with(&[("typo.yaml", &yaml(&[typo.clone()]))]);
    assert_error(
        &dir,
        &[
            "typo.yaml",
            "document 1",
            "spec.configs[0].passThroughAuth.http",
            "connectonTimeout",
        ],
    );

    typo = ac_doc(
        "t",
        json!([step(
            "",
            json!({"url": "http://h/a", "request": {"allowedHeader": ["a"]}})
        )]),
    );
    let dir = dir_with(&[("typo.yaml", &yaml(&[typo]))]);
    assert_error(
        &dir,
        &[
            "typo.yaml",
            "spec.configs[0].passThroughAuth.http.request",
            "allowedHeader",
        ],
    );

    let mut vs = virtual_service(
        "v",
        &["*"],
        json!([route(json!([{"prefx": "/"}]), None)]),
        None,
    );
    let dir = dir_with(&[("vs.yaml", &yaml(&[vs.clone()]))]);
    assert_error(
        &dir,
        &["vs.yaml", "spec.virtualHost.routes[0].matchers[0]", "prefx"],
    );

    vs["spec"]["virtualHost"]["options"] = json!({"extauth": {"configref": {"name": "x"}}});
    vs["spec"]["virtualHost"]["routes"] = json!([]);
    let dir = dir_with(&[("vs.yaml", &yaml(&[vs]))]);
    assert_error(
        &dir,
        &["vs.yaml", "spec.virtualHost.options.extauth", "configref"],
    );
}

#[test]
fn a_header_in_both_upstream_lists_is_an_error() {
    let both = ac_doc(
        "both",
        json!([step(
            "",
            json!({"url": "http://h/a", "response": {
                "allowedUpstreamHeaders": ["x-a", "X-User"],
                "allowedUpstreamHeadersToOverwrite": ["x-user"],
            }})
        )]),
    );
    let dir = dir_with(&[("both.yaml", &yaml(&[both]))]);
    let line = assert_error(
        &dir,
        &["both.yaml", "spec.configs[0].passThroughAuth.http.response"],
    );
    assert!(
        line.to_lowercase().contains("x-user"),
        "the header is named: {line}"
    );
}

#[test]
fn a_boolean_expr_naming_an_unknown_config_is_an_error() {
    let mut ac = ac_doc(
        "e",
        json!([
            step("a", json!({"url": "http://h/a"})),
            step("b", json!({"url": "http://h/b"}))
        ]),
    );
    ac["spec"]["booleanExpr"] = json!("a && (b || c)");
    let dir = dir_with(&[("expr.yaml", &yaml(&[ac.clone()]))]);
    let line = assert_error(&dir, &["expr.yaml", "spec.booleanExpr"]);
    assert!(line.contains('c'), "{line}");

    ac["spec"]["booleanExpr"] = json!("a && (b ||");
    assert_error(
        &dir_with(&[("expr.yaml", &yaml(&[ac.clone()]))]),
        &["expr.yaml", "spec.booleanExpr"],
    );

    ac["spec"]["booleanExpr"] = json!("a || b");
    assert!(validate(&dir_with(&[("expr.yaml", &yaml(&[ac]))]))
        .status
        .success());
}

#[test]
fn a_domain_claimed_twice_is_an_error_on_the_later_virtual_service() {
    let routes = json!([route(json!([{"prefix": "/"}]), None)]);
    let first = virtual_service("first", &["foo-http"], routes.clone(), None);
    let second = virtual_service("second", &["bar-http", "foo-http"], routes, None);
    let dir = dir_with(&[("vs.yaml", &yaml(&[first, second]))]);
    assert_error(
        &dir,
        &[
            "vs.yaml",
            "document 2",
            "spec.virtualHost.domains[1]",
            "foo-http",
        ],
    );
}

/// A route header matcher on a name whose value in the check is not what Envoy routed on (a
/// pseudo-header the check does not carry, a header Envoy's check request sets itself) is an
/// error naming the file and the field, never a condition on an absent header.
#[test]
fn header_matchers_extauth_cannot_see_are_errors() {
    for (name, reason) in [
        (":scheme", "does not carry the scheme"),
        (":foo", "not a pseudo-header"),
        (":status", "not a pseudo-header"),
        ("Content-Length", "Envoy's own"),
        ("x-envoy-internal", "Envoy's own"),
        ("x-envoy-expected-rq-timeout-ms", "Envoy's own"),
    ] {
        let m = json!([
            {"prefix": "/open"},
            {"prefix": "/", "headers": [{"name": "x-ok"}, {"name": name, "value": "x", "invertMatch": true}]}
        ]);
        let vs = virtual_service("v", &["*"], json!([route(m, None)]), None);
        let dir = dir_with(&[("vs.yaml", &yaml(&[vs]))]);
        assert_error(
            &dir,
            &[
                "vs.yaml",
                "spec.virtualHost.routes[0].matchers[1].headers[1].name",
                reason,
            ],
        );
    }
    // the pseudo-headers extauth sees are accepted, in any case
    let m = json!([{"prefix": "/", "headers": [
        {"name": ":method", "value": "GET", "invertMatch": true},
        {"name": ":PATH", "value": "/x.*", "regex": true},
        {"name": ":authority", "value": "a.example"},
        {"name": "host"}
    ]}]);
    let vs = virtual_service("v", &["*"], json!([route(m, None)]), None);
    let out = validate(&dir_with(&[("vs.yaml", &yaml(&[vs]))]));
    assert!(out.status.success(), "{}", stderr(&out));
}

#[test]
fn durations_in_go_and_short_forms_are_accepted() {
    for d in ["3s", "500ms", "1.5s", "0.5s", "1m"] {
        let ac = ac_doc(
            "d",
            json!([step(
                "",
                json!({"url": "http://h/a", "connectionTimeout": d})
            )]),
        );
        let out = validate(&dir_with(&[("d.yaml", &yaml(&[ac]))]));
        assert!(
            out.status.success(),
            "connectionTimeout {d} rejected:\n{}",
            stderr(&out)
        );
    }
    for d in ["soon", "-1s", "3"] {
        let ac = ac_doc(
            "d",
            json!([step(
                "",
                json!({"url": "http://h/a", "connectionTimeout": d})
            )]),
        );
        let dir = dir_with(&[("d.yaml", &yaml(&[ac]))]);
        assert_error(
            &dir,
            &[
                "d.yaml",
                "spec.configs[0].passThroughAuth.http.connectionTimeout",
            ],
        );
    }
}

#[test]
fn fractional_durations_are_applied_exactly() {
    let srv = AuthServer::start(Reply::ok().delay(Duration::from_millis(1100)));
    let mk = |name: &str, timeout: &str| {
        ac_doc(
            name,
            json!([step(
                "",
                json!({"url": srv.url("/auth"), "connectionTimeout": timeout})
            )]),
        )
    };
    let routes = json!([
        route(json!([{"prefix": "/long"}]), Some(cref("long"))),
        route(json!([{"prefix": "/short"}]), Some(cref("short"))),
    ]);
    let docs = [
        mk("long", "1.5s"),
        mk("short", "500ms"),
        virtual_service("v", &["*"], routes, None),
    ];
    let ext = Extauth::start(&[("d.yaml", &yaml(&docs))]);
    let t = Instant::now();
    assert_eq!(
        ext.get("/long", &[]).status,
        200,
        "1.5s must not be read as 1s"
    );
    assert!(t.elapsed() >= Duration::from_millis(1100));
    let t = Instant::now();
    assert_eq!(ext.get("/short", &[]).status, 503);
    assert!(
        t.elapsed() < Duration::from_millis(1000),
        "{:?}",
        t.elapsed()
    );
}

#[test]
fn the_server_starts_with_an_invalid_file_and_serves_the_valid_ones() {
    let srv = AuthServer::start(Reply::ok());
    let ext = Extauth::start(&[
        ("good.yaml", &serve_single_yaml(&srv)),
        (
            "bad.yaml",
            "kind: AuthConfig\nspec: {configs: [{passThroughAuth: {http: {}}}]}\n",
        ),
        ("worse.yaml", "\t{{ not yaml"),
    ]);
    assert_eq!(ext.admin_get("/readyz").0, 200);
    assert_eq!(ext.get("/posts/1", &[]).status, 200);
    assert_eq!(srv.count(), 1);
    ext.expect_log_matching(r"\bERROR\b.*bad\.yaml");
    ext.expect_log_matching(r"\bERROR\b.*worse\.yaml");
    assert_eq!(ext.admin_get("/healthz").0, 200);
}

fn serve_single_yaml(srv: &AuthServer) -> String {
    single(json!({"url": srv.url("/auth")}), json!({}))
}

/// A header that is never copied, listed in `allowedHeaders`, is a warning: printed by
/// `validate`, which still succeeds.
#[test]
fn a_never_copied_header_in_allowed_headers_is_a_warning() {
    let ac = ac_doc(
        "w",
        json!([step(
            "",
            json!({"url": "http://h/a", "request": {"allowedHeaders": ["authorization", "Expect"]}})
        )]),
    );
    let out = validate(&dir_with(&[("w.yaml", &yaml(&[ac]))]));
    let err = stderr(&out);
    assert!(
        out.status.success(),
        "warnings do not fail validate:\n{err}"
    );
    let line = err.lines().find(|l| l.starts_with("warning: "));
    let line = line.unwrap_or_else(|| panic!("no warning:\n{err}"));
    for needle in [
        "w.yaml",
        "spec.configs[0].passThroughAuth.http.request.allowedHeaders[1]",
        "`expect`",
    ] {
        assert!(line.contains(needle), "{needle} missing: {line}");
    }
}

/// A VirtualService in JSON for every host, whose virtual host has the `options` given (as
/// JSON text, `"options": ...` written once or more).
fn vs_json(options: &str) -> String {
    format!(
        r#"{{
  "apiVersion": "gateway.solo.io/v1",
  "kind": "VirtualService",
  "metadata": {{"name": "vs", "namespace": "{NS}"}},
  "spec": {{"virtualHost": {{
    "domains": ["*"],
    "routes": [{{"matchers": [{{"prefix": "/"}}]}}],
    {options}
  }}}}
}}"#
    )
}

const PROTECTED: &str =
    r#""options": {"extauth": {"configRef": {"name": "ac", "namespace": "gloo-system"}}}"#;

/// serde_json keeps the last of two equal keys; extauth rejects the file, as YAML does.
#[test]
fn a_key_written_twice_in_json_is_an_error_naming_file_key_and_line() {
    let dup = vs_json(&format!("{PROTECTED},\n    \"options\": {{}}"));
    let line = assert_error(
        &dir_with(&[("vs.json", &dup)]),
        &[
            "vs.json",
            "spec.virtualHost.options",
            "\"options\"",
            "line 9, column 5",
        ],
    );
    assert!(line.contains("duplicate"), "{line}");
    // and in a list, in YAML too
    let yaml = "apiVersion: gateway.solo.io/v1\nkind: VirtualService\nmetadata: {name: v}\nspec:\n  virtualHost:\n    routes:\n    - matchers: [{prefix: /}]\n      matchers: []\n";
    assert_error(
        &dir_with(&[("vs.yaml", yaml)]),
        &[
            "vs.yaml",
            "spec.virtualHost.routes[0].matchers",
            "line 8, column 7",
        ],
    );
}

/// The protected version keeps serving when a JSON file is rewritten with `options` twice:
/// protected, then `{}` (which serde_json alone would load, unprotected).
#[test]
fn a_json_file_repeating_a_key_keeps_the_last_good_version() {
    let srv = AuthServer::start(Reply::status(401));
    let ac = auth_config(
        "ac",
        json!({"configs": [step("", json!({"url": srv.url("/auth")}))]}),
    );
    let ext = Extauth::start(&[("ac.yaml", &yaml(&[ac])), ("vs.json", &vs_json(PROTECTED))]);
    assert_eq!(ext.get("/", &[]).status, 401);
    ext.write(
        "vs.json",
        &vs_json(&format!("{PROTECTED},\n    \"options\": {{}}")),
    );
    let let_through = wait_for(
        || ext.get("/", &[]).status != 401,
        Duration::from_millis(2000),
    );
    assert!(
        let_through.is_none(),
        "a check without credentials was let through"
    );
    ext.expect_log(&["vs.json", "duplicate entry", "options", "line 9"]);
    ext.expect_log(&["last good version keeps serving"]);
    assert_eq!(ext.get("/", &[]).status, 401);
}

/// Secrets written where a config error is about: urls with credentials that parse or do not,
/// and `headersToAdd` values that are not strings. Each is `(file, content, secret)`.
fn files_with_secrets() -> Vec<(String, String, &'static str)> {
    let mut files = Vec::new();
    let urls = [
        ("http://user:pa ss@auth/x", "pa ss"),
        ("http://user:p/ss@h/", "p/ss"),
        ("http://u:p`q@h/", "p`q"),
        ("http://u:p@ss@h/", "p@ss"),
        ("http://user:pa ss@/x", "pa ss"),
        ("http://u:pa ss@h:99999/", "pa ss"),
        ("https://u:pa ss@h/", "pa ss"),
    ];
    for (i, (url, secret)) in urls.into_iter().enumerate() {
        let ac = ac_doc(&format!("u{i}"), json!([step("", json!({"url": url}))]));
        files.push((format!("url{i}.yaml"), yaml(&[ac]), secret));
    }
    let values = [
        (json!(987654321), "987654321"),
        (json!(13579.2468), "13579.2468"),
        (json!(-97531), "97531"),
    ];
    for (i, (value, secret)) in values.into_iter().enumerate() {
        let http = json!({"url": "http://h/a", "request": {"headersToAdd": {"x-api-key": value}}});
        let ac = |name: String| ac_doc(&name, json!([step("", http.clone())]));
        files.push((
            format!("added{i}.yaml"),
            yaml(&[ac(format!("y{i}"))]),
            secret,
        ));
        files.push((
            format!("added{i}.json"),
            ac(format!("j{i}")).to_string(),
            secret,
        ));
    }
    let tagged = "apiVersion: enterprise.gloo.solo.io/v1\nkind: AuthConfig\nmetadata: {name: t}\nspec:\n  configs:\n  - passThroughAuth:\n      config: {password: !!int S3CRET-CONFIG}\n      http:\n        url: http://h/a\n        request: {headersToAdd: {x-api-key: !!float S3CRET-ADDED}}\n";
    files.push(("tagged.yaml".into(), tagged.into(), "S3CRET"));
    files
}

/// No error shown by `validate`, the log or `/configz` quotes a url's credentials or a
/// `headersToAdd` value, whatever is wrong with them.
#[test]
fn no_config_error_shows_a_secret() {
    let files = files_with_secrets();
    let named: Vec<(&str, &str)> = files
        .iter()
        .map(|(n, c, _)| (n.as_str(), c.as_str()))
        .collect();
    let dir = dir_with(&named);
    let out = validate(&dir);
    let shown = format!("{}\n{}", String::from_utf8_lossy(&out.stdout), stderr(&out));
    assert_eq!(out.status.code(), Some(1), "{shown}");
    for (name, _, secret) in &files {
        assert!(
            shown.lines().any(|l| l.contains(name.as_str())),
            "{name} has its error:\n{shown}"
        );
        assert!(
            !shown.contains(secret),
            "{secret:?} shown by validate:\n{shown}"
        );
    }
    assert!(
        shown.contains("headersToAdd.x-api-key: invalid type: integer, expected a string"),
        "{shown}"
    );

    let booleans = ac_doc(
        "b",
        json!([step(
            "",
            json!({"url": "http://h/a", "request": {"headersToAdd": {"x-api-key": true}}})
        )]),
    );
    let line = assert_error(
        &dir_with(&[("b.yaml", &yaml(&[booleans]))]),
        &[
            "b.yaml",
            "headersToAdd.x-api-key",
            "invalid type: boolean, expected a string",
        ],
    );
    assert!(!line.contains("`true`"), "{line}");

    let ext = Extauth::start(&named);
    for (name, _, _) in &files {
        ext.expect_log_matching(&format!(r"\bERROR\b.*{}", regex::escape(name)));
    }
    let (status, configz) = ext.admin_get("/configz");
    assert_eq!(status, 200);
    let errors: Value = serde_json::from_str(&configz).unwrap();
    assert_eq!(
        errors["errors"].as_array().unwrap().len(),
        files.len(),
        "{configz}"
    );
    let logs = ext.logs();
    for (_, _, secret) in &files {
        assert!(!logs.contains(secret), "{secret:?} in the log:\n{logs}");
        assert!(
            !configz.contains(secret),
            "{secret:?} in /configz:\n{configz}"
        );
    }
}
