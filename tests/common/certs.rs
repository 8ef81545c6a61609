//! Test certificates made in the test (rcgen): a CA, server certificates for localhost /
//! 127.0.0.1 and client certificates it signs, written as PEM files into a directory.
#![allow(dead_code)]

use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, KeyPair,
    KeyUsagePurpose,
};
use std::path::{Path, PathBuf};

/// A certificate authority.
pub struct Ca {
    cert: rcgen::Certificate,
    key: KeyPair,
    /// The CA certificate (PEM file).
    pub pem: PathBuf,
}

/// A certificate and its key, as PEM files.
pub struct Pair {
    pub cert: PathBuf,
    pub key: PathBuf,
}

impl Ca {
    /// A new CA named `name`, its certificate written to `dir/<name>-ca.pem`.
    pub fn new(dir: &Path, name: &str) -> Ca {
        let key = KeyPair::generate().expect("key");
        let mut p = CertificateParams::new(Vec::<String>::new()).expect("params");
        p.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        p.distinguished_name
            .push(DnType::CommonName, format!("{name} test CA"));
        p.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        let cert = p.self_signed(&key).expect("self-signed");
        let pem = dir.join(format!("{name}-ca.pem"));
        std::fs::write(&pem, cert.pem()).expect("write");
        Ca { cert, key, pem }
    }

    fn issue(&self, dir: &Path, file: &str, sans: &[&str], eku: ExtendedKeyUsagePurpose) -> Pair {
        let key = KeyPair::generate().expect("key");
        let mut p =
            CertificateParams::new(sans.iter().map(|s| s.to_string()).collect::<Vec<String>>())
                .expect("params");
        p.distinguished_name.push(DnType::CommonName, file);
        p.extended_key_usages = vec![eku];
        let cert = p.signed_by(&key, &self.cert, &self.key).expect("sign");
        let pair = Pair {
            cert: dir.join(format!("{file}.pem")),
            key: dir.join(format!("{file}-key.pem")),
        };
        std::fs::write(&pair.cert, cert.pem()).expect("write");
        std::fs::write(&pair.key, key.serialize_pem()).expect("write");
        pair
    }

    /// A server certificate for localhost and 127.0.0.1.
    pub fn server(&self, dir: &Path, file: &str) -> Pair {
        self.issue(
            dir,
            file,
            &["localhost", "127.0.0.1"],
            ExtendedKeyUsagePurpose::ServerAuth,
        )
    }

    /// A client certificate.
    pub fn client(&self, dir: &Path, file: &str) -> Pair {
        self.issue(dir, file, &["client"], ExtendedKeyUsagePurpose::ClientAuth)
    }
}
