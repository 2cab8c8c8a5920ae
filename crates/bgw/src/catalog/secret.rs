//! The server secret: 32 random bytes in `global/mock_auth_nonce` (mode 0600), made by `bgw initdb` or at the
//! first start of a data directory made before it existed, never changed afterwards. Password authentication
//! derives from it the salt it shows for a role that does not exist or has no password (the counterpart of
//! PostgreSQL's `mock_authentication_nonce` in `pg_control`), so that the salt is as stable per name as a real
//! role's and nobody learns from the exchange which roles exist.
//!
//! Runs in: `bgw initdb`, the postmaster at start, backends at password authentication.

use ring::rand::SecureRandom;
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

/// The secret's length in bytes.
pub const SECRET_LEN: usize = 32;

/// Where the secret is kept.
pub fn secret_path(data_dir: &Path) -> PathBuf {
    data_dir.join("global").join("mock_auth_nonce")
}

/// Reads the secret; None if there is none (or it is not [`SECRET_LEN`] bytes).
pub fn read_secret(data_dir: &Path) -> Option<[u8; SECRET_LEN]> {
    std::fs::read(secret_path(data_dir)).ok()?.try_into().ok()
}

/// Makes the secret if there is none yet, and returns it. Written to a private temporary file and published by a
/// hard link, which fails if another process published one first: every process then reads the same secret.
pub fn ensure_secret(data_dir: &Path) -> std::io::Result<[u8; SECRET_LEN]> {
    if let Some(secret) = read_secret(data_dir) {
        return Ok(secret);
    }
    let mut secret = [0u8; SECRET_LEN];
    ring::rand::SystemRandom::new()
        .fill(&mut secret)
        .map_err(|_| std::io::Error::other("could not generate a random server secret"))?;
    let path = secret_path(data_dir);
    let tmp = path.with_extension(format!("tmp.{}", std::process::id()));
    let _ = std::fs::remove_file(&tmp);
    let written = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&tmp)
        .and_then(|mut f| f.write_all(&secret).and_then(|_| f.sync_all()));
    let published = written.and_then(|_| std::fs::hard_link(&tmp, &path));
    let _ = std::fs::remove_file(&tmp);
    match published {
        Ok(()) => Ok(secret),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            read_secret(data_dir).ok_or_else(|| std::io::Error::other("the server secret is unreadable"))
        }
        Err(e) => Err(e),
    }
}

/// The salt password authentication shows for `role` when it has no verifier: the first 16 bytes of
/// HMAC-SHA-256 keyed with the server secret over the role's name (as long as a real verifier's salt).
pub fn mock_salt(secret: &[u8; SECRET_LEN], role: &str) -> Vec<u8> {
    let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, secret);
    ring::hmac::sign(&key, role.as_bytes()).as_ref()[..super::scram::SALT_LEN].to_vec()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn the_secret_is_made_once_private_and_salts_are_stable_per_name() {
        let t = tempfile::tempdir().unwrap();
        std::fs::create_dir(t.path().join("global")).unwrap();
        assert!(read_secret(t.path()).is_none());
        let a = ensure_secret(t.path()).unwrap();
        assert_eq!(ensure_secret(t.path()).unwrap(), a);
        let mode = std::fs::metadata(secret_path(t.path())).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        assert_eq!(mock_salt(&a, "ghost"), mock_salt(&a, "ghost"));
        assert_ne!(mock_salt(&a, "ghost"), mock_salt(&a, "ghosts"));
        assert_eq!(mock_salt(&a, "ghost").len(), 16);
    }
}
