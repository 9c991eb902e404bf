//! When a config file is whole: a file is applied only once its writer has closed it or renamed
//! it into place, never while it is being written. A truncation that still parses (a
//! VirtualService cut before its `options`) is as dangerous as one that does not, so what has
//! arrived so far of a file being written is never looked at.
//!
//! Two sources tell: the directory's file events (a write marks a file as being written until
//! the writer closes it; a close after writing or a rename into place settles it), and, for
//! changes whose events were not seen (before the watch started, a lost event queue, no
//! watcher at all), the file's age: a file modified less than the settle time ago, and not
//! settled by an event since, waits.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use notify::event::{AccessKind, AccessMode, CreateKind, ModifyKind, RenameMode};
use notify::{Event, EventKind};

/// Default for `--settle-time`.
pub const DEFAULT_SETTLE: Duration = Duration::from_secs(2);

/// What one file event means for the files it names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    /// The file is being written: wait for its writer.
    Writing(PathBuf),
    /// The file is whole: closed after writing, or renamed into place.
    Settled(PathBuf),
    /// The file went away (removed, or renamed elsewhere).
    Gone(PathBuf),
    /// Something else that a reload should look at (attributes, a new directory, an event
    /// queue that overflowed).
    Other,
}

/// The changes an event stands for; reads and opens stand for none.
pub fn classify(event: &Event) -> Vec<Change> {
    let paths = || event.paths.iter().cloned();
    if event.need_rescan() {
        return vec![Change::Other];
    }
    match &event.kind {
        EventKind::Access(AccessKind::Close(AccessMode::Write)) => {
            paths().map(Change::Settled).collect()
        }
        EventKind::Access(_) => Vec::new(),
        EventKind::Create(CreateKind::Folder) => vec![Change::Other],
        // a regular file is written next (its close settles it); a symlink is whole at once
        EventKind::Create(_) => paths()
            .map(|p| match p.symlink_metadata() {
                Ok(m) if m.file_type().is_symlink() => Change::Settled(p),
                _ => Change::Writing(p),
            })
            .collect(),
        EventKind::Modify(ModifyKind::Data(_)) => paths().map(Change::Writing).collect(),
        EventKind::Modify(ModifyKind::Name(RenameMode::From)) => {
            paths().map(Change::Gone).collect()
        }
        // `Both` names the old path first, then the new one
        EventKind::Modify(ModifyKind::Name(RenameMode::Both)) => {
            let mut out: Vec<Change> = paths().map(Change::Gone).collect();
            if let Some(Change::Gone(to)) = out.pop() {
                out.push(Change::Settled(to));
            }
            out
        }
        EventKind::Modify(ModifyKind::Name(_)) => paths().map(Change::Settled).collect(),
        EventKind::Remove(_) => paths().map(Change::Gone).collect(),
        EventKind::Modify(_) | EventKind::Any | EventKind::Other => vec![Change::Other],
    }
}

/// Whether a file may be read now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Hold {
    /// It is whole: read it.
    No,
    /// Its writer has not closed it yet; its close event will bring a reload.
    UntilClosed,
    /// Nothing says it is whole and it is younger than the settle time: wait this long.
    For(Duration),
}

/// What the file events said so far, and the settle time.
#[derive(Debug)]
pub struct Settling {
    settle: Duration,
    /// Files written to and not closed since (real paths).
    writing: HashSet<PathBuf>,
    /// When each path (real) was last closed after writing or renamed into place: a file last
    /// modified before that, and not being written, is whole. A directory renamed into place
    /// (a ConfigMap's `..data` swap) settles everything under it.
    settled: HashMap<PathBuf, SystemTime>,
}

impl Settling {
    /// Nothing seen yet; files younger than `settle` wait.
    pub fn new(settle: Duration) -> Self {
        Settling {
            settle,
            writing: HashSet::new(),
            settled: HashMap::new(),
        }
    }

    /// Takes one change in, seen at `now`; true when a reload should follow.
    pub fn observe(&mut self, change: Change, now: SystemTime) -> bool {
        match change {
            Change::Writing(p) => {
                self.writing.insert(real(&p));
                false
            }
            Change::Settled(p) => {
                let p = real(&p);
                self.writing.remove(&p);
                self.settled.insert(p, now);
                true
            }
            Change::Gone(p) => {
                // gone: its real path cannot be resolved any more, the path itself is the key
                self.writing.remove(&p);
                self.settled.remove(&p);
                self.writing.retain(|w| w.exists());
                self.settled.retain(|w, _| w.exists());
                true
            }
            Change::Other => true,
        }
    }

    /// Whether `path` may be read at `now`; `modified` is its modification time.
    pub fn hold(&self, path: &Path, modified: Option<SystemTime>, now: SystemTime) -> Hold {
        let path = real(path);
        if self.writing.contains(&path) {
            return Hold::UntilClosed;
        }
        let Some(modified) = modified else {
            return Hold::No;
        };
        let settled_since = path
            .ancestors()
            .filter_map(|p| self.settled.get(p))
            .any(|at| modified <= *at);
        if settled_since {
            return Hold::No;
        }
        // a modification time in the future (a skewed clock) counts as just now
        let age = now.duration_since(modified).unwrap_or(Duration::ZERO);
        match self.settle.checked_sub(age) {
            Some(left) if !left.is_zero() => Hold::For(left),
            _ => Hold::No,
        }
    }
}

/// The path with symlinks resolved (a ConfigMap's files are symlinks into a timestamped
/// directory, where the events happen); the path itself when it cannot be resolved.
fn real(path: &Path) -> PathBuf {
    path.canonicalize().unwrap_or_else(|_| path.to_path_buf())
}

#[cfg(test)]
mod tests {
    use super::*;
    use notify::event::{DataChange, RemoveKind};

    const S: Duration = Duration::from_secs(1);

    fn event(kind: EventKind, paths: &[&str]) -> Event {
        paths
            .iter()
            .fold(Event::new(kind), |e, p| e.add_path(PathBuf::from(p)))
    }

    #[test]
    fn writes_wait_for_the_close_and_renames_settle() {
        let now = SystemTime::now();
        let mut s = Settling::new(2 * S);
        let modify = event(
            EventKind::Modify(ModifyKind::Data(DataChange::Any)),
            &["/nowhere/a.yaml"],
        );
        for change in classify(&modify) {
            assert!(!s.observe(change, now), "a write alone brings no reload");
        }
        // however old the file looks, it is being written
        let long_ago = now - 60 * S;
        assert_eq!(
            s.hold(Path::new("/nowhere/a.yaml"), Some(long_ago), now),
            Hold::UntilClosed
        );
        let close = event(
            EventKind::Access(AccessKind::Close(AccessMode::Write)),
            &["/nowhere/a.yaml"],
        );
        for change in classify(&close) {
            assert!(s.observe(change, now));
        }
        assert_eq!(
            s.hold(Path::new("/nowhere/a.yaml"), Some(now), now),
            Hold::No
        );
        // another file's close says nothing of this one
        assert_eq!(
            s.hold(Path::new("/nowhere/c.yaml"), Some(now), now),
            Hold::For(2 * S)
        );
        // a directory renamed into place settles what is under it
        s.observe(Change::Settled("/nowhere/..data".into()), now);
        assert_eq!(
            s.hold(Path::new("/nowhere/..data/c.yaml"), Some(now), now),
            Hold::No
        );
        let rename = event(
            EventKind::Modify(ModifyKind::Name(RenameMode::Both)),
            &["/nowhere/.a.tmp", "/nowhere/b.yaml"],
        );
        assert_eq!(
            classify(&rename),
            [
                Change::Gone("/nowhere/.a.tmp".into()),
                Change::Settled("/nowhere/b.yaml".into())
            ]
        );
    }

    #[test]
    fn files_changed_unseen_wait_for_the_settle_time() {
        let now = SystemTime::now();
        let s = Settling::new(2 * S);
        let p = Path::new("/nowhere/a.yaml");
        assert_eq!(s.hold(p, Some(now - S / 2), now), Hold::For(S * 3 / 2));
        assert_eq!(s.hold(p, Some(now - 3 * S), now), Hold::No);
        assert_eq!(s.hold(p, Some(now + 5 * S), now), Hold::For(2 * S));
        assert_eq!(s.hold(p, None, now), Hold::No);
    }

    #[test]
    fn reads_opens_and_removals() {
        let open = event(
            EventKind::Access(AccessKind::Open(AccessMode::Any)),
            &["/x/a"],
        );
        assert!(classify(&open).is_empty());
        let removed = event(EventKind::Remove(RemoveKind::File), &["/x/a"]);
        assert_eq!(classify(&removed), [Change::Gone("/x/a".into())]);
        let folder = event(EventKind::Create(CreateKind::Folder), &["/x/d"]);
        assert_eq!(classify(&folder), [Change::Other]);
    }
}
