//! Building the seed's sample auth service (`examples/http-passthrough-auth.rs`) for a test
//! run; shared by the `it` and `e2e` test crates (each includes this file).

use std::path::{Path, PathBuf};
use std::process::Command;

/// Builds the sample auth service with the same profile as the extauth binary in `bin_dir`
/// and returns its path.
pub fn build_example(bin_dir: &Path) -> PathBuf {
    let mut cmd = Command::new(env!("CARGO"));
    cmd.args(["build", "--quiet", "--example", "http-passthrough-auth"])
        .current_dir(env!("CARGO_MANIFEST_DIR"));
    if bin_dir.ends_with("release") {
        cmd.arg("--release");
    }
    let status = cmd.status().expect("run cargo build --example");
    assert!(status.success(), "building the sample auth service failed");
    let path = bin_dir.join("examples").join("http-passthrough-auth");
    assert!(path.exists(), "{} missing after build", path.display());
    path
}
