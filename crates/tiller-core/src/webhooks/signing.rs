//! Outbound webhook signatures. Each delivery carries both:
//! - `X-AIRudder-Sign`: lowercase hex HMAC-SHA256 of the body, keyed with the endpoint's
//!   newest secret (its full text), as for inbound calls;
//! - the Standard Webhooks headers `webhook-id` (the event id), `webhook-timestamp` (unix
//!   seconds) and `webhook-signature` (`v1,<base64 HMAC-SHA256 of "{id}.{timestamp}.{body}">`
//!   for every active secret, space-separated), so receivers can verify with the public
//!   `standardwebhooks` libraries. Secrets look like `whsec_<base64>`; the HMAC key is the
//!   base64-decoded part.

use base64::{engine::general_purpose::STANDARD, Engine as _};
use hmac::{Hmac, Mac};
use sha2::Sha256;
use subtle::ConstantTimeEq;

use crate::Secret;

type HmacSha256 = Hmac<Sha256>;

const PREFIX: &str = "whsec_";

/// A fresh endpoint secret: `whsec_` and 24 random bytes in base64.
pub fn new_secret() -> Secret {
    let bytes: [u8; 24] = rand::random();
    Secret::new(format!("{PREFIX}{}", STANDARD.encode(bytes)))
}

/// The HMAC key of a Standard Webhooks secret.
fn key_bytes(secret: &str) -> Vec<u8> {
    let encoded = secret.strip_prefix(PREFIX).unwrap_or(secret);
    STANDARD
        .decode(encoded)
        .unwrap_or_else(|_| secret.as_bytes().to_vec())
}

fn hmac(key: &[u8], parts: &[&[u8]]) -> Vec<u8> {
    let mut mac = HmacSha256::new_from_slice(key).expect("HMAC takes any key size");
    for p in parts {
        mac.update(p);
    }
    mac.finalize().into_bytes().to_vec()
}

/// The signature headers of one delivery attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignatureHeaders {
    pub webhook_id: String,
    pub webhook_timestamp: String,
    pub webhook_signature: String,
    pub airudder_sign: String,
}

/// Signs `body` for `event_id` at `timestamp` with every active secret (newest first).
pub fn sign(event_id: &str, timestamp: i64, body: &[u8], secrets: &[Secret]) -> SignatureHeaders {
    let ts = timestamp.to_string();
    let webhook_signature = secrets
        .iter()
        .map(|s| {
            let sig = hmac(
                &key_bytes(s.expose()),
                &[event_id.as_bytes(), b".", ts.as_bytes(), b".", body],
            );
            format!("v1,{}", STANDARD.encode(sig))
        })
        .collect::<Vec<_>>()
        .join(" ");
    let airudder_sign = secrets
        .first()
        .map(|s| hex::encode(hmac(s.expose().as_bytes(), &[body])))
        .unwrap_or_default();
    SignatureHeaders {
        webhook_id: event_id.to_owned(),
        webhook_timestamp: ts,
        webhook_signature,
        airudder_sign,
    }
}

/// Verifies a `webhook-signature` header against one secret, as a receiver would.
pub fn verify(secret: &str, event_id: &str, timestamp: &str, body: &[u8], header: &str) -> bool {
    let expected = hmac(
        &key_bytes(secret),
        &[event_id.as_bytes(), b".", timestamp.as_bytes(), b".", body],
    );
    header
        .split(' ')
        .filter_map(|sig| sig.strip_prefix("v1,"))
        .any(|sig| {
            STANDARD
                .decode(sig)
                .is_ok_and(|given| bool::from(given.as_slice().ct_eq(&expected)))
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    // The test vector published with the Standard Webhooks specification.
    const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    const ID: &str = "msg_p5jXN8AQM9LWM0D4loKWxJek";
    const TS: i64 = 1_614_265_330;
    const BODY: &[u8] = br#"{"test": 2432232314}"#;

    #[test]
    fn matches_the_standard_webhooks_vector() {
        let h = sign(ID, TS, BODY, &[Secret::new(SECRET)]);
        assert_eq!(
            h.webhook_signature,
            "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
        );
        assert_eq!(h.webhook_id, ID);
        assert_eq!(h.webhook_timestamp, "1614265330");
        assert!(verify(SECRET, ID, "1614265330", BODY, &h.webhook_signature));
        assert!(!verify(
            SECRET,
            ID,
            "1614265331",
            BODY,
            &h.webhook_signature
        ));
    }

    #[test]
    fn every_active_secret_signs_and_the_airudder_header_uses_the_newest() {
        let (new, old) = (new_secret(), new_secret());
        assert!(new.expose().starts_with("whsec_"));
        let h = sign("e1", 1, b"{}", &[new.clone(), old.clone()]);
        assert_eq!(h.webhook_signature.split(' ').count(), 2);
        assert!(verify(old.expose(), "e1", "1", b"{}", &h.webhook_signature));
        assert!(verify(new.expose(), "e1", "1", b"{}", &h.webhook_signature));
        assert_eq!(
            h.airudder_sign,
            crate::signing::airudder::sign(new.expose(), None, b"{}")
        );
    }
}
