//! Every error of every document is reported, each at its own line and column: by `extauth
//! validate` and in the server's log. Duplicate keys are located at the repeated key, YAML
//! syntax errors name their position once.

use super::{dir_with, stderr, validate};
use crate::harness::*;

/// Two documents, seven errors: unknown fields, wrong types, a bad duration, `0s`, and a
/// URL the compile step rejects next to a typed error.
const MANY: &str = "apiVersion: enterprise.gloo.solo.io/v1
kind: AuthConfig
metadata:
  name: one
spec:
  configs:
  - passThroughAuth:
      http:
        url: http://h/a
        connectonTimeout: 3s
        connectionPool:
          maxConns: many
  - passThroughAuth:
      http:
        url: http://h/b
        connectionTimeout: 0s
---
apiVersion: enterprise.gloo.solo.io/v1
kind: AuthConfig
metadata:
  name: two
spec:
  configs:
  - passThroughAuth:
      http:
        url: [http://h/c]
        connectionTimeout: soon
        request:
          allowedHeaders: [a, {b: 1}]
          bogus: true
";

/// (document, field, what the reason says, line, column) of each error in [`MANY`].
const EXPECTED: &[(usize, &str, &str, usize, usize)] = &[
    (
        1,
        "spec.configs[0].passThroughAuth.http.connectonTimeout",
        "unknown field",
        10,
        9,
    ),
    (
        1,
        "spec.configs[0].passThroughAuth.http.connectionPool.maxConns",
        "invalid type",
        12,
        21,
    ),
    (
        1,
        "spec.configs[1].passThroughAuth.http.connectionTimeout",
        "greater than 0",
        16,
        28,
    ),
    (
        2,
        "spec.configs[0].passThroughAuth.http.url",
        "invalid type",
        26,
        14,
    ),
    (
        2,
        "spec.configs[0].passThroughAuth.http.connectionTimeout",
        "invalid duration",
        27,
        28,
    ),
    (
        2,
        "spec.configs[0].passThroughAuth.http.request.allowedHeaders[1]",
        "invalid type",
        29,
        31,
    ),
    (
        2,
        "spec.configs[0].passThroughAuth.http.request.bogus",
        "unknown field",
        30,
        11,
    ),
];

fn needles(e: &(usize, &str, &str, usize, usize)) -> [String; 5] {
    let (doc, field, reason, line, column) = *e;
    [
        "many.yaml".to_string(),
        format!("document {doc} "),
        format!("{field}: "),
        reason.to_string(),
        format!("(line {line}, column {column})"),
    ]
}

fn has_line(text: &str, needles: &[String]) -> bool {
    text.lines()
        .any(|l| needles.iter().all(|n| l.contains(n.as_str())))
}

#[test]
fn validate_and_the_server_report_every_error_of_every_document_at_its_position() {
    let dir = dir_with(&[("many.yaml", MANY)]);
    let out = validate(&dir);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    for e in EXPECTED {
        assert!(
            has_line(&err, &needles(e)),
            "{:?} missing:\n{err}",
            needles(e)
        );
    }
    assert!(
        err.contains(&format!("{} error(s)", EXPECTED.len())),
        "{err}"
    );

    let srv = AuthServer::start(Reply::ok());
    let good = single(
        serde_json::json!({"url": srv.url("/auth")}),
        serde_json::json!({}),
    );
    let ext = Extauth::start(&[("good.yaml", &good), ("many.yaml", MANY)]);
    ext.expect_log_matching(r"\bERROR\b.*many\.yaml");
    for e in EXPECTED {
        let n = needles(e);
        let wanted: Vec<&str> = n.iter().map(String::as_str).collect();
        ext.expect_log(&wanted);
    }
    assert_eq!(
        ext.get("/posts/1", &[]).status,
        200,
        "the valid file serves"
    );
}

#[test]
fn a_repeated_key_is_located_at_its_second_occurrence() {
    let text = "apiVersion: gateway.solo.io/v1\nkind: VirtualService\nmetadata:\n  name: v\n  labels: {1: a, 1: b}\n";
    let out = validate(&dir_with(&[("dup.yaml", text)]));
    let err = stderr(&out);
    assert!(
        has_line(
            &err,
            &[
                "dup.yaml".into(),
                "metadata.labels.1".into(),
                "duplicate".into(),
                "(line 5, column 18)".into()
            ]
        ),
        "{err}"
    );
}

#[test]
fn a_yaml_syntax_error_names_its_position_once() {
    let out = validate(&dir_with(&[("broken.yaml", "a: [1, 2\nb: 3\n")]));
    let err = stderr(&out);
    let line = err
        .lines()
        .find(|l| l.contains("broken.yaml"))
        .unwrap_or_else(|| panic!("{err}"));
    assert!(line.ends_with("(line 2, column 2)"), "{line}");
    assert_eq!(line.matches("line 2").count(), 1, "{line}");
    assert!(!line.contains("column 2,"), "{line}");
    // where the unclosed list began is still said
    assert!(line.contains("started at line 1, column 4"), "{line}");
}
