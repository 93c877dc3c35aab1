//! JSON views of domain objects that the HTTP API serves and the CLI prints alike, so the
//! two never drift apart and the CLI needs nothing from `http`.

pub mod webhooks;
