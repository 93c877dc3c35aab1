//! The outbound HTTP client.

use std::{net::IpAddr, sync::Arc, time::Duration};

use reqwest::{header::HeaderMap, redirect, Method, Url};

use super::guard::{AddressGuard, GuardedResolver};

#[derive(Debug, Clone)]
pub struct OutboundClient {
    http: reqwest::Client,
    guard: Arc<AddressGuard>,
    max_response_bytes: usize,
}

/// An answer, whatever its status.
#[derive(Debug, Clone)]
pub struct OutboundResponse {
    pub status: u16,
    pub headers: HeaderMap,
    /// At most `max_response_bytes` of the body.
    pub body: Vec<u8>,
}

#[derive(Debug, thiserror::Error)]
pub enum OutboundError {
    #[error("no answer within {0:?}")]
    Timeout(Duration),
    #[error("refused: {0}")]
    Refused(String),
    #[error("request failed: {0}")]
    Network(String),
}

impl OutboundClient {
    pub fn new(guard: AddressGuard, max_response_bytes: usize) -> anyhow::Result<Self> {
        let guard = Arc::new(guard);
        let http = reqwest::Client::builder()
            .user_agent("Airudder")
            .connect_timeout(Duration::from_secs(5))
            .dns_resolver(Arc::new(GuardedResolver {
                guard: guard.clone(),
            }))
            // Redirects stay on the host that was checked and allowed, three at most.
            .redirect(redirect::Policy::custom(|attempt| {
                let same_host = attempt.previous().first().is_some_and(|first| {
                    first.host_str() == attempt.url().host_str()
                        && first.scheme() == attempt.url().scheme()
                });
                if same_host && attempt.previous().len() <= 3 {
                    attempt.follow()
                } else {
                    attempt.stop()
                }
            }))
            .build()?;
        Ok(Self {
            http,
            guard,
            max_response_bytes,
        })
    }

    /// POSTs `body` as JSON with extra `headers`, waiting at most `timeout` for the answer.
    pub async fn post_json(
        &self,
        url: &str,
        headers: HeaderMap,
        body: Vec<u8>,
        timeout: Duration,
    ) -> Result<OutboundResponse, OutboundError> {
        self.send(Method::POST, url, headers, Some(body), timeout)
            .await
    }

    /// Sends `method` to `url` with a JSON `body` (if any), waiting at most `timeout`.
    pub async fn send(
        &self,
        method: Method,
        url: &str,
        headers: HeaderMap,
        body: Option<Vec<u8>>,
        timeout: Duration,
    ) -> Result<OutboundResponse, OutboundError> {
        let url = Url::parse(url).map_err(|e| OutboundError::Refused(format!("bad URL: {e}")))?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(OutboundError::Refused(format!(
                "scheme {} is not http or https",
                url.scheme()
            )));
        }
        // Literal addresses skip the resolver, so check them here.
        if let Some(ip) = url
            .host_str()
            .and_then(|h| h.trim_matches(['[', ']']).parse::<IpAddr>().ok())
        {
            if !self.guard.permits(ip) {
                return Err(OutboundError::Refused(format!(
                    "{ip} is not an address outbound requests may reach"
                )));
            }
        }
        let send = async {
            let mut request = self.http.request(method, url).headers(headers);
            if let Some(body) = body {
                request = request
                    .header(reqwest::header::CONTENT_TYPE, "application/json")
                    .body(body);
            }
            let mut res = request.send().await.map_err(|e| classify(&e))?;
            let status = res.status().as_u16();
            let headers = res.headers().clone();
            let mut body = Vec::new();
            while body.len() < self.max_response_bytes {
                match res.chunk().await {
                    Ok(Some(chunk)) => body.extend_from_slice(&chunk),
                    // The status is what counts; a broken body after it does not undo it.
                    Ok(None) | Err(_) => break,
                }
            }
            body.truncate(self.max_response_bytes);
            Ok(OutboundResponse {
                status,
                headers,
                body,
            })
        };
        tokio::time::timeout(timeout, send)
            .await
            .unwrap_or(Err(OutboundError::Timeout(timeout)))
    }
}

fn classify(e: &reqwest::Error) -> OutboundError {
    if e.is_timeout() {
        return OutboundError::Timeout(Duration::ZERO);
    }
    // The guard's refusal surfaces as a connect error carrying its message.
    let text = format!("{e:?}");
    if text.contains("may not reach") {
        OutboundError::Refused(text)
    } else {
        OutboundError::Network(e.to_string())
    }
}
