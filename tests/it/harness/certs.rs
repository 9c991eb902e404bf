//! Certificates for the TLS tests, made with rcgen, and a directory laid out as Kubernetes
//! mounts a Secret (for rotation by `..data` swap).

use rcgen::{
    date_time_ymd, BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair,
    KeyUsagePurpose,
};
use std::path::{Path, PathBuf};

/// A certificate authority made for one test.
pub struct Ca {
    /// Its certificate, PEM.
    pub pem: String,
    /// Its `notAfter`, in seconds since the epoch.
    pub not_after: i64,
    issuer: Issuer<'static, KeyPair>,
}

/// A certificate and its key, PEM.
#[derive(Clone)]
pub struct Leaf {
    /// The certificate (the leaf alone).
    pub cert_pem: String,
    /// Its private key (PKCS#8).
    pub key_pem: String,
    /// Its `notAfter`, in seconds since the epoch.
    pub not_after: i64,
}

impl Ca {
    /// A CA named `name`, valid until the first of January of 2040.
    pub fn new(name: &str) -> Ca {
        Ca::until(name, 2040)
    }

    /// A CA named `name`, valid until the first of January of `year`.
    pub fn until(name: &str, year: i32) -> Ca {
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params.distinguished_name.push(DnType::CommonName, name);
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        params.not_after = date_time_ymd(year, 1, 1);
        let key = KeyPair::generate().unwrap();
        let cert = params.self_signed(&key).unwrap();
        Ca {
            pem: cert.pem(),
            not_after: params.not_after.unix_timestamp(),
            issuer: Issuer::new(params, key),
        }
    }

    /// A certificate with common name `cn` for the DNS names and IP addresses in `names`,
    /// valid from 2020 to 2038.
    pub fn leaf(&self, cn: &str, names: &[&str]) -> Leaf {
        self.leaf_valid(cn, names, (2020, 2038))
    }

    /// A certificate valid from the first of January of `from` until that of `until`.
    pub fn leaf_valid(&self, cn: &str, names: &[&str], (from, until): (i32, i32)) -> Leaf {
        let names: Vec<String> = names.iter().map(|n| n.to_string()).collect();
        let mut params = CertificateParams::new(names).unwrap();
        params.distinguished_name.push(DnType::CommonName, cn);
        params.not_before = date_time_ymd(from, 1, 1);
        params.not_after = date_time_ymd(until, 1, 1);
        let key = KeyPair::generate().unwrap();
        let cert = params.signed_by(&key, &self.issuer).unwrap();
        Leaf {
            cert_pem: cert.pem(),
            key_pem: key.serialize_pem(),
            not_after: params.not_after.unix_timestamp(),
        }
    }
}

/// A self-signed certificate for `names`, as a quick test server would have.
pub fn self_signed(names: &[&str]) -> Leaf {
    let mut params =
        CertificateParams::new(names.iter().map(|n| n.to_string()).collect::<Vec<_>>()).unwrap();
    params
        .distinguished_name
        .push(DnType::CommonName, "self-signed");
    let key = KeyPair::generate().unwrap();
    let cert = params.self_signed(&key).unwrap();
    Leaf {
        cert_pem: cert.pem(),
        key_pem: key.serialize_pem(),
        not_after: params.not_after.unix_timestamp(),
    }
}

/// A directory laid out as Kubernetes mounts a Secret: `NAME -> ..data/NAME` symlinks, and
/// `..data` a symlink to a timestamped directory, swapped atomically by [`SecretDir::swap`].
pub struct SecretDir {
    /// The mount directory.
    pub path: PathBuf,
    generation: usize,
}

impl SecretDir {
    /// A mount at `path` (created) holding `files`.
    pub fn new(path: &Path, files: &[(&str, &str)]) -> Self {
        std::fs::create_dir_all(path).unwrap();
        let mut dir = SecretDir {
            path: path.to_path_buf(),
            generation: 0,
        };
        dir.swap(files);
        for (name, _) in files {
            std::os::unix::fs::symlink(format!("..data/{name}"), path.join(name)).unwrap();
        }
        dir
    }

    /// Writes `files` into a new timestamped directory and swaps `..data` to it, as the
    /// kubelet's atomic writer does (the old directory is removed after).
    pub fn swap(&mut self, files: &[(&str, &str)]) {
        self.generation += 1;
        let old = format!("..2026_01_01_00_00_{:02}.{}", self.generation - 1, 100);
        let new = format!("..2026_01_01_00_00_{:02}.{}", self.generation, 100);
        let new_dir = self.path.join(&new);
        std::fs::create_dir(&new_dir).unwrap();
        for (name, text) in files {
            std::fs::write(new_dir.join(name), text).unwrap();
        }
        let tmp = self.path.join("..data_tmp");
        std::os::unix::fs::symlink(&new, &tmp).unwrap();
        std::fs::rename(&tmp, self.path.join("..data")).unwrap();
        let _ = std::fs::remove_dir_all(self.path.join(old));
    }
}
