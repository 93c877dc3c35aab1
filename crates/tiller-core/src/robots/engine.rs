//! The robot engine: runs one robot turn of a session at a time and commits it as one
//! [`SessionChange`] with the replies and the callbacks it causes.
//!
//! A turn is leased (`claim_turn`), so two nodes never run turns of one session at once;
//! it answers every user message the robot has not handled yet, in order, performing the
//! HTTP calls the robot needs *outside* any transaction; then it commits the replies, the
//! dialogue state and `answered_seq` together, but only while it still holds the lease
//! and the session has not changed state meanwhile. A crash before the commit leaves the
//! user messages unanswered and the turn due, so another worker runs it once the lease
//! runs out; a crash after it leaves nothing to redo. Replies are never committed twice.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
};

use chrono::Duration;
use serde_json::{Map, Value};

use super::{
    definition::Definition,
    flow::{DialogueState, FlowErrors, HttpRequest, HttpResponse, Step, TurnContext},
    Robot, Robots,
};
use crate::{
    conversations::{
        message_receive_event, message_send_event, session_transfer_event, system_message, CallId,
        Conclusion, ConversationError, Conversations, EndReason, Session, SessionChange,
        SessionState, StoredMessage,
    },
    messages::{Content, Message, MessageStatus, SenderType, SystemEventKind},
    store::DynStore,
    tenant::Tenant,
    Entity, SharedClock, StoreError, TenantId,
};

/// How often a turn is recomputed when the session changed under it.
const MAX_TRIES: usize = 8;

/// The HTTP calls robots make (flow `http` nodes, external robots). The server implements
/// it with its guarded outbound client.
#[async_trait::async_trait]
pub trait RobotHttp: Send + Sync {
    /// `Err` when no usable answer came (refused address, timeout, non-JSON body).
    async fn call(&self, request: &HttpRequest) -> Result<HttpResponse, String>;
}

#[derive(Debug, thiserror::Error)]
pub enum RobotError {
    #[error("robot {0} not found")]
    NotFound(String),
    #[error("{0}")]
    Invalid(FlowErrors),
    #[error(transparent)]
    Conversation(#[from] ConversationError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// The agent side's answer to a transfer request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TransferAnswer {
    Accepted { seat_id: String },
    Refused,
    Timeout,
}

/// A turn in progress: the session as claimed and the lease held on it.
struct Turn<'a> {
    session: &'a Session,
    lease: &'a str,
}

/// What [`RobotEngine::run_due`] did.
#[derive(Debug, Default)]
pub struct DueTurns {
    pub ran: usize,
    pub failed: Vec<(CallId, RobotError)>,
}

struct Loaded {
    robot: Robot,
    definition: Definition,
}

pub struct RobotEngine {
    store: DynStore,
    clock: SharedClock,
    /// Imports and lists: the path the CLI takes too.
    catalog: Robots,
    http: Arc<dyn RobotHttp>,
    conversations: Conversations,
    lease: Duration,
    loaded: Mutex<HashMap<(TenantId, String), Arc<Loaded>>>,
    /// Company codes never change: one lookup per tenant per process.
    companies: Mutex<HashMap<TenantId, String>>,
}

impl RobotEngine {
    pub fn new(
        store: DynStore,
        clock: SharedClock,
        http: Arc<dyn RobotHttp>,
        conversations: Conversations,
        lease: Duration,
    ) -> Self {
        Self {
            catalog: Robots::new(store.clone(), clock.clone()),
            store,
            clock,
            http,
            conversations,
            lease,
            loaded: Mutex::new(HashMap::new()),
            companies: Mutex::new(HashMap::new()),
        }
    }

    /// Validates and stores a robot definition (YAML or JSON).
    pub async fn import(
        &self,
        t: TenantId,
        source: &str,
        is_default: bool,
    ) -> Result<Robot, RobotError> {
        self.catalog.import(t, source, is_default).await
    }

    /// The tenant's robots, oldest first.
    pub async fn list(&self, t: TenantId) -> Result<Vec<Robot>, RobotError> {
        self.catalog.list(t).await
    }

    pub async fn robot(&self, t: TenantId, robot_id: &str) -> Result<Robot, RobotError> {
        Ok(self.load(t, robot_id).await?.robot.clone())
    }

    /// A robot with its parsed definition. Definitions never change once stored, so each
    /// is parsed once per process.
    async fn load(&self, t: TenantId, robot_id: &str) -> Result<Arc<Loaded>, RobotError> {
        let key = (t, robot_id.to_owned());
        if let Some(hit) = self.cache().get(&key) {
            return Ok(hit.clone());
        }
        let robot = self.store.robot(t, robot_id).await.map_err(|e| match e {
            StoreError::NotFound(Entity::Robot) => RobotError::NotFound(robot_id.to_owned()),
            other => RobotError::Store(other),
        })?;
        let definition = Definition::parse(&robot.definition).map_err(RobotError::Invalid)?;
        let loaded = Arc::new(Loaded { robot, definition });
        self.cache().insert(key, loaded.clone());
        Ok(loaded)
    }

    /// The tenant's company code, for callback payloads.
    async fn company(&self, t: TenantId) -> Result<String, RobotError> {
        let known = self
            .companies
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get(&t)
            .cloned();
        if let Some(company) = known {
            return Ok(company);
        }
        let company = self.store.tenant(t).await?.company;
        self.companies
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .insert(t, company.clone());
        Ok(company)
    }

    fn cache(&self) -> std::sync::MutexGuard<'_, HashMap<(TenantId, String), Arc<Loaded>>> {
        self.loaded
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Runs the session's due turn unless another worker holds it; true when one ran.
    pub async fn run_turn(&self, t: TenantId, call_id: &CallId) -> Result<bool, RobotError> {
        let lease = crate::ids::random_hex32();
        let now = self.clock.now();
        match self
            .store
            .claim_turn(t, call_id, &lease, now, now + self.lease)
            .await?
        {
            Some(session) => self.turn(session, &lease).await.map(|()| true),
            None => Ok(false),
        }
    }

    /// Claims up to `limit` due turns of any tenant and runs them. This is how turns left
    /// by a crashed node (their lease expired) get answered. A turn that fails stays due
    /// and is tried again once its lease runs out.
    pub async fn run_due(&self, limit: u32) -> Result<DueTurns, RobotError> {
        let lease = crate::ids::random_hex32();
        let now = self.clock.now();
        let due = self
            .store
            .claim_due_turns(&lease, now, now + self.lease, limit)
            .await?;
        let mut report = DueTurns::default();
        for session in due {
            let call_id = session.call_id.clone();
            match self.turn(session, &lease).await {
                Ok(()) => report.ran += 1,
                Err(e) => report.failed.push((call_id, e)),
            }
        }
        Ok(report)
    }

    async fn turn(&self, mut session: Session, lease: &str) -> Result<(), RobotError> {
        let company = self.company(session.tenant).await?;
        for _ in 0..MAX_TRIES {
            let change = self.decide(&company, &session, lease).await?;
            if self
                .conversations
                .apply(session.tenant, &session.call_id, &change)
                .await?
                .is_some()
            {
                return Ok(());
            }
            // The session moved (an agent answered, it was closed, …): decide again if the
            // turn is still ours and still due.
            let now = self.clock.now();
            match self
                .store
                .claim_turn(
                    session.tenant,
                    &session.call_id,
                    lease,
                    now,
                    now + self.lease,
                )
                .await?
            {
                Some(fresh) => session = fresh,
                None => return Ok(()),
            }
        }
        Err(ConversationError::Busy.into())
    }

    /// One turn: the robot answers every unanswered user message, in order, until it
    /// waits for the user again, transfers or ends.
    async fn decide(
        &self,
        company: &str,
        session: &Session,
        lease: &str,
    ) -> Result<SessionChange, RobotError> {
        let pending = self
            .store
            .unanswered_messages(session.tenant, &session.call_id, session.answered_seq)
            .await?;
        let mut state = session.dialogue();
        let mut out = Vec::new();
        let (step, used) = match session.robot_id.as_deref() {
            Some(robot_id) if !pending.is_empty() => {
                let loaded = self.load(session.tenant, robot_id).await?;
                let turn = Turn { session, lease };
                self.answer(&loaded, &turn, &mut state, &pending, &mut out)
                    .await
            }
            // Nothing (left) to answer: the change just releases the turn.
            _ => (Some(Step::AwaitUser), pending.len()),
        };
        let transferred = matches!(step, Some(Step::Transfer { .. }));
        let mut change = self.outcome(company, session, state, step, out).await?;
        // Messages the robot did not get to before handing off are the agent's now.
        let unread: Vec<Message> = pending[used.min(pending.len())..]
            .iter()
            .map(|m| m.message.clone())
            .collect();
        if transferred && !unread.is_empty() {
            change
                .events
                .push(message_receive_event(company, session, &unread));
        }
        change.turn_lease = Some(lease.to_owned());
        change.answered_seq = pending.last().map(|m| m.seq);
        Ok(change)
    }

    /// Runs the robot over `pending` until it waits, transfers or ends; returns its step
    /// (`None` when an external robot failed) and how many messages it read.
    async fn answer(
        &self,
        loaded: &Loaded,
        turn: &Turn<'_>,
        state: &mut DialogueState,
        pending: &[StoredMessage],
        out: &mut Vec<Content>,
    ) -> (Option<Step>, usize) {
        let session = turn.session;
        let variables = session_variables(session);
        let ctx = TurnContext {
            flow_id: &loaded.robot.flow_id,
            variables: &variables,
        };
        match &loaded.definition {
            Definition::Flow(flow) => {
                let mut messages = pending.iter();
                let mut step = if session.robot_state.is_none() {
                    // The first message opens the dialogue: the robot greets rather than
                    // reading it as an answer to a question it has not asked.
                    messages.next();
                    flow.start(state, &ctx, out)
                } else {
                    Step::AwaitUser
                };
                loop {
                    step = match step {
                        Step::Http(request) => {
                            let response = self.call(turn, &request).await;
                            flow.http_result(state, &ctx, response.as_ref(), out)
                        }
                        Step::AwaitUser => match messages.next() {
                            Some(m) => flow.answer(state, &ctx, &m.message.content, out),
                            None => return (Some(Step::AwaitUser), pending.len()),
                        },
                        done => return (Some(done), pending.len() - messages.len()),
                    };
                }
            }
            Definition::Rasa(robot) => {
                for (read, m) in pending.iter().enumerate() {
                    let request =
                        robot.request(session.call_id.as_str(), state, &m.message.content);
                    let answer = match self.call(turn, &request).await {
                        Some(a) if (200..300).contains(&a.status) => a,
                        _ => return (None, read + 1),
                    };
                    match robot.apply(&loaded.robot.flow_id, state, &answer.body, out) {
                        Some(Step::AwaitUser) => {}
                        other => return (other, read + 1),
                    }
                }
                (Some(Step::AwaitUser), pending.len())
            }
        }
    }

    /// An HTTP call during a turn. The lease is renewed first, so a slow answer does not
    /// let another node take the turn over (and make the same call again) meanwhile.
    async fn call(&self, turn: &Turn<'_>, request: &HttpRequest) -> Option<HttpResponse> {
        let now = self.clock.now();
        let s = turn.session;
        let hold = Duration::seconds(i64::try_from(request.timeout_secs).unwrap_or(60));
        let renewed = self
            .store
            .claim_turn(
                s.tenant,
                &s.call_id,
                turn.lease,
                now,
                now + self.lease + hold,
            )
            .await;
        if !matches!(renewed, Ok(Some(_))) {
            // Lost the turn (or the store failed): the commit will be refused anyway.
            return None;
        }
        self.http.call(request).await.ok()
    }

    /// The change a robot's step makes: its replies as `robot` messages with the
    /// `message.send` callback, and the state the step leads to (`None`: the robot failed,
    /// the session ends with reason `error`).
    async fn outcome(
        &self,
        company: &str,
        session: &Session,
        state: DialogueState,
        step: Option<Step>,
        replies: Vec<Content>,
    ) -> Result<SessionChange, RobotError> {
        let now = self.clock.now();
        let turn_id = crate::ids::random_hex32();
        let messages: Vec<Message> = replies
            .into_iter()
            .enumerate()
            .map(|(n, content)| Message {
                msg_id: crate::conversations::turn_message_id(&turn_id, n),
                seat_id: Some(String::new()),
                timestamp: now.timestamp(),
                sender_type: SenderType::Robot,
                status: Some(MessageStatus::Sent),
                content,
                reply: None,
                extra: Map::new(),
            })
            .collect();
        let mut after = session.clone();
        after.robot_state = serde_json::to_value(&state).ok();
        let mut events = Vec::new();
        if !messages.is_empty() {
            events.push(message_send_event(company, &after, &messages));
        }
        let base = SessionChange {
            expected_version: session.state_version,
            turn_lease: None,
            state: SessionState::Bot,
            end_reason: None,
            seat_id: session.seat_id.clone(),
            robot_state: after.robot_state.clone(),
            answered_seq: None,
            messages,
            events,
        };
        let reason = match step {
            Some(Step::AwaitUser | Step::Http(_)) => return Ok(base),
            Some(Step::Transfer { output_label }) => {
                after.state = SessionState::PendingAgent;
                let mut conclusion = Conclusion::of(&after);
                conclusion.output_label = output_label;
                let mut change = base;
                change.state = SessionState::PendingAgent;
                change
                    .events
                    .push(session_transfer_event(company, &after, &conclusion));
                return Ok(change);
            }
            Some(Step::End) => EndReason::Robot,
            None => EndReason::Error,
        };
        let mut end = self
            .conversations
            .end_change(company, &after, reason, base.messages)
            .await?;
        end.expected_version = session.state_version;
        end.robot_state = base.robot_state;
        let mut events = base.events;
        events.append(&mut end.events);
        end.events = events;
        Ok(end)
    }

    /// Completes a transfer: accepted, an agent (`seat_id`) takes the session over;
    /// refused or timed out, the robot goes on where its flow says (or ends the session).
    pub async fn transfer_result(
        &self,
        tenant: &Tenant,
        call_id: &CallId,
        answer: &TransferAnswer,
    ) -> Result<Session, RobotError> {
        for _ in 0..MAX_TRIES {
            let session = self.conversations.session(tenant.id, call_id).await?;
            if session.state != SessionState::PendingAgent {
                return Err(ConversationError::Rejected(format!(
                    "session is {}, not waiting for an agent",
                    session.state.as_str()
                ))
                .into());
            }
            let change = match answer {
                TransferAnswer::Accepted { seat_id } => SessionChange {
                    expected_version: session.state_version,
                    turn_lease: None,
                    state: SessionState::Agent,
                    end_reason: None,
                    seat_id: Some(seat_id.clone()),
                    robot_state: None,
                    answered_seq: None,
                    messages: vec![system_message(
                        &SystemEventKind::TakeOver,
                        "",
                        seat_id,
                        self.clock.now(),
                    )],
                    events: Vec::new(),
                },
                TransferAnswer::Refused | TransferAnswer::Timeout => {
                    self.refused(&tenant.company, &session).await?
                }
            };
            if let Some(done) = self
                .conversations
                .apply(tenant.id, call_id, &change)
                .await?
            {
                return Ok(done);
            }
        }
        Err(ConversationError::Busy.into())
    }

    /// Back to the robot after a refused transfer.
    async fn refused(&self, company: &str, session: &Session) -> Result<SessionChange, RobotError> {
        let mut state = session.dialogue();
        let mut out = Vec::new();
        let step = match session.robot_id.as_deref() {
            Some(robot_id) => {
                let loaded = self.load(session.tenant, robot_id).await?;
                match &loaded.definition {
                    Definition::Flow(flow) => {
                        let variables = session_variables(session);
                        let ctx = TurnContext {
                            flow_id: &loaded.robot.flow_id,
                            variables: &variables,
                        };
                        let mut step = flow.transfer_refused(&mut state, &ctx, &mut out);
                        while let Step::Http(request) = step {
                            let response = self.http.call(&request).await.ok();
                            step = flow.http_result(&mut state, &ctx, response.as_ref(), &mut out);
                        }
                        step
                    }
                    Definition::Rasa(_) => Step::AwaitUser,
                }
            }
            None => Step::End,
        };
        self.outcome(company, session, state, Some(step), out).await
    }
}

/// What flows can interpolate from the session: `{{user_name}}`, `{{call_id}}`, …
fn session_variables(session: &Session) -> Map<String, Value> {
    let mut vars = Map::new();
    for (key, value) in [
        ("call_id", session.call_id.as_str()),
        ("channel", &session.channel),
        ("channel_id", &session.channel_id),
        ("user_id", &session.user.id),
        ("user_name", &session.user.name),
        ("robot_id", session.robot_id.as_deref().unwrap_or_default()),
    ] {
        vars.insert(key.into(), Value::String(value.to_owned()));
    }
    vars
}
