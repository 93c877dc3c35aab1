//! Background workers. Each runs until its stop token is cancelled and finishes the work
//! in hand first. With PostgreSQL every node may run every worker: claims are leases in the
//! database, so nodes never coordinate in memory.

pub mod outbox;
pub mod robots;

pub use outbox::OutboxWorker;
pub use robots::{RobotWorker, TurnSpawner};
