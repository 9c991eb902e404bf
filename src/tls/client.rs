//! A step's rustls client configuration, built once and rotated in place.
//!
//! The `ClientConfig` an awc client holds cannot be swapped without rebuilding the client and
//! dropping its pooled connections. So the config is built once per step, and the parts that
//! come from files read the current [`Material`] at each handshake: the certificate verifier
//! (the full webpki check of chain, validity and name, against the current roots) and the
//! client-certificate resolver. New material replaces the old with one atomic store; open
//! connections keep going, new ones use the new material. Session resumption goes through a
//! store that is emptied at each change, so that no new connection resumes a session made
//! under the old roots or the old client certificate.

use std::sync::Arc;

use arc_swap::ArcSwap;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::{
    ClientSessionMemoryCache, ClientSessionStore, ResolvesClientCert, Resumption,
    Tls12ClientSessionValue, Tls13ClientSessionValue,
};
use rustls::sign::CertifiedKey;
use rustls::{ClientConfig, DigitallySignedStruct, NamedGroup, SignatureScheme};
use rustls_pki_types::{CertificateDer, ServerName, UnixTime};

use super::material::{Expiry, Material};
use super::provider;
use super::settings::{MinVersion, Settings};

/// TLS sessions remembered per step for resumption.
const SESSIONS: usize = 256;

/// What the verifier, the resolver and the session store of one step share.
#[derive(Debug)]
struct Live {
    material: ArcSwap<Material>,
    sessions: ArcSwap<ClientSessionMemoryCache>,
}

/// One step's TLS: its fixed settings, its rustls config, and its current material.
pub struct StepTls {
    settings: Settings,
    config: Arc<ClientConfig>,
    live: Arc<Live>,
}

impl std::fmt::Debug for StepTls {
    fn fmt(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.debug_struct("StepTls")
            .field("settings", &self.settings)
            .field("material", &*self.live.material.load())
            .finish_non_exhaustive()
    }
}

impl StepTls {
    /// A step's TLS from its checked settings and first material.
    pub fn new(settings: Settings, material: Material) -> Self {
        let live = Arc::new(Live {
            material: ArcSwap::from_pointee(material),
            sessions: ArcSwap::from_pointee(ClientSessionMemoryCache::new(SESSIONS)),
        });
        let versions: &[&rustls::SupportedProtocolVersion] = match settings.min_version {
            MinVersion::Tls12 => &[&rustls::version::TLS13, &rustls::version::TLS12],
            MinVersion::Tls13 => &[&rustls::version::TLS13],
        };
        let mut config = ClientConfig::builder_with_provider(provider())
            .with_protocol_versions(versions)
            .expect("the ring provider supports TLS 1.2 and 1.3")
            // not a way around verification: `CurrentVerifier` runs rustls' own webpki
            // verifier, only against the roots of the moment
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(CurrentVerifier(live.clone())))
            .with_client_cert_resolver(Arc::new(CurrentClientCert(live.clone())));
        // the auth call is HTTP/1.1, as in Gloo
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        config.resumption = Resumption::store(Arc::new(CurrentSessions(live.clone())));
        StepTls {
            settings,
            config: Arc::new(config),
            live,
        }
    }

    /// The rustls config for awc's connector (shared by every client of the step).
    pub fn client_config(&self) -> Arc<ClientConfig> {
        self.config.clone()
    }

    /// The name to send as SNI and verify, when `serverName` replaces the url's host.
    pub fn server_name(&self) -> Option<&str> {
        self.settings.server_name.as_deref()
    }

    /// When the certificates in use expire.
    pub fn expiries(&self) -> Vec<Expiry> {
        self.live.material.load().expiries.clone()
    }

    /// Takes the material of `newer` (the same settings, read again) when it differs from
    /// the material in use; returns whether it did. Connections already open are untouched.
    pub fn adopt(&self, newer: &StepTls) -> bool {
        if Arc::ptr_eq(&self.live, &newer.live) || self.settings != newer.settings {
            return false;
        }
        let material = newer.live.material.load_full();
        if material.digest == self.live.material.load().digest {
            return false;
        }
        self.live.material.store(material);
        self.live
            .sessions
            .store(Arc::new(ClientSessionMemoryCache::new(SESSIONS)));
        true
    }
}

/// The server certificate verifier: rustls' webpki verifier of the current material.
#[derive(Debug)]
struct CurrentVerifier(Arc<Live>);

impl ServerCertVerifier for CurrentVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        self.0.material.load().verifier.verify_server_cert(
            end_entity,
            intermediates,
            server_name,
            ocsp_response,
            now,
        )
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.0
            .material
            .load()
            .verifier
            .verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.0
            .material
            .load()
            .verifier
            .verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.material.load().verifier.supported_verify_schemes()
    }
}

/// The client certificate resolver: the current client certificate, if any.
#[derive(Debug)]
struct CurrentClientCert(Arc<Live>);

impl ResolvesClientCert for CurrentClientCert {
    fn resolve(
        &self,
        _root_hint_subjects: &[&[u8]],
        _sigschemes: &[SignatureScheme],
    ) -> Option<Arc<CertifiedKey>> {
        self.0.material.load().client.clone()
    }

    fn has_certs(&self) -> bool {
        self.0.material.load().client.is_some()
    }
}

/// The session store: the current generation's cache (a new one at each material change).
#[derive(Debug)]
struct CurrentSessions(Arc<Live>);

impl ClientSessionStore for CurrentSessions {
    fn set_kx_hint(&self, server_name: ServerName<'static>, group: NamedGroup) {
        self.0.sessions.load().set_kx_hint(server_name, group)
    }

    fn kx_hint(&self, server_name: &ServerName<'_>) -> Option<NamedGroup> {
        self.0.sessions.load().kx_hint(server_name)
    }

    fn set_tls12_session(&self, server_name: ServerName<'static>, value: Tls12ClientSessionValue) {
        self.0.sessions.load().set_tls12_session(server_name, value)
    }

    fn tls12_session(&self, server_name: &ServerName<'_>) -> Option<Tls12ClientSessionValue> {
        self.0.sessions.load().tls12_session(server_name)
    }

    fn remove_tls12_session(&self, server_name: &ServerName<'static>) {
        self.0.sessions.load().remove_tls12_session(server_name)
    }

    fn insert_tls13_ticket(
        &self,
        server_name: ServerName<'static>,
        value: Tls13ClientSessionValue,
    ) {
        self.0
            .sessions
            .load()
            .insert_tls13_ticket(server_name, value)
    }

    fn take_tls13_ticket(
        &self,
        server_name: &ServerName<'static>,
    ) -> Option<Tls13ClientSessionValue> {
        self.0.sessions.load().take_tls13_ticket(server_name)
    }
}
