//! Unit tests of the loader.

use super::*;
use crate::compiled::Compiler;

fn hash_of(yaml: &str) -> String {
    let outcome = parse_file::<Compiler>(Path::new("a.yaml"), yaml.as_bytes());
    match &outcome.documents[..] {
        [DocumentOutcome::Valid(r)] => r.hash.clone(),
        other => panic!("{other:?}"),
    }
}

#[test]
fn auth_config_hash_follows_meaning_not_spelling() {
    let ac = |body: &str| {
        format!("apiVersion: enterprise.gloo.solo.io/v1\nkind: AuthConfig\nmetadata: {{name: a}}\nspec:\n  configs:\n  - passThroughAuth:\n      http: {body}\n")
    };
    let base = hash_of(&ac("{url: 'http://a/auth', connectionTimeout: 1000ms}"));
    let same = hash_of(&ac(
        "{connectionTimeout: 1s, url: 'http://a/auth', request: {allowedHeaders: []}}",
    ));
    let other = hash_of(&ac("{url: 'http://a/other', connectionTimeout: 1s}"));
    assert_eq!(base, same);
    assert_ne!(base, other);
}

fn fatal(name: &str, text: &str) -> ConfigError {
    let outcome = parse_file::<Compiler>(Path::new(name), text.as_bytes());
    outcome
        .fatal
        .unwrap_or_else(|| panic!("{name} must be rejected: {:?}", outcome.documents))
}

/// A VirtualService protected by `options`, then unprotected by `options` written again.
const PROTECTED_THEN_NOT: (&str, &str) = (
    r#"{
  "apiVersion": "gateway.solo.io/v1",
  "kind": "VirtualService",
  "metadata": {"name": "vs"},
  "spec": {"virtualHost": {
    "domains": ["*"],
    "options": {"extauth": {"configRef": {"name": "ac"}}},
    "options": {}
  }}
}"#,
    "apiVersion: gateway.solo.io/v1
kind: VirtualService
metadata: {name: vs}
spec:
  virtualHost:
    domains: ['*']
    options: {extauth: {configRef: {name: ac}}}
    options: {}
",
);

#[test]
fn a_key_written_twice_is_an_error_located_at_the_key_in_json_as_in_yaml() {
    let (json, yaml) = PROTECTED_THEN_NOT;
    for e in [fatal("vs.json", json), fatal("vs.yaml", yaml)] {
        assert_eq!(e.field.as_deref(), Some("spec.virtualHost.options"), "{e}");
        assert_eq!(e.message, r#"duplicate entry with key "options""#, "{e}");
        assert_eq!(
            (e.document, e.line, e.column),
            (Some(1), Some(8), Some(5)),
            "{e}"
        );
    }
}

#[test]
fn a_key_written_twice_is_an_error_at_every_level() {
    let top = r#"{"kind": "AuthConfig", "kind": "VirtualService"}"#;
    let e = fatal("a.json", top);
    assert_eq!(
        (e.field.as_deref(), e.line, e.column),
        (Some("kind"), Some(1), Some(24))
    );
    let in_list = "{\"apiVersion\": \"enterprise.gloo.solo.io/v1\", \"kind\": \"AuthConfig\",\n \"metadata\": {\"name\": \"a\"}, \"spec\": {\"configs\": [\n  {\"passThroughAuth\": {\"http\": {\"url\": \"http://a/\"}}},\n  {\"name\": \"b\", \"passThroughAuth\": {}, \"passThroughAuth\": {}}]}}";
    let e = fatal("a.json", in_list);
    assert_eq!(
        e.field.as_deref(),
        Some("spec.configs[1].passThroughAuth"),
        "{e}"
    );
    assert_eq!((e.line, e.column), (Some(4), Some(40)), "{e}");
    let yaml = "kind: AuthConfig\nspec:\n  configs:\n  - {name: a}\n  - name: b\n    name: c\n";
    let e = fatal("a.yaml", yaml);
    assert_eq!(e.field.as_deref(), Some("spec.configs[1].name"), "{e}");
    assert_eq!((e.line, e.column), (Some(6), Some(5)), "{e}");
    // a later document of a YAML file is named by its index
    let e = fatal("a.yaml", &format!("kind: VirtualService\n---\n{yaml}"));
    assert_eq!((e.document, e.line), (Some(2), Some(8)), "{e}");
}

/// Every error and warning of a file, shown every way one can be shown.
fn every_rendering(name: &str, text: &str) -> Vec<String> {
    let outcome = parse_file::<Compiler>(Path::new(name), text.as_bytes());
    let mut errors: Vec<&ConfigError> = outcome.fatal.iter().collect();
    for doc in &outcome.documents {
        match doc {
            DocumentOutcome::Valid(r) => errors.extend(&r.warnings),
            DocumentOutcome::Invalid { errors: e, .. } => errors.extend(e),
        }
    }
    assert!(!errors.is_empty(), "{name} must be rejected:\n{text}");
    errors.iter().map(|e| format!("{e}\n{e:?}")).collect()
}

fn auth_config(http: &str, step_extra: &str) -> String {
    format!("apiVersion: enterprise.gloo.solo.io/v1\nkind: AuthConfig\nmetadata: {{name: a}}\nspec:\n  configs:\n  - passThroughAuth: {{http: {http}{step_extra}}}\n")
}

#[test]
fn no_error_quotes_a_secret() {
    let cases: Vec<(String, &str)> = vec![
        // urls with credentials, parsable or not
        (
            auth_config("{url: 'http://user:pa ss@auth/x'}", ""),
            "pa ss",
        ),
        (auth_config("{url: 'http://user:p/ss@h/'}", ""), "p/ss"),
        (auth_config("{url: 'http://u:p`q@h/'}", ""), "p`q"),
        (auth_config("{url: 'http://u:p@ss@h/'}", ""), "p@ss"),
        (auth_config("{url: 'http://user:pa ss@/x'}", ""), "pa ss"),
        (auth_config("{url: 'http://u:pa ss@h:99999/'}", ""), "pa ss"),
        (auth_config("{url: 'http://u:pa#ss@h/'}", ""), "pa#ss"),
        (auth_config("{url: 'ftp://u:pa ss@h/'}", ""), "pa ss"),
        (auth_config("{url: 'https://u:pa ss@h/'}", ""), "pa ss"),
        (auth_config("{url: !!int 'http://u:pa ss@h/'}", ""), "pa ss"),
        // headersToAdd values of every type
        (
            auth_config(
                "{url: 'http://h/', request: {headersToAdd: {x-key: 987654321}}}",
                "",
            ),
            "987654321",
        ),
        (
            auth_config(
                "{url: 'http://h/', request: {headersToAdd: {x-key: 13579.2468}}}",
                "",
            ),
            "13579.2468",
        ),
        (
            auth_config(
                "{url: 'http://h/', request: {headersToAdd: {x-key: -97531}}}",
                "",
            ),
            "97531",
        ),
        (
            auth_config(
                "{url: 'http://h/', request: {headersToAdd: {x-key: !!int S3CRET}}}",
                "",
            ),
            "S3CRET",
        ),
        (
            auth_config(
                "{url: 'http://h/', request: {headersToAdd: {x-key: \"S3CRET\\n\"}}}",
                "",
            ),
            "S3CRET",
        ),
        (
            auth_config("{url: 'http://h/', request: {headersToAdd: S3CRET}}", ""),
            "S3CRET",
        ),
        // a value of the wrong type where the secrets should be
        (
            auth_config("{url: 'http://h/', request: 'x-api-key: S3CRET'}", ""),
            "S3CRET",
        ),
        // a step's config
        (
            auth_config("{url: 'http://h/'}", ", config: {token: !!int S3CRET}"),
            "S3CRET",
        ),
        (
            auth_config("{url: 'http://h/'}", ", config: {token: !!float S3CRET}"),
            "S3CRET",
        ),
    ];
    for (text, secret) in &cases {
        for shown in every_rendering("a.yaml", text) {
            assert!(!shown.contains(secret), "{secret:?} shown:\n{shown}");
        }
    }
    // the same in JSON
    let json = r#"{"apiVersion": "enterprise.gloo.solo.io/v1", "kind": "AuthConfig", "metadata": {"name": "a"},
            "spec": {"configs": [{"passThroughAuth": {"http": {"url": "http://h/", "request": {"headersToAdd": {"x-key": 987654321}}}}}]}}"#;
    for shown in every_rendering("a.json", json) {
        assert!(!shown.contains("987654321"), "{shown}");
    }
    let bool_json = json.replace("987654321", "true");
    for shown in every_rendering("a.json", &bool_json) {
        assert!(!shown.contains("`true`"), "{shown}");
    }
}

#[test]
fn errors_about_secrets_still_say_what_is_wrong() {
    let shown = every_rendering(
        "a.yaml",
        &auth_config(
            "{url: 'http://h/', request: {headersToAdd: {x-key: 987654321}}}",
            "",
        ),
    );
    assert!(
        shown[0].contains("headersToAdd.x-key: invalid type: integer, expected a string"),
        "{shown:?}"
    );
    let shown = every_rendering(
        "a.yaml",
        &auth_config("{url: 'http://user:p/ss@auth.internal/x'}", ""),
    );
    assert!(
        shown[0].contains("http.url: not a valid URL: invalid port number"),
        "{shown:?}"
    );
    let shown = every_rendering(
        "a.yaml",
        &auth_config("{url: 'http://user:pa ss@auth.internal/x'}", ""),
    );
    assert!(
        shown[0].contains("`auth.internal`"),
        "the host is named: {shown:?}"
    );
    // values of fields that hold no secret are still quoted
    let shown = every_rendering(
        "a.yaml",
        &auth_config("{url: 'http://h/', connectionPool: {maxConns: many}}", ""),
    );
    assert!(shown[0].contains("\"many\""), "{shown:?}");
}

fn errors_of(name: &str, text: &str) -> Vec<ConfigError> {
    let outcome = parse_file::<Compiler>(Path::new(name), text.as_bytes());
    outcome
        .documents
        .into_iter()
        .flat_map(|d| match d {
            DocumentOutcome::Invalid { errors, .. } => errors,
            DocumentOutcome::Valid(_) => Vec::new(),
        })
        .collect()
}

#[test]
fn every_error_of_a_document_is_found_each_at_its_own_position() {
    let json = "{\"apiVersion\": \"enterprise.gloo.solo.io/v1\", \"kind\": \"AuthConfig\", \"metadata\": {\"name\": \"a\"},\n \"spec\": {\"configs\": [\n  {\"passThroughAuth\": {\"http\": {\"url\": 7, \"bogus\": 1}}},\n  {\"passThroughAuth\": {\"http\": {\"url\": \"http://h/\", \"connectionTimeout\": \"0s\"}}}]}}";
    let found: Vec<(String, Option<usize>, Option<usize>)> = errors_of("a.json", json)
        .into_iter()
        .map(|e| (e.field.unwrap_or_default(), e.line, e.column))
        .collect();
    let http = "spec.configs[0].passThroughAuth.http";
    assert_eq!(
        found,
        [
            (format!("{http}.url"), Some(3), Some(40)),
            (format!("{http}.bogus"), Some(3), Some(43)),
            (
                "spec.configs[1].passThroughAuth.http.connectionTimeout".into(),
                Some(4),
                Some(74)
            ),
        ],
    );
    // a required field of the wrong type is one error, not also a missing one
    let yaml = auth_config("{url: [x], connectionPool: {maxConns: -1}}", "");
    let errors = errors_of("a.yaml", &yaml);
    assert_eq!(errors.len(), 2, "{errors:?}");
    assert!(
        errors.iter().all(|e| !e.message.contains("missing")),
        "{errors:?}"
    );
    assert!(errors.iter().all(|e| e.line == Some(6)), "{errors:?}");
}

/// Found by `scripts/fuzz`: a key that cannot be taken out where it was found (here `-0bp`, a
/// list item's key beside an unknown field) made the error collector subtract below zero.
#[test]
fn a_node_that_cannot_be_taken_out_gets_a_placeholder_instead_of_a_panic() {
    let text = include_str!("../../../fuzz/seeds/config_loader/regression-collect-underflow.yaml");
    let outcome = parse_file::<Compiler>(Path::new("crash.yaml"), text.as_bytes());
    let errors: usize = outcome
        .documents
        .iter()
        .map(|d| match d {
            DocumentOutcome::Invalid { errors, .. } => errors.len(),
            _ => 0,
        })
        .sum();
    assert!(outcome.fatal.is_some() || errors > 0, "{outcome:?}");
}
