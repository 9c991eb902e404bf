//! Config errors: each names the file, the document, the field and the reason.

use std::fmt;
use std::path::PathBuf;

use serde::Serialize;

/// One problem in the config directory, located as precisely as the parser allows.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ConfigError {
    /// The file, as found in the config directory.
    pub file: PathBuf,
    /// 1-based index of the YAML document in the file (JSON files have one), when known.
    pub document: Option<usize>,
    /// `Kind namespace/name` of the resource, when it could be read.
    pub resource: Option<String>,
    /// Dotted path of the field, e.g. `spec.configs[0].passThroughAuth.http.url`.
    pub field: Option<String>,
    /// 1-based line, when the parser gives it.
    pub line: Option<usize>,
    /// 1-based column, when the parser gives it.
    pub column: Option<usize>,
    /// What is wrong.
    pub message: String,
}

impl ConfigError {
    /// An error about the whole file (unreadable, not UTF-8, too large, ...).
    pub fn file(file: impl Into<PathBuf>, message: impl Into<String>) -> Self {
        ConfigError {
            file: file.into(),
            document: None,
            resource: None,
            field: None,
            line: None,
            column: None,
            message: message.into(),
        }
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        write!(f, "{}", self.file.display())?;
        if let Some(doc) = self.document {
            write!(f, ": document {doc}")?;
        }
        if let Some(resource) = &self.resource {
            write!(f, " ({resource})")?;
        }
        if let Some(field) = &self.field {
            write!(f, ": {field}")?;
        }
        write!(f, ": {}", self.message)?;
        match (self.line, self.column) {
            (Some(l), Some(c)) => write!(f, " (line {l}, column {c})"),
            (Some(l), None) => write!(f, " (line {l})"),
            _ => Ok(()),
        }
    }
}

impl std::error::Error for ConfigError {}
