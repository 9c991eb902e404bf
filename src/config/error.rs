//! Config errors: each names the file, the document, the field and the reason.

use std::borrow::Cow;
use std::fmt;
use std::path::PathBuf;
use std::sync::OnceLock;

use regex::Regex;

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

impl ConfigError {
    /// The message with any secret it may quote replaced by `<redacted>`: a quoted value
    /// under `headersToAdd` or a step's `config` (e.g. `invalid type: string "…"`), and
    /// credentials in a URL. Display and `/configz` show this, never the raw message.
    pub fn safe_message(&self) -> Cow<'_, str> {
        static QUOTED: OnceLock<Regex> = OnceLock::new();
        static USERINFO: OnceLock<Regex> = OnceLock::new();
        let mut msg = Cow::Borrowed(self.message.as_str());
        let secret_field = self
            .field
            .as_deref()
            .is_some_and(|f| f.contains("headersToAdd") || f.contains("passThroughAuth.config"));
        if secret_field {
            let quoted = QUOTED.get_or_init(|| Regex::new(r#""(?:[^"\\]|\\.)*""#).unwrap());
            if let Cow::Owned(m) = quoted.replace_all(&msg, "\"<redacted>\"") {
                msg = Cow::Owned(m);
            }
        }
        let userinfo =
            USERINFO.get_or_init(|| Regex::new(r"([A-Za-z][A-Za-z0-9+.-]*://)[^/@\s`]*@").unwrap());
        if let Cow::Owned(m) = userinfo.replace_all(&msg, "${1}<redacted>@") {
            msg = Cow::Owned(m);
        }
        msg
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
        write!(f, ": {}", self.safe_message())?;
        match (self.line, self.column) {
            (Some(l), Some(c)) => write!(f, " (line {l}, column {c})"),
            (Some(l), None) => write!(f, " (line {l})"),
            _ => Ok(()),
        }
    }
}

impl std::error::Error for ConfigError {}

#[cfg(test)]
mod tests {
    use super::ConfigError;

    #[test]
    fn secrets_quoted_in_messages_are_redacted() {
        let mut e = ConfigError::file("a.yaml", r#"invalid type: string "s3cret", expected a map"#);
        e.field = Some("spec.configs[0].passThroughAuth.http.request.headersToAdd".into());
        assert!(!e.to_string().contains("s3cret"), "{e}");
        assert!(e.to_string().contains(r#"string "<redacted>""#), "{e}");

        let mut e = ConfigError::file("a.yaml", "`http://bob:s3cret@/x` has no host");
        e.field = Some("spec.configs[0].passThroughAuth.http.url".into());
        assert!(!e.to_string().contains("s3cret"), "{e}");
        assert!(e.to_string().contains("http://<redacted>@/x"), "{e}");

        let e = ConfigError::file("a.yaml", r#"unknown variant "GETT""#);
        assert!(e.to_string().contains("GETT"), "other quotes stay: {e}");
    }
}
