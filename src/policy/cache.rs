//! Compiling a step's `cache` block (an extauth extension) into [`CacheSettings`], checking
//! every field.

use std::time::Duration;

use super::FieldError;
use crate::config::types::CacheConfig;

/// `maxEntries` when unset.
pub const DEFAULT_MAX_ENTRIES: u64 = 10_000;
/// The largest `maxEntries` accepted: a bound on the memory one step's cache may take.
pub const MAX_MAX_ENTRIES: u64 = 10_000_000;

/// A step's decision cache, compiled: how long answers are reused and how many are kept.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CacheSettings {
    /// Lifetime of an allow without `Cache-Control`, and the cap on its `max-age`.
    pub max_age: Duration,
    /// Lifetime (and cap) of a denial; zero: denials are not cached.
    pub deny_max_age: Duration,
    /// How long past expiry an entry may answer while the auth service errs; zero: never.
    pub stale_if_error: Duration,
    /// Most entries kept.
    pub max_entries: u64,
}

/// Compiles the `cache` block at `path` (e.g. `spec.configs[0].passThroughAuth.http.cache`),
/// pushing every problem into `errors`.
pub fn compile_cache(
    config: &CacheConfig,
    path: &str,
    errors: &mut Vec<FieldError>,
) -> Option<CacheSettings> {
    let before = errors.len();
    let max_age = config.max_age.0;
    if max_age.is_zero() {
        errors.push(FieldError::new(
            format!("{path}.maxAge"),
            "must be greater than 0 (remove `cache` to call the auth service on every check)",
        ));
    }
    let max_entries = config.max_entries.unwrap_or(DEFAULT_MAX_ENTRIES);
    if max_entries == 0 {
        errors.push(FieldError::new(
            format!("{path}.maxEntries"),
            "must be at least 1 (remove `cache` to call the auth service on every check)",
        ));
    } else if max_entries > MAX_MAX_ENTRIES {
        errors.push(FieldError::new(
            format!("{path}.maxEntries"),
            format!("must be at most {MAX_MAX_ENTRIES}"),
        ));
    }
    (errors.len() == before).then(|| CacheSettings {
        max_age,
        deny_max_age: config.deny_max_age.map_or(Duration::ZERO, |d| d.0),
        stale_if_error: config.stale_if_error.map_or(Duration::ZERO, |d| d.0),
        max_entries,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn compiled(yaml: &str) -> Result<CacheSettings, Vec<FieldError>> {
        let config: CacheConfig = serde_norway::from_str(yaml)
            .map_err(|e| vec![FieldError::new("parse", e.to_string())])?;
        let mut errors = Vec::new();
        compile_cache(&config, "c", &mut errors).ok_or(errors)
    }

    #[test]
    fn defaults_deny_nothing_and_keep_ten_thousand() {
        assert_eq!(
            compiled("maxAge: 30s").unwrap(),
            CacheSettings {
                max_age: Duration::from_secs(30),
                deny_max_age: Duration::ZERO,
                stale_if_error: Duration::ZERO,
                max_entries: 10_000,
            }
        );
        let all = compiled("{maxAge: 1m, denyMaxAge: 5s, staleIfError: 500ms, maxEntries: 7}");
        let all = all.unwrap();
        assert_eq!(all.deny_max_age, Duration::from_secs(5));
        assert_eq!(all.stale_if_error, Duration::from_millis(500));
        assert_eq!(all.max_entries, 7);
    }

    #[test]
    fn every_bad_field_is_named() {
        let fields = |yaml: &str| -> Vec<String> {
            compiled(yaml)
                .unwrap_err()
                .into_iter()
                .map(|e| e.path)
                .collect()
        };
        assert_eq!(
            fields("{maxAge: 0s, maxEntries: 0}"),
            ["c.maxAge", "c.maxEntries"]
        );
        assert_eq!(
            fields("{maxAge: 1s, maxEntries: 10000001}"),
            ["c.maxEntries"]
        );
        for bad in [
            "{maxAge: -1s}",
            "{maxAge: soon}",
            "{maxAge: 1s, maxEntries: -1}",
            "{maxAge: 1s, ttl: 3s}",
            "{denyMaxAge: 1s}",
        ] {
            assert_eq!(fields(bad), ["parse"], "{bad}");
        }
    }
}
