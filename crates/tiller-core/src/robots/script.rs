//! Scripted conversations for `tiller robot test FILE --script TRANSCRIPT`: a list of turns,
//! each a user input and what the robot should do about it, run offline against a
//! [`Flow`]. Every mismatch is reported, not just the first, so one run shows all that
//! drifted. The format is described in `docs/robots.md`.

mod check;
#[cfg(test)]
mod tests;

use std::fmt;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::flow::{deserialize, Flow, FlowError, FlowErrors};

/// A parsed transcript.
#[derive(Debug, Clone)]
pub struct Script {
    variables: Map<String, Value>,
    flow_id: String,
    turns: Vec<Turn>,
}

#[derive(Debug, Clone)]
struct Turn {
    line: usize,
    def: TurnDef,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ScriptDef {
    #[serde(default)]
    variables: Map<String, Value>,
    flow_id: Option<String>,
    #[serde(default)]
    turns: Vec<TurnDef>,
}

/// One turn: an input (none on the first = start), then expectations.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct TurnDef {
    user: Option<UserDef>,
    /// Instead of `user`: the agent side refused the pending transfer.
    #[serde(default)]
    refused: bool,
    http: Option<OneOrMany<HttpDef>>,
    robot: Option<Vec<Value>>,
    transfer: Option<bool>,
    output_label: Option<String>,
    end: Option<bool>,
    slots: Option<Map<String, Value>>,
    intention: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
enum UserDef {
    Text(String),
    Pick(PickDef),
}

/// `{button: <title>}`, `{list: <title>}` or `{id: <option id>}`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct PickDef {
    button: Option<String>,
    list: Option<String>,
    id: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
enum OneOrMany<T> {
    One(T),
    Many(Vec<T>),
}

/// An offline answer to the flow's HTTP call; `failed: true` is a call that never got a
/// JSON response.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct HttpDef {
    #[serde(default = "ok_status")]
    status: u16,
    #[serde(default)]
    body: Value,
    #[serde(default)]
    failed: bool,
}

fn ok_status() -> u16 {
    200
}

impl Script {
    /// Parses a YAML (or JSON) transcript; errors name their line.
    pub fn parse(source: &str) -> Result<Script, FlowErrors> {
        let def: ScriptDef = deserialize(source)?;
        let lines = turn_lines(source, def.turns.len());
        let mut errors = Vec::new();
        if def.turns.is_empty() {
            errors.push(FlowError {
                line: 1,
                message: "the script has no `turns`".into(),
            });
        }
        for (i, (turn, &line)) in def.turns.iter().zip(&lines).enumerate() {
            let mut error = |message: &str| {
                errors.push(FlowError {
                    line,
                    message: message.into(),
                });
            };
            if i > 0 && turn.user.is_none() && !turn.refused {
                error("only the first turn may leave out `user` (it starts the flow)");
            }
            if turn.user.is_some() && turn.refused {
                error("a turn gives either `user` or `refused`, not both");
            }
            if let Some(UserDef::Pick(p)) = &turn.user {
                if [&p.button, &p.list, &p.id]
                    .iter()
                    .filter(|o| o.is_some())
                    .count()
                    != 1
                {
                    error("`user` needs exactly one of `button`, `list`, `id`");
                }
            }
        }
        if !errors.is_empty() {
            return Err(FlowErrors(errors));
        }
        let turns = def
            .turns
            .into_iter()
            .zip(lines)
            .map(|(def, line)| Turn { line, def })
            .collect();
        Ok(Script {
            variables: def.variables,
            flow_id: def.flow_id.unwrap_or_else(|| "0".repeat(32)),
            turns,
        })
    }
}

/// The 1-based line of each turn's `-`: the lines after `turns:` whose dash sits at the
/// indentation of the first one. Falls back to the `turns:` line if the count disagrees.
fn turn_lines(source: &str, count: usize) -> Vec<usize> {
    let lines: Vec<&str> = source.lines().collect();
    let start = lines
        .iter()
        .position(|l| l.trim_start().starts_with("turns:"))
        .unwrap_or(0);
    let indent = |l: &str| l.len() - l.trim_start().len();
    let first = (start + 1..lines.len()).find(|&i| lines[i].trim_start().starts_with('-'));
    let found: Vec<usize> = first.map_or_else(Vec::new, |f| {
        (f..lines.len())
            .filter(|&i| {
                indent(lines[i]) == indent(lines[f]) && lines[i].trim_start().starts_with('-')
            })
            .map(|i| i + 1)
            .collect()
    });
    if found.len() == count {
        found
    } else {
        vec![start + 1; count]
    }
}

/// Runs `script` against `flow` from a fresh dialogue.
pub fn run(flow: &Flow, script: &Script) -> ScriptReport {
    check::run(flow, script)
}

/// The outcome of a scripted run.
#[derive(Debug, Clone, Serialize)]
pub struct ScriptReport {
    pub passed: bool,
    pub steps: usize,
    pub failures: Vec<Mismatch>,
}

/// One expectation the flow did not meet.
#[derive(Debug, Clone, Serialize)]
pub struct Mismatch {
    /// The 1-based turn.
    pub step: usize,
    /// The turn's line in the script.
    pub line: usize,
    pub expected: Value,
    pub actual: Value,
    pub message: String,
}

impl fmt::Display for ScriptReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.passed {
            return write!(f, "ok: {} steps", self.steps);
        }
        write!(
            f,
            "FAILED: {} mismatches in {} steps",
            self.failures.len(),
            self.steps
        )?;
        for m in &self.failures {
            write!(
                f,
                "\n\nstep {} (line {}): {}\n  expected: {}\n  actual:   {}",
                m.step, m.line, m.message, m.expected, m.actual
            )?;
        }
        Ok(())
    }
}
