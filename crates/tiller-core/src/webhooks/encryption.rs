//! Optional payload encryption, per endpoint: AES-256-GCM with the endpoint's 32-byte key
//! and a fresh 12-byte nonce per attempt. The encrypted body is
//! `{"algorithm":"AES-256-GCM","nonce":"<base64>","ciphertext":"<base64 of ciphertext‖tag>"}`;
//! signatures cover this encrypted body. (The upstream scheme is undocumented; the choice
//! is in docs/compat.md.)

use aes_gcm::{
    aead::{Aead, KeyInit},
    Aes256Gcm, Nonce,
};
use base64::{engine::general_purpose::STANDARD, Engine as _};
use serde_json::{json, Value};

use crate::Secret;

pub const ALGORITHM: &str = "AES-256-GCM";

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum EncryptionError {
    #[error("the key must be base64 of 32 bytes")]
    BadKey,
    #[error("the envelope is not an AES-256-GCM envelope")]
    BadEnvelope,
    #[error("decryption failed (wrong key or tampered data)")]
    Decrypt,
}

/// A fresh key: base64 of 32 random bytes.
pub fn new_key() -> Secret {
    Secret::new(STANDARD.encode(rand::random::<[u8; 32]>()))
}

fn cipher(key_b64: &str) -> Result<Aes256Gcm, EncryptionError> {
    let key = STANDARD
        .decode(key_b64)
        .map_err(|_| EncryptionError::BadKey)?;
    Aes256Gcm::new_from_slice(&key).map_err(|_| EncryptionError::BadKey)
}

pub fn encrypt(key_b64: &str, plaintext: &[u8]) -> Result<Value, EncryptionError> {
    let nonce: [u8; 12] = rand::random();
    let ciphertext = cipher(key_b64)?
        .encrypt(Nonce::from_slice(&nonce), plaintext)
        .map_err(|_| EncryptionError::Decrypt)?;
    Ok(
        json!({ "algorithm": ALGORITHM, "nonce": STANDARD.encode(nonce), "ciphertext": STANDARD.encode(ciphertext) }),
    )
}

pub fn decrypt(key_b64: &str, envelope: &Value) -> Result<Vec<u8>, EncryptionError> {
    if envelope["algorithm"] != ALGORITHM {
        return Err(EncryptionError::BadEnvelope);
    }
    let field = |name: &str| {
        envelope[name]
            .as_str()
            .and_then(|s| STANDARD.decode(s).ok())
            .ok_or(EncryptionError::BadEnvelope)
    };
    let nonce = field("nonce")?;
    if nonce.len() != 12 {
        return Err(EncryptionError::BadEnvelope);
    }
    cipher(key_b64)?
        .decrypt(Nonce::from_slice(&nonce), field("ciphertext")?.as_slice())
        .map_err(|_| EncryptionError::Decrypt)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_detects_tampering() {
        let key = new_key();
        let env = encrypt(key.expose(), br#"{"event":"message.send"}"#).unwrap();
        assert_eq!(env["algorithm"], "AES-256-GCM");
        assert_eq!(
            decrypt(key.expose(), &env).unwrap(),
            br#"{"event":"message.send"}"#
        );
        assert_eq!(
            decrypt(new_key().expose(), &env),
            Err(EncryptionError::Decrypt)
        );
        let mut tampered = env.clone();
        tampered["nonce"] = json!(STANDARD.encode([0u8; 12]));
        assert_eq!(
            decrypt(key.expose(), &tampered),
            Err(EncryptionError::Decrypt)
        );
        assert_eq!(encrypt("short", b"x"), Err(EncryptionError::BadKey));
        // Two encryptions of one body differ (fresh nonce).
        assert_ne!(
            encrypt(key.expose(), b"x").unwrap(),
            encrypt(key.expose(), b"x").unwrap()
        );
    }
}
