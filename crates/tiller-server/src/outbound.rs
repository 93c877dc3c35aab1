//! Everything Tiller sends out over HTTP goes through [`OutboundClient`]: timeouts, a cap on
//! how much of a response is read, redirects only within the same host, and an address
//! guard that refuses loopback, private and link-local targets unless allow-listed.

mod client;
mod guard;
mod robot_http;

pub use client::{OutboundClient, OutboundError, OutboundResponse};
pub use guard::AddressGuard;
