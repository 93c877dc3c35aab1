//! Reading an uploaded robot definition: a dialogue flow, or an external robot.

use serde::Deserialize;

use super::{
    flow::{Flow, FlowError, FlowErrors},
    rasa::RasaRobot,
    NewRobot, RobotKind,
};

/// A definition as run: the parsed flow, or the external robot's settings.
#[derive(Debug, Clone)]
pub enum Definition {
    Flow(Flow),
    Rasa(RasaRobot),
}

impl Definition {
    /// Parses YAML or JSON: a document with a top-level `rasa` key is an external robot,
    /// anything else a flow. Errors name the line and the problem.
    pub fn parse(source: &str) -> Result<Self, FlowErrors> {
        #[derive(Deserialize)]
        struct Probe {
            #[serde(default)]
            rasa: Option<serde_json::Value>,
        }
        let is_rasa = serde_norway::from_str::<Probe>(source)
            .ok()
            .is_some_and(|p| p.rasa.is_some());
        if is_rasa {
            RasaRobot::parse(source).map(Self::Rasa)
        } else {
            Flow::parse(source).map(Self::Flow)
        }
    }

    pub fn kind(&self) -> RobotKind {
        match self {
            Self::Flow(_) => RobotKind::Flow,
            Self::Rasa(_) => RobotKind::Rasa,
        }
    }

    pub fn name(&self) -> &str {
        match self {
            Self::Flow(f) => f.name(),
            Self::Rasa(r) => &r.name,
        }
    }
}

/// Validates `source` and makes the robot to store, with a fresh flow id.
pub fn new_robot(source: &str, is_default: bool) -> Result<NewRobot, FlowErrors> {
    let def = Definition::parse(source)?;
    if def.name().trim().is_empty() {
        return Err(FlowErrors(vec![FlowError {
            line: 1,
            message: "`name` must not be empty".into(),
        }]));
    }
    Ok(NewRobot {
        name: def.name().to_owned(),
        kind: def.kind(),
        definition: source.to_owned(),
        flow_id: crate::ids::random_hex32(),
        is_default,
    })
}
