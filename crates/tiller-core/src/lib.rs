//! Tiller's domain: identifiers, tenants and their credentials, request signatures,
//! the clock, and the storage ports that `tiller-store` implements.
//!
//! Nothing here knows HTTP or SQL, so every rule is unit-testable without I/O.

pub mod auth;
pub mod bus;
pub mod channels;
pub mod clock;
pub mod conversations;
pub mod error;
pub mod files;
pub mod ids;
pub mod jobs;
pub mod messages;
pub mod robots;
pub mod seats;
pub mod secret;
pub mod signing;
pub mod store;
pub mod tenant;
pub mod webhooks;

pub use clock::{Clock, SharedClock, SystemClock};
pub use error::{Entity, StoreError, StoreResult, Unique};
pub use ids::TenantId;
pub use secret::Secret;
