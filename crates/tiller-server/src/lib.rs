//! Tiller's server: the HTTP API, configuration, telemetry and the CLI behind the
//! `tiller` binary. The only crate that knows HTTP.

pub mod app;
pub mod cli;
pub mod config;
pub mod files;
pub mod http;
pub mod metrics;
pub mod outbound;
pub mod state;
pub mod telemetry;
pub mod views;
pub mod workers;

pub use app::App;
pub use config::Config;
