//! Tenants (companies) and the three credential pairs each one is issued:
//! `app_key`/`app_secret` for the token API, `sign_key`/`sign_secret` for
//! `X-AIRudder-Sign`, and `access_key`/`access_secret` for nxlink-style signatures.

use std::sync::Arc;

use base64::Engine as _;
use chrono::{DateTime, Utc};
use rand::{distributions::Alphanumeric, Rng};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::{ids::TenantId, Secret, SharedClock, StoreError, StoreResult, Unique};

mod standing;

pub use standing::{plan_tenant_change, NewSecrets, RotatedSecrets, TenantChange, TenantUpdate};

/// Storage port of tenants; lookups by credential key are how a request finds its tenant.
#[async_trait::async_trait]
pub trait TenantStore: Send + Sync {
    /// Fails with `Conflict(TenantCompany)` when the company code is taken.
    async fn insert_tenant(&self, new: &NewTenant, now: DateTime<Utc>) -> StoreResult<Tenant>;
    async fn tenant(&self, id: TenantId) -> StoreResult<Tenant>;
    async fn tenant_by_app_key(&self, app_key: &str) -> StoreResult<Tenant>;
    async fn tenant_by_sign_key(&self, sign_key: &str) -> StoreResult<Tenant>;
    async fn tenant_by_access_key(&self, access_key: &str) -> StoreResult<Tenant>;
    /// Oldest first.
    async fn list_tenants(&self) -> StoreResult<Vec<Tenant>>;
    /// Reads the tenant under a lock, writes what [`plan_tenant_change`] decides and tells
    /// every node's credential cache; returns the tenant as it now is.
    async fn change_tenant(
        &self,
        id: TenantId,
        change: &TenantChange,
        now: DateTime<Utc>,
    ) -> StoreResult<Tenant>;
}

/// A shared store serves the port too, so a service can hold this part of `DynStore` alone
/// (`Arc::new(store.clone())`): the language only upcasts trait objects from Rust 1.86.
#[async_trait::async_trait]
impl<S: TenantStore + ?Sized> TenantStore for Arc<S> {
    async fn insert_tenant(&self, new: &NewTenant, now: DateTime<Utc>) -> StoreResult<Tenant> {
        (**self).insert_tenant(new, now).await
    }
    async fn tenant(&self, id: TenantId) -> StoreResult<Tenant> {
        (**self).tenant(id).await
    }
    async fn tenant_by_app_key(&self, app_key: &str) -> StoreResult<Tenant> {
        (**self).tenant_by_app_key(app_key).await
    }
    async fn tenant_by_sign_key(&self, sign_key: &str) -> StoreResult<Tenant> {
        (**self).tenant_by_sign_key(sign_key).await
    }
    async fn tenant_by_access_key(&self, access_key: &str) -> StoreResult<Tenant> {
        (**self).tenant_by_access_key(access_key).await
    }
    async fn list_tenants(&self) -> StoreResult<Vec<Tenant>> {
        (**self).list_tenants().await
    }
    async fn change_tenant(
        &self,
        id: TenantId,
        change: &TenantChange,
        now: DateTime<Utc>,
    ) -> StoreResult<Tenant> {
        (**self).change_tenant(id, change, now).await
    }
}

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
    /// Set while the tenant is disabled ([`Tenant::is_disabled`]).
    pub disabled_at: Option<DateTime<Utc>>,
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

#[derive(Debug, thiserror::Error)]
pub enum TenantError {
    #[error("tenant name must be 1 to 100 characters without control characters")]
    InvalidName,
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Tenants for the HTTP API and the CLI: creation by [`create_tenant`], the list, one
/// tenant. It holds the tenant port only.
#[derive(Clone)]
pub struct Tenants {
    store: Arc<dyn TenantStore>,
    clock: SharedClock,
}

impl Tenants {
    pub fn new(store: Arc<dyn TenantStore>, clock: SharedClock) -> Self {
        Self { store, clock }
    }

    /// A new tenant with a unique company code; the credentials are shown this once.
    pub async fn create(&self, name: &str) -> Result<(Tenant, IssuedCredentials), TenantError> {
        create_tenant(&*self.store, name, self.clock.now()).await
    }

    /// Oldest first.
    pub async fn list(&self) -> StoreResult<Vec<Tenant>> {
        self.store.list_tenants().await
    }

    /// `NotFound(Tenant)` for an unknown id.
    pub async fn get(&self, id: TenantId) -> StoreResult<Tenant> {
        self.store.tenant(id).await
    }

    /// Refuses the tenant's credentials from now on and revokes its tokens.
    pub async fn disable(&self, id: TenantId) -> StoreResult<Tenant> {
        self.store
            .change_tenant(id, &TenantChange::Disable, self.clock.now())
            .await
    }

    /// Accepts the tenant's credentials again.
    pub async fn enable(&self, id: TenantId) -> StoreResult<Tenant> {
        self.store
            .change_tenant(id, &TenantChange::Enable, self.clock.now())
            .await
    }

    /// New app, sign and access secrets (shown this once); the old ones and the tenant's
    /// tokens stop working.
    pub async fn rotate(&self, id: TenantId) -> StoreResult<(Tenant, RotatedSecrets)> {
        let (stored, clear) = NewSecrets::generate();
        let tenant = self
            .store
            .change_tenant(id, &TenantChange::Rotate(stored), self.clock.now())
            .await?;
        Ok((tenant, clear))
    }
}

/// How many numbered codes (`acme_2` … `acme_50`) are tried before a random suffix.
const NUMBERED_CODES: u32 = 50;

/// Creates a tenant: validates the name, derives a company code that no other tenant has
/// and issues fresh credentials. A code already taken gets a suffix (`acme_lending_2`),
/// so two names never merge into one company.
pub async fn create_tenant<S: TenantStore + ?Sized>(
    store: &S,
    name: &str,
    now: DateTime<Utc>,
) -> Result<(Tenant, IssuedCredentials), TenantError> {
    let (mut new, issued) = NewTenant::generate(name)?;
    let base = new.company.clone();
    for attempt in 1..=MAX_CODE_TRIES {
        match store.insert_tenant(&new, now).await {
            Err(StoreError::Conflict(Unique::TenantCompany)) => {
                new.company = company_code_candidate(&base, attempt + 1);
            }
            other => return Ok((other?, issued)),
        }
    }
    Err(StoreError::Conflict(Unique::TenantCompany).into())
}

/// How many codes are tried before giving up: the numbered ones and ten random suffixes.
const MAX_CODE_TRIES: u32 = NUMBERED_CODES + 10;

/// The code tried at `attempt` (1-based) for a base code: the base itself, then
/// `base_2` … `base_50`, then `base_` and 8 random hex digits.
pub fn company_code_candidate(base: &str, attempt: u32) -> String {
    match attempt {
        0 | 1 => base.to_owned(),
        n if n <= NUMBERED_CODES => format!("{base}_{n}"),
        _ => format!("{base}_{}", hex::encode(rand::random::<[u8; 4]>())),
    }
}

impl NewTenant {
    /// Validates the name, derives the company code and generates fresh credentials.
    pub fn generate(name: &str) -> Result<(NewTenant, IssuedCredentials), TenantError> {
        let name = name.trim();
        if name.is_empty() || name.chars().count() > 100 || name.chars().any(char::is_control) {
            return Err(TenantError::InvalidName);
        }
        let company = company_code(name);
        let issued = IssuedCredentials {
            // Shapes follow the published examples: a 22-character app pair in base64's
            // URL-safe alphabet (it survives a query string unencoded), 32-hex sign key,
            // nxlink-style `AK-…` access key.
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

/// The longest company code derived from a name (a suffix may follow).
const MAX_CODE_LEN: usize = 48;

/// The name transliterated to ASCII (`顺丰 Express` → `Shun Feng Express`), then lowercase
/// letters and digits with other runs collapsed to `_`: `shun_feng_express`. A name with
/// nothing to transliterate gives `tenant`.
pub fn company_code(name: &str) -> String {
    let ascii = deunicode::deunicode_with_tofu(name, "_");
    let mut code = String::with_capacity(ascii.len());
    for c in ascii.chars() {
        if code.len() >= MAX_CODE_LEN {
            break;
        }
        if c.is_ascii_alphanumeric() {
            code.push(c.to_ascii_lowercase());
        } else if !code.is_empty() && !code.ends_with('_') {
            code.push('_');
        }
    }
    while code.ends_with('_') {
        code.pop();
    }
    if code.is_empty() {
        "tenant".to_owned()
    } else {
        code
    }
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
    }

    #[test]
    fn company_codes_keep_non_latin_names_apart() {
        assert_eq!(company_code("客服中心"), "ke_fu_zhong_xin");
        assert_eq!(company_code("顺丰 Express"), "shun_feng_express");
        assert_eq!(company_code("中通 Express"), "zhong_tong_express");
        assert_eq!(company_code("Café Müller"), "cafe_muller");
        assert_eq!(company_code("\u{e000}\u{e001}"), "tenant");
        let long = company_code(&"长".repeat(100));
        assert!(long.len() <= MAX_CODE_LEN && !long.ends_with('_'), "{long}");
    }

    #[test]
    fn taken_codes_get_a_numbered_then_a_random_suffix() {
        assert_eq!(company_code_candidate("acme", 1), "acme");
        assert_eq!(company_code_candidate("acme", 2), "acme_2");
        assert_eq!(company_code_candidate("acme", 50), "acme_50");
        let random = company_code_candidate("acme", 51);
        assert!(random.starts_with("acme_") && random.len() == "acme_".len() + 8);
        assert_ne!(random, company_code_candidate("acme", 51));
    }

    #[test]
    fn credentials_use_a_url_safe_alphabet() {
        for _ in 0..200 {
            let (_, issued) = NewTenant::generate("Acme").unwrap();
            for value in [
                &issued.app_key,
                issued.app_secret.expose(),
                &issued.sign_key,
            ] {
                assert!(
                    value
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'),
                    "{value}"
                );
            }
            assert_eq!(issued.app_key.len(), 22);
        }
    }

    #[test]
    fn an_old_app_key_with_plus_survives_an_unencoded_query() {
        let old = "Mo012+QEsUFj5oFSj0LrEQ";
        assert!(app_key_matches(old, old));
        assert!(app_key_matches(old, "Mo012 QEsUFj5oFSj0LrEQ"));
        assert!(!app_key_matches(old, "Mo012-QEsUFj5oFSj0LrEQ"));
        assert!(!app_key_matches("new_key-abc", "new key-abc"));
    }

    #[test]
    fn generate_validates_names() {
        for bad in ["  ", "a\nb", &"x".repeat(101)] {
            assert!(matches!(
                NewTenant::generate(bad),
                Err(TenantError::InvalidName)
            ));
        }
        assert_eq!(NewTenant::generate("测试").unwrap().0.company, "ce_shi");
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
