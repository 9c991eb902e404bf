//! Why a TLS connection to an auth service failed, in a handful of reasons fit for a metric
//! label (`extauth_passthrough_tls_handshake_failures_total{reason}`); rustls' own words go
//! to the log line.

use rustls::{AlertDescription, CertificateError, Error, PeerIncompatible};

/// The reason of a failed handshake (or of a server ending a connection right after one
/// because of it, as a TLS 1.3 server that wanted a client certificate does).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum TlsFailure {
    /// The server's chain does not lead to a trusted CA.
    UnknownCa,
    /// The server's certificate is not valid for the name verified (the url's host or
    /// `serverName`).
    BadName,
    /// A certificate is outside its validity period (expired, or not valid yet).
    Expired,
    /// The server wants a client certificate and none was given (no `certFile`).
    ClientCertRequired,
    /// The server refused the client certificate given.
    ClientCertRejected,
    /// No TLS version in common (`minimumProtocolVersion`, or a server older than TLS 1.2).
    ProtocolVersion,
    /// Anything else (a malformed handshake, a bad signature, an unexpected alert, ...).
    Other,
}

impl TlsFailure {
    /// Every reason, in declaration order.
    pub const ALL: [TlsFailure; 7] = [
        TlsFailure::UnknownCa,
        TlsFailure::BadName,
        TlsFailure::Expired,
        TlsFailure::ClientCertRequired,
        TlsFailure::ClientCertRejected,
        TlsFailure::ProtocolVersion,
        TlsFailure::Other,
    ];

    /// The label value.
    pub fn as_str(self) -> &'static str {
        match self {
            TlsFailure::UnknownCa => "unknown_ca",
            TlsFailure::BadName => "bad_name",
            TlsFailure::Expired => "expired",
            TlsFailure::ClientCertRequired => "client_cert_required",
            TlsFailure::ClientCertRejected => "client_cert_rejected",
            TlsFailure::ProtocolVersion => "protocol_version",
            TlsFailure::Other => "other",
        }
    }

    /// The reason of a rustls error: what this client found wrong with the server's
    /// certificate, or the alert the server sent.
    pub fn of(err: &Error) -> Self {
        match err {
            Error::InvalidCertificate(e) => match e {
                CertificateError::UnknownIssuer => TlsFailure::UnknownCa,
                CertificateError::NotValidForName
                | CertificateError::NotValidForNameContext { .. } => TlsFailure::BadName,
                CertificateError::Expired
                | CertificateError::ExpiredContext { .. }
                | CertificateError::NotValidYet
                | CertificateError::NotValidYetContext { .. } => TlsFailure::Expired,
                _ => TlsFailure::Other,
            },
            Error::AlertReceived(alert) => match alert {
                AlertDescription::CertificateRequired => TlsFailure::ClientCertRequired,
                AlertDescription::BadCertificate
                | AlertDescription::UnsupportedCertificate
                | AlertDescription::CertificateRevoked
                | AlertDescription::CertificateExpired
                | AlertDescription::CertificateUnknown
                | AlertDescription::UnknownCA
                | AlertDescription::AccessDenied => TlsFailure::ClientCertRejected,
                AlertDescription::ProtocolVersion => TlsFailure::ProtocolVersion,
                _ => TlsFailure::Other,
            },
            Error::PeerIncompatible(
                PeerIncompatible::ServerDoesNotSupportTls12Or13
                | PeerIncompatible::ServerTlsVersionIsDisabledByOurConfig
                | PeerIncompatible::SupportedVersionsExtensionRequired
                | PeerIncompatible::Tls12NotOffered
                | PeerIncompatible::Tls12NotOfferedOrEnabled
                | PeerIncompatible::Tls13RequiredForQuic,
            ) => TlsFailure::ProtocolVersion,
            _ => TlsFailure::Other,
        }
    }
}

impl std::fmt::Display for TlsFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The rustls error inside an I/O error, as tokio-rustls wraps it (the handshake, or a read
/// or write that met an alert).
pub fn rustls_error(err: &std::io::Error) -> Option<&Error> {
    let mut inner: &(dyn std::error::Error + 'static) = err.get_ref()?;
    loop {
        if let Some(found) = inner.downcast_ref::<Error>() {
            return Some(found);
        }
        if let Some(io) = inner.downcast_ref::<std::io::Error>() {
            inner = io.get_ref()?;
            continue;
        }
        inner = inner.source()?;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reasons_of_rustls_errors() {
        let cases = [
            (
                Error::InvalidCertificate(CertificateError::UnknownIssuer),
                "unknown_ca",
            ),
            (
                Error::InvalidCertificate(CertificateError::NotValidForName),
                "bad_name",
            ),
            (
                Error::InvalidCertificate(CertificateError::Expired),
                "expired",
            ),
            (
                Error::AlertReceived(AlertDescription::CertificateRequired),
                "client_cert_required",
            ),
            (
                Error::AlertReceived(AlertDescription::UnknownCA),
                "client_cert_rejected",
            ),
            (
                Error::AlertReceived(AlertDescription::ProtocolVersion),
                "protocol_version",
            ),
            (
                Error::PeerIncompatible(PeerIncompatible::ServerTlsVersionIsDisabledByOurConfig),
                "protocol_version",
            ),
            (Error::DecryptError, "other"),
        ];
        for (err, want) in cases {
            assert_eq!(TlsFailure::of(&err).as_str(), want, "{err:?}");
        }
    }

    #[test]
    fn the_rustls_error_is_found_inside_io_errors() {
        let tls = Error::AlertReceived(AlertDescription::CertificateRequired);
        let io = std::io::Error::new(std::io::ErrorKind::InvalidData, tls.clone());
        assert_eq!(rustls_error(&io), Some(&tls));
        let wrapped = std::io::Error::other(io);
        assert_eq!(rustls_error(&wrapped), Some(&tls));
        let plain = std::io::Error::from(std::io::ErrorKind::ConnectionReset);
        assert_eq!(rustls_error(&plain), None);
    }
}
