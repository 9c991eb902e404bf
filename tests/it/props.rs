//! Property tests (proptest) over the config parser, the route matcher, `booleanExpr` and the
//! auth call's headers: no input makes them panic, and the invariants below hold for every
//! generated input. Plain library calls, no servers. The config loader is also fuzzed with
//! cargo-fuzz (`fuzz/`, outside CI).

use std::cell::RefCell;
use std::path::Path;

use actix_web::http::header::{HeaderMap, HeaderName, HeaderValue};
use actix_web::http::Method;
use actix_web::web::Bytes;
use extauth::compiled::{Compiler, Content};
use extauth::config::load::{parse_file, DocumentOutcome};
use extauth::config::types::{AuthConfigSpec, Matcher};
use extauth::passthrough::{build_request, CheckRequest};
use extauth::policy::Expr;
use extauth::routing::{normalize_host, MatcherRule, RequestView};
use futures_util::FutureExt;
use proptest::prelude::*;
use serde_json::{json, Value};

// ---------------------------------------------------------------------------------------------
// The config parser

/// Pieces YAML and the schema are made of, to reach deeper than random bytes do.
fn yamlish() -> impl Strategy<Value = String> {
    let token = prop_oneof![
        Just("apiVersion: enterprise.gloo.solo.io/v1\n".to_string()),
        Just("apiVersion: gateway.solo.io/v1\n".to_string()),
        Just("kind: AuthConfig\n".to_string()),
        Just("kind: VirtualService\n".to_string()),
        Just("metadata: {name: a, namespace: n}\n".to_string()),
        Just("spec:\n".to_string()),
        Just("  configs:\n".to_string()),
        Just("  - passThroughAuth:\n".to_string()),
        Just("      http: {url: 'http://a/'}\n".to_string()),
        Just("  booleanExpr: ".to_string()),
        Just("  virtualHost:\n    domains: [".to_string()),
        Just("    routes:\n    - matchers: [{".to_string()),
        Just("regex: ".to_string()),
        Just("prefix: /".to_string()),
        Just("connectionTimeout: ".to_string()),
        Just("---\n".to_string()),
        Just("&a ".to_string()),
        Just("*a".to_string()),
        Just("<<: ".to_string()),
        Just("!!binary ".to_string()),
        "[\\[\\]{}:,\"'|>\\-?#&*!%@` \n\t]".prop_map(|s| s.to_string()),
        "[a-zA-Z0-9_./()+*?$^]{1,8}",
        "\\PC{1,4}",
    ];
    proptest::collection::vec(token, 0..40).prop_map(|t| t.concat())
}

/// Renders every error the way the logs do: must not panic either.
fn render_all(path: &str, bytes: &[u8]) {
    let outcome = parse_file::<Compiler>(Path::new(path), bytes);
    if let Some(e) = &outcome.fatal {
        assert!(e.to_string().contains(path));
    }
    for doc in &outcome.documents {
        if let DocumentOutcome::Invalid { errors, .. } = doc {
            for e in errors {
                assert!(e.to_string().contains(path), "{e}");
            }
        }
    }
}

/// A valid AuthConfig spec, as JSON: 1 to 4 named steps with every option, and maybe a
/// `booleanExpr` over their names.
fn auth_config_spec() -> impl Strategy<Value = Value> {
    let header = "[a-z][a-z0-9-]{0,8}";
    let step = (
        // no label starts with `x`, so none is an `xn--` (punycode) label, which URL parsing
        // rightly rejects unless it decodes
        "[a-wyz][a-z0-9-]{0,5}(\\.[a-wyz][a-z0-9-]{0,5}){0,2}",
        1u16..65535,
        "(/[a-z0-9]{1,6}){0,3}",
        proptest::collection::vec(header, 0..4),
        proptest::collection::btree_map(header, "[ -~&&[^\"\\\\]]{0,12}", 0..3),
        any::<[bool; 5]>(),
        1u32..60_000,
        1u32..500,
        proptest::collection::vec(header, 0..3),
    );
    (
        proptest::collection::vec(step, 1..5),
        any::<bool>(),
        any::<u64>(),
    )
        .prop_map(|(steps, with_expr, seed)| {
            let names: Vec<String> = (0..steps.len()).map(|i| format!("s{i}")).collect();
            let configs: Vec<Value> = steps
                .into_iter()
                .enumerate()
                .map(
                    |(i, (host, port, path, allowed, add, flags, ms, conns, up))| {
                        json!({
                            "name": names[i],
                            "passThroughAuth": {
                                "failureModeAllow": flags[0],
                                "config": {"k": host, "n": port},
                                "http": {
                                    "url": format!("http://{host}:{port}{path}"),
                                    "connectionTimeout": format!("{ms}ms"),
                                    "connectionPool": {"maxConns": conns},
                                    "request": {
                                        "allowedHeaders": allowed,
                                        "headersToAdd": add,
                                        "passThroughState": flags[1],
                                        "passThroughBody": flags[2],
                                    },
                                    "response": {
                                        "allowedUpstreamHeaders": up,
                                        "readStateFromResponse": flags[3],
                                        "allowedClientHeadersOnDenied": ["www-authenticate"],
                                    },
                                },
                            },
                        })
                    },
                )
                .collect();
            let mut spec = json!({"configs": configs});
            if with_expr {
                spec["booleanExpr"] = json!(random_expr(&names, seed));
            }
            spec
        })
}

/// A `booleanExpr` text over `names`, shaped by `seed`.
fn random_expr(names: &[String], mut seed: u64) -> String {
    fn go(names: &[String], seed: &mut u64, depth: u32) -> String {
        *seed = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        let pick = (*seed >> 33) as usize;
        if depth == 0 || pick.is_multiple_of(5) {
            return names[pick % names.len()].clone();
        }
        match pick % 4 {
            0 => format!("!{}", go(names, seed, depth - 1)),
            1 => format!("({})", go(names, seed, depth - 1)),
            2 => format!(
                "{} && {}",
                go(names, seed, depth - 1),
                go(names, seed, depth - 1)
            ),
            _ => format!(
                "{} || {}",
                go(names, seed, depth - 1),
                go(names, seed, depth - 1)
            ),
        }
    }
    go(names, &mut seed, 4)
}

fn document(spec: &Value) -> String {
    let doc = json!({
        "apiVersion": "enterprise.gloo.solo.io/v1",
        "kind": "AuthConfig",
        "metadata": {"name": "p", "namespace": "n"},
        "spec": spec,
    });
    serde_norway::to_string(&doc).unwrap()
}

/// Parses one AuthConfig document; its spec as extauth prints it back, and its hash.
fn parse_auth_config(yaml: &str) -> Result<(Value, String), String> {
    let outcome = parse_file(Path::new("p.yaml"), yaml.as_bytes());
    if let Some(e) = outcome.fatal {
        return Err(e.to_string());
    }
    match outcome.documents.as_slice() {
        [DocumentOutcome::Valid(r)] => match &r.content {
            Content::AuthConfig(ac) => {
                let spec: &AuthConfigSpec = &ac.spec;
                Ok((serde_json::to_value(spec).unwrap(), r.hash.clone()))
            }
            _ => Err("not an AuthConfig".into()),
        },
        [DocumentOutcome::Invalid { errors, .. }] => Err(format!("{errors:?}")),
        other => Err(format!("{} documents", other.len())),
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn the_loader_never_panics_on_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        render_all("f.yaml", &bytes);
        render_all("f.json", &bytes);
    }

    #[test]
    fn the_loader_never_panics_on_yaml_like_text(text in yamlish()) {
        render_all("f.yaml", text.as_bytes());
    }

    /// parse → print → parse gives back what was printed: the printed spec is a fixed point,
    /// and so is the content hash (what decides whether an AuthConfig restarts) of the
    /// printed form.
    #[test]
    fn an_auth_config_round_trips_through_print(spec in auth_config_spec()) {
        let (printed, _) = parse_auth_config(&document(&spec))
            .map_err(|e| TestCaseError::fail(format!("a valid spec was rejected: {e}")))?;
        let (again, hash) = parse_auth_config(&document(&printed))
            .map_err(|e| TestCaseError::fail(format!("the printed spec was rejected: {e}")))?;
        let (third, hash_again) = parse_auth_config(&document(&again))
            .map_err(|e| TestCaseError::fail(format!("the reprinted spec was rejected: {e}")))?;
        prop_assert_eq!(&printed, &again);
        prop_assert_eq!(&again, &third);
        prop_assert_eq!(hash, hash_again);
        prop_assert_eq!(&printed["booleanExpr"], &spec["booleanExpr"]);
        prop_assert_eq!(
            printed["configs"].as_array().map(Vec::len),
            spec["configs"].as_array().map(Vec::len)
        );
    }
}

// ---------------------------------------------------------------------------------------------
// booleanExpr

/// An expression tree over `n` steps.
fn expr_tree(n: usize) -> impl Strategy<Value = Expr> {
    let leaf = (0..n).prop_map(Expr::Step);
    leaf.prop_recursive(5, 40, 2, |inner| {
        prop_oneof![
            inner.clone().prop_map(|e| Expr::Not(Box::new(e))),
            (inner.clone(), inner.clone()).prop_map(|(l, r)| Expr::And(Box::new(l), Box::new(r))),
            (inner.clone(), inner).prop_map(|(l, r)| Expr::Or(Box::new(l), Box::new(r))),
        ]
    })
}

fn naive(e: &Expr, values: &[bool]) -> bool {
    match e {
        Expr::Step(i) => values[*i],
        Expr::Not(x) => !naive(x, values),
        Expr::And(l, r) => naive(l, values) && naive(r, values),
        Expr::Or(l, r) => naive(l, values) || naive(r, values),
    }
}

fn leaves(e: &Expr) -> usize {
    match e {
        Expr::Step(_) => 1,
        Expr::Not(x) => leaves(x),
        Expr::And(l, r) | Expr::Or(l, r) => leaves(l) + leaves(r),
    }
}

const EXPR_NAMES: [&str; 4] = ["a", "config_1", "b-2", "ns/c.d"];

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn boolean_expr_parse_print_parse(e in expr_tree(EXPR_NAMES.len())) {
        let names: Vec<String> = EXPR_NAMES.iter().map(|s| s.to_string()).collect();
        let text = e.display(&names).to_string();
        let parsed = Expr::parse(&text, |n| names.iter().position(|x| x == n))
            .map_err(|err| TestCaseError::fail(format!("{text}: {err}")))?;
        prop_assert_eq!(&parsed, &e);
        prop_assert_eq!(parsed.display(&names).to_string(), text);
    }

    /// Left-to-right short-circuit evaluation gives the plain boolean value, calls a step only
    /// for a leaf it reaches, and stops at once on a step error.
    #[test]
    fn boolean_expr_evaluation(e in expr_tree(4), values in any::<[bool; 4]>(), fail in proptest::option::of(0usize..4)) {
        let calls = RefCell::new(Vec::new());
        let step = |i: usize| {
            calls.borrow_mut().push(i);
            let out = if fail == Some(i) { Err(i) } else { Ok(values[i]) };
            async move { out }
        };
        let got = e.eval(&step).now_or_never().expect("evaluation never waits here");
        let calls = calls.into_inner();
        prop_assert!(calls.len() <= leaves(&e));
        match got {
            Ok(v) => {
                prop_assert_eq!(v, naive(&e, &values));
                prop_assert!(fail.is_none_or(|f| !calls.contains(&f)));
            }
            Err(i) => {
                prop_assert_eq!(Some(i), fail);
                prop_assert_eq!(calls.last(), Some(&i), "nothing runs after the error");
            }
        }
    }

    #[test]
    fn boolean_expr_parser_never_panics(text in "[a-c_!&|() \\t]{0,40}|\\PC{0,20}") {
        let names = ["a", "b", "c"];
        if let Ok(e) = Expr::parse(&text, |n| names.iter().position(|x| *x == n)) {
            let shown = e.display(&names.map(String::from)).to_string();
            let again = Expr::parse(&shown, |n| names.iter().position(|x| *x == n));
            prop_assert_eq!(again.ok(), Some(e));
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The route matcher

fn compile(m: Matcher) -> Result<MatcherRule, String> {
    let mut errors = Vec::new();
    let rule = MatcherRule::compile(&m, "m", &mut errors);
    if errors.is_empty() {
        Ok(rule)
    } else {
        Err(format!("{errors:?}"))
    }
}

fn matches(rule: &MatcherRule, method: &str, path: &str, headers: &HeaderMap) -> bool {
    rule.matches(&RequestView {
        method,
        host: "h",
        path_and_query: path,
        headers,
    })
}

/// Flips the case of the ASCII letters of `s` where `mask` says.
fn recase(s: &str, mask: u64) -> String {
    s.chars()
        .enumerate()
        .map(|(i, c)| {
            if mask >> (i % 64) & 1 == 1 {
                if c.is_ascii_lowercase() {
                    c.to_ascii_uppercase()
                } else {
                    c.to_ascii_lowercase()
                }
            } else {
                c
            }
        })
        .collect()
}

/// Path segments with ASCII, percent-escapes, dots and a few non-ASCII letters.
const SEGMENT: &str = "[a-zA-Z0-9%._~İßéK-]{0,8}";

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn matchers_never_panic(
        prefix in proptest::option::of("\\PC{0,12}"),
        exact in proptest::option::of("\\PC{0,12}"),
        regex in proptest::option::of("\\PC{0,12}"),
        case_sensitive in proptest::option::of(any::<bool>()),
        method in "[A-Za-z]{0,7}",
        path in "\\PC{0,40}",
        header in "\\PC{0,20}",
    ) {
        let m = Matcher { prefix, exact, regex, case_sensitive, methods: vec![method.clone()], ..Default::default() };
        let mut errors = Vec::new();
        let rule = MatcherRule::compile(&m, "m", &mut errors);
        let mut h = HeaderMap::new();
        if let Ok(v) = HeaderValue::from_str(&header) {
            h.append(HeaderName::from_static("x-h"), v);
        }
        let _ = matches(&rule, &method, &path, &h);
    }

    /// A prefix matches every path that starts with it, query or not; case-insensitively it
    /// matches every ASCII case of it (as Envoy compares), and nothing that differs elsewhere.
    #[test]
    fn prefix_semantics(
        segs in proptest::collection::vec(SEGMENT, 1..4),
        rest in "[a-z0-9/]{0,10}",
        query in proptest::option::of("[a-z=&/]{0,10}"),
        mask in any::<u64>(),
        ci in any::<bool>(),
    ) {
        let prefix = format!("/{}", segs.join("/"));
        let rule = compile(Matcher { prefix: Some(prefix.clone()), case_sensitive: Some(!ci), ..Default::default() })
            .map_err(TestCaseError::fail)?;
        let h = HeaderMap::new();
        let q = query.map(|q| format!("?{q}")).unwrap_or_default();
        let full = format!("{prefix}{rest}{q}");
        prop_assert!(matches(&rule, "GET", &full, &h), "{} on {}", prefix, full);
        let recased = recase(&prefix, mask);
        let want = ci || recased == prefix;
        let other = format!("{recased}{rest}{q}");
        prop_assert_eq!(matches(&rule, "GET", &other, &h), want, "{} on {}", prefix, other);
        // a path that stops short of the prefix never matches
        let last = prefix.chars().last().unwrap().len_utf8();
        let short = &prefix[..prefix.len() - last];
        prop_assert!(prefix.len() == 1 || !matches(&rule, "GET", short, &h), "{} on {}", prefix, short);
    }

    /// An exact path matches itself with any query, and neither itself plus a character nor
    /// (case-sensitively) another case of it.
    #[test]
    fn exact_semantics(
        segs in proptest::collection::vec(SEGMENT, 1..4),
        query in proptest::option::of("[a-z=&/]{0,10}"),
        extra in "[a-zA-Z0-9/.]",
        mask in any::<u64>(),
        ci in any::<bool>(),
    ) {
        let path = format!("/{}", segs.join("/"));
        let rule = compile(Matcher { exact: Some(path.clone()), case_sensitive: Some(!ci), ..Default::default() })
            .map_err(TestCaseError::fail)?;
        let h = HeaderMap::new();
        let q = query.map(|q| format!("?{q}")).unwrap_or_default();
        let with_query = format!("{path}{q}");
        prop_assert!(matches(&rule, "GET", &with_query, &h), "{} on {}", path, with_query);
        let longer = format!("{path}{extra}");
        prop_assert!(!matches(&rule, "GET", &longer, &h), "{} on {}", path, longer);
        let recased = recase(&path, mask);
        prop_assert_eq!(matches(&rule, "GET", &recased, &h), ci || recased == path);
    }

    /// A regex made of an escaped literal behaves like `exact`.
    #[test]
    fn a_literal_regex_is_exact(
        segs in proptest::collection::vec(SEGMENT, 1..4),
        other in "/[a-zA-Z0-9%._~-]{0,12}",
    ) {
        let path = format!("/{}", segs.join("/"));
        let re = compile(Matcher { regex: Some(regex::escape(&path)), ..Default::default() })
            .map_err(TestCaseError::fail)?;
        let exact = compile(Matcher { exact: Some(path.clone()), ..Default::default() })
            .map_err(TestCaseError::fail)?;
        let h = HeaderMap::new();
        for p in [path.clone(), other, format!("{path}x"), format!("{path}?q")] {
            prop_assert_eq!(matches(&re, "GET", &p, &h), matches(&exact, "GET", &p, &h), "{}", p);
        }
    }

    /// Normalising a host is what the generated Envoy does (strip_trailing_host_dot, then
    /// strip_any_host_port), lower-cased: one trailing dot and a port go, nothing else.
    #[test]
    fn host_normalisation(name in "[a-zA-Z0-9.-]{0,20}", port in proptest::option::of(0u16..), dots in 0usize..3) {
        let dotted = format!("{name}{}", ".".repeat(dots));
        let host = format!("{dotted}{}", port.map(|p| format!(":{p}")).unwrap_or_default());
        let once = normalize_host(&host);
        prop_assert!(!once.contains(':'));
        prop_assert_eq!(once.clone(), once.to_ascii_lowercase());
        let one_dot_less = dotted.strip_suffix('.').unwrap_or(&dotted);
        prop_assert_eq!(once.clone(), one_dot_less.to_ascii_lowercase());
        if !once.ends_with('.') {
            prop_assert_eq!(normalize_host(&once), once.clone());
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The auth call's headers

/// Names a check may carry: listed, unlisted, hop-by-hop, and case variants.
fn check_header_name() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("x-allowed".to_string()),
        Just("X-Allowed".to_string()),
        Just("x-secret".to_string()),
        Just("authorization".to_string()),
        Just("connection".to_string()),
        Just("transfer-encoding".to_string()),
        Just("host".to_string()),
        Just("x-added".to_string()),
        "x-[a-z]{1,6}",
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    /// Only listed, copyable headers and `headersToAdd` reach the auth service; every value of
    /// a listed header is copied, in order; `headersToAdd` replaces copied values.
    #[test]
    fn only_allowed_headers_are_sent(
        headers in proptest::collection::vec((check_header_name(), "[ -~]{0,10}"), 0..30),
    ) {
        let yaml = "configs: [{passThroughAuth: {http: {url: 'http://a/', request: {allowedHeaders: [X-ALLOWED, authorization, connection, transfer-encoding, host, x-added], headersToAdd: {X-Added: fixed}}}}}]";
        let spec: AuthConfigSpec = serde_norway::from_str(yaml).unwrap();
        let policy = extauth::policy::compile(&spec).unwrap();
        let mut map = HeaderMap::new();
        for (n, v) in &headers {
            map.append(HeaderName::from_bytes(n.as_bytes()).unwrap(), HeaderValue::from_str(v).unwrap());
        }
        let forwarded = map.iter().map(|(n, v)| (n.clone(), v.clone())).collect();
        let check = CheckRequest { method: Method::GET, path: "/".into(), headers: forwarded, body: Bytes::new() };
        let req = build_request(&policy.steps[0], &check, &serde_json::Map::new());
        for (name, _) in &req.headers {
            prop_assert!(["x-allowed", "authorization", "x-added"].contains(&name.as_str()), "{} sent", name);
        }
        for name in ["x-allowed", "authorization"] {
            let sent: Vec<&HeaderValue> = req.headers.iter().filter(|(n, _)| n == name).map(|(_, v)| v).collect();
            let had: Vec<&HeaderValue> = map.get_all(name).collect();
            prop_assert_eq!(sent, had);
        }
        let added: Vec<&HeaderValue> = req.headers.iter().filter(|(n, _)| n == "x-added").map(|(_, v)| v).collect();
        let fixed = HeaderValue::from_static("fixed");
        prop_assert_eq!(added, vec![&fixed]);
        prop_assert!(req.body.is_empty());
    }
}
