//! The API suite: one binary, a real server per test on a random port, a fresh database
//! per test (PostgreSQL when `TILLER_TEST_PG_URL` is set, SQLite otherwise).
#![expect(
    clippy::unwrap_used,
    reason = "a test should fail loudly at the failing step"
)]

mod channel_reports;
mod chat_records;
mod cli;
mod compat;
mod connections;
mod conversations;
mod envelope;
mod files;
mod helpers;
mod limits;
mod nodes;
mod nxlink;
mod openapi;
mod ops;
mod outage;
mod readme;
mod robots;
mod robots_external;
mod seats;
mod signed;
mod standing;
mod startup;
mod tenancy;
mod token;
mod unauthenticated;
mod webhook_signing;
mod webhook_wakeups;
mod webhooks;
mod whatsapp;
