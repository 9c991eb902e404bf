//! The `extauth` binary: parses the command line and hands over to [`extauth::server`].

use std::process::ExitCode;

use clap::Parser;
use extauth::cli::{Cli, Command};

fn main() -> ExitCode {
    let cli = Cli::parse();
    let logs = match &cli.command {
        Some(Command::Serve(args)) => args,
        _ => &cli.serve,
    };
    if let Err(e) = extauth::logging::init(logs.log_format, &logs.redact_headers) {
        eprintln!("{e}");
    }
    match cli.command {
        Some(Command::Validate { dir }) => {
            if extauth::server::validate(&dir) {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            }
        }
        Some(Command::EnvoyConfig(args)) => exit(extauth::server::envoy_config(&args)),
        Some(Command::Healthcheck(args)) => exit(extauth::probe::healthcheck(&args)),
        Some(Command::Serve(args)) => run(args),
        None => run(cli.serve),
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
