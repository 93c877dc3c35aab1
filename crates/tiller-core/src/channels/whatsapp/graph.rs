//! The Graph API's answers, read: a send's receipt, a mark-read's `success`, a media
//! object's download URL, and the error JSON
//! `{"error":{"message","type","code","error_subcode","error_data":{"details"},"fbtrace_id"}}`
//! classified into [`SendError`] by what the job queue should do.
//!
//! Classification: HTTP 429 and the throttling codes are `Retry` with `throttled` set;
//! 5xx and the transient codes are `Retry`; everything else the Graph API refuses is
//! `Final` (131047 re-engagement, 131026 undeliverable, 132001 template missing, 100
//! invalid parameter, …). A 2xx without a message id is `Unknown`: the send may have
//! happened, and a retry could deliver it twice.

use serde::Deserialize;
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

use crate::channels::{SendError, SendReceipt};

/// Rate limits: the app's (4, 17, 32, 613), the account's (80007), the number's throughput
/// (130429), spam limiting (131048) and the per-user pair limit (131056).
const THROTTLING: [i64; 8] = [4, 17, 32, 613, 80_007, 130_429, 131_048, 131_056];

/// Meta's own trouble, worth another try: unknown (1), service (2), something went wrong
/// (131000), service unavailable (131016), number in maintenance (131057), server
/// temporarily unavailable (133004).
const TRANSIENT: [i64; 6] = [1, 2, 131_000, 131_016, 131_057, 133_004];

/// The body of a Graph API error answer.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct GraphError {
    #[serde(default)]
    pub message: String,
    #[serde(rename = "type", default)]
    pub kind: Option<String>,
    pub code: i64,
    #[serde(default)]
    pub error_subcode: Option<i64>,
    #[serde(default)]
    pub error_user_title: Option<String>,
    #[serde(default)]
    pub error_user_msg: Option<String>,
    #[serde(default)]
    pub error_data: Option<Value>,
    #[serde(default)]
    pub fbtrace_id: Option<String>,
}

impl GraphError {
    /// Reads `{"error":{…}}`; `None` when the body is not one.
    pub fn read(body: &[u8]) -> Option<Self> {
        #[derive(Deserialize)]
        struct Wrapper {
            error: GraphError,
        }
        serde_json::from_slice::<Wrapper>(body)
            .ok()
            .map(|w| w.error)
    }

    /// `error_user_title`, else `message` without its `(#code) ` prefix.
    pub fn title(&self) -> String {
        if let Some(t) = self.error_user_title.as_deref().filter(|t| !t.is_empty()) {
            return t.to_owned();
        }
        let message = self.message.trim();
        match message.strip_prefix("(#").and_then(|m| m.split_once(") ")) {
            Some((code, rest)) if code.bytes().all(|b| b.is_ascii_digit()) => rest.to_owned(),
            _ => message.to_owned(),
        }
    }

    /// `error_data.details`, else `error_user_msg`.
    pub fn details(&self) -> Option<String> {
        self.error_data
            .as_ref()
            .and_then(|d| d.get("details"))
            .and_then(Value::as_str)
            .or(self.error_user_msg.as_deref())
            .map(str::to_owned)
    }
}

/// What an answer that is not a success means.
pub fn read_error(http_status: u16, body: &[u8]) -> SendError {
    let error = GraphError::read(body);
    let code = error.as_ref().map(|e| e.code);
    let reason = || match &error {
        Some(e) => format!("HTTP {http_status}: {}", e.title()),
        None => format!("HTTP {http_status}"),
    };
    if http_status == 429 || code.is_some_and(|c| THROTTLING.contains(&c)) {
        return SendError::Retry {
            code,
            throttled: true,
            reason: reason(),
        };
    }
    if http_status >= 500 || code.is_some_and(|c| TRANSIENT.contains(&c)) {
        return SendError::Retry {
            code,
            throttled: false,
            reason: reason(),
        };
    }
    match error {
        Some(e) => SendError::Final {
            code: e.code,
            title: e.title(),
            details: e.details(),
        },
        None => SendError::Final {
            code: i64::from(http_status),
            title: format!("HTTP {http_status} without a Graph API error"),
            details: None,
        },
    }
}

/// A request that got no answer (connect failure, timeout, reset). Retried: delivery is
/// at least once, and the Cloud API has no idempotency key, so a timeout after Meta took
/// the message can make the user see it twice.
pub fn transport_failure(reason: impl Into<String>) -> SendError {
    SendError::Retry {
        code: None,
        throttled: false,
        reason: reason.into(),
    }
}

/// Reads a send's answer: `{"messages":[{"id":"wamid…","message_status":"accepted"}]}`.
pub fn read_send_response(http_status: u16, body: &[u8]) -> Result<SendReceipt, SendError> {
    if !(200..300).contains(&http_status) {
        return Err(read_error(http_status, body));
    }
    let value: Value = serde_json::from_slice(body).map_err(|e| SendError::Unknown {
        reason: format!("HTTP {http_status} with a body that is not JSON: {e}"),
    })?;
    let first = value.get("messages").and_then(|m| m.get(0));
    let id = first
        .and_then(|m| m.get("id"))
        .and_then(Value::as_str)
        .filter(|id| !id.is_empty())
        .ok_or_else(|| SendError::Unknown {
            reason: format!("HTTP {http_status} without messages[0].id"),
        })?;
    Ok(SendReceipt {
        provider_message_id: id.to_owned(),
        provider_status: first
            .and_then(|m| m.get("message_status"))
            .and_then(Value::as_str)
            .map(str::to_owned),
    })
}

/// Reads a mark-read's answer, `{"success":true}`.
pub fn read_mark_read_response(http_status: u16, body: &[u8]) -> Result<(), SendError> {
    if !(200..300).contains(&http_status) {
        return Err(read_error(http_status, body));
    }
    match serde_json::from_slice::<Value>(body) {
        Ok(v) if v.get("success") == Some(&Value::Bool(true)) => Ok(()),
        _ => Err(SendError::Unknown {
            reason: format!("HTTP {http_status} without \"success\": true"),
        }),
    }
}

/// `GET /{media-id}`'s answer: where to download the file (with the access token, within
/// five minutes) and what it should be.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MediaInfo {
    pub url: String,
    pub mime_type: Option<String>,
    pub sha256: Option<String>,
    pub file_size: Option<u64>,
}

pub fn read_media_info(http_status: u16, body: &[u8]) -> Result<MediaInfo, SendError> {
    if !(200..300).contains(&http_status) {
        return Err(read_error(http_status, body));
    }
    let value: Map<String, Value> =
        serde_json::from_slice(body).map_err(|e| SendError::Unknown {
            reason: format!("media info is not a JSON object: {e}"),
        })?;
    let text = |key: &str| value.get(key).and_then(Value::as_str).map(str::to_owned);
    let url = text("url").ok_or_else(|| SendError::Unknown {
        reason: "media info without url".into(),
    })?;
    let file_size = match value.get("file_size") {
        Some(Value::Number(n)) => n.as_u64(),
        Some(Value::String(s)) => s.parse().ok(),
        _ => None,
    };
    Ok(MediaInfo {
        url,
        mime_type: text("mime_type"),
        sha256: text("sha256"),
        file_size,
    })
}

/// Whether downloaded bytes are the file the media info announced (hex, either case).
pub fn sha256_matches(bytes: &[u8], expected_hex: &str) -> bool {
    hex::encode(Sha256::digest(bytes)).eq_ignore_ascii_case(expected_hex.trim())
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn graph_error(code: i64, message: &str, details: &str) -> Vec<u8> {
        json!({"error": {
            "message": message, "type": "OAuthException", "code": code,
            "error_data": {"messaging_product": "whatsapp", "details": details},
            "fbtrace_id": "AbCdEf123"
        }})
        .to_string()
        .into_bytes()
    }

    #[test]
    fn errors_are_classified_by_what_to_do_next() {
        let retry = |status, code, throttled| (status, code, Some(throttled));
        let fin = |status, code| (status, code, None);
        let table = [
            retry(400, 130_429, true),
            retry(400, 131_056, true),
            retry(400, 80_007, true),
            retry(429, 100, true),
            retry(500, 131_000, false),
            retry(503, 100, false),
            retry(400, 131_016, false),
            fin(400, 131_047),
            fin(400, 131_026),
            fin(404, 132_001),
            fin(400, 100),
            fin(401, 190),
        ];
        for (status, code, retry) in table {
            let body = graph_error(code, &format!("(#{code}) Something"), "why");
            let got = read_error(status, &body);
            match retry {
                Some(throttled) => assert_eq!(
                    got,
                    SendError::Retry {
                        code: Some(code),
                        throttled,
                        reason: format!("HTTP {status}: Something"),
                    },
                    "{status}/{code}"
                ),
                None => assert_eq!(
                    got,
                    SendError::Final {
                        code,
                        title: "Something".into(),
                        details: Some("why".into()),
                    },
                    "{status}/{code}"
                ),
            }
        }
    }

    #[test]
    fn final_errors_carry_code_title_and_details() {
        let body = graph_error(
            131_047,
            "(#131047) Re-engagement message",
            "Message failed to send because more than 24 hours have passed since the customer last replied to this number.",
        );
        let err = read_error(400, &body);
        assert_eq!(
            err,
            SendError::Final {
                code: 131_047,
                title: "Re-engagement message".into(),
                details: Some(
                    "Message failed to send because more than 24 hours have passed since the customer last replied to this number.".into()
                ),
            }
        );
        let user_title = json!({"error": {"message": "Invalid parameter", "code": 100,
            "error_subcode": 2_494_010, "error_user_title": "Bad number",
            "error_user_msg": "The number is not valid"}});
        assert_eq!(
            read_error(400, user_title.to_string().as_bytes()),
            SendError::Final {
                code: 100,
                title: "Bad number".into(),
                details: Some("The number is not valid".into()),
            }
        );
    }

    #[test]
    fn answers_without_a_graph_error_are_classified_by_status() {
        assert!(read_error(502, b"<html>Bad gateway</html>").is_retry());
        assert_eq!(
            read_error(403, b""),
            SendError::Final {
                code: 403,
                title: "HTTP 403 without a Graph API error".into(),
                details: None,
            }
        );
        assert!(transport_failure("timed out after 10s").is_retry());
    }

    #[test]
    fn a_send_answer_gives_the_wamid() {
        let body = json!({"messaging_product": "whatsapp",
            "contacts": [{"input": "+16505551234", "wa_id": "16505551234"}],
            "messages": [{"id": "wamid.HBgLMTY1MDUwNzY1MjAVAgARGBI5QTNDQTVCM0Q0Q0Q2RTY3RTcA",
                          "message_status": "accepted"}]});
        assert_eq!(
            read_send_response(200, body.to_string().as_bytes()),
            Ok(SendReceipt {
                provider_message_id: "wamid.HBgLMTY1MDUwNzY1MjAVAgARGBI5QTNDQTVCM0Q0Q0Q2RTY3RTcA"
                    .into(),
                provider_status: Some("accepted".into()),
            })
        );
        for unknown in [&b"{\"messages\":[]}"[..], b"{}", b"not json"] {
            assert!(
                matches!(
                    read_send_response(200, unknown),
                    Err(SendError::Unknown { .. })
                ),
                "{}",
                String::from_utf8_lossy(unknown)
            );
        }
        assert!(read_send_response(500, b"").unwrap_err().is_retry());
    }

    #[test]
    fn mark_read_and_media_info_answers() {
        assert_eq!(read_mark_read_response(200, br#"{"success":true}"#), Ok(()));
        assert!(matches!(
            read_mark_read_response(200, br#"{"success":false}"#),
            Err(SendError::Unknown { .. })
        ));
        let info = json!({"messaging_product": "whatsapp",
            "url": "https://lookaside.fbsbx.com/whatsapp_business/attachments/?mid=1",
            "mime_type": "image/jpeg", "sha256": "abc", "file_size": "303833", "id": "1"});
        assert_eq!(
            read_media_info(200, info.to_string().as_bytes()),
            Ok(MediaInfo {
                url: "https://lookaside.fbsbx.com/whatsapp_business/attachments/?mid=1".into(),
                mime_type: Some("image/jpeg".into()),
                sha256: Some("abc".into()),
                file_size: Some(303_833),
            })
        );
        let gone = graph_error(100, "(#100) Invalid parameter", "media id expired");
        assert!(matches!(
            read_media_info(400, &gone),
            Err(SendError::Final { code: 100, .. })
        ));
        // sha256("abc"), FIPS 180-2 example.
        assert!(sha256_matches(
            b"abc",
            "BA7816BF8F01CFEA414140DE5DAE2223B00361A396177A9CB410FF61F20015AD"
        ));
        assert!(!sha256_matches(
            b"abd",
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        ));
    }
}
