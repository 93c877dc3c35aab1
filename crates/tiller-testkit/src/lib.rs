//! Test-only helpers shared by the store conformance suite and the server's API tests.
//! Depends on `tiller-core` only, so neither suite sees two copies of the domain types.

pub mod clock;
pub mod examples;
pub mod receiver;
pub mod tcp_proxy;
pub mod whatsapp;

pub use clock::ManualClock;
pub use receiver::{Received, WebhookReceiver};
pub use tcp_proxy::TcpProxy;
pub use whatsapp::{FakeWhatsApp, FakeWhatsAppConfig};
