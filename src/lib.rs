//! extauth: an external authorization server for Envoy's HTTP-mode ext_authz filter that
//! decides each check by calling the user's own HTTP auth service, shaped exactly as Gloo
//! Gateway's `passThroughAuth.http`.
//!
//! Data flows one way: files -> [`config`] -> [`routing`] table and [`passthrough`] actors;
//! a check -> [`check`] -> routing -> actor -> decision -> Envoy's answer.

#![warn(missing_docs)]

pub mod admin;
pub mod cache;
pub mod check;
pub mod cli;
pub mod config;
pub mod envoy;
pub mod explain;
pub mod logging;
pub mod metrics;
pub mod passthrough;
pub mod policy;
pub mod probe;
pub mod routing;
pub mod server;
pub mod tls;
