//! End-to-end tests: extauth, the seed's sample auth service and a real Envoy started from the
//! configuration `extauth envoy-config` generates; plus checks that the Dockerfile and the
//! deployment files only use flags and paths that exist.

mod deploy;
mod dockerfile;
mod generated;
mod hand_written;
mod harness;
mod identity_headers;
mod parity;
mod replicas;
mod retries;
mod route_identity;
mod seed_walk;
mod seed_walk_https;
