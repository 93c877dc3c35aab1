//! The robot worker: runs robot turns nobody is running (their node crashed, or inline
//! turns are off) and ends sessions idle past `robots.session_timeout`.
//!
//! Turns normally run inline, right after the user's message is committed
//! ([`TurnSpawner`]); the worker is the safety net, so its poll interval bounds how long a
//! crashed node's turn waits once its lease has run out.

use std::{sync::Arc, time::Duration};

use tiller_core::{
    bus::{CommitListener, Committed},
    conversations::Conversations,
    robots::RobotEngine,
    SharedClock,
};
use tokio_util::sync::CancellationToken;

use crate::{config::Config, metrics::Metrics};

/// Due turns claimed per pass.
const TURN_BATCH: u32 = 64;
/// Idle sessions closed per pass.
const EXPIRY_BATCH: u32 = 500;

pub struct RobotWorker {
    engine: Arc<RobotEngine>,
    conversations: Conversations,
    clock: SharedClock,
    cfg: Arc<Config>,
    /// `robots.session_timeout`, parsed once.
    session_timeout: chrono::Duration,
    metrics: Arc<Metrics>,
    /// Rung when a turn is due that no inline spawner runs (another node's, or this node's
    /// with inline turns off): the worker claims it now instead of at its next poll.
    wake: Arc<tokio::sync::Notify>,
}

impl RobotWorker {
    pub fn new(
        engine: Arc<RobotEngine>,
        conversations: Conversations,
        clock: SharedClock,
        cfg: Arc<Config>,
        metrics: Arc<Metrics>,
        wake: Arc<tokio::sync::Notify>,
    ) -> anyhow::Result<Self> {
        Ok(Self {
            engine,
            conversations,
            clock,
            session_timeout: cfg.session_timeout()?,
            cfg,
            metrics,
            wake,
        })
    }

    /// Runs due turns until none is left; returns how many ran. Tests drive turns with this
    /// when `robots.inline_turns` is off.
    pub async fn run_due_turns(&self) -> anyhow::Result<usize> {
        let mut total = 0;
        loop {
            let started = std::time::Instant::now();
            let report = self.engine.run_due(TURN_BATCH).await?;
            // The batch's turns ran one after another: each is counted at the batch's mean.
            let turns = report.ran + report.failed.len();
            if let Some(each) = u32::try_from(turns)
                .ok()
                .filter(|n| *n > 0)
                .map(|n| started.elapsed() / n)
            {
                for _ in 0..report.ran {
                    self.metrics.observe_robot_turn(true, each);
                }
            }
            for (call_id, e) in &report.failed {
                self.metrics.observe_robot_turn(false, Duration::ZERO);
                tracing::warn!(%call_id, error = %e, "robot turn failed; it stays due");
            }
            total += report.ran;
            if report.ran + report.failed.len() < TURN_BATCH as usize {
                return Ok(total);
            }
        }
    }

    /// Ends every session idle past the timeout; returns how many it ended.
    pub async fn expire_idle(&self) -> anyhow::Result<usize> {
        let timeout = self.session_timeout;
        let mut total = 0;
        loop {
            let n = self
                .conversations
                .expire_idle(timeout, EXPIRY_BATCH)
                .await?;
            self.metrics.observe_sessions_expired(n);
            total += n;
            if n < EXPIRY_BATCH as usize {
                return Ok(total);
            }
        }
    }

    pub async fn run(self: Arc<Self>, stop: CancellationToken) {
        let poll = Duration::from_millis(self.cfg.robots.poll_interval_ms.max(10));
        let expiry_every = chrono::Duration::seconds(
            i64::try_from(self.cfg.robots.expiry_interval_secs.max(1)).unwrap_or(60),
        );
        let mut next_expiry = self.clock.now();
        while !stop.is_cancelled() {
            if let Err(e) = self.run_due_turns().await {
                tracing::warn!(error = %e, "robot worker: claiming turns failed");
            }
            if self.clock.now() >= next_expiry {
                match self.expire_idle().await {
                    Ok(0) => {}
                    Ok(n) => tracing::info!(sessions = n, "ended idle sessions"),
                    Err(e) => tracing::warn!(error = %e, "robot worker: expiry failed"),
                }
                next_expiry = self.clock.now() + expiry_every;
            }
            tokio::select! {
                () = stop.cancelled() => {}
                () = self.wake.notified() => {}
                () = tokio::time::sleep(poll) => {}
            }
        }
    }
}

/// Runs a robot turn as soon as one is due on this node: the inbound call that made it
/// due answers without waiting for the robot (replies reach the integrator through
/// `message.send`). Subscribed to the commit bus only while `robots.inline_turns` is on.
pub struct TurnSpawner {
    pub engine: Arc<RobotEngine>,
    pub metrics: Arc<Metrics>,
}

impl CommitListener for TurnSpawner {
    fn on_commit(&self, committed: &Committed) {
        let Committed::TurnDue { tenant, call_id } = committed else {
            return;
        };
        let (engine, metrics) = (self.engine.clone(), self.metrics.clone());
        let (tenant, call_id) = (*tenant, call_id.clone());
        tokio::spawn(async move {
            let started = std::time::Instant::now();
            match engine.run_turn(tenant, &call_id).await {
                // Someone else holds the turn: it is theirs to count.
                Ok(false) => {}
                Ok(true) => metrics.observe_robot_turn(true, started.elapsed()),
                Err(e) => {
                    metrics.observe_robot_turn(false, started.elapsed());
                    tracing::warn!(%call_id, error = %e, "robot turn failed; the worker retries it");
                }
            }
        });
    }
}
