//! Dialogue flows: a declarative definition (YAML or JSON, see `docs/robots.md`), its
//! validation, and a *pure* interpreter.
//!
//! The interpreter never performs I/O, reads a clock or draws random numbers: each call
//! takes the [`DialogueState`] and one input, appends the robot's replies to `out` and says
//! what happens next as a [`Step`]. The engine stores the state between turns and performs
//! the HTTP calls and transfers the flow asks for, which keeps every rule here testable.

mod capture;
mod compile;
mod def;
mod lines;
mod matching;
mod message_rules;
mod model;
mod render;
mod run;
#[cfg(test)]
mod tests;

use std::{collections::HashMap, fmt};

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::messages::Content;

/// The YAML-or-JSON reader with line-numbered errors, shared with [`super::script`].
pub(super) use compile::deserialize;

/// A parsed and validated flow. Cheap to share: the engine keeps one per robot version.
#[derive(Debug, Clone)]
pub struct Flow {
    name: String,
    description: Option<String>,
    start: String,
    nodes: Vec<model::Node>,
    index: HashMap<String, usize>,
    anywhere: Vec<model::Route>,
}

impl Flow {
    /// Parses and validates YAML or JSON. Every error names the line (1-based) and the problem.
    pub fn parse(source: &str) -> Result<Flow, FlowErrors> {
        compile::parse(source)
    }

    /// The definition's `name`.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The definition's `description`, if any.
    pub fn description(&self) -> Option<&str> {
        self.description.as_deref()
    }

    /// Starts a dialogue: runs from the start node until the flow waits for the user, asks
    /// for an HTTP call, transfers or ends.
    pub fn start(
        &self,
        state: &mut DialogueState,
        ctx: &TurnContext<'_>,
        out: &mut Vec<Content>,
    ) -> Step {
        run::enter(self, &self.start, state, ctx, out)
    }

    /// One user message while the flow waits (`state.node` is the waiting node). Increments
    /// `state.talk_round`. Before the start or after the end it starts the dialogue afresh.
    pub fn answer(
        &self,
        state: &mut DialogueState,
        ctx: &TurnContext<'_>,
        user: &Content,
        out: &mut Vec<Content>,
    ) -> Step {
        run::answer(self, state, ctx, user, out)
    }

    /// The result of the HTTP call the last [`Step::Http`] asked for (`None` = the call
    /// failed: timeout, connection error, non-JSON…).
    pub fn http_result(
        &self,
        state: &mut DialogueState,
        ctx: &TurnContext<'_>,
        response: Option<&HttpResponse>,
        out: &mut Vec<Content>,
    ) -> Step {
        run::http_result(self, state, ctx, response, out)
    }

    /// The agent side refused the transfer (or it timed out): continue where the transfer
    /// node says (`on_refused: <node>`), or [`Step::End`] when it says `end` or nothing.
    pub fn transfer_refused(
        &self,
        state: &mut DialogueState,
        ctx: &TurnContext<'_>,
        out: &mut Vec<Content>,
    ) -> Step {
        run::transfer_refused(self, state, ctx, out)
    }
}

/// Everything wrong with a definition, in source order.
#[derive(Debug)]
pub struct FlowErrors(pub Vec<FlowError>);

impl fmt::Display for FlowErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, e) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str("\n")?;
            }
            write!(f, "{e}")?;
        }
        Ok(())
    }
}

impl std::error::Error for FlowErrors {}

/// One problem in a definition (or a script), at a 1-based line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FlowError {
    pub line: usize,
    pub message: String,
}

impl fmt::Display for FlowError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {}: {}", self.line, self.message)
    }
}

/// Where a dialogue stands between turns; the engine stores it with the session.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct DialogueState {
    /// The node waiting for the user's answer / the HTTP result / the transfer result;
    /// `None` before the start and after the end.
    pub node: Option<String>,
    /// Failed answers at the current node.
    pub retries: u32,
    /// Captured slots, reported as `ner_slots` / `record_slots`.
    pub slots: Map<String, Value>,
    /// Flow variables (set by `set`, HTTP `save_as`).
    pub variables: Map<String, Value>,
    /// The A–E style label (`intention` / `output_label`).
    pub intention: Option<String>,
    /// `event_label`.
    pub event_labels: Map<String, Value>,
    /// Robot–user exchanges: +1 per [`Flow::answer`].
    pub talk_round: u32,
}

/// What the engine knows about the session, read-only for the flow.
pub struct TurnContext<'a> {
    /// 32 lowercase hex, the robot's flow id, used in option ids.
    pub flow_id: &'a str,
    /// Session variables (user_id, user_name, channel, channel_id, call_id, plus any
    /// workflow variables).
    pub variables: &'a Map<String, Value>,
}

/// What the engine does after a call.
#[derive(Debug, Clone, PartialEq)]
pub enum Step {
    /// Wait for the user's next message, then call [`Flow::answer`].
    AwaitUser,
    /// Perform this call, then report it with [`Flow::http_result`].
    Http(HttpRequest),
    /// Ask for an agent (spec §3.3); report a refusal with [`Flow::transfer_refused`].
    Transfer { output_label: String },
    /// The robot is done with the session.
    End,
}

/// An HTTP call the flow asks the engine to make, already interpolated.
#[derive(Debug, Clone, PartialEq)]
pub struct HttpRequest {
    pub method: String,
    pub url: String,
    pub headers: Vec<(String, String)>,
    pub body: Option<Value>,
    pub timeout_secs: u64,
}

/// A completed HTTP call: the status and the JSON body.
#[derive(Debug, Clone, PartialEq)]
pub struct HttpResponse {
    pub status: u16,
    pub body: Value,
}
