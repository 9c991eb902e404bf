//! Host names as Envoy compares them with virtual-host domains, read two ways (see
//! [`super::ambiguity`]).
//!
//! - **Normal form**: no port (no `:` outside an IPv6 literal in brackets) and no trailing dot.
//!   Every Envoy routes such a Host on itself, case aside: one lookup, lower-cased.
//! - **As sent**: the Host lower-cased, nothing removed. This is what an Envoy that does not
//!   normalise hosts routes on, and what the generated Envoy routes on when its normalisation
//!   has left something (`a.example:80:80` reaches extauth as `a.example:80`, which Envoy
//!   matched with its port).
//! - **Normalised**: what the generated Envoy makes of it (`strip_trailing_host_dot`, then
//!   `strip_any_host_port`), lower-cased.
//!
//! Envoy 1.40's normalisation, measured (the table in the tests) and as its source reads: if
//! the Host ends with `.`, that dot goes; otherwise, if its last `.` is followed by `:`, that
//! dot goes. Then the port starts at the last `:` unless a `]` follows it, and goes when it
//! parses as an unsigned 32-bit number (an optional `+`, then digits: `80`, `+80`, `080`,
//! `99999`, `4294967295`; not ``, `abc`, `-1`, `4294967296`). One pass of each:
//! `a.example..` is `a.example.`, `a.example::80` is `a.example:`, `a.example:80:80` is
//! `a.example:80`.

use std::borrow::Cow;

/// Where the port starts (its `:`), by Envoy's rule: the last `:`, unless a `]` follows it.
fn port_start(host: &str) -> Option<usize> {
    let colon = host.rfind(':')?;
    match host.rfind(']') {
        Some(v6_end) if v6_end > colon => None,
        _ => Some(colon),
    }
}

/// The dot `strip_trailing_host_dot` removes: the last `.`, when it ends the Host or a `:`
/// follows it.
fn trailing_dot(host: &str) -> Option<usize> {
    let dot = host.rfind('.')?;
    matches!(host.as_bytes().get(dot + 1), None | Some(b':')).then_some(dot)
}

/// Whether `strip_any_host_port` (`absl::SimpleAtoi` into a `uint32_t`) removes `port`: an
/// optional `+`, then digits worth at most 2^32 - 1.
fn envoy_strips_port(port: &str) -> bool {
    let digits = port.strip_prefix('+').unwrap_or(port);
    !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) && {
        let significant = digits.trim_start_matches('0');
        significant.is_empty() || significant.parse::<u32>().is_ok()
    }
}

fn lower(s: &str) -> Cow<'_, str> {
    if s.bytes().any(|b| b.is_ascii_uppercase()) {
        Cow::Owned(s.to_ascii_lowercase())
    } else {
        Cow::Borrowed(s)
    }
}

/// Whether `host` is in normal form (see the module doc); no allocation.
pub fn is_normal(host: &str) -> bool {
    port_start(host).is_none() && trailing_dot(host).is_none()
}

/// The host as sent, as a domain key: lower-cased, nothing removed.
pub fn as_sent(host: &str) -> Cow<'_, str> {
    lower(host)
}

/// The Host the generated Envoy routes on and forwards (`:authority`), case kept:
/// `strip_trailing_host_dot`, then `strip_any_host_port`.
pub fn envoy_authority(host: &str) -> Cow<'_, str> {
    let dotless = match trailing_dot(host) {
        Some(dot) if dot + 1 == host.len() => Cow::Borrowed(&host[..dot]),
        Some(dot) => Cow::Owned(format!("{}{}", &host[..dot], &host[dot + 1..])),
        None => Cow::Borrowed(host),
    };
    match port_start(&dotless) {
        Some(colon) if envoy_strips_port(&dotless[colon + 1..]) => match dotless {
            Cow::Borrowed(h) => Cow::Borrowed(&h[..colon]),
            Cow::Owned(mut h) => {
                h.truncate(colon);
                Cow::Owned(h)
            }
        },
        _ => dotless,
    }
}

/// The host as the generated Envoy compares it with domains: [`envoy_authority`], lower-cased
/// (`Foo.COM.:8080` -> `foo.com`, `foo..` -> `foo.`, `foo:` -> `foo:`). Borrows when there is
/// nothing to lower-case or re-join.
pub fn normalize_host(host: &str) -> Cow<'_, str> {
    match envoy_authority(host) {
        Cow::Borrowed(h) => lower(h),
        Cow::Owned(h) => Cow::Owned(h.to_ascii_lowercase()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Host as sent, and what Envoy 1.40 (`strip_trailing_host_dot`, `strip_any_host_port`)
    /// forwarded as `:authority`.
    const MEASURED: &[(&str, &str)] = &[
        ("a.example", "a.example"),
        ("A.Example", "A.Example"),
        ("a.example:80", "a.example"),
        ("a.example.", "a.example"),
        ("a.example.:80", "a.example"),
        ("a.example..", "a.example."),
        ("a.example..:80", "a.example."),
        ("a.example:", "a.example:"),
        ("a.example.:", "a.example:"),
        ("a.example:0", "a.example"),
        ("a.example:65536", "a.example"),
        ("a.example:99999", "a.example"),
        ("a.example:4294967295", "a.example"),
        ("a.example:4294967296", "a.example:4294967296"),
        ("a.example:abc", "a.example:abc"),
        ("a.example::80", "a.example:"),
        ("a.example:80:80", "a.example:80"),
        ("a.example:+80", "a.example"),
        ("a.example:-1", "a.example:-1"),
        ("a.example:080", "a.example"),
        ("a.example:00000000000000000080", "a.example"),
        ("a.example:%38%30", "a.example:%38%30"),
        ("[::1]:80", "[::1]"),
        ("[::1]", "[::1]"),
        ("a.example.:abc", "a.example:abc"),
        (".a.example", ".a.example"),
        // from a random sample sent to Envoy
        ("a:.", "a:"),
        ("a.:a.", "a.:a"),
        ("a.:.A65536", "a.:.A65536"),
        ("a.:]4294967296", "a:]4294967296"),
        ("a.:-[::1]", "a:-[::1]"),
        ("a65536..:]", "a65536.:]"),
        ("a:42949672960.", "a:42949672960"),
    ];

    #[test]
    fn envoy_authority_is_envoys() {
        for (sent, envoy) in MEASURED {
            assert_eq!(envoy_authority(sent), *envoy, "{sent}");
        }
    }

    #[test]
    fn readings() {
        assert_eq!(normalize_host("Foo-HTTP"), "foo-http");
        assert_eq!(normalize_host("Foo.COM.:8080"), "foo.com");
        assert_eq!(normalize_host("foo:"), "foo:");
        assert_eq!(as_sent("Foo.COM:8080"), "foo.com:8080");
        assert_eq!(as_sent("foo.com."), "foo.com.");
        for normal in ["a", "a.example", "A.B", "[::1]", "[::ffff:1.2.3.4]", ""] {
            assert!(is_normal(normal), "{normal}");
            assert_eq!(as_sent(normal), normalize_host(normal), "{normal}");
        }
        for odd in [
            "a.", "a.:80", "a..", "a:", "a:80", "a:0", "a:99999", "a:+80", "a:abc", "a::80",
            "a:1:2", "[::1]:80", "[::1]x:", "[a.:b]",
        ] {
            assert!(!is_normal(odd), "{odd}");
        }
    }

    #[test]
    fn nothing_is_allocated_for_a_lower_case_host() {
        for host in ["a.example", "a.example:8080", "a.example.", "a.example:+80"] {
            assert!(matches!(normalize_host(host), Cow::Borrowed(_)), "{host}");
        }
        for host in [
            "a.example",
            "a.example:8080",
            "a.example.",
            "a.example:+80",
            "a.:b",
        ] {
            assert!(matches!(as_sent(host), Cow::Borrowed(_)), "{host}");
        }
    }
}
