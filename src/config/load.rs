//! Reading the config directory: which files count, and each file's documents parsed into
//! typed, compiled resources or located errors.

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

use regex::Regex;
use serde::de::DeserializeOwned;
use serde::Deserialize;
use sha2::{Digest, Sha256};

use super::error::ConfigError;
use super::strict::{self, DuplicateKey, JsonError};
use super::types::{
    AuthConfigSpec, Document, ObjectKey, VirtualServiceSpec, AUTH_CONFIG_API, DEFAULT_NAMESPACE,
    VIRTUAL_SERVICE_API,
};
use super::upstream::{self, UpstreamSpec, UPSTREAM_API};
use crate::policy::{self, AuthPolicy, FieldError};
use crate::routing::{compile_virtual_service, CompiledVirtualService};

/// Files larger than this are rejected unread.
pub const MAX_FILE_BYTES: u64 = 8 * 1024 * 1024;

/// The kinds of resource extauth reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
pub enum Kind {
    /// `enterprise.gloo.solo.io/v1` AuthConfig.
    AuthConfig,
    /// `gateway.solo.io/v1` VirtualService.
    VirtualService,
    /// `gloo.solo.io/v1` Upstream (for `extauth envoy-config`; checks ignore it).
    Upstream,
}

impl std::fmt::Display for Kind {
    fn fmt(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str(match self {
            Kind::AuthConfig => "AuthConfig",
            Kind::VirtualService => "VirtualService",
            Kind::Upstream => "Upstream",
        })
    }
}

/// A loaded AuthConfig: its spec as written and its compiled policy.
#[derive(Debug)]
pub struct AuthConfigResource {
    /// The spec as written (for status pages and config generation).
    pub spec: AuthConfigSpec,
    /// The compiled policy the passthrough actor runs.
    pub policy: Arc<AuthPolicy>,
}

/// The typed content of one valid document.
#[derive(Debug, Clone)]
pub enum Content {
    /// An AuthConfig.
    AuthConfig(Arc<AuthConfigResource>),
    /// A VirtualService.
    VirtualService(Arc<CompiledVirtualService>),
    /// An Upstream, as written.
    Upstream(Arc<UpstreamSpec>),
}

/// Where a resource came from.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Source {
    /// The file.
    pub file: PathBuf,
    /// 1-based document index in the file.
    pub document: usize,
}

/// One valid resource.
#[derive(Clone, Debug)]
pub struct Resource {
    /// Its kind.
    pub kind: Kind,
    /// Its namespace and name.
    pub key: ObjectKey,
    /// Where it was read.
    pub source: Source,
    /// SHA-256 of its spec, to tell real changes from rewrites.
    pub hash: String,
    /// The compiled content.
    pub content: Content,
    /// What is accepted but not done as written: `extauth validate` prints these and the
    /// server logs them when the resource is loaded.
    pub warnings: Vec<ConfigError>,
}

/// One document's outcome: a resource, or errors plus whatever identity could be read.
#[derive(Debug)]
pub enum DocumentOutcome {
    /// The document is valid.
    Valid(Resource),
    /// The document is invalid; `identity` is known when kind and metadata could be read.
    Invalid {
        /// Kind and key, when readable.
        identity: Option<(Kind, ObjectKey)>,
        /// Every problem found.
        errors: Vec<ConfigError>,
    },
}

/// A whole file's outcome.
#[derive(Debug)]
pub struct FileOutcome {
    /// Each document, in order (empty documents skipped).
    pub documents: Vec<DocumentOutcome>,
    /// An error that made the rest of the file unreadable (syntax, encoding, size).
    pub fatal: Option<ConfigError>,
}

/// The config files in `dir`: `*.yaml`, `*.yml`, `*.json`, hidden entries (such as a
/// ConfigMap's `..data`) skipped, symlinks followed, sorted by name.
pub fn discover(dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    for entry in fs::read_dir(dir)? {
        let path = entry?.path();
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
        let wanted = [".yaml", ".yml", ".json"]
            .iter()
            .any(|ext| name.ends_with(ext));
        if name.starts_with('.') || !wanted {
            continue;
        }
        if fs::metadata(&path).map(|m| m.is_file()).unwrap_or(false) {
            files.push(path);
        }
    }
    files.sort();
    Ok(files)
}

/// Reads a file's bytes, refusing huge files; the error is the reason, in words.
pub fn read_file(path: &Path) -> Result<Vec<u8>, String> {
    let too_big = |size: u64| format!("file is {size} bytes; the limit is {MAX_FILE_BYTES}");
    let meta = fs::metadata(path).map_err(|e| format!("cannot read: {e}"))?;
    if meta.len() > MAX_FILE_BYTES {
        return Err(too_big(meta.len()));
    }
    let bytes = fs::read(path).map_err(|e| format!("cannot read: {e}"))?;
    if bytes.len() as u64 > MAX_FILE_BYTES {
        return Err(too_big(bytes.len() as u64));
    }
    Ok(bytes)
}

/// Parses a file's content into documents. Every error and warning it gives has been through
/// [`ConfigError::without_secrets`]: no other module builds errors from a file's content.
pub fn parse_file(path: &Path, bytes: &[u8]) -> FileOutcome {
    let FileOutcome { documents, fatal } = parse(path, bytes);
    let documents = documents
        .into_iter()
        .map(|doc| match doc {
            DocumentOutcome::Valid(mut r) => {
                r.warnings = r
                    .warnings
                    .into_iter()
                    .map(ConfigError::without_secrets)
                    .collect();
                DocumentOutcome::Valid(r)
            }
            DocumentOutcome::Invalid { identity, errors } => DocumentOutcome::Invalid {
                identity,
                errors: errors
                    .into_iter()
                    .map(ConfigError::without_secrets)
                    .collect(),
            },
        })
        .collect();
    FileOutcome {
        documents,
        fatal: fatal.map(ConfigError::without_secrets),
    }
}

fn parse(path: &Path, bytes: &[u8]) -> FileOutcome {
    let text = match std::str::from_utf8(bytes) {
        Ok(t) => t,
        Err(e) => {
            return FileOutcome {
                documents: Vec::new(),
                fatal: Some(ConfigError::file(path, format!("not UTF-8 text ({e})"))),
            }
        }
    };
    if text.trim().is_empty() {
        // most often a file caught between truncation and write: what it defined keeps serving
        return FileOutcome {
            documents: Vec::new(),
            fatal: Some(ConfigError::file(
                path,
                "file is empty; delete it to remove what it defined",
            )),
        };
    }
    let is_json = path.extension().is_some_and(|e| e == "json");
    let (values, fatal) = if is_json {
        json_values(path, text)
    } else {
        yaml_values(path, text)
    };
    let documents = values
        .into_iter()
        .filter(|(_, v)| !v.is_null())
        .map(|(index, value)| parse_document(path, text, is_json, index, value))
        .collect();
    FileOutcome { documents, fatal }
}

fn yaml_values(
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

fn json_values(
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
fn strip_location(msg: &str) -> String {
    match msg.rfind(" at line ") {
        Some(i) => msg[..i].to_string(),
        None => msg.to_string(),
    }
}

fn identity(value: &serde_norway::Value) -> (Option<&str>, Option<&str>, Option<ObjectKey>) {
    let kind = value.get("kind").and_then(|k| k.as_str());
    let api = value.get("apiVersion").and_then(|k| k.as_str());
    let meta = value.get("metadata");
    let name = meta.and_then(|m| m.get("name")).and_then(|n| n.as_str());
    let namespace = meta
        .and_then(|m| m.get("namespace"))
        .and_then(|n| n.as_str())
        .unwrap_or(DEFAULT_NAMESPACE);
    (kind, api, name.map(|n| ObjectKey::new(namespace, n)))
}

fn parse_document(
    path: &Path,
    text: &str,
    is_json: bool,
    index: usize,
    value: serde_norway::Value,
) -> DocumentOutcome {
    let (kind_name, api, key) = identity(&value);
    let kind = match kind_name {
        Some("AuthConfig") => Kind::AuthConfig,
        Some("VirtualService") => Kind::VirtualService,
        Some("Upstream") => Kind::Upstream,
        other => {
            let message = match other {
                Some(k) => {
                    format!(
                        "unknown kind `{k}`; extauth reads AuthConfig, VirtualService and Upstream"
                    )
                }
                None => "missing `kind`".to_string(),
            };
            let mut err = ConfigError::file(path, message);
            err.document = Some(index);
            err.field = Some("kind".into());
            return DocumentOutcome::Invalid {
                identity: None,
                errors: vec![err],
            };
        }
    };
    let identity = key.clone().map(|k| (kind, k));
    let located = |field: &str, message: String| ConfigError {
        file: path.to_path_buf(),
        document: Some(index),
        resource: key.as_ref().map(|k| format!("{kind} {k}")),
        field: Some(field.to_string()),
        line: None,
        column: None,
        message,
    };
    let expected_api = match kind {
        Kind::AuthConfig => AUTH_CONFIG_API,
        Kind::VirtualService => VIRTUAL_SERVICE_API,
        Kind::Upstream => UPSTREAM_API,
    };
    if api != Some(expected_api) {
        let msg = format!("{kind} must have apiVersion `{expected_api}`, found {api:?}");
        return DocumentOutcome::Invalid {
            identity,
            errors: vec![located("apiVersion", msg)],
        };
    }
    let hash = spec_hash(&value);
    let compiled = match kind {
        Kind::AuthConfig => {
            typed::<AuthConfigSpec>(path, text, is_json, index, value).and_then(|doc| {
                let policy = policy::compile(&doc.spec).map_err(|e| field_errors(e, &located))?;
                let warnings = policy.warnings.clone();
                Ok((
                    doc.metadata,
                    Content::AuthConfig(Arc::new(AuthConfigResource {
                        spec: doc.spec,
                        policy: Arc::new(policy),
                    })),
                    warnings,
                ))
            })
        }
        Kind::VirtualService => typed::<VirtualServiceSpec>(path, text, is_json, index, value)
            .and_then(|doc| {
                let vs = compile_virtual_service(doc.metadata.namespace(), &doc.spec)
                    .map_err(|e| field_errors(e, &located))?;
                Ok((
                    doc.metadata,
                    Content::VirtualService(Arc::new(vs)),
                    Vec::new(),
                ))
            }),
        Kind::Upstream => {
            typed::<UpstreamSpec>(path, text, is_json, index, value).and_then(|doc| {
                upstream::check(&doc.spec).map_err(|e| field_errors(e, &located))?;
                Ok((
                    doc.metadata,
                    Content::Upstream(Arc::new(doc.spec)),
                    Vec::new(),
                ))
            })
        }
    };
    match compiled {
        Ok((meta, content, warnings)) if !meta.name.is_empty() => {
            DocumentOutcome::Valid(Resource {
                // an AuthConfig's hash is over its meaning, so that rewriting `1000ms` as `1s`
                // does not restart its actors and drop their connections
                hash: match &content {
                    Content::AuthConfig(ac) => {
                        digest(&serde_json::to_string(&ac.spec).unwrap_or_default())
                    }
                    _ => hash,
                },
                kind,
                key: ObjectKey::new(meta.namespace(), &meta.name),
                source: Source {
                    file: path.to_path_buf(),
                    document: index,
                },
                content,
                warnings: field_errors(warnings, &located),
            })
        }
        Ok(_) => DocumentOutcome::Invalid {
            identity,
            errors: vec![located("metadata.name", "must not be empty".into())],
        },
        Err(mut errors) => {
            for e in &mut errors {
                e.resource = key.as_ref().map(|k| format!("{kind} {k}"));
            }
            DocumentOutcome::Invalid { identity, errors }
        }
    }
}

fn field_errors(
    errors: Vec<FieldError>,
    located: &impl Fn(&str, String) -> ConfigError,
) -> Vec<ConfigError> {
    errors
        .into_iter()
        .map(|e| located(&e.path, e.message))
        .collect()
}

fn spec_hash(value: &serde_norway::Value) -> String {
    let spec = value
        .get("spec")
        .map(|s| serde_json::to_string(s).unwrap_or_default())
        .unwrap_or_default();
    digest(&spec)
}

/// A short hex digest of `text`.
fn digest(text: &str) -> String {
    let digest = Sha256::digest(text.as_bytes());
    digest.iter().take(12).map(|b| format!("{b:02x}")).collect()
}

/// Deserializes the typed document; on failure, re-reads the document from the text to locate
/// the error (the fast path through the already parsed value has no positions).
fn typed<S: DeserializeOwned>(
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

#[cfg(test)]
mod tests {
    use super::*;

    fn hash_of(yaml: &str) -> String {
        let outcome = parse_file(Path::new("a.yaml"), yaml.as_bytes());
        match &outcome.documents[..] {
            [DocumentOutcome::Valid(r)] => r.hash.clone(),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn auth_config_hash_follows_meaning_not_spelling() {
        let ac = |body: &str| {
            format!("apiVersion: enterprise.gloo.solo.io/v1\nkind: AuthConfig\nmetadata: {{name: a}}\nspec:\n  configs:\n  - passThroughAuth:\n      http: {body}\n")
        };
        let base = hash_of(&ac("{url: 'http://a/auth', connectionTimeout: 1000ms}"));
        let same = hash_of(&ac(
            "{connectionTimeout: 1s, url: 'http://a/auth', request: {allowedHeaders: []}}",
        ));
        let other = hash_of(&ac("{url: 'http://a/other', connectionTimeout: 1s}"));
        assert_eq!(base, same);
        assert_ne!(base, other);
    }

    fn fatal(name: &str, text: &str) -> ConfigError {
        let outcome = parse_file(Path::new(name), text.as_bytes());
        outcome
            .fatal
            .unwrap_or_else(|| panic!("{name} must be rejected: {:?}", outcome.documents))
    }

    /// A VirtualService protected by `options`, then unprotected by `options` written again.
    const PROTECTED_THEN_NOT: (&str, &str) = (
        r#"{
  "apiVersion": "gateway.solo.io/v1",
  "kind": "VirtualService",
  "metadata": {"name": "vs"},
  "spec": {"virtualHost": {
    "domains": ["*"],
    "options": {"extauth": {"configRef": {"name": "ac"}}},
    "options": {}
  }}
}"#,
        "apiVersion: gateway.solo.io/v1
kind: VirtualService
metadata: {name: vs}
spec:
  virtualHost:
    domains: ['*']
    options: {extauth: {configRef: {name: ac}}}
    options: {}
",
    );

    #[test]
    fn a_key_written_twice_is_an_error_located_at_the_key_in_json_as_in_yaml() {
        let (json, yaml) = PROTECTED_THEN_NOT;
        for e in [fatal("vs.json", json), fatal("vs.yaml", yaml)] {
            assert_eq!(e.field.as_deref(), Some("spec.virtualHost.options"), "{e}");
            assert_eq!(e.message, r#"duplicate entry with key "options""#, "{e}");
            assert_eq!(
                (e.document, e.line, e.column),
                (Some(1), Some(8), Some(5)),
                "{e}"
            );
        }
    }

    #[test]
    fn a_key_written_twice_is_an_error_at_every_level() {
        let top = r#"{"kind": "AuthConfig", "kind": "VirtualService"}"#;
        let e = fatal("a.json", top);
        assert_eq!(
            (e.field.as_deref(), e.line, e.column),
            (Some("kind"), Some(1), Some(24))
        );
        let in_list = "{\"apiVersion\": \"enterprise.gloo.solo.io/v1\", \"kind\": \"AuthConfig\",\n \"metadata\": {\"name\": \"a\"}, \"spec\": {\"configs\": [\n  {\"passThroughAuth\": {\"http\": {\"url\": \"http://a/\"}}},\n  {\"name\": \"b\", \"passThroughAuth\": {}, \"passThroughAuth\": {}}]}}";
        let e = fatal("a.json", in_list);
        assert_eq!(
            e.field.as_deref(),
            Some("spec.configs[1].passThroughAuth"),
            "{e}"
        );
        assert_eq!((e.line, e.column), (Some(4), Some(40)), "{e}");
        let yaml = "kind: AuthConfig\nspec:\n  configs:\n  - {name: a}\n  - name: b\n    name: c\n";
        let e = fatal("a.yaml", yaml);
        assert_eq!(e.field.as_deref(), Some("spec.configs[1].name"), "{e}");
        assert_eq!((e.line, e.column), (Some(6), Some(5)), "{e}");
        // a later document of a YAML file is named by its index
        let e = fatal("a.yaml", &format!("kind: VirtualService\n---\n{yaml}"));
        assert_eq!((e.document, e.line), (Some(2), Some(8)), "{e}");
    }

    /// Every error and warning of a file, shown every way one can be shown.
    fn every_rendering(name: &str, text: &str) -> Vec<String> {
        let outcome = parse_file(Path::new(name), text.as_bytes());
        let mut errors: Vec<&ConfigError> = outcome.fatal.iter().collect();
        for doc in &outcome.documents {
            match doc {
                DocumentOutcome::Valid(r) => errors.extend(&r.warnings),
                DocumentOutcome::Invalid { errors: e, .. } => errors.extend(e),
            }
        }
        assert!(!errors.is_empty(), "{name} must be rejected:\n{text}");
        errors.iter().map(|e| format!("{e}\n{e:?}")).collect()
    }

    fn auth_config(http: &str, step_extra: &str) -> String {
        format!("apiVersion: enterprise.gloo.solo.io/v1\nkind: AuthConfig\nmetadata: {{name: a}}\nspec:\n  configs:\n  - passThroughAuth: {{http: {http}{step_extra}}}\n")
    }

    #[test]
    fn no_error_quotes_a_secret() {
        let cases: Vec<(String, &str)> = vec![
            // urls with credentials, parsable or not
            (
                auth_config("{url: 'http://user:pa ss@auth/x'}", ""),
                "pa ss",
            ),
            (auth_config("{url: 'http://user:p/ss@h/'}", ""), "p/ss"),
            (auth_config("{url: 'http://u:p`q@h/'}", ""), "p`q"),
            (auth_config("{url: 'http://u:p@ss@h/'}", ""), "p@ss"),
            (auth_config("{url: 'http://user:pa ss@/x'}", ""), "pa ss"),
            (auth_config("{url: 'http://u:pa ss@h:99999/'}", ""), "pa ss"),
            (auth_config("{url: 'http://u:pa#ss@h/'}", ""), "pa#ss"),
            (auth_config("{url: 'ftp://u:pa ss@h/'}", ""), "pa ss"),
            (auth_config("{url: 'https://u:pa ss@h/'}", ""), "pa ss"),
            (auth_config("{url: !!int 'http://u:pa ss@h/'}", ""), "pa ss"),
            // headersToAdd values of every type
            (
                auth_config(
                    "{url: 'http://h/', request: {headersToAdd: {x-key: 987654321}}}",
                    "",
                ),
                "987654321",
            ),
            (
                auth_config(
                    "{url: 'http://h/', request: {headersToAdd: {x-key: 13579.2468}}}",
                    "",
                ),
                "13579.2468",
            ),
            (
                auth_config(
                    "{url: 'http://h/', request: {headersToAdd: {x-key: -97531}}}",
                    "",
                ),
                "97531",
            ),
            (
                auth_config(
                    "{url: 'http://h/', request: {headersToAdd: {x-key: !!int S3CRET}}}",
                    "",
                ),
                "S3CRET",
            ),
            (
                auth_config(
                    "{url: 'http://h/', request: {headersToAdd: {x-key: \"S3CRET\\n\"}}}",
                    "",
                ),
                "S3CRET",
            ),
            (
                auth_config("{url: 'http://h/', request: {headersToAdd: S3CRET}}", ""),
                "S3CRET",
            ),
            // a value of the wrong type where the secrets should be
            (
                auth_config("{url: 'http://h/', request: 'x-api-key: S3CRET'}", ""),
                "S3CRET",
            ),
            // a step's config
            (
                auth_config("{url: 'http://h/'}", ", config: {token: !!int S3CRET}"),
                "S3CRET",
            ),
            (
                auth_config("{url: 'http://h/'}", ", config: {token: !!float S3CRET}"),
                "S3CRET",
            ),
        ];
        for (text, secret) in &cases {
            for shown in every_rendering("a.yaml", text) {
                assert!(!shown.contains(secret), "{secret:?} shown:\n{shown}");
            }
        }
        // the same in JSON
        let json = r#"{"apiVersion": "enterprise.gloo.solo.io/v1", "kind": "AuthConfig", "metadata": {"name": "a"},
            "spec": {"configs": [{"passThroughAuth": {"http": {"url": "http://h/", "request": {"headersToAdd": {"x-key": 987654321}}}}}]}}"#;
        for shown in every_rendering("a.json", json) {
            assert!(!shown.contains("987654321"), "{shown}");
        }
        let bool_json = json.replace("987654321", "true");
        for shown in every_rendering("a.json", &bool_json) {
            assert!(!shown.contains("`true`"), "{shown}");
        }
    }

    #[test]
    fn errors_about_secrets_still_say_what_is_wrong() {
        let shown = every_rendering(
            "a.yaml",
            &auth_config(
                "{url: 'http://h/', request: {headersToAdd: {x-key: 987654321}}}",
                "",
            ),
        );
        assert!(
            shown[0].contains("headersToAdd.x-key: invalid type: integer, expected a string"),
            "{shown:?}"
        );
        let shown = every_rendering(
            "a.yaml",
            &auth_config("{url: 'http://user:p/ss@auth.internal/x'}", ""),
        );
        assert!(
            shown[0].contains("http.url: not a valid URL: invalid port number"),
            "{shown:?}"
        );
        let shown = every_rendering(
            "a.yaml",
            &auth_config("{url: 'http://user:pa ss@auth.internal/x'}", ""),
        );
        assert!(
            shown[0].contains("`auth.internal`"),
            "the host is named: {shown:?}"
        );
        // values of fields that hold no secret are still quoted
        let shown = every_rendering(
            "a.yaml",
            &auth_config("{url: 'http://h/', connectionPool: {maxConns: many}}", ""),
        );
        assert!(shown[0].contains("\"many\""), "{shown:?}");
    }
}
