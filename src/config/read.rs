//! Reading the config directory's files and parsing the changed ones, spread over the
//! machine's cores: with thousands of files, parsing is most of a start-up, and each file is
//! parsed on its own.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use sha2::{Digest, Sha256};

use super::compile::Compile;
use super::error::ConfigError;
use super::load::{self, FileOutcome};

/// Below this many files, one thread reads them all: a reload after one edit reads the
/// whole directory again, and starting threads would cost more than it saves.
const PARALLEL_FROM: usize = 64;

/// At most this many threads read and parse at once.
const MAX_THREADS: usize = 8;

/// What reading one file found.
pub enum Read<C: Compile> {
    /// Its bytes have the digest of the version parsed last time: that outcome may stand.
    Unchanged,
    /// New or changed: read and parsed, with the digest of its bytes.
    Parsed([u8; 32], Arc<FileOutcome<C>>),
    /// It could not be read (the outcome holds the error; it is not remembered).
    Failed(Arc<FileOutcome<C>>),
}

/// The SHA-256 of a file's bytes, to tell a real change from a rewrite of the same content.
pub fn digest(bytes: &[u8]) -> [u8; 32] {
    Sha256::digest(bytes).into()
}

/// Reads `path` and parses it unless `last` (the digest of the version parsed last time)
/// says its bytes did not change.
pub fn read_one<C: Compile>(path: &Path, last: Option<[u8; 32]>) -> Read<C> {
    let bytes = match load::read_file(path) {
        Ok(bytes) => bytes,
        Err(e) => {
            return Read::Failed(Arc::new(FileOutcome {
                documents: Vec::new(),
                fatal: Some(ConfigError::file(path, e)),
                dependencies: Vec::new(),
            }))
        }
    };
    let digest = digest(&bytes);
    if last == Some(digest) {
        return Read::Unchanged;
    }
    Read::Parsed(digest, Arc::new(load::parse_file(path, &bytes)))
}

/// [`read_one`] for every path, in the same order, on several threads when there are many;
/// `last` gives the digest of a path's version parsed last time.
pub fn read_all<C: Compile>(
    paths: &[PathBuf],
    last: &(dyn Fn(&Path) -> Option<[u8; 32]> + Sync),
) -> Vec<Read<C>> {
    let threads = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min(MAX_THREADS)
        .min(paths.len() / PARALLEL_FROM * 2);
    if threads <= 1 {
        return paths.iter().map(|p| read_one(p, last(p))).collect();
    }
    // each thread takes the next unread path, so that a slow file holds up only its thread
    let next = AtomicUsize::new(0);
    let slots: Vec<Mutex<Option<Read<C>>>> = paths.iter().map(|_| Mutex::new(None)).collect();
    std::thread::scope(|scope| {
        for _ in 0..threads {
            scope.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(path) = paths.get(i) else { break };
                let read = read_one(path, last(path));
                *slots[i].lock().unwrap_or_else(PoisonError::into_inner) = Some(read);
            });
        }
    });
    slots
        .into_iter()
        .zip(paths)
        .map(|(slot, path)| {
            slot.into_inner()
                .unwrap_or_else(PoisonError::into_inner)
                // a thread that panicked left its slot empty: read it here (and panic here)
                .unwrap_or_else(|| read_one(path, last(path)))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::compiled::Compiler;

    fn auth_config(name: &str) -> String {
        format!(
            "apiVersion: enterprise.gloo.solo.io/v1\nkind: AuthConfig\nmetadata: {{name: {name}, \
             namespace: ns}}\nspec:\n  configs:\n  - passThroughAuth:\n      http: {{url: \
             'http://127.0.0.1:9/auth'}}\n"
        )
    }

    #[test]
    fn many_files_are_read_in_order_and_unchanged_ones_not_parsed() {
        let dir = tempfile::TempDir::new().unwrap();
        let paths: Vec<PathBuf> = (0..300)
            .map(|i| {
                let path = dir.path().join(format!("f{i:03}.yaml"));
                std::fs::write(&path, auth_config(&format!("c{i}"))).unwrap();
                path
            })
            .collect();
        let unchanged = paths[7].clone();
        let unchanged_digest = digest(&std::fs::read(&unchanged).unwrap());
        let missing = dir.path().join("gone.yaml");
        let mut all = paths.clone();
        all.push(missing.clone());
        let last = |p: &Path| (p == unchanged).then_some(unchanged_digest);
        let reads = read_all::<Compiler>(&all, &last);
        assert_eq!(reads.len(), 301);
        for (i, read) in reads.iter().enumerate() {
            match (i, read) {
                (7, Read::Unchanged) | (300, Read::Failed(_)) => {}
                (i, Read::Parsed(_, outcome)) if i < 300 => {
                    let [load::DocumentOutcome::Valid(r)] = outcome.documents.as_slice() else {
                        panic!("file {i}: {:?}", outcome.documents);
                    };
                    assert_eq!(r.key.name, format!("c{i}"), "in the order given");
                }
                (i, _) => panic!("file {i}: unexpected read"),
            }
        }
    }

    #[test]
    fn a_few_files_give_the_same_reads() {
        let dir = tempfile::TempDir::new().unwrap();
        let path = dir.path().join("a.yaml");
        std::fs::write(&path, auth_config("a")).unwrap();
        let reads = read_all::<Compiler>(std::slice::from_ref(&path), &|_| None);
        let [Read::Parsed(d, outcome)] = reads.as_slice() else {
            panic!("one parsed file");
        };
        assert_eq!(*d, digest(&std::fs::read(&path).unwrap()));
        assert!(outcome.fatal.is_none());
    }
}
