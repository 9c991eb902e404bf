//! Matchers against Envoy's semantics.

use super::*;
use actix_web::http::header::{HeaderName, HeaderValue};

fn view<'a>(method: &'a str, pq: &'a str, headers: &'a HeaderMap) -> RequestView<'a> {
    RequestView {
        method,
        host: "h",
        path_and_query: pq,
        headers,
    }
}

fn compile(m: Matcher) -> MatcherRule {
    let mut errors = Vec::new();
    let rule = MatcherRule::compile(&m, "m", &mut errors);
    assert!(errors.is_empty(), "{errors:?}");
    rule
}

#[test]
fn path_kinds_follow_envoy() {
    let h = HeaderMap::new();
    let prefix = compile(Matcher {
        prefix: Some("/api".into()),
        ..Default::default()
    });
    assert!(prefix.matches(&view("GET", "/api/x?y", &h)));
    assert!(prefix.matches(&view("GET", "/apix", &h)));
    assert!(!prefix.matches(&view("GET", "/API", &h)));
    let exact = compile(Matcher {
        exact: Some("/a".into()),
        ..Default::default()
    });
    assert!(exact.matches(&view("GET", "/a?q=1", &h)));
    assert!(!exact.matches(&view("GET", "/a/", &h)));
    let regex = compile(Matcher {
        regex: Some("/u/[0-9]+".into()),
        ..Default::default()
    });
    assert!(regex.matches(&view("GET", "/u/12?x", &h)));
    assert!(!regex.matches(&view("GET", "/u/12/x", &h)));
    let ci = compile(Matcher {
        prefix: Some("/Api".into()),
        case_sensitive: Some(false),
        ..Default::default()
    });
    assert!(ci.matches(&view("GET", "/aPI/x", &h)));
}

#[test]
fn case_folding_is_envoys() {
    let h = HeaderMap::new();
    // Envoy ignores case_sensitive for regex routes
    let regex = compile(Matcher {
        regex: Some("/public/.*".into()),
        case_sensitive: Some(false),
        ..Default::default()
    });
    assert!(regex.matches(&view("GET", "/public/x", &h)));
    assert!(!regex.matches(&view("GET", "/PUBLIC/x", &h)));
    // and folds ASCII letters only, so a prefix always matches itself
    let prefix = compile(Matcher {
        prefix: Some("/İx".into()),
        case_sensitive: Some(false),
        ..Default::default()
    });
    assert!(prefix.matches(&view("GET", "/İX/y", &h)));
    assert!(!prefix.matches(&view("GET", "/i̇x/y", &h)));
}

#[test]
fn methods_headers_query() {
    let mut h = HeaderMap::new();
    h.append(
        HeaderName::from_static("x-a"),
        HeaderValue::from_static("1"),
    );
    h.append(
        HeaderName::from_static("x-a"),
        HeaderValue::from_static("2"),
    );
    let m = compile(Matcher {
        methods: vec!["post".into()],
        headers: vec![crate::config::types::HeaderMatcher {
            name: "X-A".into(),
            value: Some("1,2".into()),
            ..Default::default()
        }],
        query_parameters: vec![crate::config::types::QueryParameterMatcher {
            name: "v".into(),
            value: Some("[0-9]".into()),
            regex: true,
        }],
        ..Default::default()
    });
    assert!(m.matches(&view("POST", "/x?v=3", &h)));
    assert!(!m.matches(&view("GET", "/x?v=3", &h)));
    assert!(!m.matches(&view("POST", "/x?v=a", &h)));
    assert!(!m.matches(&view("POST", "/x", &h)));
    let inverted = compile(Matcher {
        headers: vec![crate::config::types::HeaderMatcher {
            name: "x-b".into(),
            invert_match: true,
            ..Default::default()
        }],
        ..Default::default()
    });
    assert!(inverted.matches(&view("GET", "/", &h)));
}

#[test]
fn pseudo_headers_read_the_method_the_path_and_the_host() {
    let mut h = HeaderMap::new();
    h.insert(
        HeaderName::from_static("host"),
        HeaderValue::from_static("A.example:80"),
    );
    let header = |name: &str, value: &str, regex: bool, invert_match: bool| {
        compile(Matcher {
            headers: vec![crate::config::types::HeaderMatcher {
                name: name.into(),
                value: Some(value.into()),
                regex,
                invert_match,
            }],
            ..Default::default()
        })
    };
    let not_get = header(":method", "GET", false, true);
    assert!(!not_get.matches(&view("GET", "/", &h)));
    assert!(not_get.matches(&view("POST", "/", &h)));
    let path = header(":PATH", "/api/.*", true, false);
    assert!(path.matches(&view("GET", "/api/x?y=1", &h)));
    assert!(!path.matches(&view("GET", "/x?/api/", &h)));
    for name in [":authority", "Host"] {
        assert!(header(name, "A.example:80", false, false).matches(&view("GET", "/", &h)));
        assert!(!header(name, "a.example", false, false).matches(&view("GET", "/", &h)));
    }
    // a check without a Host: `:authority` is absent, as it would be to Envoy
    let empty = HeaderMap::new();
    assert!(!header(":authority", ".*", true, false).matches(&view("GET", "/", &empty)));
}

#[test]
fn names_extauth_cannot_see_are_load_errors() {
    for name in [
        ":scheme",
        ":foo",
        ":status",
        "Content-Length",
        "x-envoy-internal",
    ] {
        let m = Matcher {
            headers: vec![crate::config::types::HeaderMatcher {
                name: name.into(),
                ..Default::default()
            }],
            ..Default::default()
        };
        let mut errors = Vec::new();
        MatcherRule::compile(&m, "m", &mut errors);
        assert_eq!(errors.len(), 1, "{name}: {errors:?}");
        assert_eq!(errors[0].path, "m.headers[0].name");
        assert!(
            errors[0]
                .message
                .contains(&format!("`{}`", name.to_ascii_lowercase())),
            "{errors:?}"
        );
    }
}
