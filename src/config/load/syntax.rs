//! From a file's text to values, and from a typed read's failure to a located error: the
//! YAML and JSON readers (repeated keys are errors in both), and where in the text a problem is.

use std::path::Path;
use std::sync::OnceLock;

use regex::Regex;
use serde::Deserialize;

use super::super::error::ConfigError;
use super::super::strict::{self, DuplicateKey, JsonError};

pub(super) fn yaml_values(
    path: &Path,
    text: &str,
) -> (Vec<(usize, serde_norway::Value)>, Option<ConfigError>) {
    let mut values = Vec::new();
    for (i, doc) in serde_norway::Deserializer::from_str(text).enumerate() {
        match serde_norway::Value::deserialize(doc) {
            Ok(v) => values.push((i + 1, v)),
            Err(e) => {
                let message = e.to_string();
                let (field, message) = split_field(&syntax_message(&message));
                let mut err = ConfigError::file(path, message);
                err.document = Some(i + 1);
                err.field = field;
                err.line = e.location().map(|l| l.line());
                err.column = e.location().map(|l| l.column());
                // serde_norway locates a repeated key at the start of its mapping: walk the
                // document again to name the key and stand on it
                // (its message quotes a key that is not a string as written, `key 1`)
                let dup = serde_norway::Deserializer::from_str(text)
                    .nth(i)
                    .and_then(strict::yaml_duplicate)
                    .filter(|dup| {
                        err.message.starts_with("duplicate entry")
                            && err
                                .field
                                .as_ref()
                                .is_none_or(|f| dup.field.starts_with(f.as_str()))
                    });
                if let Some(dup) = dup {
                    located_duplicate(&mut err, dup);
                }
                return (values, Some(err));
            }
        }
    }
    (values, None)
}

pub(super) fn json_values(
    path: &Path,
    text: &str,
) -> (Vec<(usize, serde_norway::Value)>, Option<ConfigError>) {
    let mut err = ConfigError::file(path, String::new());
    err.document = Some(1);
    match strict::json(text).map(serde_norway::to_value) {
        Ok(Ok(v)) => return (vec![(1, v)], None),
        Ok(Err(e)) => err.message = e.to_string(),
        Err(JsonError::Syntax(e)) => {
            err.message = strip_location(&e.to_string());
            err.line = (e.line() > 0).then_some(e.line());
            err.column = (e.column() > 0).then_some(e.column());
        }
        Err(JsonError::Duplicate(dup)) => located_duplicate(&mut err, dup),
    }
    (Vec::new(), Some(err))
}

/// Names and locates the repeated key in `err`.
fn located_duplicate(err: &mut ConfigError, dup: DuplicateKey) {
    err.message = dup.message();
    err.field = Some(dup.field);
    err.line = dup.at.map(|(line, _)| line);
    err.column = dup.at.map(|(_, column)| column);
}

/// Splits the `path: ` head serde_norway puts before an error inside a document (a repeated
/// key, a `!!int` tag on a non-number) into the field path.
fn split_field(msg: &str) -> (Option<String>, String) {
    static HEAD: OnceLock<Regex> = OnceLock::new();
    let head = HEAD.get_or_init(|| {
        Regex::new(r"^(.+?): ((?:duplicate entry|invalid type|invalid value|unknown variant|unknown field|missing field)\b.*)$")
            .unwrap()
    });
    match head.captures(msg) {
        Some(c) => (Some(c[1].to_string()), c[2].to_string()),
        None => (None, msg.to_string()),
    }
}

/// A YAML parser message without the positions in it (the error's own is reported
/// separately): libyaml writes `PROBLEM at line L column C, while CONTEXT at line L2 column
/// C2`; the problem's position goes, the context's is kept as where the context started.
fn syntax_message(msg: &str) -> String {
    static AT: OnceLock<Regex> = OnceLock::new();
    let at = AT.get_or_init(|| Regex::new(r" at line (\d+) column (\d+)").unwrap());
    let mut out = String::new();
    let mut last = 0;
    for (i, c) in at.captures_iter(msg).enumerate() {
        let whole = c.get(0).unwrap();
        out.push_str(&msg[last..whole.start()]);
        if i > 0 {
            out.push_str(&format!(
                " that started at line {}, column {}",
                &c[1], &c[2]
            ));
        }
        last = whole.end();
    }
    out.push_str(&msg[last..]);
    out
}

/// Drops the parser's own " at line X column Y" tail: the location is reported separately.
pub(super) fn strip_location(msg: &str) -> String {
    match msg.rfind(" at line ") {
        Some(i) => msg[..i].to_string(),
        None => msg.to_string(),
    }
}

/// Drops a `path: ` head some parsers add themselves.
pub(super) fn strip_path(msg: &str) -> String {
    match msg.split_once(": ") {
        Some((head, rest)) if !head.contains(' ') && (head.contains('.') || head.contains('[')) => {
            rest.to_string()
        }
        _ => msg.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::syntax_message;

    #[test]
    fn a_syntax_error_names_its_position_once() {
        assert_eq!(
            syntax_message("did not find expected ',' or ']' at line 2 column 2, while parsing a flow sequence at line 1 column 4"),
            "did not find expected ',' or ']', while parsing a flow sequence that started at line 1, column 4"
        );
        assert_eq!(
            syntax_message("mapping values are not allowed in this context at line 3 column 9"),
            "mapping values are not allowed in this context"
        );
    }
}
