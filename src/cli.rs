//! The command line: `serve` (the default) and `validate`.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};

/// extauth: an external authorization server for Envoy's HTTP ext_authz filter that decides
/// each check by calling your own HTTP auth service, as Gloo's passThroughAuth.http does.
#[derive(Parser, Debug)]
#[command(version, about, args_conflicts_with_subcommands = true)]
pub struct Cli {
    /// What to do; `serve` when omitted.
    #[command(subcommand)]
    pub command: Option<Command>,
    /// Flags of `serve`, accepted without the subcommand.
    #[command(flatten)]
    pub serve: ServeArgs,
}

/// The subcommands.
#[derive(Subcommand, Debug)]
pub enum Command {
    /// Serve checks from Envoy (the default).
    Serve(ServeArgs),
    /// Check every file of a config directory, print every error, exit non-zero if any.
    Validate {
        /// The config directory.
        dir: PathBuf,
    },
}

/// Flags of `serve`.
#[derive(Args, Debug, Clone)]
pub struct ServeArgs {
    /// Directory of AuthConfig and VirtualService files (*.yaml, *.yml, *.json), watched.
    #[arg(long, env = "EXTAUTH_CONFIG_DIR", default_value = "config")]
    pub config_dir: PathBuf,
    /// Address of the check endpoint Envoy calls.
    #[arg(long, env = "EXTAUTH_LISTEN", default_value = "0.0.0.0:8083")]
    pub listen: SocketAddr,
    /// Address of the admin endpoints (/healthz, /readyz).
    #[arg(long, env = "EXTAUTH_ADMIN_LISTEN", default_value = "0.0.0.0:9091")]
    pub admin_listen: SocketAddr,
    /// Envoy's `http_service.path_prefix`, removed from each check's path before routing.
    #[arg(long, env = "EXTAUTH_PATH_PREFIX")]
    pub path_prefix: Option<String>,
    /// How often the directory is re-read even without file events (a backstop).
    #[arg(long, env = "EXTAUTH_RESCAN_INTERVAL", default_value = "10s", value_parser = parse_duration)]
    pub rescan_interval: Duration,
    /// How long in-flight checks may take to finish after SIGTERM.
    #[arg(long, env = "EXTAUTH_SHUTDOWN_GRACE", default_value = "10s", value_parser = parse_duration)]
    pub shutdown_grace: Duration,
    /// Threads serving checks (0: one per core).
    #[arg(long, env = "EXTAUTH_WORKERS", default_value_t = 0)]
    pub workers: usize,
}

fn parse_duration(text: &str) -> Result<Duration, String> {
    crate::config::duration::parse_duration(text)
}

impl ServeArgs {
    /// The path prefix, normalised: `None` for empty or `/`, no trailing slash.
    pub fn normalized_prefix(&self) -> Option<String> {
        self.path_prefix
            .as_deref()
            .map(|p| p.trim_end_matches('/'))
            .filter(|p| !p.is_empty())
            .map(|p| {
                if p.starts_with('/') {
                    p.to_string()
                } else {
                    format!("/{p}")
                }
            })
    }
}
