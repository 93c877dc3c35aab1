//! WhatsApp's customer-service window: a business may send free-form messages to a user
//! for 24 hours after that user's last message to the business number; outside it, only
//! approved templates. Meta refuses a free-form send outside the window with 131047
//! (re-engagement message), so Tiller checks first and never spends the call.
//!
//! The window is per (business number, user); the caller looks up the user's last inbound
//! message on that number and passes its time. It is open while `now` is before
//! `last_inbound_at + 24h`: at exactly 24 hours it is closed.

use chrono::{DateTime, TimeDelta, Utc};

use crate::messages::Content;

/// The window's length.
pub const WINDOW: TimeDelta = TimeDelta::hours(24);

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum WindowClosed {
    #[error(
        "the user has never written to this number; only a template can open the conversation"
    )]
    NeverOpened,
    #[error(
        "the 24-hour window closed at {closed_at}; only a template can reopen the conversation"
    )]
    Expired { closed_at: DateTime<Utc> },
}

/// Whether a free-form (non-template) message may be sent now.
pub fn free_form_allowed(
    last_inbound_at: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
) -> Result<(), WindowClosed> {
    let last = last_inbound_at.ok_or(WindowClosed::NeverOpened)?;
    let closed_at = last + WINDOW;
    if now < closed_at {
        Ok(())
    } else {
        Err(WindowClosed::Expired { closed_at })
    }
}

/// Whether `content` may be sent now: templates always, anything else inside the window.
pub fn send_allowed(
    content: &Content,
    last_inbound_at: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
) -> Result<(), WindowClosed> {
    match content {
        Content::Template(_) => Ok(()),
        _ => free_form_allowed(last_inbound_at, now),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::messages::TemplateContent;

    fn at(secs: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(secs, 0).unwrap()
    }

    #[test]
    fn open_for_24_hours_after_the_last_inbound_message() {
        let last = at(1_750_000_000);
        let day = 24 * 3600;
        for (now, open) in [
            (last, true),
            (at(1_750_000_000 + day - 1), true),
            (at(1_750_000_000 + day), false),
            (at(1_750_000_000 + day + 1), false),
            // A clock behind the inbound message's time: still open.
            (at(1_750_000_000 - 60), true),
        ] {
            assert_eq!(free_form_allowed(Some(last), now).is_ok(), open, "{now}");
        }
        let ms_before = at(1_750_000_000 + day) - TimeDelta::milliseconds(1);
        assert_eq!(free_form_allowed(Some(last), ms_before), Ok(()));
        assert_eq!(
            free_form_allowed(Some(last), at(1_750_000_000 + day)),
            Err(WindowClosed::Expired {
                closed_at: at(1_750_000_000 + day)
            })
        );
        assert_eq!(
            free_form_allowed(None, last),
            Err(WindowClosed::NeverOpened)
        );
    }

    #[test]
    fn templates_are_always_allowed() {
        let template = Content::Template(TemplateContent::default());
        let now = at(1_750_000_000);
        assert_eq!(send_allowed(&template, None, now), Ok(()));
        assert_eq!(send_allowed(&template, Some(at(0)), now), Ok(()));
        assert_eq!(
            send_allowed(&Content::plain_text("hi"), None, now),
            Err(WindowClosed::NeverOpened)
        );
        assert_eq!(
            send_allowed(&Content::plain_text("hi"), Some(at(1_749_999_000)), now),
            Ok(())
        );
    }
}
