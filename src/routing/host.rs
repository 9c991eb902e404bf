//! Host names as Envoy compares them with virtual-host domains.

use std::borrow::Cow;

/// Lower-cases `host` and removes a port and a trailing dot (`Foo.COM.:8080` -> `foo.com`);
/// borrows when there is nothing to lower-case (most checks).
pub fn normalize_host(host: &str) -> Cow<'_, str> {
    let host = host.trim();
    let without_port = if host.starts_with('[') {
        // IPv6 literal: keep the brackets, drop what follows `]`
        host.find(']').map_or(host, |end| &host[..=end])
    } else {
        match host.rsplit_once(':') {
            Some((name, port)) if port.bytes().all(|b| b.is_ascii_digit()) => name,
            _ => host,
        }
    };
    let name = without_port.trim_end_matches('.');
    if name.bytes().any(|b| b.is_ascii_uppercase()) {
        Cow::Owned(name.to_ascii_lowercase())
    } else {
        Cow::Borrowed(name)
    }
}

#[cfg(test)]
mod tests {
    use super::normalize_host;

    #[test]
    fn strips_port_case_and_dot() {
        assert_eq!(normalize_host("Foo-HTTP"), "foo-http");
        assert_eq!(normalize_host("foo-http:8080"), "foo-http");
        assert_eq!(normalize_host("foo.com."), "foo.com");
        assert_eq!(normalize_host("[::1]:80"), "[::1]");
        assert_eq!(normalize_host("foo:"), "foo");
    }
}
