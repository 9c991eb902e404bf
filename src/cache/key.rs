//! The cache key: a SHA-256 digest of the auth request extauth sends (method, url, every
//! header it sets from the check or from `headersToAdd`, the body) and of the AuthConfig
//! version and step it belongs to.
//!
//! An auth service can only decide from what it is sent, so two checks whose auth requests
//! are identical deserve the same answer, and two that differ in one byte never share an
//! entry. Headers the HTTP client adds by itself (`date`, `content-length`, `host` from the
//! url) are not part of it: they follow from what is. Every field is length-prefixed, so no
//! two different requests feed the digest the same bytes; a 256-bit digest makes a collision
//! (which would hand one user's answer to another) out of reach, unlike a 64-bit hash.

use actix_web::http::header::{HeaderName, HeaderValue};
use sha2::{Digest, Sha256};

/// The key of one auth request in one step's cache.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct CacheKey([u8; 32]);

/// What every key of one step starts with (its AuthConfig version, step, method and url),
/// hashed once: a key costs only the request's own headers and body.
#[derive(Clone)]
pub struct KeyPrefix(Sha256);

impl KeyPrefix {
    /// The prefix of step `step` (its index) of the AuthConfig version whose content hash is
    /// `config_hash`, calling `method` on `url`.
    pub fn new(config_hash: &str, step: usize, method: &str, url: &str) -> Self {
        let mut digest = Sha256::new();
        field(&mut digest, b"extauth decision cache v1");
        field(&mut digest, config_hash.as_bytes());
        field(&mut digest, &(step as u64).to_le_bytes());
        field(&mut digest, method.as_bytes());
        field(&mut digest, url.as_bytes());
        KeyPrefix(digest)
    }

    /// The key of an auth request sending `headers` (in order, repeats kept) and `body`.
    pub fn key(&self, headers: &[(HeaderName, HeaderValue)], body: &[u8]) -> CacheKey {
        let mut digest = self.0.clone();
        digest.update((headers.len() as u64).to_le_bytes());
        for (name, value) in headers {
            field(&mut digest, name.as_str().as_bytes());
            field(&mut digest, value.as_bytes());
        }
        field(&mut digest, body);
        CacheKey(digest.finalize().into())
    }
}

/// Feeds `bytes` preceded by their length.
fn field(digest: &mut Sha256, bytes: &[u8]) {
    digest.update((bytes.len() as u64).to_le_bytes());
    digest.update(bytes);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h(pairs: &[(&'static str, &'static str)]) -> Vec<(HeaderName, HeaderValue)> {
        pairs
            .iter()
            .map(|(n, v)| (HeaderName::from_static(n), HeaderValue::from_static(v)))
            .collect()
    }

    fn prefix() -> KeyPrefix {
        KeyPrefix::new("hash-1", 0, "POST", "http://auth/check")
    }

    #[test]
    fn identical_requests_share_a_key() {
        let a = prefix().key(&h(&[("authorization", "Bearer alice")]), b"{}");
        let b = prefix().key(&h(&[("authorization", "Bearer alice")]), b"{}");
        assert_eq!(a, b);
    }

    #[test]
    fn any_difference_in_what_is_sent_changes_the_key() {
        let base = prefix().key(&h(&[("authorization", "Bearer alice")]), b"");
        let others = [
            prefix().key(&h(&[("authorization", "Bearer bob")]), b""),
            prefix().key(&h(&[("authorization", "Bearer alicf")]), b""),
            prefix().key(&h(&[("x-authorization", "Bearer alice")]), b""),
            prefix().key(&h(&[]), b""),
            prefix().key(
                &h(&[("authorization", "Bearer alice"), ("authorization", "x")]),
                b"",
            ),
            prefix().key(&h(&[("authorization", "Bearer alice")]), b"{}"),
            KeyPrefix::new("hash-2", 0, "POST", "http://auth/check")
                .key(&h(&[("authorization", "Bearer alice")]), b""),
            KeyPrefix::new("hash-1", 1, "POST", "http://auth/check")
                .key(&h(&[("authorization", "Bearer alice")]), b""),
            KeyPrefix::new("hash-1", 0, "POST", "http://auth/check2")
                .key(&h(&[("authorization", "Bearer alice")]), b""),
        ];
        for (i, other) in others.iter().enumerate() {
            assert_ne!(&base, other, "variant {i}");
        }
    }

    #[test]
    fn boundaries_between_fields_matter() {
        // the same bytes split differently between name, value and body
        let a = prefix().key(&h(&[("ab", "c")]), b"");
        let b = prefix().key(&h(&[("a", "bc")]), b"");
        assert_ne!(a, b);
        let c = prefix().key(&h(&[("a", "b")]), b"c");
        let d = prefix().key(&h(&[("a", "bc")]), b"");
        assert_ne!(c, d);
        let e = prefix().key(&h(&[("a", "b"), ("c", "d")]), b"");
        let f = prefix().key(&h(&[("c", "d"), ("a", "b")]), b"");
        assert_ne!(e, f, "the order headers are sent in is part of the request");
    }
}
