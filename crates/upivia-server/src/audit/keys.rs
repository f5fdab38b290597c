//! The two audit keys, both kept outside the database.
//!
//! The *audit key* (HMAC-SHA256, 32 random bytes) authenticates every
//! entry: someone who can rewrite the database but cannot read this key
//! cannot produce entries that verify. The *signing key* (Ed25519) signs
//! checkpoints of the chain head; its public half, exported once and kept
//! elsewhere, lets anyone check them without holding a secret.
//!
//! Both live in the data directory by default, created 0600 on first start
//! (`audit.key`, hex; `audit-signing.key`, PKCS#8 PEM), or where the
//! operator points. A key file is never rewritten.

use std::fmt;
use std::path::Path;

use ed25519_dalek::pkcs8::spki::der::pem::LineEnding;
use ed25519_dalek::pkcs8::{DecodePrivateKey, DecodePublicKey, EncodePrivateKey, EncodePublicKey};
use ed25519_dalek::{Signature, Signer, SigningKey, Verifier, VerifyingKey};
use hmac::{Hmac, Mac};
use rand::RngCore;
use sha2::{Digest, Sha256};

use super::AuditError;

/// The HMAC key of the chain. `Debug` shows its id, never the key.
#[derive(Clone)]
pub struct AuditKey {
    bytes: [u8; 32],
    /// Keyed once: each entry's MAC clones this state instead of hashing
    /// the key again (two SHA-256 blocks saved per append).
    keyed: Hmac<Sha256>,
}

impl fmt::Debug for AuditKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("AuditKey").field(&self.id()).finish()
    }
}

impl AuditKey {
    pub fn generate() -> AuditKey {
        let mut bytes = [0u8; 32];
        rand::rng().fill_bytes(&mut bytes);
        AuditKey::from_bytes(bytes)
    }

    fn from_bytes(bytes: [u8; 32]) -> AuditKey {
        let keyed = <Hmac<Sha256> as Mac>::new_from_slice(&bytes)
            .unwrap_or_else(|_| unreachable!("HMAC takes a key of any length"));
        AuditKey { bytes, keyed }
    }

    /// 64 hex digits, as in `audit.key` and `UPIVIA_AUDIT_KEY`.
    pub fn from_hex(raw: &str) -> Result<AuditKey, String> {
        let bytes = hex::decode(raw.trim()).map_err(|_| "the audit key is not hex".to_owned())?;
        let bytes: [u8; 32] = bytes
            .try_into()
            .map_err(|_| "the audit key must be 32 bytes (64 hex digits)".to_owned())?;
        Ok(AuditKey::from_bytes(bytes))
    }

    /// Names the key without revealing it (a hash of it, domain-separated).
    pub fn id(&self) -> String {
        let mut h = Sha256::new();
        h.update(b"upivia audit key id\0");
        h.update(self.bytes);
        format!("hmac-sha256:{}", &hex::encode(h.finalize())[..16])
    }

    #[cfg(test)]
    pub(crate) fn bytes_for_test(&self) -> [u8; 32] {
        self.bytes
    }

    /// HMAC-SHA256 of `message`, hex.
    pub(crate) fn mac_hex(&self, message: &[u8]) -> String {
        let mut mac = self.keyed.clone();
        mac.update(message);
        hex::encode(mac.finalize().into_bytes())
    }

    /// Whether `tag` (hex) is the MAC of `message`, in constant time.
    pub(crate) fn verify_hex(&self, message: &[u8], tag: &str) -> bool {
        let Ok(tag) = hex::decode(tag) else {
            return false;
        };
        let mut mac = self.keyed.clone();
        mac.update(message);
        mac.verify_slice(&tag).is_ok()
    }

    /// Reads the key at `path`.
    pub fn load(path: &Path) -> Result<AuditKey, AuditError> {
        let raw = std::fs::read_to_string(path).map_err(|source| AuditError::KeyFile {
            path: path.to_owned(),
            source,
        })?;
        AuditKey::from_hex(&raw).map_err(|reason| AuditError::MalformedKey {
            path: path.to_owned(),
            reason,
        })
    }

    /// Reads the key at `path`, creating it (0600) if there is none.
    pub fn load_or_create(path: &Path) -> Result<AuditKey, AuditError> {
        if !path.exists() {
            let key = AuditKey::generate();
            let text = format!("{}\n", hex::encode(key.bytes));
            if create_private(path, text.as_bytes())? {
                return Ok(key);
            }
        }
        AuditKey::load(path)
    }
}

/// The Ed25519 key that signs checkpoints.
pub struct AuditSigningKey(SigningKey);

impl fmt::Debug for AuditSigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("AuditSigningKey")
            .field(&self.public().id())
            .finish()
    }
}

impl AuditSigningKey {
    pub fn generate() -> AuditSigningKey {
        let mut seed = [0u8; 32];
        rand::rng().fill_bytes(&mut seed);
        AuditSigningKey(SigningKey::from_bytes(&seed))
    }

    pub fn public(&self) -> AuditPublicKey {
        AuditPublicKey(self.0.verifying_key())
    }

    pub(crate) fn sign(&self, message: &[u8]) -> Signature {
        self.0.sign(message)
    }

    pub fn load(path: &Path) -> Result<AuditSigningKey, AuditError> {
        let raw = std::fs::read_to_string(path).map_err(|source| AuditError::KeyFile {
            path: path.to_owned(),
            source,
        })?;
        SigningKey::from_pkcs8_pem(&raw)
            .map(AuditSigningKey)
            .map_err(|e| AuditError::MalformedKey {
                path: path.to_owned(),
                reason: format!("not an Ed25519 PKCS#8 PEM private key: {e}"),
            })
    }

    pub fn load_or_create(path: &Path) -> Result<AuditSigningKey, AuditError> {
        if !path.exists() {
            let key = AuditSigningKey::generate();
            let pem = key
                .0
                .to_pkcs8_pem(LineEnding::LF)
                .map_err(|e| AuditError::MalformedKey {
                    path: path.to_owned(),
                    reason: format!("could not encode the new key: {e}"),
                })?;
            if create_private(path, pem.as_bytes())? {
                return Ok(key);
            }
        }
        AuditSigningKey::load(path)
    }
}

/// The public half of the signing key: what an auditor keeps.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuditPublicKey(VerifyingKey);

impl AuditPublicKey {
    /// A short name for the key, carried by every checkpoint it signs.
    pub fn id(&self) -> String {
        let digest = Sha256::digest(self.0.as_bytes());
        format!("ed25519:{}", &hex::encode(digest)[..16])
    }

    /// SubjectPublicKeyInfo PEM (`-----BEGIN PUBLIC KEY-----`), which
    /// `openssl pkey -pubin` reads too.
    pub fn to_pem(&self) -> String {
        self.0
            .to_public_key_pem(LineEnding::LF)
            .unwrap_or_else(|_| unreachable!("an Ed25519 key always encodes"))
    }

    pub fn from_pem(raw: &str) -> Result<AuditPublicKey, String> {
        VerifyingKey::from_public_key_pem(raw.trim())
            .map(AuditPublicKey)
            .map_err(|e| format!("not an Ed25519 public key in PEM: {e}"))
    }

    pub fn load(path: &Path) -> Result<AuditPublicKey, AuditError> {
        let raw = std::fs::read_to_string(path).map_err(|source| AuditError::KeyFile {
            path: path.to_owned(),
            source,
        })?;
        AuditPublicKey::from_pem(&raw).map_err(|reason| AuditError::MalformedKey {
            path: path.to_owned(),
            reason,
        })
    }

    pub(crate) fn verify(&self, message: &[u8], signature: &Signature) -> bool {
        self.0.verify(message, signature).is_ok()
    }
}

/// [`crate::keyfile::create_private`], its failure named as a key file's.
fn create_private(path: &Path, bytes: &[u8]) -> Result<bool, AuditError> {
    crate::keyfile::create_private(path, bytes).map_err(|source| AuditError::KeyFile {
        path: path.to_owned(),
        source,
    })
}
