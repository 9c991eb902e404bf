//! Every error of a document's typed read, not just the first: serde stops at the first
//! unknown field or wrong type, so each error found is recorded with its own position, the
//! node it is about is taken out of the value tree (or, where the type needs it, replaced by
//! a placeholder), and the tree is read again, until it reads or [`MAX_ERRORS`] are found.
//! What the placeholders and removals cause (a `missing field` for a removed required field,
//! errors inside a placeholder) is never reported, and the caller leaves out the compile
//! step's errors at or below a node taken out ([`Partial::touches`]).

use std::collections::HashMap;
use std::path::Path;

use serde::de::DeserializeOwned;
use serde_norway::{Mapping, Value};

use super::super::error::ConfigError;
use super::super::types::Document;
use super::locate::{self, At};
use super::syntax::{strip_location, strip_path};
use crate::config::FieldError;

/// The most errors reported for one document.
pub const MAX_ERRORS: usize = 100;
/// The most re-reads of one document (each removes or replaces one node).
const MAX_ROUNDS: usize = 4 * MAX_ERRORS;

/// What a failed typed read found.
#[derive(Debug)]
pub struct Partial<S> {
    /// Every error, in the order found, each located.
    pub errors: Vec<ConfigError>,
    /// The document read with the bad nodes taken out, when it could be read that way: its
    /// compile errors are worth reporting too, except at the nodes taken out.
    pub doc: Option<Document<S>>,
    /// Field paths of the nodes taken out or replaced.
    pub neutralised: Vec<String>,
}

impl<S> Partial<S> {
    /// Whether `field` is at or below a node that was taken out or replaced.
    pub fn touches(&self, field: &str) -> bool {
        self.neutralised.iter().any(|n| {
            field == n
                || field
                    .strip_prefix(n.as_str())
                    .is_some_and(|rest| rest.starts_with('.') || rest.starts_with('['))
        })
    }
}

/// One step of a field path.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
enum Seg {
    Key(String),
    Index(usize),
}

fn render(path: &[Seg]) -> String {
    let mut out = String::new();
    for seg in path {
        match seg {
            Seg::Key(k) if out.is_empty() => out.push_str(k),
            Seg::Key(k) => {
                out.push('.');
                out.push_str(k);
            }
            Seg::Index(i) => out.push_str(&format!("[{i}]")),
        }
    }
    out
}

fn segments(path: &serde_path_to_error::Path) -> Option<Vec<Seg>> {
    use serde_path_to_error::Segment;
    path.iter()
        .map(|s| match s {
            Segment::Map { key } => Some(Seg::Key(key.clone())),
            Segment::Seq { index } => Some(Seg::Index(*index)),
            Segment::Enum { .. } | Segment::Unknown => None,
        })
        .collect()
}

/// Values tried, in order, in place of a node that must be there.
fn placeholders() -> [Value; 5] {
    [
        Value::Mapping(Mapping::new()),
        Value::Sequence(Vec::new()),
        Value::String(String::new()),
        Value::Number(0.into()),
        Value::Bool(false),
    ]
}

fn node_mut<'a>(value: &'a mut Value, path: &[Seg]) -> Option<&'a mut Value> {
    path.iter().try_fold(value, |v, seg| match seg {
        Seg::Key(k) => v.get_mut(k.as_str()),
        Seg::Index(i) => v.get_mut(*i),
    })
}

/// Reads `value` as a typed document; on failure, every error of it.
pub(super) fn typed<S: DeserializeOwned>(
    path: &Path,
    text: &str,
    is_json: bool,
    index: usize,
    value: Value,
) -> Result<Document<S>, Box<Partial<S>>> {
    let first = match serde_path_to_error::deserialize::<_, Document<S>>(&value) {
        Ok(doc) => return Ok(doc),
        Err(e) => e,
    };
    let mut value = value;
    let mut partial = Partial {
        errors: Vec::new(),
        doc: None,
        neutralised: Vec::new(),
    };
    let mut neutral: Vec<Vec<Seg>> = Vec::new();
    let mut tries: HashMap<Vec<Seg>, usize> = HashMap::new();
    let mut next = Some(first);
    for _ in 0..MAX_ROUNDS {
        let Some(err) = next.take() else { break };
        let Some(at) = segments(err.path()) else {
            break;
        };
        let message = err.inner().to_string();
        let missing = missing_field(&message);
        let target = match &missing {
            Some(field) => [at.clone(), vec![Seg::Key(field.clone())]].concat(),
            None => at.clone(),
        };
        let ours = neutral.iter().any(|n| at.starts_with(n)) || neutral.contains(&target);
        if !ours {
            if partial.errors.len() == MAX_ERRORS {
                break;
            }
            let unknown = message.starts_with("unknown field");
            partial
                .errors
                .push(located(path, text, is_json, index, &at, &message, unknown));
        }
        if !neutralise(
            &mut value,
            target,
            missing.is_some(),
            &mut tries,
            &mut neutral,
        ) {
            break;
        }
        match serde_path_to_error::deserialize::<_, Document<S>>(&value) {
            Ok(doc) => partial.doc = Some(doc),
            Err(e) => next = Some(e),
        }
    }
    partial.neutralised = neutral.iter().map(|n| render(n)).collect();
    Err(Box::new(partial))
}

/// Takes `target` out of `value`, or puts the next placeholder there; when none fits, its
/// parent instead. False when there is nothing left to take out (the document itself).
fn neutralise(
    value: &mut Value,
    target: Vec<Seg>,
    missing: bool,
    tries: &mut HashMap<Vec<Seg>, usize>,
    neutral: &mut Vec<Vec<Seg>>,
) -> bool {
    let Some((last, parent)) = target.split_last() else {
        return false;
    };
    let tried = tries.entry(target.clone()).or_insert(0);
    *tried += 1;
    let mut attempt = *tried;
    if !neutral.contains(&target) {
        neutral.push(target.clone());
    }
    // a map entry is taken out first; a list item keeps its place (the others' indices)
    let removable = matches!(last, Seg::Key(_)) && !missing;
    let Some(holder) = node_mut(value, parent) else {
        return false;
    };
    if removable && attempt == 1 {
        if let (Seg::Key(k), Some(map)) = (last, holder.as_mapping_mut()) {
            if map.remove(k.as_str()).is_some() {
                return true;
            }
        }
        // nothing there to take out: this try gets the first placeholder instead
        attempt = 2;
        tries.insert(target.clone(), attempt);
    }
    let pick = attempt - 1 - usize::from(removable);
    match placeholders().into_iter().nth(pick) {
        Some(placeholder) => match (last, holder) {
            (Seg::Key(k), Value::Mapping(map)) => {
                map.insert(Value::String(k.clone()), placeholder);
                true
            }
            (Seg::Index(i), Value::Sequence(items)) if *i < items.len() => {
                items[*i] = placeholder;
                true
            }
            _ => false,
        },
        None => neutralise(value, parent.to_vec(), false, tries, neutral),
    }
}

/// `missing field `x`` → `x`.
fn missing_field(message: &str) -> Option<String> {
    let rest = message.strip_prefix("missing field `")?;
    Some(rest.split('`').next()?.to_string())
}

fn located(
    path: &Path,
    text: &str,
    is_json: bool,
    index: usize,
    at: &[Seg],
    message: &str,
    unknown_field: bool,
) -> ConfigError {
    let field = render(at);
    let mut out = ConfigError::file(path, strip_location(&strip_path(message)));
    out.document = Some(index);
    out.field = Some(field.clone()).filter(|f| !f.is_empty());
    let which = if unknown_field { At::Key } else { At::Value };
    if let Some((line, column)) = position(text, is_json, index, &field, which) {
        out.line = Some(line);
        out.column = Some(column);
    }
    out
}

/// The typed read's outcome through `compile`: the document and what it compiled to, or every
/// error of both (the compile step also runs on what a failed read could still read, and its
/// errors about nodes the read took out are left out).
pub(super) fn checked<S, T>(
    read: Result<Document<S>, Box<Partial<S>>>,
    compile: impl FnOnce(&Document<S>) -> Result<T, Vec<FieldError>>,
    located: &impl Fn(&str, String) -> ConfigError,
) -> Result<(Document<S>, T), Vec<ConfigError>> {
    match read {
        Ok(doc) => {
            let compiled = compile(&doc).map_err(|e| field_errors(e, located))?;
            Ok((doc, compiled))
        }
        Err(partial) => {
            let more = match &partial.doc {
                Some(doc) => compile(doc).err().unwrap_or_default(),
                None => Vec::new(),
            };
            let more: Vec<FieldError> = more
                .into_iter()
                .filter(|e| !partial.touches(&e.path))
                .collect();
            let Partial { mut errors, .. } = *partial;
            errors.extend(field_errors(more, located));
            errors.sort_by_key(|e| (e.line.is_none(), e.line, e.column));
            Err(errors)
        }
    }
}

pub(super) fn field_errors(
    errors: Vec<FieldError>,
    located: &impl Fn(&str, String) -> ConfigError,
) -> Vec<ConfigError> {
    errors
        .into_iter()
        .map(|e| located(&e.path, e.message))
        .collect()
}

/// Line and column of the node at `field` of document `index`.
pub(super) fn position(
    text: &str,
    is_json: bool,
    index: usize,
    field: &str,
    at: At,
) -> Option<(usize, usize)> {
    if is_json {
        locate::json(text, field, at)
    } else {
        locate::yaml(text, index, field, at)
    }
}
