//! The rules a channel's settings meet before it is stored. Each failure names the field,
//! so the API can answer with it and the CLI can print it.

use chrono::{DateTime, Utc};

use super::{Channel, ChannelId, ChannelKind, WhatsAppChannel};
use crate::{Secret, TenantId};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ChannelError {
    #[error("phone_number_id must be 1 to 32 digits (the Graph API id, not the phone number)")]
    PhoneNumberId,
    #[error("waba_id must be 1 to 32 digits")]
    WabaId,
    #[error("display_number must be a phone number: 6 to 20 digits, with optional +, spaces, '-', '(' and ')'")]
    DisplayNumber,
    #[error("{0} must not be empty")]
    EmptySecret(&'static str),
    #[error("{0} must not contain spaces or control characters")]
    SecretFormat(&'static str),
    #[error("graph_version must look like v21.0, not {0:?}")]
    GraphVersion(String),
    #[error("graph_url must be an http or https URL with a host and no query, fragment or credentials: {0}")]
    GraphUrl(String),
    #[error("a custom channel's name must be 1 to 64 letters, digits, '_', '-' or '.'")]
    CustomName,
}

impl Channel {
    /// A new channel with a fresh id, its settings checked and normalised by
    /// [`check_channel_kind`].
    pub fn create(
        tenant_id: TenantId,
        kind: ChannelKind,
        now: DateTime<Utc>,
    ) -> Result<Self, ChannelError> {
        Ok(Self {
            id: ChannelId::generate(),
            tenant_id,
            kind: check_channel_kind(kind)?,
            created_at: now,
        })
    }
}

/// Checks a channel's settings and returns them normalised: ids and the display number
/// trimmed, the Graph URL without its trailing slash, an empty URL or version read as the
/// default.
pub fn check_channel_kind(kind: ChannelKind) -> Result<ChannelKind, ChannelError> {
    match kind {
        ChannelKind::WhatsApp(wa) => check_whatsapp(wa).map(ChannelKind::WhatsApp),
        ChannelKind::Custom { name } => {
            let name = name.trim();
            let ok = (1..=64).contains(&name.len())
                && name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'));
            if ok {
                Ok(ChannelKind::Custom {
                    name: name.to_owned(),
                })
            } else {
                Err(ChannelError::CustomName)
            }
        }
    }
}

fn check_whatsapp(wa: WhatsAppChannel) -> Result<WhatsAppChannel, ChannelError> {
    let phone_number_id = digits(&wa.phone_number_id).ok_or(ChannelError::PhoneNumberId)?;
    let waba_id = digits(&wa.waba_id).ok_or(ChannelError::WabaId)?;
    let display_number = display_number(&wa.display_number)?;
    check_secret("access_token", &wa.access_token)?;
    check_secret("app_secret", &wa.app_secret)?;
    check_secret("verify_token", &wa.verify_token)?;
    let graph_url = match wa.graph_url.as_deref().map(str::trim) {
        None | Some("") => None,
        Some(url) => Some(graph_url(url)?),
    };
    let graph_version = match wa.graph_version.as_deref().map(str::trim) {
        None | Some("") => None,
        Some(v) if is_graph_version(v) => Some(v.to_owned()),
        Some(v) => return Err(ChannelError::GraphVersion(v.to_owned())),
    };
    Ok(WhatsAppChannel {
        phone_number_id,
        waba_id,
        display_number,
        graph_url,
        graph_version,
        ..wa
    })
}

fn digits(raw: &str) -> Option<String> {
    let raw = raw.trim();
    ((1..=32).contains(&raw.len()) && raw.bytes().all(|b| b.is_ascii_digit()))
        .then(|| raw.to_owned())
}

fn display_number(raw: &str) -> Result<String, ChannelError> {
    let raw = raw.trim();
    let allowed = raw
        .chars()
        .all(|c| c.is_ascii_digit() || matches!(c, '+' | ' ' | '-' | '(' | ')'));
    let count = raw.chars().filter(char::is_ascii_digit).count();
    let plus_first = raw.rfind('+').is_none_or(|i| i == 0);
    if allowed && plus_first && (6..=20).contains(&count) {
        Ok(raw.to_owned())
    } else {
        Err(ChannelError::DisplayNumber)
    }
}

fn check_secret(field: &'static str, secret: &Secret) -> Result<(), ChannelError> {
    let value = secret.expose();
    if value.is_empty() {
        return Err(ChannelError::EmptySecret(field));
    }
    if value.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(ChannelError::SecretFormat(field));
    }
    Ok(())
}

/// `v` then a major and a minor number: `v21.0`, `v9.1`.
fn is_graph_version(v: &str) -> bool {
    let Some((major, minor)) = v.strip_prefix('v').and_then(|rest| rest.split_once('.')) else {
        return false;
    };
    let number = |s: &str| (1..=3).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_digit());
    number(major) && number(minor)
}

fn graph_url(raw: &str) -> Result<String, ChannelError> {
    let bad = |why: &str| ChannelError::GraphUrl(format!("{raw:?}: {why}"));
    let parsed = url::Url::parse(raw).map_err(|e| bad(&e.to_string()))?;
    if !matches!(parsed.scheme(), "http" | "https") {
        return Err(bad("scheme is not http or https"));
    }
    if parsed.host().is_none() {
        return Err(bad("no host"));
    }
    if parsed.query().is_some() || parsed.fragment().is_some() {
        return Err(bad("has a query or fragment"));
    }
    if !parsed.username().is_empty() || parsed.password().is_some() {
        return Err(bad("has credentials"));
    }
    Ok(raw.trim_end_matches('/').to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::channels::{ChannelIdError, ChannelKindView};

    fn whatsapp() -> WhatsAppChannel {
        WhatsAppChannel {
            phone_number_id: " 106540352242922 ".into(),
            waba_id: "102290129340398".into(),
            display_number: "+1 555-078-3881".into(),
            access_token: Secret::new("EAAG-token"),
            app_secret: Secret::new("app-secret"),
            verify_token: Secret::new("verify-me"),
            graph_url: Some("http://127.0.0.1:8089/".into()),
            graph_version: Some("v21.0".into()),
        }
    }

    fn check(wa: WhatsAppChannel) -> Result<WhatsAppChannel, ChannelError> {
        match check_channel_kind(ChannelKind::WhatsApp(wa))? {
            ChannelKind::WhatsApp(wa) => Ok(wa),
            ChannelKind::Custom { .. } => unreachable!(),
        }
    }

    #[test]
    fn a_whatsapp_channel_is_normalised() {
        let wa = check(whatsapp()).unwrap();
        assert_eq!(wa.phone_number_id, "106540352242922");
        assert_eq!(wa.graph_url.as_deref(), Some("http://127.0.0.1:8089"));
        assert_eq!(
            wa.messages_url(),
            "http://127.0.0.1:8089/v21.0/106540352242922/messages"
        );
        assert_eq!(wa.media_url("4490"), "http://127.0.0.1:8089/v21.0/4490");
        let defaults = check(WhatsAppChannel {
            graph_url: Some(String::new()),
            graph_version: None,
            ..whatsapp()
        })
        .unwrap();
        assert_eq!(
            defaults.messages_url(),
            "https://graph.facebook.com/v21.0/106540352242922/messages"
        );
    }

    #[test]
    fn each_bad_field_is_named() {
        let cases: Vec<(WhatsAppChannel, ChannelError)> = vec![
            (
                WhatsAppChannel {
                    phone_number_id: "+15550783881".into(),
                    ..whatsapp()
                },
                ChannelError::PhoneNumberId,
            ),
            (
                WhatsAppChannel {
                    waba_id: String::new(),
                    ..whatsapp()
                },
                ChannelError::WabaId,
            ),
            (
                WhatsAppChannel {
                    display_number: "555".into(),
                    ..whatsapp()
                },
                ChannelError::DisplayNumber,
            ),
            (
                WhatsAppChannel {
                    display_number: "1555+0783881".into(),
                    ..whatsapp()
                },
                ChannelError::DisplayNumber,
            ),
            (
                WhatsAppChannel {
                    access_token: Secret::new(""),
                    ..whatsapp()
                },
                ChannelError::EmptySecret("access_token"),
            ),
            (
                WhatsAppChannel {
                    app_secret: Secret::new("two words"),
                    ..whatsapp()
                },
                ChannelError::SecretFormat("app_secret"),
            ),
            (
                WhatsAppChannel {
                    verify_token: Secret::new(""),
                    ..whatsapp()
                },
                ChannelError::EmptySecret("verify_token"),
            ),
            (
                WhatsAppChannel {
                    graph_version: Some("21.0".into()),
                    ..whatsapp()
                },
                ChannelError::GraphVersion("21.0".into()),
            ),
            (
                WhatsAppChannel {
                    graph_version: Some("v21".into()),
                    ..whatsapp()
                },
                ChannelError::GraphVersion("v21".into()),
            ),
        ];
        for (wa, expected) in cases {
            assert_eq!(check(wa).unwrap_err(), expected);
        }
        for url in [
            "ftp://graph.example",
            "not a url",
            "https://graph.example/?x=1",
            "https://u:p@graph.example",
            "https://graph.example/#frag",
        ] {
            let err = check(WhatsAppChannel {
                graph_url: Some(url.into()),
                ..whatsapp()
            })
            .unwrap_err();
            assert!(matches!(err, ChannelError::GraphUrl(_)), "{url}: {err:?}");
        }
    }

    #[test]
    fn custom_names_are_short_words() {
        for ok in ["bot", "huawei", "HuaWei", "sicepat_whatsapp", "line.v2"] {
            assert!(
                check_channel_kind(ChannelKind::Custom { name: ok.into() }).is_ok(),
                "{ok}"
            );
        }
        for bad in ["", "two words", "a/b", &"x".repeat(65)] {
            assert_eq!(
                check_channel_kind(ChannelKind::Custom { name: bad.into() }),
                Err(ChannelError::CustomName),
                "{bad}"
            );
        }
    }

    #[test]
    fn the_public_view_hides_secrets_and_names_the_webhook_path() {
        let now = DateTime::from_timestamp(1_750_000_000, 0).unwrap();
        let channel = Channel::create(TenantId(7), ChannelKind::WhatsApp(whatsapp()), now).unwrap();
        let view = serde_json::to_value(channel.public_view()).unwrap();
        let text = view.to_string();
        for secret in ["EAAG-token", "app-secret", "verify-me"] {
            assert!(!text.contains(secret), "{text}");
        }
        assert_eq!(
            view["webhook_path"],
            format!("/webhooks/whatsapp/{}", channel.id)
        );
        assert_eq!(view["kind"], "whatsapp");
        assert_eq!(view["access_token_set"], true);
        assert!(!format!("{channel:?}").contains("EAAG-token"));

        let custom = Channel::create(
            TenantId(7),
            ChannelKind::Custom {
                name: "huawei".into(),
            },
            now,
        )
        .unwrap();
        assert_eq!(custom.webhook_path(), None);
        assert_eq!(
            custom.public_view().kind,
            ChannelKindView::Custom {
                name: "huawei".into()
            }
        );
    }

    #[test]
    fn channel_ids_are_32_lowercase_hex() {
        let id = ChannelId::generate();
        assert_eq!(ChannelId::parse(id.as_str()), Ok(id));
        for bad in [
            "",
            "ABCDEF0123456789abcdef0123456789",
            "../etc",
            &"a".repeat(33),
        ] {
            assert_eq!(ChannelId::parse(bad), Err(ChannelIdError), "{bad}");
        }
    }

    #[test]
    fn the_subscription_handshake_echoes_only_for_the_right_token() {
        let wa = check(whatsapp()).unwrap();
        assert_eq!(
            wa.accept_subscription("subscribe", "verify-me", "1158201444"),
            Some("1158201444")
        );
        assert_eq!(
            wa.accept_subscription("subscribe", "verify-m", "1158201444"),
            None
        );
        assert_eq!(
            wa.accept_subscription("unsubscribe", "verify-me", "1"),
            None
        );
    }
}
