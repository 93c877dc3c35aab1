//! Message templates: registered by tests, checked on template sends (132001, 132000,
//! 132015/132016) and listed by `GET /{version}/{waba_id}/message_templates`, paged with
//! `limit` and the `before`/`after` cursors as the Graph API pages.

use std::{collections::HashMap, sync::Arc};

use axum::{
    extract::{Path, Query, State},
    response::{IntoResponse, Response},
    Json,
};
use base64::{engine::general_purpose::URL_SAFE_NO_PAD, Engine as _};
use serde_json::{json, Value};

use super::{
    errors::GraphError,
    state::{Inner, Shared, StoredTemplate},
    validate::TemplateRef,
};

/// Graph's default page size for this edge.
const DEFAULT_LIMIT: usize = 25;

/// A template as a test registers it.
#[derive(Debug, Clone, PartialEq)]
pub struct TemplateSpec {
    pub name: String,
    /// A locale code as Meta spells it: `en_US`, `id`, `zh_CN`.
    pub language: String,
    /// `APPROVED`, `PENDING`, `REJECTED`, `PAUSED`, `DISABLED`.
    pub status: String,
    /// `MARKETING`, `UTILITY` or `AUTHENTICATION`.
    pub category: String,
    /// The `components` array, e.g. `[{"type":"BODY","text":"Hi {{1}}"}]`.
    pub components: Value,
}

impl TemplateSpec {
    pub fn approved(
        name: impl Into<String>,
        language: impl Into<String>,
        category: impl Into<String>,
        components: Value,
    ) -> Self {
        Self {
            name: name.into(),
            language: language.into(),
            status: "APPROVED".into(),
            category: category.into(),
            components,
        }
    }

    #[must_use]
    pub fn with_status(mut self, status: impl Into<String>) -> Self {
        self.status = status.into();
        self
    }
}

impl Inner {
    pub fn add_template(&mut self, waba_id: &str, spec: TemplateSpec) -> String {
        let id = self.numeric_id();
        self.templates.push(StoredTemplate {
            id: id.clone(),
            waba_id: waba_id.to_owned(),
            name: spec.name,
            language: spec.language,
            status: spec.status,
            category: spec.category,
            components: spec.components,
        });
        id
    }
}

/// Whether a template send may go out; its pricing category (lower case) when it may.
pub(super) fn check(
    inner: &Inner,
    waba_id: &str,
    send: &TemplateRef,
) -> Result<String, GraphError> {
    let template = inner
        .templates
        .iter()
        .find(|t| t.waba_id == waba_id && t.name == send.name && t.language == send.language)
        .ok_or_else(|| GraphError::template_missing(&send.name, &send.language))?;
    match template.status.to_ascii_uppercase().as_str() {
        "APPROVED" => {}
        "PAUSED" | "DISABLED" => {
            return Err(GraphError::template_unusable(&send.name, &template.status))
        }
        // Pending or rejected translations cannot be sent: Meta reports them as missing.
        _ => return Err(GraphError::template_missing(&send.name, &send.language)),
    }
    let expected = body_placeholders(&template.components);
    if expected != send.body_params {
        return Err(GraphError::template_params(expected, send.body_params));
    }
    Ok(template.category.to_ascii_lowercase())
}

/// The distinct `{{n}}` / `{{name}}` placeholders of the BODY component's text.
fn body_placeholders(components: &Value) -> usize {
    let text = components
        .as_array()
        .into_iter()
        .flatten()
        .find(|c| {
            c["type"]
                .as_str()
                .is_some_and(|t| t.eq_ignore_ascii_case("body"))
        })
        .and_then(|c| c["text"].as_str())
        .unwrap_or("");
    let mut seen = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find("{{") {
        let after = &rest[start + 2..];
        let Some(end) = after.find("}}") else {
            break;
        };
        let name = after[..end].trim();
        if !seen.contains(&name) {
            seen.push(name);
        }
        rest = &after[end + 2..];
    }
    seen.len()
}

/// Cursors are opaque in Graph; here the base64 of a template id, stable under inserts.
fn cursor(id: &str) -> String {
    URL_SAFE_NO_PAD.encode(id)
}

fn uncursor(cursor: &str) -> Option<String> {
    URL_SAFE_NO_PAD
        .decode(cursor)
        .ok()
        .and_then(|raw| String::from_utf8(raw).ok())
}

pub(super) async fn list(
    State(shared): State<Arc<Shared>>,
    Path((version, waba_id)): Path<(String, String)>,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    match page(&shared, &version, &waba_id, &query) {
        Ok(body) => Json(body).into_response(),
        Err(e) => e.into_response(),
    }
}

fn page(
    shared: &Shared,
    version: &str,
    waba_id: &str,
    query: &HashMap<String, String>,
) -> Result<Value, GraphError> {
    let inner = shared.lock();
    let known = inner.numbers.values().any(|n| n.waba_id == waba_id)
        || inner.templates.iter().any(|t| t.waba_id == waba_id);
    if !known {
        return Err(GraphError::no_object("get", waba_id));
    }
    let all: Vec<&StoredTemplate> = inner
        .templates
        .iter()
        .filter(|t| t.waba_id == waba_id)
        .collect();
    let limit = match query.get("limit") {
        None => DEFAULT_LIMIT,
        Some(l) => l
            .parse::<usize>()
            .ok()
            .filter(|l| *l > 0)
            .ok_or_else(|| GraphError::param("limit", "a positive integer"))?,
    };
    let position = |c: &String| {
        uncursor(c)
            .and_then(|id| all.iter().position(|t| t.id == id))
            .ok_or_else(|| GraphError::invalid_parameter(format!("Invalid cursor: {c}")))
    };
    let (start, end) = match (query.get("after"), query.get("before")) {
        (Some(after), _) => {
            let start = position(after)? + 1;
            (start, (start + limit).min(all.len()))
        }
        (None, Some(before)) => {
            let end = position(before)?;
            (end.saturating_sub(limit), end)
        }
        (None, None) => (0, limit.min(all.len())),
    };
    let data: Vec<Value> = all[start..end]
        .iter()
        .map(|t| {
            json!({
                "name": t.name,
                "components": t.components,
                "language": t.language,
                "status": t.status,
                "category": t.category,
                "id": t.id,
            })
        })
        .collect();
    // An empty page is `{"data":[]}`, without paging, as Graph answers it.
    let mut body = json!({"data": data});
    if let (Some(first), Some(last)) = (all[start..end].first(), all[start..end].last()) {
        let mut paging = json!({
            "cursors": {"before": cursor(&first.id), "after": cursor(&last.id)},
        });
        let edge = format!("{}/{version}/{waba_id}/message_templates", shared.base_url);
        if end < all.len() {
            paging["next"] = format!("{edge}?limit={limit}&after={}", cursor(&last.id)).into();
        }
        if start > 0 {
            paging["previous"] =
                format!("{edge}?limit={limit}&before={}", cursor(&first.id)).into();
        }
        body["paging"] = paging;
    }
    Ok(body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_are_counted_once_each() {
        let components = json!([
            {"type": "HEADER", "format": "TEXT", "text": "{{1}}"},
            {"type": "BODY", "text": "Hi {{1}}, your order {{2}} ships {{ 2 }} today"},
        ]);
        assert_eq!(body_placeholders(&components), 2);
        assert_eq!(body_placeholders(&json!([])), 0);
    }

    #[test]
    fn cursors_round_trip() {
        assert_eq!(uncursor(&cursor("1037")).as_deref(), Some("1037"));
        assert_eq!(uncursor("!!"), None);
    }
}
