//! The server's cookie: its short-term keys, sealed under a per-connection key only the
//! server knows, handed to the client in WELCOME and returned in INITIATE.
//!
//! Layout (96 bytes): 16-byte long nonce (prefix `COOKIE--`), then secretbox(C' + s').

use zeroize::{Zeroize, Zeroizing};

use super::cipher::{self, SecretBox, TAG_LEN};
use super::error::CurveError;
use super::nonce;

/// Length of a cookie on the wire.
pub(crate) const COOKIE_LEN: usize = 16 + TAG_LEN + 64;

/// The per-connection cookie key K. Wiped on drop; used once to seal and once to open.
pub(crate) struct CookieKey(Zeroizing<[u8; 32]>);

impl CookieKey {
    pub(crate) fn generate() -> Self {
        let mut k = Zeroizing::new([0u8; 32]);
        cipher::random_bytes(&mut k[..]);
        CookieKey(k)
    }

    /// Seals C' (the client's short-term public key) and s' (our short-term secret).
    pub(crate) fn seal(
        &self,
        client_short: &[u8; 32],
        server_short_secret: &[u8; 32],
    ) -> [u8; COOKIE_LEN] {
        let mut random = [0u8; 16];
        cipher::random_bytes(&mut random);
        let mut cookie = [0u8; COOKIE_LEN];
        cookie[..16].copy_from_slice(&random);
        let body = &mut cookie[16..];
        body[TAG_LEN..TAG_LEN + 32].copy_from_slice(client_short);
        body[TAG_LEN + 32..].copy_from_slice(server_short_secret);
        SecretBox::new(&self.0).seal(&nonce::long(nonce::COOKIE, &random), body);
        cookie
    }

    /// Opens a cookie and checks it holds exactly `client_short` and
    /// `server_short_secret`. Consumes the key: libzmq-style single use.
    pub(crate) fn open(
        self,
        cookie: &[u8],
        client_short: &[u8; 32],
        server_short_secret: &[u8; 32],
    ) -> Result<(), CurveError> {
        if cookie.len() != COOKIE_LEN {
            return Err(CurveError::CookieOpenFailed);
        }
        let mut random = [0u8; 16];
        random.copy_from_slice(&cookie[..16]);
        let mut body = Zeroizing::new([0u8; COOKIE_LEN - 16]);
        body.copy_from_slice(&cookie[16..]);
        if !SecretBox::new(&self.0).open(&nonce::long(nonce::COOKIE, &random), &mut body[..]) {
            return Err(CurveError::CookieOpenFailed);
        }
        let ok = &body[TAG_LEN..TAG_LEN + 32] == client_short
            && &body[TAG_LEN + 32..] == server_short_secret;
        body.zeroize();
        if ok {
            Ok(())
        } else {
            Err(CurveError::CookieMismatch)
        }
    }
}

impl std::fmt::Debug for CookieKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CookieKey(<redacted>)")
    }
}

#[cfg(all(test, not(fuzzing)))]
mod tests {
    use super::*;

    #[test]
    fn seal_open_and_mismatches() {
        let c = [1u8; 32];
        let s = [2u8; 32];
        let key = CookieKey::generate();
        let cookie = key.seal(&c, &s);
        assert_eq!(key.open(&cookie, &c, &s), Ok(()));

        let key = CookieKey::generate();
        let cookie = key.seal(&c, &s);
        assert_eq!(
            key.open(&cookie, &[9u8; 32], &s),
            Err(CurveError::CookieMismatch)
        );

        let key = CookieKey::generate();
        let mut cookie = key.seal(&c, &s);
        cookie[40] ^= 1;
        assert_eq!(key.open(&cookie, &c, &s), Err(CurveError::CookieOpenFailed));

        // A cookie from another connection (another key) does not open.
        let cookie = CookieKey::generate().seal(&c, &s);
        assert_eq!(
            CookieKey::generate().open(&cookie, &c, &s),
            Err(CurveError::CookieOpenFailed)
        );
        assert_eq!(
            CookieKey::generate().open(&cookie[..95], &c, &s),
            Err(CurveError::CookieOpenFailed)
        );
    }
}
