//! Reading the config directory: which files count, and each file's documents parsed into
//! typed resources, compiled by a [`Compile`], or located errors.

use std::path::Path;
use std::sync::Arc;

use sha2::{Digest, Sha256};

mod collect;
mod files;
mod locate;
mod nesting;
mod resource;
mod syntax;

use collect::{checked, field_errors, typed};
pub use files::{discover, read_file, MAX_FILE_BYTES};
pub use resource::{
    AuthConfigResource, Content, DocumentOutcome, FileOutcome, Kind, Resource, Source,
};
use syntax::{json_values, yaml_values};

use super::compile::{Compile, CompiledAuthConfig};
use super::dependency::FileStamp;
use super::error::ConfigError;
use super::types::{
    AuthConfigSpec, ObjectKey, VirtualServiceSpec, AUTH_CONFIG_API, DEFAULT_NAMESPACE,
    VIRTUAL_SERVICE_API,
};
use super::upstream::{self, UpstreamSpec, UPSTREAM_API};

/// Parses a file's content into documents. Every error and warning it gives has been through
/// [`ConfigError::without_secrets`]: no other module builds errors from a file's content.
pub fn parse_file<C: Compile>(path: &Path, bytes: &[u8]) -> FileOutcome<C> {
    let FileOutcome {
        documents,
        fatal,
        dependencies,
    } = parse::<C>(path, bytes);
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
            DocumentOutcome::Invalid {
                identity,
                domains,
                errors,
            } => DocumentOutcome::Invalid {
                identity,
                domains,
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
        dependencies,
    }
}

fn parse<C: Compile>(path: &Path, bytes: &[u8]) -> FileOutcome<C> {
    let text = match std::str::from_utf8(bytes) {
        Ok(t) => t,
        Err(e) => {
            return FileOutcome {
                documents: Vec::new(),
                fatal: Some(ConfigError::file(path, format!("not UTF-8 text ({e})"))),
                dependencies: Vec::new(),
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
            dependencies: Vec::new(),
        };
    }
    if let Some((line, column)) = nesting::too_deep(text) {
        let mut err = ConfigError::file(
            path,
            format!(
                "nested deeper than {} levels; not parsed",
                nesting::MAX_DEPTH
            ),
        );
        err.line = Some(line);
        err.column = Some(column);
        return FileOutcome {
            documents: Vec::new(),
            fatal: Some(err),
            dependencies: Vec::new(),
        };
    }
    let is_json = path.extension().is_some_and(|e| e == "json");
    let (values, fatal) = if is_json {
        json_values(path, text)
    } else {
        yaml_values(path, text)
    };
    let mut dependencies = Vec::new();
    let documents = values
        .into_iter()
        .filter(|(_, v)| !v.is_null())
        .map(|(index, value)| {
            parse_document::<C>(path, text, is_json, index, value, &mut dependencies)
        })
        .collect();
    FileOutcome {
        documents,
        fatal,
        dependencies,
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

fn parse_document<C: Compile>(
    path: &Path,
    text: &str,
    is_json: bool,
    index: usize,
    value: serde_norway::Value,
    read: &mut Vec<FileStamp>,
) -> DocumentOutcome<C> {
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
                domains: Vec::new(),
                errors: vec![err],
            };
        }
    };
    let identity = key.clone().map(|k| (kind, k));
    let domains = match kind {
        Kind::VirtualService => listed_domains(&value),
        Kind::AuthConfig | Kind::Upstream => Vec::new(),
    };
    let located = |field: &str, message: String| {
        let at = collect::position(text, is_json, index, field, locate::At::Value);
        ConfigError {
            file: path.to_path_buf(),
            document: Some(index),
            resource: key.as_ref().map(|k| format!("{kind} {k}")),
            field: Some(field.to_string()),
            line: at.map(|(line, _)| line),
            column: at.map(|(_, column)| column),
            message,
        }
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
            domains,
            errors: vec![located("apiVersion", msg)],
        };
    }
    let hash = spec_hash(&value);
    let compiled = match kind {
        Kind::AuthConfig => {
            // relative TLS file paths are relative to the config directory
            let base = path.parent().unwrap_or(Path::new("."));
            let read_doc = typed::<AuthConfigSpec>(path, text, is_json, index, value);
            checked(
                read_doc,
                |doc| C::auth_config(&doc.spec, base, read),
                &located,
            )
            .map(|(doc, policy)| {
                let warnings = policy.warnings().to_vec();
                (
                    doc.metadata,
                    Content::AuthConfig(Arc::new(AuthConfigResource {
                        spec: doc.spec,
                        policy: Arc::new(policy),
                    })),
                    warnings,
                )
            })
        }
        Kind::VirtualService => {
            let read_doc = typed::<VirtualServiceSpec>(path, text, is_json, index, value);
            checked(
                read_doc,
                |doc| C::virtual_service(doc.metadata.namespace(), &doc.spec),
                &located,
            )
            .map(|(doc, vs)| {
                (
                    doc.metadata,
                    Content::VirtualService(Arc::new(vs)),
                    Vec::new(),
                )
            })
        }
        Kind::Upstream => {
            let read_doc = typed::<UpstreamSpec>(path, text, is_json, index, value);
            checked(read_doc, |doc| upstream::check(&doc.spec), &located).map(|(doc, ())| {
                (
                    doc.metadata,
                    Content::Upstream(Arc::new(doc.spec)),
                    Vec::new(),
                )
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
            domains,
            errors: vec![located("metadata.name", "must not be empty".into())],
        },
        Err(mut errors) => {
            for e in &mut errors {
                e.resource = key.as_ref().map(|k| format!("{kind} {k}"));
            }
            DocumentOutcome::Invalid {
                identity,
                domains,
                errors,
            }
        }
    }
}

/// The domains a VirtualService document lists, read as far as they can be (strings only,
/// lower-cased), whatever else is wrong with it.
fn listed_domains(value: &serde_norway::Value) -> Vec<String> {
    value
        .get("spec")
        .and_then(|s| s.get("virtualHost"))
        .and_then(|v| v.get("domains"))
        .and_then(|d| d.as_sequence())
        .into_iter()
        .flatten()
        .filter_map(|d| d.as_str())
        .map(|d| d.trim().to_ascii_lowercase())
        .filter(|d| !d.is_empty())
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

#[cfg(test)]
mod tests;
