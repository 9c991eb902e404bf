//! From a file's text to values, and from a typed read's failure to a located error: the
//! YAML and JSON readers (repeated keys are errors in both), and where in the text a problem is.

use std::path::Path;
use std::sync::OnceLock;

use regex::Regex;
use serde::de::DeserializeOwned;
use serde::Deserialize;

use super::super::error::ConfigError;
use super::super::strict::{self, DuplicateKey, JsonError};
use super::super::types::Document;

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
                let (field, message) = split_field(&strip_location(&message));
                let mut err = ConfigError::file(path, message);
                err.document = Some(i + 1);
                err.field = field;
                err.line = e.location().map(|l| l.line());
                err.column = e.location().map(|l| l.column());
                // serde_norway locates a repeated key at the start of its mapping: walk the
                // document again to name the key and stand on it
                let dup = serde_norway::Deserializer::from_str(text)
                    .nth(i)
                    .and_then(strict::yaml_duplicate)
                    .filter(|dup| err.message == dup.message());
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

/// Drops the parser's own " at line X column Y" tail: the location is reported separately.
pub(super) fn strip_location(msg: &str) -> String {
    match msg.rfind(" at line ") {
        Some(i) => msg[..i].to_string(),
        None => msg.to_string(),
    }
}

/// Deserializes the typed document; on failure, re-reads the document from the text to locate
/// the error (the fast path through the already parsed value has no positions).
pub(super) fn typed<S: DeserializeOwned>(
    path: &Path,
    text: &str,
    is_json: bool,
    index: usize,
    value: serde_norway::Value,
) -> Result<Document<S>, Vec<ConfigError>> {
    let err = match serde_path_to_error::deserialize::<_, Document<S>>(value) {
        Ok(doc) => return Ok(doc),
        Err(e) => e,
    };
    let mut out = ConfigError::file(path, strip_location(&strip_path(&err.inner().to_string())));
    out.document = Some(index);
    out.field = Some(err.path().to_string()).filter(|p| p != ".");
    let located = if is_json {
        let mut de = serde_json::Deserializer::from_str(text);
        match serde_path_to_error::deserialize::<_, Document<S>>(&mut de) {
            Err(e) => Some((e.inner().line(), e.inner().column())),
            Ok(_) => None,
        }
    } else {
        serde_norway::Deserializer::from_str(text)
            .nth(index - 1)
            .and_then(|doc| {
                Document::<S>::deserialize(doc)
                    .err()?
                    .location()
                    .map(|l| (l.line(), l.column()))
            })
    };
    if let Some((line, column)) = located {
        out.line = Some(line);
        out.column = Some(column);
    }
    Err(vec![out])
}

/// Drops a `path: ` head some parsers add themselves.
fn strip_path(msg: &str) -> String {
    match msg.split_once(": ") {
        Some((head, rest)) if !head.contains(' ') && (head.contains('.') || head.contains('[')) => {
            rest.to_string()
        }
        _ => msg.to_string(),
    }
}
