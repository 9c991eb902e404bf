//! Headers whose values never reach a log line (`--redact-headers`).

use std::fmt;
use std::sync::OnceLock;

use actix_web::http::header::HeaderMap;

/// Redacted unless `--redact-headers` says otherwise.
pub const DEFAULT_REDACTED: &[&str] = &["authorization", "cookie", "proxy-authorization"];

/// What replaces a redacted value.
const MASK: &str = "<redacted>";

static REDACTED: OnceLock<Vec<String>> = OnceLock::new();

/// Sets the redacted header names (case-insensitive; empty entries ignored). Only the first
/// call counts: the list is fixed for the life of the process.
pub fn set_redacted_headers(names: &[String]) {
    let list = names
        .iter()
        .map(|n| n.trim().to_ascii_lowercase())
        .filter(|n| !n.is_empty())
        .collect();
    let _ = REDACTED.set(list);
}

/// Whether the value of header `name` (lower case, as in a `HeaderMap`) must be redacted.
pub fn is_redacted(name: &str) -> bool {
    match REDACTED.get() {
        Some(list) => list.iter().any(|n| n == name),
        None => DEFAULT_REDACTED.contains(&name),
    }
}

/// Headers displayed as `name: value, name: <redacted>, …`, in order, repeats included.
pub struct RedactedHeaders<'a>(&'a HeaderMap);

/// Shows `headers` for a log line with the redacted values masked.
pub fn redacted_headers(headers: &HeaderMap) -> RedactedHeaders<'_> {
    RedactedHeaders(headers)
}

impl fmt::Display for RedactedHeaders<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, (name, value)) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            if is_redacted(name.as_str()) {
                write!(f, "{name}: {MASK}")?;
            } else {
                write!(f, "{name}: {}", String::from_utf8_lossy(value.as_bytes()))?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::http::header::{HeaderName, HeaderValue};

    #[test]
    fn default_list_masks_credentials_only() {
        let mut h = HeaderMap::new();
        for (k, v) in [
            ("authorization", "Bearer s3cret"),
            ("cookie", "session=s3cret"),
            ("proxy-authorization", "Basic s3cret"),
            ("x-user", "bob"),
        ] {
            h.append(HeaderName::from_static(k), HeaderValue::from_static(v));
        }
        let text = redacted_headers(&h).to_string();
        assert!(!text.contains("s3cret"), "{text}");
        assert!(text.contains("authorization: <redacted>"), "{text}");
        assert!(text.contains("x-user: bob"), "{text}");
    }
}
