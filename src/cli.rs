//! The command line: `serve` (the default), `validate`, `envoy-config`, `healthcheck` and
//! `check`.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};

use crate::logging::LogFormat;

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

/// The command line of a subcommand other than `serve`: the same subcommands, without the
/// flags of `serve` (whose environment variables, such as a bad `EXTAUTH_LISTEN`, must not
/// fail a command that does not use them).
#[derive(Parser, Debug)]
#[command(name = "extauth", version, about)]
struct Other {
    #[command(subcommand)]
    command: Command,
}

/// What to run.
#[derive(Debug)]
pub enum Invocation {
    /// `serve`, or no subcommand.
    Serve(ServeArgs),
    /// Another subcommand.
    Other(Command),
}

/// Parses the process's command line (exits with clap's message on a usage error).
pub fn parse() -> Invocation {
    let first = std::env::args_os().nth(1);
    let first = first.as_deref().and_then(|a| a.to_str());
    if first == Some("check") {
        // a usage error of `check` exits 64 (EX_USAGE): 1 and 2 are its answers
        return match Other::try_parse() {
            Ok(other) => Invocation::Other(other.command),
            Err(e) => {
                let _ = e.print();
                std::process::exit(if e.use_stderr() { 64 } else { 0 });
            }
        };
    }
    let other = first.is_some_and(|a| matches!(a, "validate" | "envoy-config" | "healthcheck"));
    if other {
        return Invocation::Other(Other::parse().command);
    }
    match Cli::parse() {
        Cli {
            command: Some(Command::Serve(args)),
            ..
        } => Invocation::Serve(args),
        Cli {
            command: Some(other),
            ..
        } => Invocation::Other(other),
        Cli {
            command: None,
            serve,
        } => Invocation::Serve(serve),
    }
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
    /// Print Envoy YAML for a config directory: the ext_authz filter, or with --bootstrap a
    /// whole Envoy bootstrap (listener, routes, clusters, admin).
    EnvoyConfig(EnvoyConfigArgs),
    /// Ask the admin listener's /healthz (or --path) and exit 0 on 200 (for container health
    /// checks).
    Healthcheck(HealthcheckArgs),
    /// Explain what extauth decides for one request: the virtual host, route and AuthConfig
    /// that apply, the call each step makes and, with --call, the answers and the decision.
    /// Exits 0 when Envoy would be answered 200 (or the route is protected and --call is not
    /// given), 1 for 401 or 403, 2 for 503, 64 for a usage error.
    Check(CheckArgs),
}

/// Flags of `serve`.
#[derive(Args, Debug, Clone)]
pub struct ServeArgs {
    /// Directory of AuthConfig, VirtualService and Upstream files (*.yaml, *.yml, *.json),
    /// watched.
    #[arg(long, env = "EXTAUTH_CONFIG_DIR", default_value = "config")]
    pub config_dir: PathBuf,
    /// Address of the check endpoint Envoy calls.
    #[arg(long, env = "EXTAUTH_LISTEN", default_value = "0.0.0.0:8083")]
    pub listen: SocketAddr,
    /// Address of the admin endpoints (/healthz, /readyz, /metrics, /configz).
    #[arg(long, env = "EXTAUTH_ADMIN_LISTEN", default_value = "0.0.0.0:9091")]
    pub admin_listen: SocketAddr,
    /// Envoy's `http_service.path_prefix`, removed from each check's path before routing.
    #[arg(long, env = "EXTAUTH_PATH_PREFIX")]
    pub path_prefix: Option<String>,
    /// How often the directory is re-read even without file events (a backstop).
    #[arg(long, env = "EXTAUTH_RESCAN_INTERVAL", default_value = "10s", value_parser = parse_duration)]
    pub rescan_interval: Duration,
    /// A config file modified less than this ago is not read until it settles, unless its
    /// writer was seen closing it or renaming it into place (a half-written file is never
    /// applied).
    #[arg(long, env = "EXTAUTH_SETTLE_TIME", default_value = "2s", value_parser = parse_duration)]
    pub settle_time: Duration,
    /// Trust the route identity (`x-extauth-route`) on checks: set it when Envoy's
    /// configuration comes from `extauth envoy-config --bootstrap`, which sets the header on
    /// every route after Envoy's routing decision and overwrites any copy a client sent.
    /// Without it the header is ignored and extauth matches each check itself.
    #[arg(long, env = "EXTAUTH_TRUST_ROUTE_HEADER")]
    pub trust_route_header: bool,
    /// How long in-flight checks may take to finish after SIGTERM.
    #[arg(long, env = "EXTAUTH_SHUTDOWN_GRACE", default_value = "10s", value_parser = parse_duration)]
    pub shutdown_grace: Duration,
    /// Threads serving checks (0: one per core).
    #[arg(long, env = "EXTAUTH_WORKERS", default_value_t = 0)]
    pub workers: usize,
    /// Shape of log lines: `text`, or `json` (one object per line).
    #[arg(long, env = "EXTAUTH_LOG_FORMAT", value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,
    /// `--redact-headers`.
    #[command(flatten)]
    pub redaction: RedactArgs,
}

/// `--redact-headers`, the same for `serve` (its logs) and `check` (its trace).
#[derive(Args, Debug, Clone)]
pub struct RedactArgs {
    /// Headers whose values are replaced by `<redacted>` wherever headers are logged or shown
    /// (comma-separated; replaces the default list; an empty value redacts none).
    #[arg(
        long,
        env = "EXTAUTH_REDACT_HEADERS",
        value_delimiter = ',',
        default_value = "authorization,cookie,proxy-authorization"
    )]
    pub redact_headers: Vec<String>,
}

fn parse_duration(text: &str) -> Result<Duration, String> {
    crate::config::duration::parse_duration(text)
}

impl ServeArgs {
    /// The path prefix, normalised: `None` for empty or `/`, no trailing slash.
    pub fn normalized_prefix(&self) -> Option<String> {
        normalize_prefix(self.path_prefix.as_deref())
    }
}

/// A path prefix normalised: `None` for empty or `/`, a leading slash, no trailing slash.
pub fn normalize_prefix(prefix: Option<&str>) -> Option<String> {
    prefix
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

/// Flags of `envoy-config`.
#[derive(Args, Debug, Clone)]
pub struct EnvoyConfigArgs {
    /// Directory of AuthConfig, VirtualService and Upstream files (the one extauth serves).
    #[arg(long, env = "EXTAUTH_CONFIG_DIR", default_value = "config")]
    pub config_dir: PathBuf,
    /// Where Envoy reaches extauth's check listener, HOST:PORT; repeat it (or use a DNS name
    /// with one address per replica) to spread checks over several replicas.
    #[arg(long = "extauth-address", required = true, value_name = "HOST:PORT")]
    pub extauth_address: Vec<crate::envoy::HostPort>,
    /// How many extauth replicas serve behind the addresses (default: one per
    /// --extauth-address). A check that cannot reach a replica is retried on another, at most
    /// once per other replica; with one replica it is not retried. Give it when one DNS name
    /// stands for several replicas (a headless Service).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    pub extauth_replicas: Option<u32>,
    /// extauth's --path-prefix, which Envoy must put before each check's path.
    #[arg(long, env = "EXTAUTH_PATH_PREFIX")]
    pub path_prefix: Option<String>,
    /// With --bootstrap: keep client-sent copies of the headers auth services vouch for
    /// (allowedUpstreamHeaders, allowedUpstreamHeadersToOverwrite), as Gloo does. Unsafe: a
    /// client can then pre-seed an identity header the upstream trusts. By default every
    /// route strips them before ext_authz.
    #[arg(long)]
    pub keep_client_identity_headers: bool,
    /// With --bootstrap: the address of Envoy's HTTP listener.
    #[arg(long, default_value = "0.0.0.0:8080")]
    pub listen: SocketAddr,
    /// With --bootstrap: the address of Envoy's admin interface.
    #[arg(long, default_value = "127.0.0.1:9901")]
    pub admin: SocketAddr,
    /// Largest request body Envoy buffers for a check when an AuthConfig sets passThroughBody
    /// (larger bodies get 413 from Envoy).
    #[arg(long, default_value_t = 65536)]
    pub max_request_bytes: u32,
    /// Print a whole Envoy bootstrap instead of the ext_authz filter alone.
    #[arg(long)]
    pub bootstrap: bool,
}

/// Flags of `healthcheck`.
#[derive(Args, Debug, Clone)]
pub struct HealthcheckArgs {
    /// extauth's admin address (as given to serve); an unspecified IP means 127.0.0.1.
    #[arg(long, env = "EXTAUTH_ADMIN_LISTEN", default_value = "0.0.0.0:9091")]
    pub admin_listen: SocketAddr,
    /// The admin path to ask: /healthz (alive) or /readyz (config loaded).
    #[arg(long, default_value = "/healthz")]
    pub path: String,
    /// How long to wait for the answer.
    #[arg(long, default_value = "2s", value_parser = parse_duration)]
    pub timeout: Duration,
}

/// Flags of `check`.
#[derive(Args, Debug, Clone)]
pub struct CheckArgs {
    /// Directory of AuthConfig, VirtualService and Upstream files (the one extauth serves).
    #[arg(long, env = "EXTAUTH_CONFIG_DIR", default_value = "config")]
    pub config_dir: PathBuf,
    /// extauth's --path-prefix: the URL's path must start with it, and it is removed before
    /// routing, as the server does.
    #[arg(long, env = "EXTAUTH_PATH_PREFIX")]
    pub path_prefix: Option<String>,
    /// extauth's --trust-route-header: the request's `x-extauth-route` header (the route
    /// identity the generated Envoy sets) picks its route, as the server does.
    #[arg(long, env = "EXTAUTH_TRUST_ROUTE_HEADER")]
    pub trust_route_header: bool,
    /// The request's method.
    #[arg(
        short = 'X',
        long = "request",
        value_name = "METHOD",
        default_value = "GET"
    )]
    pub method: String,
    /// A request header, `Name: value`; repeat it for more (in order, repeats kept). A `Host`
    /// header replaces the URL's host.
    #[arg(short = 'H', long = "header", value_name = "NAME: VALUE")]
    pub headers: Vec<String>,
    /// The request's body (what Envoy buffers with `with_request_body`).
    #[arg(long, value_name = "TEXT", conflicts_with = "body_file")]
    pub body: Option<String>,
    /// Read the request's body from FILE.
    #[arg(long, value_name = "FILE")]
    pub body_file: Option<PathBuf>,
    /// Make the calls to the auth services, exactly as the server does, and show their answers
    /// and the decision; without it nothing is sent anywhere.
    #[arg(long)]
    pub call: bool,
    /// `text` for people, or `json`: one object with the same content (keys in the reference).
    #[arg(long, value_enum, default_value_t = OutputFormat::Text)]
    pub output: OutputFormat,
    /// Show the values of the --redact-headers headers, of headersToAdd and the credentials of
    /// urls instead of `<redacted>`.
    #[arg(long)]
    pub show_secrets: bool,
    /// `--redact-headers`, as `serve` takes it.
    #[command(flatten)]
    pub redaction: RedactArgs,
    /// The request: `http://HOST[:PORT]/path?query`, the Host and path (with query) the check
    /// carries.
    pub url: String,
}

/// Shape of `extauth check`'s output.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum OutputFormat {
    /// Aligned text for people.
    #[default]
    Text,
    /// One JSON object, for scripts.
    Json,
}
