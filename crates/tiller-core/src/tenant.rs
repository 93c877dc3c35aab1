//! Tenants (companies) and the three credential pairs each one is issued:
//! `app_key`/`app_secret` for the token API, `sign_key`/`sign_secret` for
//! `X-AIRudder-Sign`, and `access_key`/`access_secret` for nxlink-style signatures.

use base64::Engine as _;
use chrono::{DateTime, Utc};
use rand::{distributions::Alphanumeric, Rng};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::{ids::TenantId, Secret};

/// A stored tenant. The app secret is only a hash (it is only ever compared); the two
/// signing secrets are kept in clear because HMAC verification needs them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tenant {
    pub id: TenantId,
    pub name: String,
    /// The company code that callbacks carry as `company`.
    pub company: String,
    pub app_key: String,
    pub app_secret_hash: String,
    pub sign_key: String,
    pub sign_secret: Secret,
    pub access_key: String,
    pub access_secret: Secret,
    pub created_at: DateTime<Utc>,
}

impl Tenant {
    pub fn app_secret_matches(&self, presented: &str) -> bool {
        let presented = hash_app_secret(presented);
        presented
            .as_bytes()
            .ct_eq(self.app_secret_hash.as_bytes())
            .into()
    }
}

/// Insert input for a tenant.
#[derive(Debug, Clone)]
pub struct NewTenant {
    pub name: String,
    pub company: String,
    pub app_key: String,
    pub app_secret_hash: String,
    pub sign_key: String,
    pub sign_secret: Secret,
    pub access_key: String,
    pub access_secret: Secret,
}

/// The clear credentials, returned once at creation and never again.
#[derive(Debug, Clone)]
pub struct IssuedCredentials {
    pub app_key: String,
    pub app_secret: Secret,
    pub sign_key: String,
    pub sign_secret: Secret,
    pub access_key: String,
    pub access_secret: Secret,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum TenantError {
    #[error("tenant name must be 1 to 100 characters without control characters")]
    InvalidName,
    #[error("tenant name must contain at least one letter or digit")]
    EmptyCompanyCode,
}

impl NewTenant {
    /// Validates the name, derives the company code and generates fresh credentials.
    pub fn generate(name: &str) -> Result<(NewTenant, IssuedCredentials), TenantError> {
        let name = name.trim();
        if name.is_empty() || name.chars().count() > 100 || name.chars().any(char::is_control) {
            return Err(TenantError::InvalidName);
        }
        let company = company_code(name);
        if company.is_empty() {
            return Err(TenantError::EmptyCompanyCode);
        }
        let issued = IssuedCredentials {
            // Shapes follow the published examples: base64-ish app pair, 32-hex sign key,
            // nxlink-style `AK-…` access key. Every one is URL-safe, so it survives being
            // pasted into a query string (nxlink's `appkey`).
            app_key: random_b64(16),
            app_secret: Secret::new(random_b64(16)),
            sign_key: crate::ids::random_hex32(),
            sign_secret: Secret::new(hex::encode(rand::random::<[u8; 32]>())),
            access_key: format!(
                "AK-{}-{}",
                rand::thread_rng().gen_range(1_000_000_000_000_000_000_u64..u64::MAX / 2),
                rand::thread_rng().gen_range(1000..10000)
            ),
            access_secret: Secret::new(random_alnum(32)),
        };
        let new = NewTenant {
            name: name.to_owned(),
            company,
            app_key: issued.app_key.clone(),
            app_secret_hash: hash_app_secret(issued.app_secret.expose()),
            sign_key: issued.sign_key.clone(),
            sign_secret: issued.sign_secret.clone(),
            access_key: issued.access_key.clone(),
            access_secret: issued.access_secret.clone(),
        };
        Ok((new, issued))
    }
}

/// SHA-256 is enough here: app secrets are 128 random bits, so there is nothing for a
/// slow password hash to protect against.
pub fn hash_app_secret(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

/// Lowercase ASCII letters and digits, other runs collapsed to `_`: `Acme Lending` → `acme_lending`.
pub fn company_code(name: &str) -> String {
    let mut code = String::with_capacity(name.len());
    for c in name.chars() {
        if c.is_ascii_alphanumeric() {
            code.push(c.to_ascii_lowercase());
        } else if !code.is_empty() && !code.ends_with('_') {
            code.push('_');
        }
    }
    while code.ends_with('_') {
        code.pop();
    }
    code
}

/// Whether a presented `app_key` names the stored one. Keys issued before keys became
/// URL-safe may hold `+` (standard base64); pasted unencoded into a query string, a `+`
/// arrives as a space, so a space in the presented key also matches a stored `+`.
pub fn app_key_matches(stored: &str, presented: &str) -> bool {
    stored.len() == presented.len()
        && stored
            .bytes()
            .zip(presented.bytes())
            .all(|(s, p)| s == p || (s == b'+' && p == b' '))
}

/// `bytes` random bytes in the URL-safe base64 alphabet (`A–Z a–z 0–9 - _`, no padding):
/// 16 bytes give the 22 characters of the published examples.
fn random_b64(bytes: usize) -> String {
    let raw: Vec<u8> = (0..bytes).map(|_| rand::random::<u8>()).collect();
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(raw)
}

fn random_alnum(len: usize) -> String {
    rand::thread_rng()
        .sample_iter(&Alphanumeric)
        .take(len)
        .map(char::from)
        .collect::<String>()
        .to_ascii_lowercase()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn old_app_keys_match_with_plus_read_as_space() {
        let old = "Mo012+QEsUFj5oFSj0LrEQ";
        assert!(app_key_matches(old, old));
        assert!(app_key_matches(old, "Mo012 QEsUFj5oFSj0LrEQ"));
        assert!(!app_key_matches(old, "Mo012-QEsUFj5oFSj0LrEQ"));
        assert!(
            !app_key_matches("Mo012 QEsUFj5oFSj0LrEQ", old),
            "only the presented side"
        );
        assert!(!app_key_matches(old, "Mo012+QEsUFj5oFSj0LrE"));
        assert!(app_key_matches("a-b_c", "a-b_c"));
    }

    #[test]
    fn company_code_is_a_slug() {
        assert_eq!(company_code("Acme Lending"), "acme_lending");
        assert_eq!(company_code("  --Foo..Bar--  "), "foo_bar");
        assert_eq!(company_code("测试"), "");
    }

    #[test]
    fn generate_validates_names() {
        assert_eq!(
            NewTenant::generate("  ").unwrap_err(),
            TenantError::InvalidName
        );
        assert_eq!(
            NewTenant::generate("a\nb").unwrap_err(),
            TenantError::InvalidName
        );
        assert_eq!(
            NewTenant::generate("测试").unwrap_err(),
            TenantError::EmptyCompanyCode
        );
        assert_eq!(
            NewTenant::generate(&"x".repeat(101)).unwrap_err(),
            TenantError::InvalidName
        );
    }

    #[test]
    fn generated_credentials_have_documented_shapes_and_hash_the_app_secret() {
        let (new, issued) = NewTenant::generate("Acme").unwrap();
        assert_eq!(new.company, "acme");
        assert_eq!(issued.sign_key.len(), 32);
        assert!(issued.access_key.starts_with("AK-"));
        assert_eq!(issued.sign_secret.expose().len(), 64);
        assert_ne!(new.app_secret_hash, issued.app_secret.expose());
        assert_eq!(
            new.app_secret_hash,
            hash_app_secret(issued.app_secret.expose())
        );
        let (_, other) = NewTenant::generate("Acme").unwrap();
        assert_ne!(issued.app_key, other.app_key);
        let url_safe = |s: &str| {
            s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        };
        for _ in 0..200 {
            let (_, i) = NewTenant::generate("Acme").unwrap();
            assert_eq!((i.app_key.len(), i.app_secret.expose().len()), (22, 22));
            for c in [
                &i.app_key,
                i.app_secret.expose(),
                &i.sign_key,
                i.sign_secret.expose(),
                &i.access_key,
                i.access_secret.expose(),
            ] {
                assert!(url_safe(c), "{c} is not URL-safe");
            }
        }
        assert_ne!(issued.access_secret, other.access_secret);
    }
}
