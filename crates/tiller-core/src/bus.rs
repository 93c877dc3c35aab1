//! What just committed, told in process: a service publishes after its transaction commits,
//! and listeners react — the robot turn spawner runs a due turn, the delivery worker wakes
//! for new events, and later the agent inbox streams changes. A notification is a hint
//! for latency only: every worker's poll of the database stays the safety net, so
//! publishing never blocks, never fails, and a notification lost to a crash loses nothing.

use std::sync::{Arc, RwLock};

use crate::{conversations::CallId, TenantId};

/// A committed change others may want to act on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Committed {
    /// Events were enqueued in the outbox.
    EventsEnqueued,
    /// A session's robot turn is due.
    TurnDue { tenant: TenantId, call_id: CallId },
    /// Another node sharing the database committed work of this kind (PostgreSQL's
    /// `LISTEN/NOTIFY`, relayed by `tiller_store::CommitRelay`): this node's workers may
    /// claim it at once instead of at their next poll.
    Elsewhere(Work),
}

/// The kinds of work a commit makes claimable, as the workers that claim it see them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Work {
    /// Webhook deliveries (the delivery worker).
    Deliveries,
    /// Robot turns (the robot worker).
    Turns,
    /// A tenant's standing or secrets changed (the credential caches forget what they
    /// hold). Only ever another process's: the CLI changes tenants.
    Credentials,
}

impl Work {
    pub const ALL: [Work; 3] = [Work::Deliveries, Work::Turns, Work::Credentials];

    /// A stable one-letter name, for the cross-node notification's payload.
    pub fn letter(self) -> char {
        match self {
            Self::Deliveries => 'd',
            Self::Turns => 't',
            Self::Credentials => 'c',
        }
    }

    pub fn of_letter(letter: char) -> Option<Self> {
        Self::ALL.into_iter().find(|w| w.letter() == letter)
    }
}

impl Committed {
    /// The work this commit made claimable.
    pub fn work(&self) -> Work {
        match self {
            Self::EventsEnqueued => Work::Deliveries,
            Self::TurnDue { .. } => Work::Turns,
            Self::Elsewhere(work) => *work,
        }
    }

    /// Whether this node committed it (a relay passes on only these).
    pub fn is_local(&self) -> bool {
        !matches!(self, Self::Elsewhere(_))
    }
}

/// Reacts to commits. Called on the publisher's task: a listener with slow work spawns it.
pub trait CommitListener: Send + Sync {
    fn on_commit(&self, committed: &Committed);
}

/// The node's bus. Listeners subscribe once at start-up; publishing only reads the list.
#[derive(Default)]
pub struct CommitBus {
    listeners: RwLock<Vec<Arc<dyn CommitListener>>>,
}

impl CommitBus {
    pub fn new() -> Arc<Self> {
        Arc::new(Self::default())
    }

    pub fn subscribe(&self, listener: Arc<dyn CommitListener>) {
        self.listeners
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .push(listener);
    }

    pub fn publish(&self, committed: &Committed) {
        let listeners = self
            .listeners
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        for listener in listeners.iter() {
            listener.on_commit(committed);
        }
    }
}

impl std::fmt::Debug for CommitBus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let n = self.listeners.read().map(|l| l.len()).unwrap_or_default();
        f.debug_struct("CommitBus").field("listeners", &n).finish()
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use super::*;

    #[derive(Default)]
    struct Heard(Mutex<Vec<Committed>>);

    impl CommitListener for Heard {
        fn on_commit(&self, committed: &Committed) {
            self.0.lock().unwrap().push(committed.clone());
        }
    }

    #[test]
    fn commits_name_their_work_and_letters_round_trip() {
        let due = Committed::TurnDue {
            tenant: TenantId(1),
            call_id: CallId::parse("c1").unwrap(),
        };
        assert_eq!(due.work(), Work::Turns);
        assert_eq!(Committed::EventsEnqueued.work(), Work::Deliveries);
        assert!(due.is_local() && Committed::EventsEnqueued.is_local());
        let remote = Committed::Elsewhere(Work::Turns);
        assert_eq!(remote.work(), Work::Turns);
        assert!(!remote.is_local());
        for w in Work::ALL {
            assert_eq!(Work::of_letter(w.letter()), Some(w));
        }
        assert_eq!(Work::of_letter('x'), None);
    }

    #[test]
    fn every_listener_hears_every_commit_in_order() {
        let bus = CommitBus::new();
        bus.publish(&Committed::EventsEnqueued); // nobody listens yet: nothing happens
        let (a, b) = (Arc::new(Heard::default()), Arc::new(Heard::default()));
        bus.subscribe(a.clone());
        bus.subscribe(b.clone());
        let due = Committed::TurnDue {
            tenant: TenantId(3),
            call_id: CallId::parse("c1").unwrap(),
        };
        bus.publish(&due);
        bus.publish(&Committed::EventsEnqueued);
        for heard in [a, b] {
            assert_eq!(
                *heard.0.lock().unwrap(),
                [due.clone(), Committed::EventsEnqueued]
            );
        }
    }
}
