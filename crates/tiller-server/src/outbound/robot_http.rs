//! The HTTP calls robots make (flow `http` nodes, external Rasa robots), through the one
//! guarded outbound client.

use std::time::Duration;

use reqwest::{
    header::{HeaderMap, HeaderName, HeaderValue},
    Method,
};
use tiller_core::robots::{
    flow::{HttpRequest, HttpResponse},
    RobotHttp,
};

use super::OutboundClient;

#[async_trait::async_trait]
impl RobotHttp for OutboundClient {
    async fn call(&self, request: &HttpRequest) -> Result<HttpResponse, String> {
        let method = Method::from_bytes(request.method.to_uppercase().as_bytes())
            .map_err(|e| format!("method {:?}: {e}", request.method))?;
        let mut headers = HeaderMap::new();
        for (name, value) in &request.headers {
            let name = HeaderName::from_bytes(name.as_bytes()).map_err(|e| e.to_string())?;
            let value = HeaderValue::from_str(value).map_err(|e| e.to_string())?;
            headers.insert(name, value);
        }
        let body = request.body.as_ref().map(|b| b.to_string().into_bytes());
        let timeout = Duration::from_secs(request.timeout_secs.clamp(1, 60));
        let response = self
            .send(method, &request.url, headers, body, timeout)
            .await
            .map_err(|e| e.to_string())?;
        // An empty body is JSON null; anything else must parse.
        let body = if response.body.iter().all(u8::is_ascii_whitespace) {
            serde_json::Value::Null
        } else {
            serde_json::from_slice(&response.body)
                .map_err(|e| format!("answer is not JSON: {e}"))?
        };
        Ok(HttpResponse {
            status: response.status,
            body,
        })
    }
}
