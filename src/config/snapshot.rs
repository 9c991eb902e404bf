//! What one reload of the config directory yields: the snapshot of everything in force, and
//! what changed since the previous one.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::SystemTime;

use super::compile::Compile;
use super::error::ConfigError;
use super::listing::abbreviated;
use super::load::{Kind, Resource};
use super::types::ObjectKey;

/// A resource's identity across kinds.
pub type ResourceId = (Kind, ObjectKey);

/// A resource in force, with when this version was first loaded.
#[derive(Debug)]
pub struct Loaded<C: Compile> {
    /// The resource.
    pub resource: Resource<C>,
    /// When this version (by content hash) was first loaded.
    pub loaded_at: SystemTime,
}

/// Everything in force after one reload.
#[derive(Debug, Default)]
pub struct Snapshot<C: Compile> {
    /// Valid resources (the last good version where the newest one is invalid).
    pub resources: BTreeMap<ResourceId, Arc<Loaded<C>>>,
    /// Resources that exist in the files but are not in force: never valid, defined more than
    /// once, or (VirtualServices) claiming a contested domain.
    pub invalid: BTreeSet<ResourceId>,
    /// Domains denied because several VirtualServices claim them, with their claimants.
    pub contested: BTreeMap<String, BTreeSet<ObjectKey>>,
    /// Every current problem.
    pub errors: Vec<ConfigError>,
}

impl<C: Compile> Snapshot<C> {
    /// The AuthConfigs in force.
    pub fn auth_configs(&self) -> impl Iterator<Item = (&ObjectKey, &Arc<Loaded<C>>)> {
        self.resources
            .iter()
            .filter(|((kind, _), _)| *kind == Kind::AuthConfig)
            .map(|((_, key), loaded)| (key, loaded))
    }

    /// How many resources of `kind` are in force.
    pub fn count(&self, kind: Kind) -> usize {
        self.resources.keys().filter(|(k, _)| *k == kind).count()
    }
}

/// What a reload changed, by resource.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Diff {
    /// New resources.
    pub added: Vec<ResourceId>,
    /// Resources whose spec changed.
    pub changed: Vec<ResourceId>,
    /// Resources no longer in force.
    pub removed: Vec<ResourceId>,
}

impl Diff {
    /// Whether nothing changed.
    pub fn is_empty(&self) -> bool {
        self.added.is_empty() && self.changed.is_empty() && self.removed.is_empty()
    }
}

impl std::fmt::Display for Diff {
    fn fmt(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        let mut first = true;
        for (label, ids) in [
            ("added", &self.added),
            ("changed", &self.changed),
            ("removed", &self.removed),
        ] {
            if ids.is_empty() {
                continue;
            }
            // a start-up with 10,000 AuthConfigs names a few and counts the rest
            let names = ids.iter().map(|(k, key)| format!("{k} {key}"));
            write!(
                f,
                "{}{label} [{}]",
                if first { "" } else { "; " },
                abbreviated(names, ids.len())
            )?;
            first = false;
        }
        if first {
            f.write_str("no resource changed")?;
        }
        Ok(())
    }
}

/// The result of one reload.
#[derive(Debug)]
pub struct Reload<C: Compile> {
    /// The new snapshot (the same `Arc` as before when nothing changed).
    pub snapshot: Arc<Snapshot<C>>,
    /// What changed.
    pub diff: Diff,
    /// Errors that were not there at the previous reload.
    pub new_errors: Vec<ConfigError>,
    /// Resources whose newest version is invalid and whose last good version keeps serving.
    pub kept: Vec<ResourceId>,
    /// AuthConfigs in force that took new TLS material from their rewritten TLS files (their
    /// version, and its connections, stay).
    pub rotated: Vec<ResourceId>,
    /// False when the directory itself could not be listed.
    pub complete: bool,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::listing::SHOWN;

    fn ids(n: usize) -> Vec<ResourceId> {
        (0..n)
            .map(|i| {
                let key = ObjectKey {
                    namespace: "ns".into(),
                    name: format!("ac{i:05}"),
                };
                (Kind::AuthConfig, key)
            })
            .collect()
    }

    #[test]
    fn a_short_diff_names_every_resource() {
        let diff = Diff {
            added: ids(2),
            removed: ids(1),
            ..Diff::default()
        };
        assert_eq!(
            diff.to_string(),
            "added [AuthConfig ns/ac00000, AuthConfig ns/ac00001]; removed [AuthConfig ns/ac00000]"
        );
        assert_eq!(Diff::default().to_string(), "no resource changed");
    }

    #[test]
    fn a_long_diff_names_the_first_and_counts_the_rest() {
        let diff = Diff {
            added: ids(10_000),
            changed: ids(SHOWN),
            ..Diff::default()
        };
        let shown = diff.to_string();
        let (added, changed) = shown.split_once("; ").unwrap();
        assert_eq!(added.matches("AuthConfig ").count(), SHOWN);
        assert!(added.starts_with("added [AuthConfig ns/ac00000, "));
        assert!(added.ends_with(&format!("ac{:05} and 9980 more]", SHOWN - 1)));
        assert_eq!(changed.matches("AuthConfig ").count(), SHOWN);
        assert!(changed.ends_with("]"), "{changed}");
        assert!(shown.len() < 2_000, "{} bytes", shown.len());
    }
}
