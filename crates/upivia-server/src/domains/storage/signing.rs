//! Signed URLs for uploads and downloads that carry no credentials. A URL
//! holds its object id, its expiry (unix seconds) and an HMAC-SHA256, under
//! a key derived from the master key (so every node checks every node's
//! URLs), over what it may do: `put` with the object's declared size, or
//! `get` with the exact bytes (`blob_key`) it was issued for. A changed
//! id, expiry, size or object, or a cut signature, fails the comparison,
//! which runs in constant time.

use hmac::{Hmac, Mac};
use sha2::Sha256;
use subtle::ConstantTimeEq;
use time::OffsetDateTime;

#[derive(Clone)]
pub struct UrlSigner {
    key: [u8; 32],
}

impl std::fmt::Debug for UrlSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("UrlSigner([redacted])")
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum UrlError {
    #[error("the URL's signature does not match")]
    BadSignature,
    #[error("the URL has expired")]
    Expired,
}

/// What a URL lets its holder do.
#[derive(Clone, Copy, Debug)]
pub enum Grant<'a> {
    Put { id: &'a str, size: i64 },
    Get { id: &'a str, blob_key: &'a str },
}

impl UrlSigner {
    pub fn new(key: [u8; 32]) -> UrlSigner {
        UrlSigner { key }
    }

    fn mac(&self, grant: Grant<'_>, expires: i64) -> [u8; 32] {
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&self.key)
            .expect("HMAC takes a key of any length");
        // Fields are separated by NUL, which none of them can hold.
        match grant {
            Grant::Put { id, size } => {
                mac.update(format!("put\0{id}\0{size}\0{expires}").as_bytes())
            }
            Grant::Get { id, blob_key } => {
                mac.update(format!("get\0{id}\0{blob_key}\0{expires}").as_bytes())
            }
        }
        mac.finalize().into_bytes().into()
    }

    /// The query string `expires=…&sig=…` for `grant` until `expires`.
    pub fn query(&self, grant: Grant<'_>, expires: OffsetDateTime) -> String {
        let at = expires.unix_timestamp();
        format!("expires={at}&sig={}", hex::encode(self.mac(grant, at)))
    }

    /// Whether `sig` grants `grant` until `expires`, at `now`.
    pub fn verify(
        &self,
        grant: Grant<'_>,
        expires: i64,
        sig: &str,
        now: OffsetDateTime,
    ) -> Result<(), UrlError> {
        let given = hex::decode(sig).map_err(|_| UrlError::BadSignature)?;
        let want = self.mac(grant, expires);
        if given.len() != want.len() || !bool::from(given.ct_eq(&want)) {
            return Err(UrlError::BadSignature);
        }
        // Checked after the signature: an expiry nobody signed says nothing.
        if now.unix_timestamp() >= expires {
            return Err(UrlError::Expired);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::Duration;

    #[test]
    fn a_url_grants_exactly_what_it_was_signed_for() {
        let signer = UrlSigner::new([7; 32]);
        let now = OffsetDateTime::from_unix_timestamp(1_800_000_000).unwrap();
        let until = now + Duration::minutes(10);
        let put = Grant::Put {
            id: "obj_a",
            size: 10,
        };
        let q = signer.query(put, until);
        let sig = q.split("sig=").nth(1).unwrap();
        let at = until.unix_timestamp();
        assert_eq!(signer.verify(put, at, sig, now), Ok(()));
        for other in [
            Grant::Put {
                id: "obj_b",
                size: 10,
            },
            Grant::Put {
                id: "obj_a",
                size: 11,
            },
            Grant::Get {
                id: "obj_a",
                blob_key: "10",
            },
        ] {
            assert_eq!(
                signer.verify(other, at, sig, now),
                Err(UrlError::BadSignature)
            );
        }
        assert_eq!(
            signer.verify(put, at + 1, sig, now),
            Err(UrlError::BadSignature)
        );
        assert_eq!(
            signer.verify(put, at, &sig[..10], now),
            Err(UrlError::BadSignature)
        );
        assert_eq!(
            signer.verify(put, at, "zz", now),
            Err(UrlError::BadSignature)
        );
        assert_eq!(
            signer.verify(put, at, sig, until),
            Err(UrlError::Expired),
            "not valid at its expiry"
        );
        let other_key = UrlSigner::new([8; 32]);
        assert_eq!(
            other_key.verify(put, at, sig, now),
            Err(UrlError::BadSignature)
        );
    }
}
