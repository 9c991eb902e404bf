//! Reading the files a config file names besides itself (those of a `tlsConfig`), and
//! remembering their state when read.
//!
//! A [`FileStamp`] is what the file's metadata said just before it was read (device, inode,
//! size, modification and change times, symlinks followed). The config store keeps the stamps
//! of the files each config file's AuthConfigs read, and reads that config file again when one
//! of them no longer matches: a rewritten CA, a renamed-in key, a Kubernetes `..data` swap (the
//! path then leads to another inode) all change it. The stamp is taken before the bytes are
//! read, so a change that lands while reading is seen at the next look. File times can be
//! coarse (a few milliseconds): a file read within a second of its last change also keeps a
//! digest of what was read, compared as well, so that a rewrite of the same size in the same
//! clock tick is not missed.

use std::fs;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use sha2::{Digest, Sha256};

/// Largest TLS file read (a CA bundle of every public root is about 250 KB).
pub const MAX_TLS_FILE_BYTES: u64 = 4 * 1024 * 1024;

/// A file changed less than this before it was read may change again without its times
/// moving: its content is compared too.
const FRESH: Duration = Duration::from_secs(1);

/// A file's identity and version as its metadata tells them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Stamp {
    dev: u64,
    ino: u64,
    len: u64,
    mtime: (i64, i64),
    ctime: (i64, i64),
}

impl Stamp {
    fn of(meta: &fs::Metadata) -> Self {
        Stamp {
            dev: meta.dev(),
            ino: meta.ino(),
            len: meta.len(),
            mtime: (meta.mtime(), meta.mtime_nsec()),
            ctime: (meta.ctime(), meta.ctime_nsec()),
        }
    }
}

/// A file that was read (or tried) while loading a config, and its state at that moment.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FileStamp {
    /// The path as resolved (absolute when the config named it relative to its directory).
    pub path: PathBuf,
    /// `None` when the file could not be looked at (missing, no permission).
    stamp: Option<Stamp>,
    /// A digest of the content read, when the file was fresh (see [`FRESH`]).
    fresh: Option<[u8; 32]>,
}

impl FileStamp {
    /// The state of `path` now.
    pub fn now(path: &Path) -> Self {
        FileStamp {
            path: path.to_path_buf(),
            stamp: fs::metadata(path).ok().map(|m| Stamp::of(&m)),
            fresh: None,
        }
    }

    /// Whether the file is still as it was when read.
    pub fn is_current(&self) -> bool {
        let now = fs::metadata(&self.path).ok().map(|m| Stamp::of(&m));
        self.matches(now, || fs::read(&self.path).ok())
    }

    /// Whether metadata `now` (and, for a fresh stamp, the `content` now) match this stamp.
    fn matches(&self, now: Option<Stamp>, content: impl FnOnce() -> Option<Vec<u8>>) -> bool {
        if self.stamp != now {
            return false;
        }
        match self.fresh {
            None => true,
            Some(digest) => {
                content().is_some_and(|c| <[u8; 32]>::from(Sha256::digest(&c)) == digest)
            }
        }
    }
}

/// Reads `path` whole, recording its stamp in `read` first. Only regular files are read
/// (a FIFO or a device would block the config actor), up to [`MAX_TLS_FILE_BYTES`]. The error
/// is the reason in words; it never quotes the file's content.
pub fn read(path: &Path, read: &mut Vec<FileStamp>) -> Result<Vec<u8>, String> {
    let meta = fs::metadata(path);
    read.push(FileStamp {
        path: path.to_path_buf(),
        stamp: meta.as_ref().ok().map(Stamp::of),
        fresh: None,
    });
    let meta = meta.map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    if !meta.is_file() {
        return Err(format!("{} is not a regular file", path.display()));
    }
    let too_big = |n: u64| {
        format!(
            "{} is {n} bytes; the limit is {MAX_TLS_FILE_BYTES}",
            path.display()
        )
    };
    if meta.len() > MAX_TLS_FILE_BYTES {
        return Err(too_big(meta.len()));
    }
    let bytes = fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    if bytes.len() as u64 > MAX_TLS_FILE_BYTES {
        return Err(too_big(bytes.len() as u64));
    }
    let age = meta
        .modified()
        .ok()
        .and_then(|m| SystemTime::now().duration_since(m).ok());
    if age.is_none_or(|age| age < FRESH) {
        if let Some(last) = read.last_mut() {
            last.fresh = Some(Sha256::digest(&bytes).into());
        }
    }
    Ok(bytes)
}

/// `path` as the config means it: relative paths are relative to `base` (the config directory).
pub fn resolve(base: &Path, path: &str) -> PathBuf {
    let p = Path::new(path);
    if p.is_absolute() {
        p.to_path_buf()
    } else {
        base.join(p)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stamp_changes_with_the_content_and_with_a_rename_over() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ca.pem");
        let mut stamps = Vec::new();
        assert!(read(&path, &mut stamps)
            .unwrap_err()
            .contains("cannot read"));
        assert!(stamps[0].is_current(), "still missing");
        std::fs::write(&path, "one").unwrap();
        assert!(!stamps[0].is_current(), "it appeared");

        stamps.clear();
        assert_eq!(read(&path, &mut stamps).unwrap(), b"one");
        assert!(stamps[0].is_current());
        let tmp = dir.path().join(".ca.tmp");
        std::fs::write(&tmp, "two").unwrap();
        std::fs::rename(&tmp, &path).unwrap();
        assert!(!stamps[0].is_current(), "renamed over: another inode");
    }

    #[test]
    fn a_fresh_file_rewritten_with_the_same_times_is_seen() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("key.pem");
        std::fs::write(&path, "aaaa").unwrap();
        let mut stamps = Vec::new();
        read(&path, &mut stamps).unwrap();
        let read_then = &stamps[0];
        assert!(read_then.fresh.is_some(), "just written: fresh");
        let same_times = read_then.stamp;
        // a rewrite of the same size in the same clock tick leaves the same metadata
        assert!(read_then.matches(same_times, || Some(b"aaaa".to_vec())));
        assert!(!read_then.matches(same_times, || Some(b"bbbb".to_vec())));
        assert!(!read_then.matches(same_times, || None), "gone meanwhile");
        // an old file's stamp is its metadata alone
        let old = FileStamp {
            fresh: None,
            ..read_then.clone()
        };
        assert!(old.matches(same_times, || panic!("not read")));
    }

    #[test]
    fn only_regular_files_are_read() {
        let dir = tempfile::tempdir().unwrap();
        let err = read(dir.path(), &mut Vec::new()).unwrap_err();
        assert!(err.contains("not a regular file"), "{err}");
        assert_eq!(resolve(dir.path(), "/etc/x"), PathBuf::from("/etc/x"));
        assert_eq!(resolve(dir.path(), "tls/x"), dir.path().join("tls/x"));
    }
}
