//! extauth: an external authorization server for Envoy's HTTP-mode ext_authz filter that
//! decides each check by calling the user's own HTTP auth service, shaped exactly as Gloo
//! Gateway's `passThroughAuth.http`.
//!
//! Data flows one way: files -> [`config`] -> [`routing`] table and [`passthrough`] actors;
//! a check -> [`check`] -> routing -> actor -> decision -> Envoy's answer.
//!
//! Layers lean one way too: [`config`] (resources, their errors, the config actor) depends on
//! no other layer but is generic over what its resources compile into; [`policy`] and
//! [`routing`] compile them; [`compiled`] names the config types with that compiler for the
//! rest of extauth.

#![warn(missing_docs)]

pub mod admin;
pub mod cache;
pub mod check;
pub mod cli;
pub mod compiled;
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
