//! Passthrough: asking the user's auth service about a check, exactly as Gloo's
//! `passThroughAuth.http` does. Plain functions build the call and read the answer; the chain
//! runs steps and `booleanExpr`; thin actors own the connection-limited clients.

mod actor;
mod answer;
mod breaker;
mod cached;
mod call;
mod chain;
mod registry;
mod request;
mod shared;

pub use actor::{Check, PassthroughActor};
pub use answer::{AnswerHead, CallError, Called, StepOutcome};
pub use cached::decide_from_caches;
pub use call::StepClient;
pub use chain::{run_chain, run_chain_traced, Decision, StepCaller};
pub use registry::{shard_count, share, Dispatch, Registry, Target, WorkerStarted};
pub use request::{build_request, AuthRequest};
pub use shared::StepShared;

use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::http::Method;
use actix_web::web::Bytes;

/// Headers in order, repeats kept: what a step passes on to Envoy.
pub type HeaderList = Vec<(HeaderName, HeaderValue)>;

/// The check Envoy sent, as the passthrough steps see it.
#[derive(Debug, Clone)]
pub struct CheckRequest {
    /// The original request's method.
    pub method: Method,
    /// The original path and query (after `--path-prefix`), for logs.
    pub path: String,
    /// The headers Envoy forwarded that the policy can copy (its steps' `allowedHeaders`), in
    /// order, repeats kept: no other header travels to the actor.
    pub headers: HeaderList,
    /// The buffered body, when Envoy sends one (`with_request_body`).
    pub body: Bytes,
}
