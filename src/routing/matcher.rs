//! Route matchers: path (prefix, exact, regex), methods, headers and query parameters,
//! compiled once and evaluated with Envoy's semantics.
//!
//! Header matchers see what Envoy routed on: `:method` is the check's method, `:path` its path
//! with query (`--path-prefix` removed), `:authority` (and `host`, which Envoy reads as
//! `:authority`) its Host, which is Envoy's `:authority` after Envoy's host normalisation.
//! Names whose value in the check is not the one Envoy routed on are refused at load, never
//! read as absent: `:scheme` (the check does not carry it), any other pseudo-header, and the
//! headers Envoy's check request sets itself (`content-length`, `x-envoy-internal`,
//! `x-envoy-expected-rq-timeout-ms`).

use std::borrow::Cow;

use actix_web::http::header::HeaderMap;
use regex::Regex;

use crate::config::types::Matcher;
use crate::config::FieldError;

mod describe;

pub use describe::Condition;

/// What a check offers to the matchers.
#[derive(Clone, Copy, Debug)]
pub struct RequestView<'a> {
    /// The original method.
    pub method: &'a str,
    /// The domain key: lower-cased host without port (see [`super::host`]).
    pub host: &'a str,
    /// The original path with its query, `--path-prefix` removed.
    pub path_and_query: &'a str,
    /// Headers Envoy forwarded; `host` is what `:authority` matchers see.
    pub headers: &'a HeaderMap,
}

impl RequestView<'_> {
    fn path(&self) -> &str {
        self.path_and_query.split('?').next().unwrap_or("")
    }

    fn query(&self) -> Option<&str> {
        self.path_and_query.split_once('?').map(|(_, q)| q)
    }
}

#[derive(Debug)]
enum PathRule {
    Prefix(String),
    Exact(String),
    Regex(Regex),
}

#[derive(Debug)]
enum ValueRule {
    Present,
    Equals(String),
    Regex(Regex),
}

impl ValueRule {
    fn compile(
        value: &Option<String>,
        regex: bool,
        path: &str,
        errors: &mut Vec<FieldError>,
    ) -> Self {
        match (value, regex) {
            (None, _) => ValueRule::Present,
            (Some(v), false) if v.is_empty() => ValueRule::Present,
            (Some(v), false) => ValueRule::Equals(v.clone()),
            (Some(v), true) => match full_regex(v, false) {
                Ok(re) => ValueRule::Regex(re),
                Err(e) => {
                    errors.push(FieldError::new(format!("{path}.value"), e));
                    ValueRule::Present
                }
            },
        }
    }

    fn matches(&self, value: Option<&str>) -> bool {
        match (self, value) {
            (_, None) => false,
            (ValueRule::Present, Some(_)) => true,
            (ValueRule::Equals(want), Some(v)) => v == want,
            (ValueRule::Regex(re), Some(v)) => re.is_match(v),
        }
    }
}

/// Where a header matcher reads its value.
#[derive(Debug, Clone, PartialEq, Eq)]
enum HeaderSource {
    /// A header of the check (lower-cased name); `:authority` reads `host`.
    Header(String),
    /// `:method`.
    Method,
    /// `:path`: the path with query.
    Path,
}

/// The pseudo-headers a route can match on.
const PSEUDO_HEADERS: &str = ":method, :path, :authority";

/// Headers the check Envoy sends carries with Envoy's own value, not the one Envoy routed on.
const SET_BY_THE_CHECK: [&str; 3] = [
    "content-length",
    "x-envoy-internal",
    "x-envoy-expected-rq-timeout-ms",
];

impl HeaderSource {
    /// The source of header matcher `name`, or why it cannot be matched.
    fn of(name: &str) -> Result<Self, String> {
        let name = name.to_ascii_lowercase();
        match name.as_str() {
            ":method" => Ok(HeaderSource::Method),
            ":path" => Ok(HeaderSource::Path),
            ":authority" | "host" => Ok(HeaderSource::Header("host".into())),
            ":scheme" => Err(format!(
                "`:scheme` cannot be matched: the check Envoy sends extauth does not carry the \
                 scheme, so extauth could not tell which route Envoy took (pseudo-headers that \
                 can be matched: {PSEUDO_HEADERS})"
            )),
            n if n.starts_with(':') => Err(format!(
                "`{n}` cannot be matched: it is not a pseudo-header extauth can see (pseudo-headers \
                 that can be matched: {PSEUDO_HEADERS})"
            )),
            n if SET_BY_THE_CHECK.contains(&n) => Err(format!(
                "`{n}` cannot be matched: the check Envoy sends extauth carries Envoy's own \
                 `{n}`, not the one Envoy routed on"
            )),
            _ => Ok(HeaderSource::Header(name)),
        }
    }

    fn value<'a>(&self, req: &'a RequestView<'_>) -> Option<Cow<'a, str>> {
        match self {
            HeaderSource::Header(name) => join_values(req.headers, name),
            HeaderSource::Method => Some(Cow::Borrowed(req.method)),
            HeaderSource::Path => Some(Cow::Borrowed(req.path_and_query)),
        }
    }
}

/// A compiled `matchers[]` entry.
#[derive(Debug)]
pub struct MatcherRule {
    path: PathRule,
    case_sensitive: bool,
    methods: Vec<String>,
    headers: Vec<(HeaderSource, ValueRule, bool)>,
    query: Vec<(String, ValueRule)>,
}

fn full_regex(pattern: &str, case_insensitive: bool) -> Result<Regex, String> {
    let flags = if case_insensitive { "(?i)" } else { "" };
    Regex::new(&format!("{flags}^(?:{pattern})$")).map_err(|e| {
        // the regex crate's message spans several lines; keep config errors on one line
        let msg = e.to_string();
        let reason = msg
            .lines()
            .last()
            .unwrap_or("")
            .trim_start_matches("error: ");
        format!("invalid regex `{pattern}`: {reason}")
    })
}

impl MatcherRule {
    /// The matcher used when a route lists none: every path.
    pub fn any() -> Self {
        MatcherRule {
            path: PathRule::Prefix("/".into()),
            case_sensitive: true,
            methods: Vec::new(),
            headers: Vec::new(),
            query: Vec::new(),
        }
    }

    /// Compiles one matcher at `path` (for error messages).
    pub fn compile(m: &Matcher, path: &str, errors: &mut Vec<FieldError>) -> Self {
        let case_sensitive = m.case_sensitive.unwrap_or(true);
        let set = [
            m.prefix.is_some(),
            m.exact.is_some(),
            m.regex.is_some(),
            m.connect_path.is_some(),
        ];
        if set.iter().filter(|s| **s).count() > 1 {
            errors.push(FieldError::new(
                path,
                "only one of prefix, exact and regex may be set",
            ));
        }
        if m.connect_path.is_some() {
            errors.push(FieldError::new(
                format!("{path}.connectPath"),
                "connectPath is not supported",
            ));
        }
        // Envoy folds ASCII letters only (a Unicode fold could change a prefix's length)
        let fold = |s: &str| {
            if case_sensitive {
                s.to_string()
            } else {
                s.to_ascii_lowercase()
            }
        };
        let path_rule = if let Some(p) = &m.exact {
            PathRule::Exact(fold(p))
        } else if let Some(r) = &m.regex {
            // Envoy ignores case_sensitive for regex routes: so must the route it chose
            match full_regex(r, false) {
                Ok(re) => PathRule::Regex(re),
                Err(e) => {
                    errors.push(FieldError::new(format!("{path}.regex"), e));
                    PathRule::Prefix("/".into())
                }
            }
        } else {
            PathRule::Prefix(fold(m.prefix.as_deref().unwrap_or("/")))
        };
        for (field, value) in [("prefix", &m.prefix), ("exact", &m.exact)] {
            if value.as_deref().is_some_and(|v| !v.starts_with('/')) {
                errors.push(FieldError::new(
                    format!("{path}.{field}"),
                    "must start with `/`",
                ));
            }
        }
        let headers = m
            .headers
            .iter()
            .enumerate()
            .map(|(i, h)| {
                let hp = format!("{path}.headers[{i}]");
                let source = HeaderSource::of(&h.name).unwrap_or_else(|e| {
                    errors.push(FieldError::new(format!("{hp}.name"), e));
                    HeaderSource::Header(String::new())
                });
                (
                    source,
                    ValueRule::compile(&h.value, h.regex, &hp, errors),
                    h.invert_match,
                )
            })
            .collect();
        let query = m
            .query_parameters
            .iter()
            .enumerate()
            .map(|(i, q)| {
                let qp = format!("{path}.queryParameters[{i}]");
                (
                    q.name.clone(),
                    ValueRule::compile(&q.value, q.regex, &qp, errors),
                )
            })
            .collect();
        MatcherRule {
            path: path_rule,
            case_sensitive,
            methods: m.methods.iter().map(|s| s.to_ascii_uppercase()).collect(),
            headers,
            query,
        }
    }

    /// Whether the request satisfies this matcher.
    #[inline]
    pub fn matches(&self, req: &RequestView<'_>) -> bool {
        self.check(req).is_ok()
    }

    /// Whether the request satisfies this matcher, or the first condition that fails, in the
    /// order they are evaluated: path, methods, headers, query parameters.
    pub fn check(&self, req: &RequestView<'_>) -> Result<(), Condition> {
        if !self.path_matches(req) {
            return Err(Condition::Path);
        }
        if !(self.methods.is_empty() || self.methods.iter().any(|m| m == req.method)) {
            return Err(Condition::Methods);
        }
        for (i, (source, rule, invert)) in self.headers.iter().enumerate() {
            if rule.matches(source.value(req).as_deref()) == *invert {
                return Err(Condition::Header(i));
            }
        }
        for (i, (name, rule)) in self.query.iter().enumerate() {
            if !rule.matches(query_value(req.query(), name)) {
                return Err(Condition::Query(i));
            }
        }
        Ok(())
    }

    fn path_matches(&self, req: &RequestView<'_>) -> bool {
        match &self.path {
            PathRule::Prefix(p) if self.case_sensitive => {
                req.path_and_query.starts_with(p.as_str())
            }
            PathRule::Prefix(p) => req
                .path_and_query
                .get(..p.len())
                .is_some_and(|head| head.eq_ignore_ascii_case(p)),
            PathRule::Exact(p) if self.case_sensitive => req.path() == p,
            PathRule::Exact(p) => req.path().eq_ignore_ascii_case(p),
            PathRule::Regex(re) => re.is_match(req.path()),
        }
    }
}

/// All values of a header joined by `,` (as Envoy joins repeated headers), or `None`; borrows
/// when there is one value.
fn join_values<'a>(headers: &'a HeaderMap, name: &str) -> Option<Cow<'a, str>> {
    let mut values = headers.get_all(name).filter_map(|v| v.to_str().ok());
    let first = values.next()?;
    match values.next() {
        None => Some(Cow::Borrowed(first)),
        Some(second) => {
            let mut joined = format!("{first},{second}");
            for v in values {
                joined.push(',');
                joined.push_str(v);
            }
            Some(Cow::Owned(joined))
        }
    }
}

/// The first value of a query parameter, as written (not decoded).
fn query_value<'a>(query: Option<&'a str>, name: &str) -> Option<&'a str> {
    query?.split('&').find_map(|pair| {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        (k == name).then_some(v)
    })
}

#[cfg(test)]
mod tests;
