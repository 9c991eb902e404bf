//! What a trace never shows unless `--show-secrets`: the values of the `--redact-headers`
//! headers (the list the logs use), the values of a step's `headersToAdd`, and the
//! credentials of a url.

use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::http::Uri;

use super::model::Header;

/// What replaces a secret.
pub const MASK: &str = "<redacted>";

/// Decides what a trace shows of headers and urls.
#[derive(Clone, Copy, Debug, Default)]
pub struct Redactor {
    /// `--show-secrets`: show everything as it is.
    pub show_secrets: bool,
}

impl Redactor {
    /// `name: value`, the value masked when `name` is in `--redact-headers` or in `secret`
    /// (a step's `headersToAdd`).
    pub fn header(&self, name: &HeaderName, value: &HeaderValue, secret: &[HeaderName]) -> Header {
        let hidden = !self.show_secrets
            && (crate::logging::is_redacted(name.as_str()) || secret.contains(name));
        Header {
            name: name.as_str().to_string(),
            value: if hidden {
                MASK.to_string()
            } else {
                String::from_utf8_lossy(value.as_bytes()).into_owned()
            },
        }
    }

    /// Every header of `list`, in order, masked as [`Redactor::header`] says.
    pub fn headers<'a>(
        &self,
        list: impl IntoIterator<Item = (&'a HeaderName, &'a HeaderValue)>,
        secret: &[HeaderName],
    ) -> Vec<Header> {
        list.into_iter()
            .map(|(n, v)| self.header(n, v, secret))
            .collect()
    }

    /// The url with its userinfo (`user:password@`) masked.
    pub fn url(&self, url: &Uri) -> String {
        self.url_text(&url.to_string())
    }

    /// A url written as text, with its userinfo (`user:password@`) masked.
    pub fn url_text(&self, url: &str) -> String {
        if self.show_secrets {
            return url.to_string();
        }
        let Some((scheme, rest)) = url.split_once("://") else {
            return url.to_string();
        };
        let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
        match rest[..end].rfind('@') {
            Some(at) => format!("{scheme}://{MASK}@{}", &rest[at + 1..]),
            None => url.to_string(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_masked_unless_shown() {
        let r = Redactor::default();
        let auth = HeaderName::from_static("authorization");
        let key = HeaderName::from_static("x-api-key");
        let v = HeaderValue::from_static("s3cret");
        assert_eq!(r.header(&auth, &v, &[]).value, MASK);
        assert_eq!(r.header(&key, &v, &[]).value, "s3cret");
        assert_eq!(r.header(&key, &v, std::slice::from_ref(&key)).value, MASK);
        assert_eq!(
            r.url_text("http://user:pw@auth:9001/a?b=c@d"),
            "http://<redacted>@auth:9001/a?b=c@d"
        );
        assert_eq!(r.url_text("http://auth:9001/a"), "http://auth:9001/a");
        let shown = Redactor { show_secrets: true };
        assert_eq!(shown.header(&auth, &v, &[]).value, "s3cret");
        assert_eq!(shown.url_text("http://u:p@a/"), "http://u:p@a/");
    }
}
