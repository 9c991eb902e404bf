//! The `extauth` binary: parses the command line and hands over to [`extauth::server`].

use std::process::ExitCode;

use extauth::cli::{Command, Invocation};
use extauth::logging::LogFormat;

fn main() -> ExitCode {
    let invocation = extauth::cli::parse();
    let logs = match &invocation {
        Invocation::Serve(args) => {
            extauth::logging::init(args.log_format, &args.redaction.redact_headers)
        }
        Invocation::Other(Command::Check(args)) => {
            extauth::logging::init(LogFormat::Text, &args.redaction.redact_headers)
        }
        Invocation::Other(_) => extauth::logging::init(LogFormat::Text, &[]),
    };
    if let Err(e) = logs {
        eprintln!("{e}");
    }
    match invocation {
        Invocation::Other(Command::Validate { dir }) => exit(extauth::server::validate(&dir)),
        Invocation::Other(Command::EnvoyConfig(args)) => exit(extauth::server::envoy_config(&args)),
        Invocation::Other(Command::Healthcheck(args)) => exit(extauth::probe::healthcheck(&args)),
        Invocation::Other(Command::Check(args)) => {
            ExitCode::from(extauth::explain::run::check(&args))
        }
        Invocation::Other(Command::Serve(args)) | Invocation::Serve(args) => run(args),
    }
}

fn exit(ok: bool) -> ExitCode {
    if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

fn run(args: extauth::cli::ServeArgs) -> ExitCode {
    match actix_web::rt::System::new().block_on(extauth::server::serve(args)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            log::error!("extauth failed: {e}");
            ExitCode::FAILURE
        }
    }
}
