//! The server side of SCRAM-SHA-256 (RFC 5802, RFC 7677), as PostgreSQL speaks it over the wire protocol, checked
//! against a stored verifier (`SCRAM-SHA-256$<iterations>:<salt>$<StoredKey>:<ServerKey>`), so the server never
//! needs the password. Pure functions; the session drives the message exchange.
//!
//! Runs in: backends, for connections over TCP.

use base64::Engine;
use ring::{digest, hmac, rand::SecureRandom};

const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;

/// A parsed verifier.
pub(crate) struct Verifier {
    pub iterations: u32,
    pub salt: Vec<u8>,
    pub stored_key: Vec<u8>,
    pub server_key: Vec<u8>,
}

impl Verifier {
    pub(crate) fn parse(text: &str) -> Option<Verifier> {
        let rest = text.strip_prefix("SCRAM-SHA-256$")?;
        let (iter_salt, keys) = rest.split_once('$')?;
        let (iterations, salt) = iter_salt.split_once(':')?;
        let (stored, server) = keys.split_once(':')?;
        Some(Verifier {
            iterations: iterations.parse().ok()?,
            salt: B64.decode(salt).ok()?,
            stored_key: B64.decode(stored).ok()?,
            server_key: B64.decode(server).ok()?,
        })
    }

    /// A verifier no password matches (for unknown roles and roles without a password, so that the exchange
    /// looks the same and fails only at the end, as PostgreSQL's mock authentication does), with a random salt.
    pub(crate) fn impossible() -> Verifier {
        let mut salt = vec![0u8; crate::catalog::scram::SALT_LEN];
        let _ = ring::rand::SystemRandom::new().fill(&mut salt);
        Verifier::impossible_with_salt(salt)
    }

    /// The mock verifier for `role`: no password matches it, and its salt and iteration count are what a real
    /// verifier's look like, the salt derived from the server secret and the name, so the same for every
    /// exchange with that name (`crate::catalog::secret::mock_salt`). Without a secret, a random salt.
    pub(crate) fn mock(role: &str, secret: Option<&[u8; crate::catalog::secret::SECRET_LEN]>) -> Verifier {
        match secret {
            Some(secret) => Verifier::impossible_with_salt(crate::catalog::secret::mock_salt(secret, role)),
            None => Verifier::impossible(),
        }
    }

    fn impossible_with_salt(salt: Vec<u8>) -> Verifier {
        let mut stored = vec![0u8; 32];
        let _ = ring::rand::SystemRandom::new().fill(&mut stored);
        Verifier { iterations: crate::catalog::scram::ITERATIONS, salt, stored_key: stored, server_key: vec![0u8; 32] }
    }
}

/// The exchange's state between the server-first and client-final messages.
pub(crate) struct Exchange {
    /// The GS2 header the client sent ("n,," or "y,,"), which its final message must repeat in `c=`.
    gs2_header: &'static str,
    client_first_bare: String,
    server_first: String,
    nonce: String,
}

/// Handles client-first-message (`n,,n=...,r=<client nonce>`); returns the state and server-first-message.
pub(crate) fn server_first(client_first: &[u8], verifier: &Verifier) -> Result<(Exchange, String), String> {
    let text = std::str::from_utf8(client_first).map_err(|_| "malformed SCRAM message".to_string())?;
    // GS2 header: no channel binding ("n") or "y" (client supports it, we do not offer it); no authzid.
    let (gs2_header, bare) = ["n,,", "y,,"]
        .into_iter()
        .find_map(|h| text.strip_prefix(h).map(|rest| (h, rest)))
        .ok_or_else(|| "unsupported SCRAM channel binding or authorization identity".to_string())?;
    let client_nonce = bare
        .split(',')
        .find_map(|kv| kv.strip_prefix("r="))
        .filter(|n| !n.is_empty() && n.bytes().all(|b| (0x21..0x7f).contains(&b) && b != b','))
        .ok_or_else(|| "malformed SCRAM message (missing or invalid nonce)".to_string())?;
    let mut random = [0u8; 18];
    ring::rand::SystemRandom::new().fill(&mut random).map_err(|_| "could not generate a nonce".to_string())?;
    let nonce = format!("{client_nonce}{}", B64.encode(random));
    let server_first = format!("r={nonce},s={},i={}", B64.encode(&verifier.salt), verifier.iterations);
    Ok((
        Exchange { gs2_header, client_first_bare: bare.to_string(), server_first: server_first.clone(), nonce },
        server_first,
    ))
}

/// Handles client-final-message (`c=...,r=...,p=<proof>`): Ok(server-final-message) if the proof is right.
pub(crate) fn server_final(exchange: &Exchange, client_final: &[u8], verifier: &Verifier) -> Result<String, String> {
    let text = std::str::from_utf8(client_final).map_err(|_| "malformed SCRAM message".to_string())?;
    let (without_proof, proof) =
        text.rsplit_once(",p=").ok_or_else(|| "malformed SCRAM message (no proof)".to_string())?;
    // The channel binding attribute comes first and repeats the client's GS2 header (no binding data: we offer
    // none), so a header tampered with on the way is caught.
    if without_proof.split(',').next() != Some(format!("c={}", B64.encode(exchange.gs2_header)).as_str()) {
        return Err("SCRAM channel binding check failed".to_string());
    }
    let nonce = without_proof.split(',').find_map(|kv| kv.strip_prefix("r=")).unwrap_or_default();
    if nonce != exchange.nonce {
        return Err("SCRAM nonce does not match".to_string());
    }
    let proof = B64.decode(proof).map_err(|_| "malformed SCRAM proof".to_string())?;
    let auth_message = format!("{},{},{}", exchange.client_first_bare, exchange.server_first, without_proof);
    let stored = hmac::Key::new(hmac::HMAC_SHA256, &verifier.stored_key);
    let client_signature = hmac::sign(&stored, auth_message.as_bytes());
    if proof.len() != client_signature.as_ref().len() {
        return Err("wrong proof".to_string());
    }
    let client_key: Vec<u8> = proof.iter().zip(client_signature.as_ref()).map(|(a, b)| a ^ b).collect();
    let computed = digest::digest(&digest::SHA256, &client_key);
    // Compared without an early exit, so the time taken says nothing about where the keys differ.
    let differ = computed.as_ref().len() != verifier.stored_key.len()
        || computed.as_ref().iter().zip(&verifier.stored_key).fold(0u8, |acc, (a, b)| acc | (a ^ b)) != 0;
    if differ {
        return Err("wrong proof".to_string());
    }
    let server = hmac::Key::new(hmac::HMAC_SHA256, &verifier.server_key);
    let server_signature = hmac::sign(&server, auth_message.as_bytes());
    Ok(format!("v={}", B64.encode(server_signature.as_ref())))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A client side, written from the RFC, to run the whole exchange.
    fn client_final(password: &str, client_first_bare: &str, server_first: &str) -> String {
        let parts: Vec<&str> = server_first.split(',').collect();
        let nonce = parts[0].strip_prefix("r=").unwrap();
        let salt = B64.decode(parts[1].strip_prefix("s=").unwrap()).unwrap();
        let iterations: u32 = parts[2].strip_prefix("i=").unwrap().parse().unwrap();
        let mut salted = [0u8; 32];
        ring::pbkdf2::derive(
            ring::pbkdf2::PBKDF2_HMAC_SHA256,
            std::num::NonZeroU32::new(iterations).unwrap(),
            &salt,
            password.as_bytes(),
            &mut salted,
        );
        let key = hmac::Key::new(hmac::HMAC_SHA256, &salted);
        let client_key = hmac::sign(&key, b"Client Key");
        let stored = digest::digest(&digest::SHA256, client_key.as_ref());
        let without_proof = format!("c=biws,r={nonce}");
        let auth = format!("{client_first_bare},{server_first},{without_proof}");
        let sig = hmac::sign(&hmac::Key::new(hmac::HMAC_SHA256, stored.as_ref()), auth.as_bytes());
        let proof: Vec<u8> = client_key.as_ref().iter().zip(sig.as_ref()).map(|(a, b)| a ^ b).collect();
        format!("{without_proof},p={}", B64.encode(proof))
    }

    #[test]
    fn the_right_password_passes_and_a_wrong_one_fails() {
        let v = Verifier::parse(&crate::catalog::scram::verifier("s3cret")).unwrap();
        for (password, ok) in [("s3cret", true), ("wrong", false)] {
            let (ex, sf) = server_first(b"n,,n=,r=abcdef", &v).unwrap();
            let cf = client_final(password, "n=,r=abcdef", &sf);
            assert_eq!(server_final(&ex, cf.as_bytes(), &v).is_ok(), ok, "{password}");
        }
        let (ex, sf) = server_first(b"n,,n=,r=abcdef", &Verifier::impossible()).unwrap();
        assert!(server_final(&ex, client_final("anything", "n=,r=abcdef", &sf).as_bytes(), &v).is_err());
        assert!(server_first(b"p=tls-server-end-point,,n=,r=x", &v).is_err());
        assert!(server_first(b"n,,n=", &v).is_err());
        assert!(Verifier::parse("md5abc").is_none());
    }
}
