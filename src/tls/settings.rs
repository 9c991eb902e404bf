//! Checking a `tlsConfig` block (no file is read here): which fields go together, which
//! values mean something, and where its files are.

use std::path::{Path, PathBuf};

use rustls_pki_types::ServerName;

use super::{TlsError, TlsField};
use crate::config::dependency::resolve;
use crate::config::types::TlsConfig;

/// The oldest TLS version a step offers.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum MinVersion {
    /// TLS 1.2 and 1.3 (the default).
    #[default]
    Tls12,
    /// TLS 1.3 only.
    Tls13,
}

/// A checked `tlsConfig`, its paths resolved.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Settings {
    /// The CA bundle replacing the default roots.
    pub ca_file: Option<PathBuf>,
    /// The client certificate chain and its key.
    pub client: Option<(PathBuf, PathBuf)>,
    /// The name sent as SNI and verified, instead of the url's host.
    pub server_name: Option<String>,
    /// The oldest version offered.
    pub min_version: MinVersion,
}

impl Settings {
    /// The settings of `config` (none: the defaults), relative paths taken from `base`.
    pub fn of(config: Option<&TlsConfig>, base: &Path) -> Result<Settings, Vec<TlsError>> {
        let Some(config) = config else {
            return Ok(Settings::default());
        };
        let mut errors = Vec::new();
        if config.secret_ref.is_some() {
            errors.push(TlsError::new(
                TlsField::SecretRef,
                "extauth reads no Kubernetes secrets: mount the secret as files and name them in caFile, certFile and keyFile",
            ));
        }
        if config.ssl_params.is_some() {
            errors.push(TlsError::new(
                TlsField::SslParams,
                "extauth takes the minimum version directly: tlsConfig.minimumProtocolVersion (TLSv1_2 or TLSv1_3)",
            ));
        }
        let path = |field: TlsField, value: &Option<String>, errors: &mut Vec<TlsError>| match value
            .as_deref()
        {
            Some("") => {
                errors.push(TlsError::new(field, "must not be empty"));
                None
            }
            Some(p) => Some(resolve(base, p)),
            None => None,
        };
        let ca_file = path(TlsField::CaFile, &config.ca_file, &mut errors);
        let cert = path(TlsField::CertFile, &config.cert_file, &mut errors);
        let key = path(TlsField::KeyFile, &config.key_file, &mut errors);
        let client = match (cert, key, &config.cert_file, &config.key_file) {
            (Some(c), Some(k), _, _) => Some((c, k)),
            (_, _, Some(_), None) => {
                errors.push(TlsError::new(
                    TlsField::KeyFile,
                    "certFile needs keyFile (the client certificate's private key)",
                ));
                None
            }
            (_, _, None, Some(_)) => {
                errors.push(TlsError::new(
                    TlsField::CertFile,
                    "keyFile needs certFile (the client certificate it belongs to)",
                ));
                None
            }
            _ => None,
        };
        let server_name =
            config
                .server_name
                .as_deref()
                .and_then(|name| match ServerName::try_from(name) {
                    Ok(ServerName::IpAddress(rustls_pki_types::IpAddr::V6(_))) => {
                        errors.push(TlsError::new(
                            TlsField::ServerName,
                            "an IPv6 address is not supported as serverName; use a DNS name",
                        ));
                        None
                    }
                    Ok(_) => Some(name.to_ascii_lowercase()),
                    Err(_) => {
                        errors.push(TlsError::new(
                            TlsField::ServerName,
                            format!("`{name}` is neither a DNS name nor an IP address"),
                        ));
                        None
                    }
                });
        let min_version = match config.minimum_protocol_version.as_deref() {
            None | Some("TLS_AUTO") | Some("TLSv1_2") => MinVersion::Tls12,
            Some("TLSv1_3") => MinVersion::Tls13,
            Some(v @ ("TLSv1_0" | "TLSv1_1")) => {
                errors.push(TlsError::new(
                    TlsField::MinimumProtocolVersion,
                    format!("{v} is not supported (extauth speaks TLS 1.2 and 1.3); use TLSv1_2 or TLSv1_3"),
                ));
                MinVersion::Tls12
            }
            Some(other) => {
                errors.push(TlsError::new(
                    TlsField::MinimumProtocolVersion,
                    format!("unknown version `{other}`; use TLSv1_2 or TLSv1_3"),
                ));
                MinVersion::Tls12
            }
        };
        if errors.is_empty() {
            Ok(Settings {
                ca_file,
                client,
                server_name,
                min_version,
            })
        } else {
            Err(errors)
        }
    }

    /// Every file these settings read.
    pub fn files(&self) -> impl Iterator<Item = &Path> {
        self.ca_file
            .iter()
            .chain(self.client.iter().flat_map(|(c, k)| [c, k]))
            .map(PathBuf::as_path)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(yaml: &str) -> Result<Settings, Vec<TlsError>> {
        let config: TlsConfig = serde_norway::from_str(yaml).unwrap();
        Settings::of(Some(&config), Path::new("/etc/extauth"))
    }

    fn fields(yaml: &str) -> Vec<(&'static str, String)> {
        settings(yaml)
            .unwrap_err()
            .into_iter()
            .map(|e| (e.field.as_str(), e.message))
            .collect()
    }

    #[test]
    fn paths_are_relative_to_the_config_directory() {
        let s = settings("{caFile: tls/ca.pem, certFile: /abs/c.pem, keyFile: k.pem, serverName: Auth.Internal, minimumProtocolVersion: TLSv1_3}").unwrap();
        assert_eq!(s.ca_file, Some(PathBuf::from("/etc/extauth/tls/ca.pem")));
        assert_eq!(
            s.client,
            Some(("/abs/c.pem".into(), "/etc/extauth/k.pem".into()))
        );
        assert_eq!(s.server_name.as_deref(), Some("auth.internal"));
        assert_eq!(s.min_version, MinVersion::Tls13);
        assert_eq!(s.files().count(), 3);
        assert_eq!(settings("{}").unwrap(), Settings::default());
    }

    #[test]
    fn halves_unknown_versions_and_gloo_fields_are_errors() {
        let e = fields("{certFile: c.pem}");
        assert_eq!(e[0].0, "tlsConfig.keyFile");
        let e = fields("{keyFile: k.pem}");
        assert_eq!(e[0].0, "tlsConfig.certFile");
        let e = fields("{minimumProtocolVersion: TLSv1_4}");
        assert_eq!(e[0].0, "tlsConfig.minimumProtocolVersion");
        assert!(e[0].1.contains("`TLSv1_4`"), "{e:?}");
        assert!(fields("{minimumProtocolVersion: TLSv1_1}")[0]
            .1
            .contains("not supported"));
        let e = fields("{secretRef: {name: auth-tls, namespace: gloo-system}}");
        assert_eq!(e[0].0, "tlsConfig.secretRef");
        assert!(e[0].1.contains("caFile, certFile and keyFile"), "{e:?}");
        assert_eq!(
            fields("{sslParams: {minimumProtocolVersion: TLSv1_3}}")[0].0,
            "tlsConfig.sslParams"
        );
        assert_eq!(
            fields("{serverName: 'not a name'}")[0].0,
            "tlsConfig.serverName"
        );
        assert_eq!(fields("{serverName: '::1'}")[0].0, "tlsConfig.serverName");
        assert_eq!(fields("{caFile: ''}")[0].0, "tlsConfig.caFile");
        let unknown = serde_norway::from_str::<TlsConfig>("{insecureSkipVerify: true}");
        assert!(unknown.unwrap_err().to_string().contains("unknown field"));
    }
}
