//! Which envelope a request's errors are written in, decided by the router that serves it.
//!
//! Each surface builds its router through [`Envelope::surface`]: a layer on its routes claims
//! every request they serve (a wrong method's 405 included) for its envelope, and its
//! OpenAPI operations document their errors in that envelope. `error::render_errors`, the
//! outermost error layer, then writes any error in the claimed envelope. The claim is a slot
//! the renderer hands down rather than a response marker, so an error raised outside the
//! surface's layer (the request timeout) still gets the surface's envelope. A new surface
//! with its own envelope adds a variant here and builds its router the same way.

use std::sync::{Arc, OnceLock};

use axum::{extract::Request, middleware};
use utoipa_axum::router::OpenApiRouter;

use super::{error, openapi_rules};
use crate::state::AppState;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Envelope {
    /// AIRUDDER chatbot `/api/v1`, and Tiller's own routes: `{request_id, code, message, data}`.
    V1,
    /// AIRUDDER `/service/cloud`: `{data, status, code, message}`.
    Cloud,
    /// nxlink `/saas`: `{code, message, traceId}`; client errors keep HTTP 200.
    Nxlink,
}

impl Envelope {
    /// A surface's router: its requests are claimed for this envelope and its operations
    /// document their errors in it.
    pub fn surface(self, mut routes: OpenApiRouter<AppState>) -> OpenApiRouter<AppState> {
        openapi_rules::document_errors(self, routes.get_openapi_mut());
        self.claim(routes)
    }

    /// Claims the requests of `routes` without documenting errors, for routes that take no
    /// input and so have no 400 to document (health, metrics).
    pub fn claim(self, routes: OpenApiRouter<AppState>) -> OpenApiRouter<AppState> {
        let (plain, doc) = routes.split_for_parts();
        let claiming = plain
            // Set before the layer so the layer covers it: on the merged router, axum would
            // put it outside every surface's layer.
            .method_not_allowed_fallback(error::wrong_method)
            .layer(middleware::map_request(move |req: Request| async move {
                Claim::set(&req, self);
                req
            }));
        let mut claimed = OpenApiRouter::from(claiming);
        *claimed.get_openapi_mut() = doc;
        claimed
    }

    /// The envelope of a path no route matches, which no surface claims: that of the surface
    /// whose prefix it is under, so a client mistyping a path still gets the shape it
    /// parses; else /api/v1's.
    pub fn for_unknown_path(path: &str) -> Self {
        const PREFIXES: [(&str, Envelope); 2] =
            [("/saas", Envelope::Nxlink), ("/service", Envelope::Cloud)];
        PREFIXES
            .iter()
            .find(|(prefix, _)| {
                path.strip_prefix(prefix)
                    .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
            })
            .map_or(Self::V1, |&(_, envelope)| envelope)
    }
}

/// The envelope claimed for one request: inserted by `render_errors`, set by the layer of
/// the surface whose route matched (or by the fallback).
#[derive(Debug, Clone, Default)]
pub(super) struct Claim(Arc<OnceLock<Envelope>>);

impl Claim {
    pub(super) fn get(&self) -> Option<Envelope> {
        self.0.get().copied()
    }

    /// The first claim wins; without a renderer above (a bare router) there is nothing to set.
    pub(super) fn set(req: &Request, envelope: Envelope) {
        if let Some(claim) = req.extensions().get::<Claim>() {
            let _ = claim.0.set(envelope);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_paths_take_the_envelope_of_their_prefix() {
        let of = Envelope::for_unknown_path;
        assert_eq!(of("/saas/openapi/chat/records"), Envelope::Nxlink);
        assert_eq!(of("/saas"), Envelope::Nxlink);
        assert_eq!(of("/service/cloud/auth"), Envelope::Cloud);
        assert_eq!(of("/api/v1/session/messages"), Envelope::V1);
        assert_eq!(of("/saasy"), Envelope::V1);
        assert_eq!(of("/nope"), Envelope::V1);
    }

    #[test]
    fn the_first_claim_wins() {
        let claim = Claim::default();
        let mut req = Request::new(axum::body::Body::empty());
        Claim::set(&req, Envelope::Cloud);
        req.extensions_mut().insert(claim.clone());
        assert_eq!(claim.get(), None);
        Claim::set(&req, Envelope::Nxlink);
        Claim::set(&req, Envelope::V1);
        assert_eq!(claim.get(), Some(Envelope::Nxlink));
    }
}
