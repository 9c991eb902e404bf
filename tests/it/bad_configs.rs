//! Bad configs: a corpus of broken files written into a serving config directory, one after
//! the other, under a steady stream of checks. Each is rejected with an error that names the
//! file and the field (or, for a file that cannot be parsed at all, the file and where the
//! parser stopped), the last good config keeps serving throughout, and no check gets a wrong
//! answer. `validate.rs` pins the shape of error messages; here the point is the serving side.

use crate::harness::*;
use serde_json::Value;
use std::fs;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

const AC: &str = "apiVersion: enterprise.gloo.solo.io/v1
kind: AuthConfig
metadata:
  name: ac
  namespace: gloo-system
spec:
  configs:
  - name: main
    passThroughAuth:
      failureModeAllow: false
      http:
        url: URL
        connectionTimeout: 2s
        connectionPool:
          maxConns: 10
        request:
          allowedHeaders: [authorization]
        response:
          allowedUpstreamHeaders: [x-user]
  - name: second
    passThroughAuth:
      http:
        url: URL
        response:
          allowedUpstreamHeaders: [x-user]
  booleanExpr: main && second
";

const VS: &str = "apiVersion: gateway.solo.io/v1
kind: VirtualService
metadata:
  name: vs
  namespace: gloo-system
spec:
  virtualHost:
    domains:
    - foo-http
    options:
      extauth:
        configRef:
          name: ac
          namespace: gloo-system
    routes:
    - matchers:
      - prefix: /
      routeAction:
        single:
          upstream: {name: up, namespace: gloo-system}
";

/// One broken variant: the file it is written to, its content, and what the error must name
/// besides the file (a field path, or a reason where no field exists).
struct Broken {
    what: &'static str,
    file: &'static str,
    content: Vec<u8>,
    names: &'static [&'static str],
}

fn replace(base: &str, from: &str, to: &str) -> Vec<u8> {
    assert!(
        base.contains(from),
        "corpus bug: {from:?} not in the base file"
    );
    base.replacen(from, to, 1).into_bytes()
}

/// The corpus, for a base AuthConfig calling `url`. (A second copy of a resource or a second
/// claim on a domain is no broken file: it denies until resolved, see `conflicts.rs`.)
fn corpus(url: &str) -> Vec<Broken> {
    let ac = &AC.replace("URL", url);
    let b = |what, file, content: Vec<u8>, names| Broken {
        what,
        file,
        content,
        names,
    };
    let ac_r = |what, from: &str, to: &str, names| {
        let content = String::from_utf8(replace(AC, from, to)).unwrap();
        b(
            what,
            "ac.yaml",
            content.replace("URL", url).into_bytes(),
            names,
        )
    };
    let vs_r = |what, from: &str, to: &str, names| b(what, "vs.yaml", replace(VS, from, to), names);
    let mut bomb = String::from("a: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n");
    for (n, prev) in "bcdefghij".chars().zip("abcdefghi".chars()) {
        let refs = vec![format!("*{prev}"); 9].join(", ");
        bomb.push_str(&format!("{n}: &{n} [{refs}]\n"));
    }
    let truncated = |at: &str| {
        let i = ac.find(at).expect("corpus bug: truncation point");
        ac.as_bytes()[..i + at.len()].to_vec()
    };
    vec![
        // YAML syntax
        ac_r("unclosed flow sequence", "[x-user]\n  - name: second", "[x-user\n  - name: second", &["line"]),
        ac_r("tab indentation", "\n  configs:", "\n\tconfigs:", &["line"]),
        ac_r("mapping value in a plain scalar", "connectionTimeout: 2s", "connectionTimeout: 2s: 3s", &["line"]),
        ac_r("unterminated quoted string", "connectionTimeout: 2s", "connectionTimeout: \"2s", &["line"]),
        ac_r("duplicate key", "kind: AuthConfig\n", "kind: AuthConfig\nkind: AuthConfig\n", &["duplicate", "kind"]),
        ac_r("alias expansion bomb", "apiVersion", &format!("{bomb}apiVersion"), &["repetition limit"]),
        b("deep nesting", "ac.yaml", format!("{}{}\n", "[".repeat(10_000), "]".repeat(10_000)).into_bytes(), &["nested deeper than 64", "line"]),
        b("a bare scalar", "ac.yaml", b"just some words\n".to_vec(), &["kind"]),
        // wrong types
        ac_r("configs is a string", "  configs:\n  - name: main", "  configs: main\n  x:\n  - name: main", &["spec"]),
        ac_r("boolean as a word", "failureModeAllow: false", "failureModeAllow: nope", &["spec.configs[0].passThroughAuth.failureModeAllow"]),
        ac_r("list as a number", "allowedHeaders: [authorization]", "allowedHeaders: 5", &["spec.configs[0].passThroughAuth.http.request.allowedHeaders"]),
        ac_r("number as a word", "maxConns: 10", "maxConns: ten", &["spec.configs[0].passThroughAuth.http.connectionPool.maxConns"]),
        ac_r("metadata is a list", "metadata:\n  name: ac\n  namespace: gloo-system", "metadata: [ac, gloo-system]", &["metadata"]),
        vs_r("domains is a string", "domains:\n    - foo-http", "domains: foo-http", &["spec.virtualHost.domains"]),
        // unknown fields
        ac_r("misspelled connectionTimeout", "connectionTimeout: 2s", "connectonTimeout: 2s", &["spec.configs[0].passThroughAuth.http", "connectonTimeout"]),
        ac_r("unknown spec field", "  booleanExpr:", "  booleanExpression: x\n  booleanExpr:", &["spec", "booleanExpression"]),
        vs_r("misspelled matchers", "    - matchers:", "    - matcher:", &["spec.virtualHost.routes[0]", "matcher"]),
        // url
        ac_r("missing url", "        url: URL\n        connectionTimeout", "        connectionTimeout", &["spec.configs[0].passThroughAuth.http", "url"]),
        ac_r("url not a URL", "url: URL\n        connectionTimeout", "url: not a url\n        connectionTimeout", &["spec.configs[0].passThroughAuth.http.url"]),
        ac_r("url with another scheme", "url: URL\n        connectionTimeout", "url: ftp://127.0.0.1/auth\n        connectionTimeout", &["spec.configs[0].passThroughAuth.http.url"]),
        ac_r("url empty", "url: URL\n        connectionTimeout", "url: ''\n        connectionTimeout", &["spec.configs[0].passThroughAuth.http.url"]),
        // durations and numbers
        ac_r("duration in words", "connectionTimeout: 2s", "connectionTimeout: soon", &["spec.configs[0].passThroughAuth.http.connectionTimeout"]),
        ac_r("negative duration", "connectionTimeout: 2s", "connectionTimeout: -2s", &["spec.configs[0].passThroughAuth.http.connectionTimeout"]),
        ac_r("zero duration", "connectionTimeout: 2s", "connectionTimeout: 0s", &["spec.configs[0].passThroughAuth.http.connectionTimeout"]),
        ac_r("duration over the maximum", "connectionTimeout: 2s", "connectionTimeout: 99999999h", &["spec.configs[0].passThroughAuth.http.connectionTimeout", "maximum of 24h"]),
        ac_r("duration overflowing a sum", "connectionTimeout: 2s", "connectionTimeout: 300000000000years", &["spec.configs[0].passThroughAuth.http.connectionTimeout", "maximum of 24h"]),
        ac_r("negative maxConns", "maxConns: 10", "maxConns: -1", &["spec.configs[0].passThroughAuth.http.connectionPool.maxConns"]),
        ac_r("zero maxConns", "maxConns: 10", "maxConns: 0", &["spec.configs[0].passThroughAuth.http.connectionPool.maxConns"]),
        // semantics
        ac_r("a header in both upstream lists", "allowedUpstreamHeaders: [x-user]\n  - name: second", "allowedUpstreamHeaders: [x-user]\n          allowedUpstreamHeadersToOverwrite: [X-User]\n  - name: second", &["spec.configs[0].passThroughAuth.http.response.allowedUpstreamHeadersToOverwrite"]),
        ac_r("booleanExpr names an unknown config", "booleanExpr: main && second", "booleanExpr: main && third", &["spec.booleanExpr", "third"]),
        ac_r("booleanExpr malformed", "booleanExpr: main && second", "booleanExpr: main &&", &["spec.booleanExpr"]),
        ac_r("duplicate step names", "name: second", "name: main", &["spec.configs[1].name"]),
        ac_r("unsupported auth kind", "  - name: second\n    passThroughAuth:", "  - name: second\n    basicAuth: {}\n    passThroughAuth:", &["spec.configs[1].basicAuth"]),
        ac_r("wrong apiVersion", "enterprise.gloo.solo.io/v1", "enterprise.gloo.solo.io/v2", &["apiVersion"]),
        ac_r("unknown kind", "kind: AuthConfig", "kind: AuthConfiguration", &["kind"]),
        ac_r("empty name", "  name: ac\n", "  name: ''\n", &["metadata.name"]),
        vs_r("configRef to nothing", "          name: ac", "          name: nothing", &["extauth.configRef", "nothing"]),
        vs_r("invalid route regex", "      - prefix: /", "      - regex: '(['", &["spec.virtualHost.routes[0].matchers[0].regex"]),
        vs_r("prefix without a slash", "      - prefix: /", "      - prefix: posts", &["spec.virtualHost.routes[0].matchers[0].prefix"]),
        // whole files
        b("truncated mid-key", "ac.yaml", truncated("    passThroughAuth:\n      fail"), &["spec.configs[0].passThroughAuth"]),
        b("truncated mid-list", "ac.yaml", truncated("allowedHeaders: [author"), &["line"]),
        b("truncated to nothing", "ac.yaml", Vec::new(), &["empty"]),
        b("only whitespace", "ac.yaml", b"\n   \n\t\n".to_vec(), &["empty"]),
        b("binary", "ac.yaml", (0..=255u8).cycle().take(4096).collect(), &["UTF-8"]),
        b("control characters", "ac.yaml", b"kind: AuthConfig\x00\x01\x02\n".to_vec(), &["control characters"]),
        b("50 MB", "ac.yaml", vec![b'#'; 50 * 1024 * 1024], &["limit"]),
        b("broken JSON", "ac.json", b"{\"kind\": \"AuthConfig\", }".to_vec(), &["line"]),
    ]
}

/// The config errors `/configz` shows now.
fn errors(ext: &Extauth) -> Vec<Value> {
    let (status, body) = ext.admin_get("/configz");
    assert_eq!(status, 200);
    let v: Value = serde_json::from_str(&body).expect("configz JSON");
    v["errors"].as_array().cloned().unwrap_or_default()
}

#[test]
fn a_corpus_of_broken_files_is_rejected_while_the_last_good_config_keeps_serving() {
    // The good config allows with `x-user: alice`.
    let good = AuthServer::start(Reply::ok().header("x-user", "alice"));
    let ac = AC.replace("URL", &good.url("/auth"));
    let ext = Extauth::start(&[("ac.yaml", &ac), ("vs.yaml", VS)]);
    assert!(
        errors(&ext).is_empty(),
        "the base config is valid: {:?}",
        errors(&ext)
    );
    let corpus = corpus(&good.url("/auth"));
    assert!(corpus.len() >= 30);

    // Checks all along, each of which must be the good config's allow.
    let stop = AtomicBool::new(false);
    let checks = AtomicUsize::new(0);
    let wrong = Mutex::new(Vec::new());
    let current = Mutex::new("the base config");
    /// Stops the checking threads however the corpus loop ends (a panic included).
    struct StopOnDrop<'a>(&'a AtomicBool);
    impl Drop for StopOnDrop<'_> {
        fn drop(&mut self) {
            self.0.store(true, Ordering::SeqCst);
        }
    }
    std::thread::scope(|s| {
        let _stop = StopOnDrop(&stop);
        for _ in 0..2 {
            s.spawn(|| {
                let mut client = ext.client();
                while !stop.load(Ordering::SeqCst) {
                    let raw = check_request("GET", HOST, "/posts/1", &[], b"");
                    match client.send(&raw).map(Answer::from_message) {
                        // both steps of `main && second` allowed
                        Ok(a) if a.status == 200 && a.all("x-user") == ["alice", "alice"] => {}
                        other => {
                            let during = *current.lock().unwrap();
                            wrong
                                .lock()
                                .unwrap()
                                .push(format!("during {during}: {other:?}"))
                        }
                    }
                    checks.fetch_add(1, Ordering::SeqCst);
                    std::thread::sleep(Duration::from_millis(3));
                }
            });
        }
        let mut report = Vec::new();
        for broken in &corpus {
            let path = ext.dir().join(broken.file);
            let before =
                ext.count_log_matching(&format!(r"\bERROR\b.*{}", regex::escape(broken.file)));
            let written = Instant::now();
            *current.lock().unwrap() = broken.what;
            fs::write(&path, &broken.content).unwrap();
            // The error shows, naming the file and the field.
            let describe = |e: &Value| {
                format!(
                    "{} {} {} line={}",
                    e["file"], e["field"], e["message"], e["line"]
                )
            };
            let mut seen = Vec::new();
            let mut shown = None;
            let found = wait_for(
                || {
                    seen = errors(&ext)
                        .into_iter()
                        .filter(|e| e["file"].as_str().is_some_and(|f| f.ends_with(broken.file)))
                        .collect();
                    shown = seen
                        .iter()
                        .find(|e| {
                            let text = describe(e).to_lowercase();
                            broken
                                .names
                                .iter()
                                .all(|n| text.contains(&n.to_lowercase()))
                        })
                        .cloned();
                    shown.is_some()
                },
                Duration::from_secs(3),
            );
            assert!(
                found.is_some(),
                "{}: no error for {} naming {:?} in /configz: {:?}",
                broken.what,
                broken.file,
                broken.names,
                seen.iter().map(describe).collect::<Vec<_>>()
            );
            let e = shown.unwrap();
            let text = describe(&e);
            // And it is logged at ERROR with the file and field.
            let logged = wait_for(
                || {
                    ext.count_log_matching(&format!(r"\bERROR\b.*{}", regex::escape(broken.file)))
                        > before
                },
                Duration::from_secs(2),
            );
            assert!(logged.is_some(), "{}: not logged", broken.what);
            if let Some(field) = e["field"].as_str() {
                let lines = ext.log_lines(&["error", broken.file, field]);
                assert!(
                    !lines.is_empty(),
                    "{}: no ERROR line with {field}",
                    broken.what
                );
            }
            report.push(format!("{}: {text} ({:?})", broken.what, written.elapsed()));
            // Put the good file back (or remove the extra one) and wait until no error is left.
            if broken.file == "ac.yaml" {
                fs::write(&path, &ac).unwrap();
            } else if broken.file == "vs.yaml" {
                fs::write(&path, VS).unwrap();
            } else {
                fs::remove_file(&path).unwrap();
            }
            let clean = wait_for(|| errors(&ext).is_empty(), Duration::from_secs(3));
            assert!(
                clean.is_some(),
                "{}: errors left after restoring: {:?}",
                broken.what,
                errors(&ext)
            );
        }
        stop.store(true, Ordering::SeqCst);
        println!(
            "{} broken variants:\n  {}",
            corpus.len(),
            report.join("\n  ")
        );
    });
    let wrong = wrong.into_inner().unwrap();
    println!("{} checks during the corpus", checks.load(Ordering::SeqCst));
    assert!(checks.load(Ordering::SeqCst) > 100);
    assert!(
        wrong.is_empty(),
        "{} wrong answers while broken files came and went, e.g. {:?}",
        wrong.len(),
        &wrong[..wrong.len().min(5)]
    );
}

/// A file nested 100,000 levels deep (200 KB) is rejected unparsed, at once: it used to take
/// 33 s to parse, during which the whole directory waited (start-up and every check with it).
#[test]
fn a_deeply_nested_file_holds_up_nothing() {
    let good = AuthServer::start(Reply::ok().header("x-user", "alice"));
    let ac = AC.replace("URL", &good.url("/auth"));
    let started = Instant::now();
    let ext = Extauth::start(&[
        ("ac.yaml", &ac),
        ("vs.yaml", VS),
        (
            "bomb.yaml",
            &format!("{}{}", "[".repeat(100_000), "]".repeat(100_000)),
        ),
        (
            "bomb.json",
            &format!("{{\"a\": {}{}}}", "[".repeat(100_000), "]".repeat(100_000)),
        ),
    ]);
    let took = started.elapsed();
    let errs = errors(&ext);
    for file in ["bomb.yaml", "bomb.json"] {
        assert!(
            errs.iter()
                .any(|e| e["file"].as_str().is_some_and(|f| f.ends_with(file))
                    && e["message"]
                        .as_str()
                        .is_some_and(|m| m.contains("nested deeper than 64"))
                    && e["line"] == 1),
            "{file}: {errs:?}"
        );
    }
    let check = check_request("GET", HOST, "/posts/1", &[], b"");
    assert_eq!(ext.check_raw(&check).status, 200, "the valid files serve");
    println!("ready after {took:?} with two 100,000-deep files");
}
