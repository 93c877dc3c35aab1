//! A tenant's standing and credentials after it was created: disabling stops every
//! credential at once, enabling restores them, rotating replaces the three secrets (the
//! keys stay, so an integrator changes one value per pair). Disabling and rotating also
//! revoke the tenant's API tokens: a token lives 24 hours and would outlive the change.
//!
//! The store reads the tenant under a lock, asks [`plan_tenant_change`] what to write and
//! writes it; the nodes' credential caches are told (PostgreSQL notifies every node), and
//! bounded by `auth.credential_cache_secs` where nothing can tell them.

use chrono::{DateTime, Utc};

use super::{hash_app_secret, random_alnum, random_b64, Tenant};
use crate::Secret;

/// What an operator asks of a tenant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TenantChange {
    Disable,
    Enable,
    Rotate(NewSecrets),
}

/// Fresh secrets for a rotation, as the store keeps them (the app secret only hashed).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewSecrets {
    pub app_secret_hash: String,
    pub sign_secret: Secret,
    pub access_secret: Secret,
}

/// The clear secrets of a rotation, shown once.
#[derive(Debug, Clone)]
pub struct RotatedSecrets {
    pub app_secret: Secret,
    pub sign_secret: Secret,
    pub access_secret: Secret,
}

impl NewSecrets {
    /// Secrets of the shapes `tiller tenant create` issues.
    pub fn generate() -> (NewSecrets, RotatedSecrets) {
        let clear = RotatedSecrets {
            app_secret: Secret::new(random_b64(16)),
            sign_secret: Secret::new(hex::encode(rand::random::<[u8; 32]>())),
            access_secret: Secret::new(random_alnum(32)),
        };
        let stored = NewSecrets {
            app_secret_hash: hash_app_secret(clear.app_secret.expose()),
            sign_secret: clear.sign_secret.clone(),
            access_secret: clear.access_secret.clone(),
        };
        (stored, clear)
    }
}

/// What the store writes for a change: the tenant's whole credential state, and whether
/// its API tokens go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TenantUpdate {
    pub disabled_at: Option<DateTime<Utc>>,
    pub app_secret_hash: String,
    pub sign_secret: Secret,
    pub access_secret: Secret,
    pub revoke_tokens: bool,
}

/// The rule: disabling keeps the first disabling's time and revokes the tokens; enabling
/// only clears the mark (the revoked tokens stay revoked); rotating replaces the secrets,
/// revokes the tokens and leaves the standing as it is.
pub fn plan_tenant_change(
    current: &Tenant,
    change: &TenantChange,
    now: DateTime<Utc>,
) -> TenantUpdate {
    let mut update = TenantUpdate {
        disabled_at: current.disabled_at,
        app_secret_hash: current.app_secret_hash.clone(),
        sign_secret: current.sign_secret.clone(),
        access_secret: current.access_secret.clone(),
        revoke_tokens: false,
    };
    match change {
        TenantChange::Disable => {
            update.disabled_at = Some(current.disabled_at.unwrap_or(now));
            update.revoke_tokens = true;
        }
        TenantChange::Enable => update.disabled_at = None,
        TenantChange::Rotate(secrets) => {
            update.app_secret_hash.clone_from(&secrets.app_secret_hash);
            update.sign_secret = secrets.sign_secret.clone();
            update.access_secret = secrets.access_secret.clone();
            update.revoke_tokens = true;
        }
    }
    update
}

impl Tenant {
    /// A disabled tenant's credentials are refused everywhere, after they are checked (so
    /// a caller without them learns nothing of the tenant's standing).
    pub fn is_disabled(&self) -> bool {
        self.disabled_at.is_some()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tenant::NewTenant;

    fn tenant(disabled_at: Option<DateTime<Utc>>) -> Tenant {
        let (new, _) = NewTenant::generate("Acme").unwrap();
        Tenant {
            id: crate::TenantId(1),
            name: new.name,
            company: new.company,
            app_key: new.app_key,
            app_secret_hash: new.app_secret_hash,
            sign_key: new.sign_key,
            sign_secret: new.sign_secret,
            access_key: new.access_key,
            access_secret: new.access_secret,
            created_at: DateTime::default(),
            disabled_at,
        }
    }

    fn at(secs: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(secs, 0).unwrap()
    }

    #[test]
    fn disabling_marks_once_and_revokes_tokens() {
        let t = tenant(None);
        let plan = plan_tenant_change(&t, &TenantChange::Disable, at(100));
        assert_eq!(plan.disabled_at, Some(at(100)));
        assert!(plan.revoke_tokens);
        assert_eq!(plan.sign_secret, t.sign_secret, "secrets stay");
        let again = plan_tenant_change(&tenant(Some(at(50))), &TenantChange::Disable, at(100));
        assert_eq!(again.disabled_at, Some(at(50)), "the first time is kept");
    }

    #[test]
    fn enabling_clears_the_mark_and_keeps_everything_else() {
        let t = tenant(Some(at(50)));
        let plan = plan_tenant_change(&t, &TenantChange::Enable, at(100));
        assert_eq!(plan.disabled_at, None);
        assert!(!plan.revoke_tokens);
        assert_eq!(plan.app_secret_hash, t.app_secret_hash);
    }

    #[test]
    fn rotating_replaces_the_three_secrets_and_revokes_tokens() {
        let t = tenant(Some(at(50)));
        let (stored, clear) = NewSecrets::generate();
        let plan = plan_tenant_change(&t, &TenantChange::Rotate(stored.clone()), at(100));
        assert_eq!(plan.disabled_at, Some(at(50)), "the standing stays");
        assert!(plan.revoke_tokens);
        assert_eq!(
            plan.app_secret_hash,
            hash_app_secret(clear.app_secret.expose())
        );
        assert_ne!(plan.app_secret_hash, t.app_secret_hash);
        assert_eq!(plan.sign_secret, clear.sign_secret);
        assert_ne!(plan.sign_secret, t.sign_secret);
        assert_eq!(plan.access_secret, clear.access_secret);
        assert_eq!(clear.sign_secret.expose().len(), 64);
        assert_eq!(clear.app_secret.expose().len(), 22);
    }

    #[test]
    fn only_a_marked_tenant_is_disabled() {
        assert!(!tenant(None).is_disabled());
        assert!(tenant(Some(at(1))).is_disabled());
    }
}
