//! Robots: declarative dialogue flows (and external Rasa-style robots) that answer users in
//! sessions in state `bot`, capture slots, label intent and decide when to hand off.
//!
//! [`flow`] is the pure interpreter: a definition, a [`flow::DialogueState`] and one input
//! in, replies and the next [`flow::Step`] out. No I/O happens there; the engine in
//! `tiller-server` performs HTTP calls a flow asks for and commits each turn.

pub mod flow;
pub mod script;
