use super::*;

/// What Envoy 1.40 forwarded (or redirected to) with the generated connection manager's
/// settings, for each path; `None`: Envoy answered 400.
const MEASURED: &[(&str, Option<&str>)] = &[
    ("/a\\b", Some("/a/b")),
    ("/a%5Cb", Some("/a/b")),
    ("/a%5cb", Some("/a/b")),
    ("/%41", Some("/A")),
    ("/%61b", Some("/ab")),
    ("/%7E", Some("/~")),
    ("/%7e", Some("/~")),
    ("/%2D%5F", Some("/-_")),
    ("/%30", Some("/0")),
    ("/%3A", Some("/%3A")),
    ("/%3a%2c", Some("/%3a%2c")),
    ("/%25", Some("/%25")),
    ("/%20", Some("/%20")),
    ("/%zz", Some("/%zz")),
    ("/%", Some("/%")),
    ("/%4", Some("/%4")),
    ("/a%2Fb", Some("/a/b")),
    ("/%2Fa", Some("/a")),
    ("/%2F", Some("//")),
    ("/%2f%2f", Some("//")),
    ("/a/%2e/b", Some("/a/b")),
    ("/a/%2E%2e/b", Some("/b")),
    ("/a/.%2e/b", Some("/b")),
    ("/a/%2e%2e%2fb", Some("/b")),
    ("/%2e", Some("/")),
    ("/a./b", Some("/a./b")),
    ("/a/.../b", Some("/a/.../b")),
    ("/a/..;/b", Some("/b")),
    ("/a/./b", Some("/a/b")),
    ("/a/b/.", Some("/a/b/")),
    ("/a/b/..", Some("/a/")),
    ("/..", Some("/")),
    ("/../a", Some("/a")),
    ("/a//b", Some("/a/b")),
    ("/a?b//c/../d%41", Some("/a?b//c/../d%41")),
    ("/a%23b", Some("/a%23b")),
    ("/a%00b", None),
    ("/a/.%00", None),
    ("/a\"b", Some("/a%22b")),
    ("/a<b", Some("/a%3Cb")),
    ("/a>b", Some("/a%3Eb")),
    ("/a`b", Some("/a%60b")),
    ("/a{b", Some("/a%7Bb")),
    ("/a}b", Some("/a%7Db")),
    ("/a|b", Some("/a%7Cb")),
    ("/a^b", Some("/a%5Eb")),
    ("/a;b", Some("/a;b")),
    ("/a'b", Some("/a'b")),
    ("/a[b]", Some("/a[b]")),
    ("/a@b", Some("/a@b")),
    ("/a!$&()*+,=", Some("/a!$&()*+,=")),
    ("/A%2e%2E/", Some("/A../")),
    ("/a\\..\\b", Some("/b")),
    ("/%5c..%5cb", Some("/b")),
    ("/a%c3%a9", Some("/a%c3%a9")),
    ("/a/.;/b", Some("/a/b")),
    ("/a/..;x/b", Some("/b")),
    ("/a/%2e;/b", Some("/a/.;/b")),
    ("/a;/../b", Some("/b")),
    ("/a/..%3b/b", Some("/a/..%3b/b")),
    ("/a/b/..;", Some("/a/")),
    ("/a/..;?x", Some("/?x")),
    ("/a/.%2E%2e/b", Some("/a/.../b")),
    ("/a/%2e%2e;/b", Some("/a/..;/b")),
    ("/a/b;x/..;y/c", Some("/a/c")),
    ("/a/b\\..;\\c", Some("/a/b/..;/c")),
    ("/a/b/..;\\c", Some("/a/")),
    ("/a//..;/b", Some("/a/b")),
    ("/a/.%2f..;x/b", Some("/b")),
    ("/a/..%2f;/b", Some("/;/b")),
    ("/%%30%30", Some("/%2500")),
    ("/%%300", Some("/%2500")),
    ("/%2%30", Some("/%2520")),
    ("/x/%2e%2e%3b/y", Some("/x/..%3b/y")),
];

#[test]
fn normalises_as_envoy_does() {
    for (input, want) in MEASURED {
        let got = normalize(input);
        assert_eq!(got.as_deref(), *want, "{input}");
    }
}

#[test]
fn normal_form_is_detected_without_false_positives() {
    for (input, want) in MEASURED {
        if is_normal(input) {
            assert_eq!(Some(*input), *want, "{input} is not normal");
        }
    }
    for normal in [
        "/",
        "/a/b",
        "/a/b/",
        "/a%3A",
        "/a;b",
        "/a.b/c..d/...",
        "/a?../..//x",
    ] {
        assert!(is_normal(normal), "{normal}");
        assert_eq!(normalize(normal).as_deref(), Some(normal));
    }
    for odd in [
        "//a", "/./a", "/a/..", "/%41", "/%2F", "/a\\b", "/a/..;x", "/%zz", "*",
    ] {
        assert!(!is_normal(odd), "{odd}");
    }
}

#[test]
fn nothing_is_allocated_when_nothing_changes() {
    assert!(matches!(normalize("/a/b?c"), Some(Cow::Borrowed(_))));
    assert!(matches!(normalize("/a%zz"), Some(Cow::Borrowed(_))));
}
