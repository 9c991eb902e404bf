//! TLS to https auth services: rustls through awc's rustls connector, no OpenSSL.
//!
//! - [`settings`]: a `tlsConfig` block checked (no I/O).
//! - [`material`]: the roots and client certificate read from its files, every problem
//!   reported against its field; [`roots`]: the default roots (the system's, plus
//!   `HTTPS_PASSTHROUGH_CA_CERT` as in Gloo).
//! - [`client`]: the step's rustls config, built once, whose verifier and client-certificate
//!   resolver read the current material, so that rotated files are used by new connections
//!   without rebuilding awc clients or dropping pooled connections.
//! - [`failure`]: a failed handshake's reason, for the metric label.
//! - [`connect`]: `serverName`, the name sent as SNI and verified instead of the url's host.
//!
//! Loading happens when an AuthConfig is compiled ([`StepTls::load`]); rotation is the config
//! store re-reading an AuthConfig whose TLS files changed (their
//! [`FileStamp`](crate::config::dependency::FileStamp)s) and the
//! AuthConfig in force adopting the new material ([`StepTls::adopt`]).

pub mod client;
pub mod connect;
pub mod failure;
pub mod material;
pub mod roots;
pub mod settings;

#[cfg(test)]
pub(crate) mod testing;

use std::path::Path;
use std::sync::{Arc, OnceLock};

use rustls::crypto::CryptoProvider;

pub use client::StepTls;
pub use failure::{rustls_error, TlsFailure};
pub use material::{Expiry, ExpiryKind};
pub use roots::ENV_CA;
pub use settings::Settings;

use crate::config::dependency::FileStamp;
use crate::config::types::TlsConfig;

/// The field of the `http` block a TLS problem is about.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TlsField {
    /// `url` (the default roots are unusable, e.g. a broken `HTTPS_PASSTHROUGH_CA_CERT`).
    Url,
    /// `tlsConfig.caFile`.
    CaFile,
    /// `tlsConfig.certFile`.
    CertFile,
    /// `tlsConfig.keyFile`.
    KeyFile,
    /// `tlsConfig.serverName`.
    ServerName,
    /// `tlsConfig.minimumProtocolVersion`.
    MinimumProtocolVersion,
    /// `tlsConfig.secretRef` (Gloo's).
    SecretRef,
    /// `tlsConfig.sslParams` (Gloo's).
    SslParams,
}

impl TlsField {
    /// The field's path below the `http` block.
    pub fn as_str(self) -> &'static str {
        match self {
            TlsField::Url => "url",
            TlsField::CaFile => "tlsConfig.caFile",
            TlsField::CertFile => "tlsConfig.certFile",
            TlsField::KeyFile => "tlsConfig.keyFile",
            TlsField::ServerName => "tlsConfig.serverName",
            TlsField::MinimumProtocolVersion => "tlsConfig.minimumProtocolVersion",
            TlsField::SecretRef => "tlsConfig.secretRef",
            TlsField::SslParams => "tlsConfig.sslParams",
        }
    }
}

/// A problem with a step's TLS, for the field it names.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TlsError {
    /// The field.
    pub field: TlsField,
    /// What is wrong, in words that quote no file content.
    pub message: String,
}

impl TlsError {
    /// A problem with `field`.
    pub fn new(field: TlsField, message: impl Into<String>) -> Self {
        TlsError {
            field,
            message: message.into(),
        }
    }
}

/// The crypto provider of every TLS connection (ring).
pub fn provider() -> Arc<CryptoProvider> {
    static PROVIDER: OnceLock<Arc<CryptoProvider>> = OnceLock::new();
    PROVIDER
        .get_or_init(|| Arc::new(rustls::crypto::ring::default_provider()))
        .clone()
}

impl StepTls {
    /// The TLS of an https step: its `tlsConfig` (relative paths from `base`) checked and its
    /// files read (each recorded in `read`, also when it fails). A step without `tlsConfig`
    /// shares one process-wide value (the default roots, no client certificate).
    pub fn load(
        config: Option<&TlsConfig>,
        base: &Path,
        read: &mut Vec<FileStamp>,
    ) -> Result<Arc<StepTls>, Vec<TlsError>> {
        let settings = Settings::of(config, base)?;
        if settings == Settings::default() {
            static SHARED: OnceLock<Result<Arc<StepTls>, Vec<TlsError>>> = OnceLock::new();
            return SHARED
                .get_or_init(|| Self::build(settings, &mut Vec::new()))
                .clone();
        }
        Self::build(settings, read)
    }

    fn build(settings: Settings, read: &mut Vec<FileStamp>) -> Result<Arc<StepTls>, Vec<TlsError>> {
        let material = material::load(&settings, roots::defaults(), read)?;
        Ok(Arc::new(StepTls::new(settings, material)))
    }
}
