//! Rows of `robots`, shared by both dialects.

use tiller_core::{
    clock::from_millis,
    robots::{Robot, RobotKind},
    Entity, StoreError, StoreResult, TenantId,
};

use super::SqliteRow;
use crate::error::corrupt;

#[derive(Debug, sqlx::FromRow)]
pub(crate) struct RobotRow {
    pub id: i64,
    pub tenant_id: i64,
    pub name: String,
    pub kind: String,
    pub definition: String,
    pub flow_id: String,
    pub is_default: bool,
    pub created_at: i64,
}

impl SqliteRow for RobotRow {
    fn read(r: &rusqlite::Row<'_>) -> rusqlite::Result<Self> {
        Ok(Self {
            id: r.get("id")?,
            tenant_id: r.get("tenant_id")?,
            name: r.get("name")?,
            kind: r.get("kind")?,
            definition: r.get("definition")?,
            flow_id: r.get("flow_id")?,
            is_default: r.get("is_default")?,
            created_at: r.get("created_at")?,
        })
    }
}

pub(crate) const ROBOT_COLUMNS: &str =
    "id, tenant_id, name, kind, definition, flow_id, is_default, created_at";

impl TryFrom<RobotRow> for Robot {
    type Error = StoreError;

    fn try_from(r: RobotRow) -> StoreResult<Self> {
        Ok(Robot {
            tenant: TenantId(r.tenant_id),
            robot_id: r.id.to_string(),
            name: r.name,
            kind: RobotKind::parse(&r.kind)
                .ok_or_else(|| corrupt(format!("robot kind {:?}", r.kind)))?,
            definition: r.definition,
            flow_id: r.flow_id,
            is_default: r.is_default,
            created_at: from_millis(r.created_at),
        })
    }
}

/// The row key of a `robot_id` (a numeric string); `NotFound(Robot)` for anything else,
/// since no robot can have it.
pub(crate) fn robot_key(robot_id: &str) -> StoreResult<i64> {
    robot_id
        .parse()
        .map_err(|_| StoreError::NotFound(Entity::Robot))
}
