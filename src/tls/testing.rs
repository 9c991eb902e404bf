//! Certificates for unit tests, made with rcgen.

use rcgen::{
    date_time_ymd, BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair,
    KeyUsagePurpose,
};
use rustls_pki_types::CertificateDer;

/// A CA: its certificate (PEM and DER), its `notAfter` and what it needs to issue.
pub struct TestCa {
    /// The certificate, PEM.
    pub pem: String,
    /// The certificate, DER.
    pub der: CertificateDer<'static>,
    /// Its `notAfter`, seconds since the epoch.
    pub not_after: i64,
    issuer: Issuer<'static, KeyPair>,
}

/// A CA named `name`, valid until the first of January of 2040.
pub fn ca(name: &str) -> TestCa {
    ca_until(name, 2040)
}

/// A CA named `name`, valid until the first of January of `year`.
pub fn ca_until(name: &str, year: i32) -> TestCa {
    let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
    params.distinguished_name.push(DnType::CommonName, name);
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    params.not_after = date_time_ymd(year, 1, 1);
    let key = KeyPair::generate().unwrap();
    let cert = params.self_signed(&key).unwrap();
    TestCa {
        pem: cert.pem(),
        der: cert.der().clone(),
        not_after: params.not_after.unix_timestamp(),
        issuer: Issuer::new(params, key),
    }
}

impl TestCa {
    /// A leaf certificate for `names`, valid until 2039: (certificate PEM, key PEM, `notAfter`).
    pub fn issue(&self, names: &[&str]) -> (String, String, i64) {
        let key = KeyPair::generate().unwrap();
        let (cert, not_after) = self.issue_for(names, &key);
        (cert, key.serialize_pem(), not_after)
    }

    /// A leaf certificate for `names` and `key`, valid until 2039: (certificate PEM,
    /// `notAfter`).
    pub fn issue_for(&self, names: &[&str], key: &KeyPair) -> (String, i64) {
        let mut params =
            CertificateParams::new(names.iter().map(|n| n.to_string()).collect::<Vec<_>>())
                .unwrap();
        params.not_after = date_time_ymd(2039, 6, 1);
        let cert = params.signed_by(key, &self.issuer).unwrap();
        (cert.pem(), params.not_after.unix_timestamp())
    }
}
