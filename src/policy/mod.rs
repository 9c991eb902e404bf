//! What an AuthConfig means at run time: its steps compiled into checked, ready-to-use values,
//! and the `booleanExpr` that combines them. Plain data, no I/O.

mod auth;
mod breaker;
mod cache;
pub mod expr;
mod headers;
mod url;

pub use auth::{
    compile, compile_at, AuthPolicy, StepPolicy, DEFAULT_CONNECTION_TIMEOUT, DEFAULT_MAX_CONNS,
};
pub use breaker::BreakerSettings;
pub use cache::CacheSettings;
pub use expr::Expr;

/// A problem with one field of a resource, found while compiling it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FieldError {
    /// Dotted path from the document root, e.g. `spec.configs[0].passThroughAuth.http.url`.
    pub path: String,
    /// What is wrong, in words.
    pub message: String,
}

impl FieldError {
    /// A new error at `path`.
    pub fn new(path: impl Into<String>, message: impl Into<String>) -> Self {
        FieldError {
            path: path.into(),
            message: message.into(),
        }
    }
}
