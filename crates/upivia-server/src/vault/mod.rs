//! Secrets the platform must use later (organisation secrets), encrypted
//! at rest with envelope encryption: each organisation has its own data key
//! (32 random bytes), stored only wrapped (encrypted) by the master key;
//! each value is sealed with its organisation's data key. Both layers are
//! AES-256-GCM with a fresh 96-bit nonce per seal, and the associated data
//! binds what a ciphertext belongs to (the organisation for a data key;
//! organisation, name and version for a value), so a ciphertext copied to
//! another row, organisation or version does not open.
//!
//! The master key never enters the database: `UPIVIA_MASTER_KEY` (64 hex
//! digits), or `<data-dir>/master.key`, created 0600 on first start. Every
//! node of a PostgreSQL deployment needs the same one.

use std::fmt;
use std::path::Path;

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Key, Nonce};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use rand::RngCore;
use secrecy::{ExposeSecret, SecretString};
use sha2::{Digest, Sha256};

const NONCE_LEN: usize = 12;

#[derive(Debug, thiserror::Error)]
pub enum VaultError {
    #[error("could not read or create the master key file {path}")]
    KeyFile {
        path: std::path::PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("the master key {0}")]
    MalformedKey(String),
    /// A ciphertext that does not open under this key and associated data:
    /// another master key, or a value moved to where it does not belong.
    #[error("a sealed value does not open: {0}")]
    Unsealable(&'static str),
}

/// 32 bytes. `Debug` shows its id, never the key.
#[derive(Clone)]
pub struct MasterKey(Key<Aes256Gcm>);

impl fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("MasterKey").field(&self.id()).finish()
    }
}

impl MasterKey {
    pub fn generate() -> MasterKey {
        let mut bytes = [0u8; 32];
        rand::rng().fill_bytes(&mut bytes);
        MasterKey(bytes.into())
    }

    /// 64 hex digits, as in `master.key` and `UPIVIA_MASTER_KEY`.
    pub fn from_hex(raw: &str) -> Result<MasterKey, VaultError> {
        let bytes =
            hex::decode(raw.trim()).map_err(|_| VaultError::MalformedKey("is not hex".into()))?;
        let bytes: [u8; 32] = bytes
            .try_into()
            .map_err(|_| VaultError::MalformedKey("must be 32 bytes (64 hex digits)".into()))?;
        Ok(MasterKey(bytes.into()))
    }

    /// Names the key without revealing it.
    pub fn id(&self) -> String {
        let mut h = Sha256::new();
        h.update(b"upivia master key id\0");
        h.update(self.0);
        format!("aes256gcm:{}", &hex::encode(h.finalize())[..16])
    }

    /// The key in `path`, or a new one written there (0600) when there is
    /// none. A key file is never rewritten.
    pub fn load_or_create(path: &Path) -> Result<MasterKey, VaultError> {
        let io = |source| VaultError::KeyFile {
            path: path.to_owned(),
            source,
        };
        if !path.exists() {
            let key = MasterKey::generate();
            let text = format!("{}\n", hex::encode(key.0));
            if crate::keyfile::create_private(path, text.as_bytes()).map_err(io)? {
                return Ok(key);
            }
        }
        let raw = std::fs::read_to_string(path).map_err(io)?;
        MasterKey::from_hex(&raw)
    }
}

/// `base64(nonce ‖ ciphertext ‖ tag)` of `plaintext` under `key`, bound to `aad`.
fn seal(key: &Key<Aes256Gcm>, aad: &[u8], plaintext: &[u8]) -> String {
    let mut nonce = [0u8; NONCE_LEN];
    rand::rng().fill_bytes(&mut nonce);
    let sealed = Aes256Gcm::new(key)
        .encrypt(
            Nonce::from_slice(&nonce),
            Payload {
                msg: plaintext,
                aad,
            },
        )
        .unwrap_or_else(|_| unreachable!("AES-GCM seals any message under 64 GiB"));
    let mut out = Vec::with_capacity(NONCE_LEN + sealed.len());
    out.extend_from_slice(&nonce);
    out.extend_from_slice(&sealed);
    STANDARD.encode(out)
}

fn open(key: &Key<Aes256Gcm>, aad: &[u8], sealed: &str) -> Result<Vec<u8>, VaultError> {
    let raw = STANDARD
        .decode(sealed)
        .map_err(|_| VaultError::Unsealable("not base64"))?;
    if raw.len() < NONCE_LEN + 16 {
        return Err(VaultError::Unsealable("too short"));
    }
    let (nonce, body) = raw.split_at(NONCE_LEN);
    Aes256Gcm::new(key)
        .decrypt(Nonce::from_slice(nonce), Payload { msg: body, aad })
        .map_err(|_| VaultError::Unsealable("wrong key or moved ciphertext"))
}

fn key_aad(org_id: &str) -> Vec<u8> {
    format!("upivia data key v1\0{org_id}").into_bytes()
}

fn value_aad(org_id: &str, name: &str, version: i64) -> Vec<u8> {
    format!("upivia secret v1\0{org_id}\0{name}\0{version}").into_bytes()
}

/// An organisation's data key, opened. `Debug` never shows it.
pub struct DataKey {
    org_id: String,
    key: Key<Aes256Gcm>,
}

impl fmt::Debug for DataKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DataKey")
            .field("org_id", &self.org_id)
            .finish()
    }
}

impl DataKey {
    /// Seals version `version` of secret `name`.
    pub fn seal(&self, name: &str, version: i64, value: &SecretString) -> String {
        seal(
            &self.key,
            &value_aad(&self.org_id, name, version),
            value.expose_secret().as_bytes(),
        )
    }

    pub fn open(&self, name: &str, version: i64, sealed: &str) -> Result<SecretString, VaultError> {
        let bytes = open(&self.key, &value_aad(&self.org_id, name, version), sealed)?;
        String::from_utf8(bytes)
            .map(SecretString::from)
            .map_err(|_| VaultError::Unsealable("not UTF-8"))
    }
}

/// The master key at work: makes and opens organisations' data keys.
#[derive(Clone, Debug)]
pub struct Vault {
    master: MasterKey,
}

impl Vault {
    pub fn new(master: MasterKey) -> Vault {
        Vault { master }
    }

    /// A key for one purpose (signing storage URLs, say), derived from the
    /// master key: every node with the same master key derives the same,
    /// and no derived key reveals the master or another purpose's key.
    pub fn derive_key(&self, purpose: &str) -> [u8; 32] {
        use hmac::{Hmac, Mac};
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&self.master.0)
            .expect("HMAC takes a key of any length");
        mac.update(b"upivia derived key\0");
        mac.update(purpose.as_bytes());
        mac.finalize().into_bytes().into()
    }

    /// A new data key for `org_id`, and its wrapped form to store.
    pub fn new_data_key(&self, org_id: &str) -> (DataKey, String) {
        let mut bytes = [0u8; 32];
        rand::rng().fill_bytes(&mut bytes);
        let wrapped = seal(&self.master.0, &key_aad(org_id), &bytes);
        (
            DataKey {
                org_id: org_id.to_owned(),
                key: bytes.into(),
            },
            wrapped,
        )
    }

    /// Opens `org_id`'s stored data key.
    pub fn open_data_key(&self, org_id: &str, wrapped: &str) -> Result<DataKey, VaultError> {
        let bytes = open(&self.master.0, &key_aad(org_id), wrapped)?;
        let bytes: [u8; 32] = bytes
            .try_into()
            .map_err(|_| VaultError::Unsealable("a data key is 32 bytes"))?;
        Ok(DataKey {
            org_id: org_id.to_owned(),
            key: bytes.into(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secret(s: &str) -> SecretString {
        SecretString::from(s.to_owned())
    }

    #[test]
    fn a_value_opens_only_where_it_was_sealed() {
        let vault = Vault::new(MasterKey::generate());
        let (key, wrapped) = vault.new_data_key("org_a");
        let sealed = key.seal("STRIPE", 1, &secret("sk_live_1"));
        assert!(!sealed.contains("sk_live_1"));
        let reopened = vault.open_data_key("org_a", &wrapped).unwrap();
        assert_eq!(
            reopened.open("STRIPE", 1, &sealed).unwrap().expose_secret(),
            "sk_live_1"
        );
        // Another name, version or organisation: refused.
        assert!(reopened.open("OTHER", 1, &sealed).is_err());
        assert!(reopened.open("STRIPE", 2, &sealed).is_err());
        assert!(vault.open_data_key("org_b", &wrapped).is_err());
        let (other, _) = vault.new_data_key("org_b");
        assert!(other.open("STRIPE", 1, &sealed).is_err());
        // Another master key does not open the data key.
        let stranger = Vault::new(MasterKey::generate());
        assert!(stranger.open_data_key("org_a", &wrapped).is_err());
        // Tampering is caught.
        let mut bytes = STANDARD.decode(&sealed).unwrap();
        let last = bytes.len() - 1;
        bytes[last] ^= 1;
        assert!(reopened.open("STRIPE", 1, &STANDARD.encode(bytes)).is_err());
        assert!(reopened.open("STRIPE", 1, "AAAA").is_err());
    }

    #[test]
    fn two_seals_of_one_value_differ() {
        let vault = Vault::new(MasterKey::generate());
        let (key, _) = vault.new_data_key("org");
        assert_ne!(
            key.seal("N", 1, &secret("v")),
            key.seal("N", 1, &secret("v"))
        );
    }

    #[test]
    fn a_master_key_file_is_created_private_and_read_back() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("master.key");
        let first = MasterKey::load_or_create(&path).unwrap();
        let again = MasterKey::load_or_create(&path).unwrap();
        assert_eq!(first.id(), again.id());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        assert!(!format!("{first:?}").contains(&hex::encode(first.0)));
        assert!(MasterKey::from_hex("zz").is_err());
        assert!(MasterKey::from_hex("00").is_err());
    }
}
