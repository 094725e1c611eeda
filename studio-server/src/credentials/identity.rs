// SPDX-License-Identifier: MPL-2.0
//! The key that signs Content Credentials: the operator's certificate chain and private key
//! (`REENACT_SIGNING_CERT` / `REENACT_SIGNING_KEY`, or `signing_cert` / `signing_key` in the
//! configuration file), else a development chain made once in the data directory. C2PA
//! validators refuse self-signed leaf certificates and leaves without an authority key
//! identifier, a digitalSignature key usage or a signing EKU, so the development chain is a
//! CA plus an end-entity certificate that has all of them.

use std::path::{Path, PathBuf};

use c2pa::{create_signer, BoxedSigner, SigningAlg};
use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa, KeyPair,
    KeyUsagePurpose,
};

use super::CredentialError;

/// Environment variable naming the operator's PEM certificate chain (leaf first).
pub const CERT_ENV: &str = "REENACT_SIGNING_CERT";
/// Environment variable naming the operator's PEM private key.
pub const KEY_ENV: &str = "REENACT_SIGNING_KEY";
/// Environment variable naming the key's algorithm when it is not ES256.
pub const ALG_ENV: &str = "REENACT_SIGNING_ALG";
/// Folder of the development chain inside the data directory.
const DEV_DIR: &str = "credentials";

/// Where a signing key came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    /// The operator's chain and key.
    Configured { cert: PathBuf },
    /// A self-signed development chain: valid signatures, but no validator trusts it.
    Development { cert: PathBuf },
}

/// A certificate chain and its private key, ready to sign.
#[derive(Clone)]
pub struct SigningIdentity {
    chain_pem: Vec<u8>,
    key_pem: Vec<u8>,
    pub origin: Origin,
}

impl std::fmt::Debug for SigningIdentity {
    // The private key never reaches a log line.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SigningIdentity").field("origin", &self.origin).finish_non_exhaustive()
    }
}

impl SigningIdentity {
    /// The configured chain and key, else the development chain in `data_dir` (made on
    /// first use).
    pub fn load(data_dir: &Path) -> Result<Self, CredentialError> {
        let cert = std::env::var_os(CERT_ENV).filter(|v| !v.is_empty()).map(PathBuf::from);
        let key = std::env::var_os(KEY_ENV).filter(|v| !v.is_empty()).map(PathBuf::from);
        match (cert, key) {
            (Some(cert), Some(key)) => Self::configured(&cert, &key),
            (None, None) => Self::development(&data_dir.join(DEV_DIR)),
            (Some(_), None) => Err(CredentialError::Config(format!("{CERT_ENV} is set but {KEY_ENV} is not"))),
            (None, Some(_)) => Err(CredentialError::Config(format!("{KEY_ENV} is set but {CERT_ENV} is not"))),
        }
    }

    /// The operator's chain and key; they are tried once so a mistake shows at start-up.
    pub fn configured(cert: &Path, key: &Path) -> Result<Self, CredentialError> {
        let identity = SigningIdentity {
            chain_pem: read(cert)?,
            key_pem: read(key)?,
            origin: Origin::Configured { cert: cert.to_path_buf() },
        };
        identity
            .signer()
            .map_err(|e| CredentialError::Config(format!("{} and {}: {e}", cert.display(), key.display())))?;
        Ok(identity)
    }

    /// The development chain in `dir`, made there (private to this user) when missing.
    pub fn development(dir: &Path) -> Result<Self, CredentialError> {
        let cert = dir.join("dev-chain.pem");
        let key = dir.join("dev-key.pem");
        if !(cert.exists() && key.exists()) {
            crate::datadir::prepare(dir).map_err(|e| CredentialError::io(dir, e))?;
            let (chain, private) = development_chain()?;
            crate::datadir::write_private(&key, private.as_bytes()).map_err(|e| CredentialError::io(&key, e))?;
            crate::datadir::write_private(&cert, chain.as_bytes()).map_err(|e| CredentialError::io(&cert, e))?;
            tracing::warn!(cert = %cert.display(), "made a self-signed development signing certificate; \
                Content Credentials signed with it validate but are not trusted: configure {CERT_ENV} and {KEY_ENV}");
        }
        crate::datadir::tighten(&key).map_err(|e| CredentialError::io(&key, e))?;
        Ok(SigningIdentity { chain_pem: read(&cert)?, key_pem: read(&key)?, origin: Origin::Development { cert } })
    }

    /// True for the development chain, which no validator trusts.
    pub fn is_development(&self) -> bool {
        matches!(self.origin, Origin::Development { .. })
    }

    /// The PEM certificate chain, leaf first (public).
    pub fn chain_pem(&self) -> &[u8] {
        &self.chain_pem
    }

    pub(super) fn signer(&self) -> Result<BoxedSigner, CredentialError> {
        let alg = key_algorithm()?;
        create_signer::from_keys(&self.chain_pem, &self.key_pem, alg, None)
            .map_err(|e| CredentialError::Config(format!("the signing key cannot sign: {e}")))
    }
}

/// `REENACT_SIGNING_ALG` (es256, es384, ps256, ed25519, ...), else ES256: the EC P-256 keys
/// rcgen and most CAs issue.
fn key_algorithm() -> Result<SigningAlg, CredentialError> {
    match std::env::var(ALG_ENV) {
        Ok(name) if !name.is_empty() => name
            .to_ascii_lowercase()
            .parse()
            .map_err(|_| CredentialError::Config(format!("{ALG_ENV}: unknown signing algorithm `{name}`"))),
        _ => Ok(SigningAlg::Es256),
    }
}

fn read(path: &Path) -> Result<Vec<u8>, CredentialError> {
    std::fs::read(path).map_err(|e| CredentialError::io(path, e))
}

/// A CA and an end-entity certificate it issued, for ES256 signing: `(chain PEM, key PEM)`.
fn development_chain() -> Result<(String, String), CredentialError> {
    let fail = |e: rcgen::Error| CredentialError::Config(format!("cannot make the development certificate: {e}"));
    let now = time::OffsetDateTime::now_utc();

    let ca_key = KeyPair::generate().map_err(fail)?;
    let mut ca = CertificateParams::default();
    ca.distinguished_name = name("Reenact Studio development CA (NOT TRUSTED)");
    ca.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    ca.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign, KeyUsagePurpose::DigitalSignature];
    ca.not_before = now - time::Duration::days(1);
    ca.not_after = now + time::Duration::days(3650);
    let ca_cert = ca.self_signed(&ca_key).map_err(fail)?;

    let leaf_key = KeyPair::generate().map_err(fail)?;
    let mut leaf = CertificateParams::default();
    leaf.distinguished_name = name("Reenact Studio development signer (NOT TRUSTED)");
    leaf.is_ca = IsCa::ExplicitNoCa;
    leaf.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    leaf.extended_key_usages = vec![ExtendedKeyUsagePurpose::EmailProtection];
    leaf.use_authority_key_identifier_extension = true;
    leaf.not_before = now - time::Duration::days(1);
    leaf.not_after = now + time::Duration::days(1825);
    let leaf_cert = leaf.signed_by(&leaf_key, &ca_cert, &ca_key).map_err(fail)?;

    Ok((format!("{}{}", leaf_cert.pem(), ca_cert.pem()), leaf_key.serialize_pem()))
}

fn name(common: &str) -> DistinguishedName {
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, common);
    dn.push(DnType::OrganizationName, "Reenact Studio (self-signed development key)");
    dn
}
