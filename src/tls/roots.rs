//! The default trust roots of https auth services: the system's CA certificates (through
//! `rustls-native-certs`: the platform's bundle, `/etc/ssl/certs` on Debian, or `SSL_CERT_FILE`
//! / `SSL_CERT_DIR` when set) plus, as in Gloo, the certificates of `HTTPS_PASSTHROUGH_CA_CERT`
//! (base64 of one or more PEM certificates). Both are read once per process.

use std::sync::{Arc, OnceLock};

use base64::alphabet::STANDARD;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use base64::Engine;
use rustls::RootCertStore;
use rustls_pki_types::CertificateDer;

use super::material::{earliest_expiry, parse_certificates};

/// The environment variable holding extra CA certificates for every https auth service.
pub const ENV_CA: &str = "HTTPS_PASSTHROUGH_CA_CERT";

/// Standard base64, with or without its `=` padding.
const LENIENT: GeneralPurpose = GeneralPurpose::new(
    &STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// The CA certificates of [`ENV_CA`].
#[derive(Debug)]
pub struct EnvCa {
    /// The certificates, in order.
    pub certs: Vec<CertificateDer<'static>>,
    /// The earliest `notAfter` among them, in seconds since the epoch.
    pub not_after: Option<i64>,
}

/// What a step without `caFile` trusts.
#[derive(Debug)]
pub struct Defaults {
    /// The system's roots and the environment's CAs together; `Err` when there is nothing to
    /// trust, or the environment variable is unusable.
    pub roots: Result<Arc<RootCertStore>, String>,
    /// Why the environment variable is unusable, when it is: then no https auth service is,
    /// not even one with its own `caFile` (as in Gloo).
    pub env_error: Option<String>,
    /// The environment's CAs, when set and valid (for the expiry gauge).
    pub env: Option<Arc<EnvCa>>,
    /// How many system roots were found.
    pub system_count: usize,
}

/// The process's defaults, read at first use.
pub fn defaults() -> &'static Defaults {
    static DEFAULTS: OnceLock<Defaults> = OnceLock::new();
    DEFAULTS.get_or_init(|| {
        let value = std::env::var(ENV_CA).ok();
        let system = rustls_native_certs::load_native_certs();
        if !system.errors.is_empty() {
            log::warn!(
                "some system CA certificates could not be read ({} problem(s), the first: {})",
                system.errors.len(),
                system.errors[0]
            );
        }
        build(value.as_deref(), system.certs)
    })
}

/// Logs what the environment adds to the default roots (at start-up, so that a broken
/// variable is reported even before an https AuthConfig needs it).
pub fn report_environment() {
    let d = defaults();
    match (&d.env_error, &d.env) {
        (Some(e), _) => log::error!("{e}"),
        (None, Some(env)) => log::info!(
            "{ENV_CA}: {} CA certificate(s) trusted for https auth services, with the {} system root(s)",
            env.certs.len(),
            d.system_count
        ),
        _ => log::debug!(
            "{} system root(s) trusted for https auth services",
            d.system_count
        ),
    }
}

/// The defaults from the variable's `value` and the system's certificates.
pub fn build(value: Option<&str>, system: Vec<CertificateDer<'static>>) -> Defaults {
    let mut store = RootCertStore::empty();
    let (system_count, _) = store.add_parsable_certificates(system);
    let unusable = |why: String| {
        let e = format!(
            "{ENV_CA} is set but unusable ({why}); no https auth service can be used until it is fixed (it must be base64 of one or more PEM CA certificates)"
        );
        Defaults {
            roots: Err(e.clone()),
            env_error: Some(e),
            env: None,
            system_count,
        }
    };
    let env = match value.map(parse_env_ca).transpose() {
        Ok(env) => env.flatten(),
        Err(why) => return unusable(why),
    };
    if let Some(env) = &env {
        for (i, cert) in env.certs.iter().enumerate() {
            if let Err(e) = store.add(cert.clone()) {
                return unusable(format!(
                    "certificate {} is not a usable CA certificate: {e}",
                    i + 1
                ));
            }
        }
    }
    let roots = if store.is_empty() {
        Err(format!(
            "no trusted CA: no system CA certificates were found and {ENV_CA} is not set; set tlsConfig.caFile or {ENV_CA}, or install the system's CA certificates"
        ))
    } else {
        Ok(Arc::new(store))
    };
    Defaults {
        roots,
        env_error: None,
        env,
        system_count,
    }
}

/// The certificates of the variable's value: `Ok(None)` when it is empty (as unset, as in
/// Gloo); the error says what is wrong without quoting the value.
pub fn parse_env_ca(value: &str) -> Result<Option<Arc<EnvCa>>, String> {
    let compact: String = value.chars().filter(|c| !c.is_ascii_whitespace()).collect();
    if compact.is_empty() {
        return Ok(None);
    }
    let pem = LENIENT
        .decode(compact)
        .map_err(|e| format!("not base64: {e}"))?;
    let certs = parse_certificates(&pem).map_err(|e| format!("its base64 decodes to {e}"))?;
    let not_after = earliest_expiry(&certs);
    Ok(Some(Arc::new(EnvCa { certs, not_after })))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tls::testing::ca;

    fn b64(text: &str) -> String {
        base64::engine::general_purpose::STANDARD.encode(text)
    }

    #[test]
    fn the_variable_adds_its_certificates_to_the_system_roots() {
        let (one, two) = (ca("one"), ca("two"));
        let value = b64(&format!("{}{}", one.pem, two.pem));
        // base64 as `base64` prints it: wrapped at 76 columns
        let wrapped: String = value
            .as_bytes()
            .chunks(76)
            .map(|c| format!("{}\n", std::str::from_utf8(c).unwrap()))
            .collect();
        let d = build(Some(&wrapped), vec![ca("system").der.clone()]);
        assert_eq!(d.roots.as_ref().unwrap().len(), 3);
        assert_eq!(d.system_count, 1);
        let env = d.env.unwrap();
        assert_eq!(env.certs.len(), 2);
        assert_eq!(env.not_after, Some(one.not_after.min(two.not_after)));
    }

    #[test]
    fn a_broken_variable_makes_the_defaults_unusable_and_says_why() {
        let system = || vec![ca("system").der.clone()];
        for (value, why) in [
            ("%%% not base64 %%%", "not base64"),
            (&b64("hello, no PEM here") as &str, "no PEM certificate"),
            (
                &b64("-----BEGIN CERTIFICATE-----\nAAAA\n") as &str,
                "END line",
            ),
        ] {
            let d = build(Some(value), system());
            let err = d.env_error.unwrap();
            assert!(err.contains(ENV_CA) && err.contains(why), "{value}: {err}");
            assert!(d.roots.is_err());
        }
        // empty counts as unset
        assert!(build(Some("  \n"), system()).roots.is_ok());
        let nothing = build(None, Vec::new());
        assert!(nothing.roots.unwrap_err().contains("no trusted CA"));
        assert!(
            nothing.env_error.is_none(),
            "a step with its own caFile still works"
        );
    }
}
