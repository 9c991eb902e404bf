//! `extauth check`: loads the config directory as `validate` does, explains the request, makes
//! the calls with `--call`, prints the trace and returns the exit status.

use actix_web::web::Bytes;

use super::build::{called, explain, finish, Explained, Sources};
use super::input::Input;
use super::redact::Redactor;
use super::{call, text, ExplainError};
use crate::check::Outcome;
use crate::cli::{normalize_prefix, CheckArgs, OutputFormat};
use crate::compiled::Store;
use crate::routing::RouteTable;

/// Exit status of a usage error (`EX_USAGE`).
pub const USAGE: u8 = 64;

/// Runs `extauth check`; returns its exit status.
pub fn check(args: &CheckArgs) -> u8 {
    match explained(args) {
        Ok(trace) => {
            match args.output {
                OutputFormat::Text => print!("{}", text::render(&trace)),
                OutputFormat::Json => match serde_json::to_string_pretty(&trace) {
                    Ok(json) => println!("{json}"),
                    Err(e) => {
                        eprintln!("extauth check: {e}");
                        return 2;
                    }
                },
            }
            trace.exit_code
        }
        Err(ExplainError::Usage(why)) => {
            eprintln!("extauth check: {why}");
            USAGE
        }
        Err(e) => {
            eprintln!("extauth check: {e}");
            2
        }
    }
}

fn explained(args: &CheckArgs) -> Result<super::Trace, ExplainError> {
    let body = match (&args.body, &args.body_file) {
        (Some(text), _) => Bytes::from(text.clone()),
        (None, Some(file)) => std::fs::read(file)
            .map(Bytes::from)
            .map_err(|e| ExplainError::Usage(format!("--body-file {}: {e}", file.display())))?,
        (None, None) => Bytes::new(),
    };
    let input = Input::parse(&args.url, &args.method, &args.headers, body)?;
    let mut store = Store::new(&args.config_dir);
    let reload = store.reload();
    let snapshot = reload.snapshot;
    let table = RouteTable::for_snapshot(&snapshot);
    let prefix = normalize_prefix(args.path_prefix.as_deref());
    let sources = Sources {
        table: &table,
        snapshot: &snapshot,
        loaded: reload.complete,
        dir: Some(args.config_dir.display().to_string()),
        path_prefix: prefix.as_deref(),
        trust_route_header: args.trust_route_header,
    };
    let redact = Redactor {
        show_secrets: args.show_secrets,
    };
    let Explained { mut trace, pending } = explain(&input, &sources, redact);
    if let (true, Some(pending)) = (args.call, pending) {
        let planned = std::mem::take(&mut trace.steps);
        let system = actix_web::rt::System::new();
        let result = system.block_on(call::perform(
            &pending.key,
            &pending.hash,
            &pending.policy,
            &pending.check,
            planned,
            redact,
        ));
        match result {
            Ok(done) => called(&mut trace, pending.key, done, redact),
            Err(e) => finish(&mut trace, Outcome::Internal(e.to_string()), redact),
        }
    }
    Ok(trace)
}
