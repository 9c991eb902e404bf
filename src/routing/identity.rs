//! Route identities: the name of one Envoy route, which the generated Envoy configuration sets
//! on every check it sends (after its own routing decision, overwriting whatever the client
//! sent), so that extauth applies the policy of the route Envoy took instead of matching the
//! request a second time.
//!
//! An identity is `namespace/name/route/matcher/fingerprint`: the VirtualService, the route's
//! index and the matcher's index (each Gloo matcher is one Envoy route), and a digest of what
//! Envoy routed on to get there (the virtual host's domains, and every matcher up to this one,
//! since the first match wins). When the files change what Envoy routes on, the identities
//! Envoy still sends for the routes at and after the change no longer match and are answered
//! 403 until Envoy gets its new configuration; policy changes (which AuthConfig, `disable`)
//! keep the identities and apply at once. Across VirtualServices, the check's Host must still
//! lead to the identity's VirtualService (a new, more specific domain elsewhere is drift too).

use sha2::{Digest, Sha256};

use super::CompiledVirtualService;
use crate::config::types::{Matcher, ObjectKey};

/// The header carrying the identity from Envoy to extauth (never forwarded upstream).
pub const ROUTE_HEADER: &str = "x-extauth-route";

/// The identity of matcher `matcher` of route `route` of VirtualService `key`. Its
/// fingerprint covers the domains and every matcher Envoy tries up to this one (the earlier
/// routes' too: first match wins, so an edit before a route changes what reaches it).
pub fn route_identity(
    key: &ObjectKey,
    vs: &CompiledVirtualService,
    route: usize,
    matcher: usize,
) -> String {
    let default = [Matcher::default()];
    let routes = &vs.spec.virtual_host.routes;
    let tried: Vec<serde_json::Value> = (0..=route)
        .flat_map(|i| {
            let matchers: &[Matcher] = match routes.get(i) {
                Some(r) if !r.matchers.is_empty() => &r.matchers,
                _ => &default,
            };
            let upto = if i == route {
                matcher + 1
            } else {
                matchers.len()
            };
            matchers.iter().take(upto).map(routed_on)
        })
        .collect();
    let routed_on = serde_json::json!({"domains": vs.domains, "matchers": tried});
    let digest = Sha256::digest(routed_on.to_string().as_bytes());
    let fingerprint: String = digest.iter().take(8).map(|b| format!("{b:02x}")).collect();
    format!(
        "{}/{}/{route}/{matcher}/{fingerprint}",
        key.namespace, key.name
    )
}

/// What Envoy routes on in a matcher, field by field (a stable form: the fingerprint must not
/// change with the program's version, only with the files).
fn routed_on(m: &Matcher) -> serde_json::Value {
    let headers: Vec<serde_json::Value> = m
        .headers
        .iter()
        .map(|h| {
            serde_json::json!([
                h.name.to_ascii_lowercase(),
                h.value,
                h.regex,
                h.invert_match
            ])
        })
        .collect();
    let query: Vec<serde_json::Value> = m
        .query_parameters
        .iter()
        .map(|q| serde_json::json!([q.name, q.value, q.regex]))
        .collect();
    serde_json::json!({
        "prefix": m.prefix,
        "exact": m.exact,
        "regex": m.regex,
        "caseSensitive": m.case_sensitive,
        "headers": headers,
        "queryParameters": query,
        "methods": m.methods,
    })
}

/// Every identity of `vs`, with the route index it names.
pub fn identities<'a>(
    key: &'a ObjectKey,
    vs: &'a CompiledVirtualService,
) -> impl Iterator<Item = (String, usize)> + 'a {
    vs.routes.iter().enumerate().flat_map(move |(i, r)| {
        (0..r.matchers.len()).map(move |j| (route_identity(key, vs, i, j), i))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::routing::compile_virtual_service;

    fn vs(yaml: &str) -> CompiledVirtualService {
        compile_virtual_service("ns", &serde_norway::from_str(yaml).unwrap()).unwrap()
    }

    #[test]
    fn follows_what_envoy_routes_on_not_the_policy() {
        let key = ObjectKey::new("ns", "v");
        let base = vs(
            "virtualHost: {domains: [a], routes: [{matchers: [{prefix: /x}, {prefix: /y}]}, {}]}",
        );
        let ids: Vec<(String, usize)> = identities(&key, &base).collect();
        assert_eq!(ids.len(), 3);
        assert!(ids[0].0.starts_with("ns/v/0/0/"), "{ids:?}");
        assert!(ids[1].0.starts_with("ns/v/0/1/"), "{ids:?}");
        assert_eq!(ids[2].1, 1);
        // a route without matchers is Envoy's `prefix: /` route
        assert!(ids[2].0.starts_with("ns/v/1/0/"));
        // a new policy keeps the identities
        let policy = vs("virtualHost: {domains: [a], routes: [{matchers: [{prefix: /x}, {prefix: /y}], options: {extauth: {disable: true}}}, {}]}");
        let same: Vec<(String, usize)> = identities(&key, &policy).collect();
        assert_eq!(ids, same);
        // another matcher changes its own identity and those of every route Envoy tries after
        // it, not those before it
        let edited = vs(
            "virtualHost: {domains: [a], routes: [{matchers: [{prefix: /x}, {prefix: /z}]}, {}]}",
        );
        let edited: Vec<(String, usize)> = identities(&key, &edited).collect();
        assert_eq!(edited[0], ids[0]);
        assert_ne!(edited[1], ids[1]);
        assert_ne!(edited[2], ids[2]);
        let domains = vs("virtualHost: {domains: [a, b], routes: [{matchers: [{prefix: /x}, {prefix: /y}]}, {}]}");
        assert_ne!(identities(&key, &domains).next(), ids.first().cloned());
    }
}
