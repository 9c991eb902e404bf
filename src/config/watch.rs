//! The config actor: watches the config directory with notify, debounces bursts of events,
//! re-reads on a timer as a backstop, and broadcasts every new snapshot to its subscribers.
//! A file is read only once it is whole (see [`super::settle`]). The directories of the TLS
//! files that AuthConfigs name are watched too (non-recursively), so that a rewritten CA,
//! certificate or key is read again under the same rules (see `tls_dirs`).

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use actix::prelude::*;
use log::{error, info, warn};
use notify::{RecursiveMode, Watcher};

use super::compile::Compile;
use super::listing::abbreviated;
use super::load::{self, Kind};
use super::settle::{self, Change, Hold, Settling};
use super::snapshot::{Diff, Reload, Snapshot};
use super::store::Store;

/// A new snapshot of the config directory, sent to every subscriber.
#[derive(Message, Clone)]
#[rtype(result = "()")]
pub struct ConfigUpdate<C: Compile> {
    /// Everything in force.
    pub snapshot: Arc<Snapshot<C>>,
    /// What changed since the previous update.
    pub diff: Diff,
    /// False when the directory could not be listed (the snapshot keeps what was in force and
    /// holds that one error).
    pub complete: bool,
}

/// Something changed in the directory (sent by the notify callback).
#[derive(Message)]
#[rtype(result = "()")]
struct FsChanged(Vec<Change>);

/// The actor owning the [`Store`] and the directory watch.
pub struct ConfigWatcher<C: Compile> {
    dir: PathBuf,
    store: Store<C>,
    subscribers: Vec<Recipient<ConfigUpdate<C>>>,
    observers: Vec<Recipient<ConfigUpdate<C>>>,
    watcher: Option<notify::RecommendedWatcher>,
    debounce: Duration,
    rescan: Duration,
    pending: bool,
    loaded_once: bool,
    settling: Settling,
    /// A reload is scheduled for when a file held by its age has settled.
    recheck: bool,
    /// Directories of TLS files watched on their own (outside the config directory).
    tls_watched: BTreeSet<PathBuf>,
    /// Whether the config directory itself is watched (it may appear after start-up, or be
    /// deleted and created again: then it is watched again at the next reload).
    dir_watched: bool,
}

impl<C: Compile> ConfigWatcher<C> {
    /// A watcher of `dir` that tells `subscribers` about every change.
    pub fn new(
        dir: PathBuf,
        subscribers: Vec<Recipient<ConfigUpdate<C>>>,
        rescan: Duration,
    ) -> Self {
        ConfigWatcher {
            store: Store::new(dir.clone()),
            dir,
            subscribers,
            observers: Vec::new(),
            watcher: None,
            debounce: Duration::from_millis(75),
            rescan,
            pending: false,
            loaded_once: false,
            settling: Settling::new(settle::DEFAULT_SETTLE),
            recheck: false,
            tls_watched: BTreeSet::new(),
            dir_watched: false,
        }
    }

    /// Files modified less than `settle` ago, and not seen closed since, wait (default
    /// [`settle::DEFAULT_SETTLE`]).
    pub fn settle_time(mut self, settle: Duration) -> Self {
        self.settling = Settling::new(settle);
        self
    }

    /// Reloads once the file held by its age settles.
    fn recheck_in(&mut self, wait: Duration, ctx: &mut Context<Self>) {
        if !self.recheck {
            self.recheck = true;
            ctx.run_later(wait, |this, ctx| {
                this.recheck = false;
                this.reload(ctx);
            });
        }
    }

    /// Also tells `observer` about every update, and about a directory that cannot be listed
    /// before the first load (which subscribers never hear of: they wait for a complete load).
    pub fn observed_by(mut self, observer: Recipient<ConfigUpdate<C>>) -> Self {
        self.observers.push(observer);
        self
    }

    fn reload(&mut self, ctx: &mut Context<Self>) {
        let mut next = None;
        if !self.loaded_once {
            // the first load waits until every file is whole, so that it never starts serving
            // without a file that was being written
            let paths = load::discover(&self.dir).unwrap_or_default();
            let now = SystemTime::now();
            let unsettled = paths
                .iter()
                .any(|p| held(&self.settling, p, now, &mut next));
            if unsettled {
                info!("waiting for config files being written before the first load");
                self.recheck_in(next.unwrap_or(settle::DEFAULT_SETTLE), ctx);
                return;
            }
        }
        if let Ok(true) = self.watch_dir() {
            info!("watching {} for changes", self.dir.display());
        }
        let before = self.store.current().clone();
        let settling = &self.settling;
        let now = SystemTime::now();
        let mut held = |path: &Path| held(settling, path, now, &mut next);
        let Reload {
            snapshot,
            diff,
            new_errors,
            kept,
            rotated,
            complete,
        } = self.store.reload_with(&mut held);
        if let Some(wait) = next {
            self.recheck_in(wait, ctx);
        }
        self.watch_tls_dirs();
        for (kind, key) in &rotated {
            info!("{kind} {key}: its TLS files changed; new connections use the new material");
        }
        if !complete && !self.loaded_once {
            // not ready until the directory can be read at all (e.g. a ConfigMap not mounted yet)
            for e in &new_errors {
                log_error(e);
            }
            let update = ConfigUpdate {
                snapshot,
                diff,
                complete,
            };
            for o in &self.observers {
                o.do_send(update.clone());
            }
            return;
        }
        report(&snapshot, &diff, &new_errors, &kept, !self.loaded_once);
        for (file, in_force) in recovered(&before, &snapshot) {
            info!(
                file:% = file.display(),
                in_force = abbreviated(&in_force, in_force.len()).as_str();
                "config file is valid again; what it defines is in force"
            );
        }
        if self.loaded_once && Arc::ptr_eq(&before, &snapshot) {
            return;
        }
        self.loaded_once = true;
        let update = ConfigUpdate {
            snapshot,
            diff,
            complete,
        };
        for s in self.subscribers.iter().chain(&self.observers) {
            s.do_send(update.clone());
        }
    }
}

impl<C: Compile> ConfigWatcher<C> {
    /// Watches the config directory (recursively), if it is not watched yet; true when it
    /// starts being watched now.
    fn watch_dir(&mut self) -> notify::Result<bool> {
        let Some(watcher) = self.watcher.as_mut() else {
            return Ok(false);
        };
        if self.dir_watched {
            return Ok(false);
        }
        watcher.watch(&self.dir, RecursiveMode::Recursive)?;
        self.dir_watched = true;
        Ok(true)
    }

    /// Watches the directories of the TLS files in use (and stops watching those no longer
    /// in use); one that cannot be watched yet (not mounted) is tried again at the next reload,
    /// and the periodic rescan covers it meanwhile.
    fn watch_tls_dirs(&mut self) {
        let Some(watcher) = self.watcher.as_mut() else {
            return;
        };
        let wanted = tls_dirs(&self.dir, &self.store.dependencies());
        for gone in self.tls_watched.difference(&wanted) {
            let _ = watcher.unwatch(gone);
        }
        let mut watched = BTreeSet::new();
        for dir in wanted {
            if self.tls_watched.contains(&dir)
                || watcher.watch(&dir, RecursiveMode::NonRecursive).is_ok()
            {
                watched.insert(dir);
            }
        }
        self.tls_watched = watched;
    }
}

/// The directories to watch for `files` besides the config directory `dir` (watched
/// recursively already): each file's directory (where a Kubernetes `..data` swap or an editor's
/// rename happens) and, for a symlink, its target's.
fn tls_dirs(dir: &Path, files: &BTreeSet<PathBuf>) -> BTreeSet<PathBuf> {
    let dir = dir.canonicalize().unwrap_or_else(|_| dir.to_path_buf());
    files
        .iter()
        .flat_map(|f| [Some(f.clone()), f.canonicalize().ok()])
        .flatten()
        .filter_map(|f| f.parent().map(Path::to_path_buf))
        .filter(|d| {
            !d.canonicalize()
                .unwrap_or_else(|_| d.clone())
                .starts_with(&dir)
        })
        .collect()
}

/// Whether `path` may not be read at `now`; the shortest wait for a file held by its age goes
/// into `next`.
fn held(settling: &Settling, path: &Path, now: SystemTime, next: &mut Option<Duration>) -> bool {
    let modified = std::fs::metadata(path).and_then(|m| m.modified()).ok();
    match settling.hold(path, modified, now) {
        Hold::No => false,
        Hold::UntilClosed => true,
        Hold::For(wait) => {
            *next = Some(next.map_or(wait, |n| n.min(wait)));
            true
        }
    }
}

/// Logs one reload: errors, kept last-good versions, and the `got new config` line.
fn report<C: Compile>(
    snapshot: &Snapshot<C>,
    diff: &Diff,
    new_errors: &[super::ConfigError],
    kept: &[super::ResourceId],
    first: bool,
) {
    for e in new_errors {
        log_error(e);
    }
    for (kind, key) in kept {
        warn!("{kind} {key}: its file is invalid now; the last good version keeps serving");
    }
    if first {
        let configs = snapshot.count(Kind::AuthConfig);
        let services = snapshot.count(Kind::VirtualService);
        let upstreams = snapshot.count(Kind::Upstream);
        let loaded = format!(
            "{configs} AuthConfig(s), {services} VirtualService(s), {upstreams} Upstream(s)"
        );
        info!(loaded = loaded.as_str(), changes:% = diff; "got new config");
        if !snapshot.errors.is_empty() {
            warn!(
                "{} config error(s) at start-up; serving the valid resources",
                snapshot.errors.len()
            );
        }
    } else if !diff.is_empty() {
        info!(changes:% = diff; "got new config");
    }
}

/// Files that had errors before and have none now (and still hold resources), each with the
/// resources in force from it: a fix is logged as loudly as the breakage was.
fn recovered<C: Compile>(before: &Snapshot<C>, now: &Snapshot<C>) -> Vec<(PathBuf, Vec<String>)> {
    let broken_now: BTreeSet<&Path> = now.errors.iter().map(|e| e.file.as_path()).collect();
    let was_broken: BTreeSet<&Path> = before.errors.iter().map(|e| e.file.as_path()).collect();
    was_broken
        .difference(&broken_now)
        .filter_map(|file| {
            let in_force: Vec<String> = now
                .resources
                .iter()
                .filter(|(_, l)| l.resource.source.file.as_path() == *file)
                .map(|((kind, key), _)| format!("{kind} {key}"))
                .collect();
            (!in_force.is_empty()).then(|| (file.to_path_buf(), in_force))
        })
        .collect()
}

/// One line per config error, with the file and the field as fields of their own.
fn log_error(e: &super::ConfigError) {
    error!(
        file:% = e.file.display(),
        field = e.field.as_deref().unwrap_or("");
        "config error: {e}"
    );
}

impl<C: Compile> Actor for ConfigWatcher<C> {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Context<Self>) {
        let addr = ctx.address();
        let watcher = notify::recommended_watcher(move |event: notify::Result<notify::Event>| {
            let changes = match event {
                Ok(event) => settle::classify(&event),
                Err(_) => vec![Change::Other],
            };
            if !changes.is_empty() {
                addr.do_send(FsChanged(changes));
            }
        });
        match watcher {
            Ok(w) => {
                self.watcher = Some(w);
                if let Err(e) = self.watch_dir() {
                    warn!(
                        "cannot watch {} yet: {e}; it is picked up at the rescan (every {:?}) and watched once it can be",
                        self.dir.display(),
                        self.rescan
                    );
                }
            }
            Err(e) => warn!(
                "cannot start the file watcher: {e}; rescanning every {:?}",
                self.rescan
            ),
        }
        self.reload(ctx);
        ctx.run_interval(self.rescan, |this, ctx| this.reload(ctx));
    }
}

impl<C: Compile> Handler<FsChanged> for ConfigWatcher<C> {
    type Result = ();

    fn handle(&mut self, FsChanged(changes): FsChanged, ctx: &mut Context<Self>) {
        let now = SystemTime::now();
        let mut reload = false;
        for change in changes {
            // the directory itself went away: its watch is gone with it
            if matches!(&change, Change::Gone(p) if *p == self.dir) {
                self.dir_watched = false;
            }
            reload |= self.settling.observe(change, now);
        }
        if reload && !self.pending {
            self.pending = true;
            ctx.run_later(self.debounce, |this, ctx| {
                this.pending = false;
                this.reload(ctx);
            });
        }
    }
}
