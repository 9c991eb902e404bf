//! The config store: turns the files of the config directory into a consistent snapshot,
//! keeping the last good version of any resource whose new version is invalid.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::SystemTime;

use super::compile::{Compile, CompiledAuthConfig, VirtualServiceClaims};
use super::conflicts;
use super::error::ConfigError;
use super::load::{self, Content, DocumentOutcome, FileOutcome, Kind};
use super::read::{self, Read};
use super::snapshot::{Diff, Loaded, Reload, ResourceId, Snapshot};
use super::types::ObjectKey;

/// Reads the config directory and remembers what it found.
pub struct Store<C: Compile> {
    dir: PathBuf,
    files: HashMap<PathBuf, ([u8; 32], Arc<FileOutcome<C>>)>,
    current: Arc<Snapshot<C>>,
}

impl<C: Compile> Store<C> {
    /// A store for `dir`, with nothing loaded yet.
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        Store {
            dir: dir.into(),
            files: HashMap::new(),
            current: Arc::new(Snapshot::default()),
        }
    }

    /// The snapshot in force.
    pub fn current(&self) -> &Arc<Snapshot<C>> {
        &self.current
    }

    /// Re-reads the directory; unchanged files are not parsed again.
    pub fn reload(&mut self) -> Reload<C> {
        self.reload_with(&mut |_| false)
    }

    /// Re-reads the directory, except the files `held` says are not whole yet: those keep
    /// what they last said (or, new, wait unread).
    pub fn reload_with(&mut self, held: &mut dyn FnMut(&Path) -> bool) -> Reload<C> {
        let prev = self.current.clone();
        let mut errors = Vec::new();
        let paths = match load::discover(&self.dir) {
            Ok(paths) => paths,
            Err(e) => {
                // keep everything: an unreadable directory is not an instruction to drop config
                let err =
                    ConfigError::file(&self.dir, format!("cannot list the config directory: {e}"));
                let new_errors = (!prev.errors.contains(&err))
                    .then(|| err.clone())
                    .into_iter()
                    .collect();
                let snapshot = Arc::new(Snapshot {
                    resources: prev.resources.clone(),
                    invalid: prev.invalid.clone(),
                    contested: prev.contested.clone(),
                    errors: vec![err],
                });
                self.current = snapshot.clone();
                return Reload {
                    snapshot,
                    diff: Diff::default(),
                    new_errors,
                    kept: Vec::new(),
                    rotated: Vec::new(),
                    complete: false,
                };
            }
        };
        // the files not held are read (and the changed ones parsed) on several threads
        let (held_paths, fresh): (Vec<PathBuf>, Vec<PathBuf>) =
            paths.into_iter().partition(|p| held(p));
        let files = &self.files;
        let reads = read::read_all(&fresh, &|p| files.get(p).map(|(d, _)| *d));
        let mut outcomes: Vec<(PathBuf, Arc<FileOutcome<C>>)> = Vec::with_capacity(fresh.len());
        for (path, read) in fresh.into_iter().zip(reads) {
            let outcome = match read {
                Read::Failed(outcome) => outcome,
                Read::Parsed(digest, outcome) => {
                    self.files.insert(path.clone(), (digest, outcome.clone()));
                    outcome
                }
                Read::Unchanged => match self.files.get(&path) {
                    // the same bytes: parsed again only when a TLS file it reads changed
                    Some((_, last)) if last.dependencies.iter().all(|d| d.is_current()) => {
                        last.clone()
                    }
                    _ => self.outcome(&path, held),
                },
            };
            outcomes.push((path, outcome));
        }
        for path in held_paths {
            if let Some((_, last)) = self.files.get(&path) {
                let last = last.clone();
                outcomes.push((path, last));
            }
        }
        // the order files are read in decides which of two definitions is reported first
        outcomes.sort_by(|(a, _), (b, _)| a.cmp(b));
        let present: HashSet<&PathBuf> = outcomes.iter().map(|(p, _)| p).collect();
        self.files.retain(|p, _| present.contains(p));

        let mut resources: BTreeMap<ResourceId, Arc<Loaded<C>>> = BTreeMap::new();
        let mut invalid = BTreeSet::new();
        let mut kept = Vec::new();
        let mut rotated = Vec::new();
        let mut unidentified_files: HashSet<&Path> = HashSet::new();
        let mut invalid_ids: Vec<ResourceId> = Vec::new();
        let mut invalid_docs: HashSet<(&PathBuf, usize)> = HashSet::new();
        // a resource defined twice is rejected whole, whatever was in force before
        let duplicated = conflicts::duplicates(&conflicts::definitions(&outcomes));
        for (id, sources) in &duplicated {
            errors.extend(conflicts::duplicate_errors(id, sources));
            invalid.insert(id.clone());
        }
        for (path, outcome) in &outcomes {
            if let Some(fatal) = &outcome.fatal {
                errors.push(fatal.clone());
                unidentified_files.insert(path);
            }
            for doc in &outcome.documents {
                match doc {
                    DocumentOutcome::Valid(res) => {
                        let id = (res.kind, res.key.clone());
                        if duplicated.contains_key(&id) {
                            continue;
                        }
                        let incumbent = prev.resources.get(&id);
                        let loaded = match incumbent {
                            Some(old) if old.resource.hash == res.hash => {
                                // the same AuthConfig, read again because its TLS files
                                // changed: the version in force (and its connections) takes
                                // the new material
                                if adopt_tls(old, res) {
                                    rotated.push(id.clone());
                                }
                                old.clone()
                            }
                            _ => Arc::new(Loaded {
                                resource: res.clone(),
                                loaded_at: SystemTime::now(),
                            }),
                        };
                        resources.insert(id, loaded);
                    }
                    DocumentOutcome::Invalid {
                        identity,
                        errors: errs,
                        ..
                    } => {
                        errors.extend(errs.iter().cloned());
                        invalid_docs.extend(errs.iter().filter_map(|e| Some((path, e.document?))));
                        match identity {
                            Some(id) if duplicated.contains_key(id) => {}
                            Some(id) => invalid_ids.push(id.clone()),
                            None => {
                                unidentified_files.insert(path);
                            }
                        }
                    }
                }
            }
        }
        // last good versions: named invalid resources, then whatever an unreadable file or an
        // invalid document held
        for id in invalid_ids {
            if resources.contains_key(&id) {
                continue;
            }
            match prev.resources.get(&id) {
                Some(old) => {
                    resources.insert(id.clone(), old.clone());
                    kept.push(id);
                }
                None => {
                    invalid.insert(id);
                }
            }
        }
        // (an invalid document also keeps what the same document defined before, even when
        // its name is now different or unreadable)
        for (id, old) in &prev.resources {
            let source = &old.resource.source;
            let held = unidentified_files.contains(&source.file.as_path())
                || invalid_docs.contains(&(&source.file, source.document));
            if !resources.contains_key(id) && !duplicated.contains_key(id) && held {
                resources.insert(id.clone(), old.clone());
                kept.push(id.clone());
            }
        }
        check_refs(&mut resources, &prev, &invalid, &mut errors, &mut kept);
        let ruling = conflicts::rule_on_domains(&resources, &outcomes, &duplicated);
        errors.extend(ruling.errors);
        for key in ruling.rejected {
            let id = (Kind::VirtualService, key);
            resources.remove(&id);
            kept.retain(|k| *k != id);
            invalid.insert(id);
        }
        let contested = ruling.denied;

        let diff = diff(&prev.resources, &resources);
        let new_errors = errors
            .iter()
            .filter(|e| !prev.errors.contains(e))
            .cloned()
            .collect();
        let unchanged = diff.is_empty()
            && errors == prev.errors
            && invalid == prev.invalid
            && contested == prev.contested;
        let snapshot = if unchanged {
            prev
        } else {
            Arc::new(Snapshot {
                resources,
                invalid,
                contested,
                errors,
            })
        };
        self.current = snapshot.clone();
        Reload {
            snapshot,
            diff,
            new_errors,
            kept,
            rotated,
            complete: true,
        }
    }

    /// Every file the config files in force read besides themselves (their TLS files): the
    /// watcher watches their directories.
    pub fn dependencies(&self) -> BTreeSet<PathBuf> {
        self.files
            .values()
            .flat_map(|(_, outcome)| &outcome.dependencies)
            .map(|d| d.path.clone())
            .collect()
    }

    /// The parsed outcome of a file, from cache when neither its bytes nor the files it read
    /// (TLS files) changed; while a changed TLS file is `held` (not whole yet), the cached
    /// outcome stands.
    fn outcome(&mut self, path: &Path, held: &mut dyn FnMut(&Path) -> bool) -> Arc<FileOutcome<C>> {
        let bytes = match load::read_file(path) {
            Ok(b) => b,
            Err(e) => {
                return Arc::new(FileOutcome {
                    documents: Vec::new(),
                    fatal: Some(ConfigError::file(path, e)),
                    dependencies: Vec::new(),
                })
            }
        };
        let digest = read::digest(&bytes);
        if let Some((d, outcome)) = self.files.get(path) {
            let mut changed = outcome.dependencies.iter().filter(|d| !d.is_current());
            if *d == digest && changed.all(|d| held(&d.path)) {
                return outcome.clone();
            }
        }
        let outcome = Arc::new(load::parse_file::<C>(path, &bytes));
        self.files
            .insert(path.to_path_buf(), (digest, outcome.clone()));
        outcome
    }
}

/// Reports configRefs to AuthConfigs that do not exist. A VirtualService whose new version
/// refers to a missing AuthConfig is rejected when its last good version's references all
/// resolve: that version keeps serving. Otherwise (nothing better to keep) it is loaded, and
/// checks on those routes are denied (403).
fn check_refs<C: Compile>(
    resources: &mut BTreeMap<ResourceId, Arc<Loaded<C>>>,
    prev: &Snapshot<C>,
    invalid: &BTreeSet<ResourceId>,
    errors: &mut Vec<ConfigError>,
    kept: &mut Vec<ResourceId>,
) {
    let exists = |resources: &BTreeMap<ResourceId, Arc<Loaded<C>>>, target: &ObjectKey| {
        let id = (Kind::AuthConfig, target.clone());
        resources.contains_key(&id) || invalid.contains(&id)
    };
    let dangling = |resources: &BTreeMap<ResourceId, Arc<Loaded<C>>>, loaded: &Loaded<C>| {
        let Content::VirtualService(vs) = &loaded.resource.content else {
            return Vec::new();
        };
        vs.config_refs()
            .into_iter()
            .filter(|(_, target)| !exists(resources, target))
            .map(|(route, target)| (route.to_string(), target.clone()))
            .collect::<Vec<_>>()
    };
    let ids: Vec<ResourceId> = resources.keys().cloned().collect();
    for id in ids {
        let loaded = resources[&id].clone();
        let missing = dangling(resources, &loaded);
        if missing.is_empty() {
            continue;
        }
        let last_good = prev
            .resources
            .get(&id)
            .filter(|old| old.resource.hash != loaded.resource.hash)
            .filter(|old| dangling(resources, old).is_empty());
        let consequence = match last_good {
            Some(old) => {
                resources.insert(id.clone(), old.clone());
                kept.push(id.clone());
                "this version is not loaded; the last good one keeps serving"
            }
            None => "checks on this route are denied (403)",
        };
        let (kind, key) = &id;
        for (route, target) in missing {
            errors.push(ConfigError {
                file: loaded.resource.source.file.clone(),
                document: Some(loaded.resource.source.document),
                resource: Some(format!("{kind} {key}")),
                field: Some(format!(
                    "spec.virtualHost (route {route}): extauth.configRef"
                )),
                line: None,
                column: None,
                message: format!("AuthConfig {target} does not exist; {consequence}"),
            });
        }
    }
}

fn diff<C: Compile>(
    old: &BTreeMap<ResourceId, Arc<Loaded<C>>>,
    new: &BTreeMap<ResourceId, Arc<Loaded<C>>>,
) -> Diff {
    let mut d = Diff::default();
    for (id, loaded) in new {
        match old.get(id) {
            None => d.added.push(id.clone()),
            Some(o) if o.resource.hash != loaded.resource.hash => d.changed.push(id.clone()),
            Some(_) => {}
        }
    }
    d.removed = old
        .keys()
        .filter(|id| !new.contains_key(*id))
        .cloned()
        .collect();
    d
}

/// Has `old`, an AuthConfig in force, take the TLS material of `new`, its same spec read
/// again; true when the material changed.
fn adopt_tls<C: Compile>(old: &Loaded<C>, new: &load::Resource<C>) -> bool {
    match (&old.resource.content, &new.content) {
        (Content::AuthConfig(old), Content::AuthConfig(new)) => old.policy.adopt_tls(&new.policy),
        _ => false,
    }
}
