//! Config errors: each names the file, the document, the field and the reason.

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

/// Fields that may hold a secret: `headersToAdd` (its values), a step's `config` (anything in
/// it), the auth service's `url` (its userinfo) and `metadata.annotations` (kubectl's
/// last-applied copy holds the whole resource); and the fields that hold these, where a value
/// of the wrong type (a string where `request` should be) may hold the secret too.
fn holds_secret(field: &str) -> bool {
    static SECRET: OnceLock<[Regex; 2]> = OnceLock::new();
    let [within, above] = SECRET.get_or_init(|| {
        [
            r"(^|\.)(headersToAdd|passThroughAuth\.config|http\.url|metadata\.annotations)($|[.\[])",
            r"^(metadata|spec(\.configs(\[\d+\](\.passThroughAuth(\.http(\.request)?)?)?)?)?)$",
        ]
        .map(|re| Regex::new(re).unwrap())
    });
    within.is_match(field) || above.is_match(field)
}

/// What serde calls the kind of a value it quotes in `invalid type: KIND `value`, expected …`
/// (its `Unexpected`).
const VALUE_KINDS: &[&str] = &[
    "boolean",
    "integer",
    "floating point",
    "character",
    "string",
    "byte array",
    "unit value",
    "unit variant",
    "Option value",
    "newtype struct",
    "newtype variant",
    "tuple variant",
    "struct variant",
    "sequence",
    "map",
    "enum",
];

/// serde's `invalid type: integer `987654321`, expected a string` without the value:
/// `invalid type: integer, expected a string`. `None` for other messages.
fn without_value(message: &str) -> Option<String> {
    let (head, rest) = ["invalid type: ", "invalid value: "]
        .iter()
        .find_map(|head| Some((*head, message.strip_prefix(head)?)))?;
    let kind = VALUE_KINDS
        .iter()
        .find(|k| rest.starts_with(*k))
        .unwrap_or(&"a value");
    // what was expected comes from the schema, last: a quoted value may hold `, expected `
    let expected = rest.rfind(", expected ").map_or("", |i| &rest[i..]);
    Some(format!("{head}{kind}{expected}"))
}

impl ConfigError {
    /// The error with no secret in its message. The rule: an error about a field that may hold
    /// a secret (`holds_secret`) never quotes the value written there; serde's type and
    /// value errors name only its kind (`invalid type: integer, expected a string`). The
    /// loader's own messages about those fields never quote their values (a URL error says
    /// what is wrong and names the host, never the URL). Every error the loader builds passes
    /// here once, as it leaves `load::parse_file`; what is shown afterwards (`extauth
    /// validate`, the log, `/configz`, `Debug`) is the message as stored.
    pub fn without_secrets(mut self) -> Self {
        if self.field.as_deref().is_some_and(holds_secret) {
            if let Some(message) = without_value(&self.message) {
                self.message = message;
            }
        }
        self
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

/// A problem with one field of a resource, found while compiling it (by the
/// layer that compiles it: policy or routing), located by the loader.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FieldError {
    /// Dotted path from the document root, e.g. `spec.configs[0].passThroughAuth.http.url`.
    pub path: String,
    /// What is wrong, in words.
    pub message: String,
}

impl FieldError {
    /// A new error at `path`.
    pub fn new(path: impl Into<String>, message: impl Into<String>) -> Self {
        FieldError {
            path: path.into(),
            message: message.into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::ConfigError;

    fn error(field: &str, message: &str) -> String {
        let mut e = ConfigError::file("a.yaml", message);
        e.field = Some(field.into());
        e.without_secrets().message
    }

    #[test]
    fn values_of_secret_fields_are_never_quoted() {
        let added = "spec.configs[0].passThroughAuth.http.request.headersToAdd.x-key";
        for (found, kind) in [
            ("integer `987654321`", "integer"),
            ("floating point `1.5`", "floating point"),
            ("boolean `true`", "boolean"),
            (r#"string "s3cret, expected a map""#, "string"),
            ("character `s`", "character"),
            ("something new `s3cret`", "a value"),
        ] {
            assert_eq!(
                error(added, &format!("invalid type: {found}, expected a string")),
                format!("invalid type: {kind}, expected a string")
            );
        }
        for field in [
            "spec.configs[1].passThroughAuth.config",
            "spec.configs[1].passThroughAuth.config.a[0].b",
            "spec.configs[0].passThroughAuth.http.request.headersToAdd",
            "spec.configs[0].passThroughAuth.http.url",
            "metadata.annotations.a",
            "spec.configs[0].passThroughAuth.http.request",
            "spec.configs[0]",
            "spec",
        ] {
            let shown = error(
                field,
                r#"invalid value: string "s3cret", expected an integer"#,
            );
            assert_eq!(
                shown, "invalid value: string, expected an integer",
                "{field}"
            );
        }
    }

    #[test]
    fn other_fields_and_messages_are_kept() {
        let typed = r#"invalid type: string "many", expected u32"#;
        let field = "spec.configs[0].passThroughAuth.http.connectionPool.maxConns";
        assert_eq!(error(field, typed), typed);
        let dup = r#"duplicate entry with key "x-key""#;
        assert_eq!(
            error(
                "spec.configs[0].passThroughAuth.http.request.headersToAdd.x-key",
                dup
            ),
            dup
        );
        assert_eq!(
            error("spec.configs[0].passThroughAuth.http.urls", typed),
            typed
        );
        assert_eq!(
            error("spec.configs[0].passThroughAuth.http.response", typed),
            typed
        );
        assert_eq!(error("spec.virtualHost", typed), typed);
    }
}
