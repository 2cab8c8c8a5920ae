//! SCRAM-SHA-256 password verifiers, stored in the catalog instead of passwords (as PostgreSQL stores them):
//! `SCRAM-SHA-256$<iterations>:<salt>$<StoredKey>:<ServerKey>`, base64, per RFC 5802 / 7677.
//!
//! The password is used as given (PostgreSQL applies SASLprep first; for ASCII passwords the two agree).
//!
//! Runs in backends (checking a password, storing a verifier for CREATE/ALTER ROLE) and in `bgw initdb`.

use base64::Engine;
use ring::{digest, hmac, pbkdf2, rand::SecureRandom};
use std::num::NonZeroU32;

/// PostgreSQL's default iteration count.
pub const ITERATIONS: u32 = 4096;

/// The salt's length in bytes (PostgreSQL's SCRAM_DEFAULT_SALT_LEN).
pub const SALT_LEN: usize = 16;

/// A verifier for `password` with a fresh random salt.
pub fn verifier(password: &str) -> String {
    let mut salt = [0u8; SALT_LEN];
    ring::rand::SystemRandom::new().fill(&mut salt).expect("the system random source works");
    verifier_with_salt(password, &salt, ITERATIONS)
}

/// A verifier for `password` with the given salt and iteration count.
pub fn verifier_with_salt(password: &str, salt: &[u8], iterations: u32) -> String {
    let mut salted = [0u8; 32];
    pbkdf2::derive(
        pbkdf2::PBKDF2_HMAC_SHA256,
        NonZeroU32::new(iterations.max(1)).expect("at least one iteration"),
        salt,
        password.as_bytes(),
        &mut salted,
    );
    let key = hmac::Key::new(hmac::HMAC_SHA256, &salted);
    let client_key = hmac::sign(&key, b"Client Key");
    let stored_key = digest::digest(&digest::SHA256, client_key.as_ref());
    let server_key = hmac::sign(&key, b"Server Key");
    let b64 = base64::engine::general_purpose::STANDARD;
    format!(
        "SCRAM-SHA-256${iterations}:{}${}:{}",
        b64.encode(salt),
        b64.encode(stored_key.as_ref()),
        b64.encode(server_key.as_ref())
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_rfc7677_test_vector() {
        // RFC 7677 section 3: user "user", password "pencil", salt W22ZaJ0SNY7soEsUEjb6gQ==, 4096 iterations.
        let salt = base64::engine::general_purpose::STANDARD.decode("W22ZaJ0SNY7soEsUEjb6gQ==").unwrap();
        let v = verifier_with_salt("pencil", &salt, 4096);
        // StoredKey and ServerKey as an independent implementation (Python's hashlib/hmac) computes them.
        assert_eq!(
            v,
            "SCRAM-SHA-256$4096:W22ZaJ0SNY7soEsUEjb6gQ==$WG5d8oPm3OtcPnkdi4Uo7BkeZkBFzpcXkuLmtbsT4qY=:\
             wfPLwcE6nTWhTAmQ7tl2KeoiWGPlZqQxSrmfPwDl2dU="
        );
        assert_ne!(verifier("pencil"), verifier("pencil"), "fresh salt each time");
    }
}
