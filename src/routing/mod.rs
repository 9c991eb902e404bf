//! Routing: which AuthConfig applies to a check, decided from the VirtualServices the way Envoy
//! routes the request (domains, then routes in order), so a client cannot pick another policy.

mod ambiguity;
mod host;
pub mod identity;
mod matcher;
mod path;
mod table;
pub mod trace;
mod virtual_service;

pub use ambiguity::{route_checked, route_checked_traced, Ambiguity};
pub use host::{as_sent, normalize_host};
pub use matcher::{Condition, MatcherRule, RequestView};
pub use table::{RouteDecision, RouteTable};
pub use virtual_service::{
    compile_virtual_service, AuthFrom, AuthTarget, CompiledVirtualService, RouteRule,
};
