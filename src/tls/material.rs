//! A step's TLS material, loaded from its files: the trust roots (its `caFile`, or the
//! defaults), and its client certificate and key. Every problem is reported against the field
//! that names the file, in words that never quote the file's content.

use std::path::Path;
use std::sync::Arc;

use rustls::client::WebPkiServerVerifier;
use rustls::sign::CertifiedKey;
use rustls::{InconsistentKeys, RootCertStore};
use rustls_pki_types::pem::{self, PemObject, SectionKind};
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use sha2::{Digest, Sha256};

use super::roots::{Defaults, ENV_CA};
use super::settings::Settings;
use super::{provider, TlsError, TlsField};
use crate::config::dependency::{self as files, FileStamp};

/// What an expiry gauge is about.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExpiryKind {
    /// A CA bundle (`caFile`, or `HTTPS_PASSTHROUGH_CA_CERT`).
    Ca,
    /// A client certificate chain (`certFile`).
    ClientCert,
}

impl ExpiryKind {
    /// The `kind` label value.
    pub fn as_str(self) -> &'static str {
        match self {
            ExpiryKind::Ca => "ca",
            ExpiryKind::ClientCert => "client_cert",
        }
    }
}

/// When the certificates of one source stop being valid.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Expiry {
    /// CA or client certificate.
    pub kind: ExpiryKind,
    /// The file, or `HTTPS_PASSTHROUGH_CA_CERT`.
    pub source: String,
    /// The earliest `notAfter` of its certificates, in seconds since the epoch.
    pub not_after: i64,
}

/// The material a step's connections use; replaced whole when its files change.
pub struct Material {
    /// Verifies the server's chain and name against the step's roots.
    pub(super) verifier: Arc<WebPkiServerVerifier>,
    /// The client certificate and key, when the step has them.
    pub(super) client: Option<Arc<CertifiedKey>>,
    /// When what is in use expires.
    pub(super) expiries: Vec<Expiry>,
    /// A digest of every byte it was made from, to tell new material from a re-read.
    pub(super) digest: [u8; 32],
}

impl std::fmt::Debug for Material {
    // the client key stays out of every rendering
    fn fmt(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.debug_struct("Material")
            .field("client_cert", &self.client.is_some())
            .field("expiries", &self.expiries)
            .finish_non_exhaustive()
    }
}

/// Loads the material `settings` names, on top of `defaults`; every file read goes into `read`.
pub fn load(
    settings: &Settings,
    defaults: &Defaults,
    read: &mut Vec<FileStamp>,
) -> Result<Material, Vec<TlsError>> {
    let mut errors = Vec::new();
    let mut digest = Sha256::new();
    let mut expiries = Vec::new();
    // an unusable HTTPS_PASSTHROUGH_CA_CERT rejects every https AuthConfig, those with their
    // own caFile too, as in Gloo
    if let Some(e) = &defaults.env_error {
        errors.push(TlsError::new(TlsField::Url, e.clone()));
    }
    let roots = match &settings.ca_file {
        Some(path) => {
            let loaded = files::read(path, read).and_then(|bytes| {
                digest.update(&bytes);
                ca_bundle(&bytes, path)
            });
            match loaded {
                Ok((store, not_after)) => {
                    expiries.extend(not_after.map(|t| expiry(ExpiryKind::Ca, path, t)));
                    Some(Arc::new(store))
                }
                Err(e) => {
                    errors.push(TlsError::new(TlsField::CaFile, e));
                    None
                }
            }
        }
        None => {
            digest.update(b"default roots");
            if let Some(env) = &defaults.env {
                expiries.extend(env.not_after.map(|not_after| Expiry {
                    kind: ExpiryKind::Ca,
                    source: ENV_CA.into(),
                    not_after,
                }));
            }
            match &defaults.roots {
                Ok(roots) => Some(roots.clone()),
                Err(e) => {
                    if defaults.env_error.is_none() {
                        errors.push(TlsError::new(TlsField::Url, e.clone()));
                    }
                    None
                }
            }
        }
    };
    let client = match &settings.client {
        Some((cert, key)) => match client_key(cert, key, read, &mut digest) {
            Ok((key, not_after)) => {
                expiries.extend(not_after.map(|t| expiry(ExpiryKind::ClientCert, cert, t)));
                Some(Arc::new(key))
            }
            Err(e) => {
                errors.push(e);
                None
            }
        },
        None => None,
    };
    let (Some(roots), true) = (roots, errors.is_empty()) else {
        return Err(errors);
    };
    let verifier = WebPkiServerVerifier::builder_with_provider(roots, provider())
        .build()
        .map_err(|e| {
            vec![TlsError::new(
                TlsField::CaFile,
                format!("unusable roots: {e}"),
            )]
        })?;
    Ok(Material {
        verifier,
        client,
        expiries,
        digest: digest.finalize().into(),
    })
}

fn expiry(kind: ExpiryKind, path: &Path, not_after: i64) -> Expiry {
    Expiry {
        kind,
        source: path.display().to_string(),
        not_after,
    }
}

/// A CA bundle: every certificate in it must be a usable trust anchor.
fn ca_bundle(bytes: &[u8], path: &Path) -> Result<(RootCertStore, Option<i64>), String> {
    let certs = parse_certificates(bytes).map_err(|e| format!("{} is {e}", path.display()))?;
    let mut store = RootCertStore::empty();
    for (i, cert) in certs.iter().enumerate() {
        store.add(cert.clone()).map_err(|e| {
            format!(
                "{}: certificate {} is not a usable CA certificate ({e})",
                path.display(),
                i + 1
            )
        })?;
    }
    Ok((store, earliest_expiry(&certs)))
}

/// The client certificate chain and its key, checked to belong together.
fn client_key(
    cert_path: &Path,
    key_path: &Path,
    read: &mut Vec<FileStamp>,
    digest: &mut Sha256,
) -> Result<(CertifiedKey, Option<i64>), TlsError> {
    let cert_error = |e: String| TlsError::new(TlsField::CertFile, e);
    let key_error = |e: String| TlsError::new(TlsField::KeyFile, e);
    let cert_bytes = files::read(cert_path, read).map_err(cert_error)?;
    let key_bytes = files::read(key_path, read).map_err(key_error)?;
    digest.update(&cert_bytes);
    digest.update(&key_bytes);
    let chain = parse_certificates(&cert_bytes)
        .map_err(|e| cert_error(format!("{} is {e}", cert_path.display())))?;
    let key =
        private_key(&key_bytes).map_err(|e| key_error(format!("{} is {e}", key_path.display())))?;
    let signing = provider().key_provider.load_private_key(key).map_err(|e| {
        key_error(format!(
            "{}: the private key is not usable ({e}); use an RSA, ECDSA (P-256, P-384) or Ed25519 key",
            key_path.display()
        ))
    })?;
    let not_after = earliest_expiry(&chain);
    let certified = CertifiedKey::new(chain, signing);
    match certified.keys_match() {
        Err(rustls::Error::InconsistentKeys(InconsistentKeys::KeyMismatch)) => {
            Err(key_error(format!(
                "the key in {} does not belong to the certificate in {}",
                key_path.display(),
                cert_path.display()
            )))
        }
        _ => Ok((certified, not_after)),
    }
}

/// The certificates of a PEM text, each checked to be X.509; the error completes "… is ".
pub fn parse_certificates(bytes: &[u8]) -> Result<Vec<CertificateDer<'static>>, String> {
    let mut certs = Vec::new();
    for section in <(SectionKind, Vec<u8>)>::pem_slice_iter(bytes) {
        let (kind, der) = section.map_err(pem_problem)?;
        if kind == SectionKind::Certificate {
            if x509_parser::parse_x509_certificate(&der).is_err() {
                return Err(format!(
                    "not a certificate file: certificate {} does not parse as X.509",
                    certs.len() + 1
                ));
            }
            certs.push(CertificateDer::from(der));
        }
    }
    if certs.is_empty() {
        return Err("no PEM certificate (-----BEGIN CERTIFICATE-----)".into());
    }
    Ok(certs)
}

/// The one private key of a PEM text; the error completes "… is ".
fn private_key(bytes: &[u8]) -> Result<PrivateKeyDer<'static>, String> {
    let mut keys = Vec::new();
    for section in <(SectionKind, Vec<u8>)>::pem_slice_iter(bytes) {
        let (kind, der) = section.map_err(pem_problem)?;
        match kind {
            SectionKind::PrivateKey => keys.push(PrivateKeyDer::Pkcs8(der.into())),
            SectionKind::RsaPrivateKey => keys.push(PrivateKeyDer::Pkcs1(der.into())),
            SectionKind::EcPrivateKey => keys.push(PrivateKeyDer::Sec1(der.into())),
            _ => {}
        }
    }
    match keys.len() {
        1 => Ok(keys.remove(0)),
        0 => Err("no PEM private key (PKCS#8 `PRIVATE KEY`, `RSA PRIVATE KEY` or `EC PRIVATE KEY`; encrypted keys are not supported)".into()),
        n => Err(format!("holding {n} private keys; keyFile must hold one")),
    }
}

/// A PEM syntax problem in words that quote nothing of the file.
fn pem_problem(e: pem::Error) -> String {
    match e {
        pem::Error::MissingSectionEnd { .. } => {
            "not whole: a PEM section has no END line (still being written?)".into()
        }
        pem::Error::IllegalSectionStart { .. } => "not valid PEM: a malformed BEGIN line".into(),
        pem::Error::Base64Decode(_) => "not valid PEM: a section's base64 does not decode".into(),
        pem::Error::SectionTooLarge => "not valid PEM: a section is too large".into(),
        _ => "not valid PEM".into(),
    }
}

/// The earliest `notAfter` of `certs`, in seconds since the epoch.
pub fn earliest_expiry(certs: &[CertificateDer<'_>]) -> Option<i64> {
    certs
        .iter()
        .filter_map(|c| x509_parser::parse_x509_certificate(c).ok())
        .map(|(_, cert)| cert.validity().not_after.timestamp())
        .min()
}

#[cfg(test)]
mod tests;
