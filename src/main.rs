//! The `extauth` binary: parses the command line and hands over to [`extauth::server`].

use std::process::ExitCode;

use clap::Parser;
use extauth::cli::{Cli, Command};

fn main() -> ExitCode {
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("info")).init();
    let cli = Cli::parse();
    match cli.command {
        Some(Command::Validate { dir }) => {
            if extauth::server::validate(&dir) {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            }
        }
        Some(Command::Serve(args)) => run(args),
        None => run(cli.serve),
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
