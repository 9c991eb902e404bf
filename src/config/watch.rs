//! The config actor: watches the config directory with notify, debounces bursts of events,
//! re-reads on a timer as a backstop, and broadcasts every new snapshot to its subscribers.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use actix::prelude::*;
use log::{error, info, warn};
use notify::{RecursiveMode, Watcher};

use super::load::Kind;
use super::store::{Diff, Reload, Snapshot, Store};

/// A new snapshot of the config directory, sent to every subscriber.
#[derive(Message, Clone)]
#[rtype(result = "()")]
pub struct ConfigUpdate {
    /// Everything in force.
    pub snapshot: Arc<Snapshot>,
    /// What changed since the previous update.
    pub diff: Diff,
    /// False when the directory could not be listed (the snapshot keeps what was in force and
    /// holds that one error).
    pub complete: bool,
}

/// Something changed in the directory (sent by the notify callback).
#[derive(Message)]
#[rtype(result = "()")]
struct FsChanged;

/// The actor owning the [`Store`] and the directory watch.
pub struct ConfigWatcher {
    dir: PathBuf,
    store: Store,
    subscribers: Vec<Recipient<ConfigUpdate>>,
    observers: Vec<Recipient<ConfigUpdate>>,
    watcher: Option<notify::RecommendedWatcher>,
    debounce: Duration,
    rescan: Duration,
    pending: bool,
    loaded_once: bool,
}

impl ConfigWatcher {
    /// A watcher of `dir` that tells `subscribers` about every change.
    pub fn new(dir: PathBuf, subscribers: Vec<Recipient<ConfigUpdate>>, rescan: Duration) -> Self {
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
        }
    }

    /// Also tells `observer` about every update, and about a directory that cannot be listed
    /// before the first load (which subscribers never hear of: they wait for a complete load).
    pub fn observed_by(mut self, observer: Recipient<ConfigUpdate>) -> Self {
        self.observers.push(observer);
        self
    }

    fn reload(&mut self) {
        let before = self.store.current().clone();
        let Reload {
            snapshot,
            diff,
            new_errors,
            kept,
            complete,
        } = self.store.reload();
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

/// Logs one reload: errors, kept last-good versions, and the `got new config` line.
fn report(
    snapshot: &Snapshot,
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
        let loaded = format!("{configs} AuthConfig(s), {services} VirtualService(s)");
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

/// One line per config error, with the file and the field as fields of their own.
fn log_error(e: &super::ConfigError) {
    error!(
        file:% = e.file.display(),
        field = e.field.as_deref().unwrap_or("");
        "config error: {e}"
    );
}

impl Actor for ConfigWatcher {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Context<Self>) {
        let addr = ctx.address();
        let watcher = notify::recommended_watcher(move |event: notify::Result<notify::Event>| {
            if event.map(|e| !e.kind.is_access()).unwrap_or(true) {
                addr.do_send(FsChanged);
            }
        });
        match watcher {
            Ok(mut w) => match w.watch(&self.dir, RecursiveMode::Recursive) {
                Ok(()) => self.watcher = Some(w),
                Err(e) => warn!(
                    "cannot watch {}: {e}; changes are picked up every {:?}",
                    self.dir.display(),
                    self.rescan
                ),
            },
            Err(e) => warn!(
                "cannot start the file watcher: {e}; rescanning every {:?}",
                self.rescan
            ),
        }
        self.reload();
        ctx.run_interval(self.rescan, |this, _| this.reload());
    }
}

impl Handler<FsChanged> for ConfigWatcher {
    type Result = ();

    fn handle(&mut self, _: FsChanged, ctx: &mut Context<Self>) {
        if !self.pending {
            self.pending = true;
            ctx.run_later(self.debounce, |this, _| {
                this.pending = false;
                this.reload();
            });
        }
    }
}
