//! Which files of the config directory count, and reading one.

use std::fs;
use std::path::{Path, PathBuf};

/// Files larger than this are rejected unread.
pub const MAX_FILE_BYTES: u64 = 8 * 1024 * 1024;

/// The config files in `dir`: `*.yaml`, `*.yml`, `*.json`, hidden entries (such as a
/// ConfigMap's `..data`) skipped, symlinks followed, sorted by name.
pub fn discover(dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    for entry in fs::read_dir(dir)? {
        let path = entry?.path();
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
        let wanted = [".yaml", ".yml", ".json"]
            .iter()
            .any(|ext| name.ends_with(ext));
        if name.starts_with('.') || !wanted {
            continue;
        }
        if fs::metadata(&path).map(|m| m.is_file()).unwrap_or(false) {
            files.push(path);
        }
    }
    files.sort();
    Ok(files)
}

/// Reads a file's bytes, refusing huge files; the error is the reason, in words.
pub fn read_file(path: &Path) -> Result<Vec<u8>, String> {
    let too_big = |size: u64| format!("file is {size} bytes; the limit is {MAX_FILE_BYTES}");
    let meta = fs::metadata(path).map_err(|e| format!("cannot read: {e}"))?;
    if meta.len() > MAX_FILE_BYTES {
        return Err(too_big(meta.len()));
    }
    let bytes = fs::read(path).map_err(|e| format!("cannot read: {e}"))?;
    if bytes.len() as u64 > MAX_FILE_BYTES {
        return Err(too_big(bytes.len() as u64));
    }
    Ok(bytes)
}
