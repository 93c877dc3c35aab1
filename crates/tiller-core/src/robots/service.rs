//! `Robots`: a tenant's robots, one home for the HTTP API (through [`super::RobotEngine`])
//! and the CLI, which needs no outbound client to import or list them.

use super::{definition::new_robot, Robot, RobotError};
use crate::{store::DynStore, SharedClock, TenantId};

#[derive(Clone)]
pub struct Robots {
    store: DynStore,
    clock: SharedClock,
}

impl Robots {
    pub fn new(store: DynStore, clock: SharedClock) -> Self {
        Self { store, clock }
    }

    /// Validates and stores a robot definition (YAML or JSON).
    pub async fn import(
        &self,
        t: TenantId,
        source: &str,
        is_default: bool,
    ) -> Result<Robot, RobotError> {
        let new = new_robot(source, is_default).map_err(RobotError::Invalid)?;
        Ok(self.store.create_robot(t, &new, self.clock.now()).await?)
    }

    /// Oldest first.
    pub async fn list(&self, t: TenantId) -> Result<Vec<Robot>, RobotError> {
        Ok(self.store.robots(t).await?)
    }
}
