//! The Graph API error object, as Meta returns it:
//! `{"error":{"message","type","code","error_subcode"?,"error_data"?:{"messaging_product","details"},"fbtrace_id"}}`,
//! and the `errors[]` entries of a `failed` status webhook.

use axum::{
    http::{header, HeaderValue, StatusCode},
    response::{IntoResponse, Response},
    Json,
};
use rand::{distributions::Alphanumeric, Rng};
use serde_json::{json, Map, Value};

/// Where Meta's error pages live; status webhooks carry it as `href`.
pub const ERROR_CODES_URL: &str =
    "https://developers.facebook.com/docs/whatsapp/cloud-api/support/error-codes/";

/// One Graph API error answer.
#[derive(Debug, Clone, PartialEq)]
pub struct GraphError {
    pub http: StatusCode,
    pub kind: &'static str,
    pub code: u32,
    pub subcode: Option<u32>,
    pub message: String,
    /// `error_data.details`; WhatsApp-specific errors carry it, Graph parameter errors do not.
    pub details: Option<String>,
}

impl GraphError {
    fn new(http: StatusCode, code: u32, message: String) -> Self {
        Self {
            http,
            kind: "OAuthException",
            code,
            subcode: None,
            message,
            details: None,
        }
    }

    /// A WhatsApp error: `(#code) title` with `error_data.details`.
    fn whatsapp(http: StatusCode, code: u32, title: &str, details: impl Into<String>) -> Self {
        Self {
            details: Some(details.into()),
            ..Self::new(http, code, format!("(#{code}) {title}"))
        }
    }

    /// 190 on a missing or wrong bearer token; 401 as Graph answers it.
    pub fn bad_token() -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            190,
            "Invalid OAuth access token - Cannot parse access token".into(),
        )
    }

    /// 2500 for a path whose first segment is not an API version.
    pub fn unknown_path(path: &str) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            2500,
            format!("Unknown path components: {path}"),
        )
    }

    /// 100/33: the object named in the path does not exist (unknown number, media, WABA).
    pub fn no_object(method: &str, id: &str) -> Self {
        Self {
            kind: "GraphMethodException",
            subcode: Some(33),
            ..Self::new(
                StatusCode::BAD_REQUEST,
                100,
                format!(
                    "Unsupported {method} request. Object with ID '{id}' does not exist, cannot be \
                     loaded due to missing permissions, or does not support this operation. \
                     Please read the Graph API documentation at \
                     https://developers.facebook.com/docs/graph-api"
                ),
            )
        }
    }

    /// `(#100) The parameter X is required.`
    pub fn required(param: &str) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            100,
            format!("(#100) The parameter {param} is required."),
        )
    }

    /// `(#100) Param X must be …` (a type or length rule of the Graph schema).
    pub fn param(param: &str, rule: &str) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            100,
            format!("(#100) Param {param} must be {rule}."),
        )
    }

    /// `(#100) Param X must be one of {A, B} - got "y".`
    pub fn one_of(param: &str, allowed: &[&str], got: &str) -> Self {
        let allowed = allowed
            .iter()
            .map(|a| a.to_ascii_uppercase())
            .collect::<Vec<_>>()
            .join(", ");
        Self::param(param, &format!("one of {{{allowed}}} - got \"{got}\""))
    }

    /// `(#100) Unexpected key "k" on param "p".`; top-level keys name no param.
    pub fn unexpected_key(key: &str, param: Option<&str>) -> Self {
        let message = match param {
            Some(p) => format!("(#100) Unexpected key \"{key}\" on param \"{p}\"."),
            None => format!("(#100) Unexpected key \"{key}\"."),
        };
        Self::new(StatusCode::BAD_REQUEST, 100, message)
    }

    /// `(#100) Invalid parameter` with details, as the WhatsApp layer answers bad values.
    pub fn invalid_parameter(details: impl Into<String>) -> Self {
        Self::whatsapp(StatusCode::BAD_REQUEST, 100, "Invalid parameter", details)
    }

    /// 131009: a value the WhatsApp layer rejects (button counts, title lengths).
    pub fn value_not_valid(details: impl Into<String>) -> Self {
        Self::whatsapp(
            StatusCode::BAD_REQUEST,
            131_009,
            "Parameter value is not valid",
            details,
        )
    }

    /// 130429: the business number's throughput is used up.
    pub fn rate_limit() -> Self {
        Self::whatsapp(
            StatusCode::TOO_MANY_REQUESTS,
            130_429,
            "Rate limit hit",
            "Message failed to send because there were too many messages sent from this phone \
             number in a short period of time",
        )
    }

    /// 131056: too many messages from one business number to one user.
    pub fn pair_rate_limit() -> Self {
        Self::whatsapp(
            StatusCode::TOO_MANY_REQUESTS,
            131_056,
            "(Business Account, Consumer Account) pair rate limit hit",
            "Message failed to send because there were too many messages sent from this phone \
             number to the same phone number in a short period of time",
        )
    }

    /// 132001: no approved translation of that template in that language.
    pub fn template_missing(name: &str, language: &str) -> Self {
        Self::whatsapp(
            StatusCode::BAD_REQUEST,
            132_001,
            "Template name does not exist in the translation",
            format!("template name ({name}) does not exist in {language}"),
        )
    }

    /// 132000: the send's body parameters do not match the template's placeholders.
    pub fn template_params(expected: usize, got: usize) -> Self {
        Self::whatsapp(
            StatusCode::BAD_REQUEST,
            132_000,
            "Number of parameters does not match the expected number of params",
            format!(
                "body: number of localizable_params ({got}) does not match the expected number \
                 of params ({expected})"
            ),
        )
    }

    /// 132015 / 132016: the template exists but may not be sent now.
    pub fn template_unusable(name: &str, status: &str) -> Self {
        let (code, title) = if status.eq_ignore_ascii_case("PAUSED") {
            (132_015, "Template is Paused")
        } else {
            (132_016, "Template is disabled")
        };
        Self::whatsapp(
            StatusCode::BAD_REQUEST,
            code,
            title,
            format!("Template {name} is {}", status.to_ascii_lowercase()),
        )
    }

    pub fn body(&self) -> Value {
        let mut error = Map::new();
        error.insert("message".into(), self.message.clone().into());
        error.insert("type".into(), self.kind.into());
        error.insert("code".into(), self.code.into());
        if let Some(sub) = self.subcode {
            error.insert("error_subcode".into(), sub.into());
        }
        if let Some(details) = &self.details {
            error.insert(
                "error_data".into(),
                json!({"messaging_product": "whatsapp", "details": details}),
            );
        }
        error.insert("fbtrace_id".into(), fbtrace_id().into());
        json!({ "error": error })
    }
}

impl IntoResponse for GraphError {
    fn into_response(self) -> Response {
        // Graph repeats the message in WWW-Authenticate; some clients log only headers.
        let reason = if self.code == 190 {
            "invalid_token"
        } else {
            "invalid_request"
        };
        let challenge = format!(
            "OAuth \"Facebook Platform\" \"{reason}\" \"{}\"",
            self.message.replace('"', "'")
        );
        let mut response = (self.http, Json(self.body())).into_response();
        if let Ok(value) = HeaderValue::from_str(&challenge) {
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, value);
        }
        response
    }
}

/// Asynchronous failures, reported in a `failed` status webhook rather than the send answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Failure {
    /// 131047: free-form message outside the customer service window.
    ReEngagement,
    /// 131026: the user cannot receive it (not on WhatsApp, old client, blocked).
    Undeliverable,
}

impl Failure {
    pub fn code(self) -> u32 {
        match self {
            Failure::ReEngagement => 131_047,
            Failure::Undeliverable => 131_026,
        }
    }

    /// The `errors[]` entry of the `failed` status.
    pub fn status_error(self) -> Value {
        let (title, details) = match self {
            Failure::ReEngagement => (
                "Re-engagement message",
                "Message failed to send because more than 24 hours have passed since the \
                 customer last replied to this number.",
            ),
            Failure::Undeliverable => ("Message undeliverable", "Message Undeliverable."),
        };
        json!({
            "code": self.code(),
            "title": title,
            "message": title,
            "error_data": {"details": details},
            "href": ERROR_CODES_URL,
        })
    }
}

/// Graph's trace ids look like `AbC0dEf1GhI`: 11 opaque characters.
fn fbtrace_id() -> String {
    rand::thread_rng()
        .sample_iter(&Alphanumeric)
        .take(11)
        .map(char::from)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn whatsapp_errors_carry_error_data_and_graph_ones_do_not() {
        let rate = GraphError::rate_limit().body();
        assert_eq!(rate["error"]["code"], 130_429);
        assert_eq!(rate["error"]["type"], "OAuthException");
        assert_eq!(rate["error"]["message"], "(#130429) Rate limit hit");
        assert_eq!(rate["error"]["error_data"]["messaging_product"], "whatsapp");
        assert_eq!(rate["error"]["fbtrace_id"].as_str().map(str::len), Some(11));

        let missing = GraphError::required("to").body();
        assert_eq!(
            missing["error"]["message"],
            "(#100) The parameter to is required."
        );
        assert!(missing["error"].get("error_data").is_none());

        let none = GraphError::no_object("post", "42").body();
        assert_eq!(none["error"]["error_subcode"], 33);
        assert_eq!(none["error"]["type"], "GraphMethodException");
    }

    #[test]
    fn one_of_lists_upper_case_choices() {
        let e = GraphError::one_of("type", &["text", "image"], "gif");
        assert_eq!(
            e.message,
            "(#100) Param type must be one of {TEXT, IMAGE} - got \"gif\"."
        );
    }
}
