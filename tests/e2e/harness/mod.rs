//! Shared pieces of the end-to-end tests: processes killed on drop, free ports, the binaries
//! (extauth, the sample auth service, Envoy) and a tiny HTTP/1.1 client.

pub mod envoy;
#[path = "../../shared/example.rs"]
mod example;
pub mod http;
pub mod server;

use std::fs::File;
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// The crate root (where Cargo.toml is).
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// A port nothing listens on right now, on 127.0.0.1.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Polls `cond` every 50 ms until it holds or `timeout` passes; returns whether it held.
pub fn wait_for(mut cond: impl FnMut() -> bool, timeout: Duration) -> bool {
    let start = Instant::now();
    loop {
        if cond() {
            return true;
        }
        if start.elapsed() >= timeout {
            return false;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Waits until something accepts connections on 127.0.0.1:`port`.
pub fn wait_listening(port: u16, what: &str) {
    assert!(
        wait_for(
            || TcpStream::connect(("127.0.0.1", port)).is_ok(),
            Duration::from_secs(20)
        ),
        "{what} did not listen on 127.0.0.1:{port}"
    );
}

/// The extauth binary under test.
pub fn extauth_bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_extauth"))
}

/// The seed's sample auth service, built once per run (with the test's profile).
pub fn example_bin() -> PathBuf {
    static BUILT: OnceLock<PathBuf> = OnceLock::new();
    BUILT
        .get_or_init(|| example::build_example(extauth_bin().parent().unwrap()))
        .clone()
}

/// Runs `extauth ARGS` to completion; returns (success, stdout, stderr).
pub fn extauth(args: &[&str]) -> (bool, String, String) {
    let out = Command::new(extauth_bin())
        .args(args)
        .env_remove("EXTAUTH_CONFIG_DIR")
        .env_remove("EXTAUTH_PATH_PREFIX")
        .output()
        .expect("run extauth");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// A child process whose output goes to a log file; killed on drop, its log printed when the
/// test is failing.
pub struct Proc {
    name: String,
    child: Child,
    log: PathBuf,
}

impl Proc {
    /// Starts `cmd`, logging stdout and stderr to `log_dir/<name>.log`.
    pub fn spawn(name: &str, mut cmd: Command, log_dir: &Path) -> Proc {
        let log = log_dir.join(format!("{name}.log"));
        let file = File::create(&log).expect("log file");
        cmd.stdout(Stdio::from(file.try_clone().unwrap()))
            .stderr(Stdio::from(file))
            .stdin(Stdio::null());
        let child = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {name}: {e}"));
        Proc {
            name: name.to_string(),
            child,
            log,
        }
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Whether the process is still running.
    pub fn alive(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// Everything it printed so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Kills it and waits for it to exit.
    pub fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        self.stop();
        if std::thread::panicking() {
            let log = self.log();
            let tail: Vec<&str> = log.lines().rev().take(60).collect();
            eprintln!("---- last lines of {} ----", self.name);
            for line in tail.iter().rev() {
                eprintln!("{line}");
            }
        }
    }
}

/// The sample auth service of the seed, on a free port.
pub fn sample_auth_service(log_dir: &Path) -> (Proc, u16) {
    let port = free_port();
    let mut cmd = Command::new(example_bin());
    cmd.env("PORT", port.to_string())
        .args(["--listen", &format!("127.0.0.1:{port}")]);
    let proc = Proc::spawn("sample-auth-service", cmd, log_dir);
    wait_listening(port, "the sample auth service");
    (proc, port)
}

/// `extauth serve` on free ports for `config_dir`, matching each check itself (as behind an
/// Envoy configured by hand); waits for /readyz. Returns the process, the check port and the
/// admin port.
pub fn extauth_serve(config_dir: &Path, log_dir: &Path) -> (Proc, u16, u16) {
    extauth_serve_with(config_dir, log_dir, &[])
}

/// [`extauth_serve`] trusting the route identity, as the generated bootstrap's instructions
/// say to run it.
pub fn extauth_serve_trusting(config_dir: &Path, log_dir: &Path) -> (Proc, u16, u16) {
    extauth_serve_with(config_dir, log_dir, &["--trust-route-header"])
}

/// [`extauth_serve`] with `extra` arguments.
pub fn extauth_serve_with(config_dir: &Path, log_dir: &Path, extra: &[&str]) -> (Proc, u16, u16) {
    extauth_serve_env(config_dir, log_dir, extra, &[])
}

/// [`extauth_serve_with`] with environment variables `envs` set too.
pub fn extauth_serve_env(
    config_dir: &Path,
    log_dir: &Path,
    extra: &[&str],
    envs: &[(&str, &str)],
) -> (Proc, u16, u16) {
    let (check, admin) = (free_port(), free_port());
    let mut cmd = Command::new(extauth_bin());
    cmd.arg("serve")
        .arg("--config-dir")
        .arg(config_dir)
        .args(["--listen", &format!("127.0.0.1:{check}")])
        .args(["--admin-listen", &format!("127.0.0.1:{admin}")])
        .args(["--rescan-interval", "1s"])
        .args(extra)
        .envs(envs.iter().copied())
        .env("RUST_LOG", "info");
    let proc = Proc::spawn("extauth", cmd, log_dir);
    let ready = wait_for(
        || {
            http::get(admin, "/readyz", "localhost", &[])
                .map(|r| r.status == 200)
                .unwrap_or(false)
        },
        Duration::from_secs(20),
    );
    assert!(ready, "extauth never became ready");
    (proc, check, admin)
}

/// The help text of `extauth [sub] --help`.
pub fn help(sub: Option<&str>) -> String {
    let mut args: Vec<&str> = sub.into_iter().collect();
    args.push("--help");
    let (ok, out, err) = extauth(&args);
    assert!(ok, "extauth {args:?} failed: {err}");
    out
}

/// Panics unless `args` (an extauth command line without the binary) names an existing
/// subcommand and only flags that subcommand documents.
pub fn assert_cli_accepts(args: &[String], origin: &str) {
    let sub = args
        .first()
        .filter(|a| !a.starts_with('-'))
        .map(String::as_str);
    let text = help(sub);
    if let Some(sub) = sub {
        assert!(
            help(None).contains(&format!("  {sub} ")),
            "{origin}: `extauth {sub}` is not a subcommand"
        );
    }
    for flag in args.iter().filter(|a| a.starts_with("--")) {
        let flag = flag.split('=').next().unwrap();
        assert!(
            text.contains(&format!("{flag} ")) || text.contains(&format!("{flag}\n")),
            "{origin}: `{flag}` is not a flag of `extauth {}`",
            sub.unwrap_or("")
        );
    }
}

/// Panics unless `name` is an environment variable that `extauth [sub]` reads.
pub fn assert_env_known(name: &str, sub: Option<&str>, origin: &str) {
    if name.starts_with("EXTAUTH_") {
        assert!(
            help(sub).contains(&format!("[env: {name}=")),
            "{origin}: extauth does not read {name}"
        );
    }
}
