//! Explaining a decision: for one request, which VirtualService, domain and route match (or
//! why none does), which AuthConfig applies, what each step sends to the auth service and, with
//! `--call`, what it answered, how `booleanExpr` combined the steps and what Envoy is told.
//!
//! Nothing here decides anything: routing is the server's own function with a tracer
//! ([`crate::routing::route_checked_traced`]), the calls are built by
//! [`crate::passthrough::build_request`] and made by the server's client and chain, and the
//! answer comes from [`crate::check::Outcome`]. This module only writes down what they do.
//! `extauth check` ([`run`]) and the admin port's `/explain` share it.

mod build;
mod call;
pub mod input;
pub mod model;
pub mod redact;
mod route;
pub mod run;
mod steps;
pub mod text;

pub use build::{called, exit_code, explain, Explained, Pending, Sources};
pub use call::{perform, Called};
pub use input::Input;
pub use model::Trace;
pub use redact::Redactor;

/// Why a request could not be explained.
#[derive(Debug, thiserror::Error)]
pub enum ExplainError {
    /// The command line or the query is wrong (exit status 64, or 400 on `/explain`).
    #[error("{0}")]
    Usage(String),
    /// What the calls need could not be set up.
    #[error("cannot set up the calls: {0}")]
    Setup(String),
}
