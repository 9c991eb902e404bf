//! One cached answer and its age: fresh, stale (past its lifetime but within
//! `staleIfError`, so it may answer while the auth service errs), or dead.

use std::time::{Duration, Instant};

use moka::Expiry;

use super::key::CacheKey;

/// A cached answer of one step.
#[derive(Debug)]
pub struct Entry<V> {
    /// The outcome the auth service's answer produced.
    pub value: V,
    /// The purge generation it was stored in: an entry of an earlier one never answers.
    pub generation: u64,
    stored_at: Instant,
    fresh_for: Duration,
    stale_for: Duration,
}

/// Where an entry stands at a given time.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Age {
    /// Within its lifetime: it answers.
    Fresh,
    /// Expired less than `staleIfError` ago: it answers only if the call fails.
    Stale,
    /// Expired longer ago: it never answers.
    Dead,
}

impl<V> Entry<V> {
    /// An entry of `value` stored at `stored_at`, fresh for `fresh_for` and usable while the
    /// auth service errs for `stale_for` more.
    pub fn new(
        value: V,
        generation: u64,
        stored_at: Instant,
        fresh_for: Duration,
        stale_for: Duration,
    ) -> Self {
        Entry {
            value,
            generation,
            stored_at,
            fresh_for,
            stale_for,
        }
    }

    /// Its age at `now`.
    pub fn age(&self, now: Instant) -> Age {
        let age = now.saturating_duration_since(self.stored_at);
        if age < self.fresh_for {
            Age::Fresh
        } else if age < self.fresh_for + self.stale_for {
            Age::Stale
        } else {
            Age::Dead
        }
    }

    /// How long the cache keeps it: its lifetime and the stale window.
    fn keep_for(&self) -> Duration {
        self.fresh_for + self.stale_for
    }
}

/// The cache's per-entry expiry: an entry is dropped once it can no longer answer.
pub struct KeepFor;

impl<V> Expiry<CacheKey, std::sync::Arc<Entry<V>>> for KeepFor {
    fn expire_after_create(
        &self,
        _: &CacheKey,
        entry: &std::sync::Arc<Entry<V>>,
        _: Instant,
    ) -> Option<Duration> {
        Some(entry.keep_for())
    }

    fn expire_after_update(
        &self,
        _: &CacheKey,
        entry: &std::sync::Arc<Entry<V>>,
        _: Instant,
        _: Option<Duration>,
    ) -> Option<Duration> {
        Some(entry.keep_for())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fresh_then_stale_then_dead() {
        let t0 = Instant::now();
        let s = Duration::from_secs(1);
        let e = Entry::new((), 0, t0, 10 * s, 5 * s);
        assert_eq!(e.age(t0), Age::Fresh);
        assert_eq!(e.age(t0 + 9 * s), Age::Fresh);
        assert_eq!(e.age(t0 + 10 * s), Age::Stale);
        assert_eq!(e.age(t0 + 14 * s), Age::Stale);
        assert_eq!(e.age(t0 + 15 * s), Age::Dead);
        let no_stale = Entry::new((), 0, t0, 10 * s, Duration::ZERO);
        assert_eq!(no_stale.age(t0 + 10 * s), Age::Dead);
        assert_eq!(no_stale.keep_for(), 10 * s);
    }
}
