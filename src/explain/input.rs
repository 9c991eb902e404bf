//! The request to explain, from the command line (`URL`, `-X`, `-H`, `--body`) or the query of
//! `/explain` (`url`, `method`, `header`): the Host, path and headers the check would carry.

use std::str::FromStr;

use actix_web::http::header::{HeaderMap, HeaderName, HeaderValue, HOST};
use actix_web::http::{Method, Uri};
use actix_web::web::Bytes;

use super::ExplainError;

/// A request as the check would carry it.
#[derive(Debug, Clone)]
pub struct Input {
    /// The method.
    pub method: Method,
    /// The URL as given.
    pub url: String,
    /// The Host (the URL's authority, or a `Host` header given).
    pub host: String,
    /// The path and query, `--path-prefix` included.
    pub path: String,
    /// The headers, for matching and copying.
    pub headers: HeaderMap,
    /// The same headers in order (`host` first, then those given), for showing them.
    pub list: Vec<(HeaderName, HeaderValue)>,
    /// The body.
    pub body: Bytes,
}

impl Input {
    /// Reads `url` (`http://HOST[:PORT]/path?query`), `method` and `Name: value` headers.
    pub fn parse(
        url: &str,
        method: &str,
        headers: &[String],
        body: Bytes,
    ) -> Result<Input, ExplainError> {
        let usage = |m: String| Err(ExplainError::Usage(m));
        let uri = match Uri::from_str(url) {
            Ok(uri) => uri,
            Err(e) => return usage(format!("`{url}` is not a URL: {e}")),
        };
        if !matches!(uri.scheme_str(), Some("http" | "https")) {
            return usage(format!(
                "`{url}` is not an http URL: write it as http://HOST[:PORT]/path?query"
            ));
        }
        let Some(authority) = uri.authority() else {
            return usage(format!("`{url}` has no host"));
        };
        let host = authority
            .as_str()
            .rsplit('@')
            .next()
            .unwrap_or_default()
            .to_string();
        let path = uri
            .path_and_query()
            .map_or("/", |pq| pq.as_str())
            .to_string();
        let path = if path.is_empty() { "/".into() } else { path };
        let method = match Method::from_str(&method.to_ascii_uppercase()) {
            Ok(m) => m,
            Err(_) => return usage(format!("`{method}` is not an HTTP method")),
        };
        let mut list = Vec::new();
        for line in headers {
            list.push(parse_header(line)?);
        }
        let given_host = list.iter().rev().find(|(n, _)| *n == HOST);
        let host = match given_host {
            Some((_, v)) => v.to_str().unwrap_or_default().to_string(),
            None => host,
        };
        if given_host.is_none() {
            let value = HeaderValue::from_str(&host)
                .map_err(|_| ExplainError::Usage(format!("`{host}` is not a valid Host")))?;
            // the Host first, as Envoy sends it
            list.insert(0, (HOST, value));
        }
        let mut map = HeaderMap::new();
        for (name, value) in &list {
            map.append(name.clone(), value.clone());
        }
        Ok(Input {
            method,
            url: url.to_string(),
            host,
            path,
            headers: map,
            list,
            body,
        })
    }
}

/// `Name: value` (or `Name:value`) as a header.
pub fn parse_header(line: &str) -> Result<(HeaderName, HeaderValue), ExplainError> {
    let bad = |why: &str| ExplainError::Usage(format!("header `{line}`: {why}"));
    let (name, value) = line
        .split_once(':')
        .ok_or_else(|| bad("write it as `Name: value`"))?;
    let name = HeaderName::from_str(name.trim()).map_err(|_| bad("not a valid header name"))?;
    let value =
        HeaderValue::from_str(value.trim_start()).map_err(|_| bad("not a valid header value"))?;
    Ok((name, value))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn url_method_and_headers() {
        let input = Input::parse(
            "http://Foo-HTTP:8080/posts/1?a=b",
            "post",
            &["authorization: authorize me".into(), "x-a:1".into()],
            Bytes::new(),
        )
        .unwrap();
        assert_eq!(input.method, Method::POST);
        assert_eq!(input.host, "Foo-HTTP:8080");
        assert_eq!(input.path, "/posts/1?a=b");
        let names: Vec<&str> = input.list.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names, ["host", "authorization", "x-a"]);
        assert_eq!(input.headers.get("authorization").unwrap(), "authorize me");
        let bare = Input::parse("http://h", "GET", &[], Bytes::new()).unwrap();
        assert_eq!(bare.path, "/");
        for (url, header) in [
            ("foo-http/posts", None),
            ("ftp://h/", None),
            ("http://h/", Some("no colon")),
            ("http://h/", Some("bad name: v")),
        ] {
            let headers: Vec<String> = header.into_iter().map(String::from).collect();
            assert!(
                matches!(
                    Input::parse(url, "GET", &headers, Bytes::new()),
                    Err(ExplainError::Usage(_))
                ),
                "{url} {headers:?}"
            );
        }
    }
}
