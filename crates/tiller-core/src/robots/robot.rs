//! A robot as stored: its definition text and how it runs.

use chrono::{DateTime, Utc};

use crate::TenantId;

/// How a robot answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RobotKind {
    /// A declarative dialogue flow run by Tiller ([`super::flow`]).
    Flow,
    /// An external robot speaking the Rasa REST channel contract ([`super::rasa`]).
    Rasa,
}

impl RobotKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Flow => "flow",
            Self::Rasa => "rasa",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        match raw {
            "flow" => Some(Self::Flow),
            "rasa" => Some(Self::Rasa),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Robot {
    pub tenant: TenantId,
    /// A numeric string, as the docs show (`"4755"`).
    pub robot_id: String,
    pub name: String,
    pub kind: RobotKind,
    /// The definition as uploaded (YAML or JSON).
    pub definition: String,
    /// 32 lowercase hex: the `<flow>` part of interactive option ids.
    pub flow_id: String,
    /// Answers every new session of the tenant that names no robot.
    pub is_default: bool,
    pub created_at: DateTime<Utc>,
}

/// A validated definition, ready to store.
#[derive(Debug, Clone, PartialEq)]
pub struct NewRobot {
    pub name: String,
    pub kind: RobotKind,
    pub definition: String,
    pub flow_id: String,
    pub is_default: bool,
}
