//! A step's `url` and, for https, its TLS (`tlsConfig`, the default roots).

use std::path::Path;
use std::str::FromStr;
use std::sync::Arc;

use actix_web::http::Uri;

use super::FieldError;
use crate::config::dependency::FileStamp;
use crate::config::types::PassThroughHttp;
use crate::tls::StepTls;

/// Where and how a step calls its auth service.
pub struct Endpoint {
    /// The url as written.
    pub url: Uri,
    /// Its TLS, for an https url.
    pub tls: Option<Arc<StepTls>>,
}

/// The step's url and TLS. `path` is the `http` block's path; relative TLS files are taken
/// from `base`; every TLS file read goes into `read`.
pub fn compile_endpoint(
    http: &PassThroughHttp,
    path: &str,
    base: &Path,
    read: &mut Vec<FileStamp>,
    errors: &mut Vec<FieldError>,
) -> Option<Endpoint> {
    let (url, https) = compile_url(http, path, errors)?;
    if !https {
        if http.tls_config.is_some() {
            errors.push(FieldError::new(
                format!("{path}.tlsConfig"),
                "tlsConfig applies to https urls only; use https:// in url",
            ));
            return None;
        }
        return Some(Endpoint { url, tls: None });
    }
    let ipv6 = url.host().is_some_and(|h| h.starts_with('['));
    let server_name = http
        .tls_config
        .as_ref()
        .and_then(|t| t.server_name.as_ref());
    if ipv6 && server_name.is_none() {
        errors.push(FieldError::new(
            format!("{path}.url"),
            "an https url with an IPv6 address needs tlsConfig.serverName (the name its certificate is verified against)",
        ));
        return None;
    }
    match StepTls::load(http.tls_config.as_ref(), base, read) {
        Ok(tls) => Some(Endpoint {
            url,
            tls: Some(tls),
        }),
        Err(problems) => {
            errors.extend(
                problems
                    .into_iter()
                    .map(|e| FieldError::new(format!("{path}.{}", e.field.as_str()), e.message)),
            );
            None
        }
    }
}

/// The step's url as a `Uri`, and whether it is https. A URL may carry credentials, so no
/// message quotes it: each says what is wrong, naming the host when the URL parses.
fn compile_url(
    http: &PassThroughHttp,
    path: &str,
    errors: &mut Vec<FieldError>,
) -> Option<(Uri, bool)> {
    let field = format!("{path}.url");
    let fail = |errors: &mut Vec<FieldError>, why: String| {
        errors.push(FieldError::new(field.clone(), why));
        None
    };
    let parsed = match url::Url::parse(&http.url) {
        Ok(parsed) => parsed,
        // the url crate's reasons name the part, never the text ("invalid port number")
        Err(e) => return fail(errors, format!("not a valid URL: {e}")),
    };
    let host = match parsed.host_str() {
        Some(h) if !h.is_empty() => format!(" (host `{h}`)"),
        _ => String::new(),
    };
    let https = match parsed.scheme() {
        "http" => false,
        "https" => true,
        other => {
            return fail(
                errors,
                format!("unsupported scheme `{other}`; use http or https{host}"),
            )
        }
    };
    if host.is_empty() {
        return fail(errors, "the URL has no host".into());
    }
    if !parsed.username().is_empty() || parsed.password().is_some() {
        return fail(
            errors,
            format!("credentials in the URL are not allowed; use headersToAdd{host}"),
        );
    }
    if parsed.fragment().is_some() {
        return fail(errors, format!("a URL fragment is not allowed{host}"));
    }
    match Uri::from_str(parsed.as_str()) {
        Ok(uri) => Some((uri, https)),
        Err(e) => fail(errors, format!("not a valid URL: {e}{host}")),
    }
}

impl super::AuthPolicy {
    /// Takes the TLS material of `newer`, the same AuthConfig compiled again after its TLS
    /// files changed, into this version's steps (whose connections stay open); returns
    /// whether any step's material changed.
    pub fn adopt_tls(&self, newer: &super::AuthPolicy) -> bool {
        let mut changed = false;
        for (step, new) in self.steps.iter().zip(&newer.steps) {
            if let (Some(tls), Some(new)) = (&step.tls, &new.tls) {
                changed |= tls.adopt(new);
            }
        }
        changed
    }
}
