//! Integration tests: the real `extauth` binary against real HTTP servers on 127.0.0.1.
//!
//! One test binary (`cargo test --test it`); every test owns its ports and temp dirs, so they
//! run in parallel.

mod harness;

mod bad_configs;
mod bad_requests;
mod breaker;
mod cache;
mod chains;
mod cli;
mod conflicts;
mod explain;
mod faults;
mod framing;
mod observability;
mod overload;
mod pool;
mod props;
mod reload;
mod reload_load;
mod request;
mod response;
mod routing;
mod security;
mod seed;
mod settle;
mod shutdown;
mod tls;
mod validation;
