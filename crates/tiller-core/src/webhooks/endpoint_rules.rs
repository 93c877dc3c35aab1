//! What an endpoint update and a secret rotation write, decided over what the store read.
//! The store applies the plan with plain statements, in the transaction that read it.

use chrono::{DateTime, Utc};

use super::{Endpoint, EndpointPatch};

/// An endpoint's columns after an update, decided by [`plan_endpoint_update`].
#[derive(Debug, Clone, PartialEq)]
pub struct EndpointUpdate {
    pub url: String,
    pub event_types: Option<Vec<String>>,
    pub enabled: bool,
    pub failing_since: Option<DateTime<Utc>>,
    pub disabled_reason: Option<String>,
    pub updated_at: DateTime<Utc>,
}

/// A patch changes only what it names. Enabling a disabled endpoint clears its failure run
/// and the reason it was disabled; re-enabling an enabled one changes neither, so saving a
/// form cannot postpone an automatic disable.
pub fn plan_endpoint_update(
    current: &Endpoint,
    patch: &EndpointPatch,
    now: DateTime<Utc>,
) -> EndpointUpdate {
    let enabling = patch.enabled == Some(true) && !current.enabled;
    let (failing_since, disabled_reason) = if enabling {
        (None, None)
    } else {
        (current.failing_since, current.disabled_reason.clone())
    };
    EndpointUpdate {
        url: patch.url.clone().unwrap_or_else(|| current.url.clone()),
        event_types: patch
            .event_types
            .clone()
            .unwrap_or_else(|| current.event_types.clone()),
        enabled: patch.enabled.unwrap_or(current.enabled),
        failing_since,
        disabled_reason,
        updated_at: now,
    }
}

/// A signing secret as a rotation finds it: the store's key for it, and its expiry
/// (`None` while it signs with no end).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SecretLife {
    pub id: i64,
    pub expires_at: Option<DateTime<Utc>>,
}

/// What a rotation does to the endpoint's existing secrets, decided by [`plan_rotation`];
/// the store then adds the new secret, with no expiry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RotationPlan {
    /// Secrets that now expire at `expires_at`.
    pub expire: Vec<i64>,
    pub expires_at: DateTime<Utc>,
    /// Secrets expired at `now`, those the rotation ends at once included.
    pub delete: Vec<i64>,
}

/// The older secrets keep signing until `old_until`, but a rotation never extends a
/// secret's life: one already due to expire before `old_until` keeps its earlier expiry.
/// Secrets expired at `now` are deleted.
pub fn plan_rotation(
    secrets: &[SecretLife],
    old_until: DateTime<Utc>,
    now: DateTime<Utc>,
) -> RotationPlan {
    let mut plan = RotationPlan {
        expire: Vec::new(),
        expires_at: old_until,
        delete: Vec::new(),
    };
    for s in secrets {
        let expires_at = match s.expires_at {
            Some(at) if at <= now => at,
            Some(at) if at <= old_until => at,
            _ => old_until,
        };
        if expires_at <= now {
            plan.delete.push(s.id);
        } else if Some(expires_at) != s.expires_at {
            plan.expire.push(s.id);
        }
    }
    plan
}

#[cfg(test)]
mod tests {
    use chrono::Duration;

    use super::*;
    use crate::{clock::from_millis, TenantId};

    fn t(minutes: i64) -> DateTime<Utc> {
        from_millis(1_744_699_260_000) + Duration::minutes(minutes)
    }

    fn endpoint(enabled: bool) -> Endpoint {
        Endpoint {
            id: "ep".into(),
            tenant: TenantId(1),
            url: "https://a.test/hook".into(),
            event_types: Some(vec!["message.send".into()]),
            secrets: Vec::new(),
            enabled,
            encryption_key: None,
            failing_since: Some(t(0)),
            disabled_reason: (!enabled).then(|| "failing since then".into()),
            created_at: t(0),
            updated_at: t(0),
        }
    }

    fn unchanged(e: &Endpoint, now: DateTime<Utc>) -> EndpointUpdate {
        EndpointUpdate {
            url: e.url.clone(),
            event_types: e.event_types.clone(),
            enabled: e.enabled,
            failing_since: e.failing_since,
            disabled_reason: e.disabled_reason.clone(),
            updated_at: now,
        }
    }

    #[test]
    fn an_empty_patch_only_touches_updated_at() {
        for e in [endpoint(true), endpoint(false)] {
            let plan = plan_endpoint_update(&e, &EndpointPatch::default(), t(9));
            assert_eq!(plan, unchanged(&e, t(9)));
        }
    }

    #[test]
    fn a_patch_changes_only_what_it_names() {
        let e = endpoint(true);
        let url = EndpointPatch {
            url: Some("https://b.test/hook".into()),
            ..EndpointPatch::default()
        };
        let plan = plan_endpoint_update(&e, &url, t(1));
        assert_eq!(plan.url, "https://b.test/hook");
        assert_eq!(plan.event_types, e.event_types);
        let every = EndpointPatch {
            event_types: Some(None),
            ..EndpointPatch::default()
        };
        let plan = plan_endpoint_update(&e, &every, t(1));
        assert_eq!(
            (plan.url.as_str(), plan.event_types),
            (e.url.as_str(), None)
        );
        let some = EndpointPatch {
            event_types: Some(Some(vec!["session.end".into()])),
            ..EndpointPatch::default()
        };
        let plan = plan_endpoint_update(&e, &some, t(1));
        assert_eq!(plan.event_types, Some(vec!["session.end".to_owned()]));
    }

    #[test]
    fn enabling_a_disabled_endpoint_starts_afresh() {
        let on = EndpointPatch {
            enabled: Some(true),
            ..EndpointPatch::default()
        };
        let plan = plan_endpoint_update(&endpoint(false), &on, t(1));
        assert_eq!(
            (plan.enabled, plan.failing_since, plan.disabled_reason),
            (true, None, None)
        );
    }

    #[test]
    fn re_enabling_an_enabled_endpoint_keeps_its_failure_run() {
        let e = endpoint(true);
        let on = EndpointPatch {
            enabled: Some(true),
            ..EndpointPatch::default()
        };
        assert_eq!(plan_endpoint_update(&e, &on, t(1)), unchanged(&e, t(1)));
    }

    #[test]
    fn disabling_by_hand_keeps_the_run_and_gives_no_reason() {
        let e = endpoint(true);
        let off = EndpointPatch {
            enabled: Some(false),
            ..EndpointPatch::default()
        };
        let plan = plan_endpoint_update(&e, &off, t(1));
        assert_eq!(
            (plan.enabled, plan.failing_since, plan.disabled_reason),
            (false, Some(t(0)), None)
        );
        // Disabling an endpoint disabled automatically keeps its reason.
        let plan = plan_endpoint_update(&endpoint(false), &off, t(1));
        assert_eq!(plan, unchanged(&endpoint(false), t(1)));
    }

    fn secret(id: i64, expires_at: Option<DateTime<Utc>>) -> SecretLife {
        SecretLife { id, expires_at }
    }

    #[test]
    fn older_secrets_keep_signing_for_the_grace() {
        let plan = plan_rotation(&[secret(1, None)], t(60), t(0));
        assert_eq!(
            plan,
            RotationPlan {
                expire: vec![1],
                expires_at: t(60),
                delete: Vec::new(),
            }
        );
    }

    #[test]
    fn a_rotation_never_extends_a_secrets_life() {
        let secrets = [
            secret(1, Some(t(30))),
            secret(2, Some(t(60))),
            secret(3, Some(t(90))),
            secret(4, None),
        ];
        let plan = plan_rotation(&secrets, t(60), t(10));
        assert_eq!((plan.expire, plan.delete), (vec![3, 4], Vec::new()));
    }

    #[test]
    fn expired_secrets_are_deleted() {
        let secrets = [
            secret(1, Some(t(-5))),
            secret(2, Some(t(0))),
            secret(3, None),
        ];
        let plan = plan_rotation(&secrets, t(60), t(0));
        assert_eq!((plan.expire, plan.delete), (vec![3], vec![1, 2]));
    }

    #[test]
    fn with_no_grace_the_older_secrets_stop_at_once() {
        let secrets = [secret(1, Some(t(30))), secret(2, None)];
        let plan = plan_rotation(&secrets, t(0), t(0));
        assert_eq!((plan.expire, plan.delete), (Vec::new(), vec![1, 2]));
        assert!(plan_rotation(&[], t(0), t(0)).delete.is_empty());
    }
}
