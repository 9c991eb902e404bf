use std::path::PathBuf;

use super::*;
use crate::tls::roots::build;
use crate::tls::testing::{ca, ca_until};

fn defaults() -> Defaults {
    build(None, vec![ca("system").der.clone()])
}

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

fn errors(settings: &Settings) -> Vec<(&'static str, String)> {
    load(settings, &defaults(), &mut Vec::new())
        .unwrap_err()
        .into_iter()
        .map(|e| (e.field.as_str(), e.message))
        .collect()
}

#[test]
fn a_ca_file_and_a_client_pair_load_with_their_expiries() {
    let dir = tempfile::tempdir().unwrap();
    let (old, new) = (ca_until("old", 2031), ca_until("new", 2035));
    let bundle = write(dir.path(), "ca.pem", &format!("{}{}", new.pem, old.pem));
    let (cert, key, not_after) = new.issue(&["client"]);
    let cert = write(dir.path(), "client.pem", &cert);
    let key = write(dir.path(), "client.key", &key);
    let settings = Settings {
        ca_file: Some(bundle.clone()),
        client: Some((cert.clone(), key.clone())),
        ..Settings::default()
    };
    let mut read = Vec::new();
    let m = load(&settings, &defaults(), &mut read).unwrap();
    assert!(m.client.is_some());
    assert_eq!(
        m.expiries,
        [
            Expiry {
                kind: ExpiryKind::Ca,
                source: bundle.display().to_string(),
                not_after: old.not_after,
            },
            Expiry {
                kind: ExpiryKind::ClientCert,
                source: cert.display().to_string(),
                not_after,
            },
        ],
        "the earliest notAfter of each file"
    );
    let read: Vec<&Path> = read.iter().map(|s| s.path.as_path()).collect();
    assert_eq!(read, [bundle.as_path(), cert.as_path(), key.as_path()]);
    // the same bytes again: the same digest; a new key: another
    let again = load(&settings, &defaults(), &mut Vec::new()).unwrap();
    assert_eq!(m.digest, again.digest);
    let (cert2, key2, _) = new.issue(&["client"]);
    std::fs::write(&settings.client.as_ref().unwrap().0, cert2).unwrap();
    std::fs::write(&settings.client.as_ref().unwrap().1, key2).unwrap();
    assert_ne!(
        m.digest,
        load(&settings, &defaults(), &mut Vec::new())
            .unwrap()
            .digest
    );
}

#[test]
fn the_defaults_carry_the_environment_ca_expiry() {
    let env_ca = ca_until("env", 2033);
    let value = base64::Engine::encode(&base64::engine::general_purpose::STANDARD, &env_ca.pem);
    let d = build(Some(&value), Vec::new());
    let m = load(&Settings::default(), &d, &mut Vec::new()).unwrap();
    assert_eq!(m.expiries.len(), 1);
    assert_eq!(m.expiries[0].source, ENV_CA);
    assert_eq!(m.expiries[0].not_after, env_ca.not_after);
    // a broken variable rejects a step with its own caFile too
    let dir = tempfile::tempdir().unwrap();
    let ca_file = write(dir.path(), "ca.pem", &env_ca.pem);
    let broken = build(Some("!!"), vec![env_ca.der.clone()]);
    let settings = Settings {
        ca_file: Some(ca_file),
        ..Settings::default()
    };
    let e = load(&settings, &broken, &mut Vec::new()).unwrap_err();
    assert_eq!(e[0].field, TlsField::Url);
    assert!(e[0].message.contains(ENV_CA));
    // no default roots at all: a step with its own caFile is not affected
    let nothing = build(None, Vec::new());
    assert!(load(&settings, &nothing, &mut Vec::new()).is_ok());
    let e = load(&Settings::default(), &nothing, &mut Vec::new()).unwrap_err();
    assert!(e[0].message.contains("no trusted CA"), "{e:?}");
}

#[test]
fn every_broken_file_is_reported_against_its_field_without_its_content() {
    let dir = tempfile::tempdir().unwrap();
    let authority = ca("ca");
    let (cert, key, _) = authority.issue(&["client"]);
    let (_, other_key, _) = authority.issue(&["other"]);
    let half = &key[..key.len() / 2];
    let cases: Vec<(&str, &str, &str, &str, &str)> = vec![
        // (ca, cert, key, field, words)
        ("", &cert, &key, "tlsConfig.caFile", "cannot read"),
        (
            "not pem",
            &cert,
            &key,
            "tlsConfig.caFile",
            "no PEM certificate",
        ),
        (
            &authority.pem[..200],
            &cert,
            &key,
            "tlsConfig.caFile",
            "not whole",
        ),
        (
            &authority.pem,
            "x",
            &key,
            "tlsConfig.certFile",
            "no PEM certificate",
        ),
        (
            &authority.pem,
            &cert,
            half,
            "tlsConfig.keyFile",
            "not whole",
        ),
        (
            &authority.pem,
            &cert,
            &cert,
            "tlsConfig.keyFile",
            "no PEM private key",
        ),
        (
            &authority.pem,
            &cert,
            &other_key,
            "tlsConfig.keyFile",
            "does not belong",
        ),
    ];
    for (i, (ca_text, cert_text, key_text, field, words)) in cases.into_iter().enumerate() {
        let ca_file = if ca_text.is_empty() {
            dir.path().join("missing.pem")
        } else {
            write(dir.path(), &format!("ca{i}.pem"), ca_text)
        };
        let settings = Settings {
            ca_file: Some(ca_file),
            client: Some((
                write(dir.path(), &format!("c{i}.pem"), cert_text),
                write(dir.path(), &format!("k{i}.pem"), key_text),
            )),
            ..Settings::default()
        };
        let e = errors(&settings);
        assert_eq!(e.len(), 1, "case {i}: {e:?}");
        assert_eq!(e[0].0, field, "case {i}: {e:?}");
        assert!(e[0].1.contains(words), "case {i}: {e:?}");
        let key_body: String = key.lines().nth(1).unwrap().chars().take(20).collect();
        assert!(
            !e[0].1.contains(&key_body),
            "case {i} quotes the key: {e:?}"
        );
    }
}

/// Writes `der` as PEM of `label` into `path`.
fn write_pem(path: &Path, label: &str, der: &[u8]) {
    let b64 = base64::Engine::encode(&base64::engine::general_purpose::STANDARD, der);
    let lines: Vec<&str> = b64
        .as_bytes()
        .chunks(64)
        .map(|c| std::str::from_utf8(c).unwrap())
        .collect();
    let text = format!(
        "-----BEGIN {label}-----\n{}\n-----END {label}-----\n",
        lines.join("\n")
    );
    std::fs::write(path, text).unwrap();
}

#[test]
fn key_formats_pkcs8_rsa_and_ec() {
    let dir = tempfile::tempdir().unwrap();
    let authority = ca("ca");
    let (cert, pkcs8, _) = authority.issue(&["client"]);
    let cert = write(dir.path(), "c.pem", &cert);
    let key = write(dir.path(), "k.pem", &pkcs8);
    let settings = Settings {
        client: Some((cert, key.clone())),
        ..Settings::default()
    };
    assert!(
        load(&settings, &defaults(), &mut Vec::new()).is_ok(),
        "PKCS#8"
    );
    // the same EC key as SEC1 (`EC PRIVATE KEY`), as openssl ecparam writes it
    let der = rustls_pki_types::PrivatePkcs8KeyDer::from_pem_slice(pkcs8.as_bytes()).unwrap();
    write_pem(
        &key,
        "EC PRIVATE KEY",
        &inner_key_of(der.secret_pkcs8_der()),
    );
    assert!(
        load(&settings, &defaults(), &mut Vec::new()).is_ok(),
        "SEC1"
    );

    // RSA (ring signs with RSA keys but cannot make one: openssl makes it), as PKCS#8 and as
    // PKCS#1 (`RSA PRIVATE KEY`)
    let rsa_path = dir.path().join("rsa.pem");
    let made = std::process::Command::new("openssl")
        .args([
            "genpkey",
            "-algorithm",
            "RSA",
            "-pkeyopt",
            "rsa_keygen_bits:2048",
            "-out",
        ])
        .arg(&rsa_path)
        .output()
        .expect("the openssl command (Debian package openssl) makes the RSA test key");
    assert!(made.status.success(), "{made:?}");
    let rsa_pem = std::fs::read_to_string(&rsa_path).unwrap();
    let rsa = rcgen::KeyPair::from_pem(&rsa_pem).unwrap();
    let (rsa_cert, _) = authority.issue_for(&["client"], &rsa);
    let rsa_settings = Settings {
        client: Some((
            write(dir.path(), "rsa-cert.pem", &rsa_cert),
            rsa_path.clone(),
        )),
        ..Settings::default()
    };
    assert!(
        load(&rsa_settings, &defaults(), &mut Vec::new()).is_ok(),
        "RSA PKCS#8"
    );
    let der = rustls_pki_types::PrivatePkcs8KeyDer::from_pem_slice(rsa_pem.as_bytes()).unwrap();
    write_pem(
        &rsa_path,
        "RSA PRIVATE KEY",
        &inner_key_of(der.secret_pkcs8_der()),
    );
    assert!(
        load(&rsa_settings, &defaults(), &mut Vec::new()).is_ok(),
        "RSA PKCS#1"
    );
    // and an RSA key with an EC certificate is refused
    let mismatched = Settings {
        client: Some((settings.client.clone().unwrap().0, rsa_path)),
        ..Settings::default()
    };
    let e = errors(&mismatched);
    assert!(e[0].1.contains("does not belong"), "{e:?}");
}

/// The key inside a PKCS#8 key: SEC1 `ECPrivateKey` or PKCS#1 `RSAPrivateKey`, the
/// `privateKey` OCTET STRING of `PrivateKeyInfo ::= SEQUENCE { version, algorithm, privateKey }`.
fn inner_key_of(pkcs8: &[u8]) -> Vec<u8> {
    let mut i = 2; // the SEQUENCE header, short form...
    if pkcs8[1] & 0x80 != 0 {
        i = 2 + (pkcs8[1] & 0x7f) as usize; // ...or long form
    }
    i += 3; // version INTEGER 0
    i += 2 + pkcs8[i + 1] as usize; // algorithm
    assert_eq!(pkcs8[i], 0x04, "OCTET STRING");
    let (len, start) = if pkcs8[i + 1] & 0x80 != 0 {
        let n = (pkcs8[i + 1] & 0x7f) as usize;
        let len = pkcs8[i + 2..i + 2 + n]
            .iter()
            .fold(0usize, |a, b| a * 256 + *b as usize);
        (len, i + 2 + n)
    } else {
        (pkcs8[i + 1] as usize, i + 2)
    };
    pkcs8[start..start + len].to_vec()
}
