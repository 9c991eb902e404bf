//! The decision cache's series, per AuthConfig with at least one cached step:
//! `extauth_cache_lookups_total{auth_config,result}`, `extauth_cache_entries{auth_config}` and
//! `extauth_cache_evictions_total{auth_config}`.
//!
//! Like the other per-AuthConfig series (see `export`), they are plain atomics in the
//! AuthConfig's [`ConfigMetrics`](super::ConfigMetrics), turned into families at scrape time;
//! the entry count is read from the caches of the version in force when scraped.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError, Weak};

use prometheus::core::{Collector, Desc};
use prometheus::proto::{MetricFamily, MetricType};

use super::auth_config::ConfigFamilies;
use super::export::{counter, family, gauge, label};
use super::MetricsError;

/// How one cached step's lookup ended, as the `result` label says it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Lookup {
    /// A fresh entry answered; the auth service was not called.
    Hit,
    /// No usable entry: this check called the auth service.
    Miss,
    /// No usable entry, and an identical call already in flight answered this check too.
    Coalesced,
    /// The call failed and an expired entry, within `staleIfError`, answered instead.
    Stale,
}

impl Lookup {
    /// Every result, in declaration order.
    pub const ALL: [Lookup; 4] = [Lookup::Hit, Lookup::Miss, Lookup::Coalesced, Lookup::Stale];

    /// The label value.
    pub fn as_str(self) -> &'static str {
        match self {
            Lookup::Hit => "hit",
            Lookup::Miss => "miss",
            Lookup::Coalesced => "coalesced",
            Lookup::Stale => "stale",
        }
    }
}

/// A cache whose entries the scrape counts.
pub trait EntryCount: Send + Sync {
    /// Entries held now.
    fn entries(&self) -> u64;
}

/// The cache counters of one AuthConfig (every version of it), and the caches of the version
/// in force.
#[derive(Default)]
pub struct CacheMetrics {
    lookups: [AtomicU64; Lookup::ALL.len()],
    evictions: AtomicU64,
    caches: Mutex<Vec<Weak<dyn EntryCount>>>,
}

impl CacheMetrics {
    /// Counts one lookup.
    pub fn lookup(&self, result: Lookup) {
        // declaration order is the order of Lookup::ALL
        self.lookups[result as usize].fetch_add(1, Ordering::Relaxed);
    }

    /// Counts an entry evicted to keep a cache within `maxEntries`.
    pub fn evicted(&self) {
        self.evictions.fetch_add(1, Ordering::Relaxed);
    }

    /// Follows the caches of the version now in force (none: the series are not exported).
    pub fn follow(&self, caches: Vec<Weak<dyn EntryCount>>) {
        *self.caches.lock().unwrap_or_else(PoisonError::into_inner) = caches;
    }

    /// Lookups so far by result, in [`Lookup::ALL`] order.
    #[cfg(test)]
    pub(crate) fn lookup_counts(&self) -> [u64; Lookup::ALL.len()] {
        self.lookups.each_ref().map(|c| c.load(Ordering::Relaxed))
    }

    /// Lookups by result (in [`Lookup::ALL`] order), evictions and entries now; `None` when
    /// the version in force caches nothing.
    fn now(&self) -> Option<([u64; Lookup::ALL.len()], u64, u64)> {
        let caches = self.caches.lock().unwrap_or_else(PoisonError::into_inner);
        if caches.is_empty() {
            return None;
        }
        let entries = caches
            .iter()
            .filter_map(Weak::upgrade)
            .map(|c| c.entries())
            .sum();
        let lookups = self.lookups.each_ref().map(|c| c.load(Ordering::Relaxed));
        Some((lookups, self.evictions.load(Ordering::Relaxed), entries))
    }
}

const LOOKUPS: (&str, &str) = (
    "extauth_cache_lookups_total",
    "Decision cache lookups of the cached steps of an AuthConfig, by result (hit, miss, \
     coalesced, stale).",
);
const ENTRIES: (&str, &str) = (
    "extauth_cache_entries",
    "Entries held by the decision caches of an AuthConfig's steps.",
);
const EVICTIONS: (&str, &str) = (
    "extauth_cache_evictions_total",
    "Decision cache entries of an AuthConfig evicted to stay within maxEntries.",
);

/// The collector of the cache series, reading the AuthConfigs in force from `families`.
pub(super) struct CacheExport {
    families: Arc<ConfigFamilies>,
    descs: Vec<Desc>,
}

impl CacheExport {
    /// A collector over `families`.
    pub(super) fn new(families: Arc<ConfigFamilies>) -> Result<Self, MetricsError> {
        let desc = |(name, help): (&str, &str), labels: &[&str]| {
            Desc::new(
                name.into(),
                help.into(),
                labels.iter().map(|l| l.to_string()).collect(),
                Default::default(),
            )
        };
        let descs = vec![
            desc(LOOKUPS, &["auth_config", "result"])?,
            desc(ENTRIES, &["auth_config"])?,
            desc(EVICTIONS, &["auth_config"])?,
        ];
        Ok(CacheExport { families, descs })
    }
}

impl Collector for CacheExport {
    fn desc(&self) -> Vec<&Desc> {
        self.descs.iter().collect()
    }

    fn collect(&self) -> Vec<MetricFamily> {
        let (mut lookups, mut entries, mut evictions) = (vec![], vec![], vec![]);
        for m in self.families.in_force() {
            let Some((counts, evicted, held)) = m.cache.now() else {
                continue;
            };
            for (result, count) in Lookup::ALL.iter().zip(counts) {
                let labels = vec![
                    label("auth_config", m.label()),
                    label("result", result.as_str()),
                ];
                lookups.push(counter(labels, count));
            }
            let labels = || vec![label("auth_config", m.label())];
            entries.push(gauge(labels(), i64::try_from(held).unwrap_or(i64::MAX)));
            evictions.push(counter(labels(), evicted));
        }
        [
            (LOOKUPS, MetricType::COUNTER, lookups),
            (ENTRIES, MetricType::GAUGE, entries),
            (EVICTIONS, MetricType::COUNTER, evictions),
        ]
        .into_iter()
        .filter(|(_, _, metrics)| !metrics.is_empty())
        .map(|(names, kind, metrics)| family(names, kind, metrics))
        .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Fixed(u64);

    impl EntryCount for Fixed {
        fn entries(&self) -> u64 {
            self.0
        }
    }

    #[test]
    fn counts_and_entries_of_the_version_in_force() {
        let m = CacheMetrics::default();
        assert!(m.now().is_none(), "nothing cached: no series");
        let a: Arc<dyn EntryCount> = Arc::new(Fixed(3));
        let b: Arc<dyn EntryCount> = Arc::new(Fixed(4));
        m.follow(vec![Arc::downgrade(&a), Arc::downgrade(&b)]);
        m.lookup(Lookup::Hit);
        m.lookup(Lookup::Hit);
        m.lookup(Lookup::Stale);
        m.evicted();
        assert_eq!(m.now(), Some(([2, 0, 0, 1], 1, 7)));
        drop(b);
        assert_eq!(m.now().unwrap().2, 3, "a dropped cache holds nothing");
        m.follow(Vec::new());
        assert!(m.now().is_none());
    }
}
