//! Prometheus's own tools for the observability tests: `promtool check metrics` on a scrape,
//! and a real Prometheus server on 127.0.0.1 scraping extauth's admin port every second.

use crate::harness::extauth::pump;
use crate::harness::http::simple_get;
use crate::harness::{free_port, wait_for};
use std::io::Write;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tempfile::TempDir;

/// The executable `name` found on PATH; panics with how to get it when it is missing.
pub fn tool(name: &str) -> PathBuf {
    std::env::var_os("PATH")
        .iter()
        .flat_map(std::env::split_paths)
        .map(|dir| dir.join(name))
        .find(|p| p.is_file())
        .unwrap_or_else(|| {
            panic!(
                "`{name}` is not on PATH: install Debian's `prometheus` package \
                 (apt-get install prometheus; ./scripts/test does it)"
            )
        })
}

/// Runs `promtool check metrics` on `scrape`; returns whether it passed and what it printed.
pub fn promtool_check(scrape: &str) -> (bool, String) {
    let mut child = Command::new(tool("promtool"))
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run promtool");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(scrape.as_bytes())
        .expect("feed promtool");
    let out = child.wait_with_output().expect("promtool output");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

/// A Prometheus server with its own temp dir, scraping one target every second; killed on
/// Drop (its logs are printed if the test panicked).
pub struct Prometheus {
    child: Child,
    _dir: TempDir,
    addr: String,
    logs: Arc<Mutex<String>>,
}

impl Prometheus {
    /// Starts Prometheus scraping `/metrics` of `target` (`host:port`) as job `extauth`.
    pub fn start(target: &str) -> Self {
        let bin = tool("prometheus");
        let dir = TempDir::new().expect("temp dir");
        let config = dir.path().join("prometheus.yml");
        std::fs::write(
            &config,
            format!(
                "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n  evaluation_interval: 1s\n\
                 scrape_configs:\n  - job_name: extauth\n    static_configs:\n      - targets: ['{target}']\n"
            ),
        )
        .expect("write prometheus.yml");
        let mut last_logs = String::new();
        for _attempt in 0..3 {
            let addr = format!("127.0.0.1:{}", free_port());
            let mut child = Command::new(&bin)
                .arg(format!("--config.file={}", config.display()))
                .arg(format!(
                    "--storage.tsdb.path={}",
                    dir.path().join("data").display()
                ))
                .arg(format!("--web.listen-address={addr}"))
                .arg("--log.level=warn")
                .stdin(Stdio::null())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .expect("spawn prometheus");
            let logs = Arc::new(Mutex::new(String::new()));
            pump(child.stdout.take().unwrap(), logs.clone());
            pump(child.stderr.take().unwrap(), logs.clone());
            let start = Instant::now();
            while start.elapsed() < Duration::from_secs(30) {
                if let Ok(Some(_)) = child.try_wait() {
                    break;
                }
                if matches!(simple_get(&addr, "/-/ready"), Ok((200, _))) {
                    return Prometheus {
                        child,
                        _dir: dir,
                        addr,
                        logs,
                    };
                }
                std::thread::sleep(Duration::from_millis(50));
            }
            let _ = child.kill();
            let _ = child.wait();
            last_logs = logs.lock().unwrap().clone();
            // exited (a port taken meanwhile?) or too slow: try again on a fresh port
        }
        panic!("Prometheus did not become ready (3 attempts); logs:\n{last_logs}");
    }

    /// The value of the instant query `expr`: `None` while it has no result, or when it has
    /// more than one series.
    pub fn query(&self, expr: &str) -> Option<f64> {
        let path = format!("/api/v1/query?query={}", encode(expr));
        let (status, body) = simple_get(&self.addr, &path).ok()?;
        if status != 200 {
            return None;
        }
        let v: serde_json::Value = serde_json::from_str(&body).ok()?;
        let result = v["data"]["result"].as_array()?;
        match result.as_slice() {
            [one] => one["value"][1].as_str()?.parse().ok(),
            _ => None,
        }
    }

    /// Waits up to `timeout` for `expr` to read `want`; panics with the last value otherwise.
    pub fn expect_value(&self, expr: &str, want: f64, timeout: Duration) {
        let mut last = None;
        let seen = wait_for(
            || {
                last = self.query(expr);
                last == Some(want)
            },
            timeout,
        );
        assert!(
            seen.is_some(),
            "Prometheus never read {want} for {expr} within {timeout:?} (last: {last:?}); logs:\n{}",
            self.logs.lock().unwrap()
        );
    }
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if std::thread::panicking() {
            eprintln!("---- prometheus logs ----\n{}", self.logs.lock().unwrap());
        }
    }
}

/// Percent-encodes a query parameter value.
fn encode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}
