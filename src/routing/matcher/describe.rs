//! Matchers in words, for `extauth check` and `/explain`: each condition of a compiled matcher
//! as written in the VirtualService, and which one failed.

use super::{HeaderSource, MatcherRule, PathRule, ValueRule};

/// One condition of a matcher, named by where it is written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Condition {
    /// `prefix`, `exact` or `regex` (a prefix `/` when none is set).
    Path,
    /// `methods`.
    Methods,
    /// `headers[i]`.
    Header(usize),
    /// `queryParameters[i]`.
    Query(usize),
}

impl Condition {
    /// The field the condition is written in, relative to the matcher (`prefix`, `methods`,
    /// `headers[0]`, ...); `path` for the path, whichever kind it is.
    pub fn field(self) -> String {
        match self {
            Condition::Path => "path".into(),
            Condition::Methods => "methods".into(),
            Condition::Header(i) => format!("headers[{i}]"),
            Condition::Query(i) => format!("queryParameters[{i}]"),
        }
    }
}

/// A compiled regex's pattern as written: without the `^(?:` … `)$` anchoring (and the `(?i)`
/// flag) that `full_regex` adds.
fn unanchored(compiled: &str) -> &str {
    let s = compiled.strip_prefix("(?i)").unwrap_or(compiled);
    s.strip_prefix("^(?:")
        .and_then(|s| s.strip_suffix(")$"))
        .unwrap_or(s)
}

impl MatcherRule {
    /// Every condition of this matcher, in evaluation order (the path always, the methods
    /// when listed, then each header and query parameter).
    pub fn conditions(&self) -> Vec<Condition> {
        let mut all = vec![Condition::Path];
        if !self.methods.is_empty() {
            all.push(Condition::Methods);
        }
        all.extend((0..self.headers.len()).map(Condition::Header));
        all.extend((0..self.query.len()).map(Condition::Query));
        all
    }

    /// One condition in words, as written in the VirtualService (`prefix /api`,
    /// `header x-a = 1`, ...), for `extauth check` and `/explain`.
    pub fn describe(&self, condition: Condition) -> String {
        match condition {
            Condition::Path => {
                let (kind, value) = match &self.path {
                    PathRule::Prefix(p) => ("prefix", p.as_str()),
                    PathRule::Exact(p) => ("exact", p.as_str()),
                    PathRule::Regex(re) => ("regex", unanchored(re.as_str())),
                };
                let case = match (&self.path, self.case_sensitive) {
                    (PathRule::Regex(_), _) | (_, true) => "",
                    (_, false) => " (case-insensitive)",
                };
                format!("{kind} {value}{case}")
            }
            Condition::Methods => format!("methods {}", self.methods.join(", ")),
            Condition::Header(i) => match self.headers.get(i) {
                Some((source, rule, invert)) => {
                    let name = match source {
                        HeaderSource::Header(n) => n.as_str(),
                        HeaderSource::Method => ":method",
                        HeaderSource::Path => ":path",
                    };
                    let not = if *invert { "not " } else { "" };
                    format!("header {name} {not}{}", rule.describe())
                }
                None => format!("headers[{i}]"),
            },
            Condition::Query(i) => match self.query.get(i) {
                Some((name, rule)) => format!("query parameter {name} {}", rule.describe()),
                None => format!("queryParameters[{i}]"),
            },
        }
    }
}

impl ValueRule {
    /// The rule in words: `present`, `= value`, `~ regex`.
    fn describe(&self) -> String {
        match self {
            ValueRule::Present => "present".into(),
            ValueRule::Equals(v) => format!("= {v}"),
            ValueRule::Regex(re) => format!("~ {}", unanchored(re.as_str())),
        }
    }
}
