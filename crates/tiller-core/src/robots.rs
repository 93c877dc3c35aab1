//! Robots: declarative dialogue flows (and external Rasa-style robots) that answer users in
//! sessions in state `bot`, capture slots, label intent and decide when to hand off.
//!
//! [`flow`] is the pure interpreter: a definition, a [`flow::DialogueState`] and one input
//! in, replies and the next [`flow::Step`] out. No I/O happens there; the [`engine`]
//! performs the HTTP calls a robot needs (through a port the server implements) and
//! commits each turn as one session change.

mod definition;
mod engine;
mod rasa;
mod robot;
mod service;

pub mod flow;
pub mod script;

pub use definition::{new_robot, Definition};
pub use engine::{DueTurns, RobotEngine, RobotError, RobotHttp, TransferAnswer};
pub use rasa::RasaRobot;
pub use robot::{NewRobot, Robot, RobotKind};
pub use service::Robots;
