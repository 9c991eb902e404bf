//! Header rules of an AuthConfig: which header names may travel to the auth service (never
//! the ones that frame or steer the call itself), and the warning for a header that is both
//! trusted from the client and vouched for by the auth service.

use std::collections::HashSet;
use std::str::FromStr;

use actix_web::http::header::HeaderName;

use super::{FieldError, StepPolicy};

/// Headers that describe one hop's connection or framing, or change how the HTTP client sends
/// the call; never copied to the auth call. (`expect` makes awc refuse a call without a body,
/// and wait for `100 Continue` with one: a client could make the call fail at will.)
pub(super) const NEVER_COPIED: &[&str] = &[
    "host",
    "expect",
    // the route identity Envoy sets for extauth alone
    "x-extauth-route",
    "content-length",
    "transfer-encoding",
    "connection",
    "keep-alive",
    "te",
    "trailer",
    "upgrade",
    "proxy-connection",
];

/// The never-copied header `raw` names (lower case), if it is one.
pub(super) fn never_copied(raw: &str) -> Option<&'static str> {
    let name = raw.trim();
    NEVER_COPIED
        .iter()
        .find(|n| n.eq_ignore_ascii_case(name))
        .copied()
}

/// Parses header names, lower-cased and de-duplicated.
pub(super) fn header_names(
    names: &[String],
    path: &str,
    errors: &mut Vec<FieldError>,
) -> Vec<HeaderName> {
    let mut out: Vec<HeaderName> = Vec::new();
    for (i, raw) in names.iter().enumerate() {
        match HeaderName::from_str(raw.trim()) {
            Ok(name) if !out.contains(&name) => out.push(name),
            Ok(_) => {}
            Err(_) => errors.push(FieldError::new(
                format!("{path}[{i}]"),
                format!("`{raw}` is not a valid header name"),
            )),
        }
    }
    out
}

/// Warns about each header the auth service vouches for (an upstream list) that the AuthConfig
/// also trusts from the client (`allowedHeaders`): the generated Envoy configuration then keeps
/// the client's copies of it (the owner's explicit choice), instead of stripping them.
pub(super) fn trusted_and_vouched(steps: &[StepPolicy], warnings: &mut Vec<FieldError>) {
    let trusted: HashSet<&HeaderName> = steps.iter().flat_map(|s| &s.allowed_headers).collect();
    for (i, step) in steps.iter().enumerate() {
        let lists = [
            ("allowedUpstreamHeaders", &step.upstream_headers),
            (
                "allowedUpstreamHeadersToOverwrite",
                &step.upstream_headers_to_overwrite,
            ),
        ];
        for (field, names) in lists {
            for name in names.iter().filter(|n| trusted.contains(n)) {
                warnings.push(FieldError::new(
                    format!("spec.configs[{i}].passThroughAuth.http.response.{field}"),
                    format!(
                        "`{name}` is both trusted from the client (allowedHeaders) and vouched for by the auth service: the generated Envoy configuration keeps the client's copies of it instead of stripping them"
                    ),
                ));
            }
        }
    }
}
