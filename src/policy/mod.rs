//! What an AuthConfig means at run time: its steps compiled into checked, ready-to-use values,
//! and the `booleanExpr` that combines them. Plain data, no I/O.

mod auth;
mod breaker;
mod cache;
pub mod expr;
mod headers;
mod url;

pub use crate::config::FieldError;
pub use auth::{
    compile, compile_at, AuthPolicy, StepPolicy, DEFAULT_CONNECTION_TIMEOUT, DEFAULT_MAX_CONNS,
};
pub use breaker::BreakerSettings;
pub use cache::CacheSettings;
pub use expr::Expr;
