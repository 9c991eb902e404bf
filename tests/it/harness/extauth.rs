//! `Extauth`: the real `extauth` binary, serving a temporary config directory on free ports.

use super::http::{exchange, request_bytes, simple_get, HeaderList, Headers, KeepAlive, Message};
use super::{free_port, wait_for};
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tempfile::TempDir;

/// The default `Host` of checks: the seed's virtual host domain.
pub const HOST: &str = "foo-http";

/// What extauth answered to a check.
#[derive(Clone, Debug)]
pub struct Answer {
    pub status: u16,
    pub headers: Headers,
    pub body: Vec<u8>,
}

impl HeaderList for Answer {
    fn header_list(&self) -> &Headers {
        &self.headers
    }
}

/// A running extauth process; killed on Drop (its logs are printed if the test panicked).
pub struct Extauth {
    child: Child,
    dir: TempDir,
    pub check_addr: String,
    pub admin_addr: String,
    logs: Arc<Mutex<String>>,
}

/// Path of the binary under test.
pub fn binary() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_extauth"))
}

/// Runs `extauth ARGS` to completion (for `validate`).
pub fn run(args: &[&str]) -> Output {
    Command::new(binary())
        .args(args)
        .env("RUST_LOG", "info")
        .output()
        .expect("run extauth")
}

impl Extauth {
    /// Writes `files` into a new temp dir and serves it.
    pub fn start(files: &[(&str, &str)]) -> Self {
        Self::start_with(files, &[])
    }

    /// Like [`Extauth::start`], with extra `serve` arguments (e.g. `--path-prefix /x`).
    pub fn start_with(files: &[(&str, &str)], args: &[&str]) -> Self {
        let dir = TempDir::new().expect("temp dir");
        for (name, content) in files {
            let path = dir.path().join(name);
            std::fs::write(&path, content).expect("write config");
            settled(&path);
        }
        Self::start_in(dir, args)
    }

    /// Serves an already prepared directory.
    pub fn start_in(dir: TempDir, args: &[&str]) -> Self {
        Self::start_in_env(dir, args, &[])
    }

    /// Serves an already prepared directory with extra environment variables (e.g.
    /// `HTTPS_PASSTHROUGH_CA_CERT`).
    pub fn start_in_env(dir: TempDir, args: &[&str], env: &[(&str, &str)]) -> Self {
        let mut last_logs = String::new();
        for _attempt in 0..3 {
            let check_addr = format!("127.0.0.1:{}", free_port());
            let admin_addr = format!("127.0.0.1:{}", free_port());
            let mut child = Command::new(binary())
                .arg("serve")
                .arg("--config-dir")
                .arg(dir.path())
                .args(["--listen", &check_addr, "--admin-listen", &admin_addr])
                .args(args)
                .env("RUST_LOG", "debug")
                .envs(env.iter().copied())
                .stdin(Stdio::null())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .expect("spawn extauth");
            let logs = Arc::new(Mutex::new(String::new()));
            pump(child.stdout.take().unwrap(), logs.clone());
            pump(child.stderr.take().unwrap(), logs.clone());
            let start = Instant::now();
            let mut exited = false;
            while start.elapsed() < Duration::from_secs(10) {
                if let Ok(Some(_)) = child.try_wait() {
                    exited = true;
                    break;
                }
                if matches!(simple_get(&admin_addr, "/readyz"), Ok((200, _))) {
                    return Extauth {
                        child,
                        dir,
                        check_addr,
                        admin_addr,
                        logs,
                    };
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            let _ = child.kill();
            let _ = child.wait();
            std::thread::sleep(Duration::from_millis(50));
            last_logs = logs.lock().unwrap().clone();
            if !exited {
                panic!("extauth not ready within 10 s; logs:\n{last_logs}");
            }
            // It exited: maybe a port was taken meanwhile; retry on fresh ports.
        }
        panic!("extauth exited before becoming ready (3 attempts); logs:\n{last_logs}");
    }

    /// The served config directory.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// Writes (in place) a file of the config directory.
    pub fn write(&self, name: &str, content: &str) {
        std::fs::write(self.dir().join(name), content).expect("write config");
    }

    /// Everything the process printed so far (stdout and stderr interleaved).
    pub fn logs(&self) -> String {
        self.logs.lock().unwrap().clone()
    }

    /// Log lines containing every one of `needles` (case-insensitive).
    pub fn log_lines(&self, needles: &[&str]) -> Vec<String> {
        let needles: Vec<String> = needles.iter().map(|n| n.to_lowercase()).collect();
        self.logs()
            .lines()
            .filter(|l| {
                let l = l.to_lowercase();
                needles.iter().all(|n| l.contains(n.as_str()))
            })
            .map(str::to_string)
            .collect()
    }

    /// Waits up to 1.5 s for a log line containing every one of `needles`; panics if none.
    pub fn expect_log(&self, needles: &[&str]) -> String {
        wait_for(
            || !self.log_lines(needles).is_empty(),
            Duration::from_millis(1500),
        )
        .unwrap_or_else(|| panic!("no log line with {needles:?}; logs:\n{}", self.logs()));
        self.log_lines(needles).remove(0)
    }

    /// Number of log lines matching `pattern` (a case-insensitive regex).
    pub fn count_log_matching(&self, pattern: &str) -> usize {
        let re = regex::Regex::new(&format!("(?i){pattern}")).expect("regex");
        self.logs().lines().filter(|l| re.is_match(l)).count()
    }

    /// Waits up to 1.5 s for a log line matching `pattern` (a case-insensitive regex); panics
    /// if none appears.
    pub fn expect_log_matching(&self, pattern: &str) -> String {
        let re = regex::Regex::new(&format!("(?i){pattern}")).expect("regex");
        let find = || {
            self.logs()
                .lines()
                .find(|l| re.is_match(l))
                .map(str::to_string)
        };
        wait_for(|| find().is_some(), Duration::from_millis(1500));
        find().unwrap_or_else(|| panic!("no log line matching {pattern:?}; logs:\n{}", self.logs()))
    }

    /// Number of `got new config` lines so far.
    pub fn reloads(&self) -> usize {
        self.log_lines(&["got new config"]).len()
    }

    /// A check as Envoy's HTTP ext_authz filter sends it: the client's method and path, `Host`
    /// = the original authority, `headers` (as forwarded), `content-length`, and the headers
    /// Envoy adds itself (`x-envoy-internal`, `x-forwarded-for`, `x-envoy-expected-rq-timeout-ms`).
    pub fn check(
        &self,
        method: &str,
        host: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> Answer {
        self.check_raw(&check_request(method, host, path, headers, body))
    }

    /// `GET` check on the default host with only `headers`.
    pub fn get(&self, path: &str, headers: &[(&str, &str)]) -> Answer {
        self.check("GET", HOST, path, headers, b"")
    }

    /// Sends raw request bytes to the check port and reads the answer.
    pub fn check_raw(&self, raw: &[u8]) -> Answer {
        let msg = exchange(&self.check_addr, raw, Duration::from_secs(10))
            .unwrap_or_else(|e| panic!("check failed: {e}; extauth logs:\n{}", self.logs()));
        Answer {
            status: msg.first.parse().expect("status code"),
            headers: msg.headers,
            body: msg.body,
        }
    }

    /// Status of `GET path` on the admin port.
    pub fn admin_get(&self, path: &str) -> (u16, String) {
        simple_get(&self.admin_addr, path).expect("admin request")
    }

    /// The first AuthConfig `/configz` shows, as JSON.
    pub fn configz_auth_config(&self) -> serde_json::Value {
        let (status, body) = self.admin_get("/configz");
        assert_eq!(status, 200, "{body}");
        let v: serde_json::Value = serde_json::from_str(&body).expect("/configz is JSON");
        v["resources"]
            .as_array()
            .expect("/configz lists resources")
            .iter()
            .find(|r| r["kind"] == "AuthConfig")
            .cloned()
            .unwrap_or_else(|| panic!("no AuthConfig in /configz: {body}"))
    }
}

/// Dates `path` a minute back: a file written just before extauth starts would otherwise wait
/// for `--settle-time` (extauth cannot tell it from one still being written).
pub fn settled(path: &Path) {
    let minute_ago = std::time::SystemTime::now() - Duration::from_secs(60);
    std::fs::File::options()
        .write(true)
        .open(path)
        .and_then(|f| f.set_modified(minute_ago))
        .expect("date config file");
}

/// The bytes of a check as Envoy sends it (see [`Extauth::check`]).
pub fn check_request(
    method: &str,
    host: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> Vec<u8> {
    let len = body.len().to_string();
    let mut all: Vec<(&str, &str)> = vec![("host", host)];
    all.extend_from_slice(headers);
    all.extend_from_slice(&[
        ("content-length", len.as_str()),
        ("x-envoy-internal", "true"),
        ("x-forwarded-for", "127.0.0.1"),
        ("x-envoy-expected-rq-timeout-ms", "10000"),
    ]);
    request_bytes(method, path, &all, body)
}

impl Answer {
    /// An answer read by a [`KeepAlive`] client.
    pub fn from_message(msg: Message) -> Self {
        Answer {
            status: msg.first.parse().expect("status code"),
            headers: msg.headers,
            body: msg.body,
        }
    }
}

impl Extauth {
    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Resident memory of the process, in KiB (from `/proc`).
    pub fn rss_kib(&self) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid()))
            .expect("read /proc/PID/status");
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .expect("VmRSS in /proc/PID/status")
    }

    /// Sends signal `sig` (e.g. `libc::SIGTERM`) to the process.
    pub fn signal(&self, sig: i32) {
        // SAFETY: kill(2) on the pid of a child this value owns.
        let rc = unsafe { libc::kill(self.pid() as i32, sig) };
        assert_eq!(rc, 0, "kill({}, {sig})", self.pid());
    }

    /// Waits up to `timeout` for the process to exit; its exit status, if it did.
    pub fn wait_exit(&mut self, timeout: Duration) -> Option<std::process::ExitStatus> {
        let start = Instant::now();
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Some(status);
            }
            if start.elapsed() >= timeout {
                return None;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    /// Whether the process still runs.
    pub fn is_running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// A keep-alive client of the check port whose exchanges give up after 10 s.
    pub fn client(&self) -> KeepAlive {
        KeepAlive::new(&self.check_addr, Duration::from_secs(10))
    }

    /// The value of the first sample on `/metrics` whose line starts with `series` (a metric
    /// name, optionally with the start of its labels), or `None`.
    pub fn metric(&self, series: &str) -> Option<f64> {
        let (status, text) = self.admin_get("/metrics");
        assert_eq!(status, 200, "/metrics: {text}");
        text.lines()
            .filter(|l| !l.starts_with('#') && l.starts_with(series))
            .find_map(|l| l.rsplit(' ').next()?.parse().ok())
    }
}

impl Drop for Extauth {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if std::thread::panicking() {
            eprintln!("---- extauth logs ----\n{}", self.logs());
        }
    }
}

/// Copies a child's output into the shared log buffer, line by line as it arrives.
pub fn pump(from: impl Read + Send + 'static, into: Arc<Mutex<String>>) {
    std::thread::spawn(move || {
        let mut reader = BufReader::new(from);
        let mut line = Vec::new();
        while matches!(reader.read_until(b'\n', &mut line), Ok(n) if n > 0) {
            if !line.ends_with(b"\n") {
                line.push(b'\n');
            }
            into.lock()
                .unwrap()
                .push_str(&String::from_utf8_lossy(&line));
            line.clear();
        }
    });
}
