//! Storage errors, as decisions for the caller rather than one variant per driver error.

pub type StoreResult<T> = Result<T, StoreError>;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The row a method looked up does not exist; the store names which kind it was.
    #[error("{0} not found")]
    NotFound(Entity),
    /// A uniqueness rule was broken: the value already exists.
    #[error("conflict: {0} already exists")]
    Conflict(Unique),
    /// The change is not allowed in the current state (e.g. writing to a closed session);
    /// the string says why, for the caller.
    #[error("rejected: {0}")]
    Rejected(String),
    /// The database could not be reached or timed out; worth retrying later.
    #[error("database unavailable")]
    Unavailable(#[source] Box<dyn std::error::Error + Send + Sync>),
    #[error("database error")]
    Other(#[source] Box<dyn std::error::Error + Send + Sync>),
}

/// What a [`StoreError::NotFound`] did not find.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Entity {
    Tenant,
    /// An API token (by its hash), or one that has expired.
    Token,
    Session,
    Message,
    Robot,
    /// A webhook endpoint.
    Endpoint,
    /// A webhook event of the outbox.
    Event,
    /// One event's delivery to one endpoint.
    Delivery,
    /// A job of the job queue.
    Job,
    /// A tenant's channel (a WhatsApp number, or a custom channel).
    Channel,
}

impl Entity {
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Tenant => "tenant",
            Self::Token => "token",
            Self::Session => "session",
            Self::Message => "message",
            Self::Robot => "robot",
            Self::Endpoint => "endpoint",
            Self::Event => "event",
            Self::Delivery => "delivery",
            Self::Job => "job",
            Self::Channel => "channel",
        }
    }
}

impl std::fmt::Display for Entity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Declares [`Unique`] with its text and [`Unique::ALL`], so the list cannot miss a variant.
macro_rules! uniques {
    ($($(#[$doc:meta])* $variant:ident => $text:literal,)*) => {
        /// The uniqueness rule a [`StoreError::Conflict`] broke: one per unique constraint or
        /// primary key a write can hit (the stores map the database's names to these in one
        /// table, `tiller-store`'s `error.rs`). A violation of any other is a bug, reported
        /// as [`StoreError::Other`], never as a conflict.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum Unique {
            $($(#[$doc])* $variant,)*
        }

        impl Unique {
            /// Every variant.
            pub const ALL: &'static [Self] = &[$(Self::$variant),*];

            /// What already exists, as API messages have always named it ("`company`
            /// already exists").
            pub const fn as_str(self) -> &'static str {
                match self {
                    $(Self::$variant => $text,)*
                }
            }
        }
    };
}

uniques! {
    /// `tenants.company`: the company code is taken.
    TenantCompany => "company",
    /// `tenants.app_key`.
    TenantAppKey => "app_key",
    /// `tenants.sign_key`.
    TenantSignKey => "sign_key",
    /// `tenants.access_key`.
    TenantAccessKey => "access_key",
    /// `api_token_hashes.token_hash`.
    TokenHash => "token_hash",
    /// `messages (tenant_id, msg_id)`: the tenant already has a message with this id.
    MessageMsgId => "msg_id",
    /// `webhook_endpoints.id`.
    EndpointId => "id",
    /// `webhook_events.event_id`.
    EventId => "event_id",
    /// `robots_tenant_default`: the tenant already has a default robot (two were made
    /// default at once; PostgreSQL only, SQLite's writer serialises them).
    RobotDefault => "tenant_default",
    /// `seats (tenant_id, email)`: another seat of the tenant has this e-mail.
    SeatEmail => "email",
    /// `channels.phone_number_id`: a WhatsApp number belongs to one channel in the whole
    /// store, since a webhook names only the number.
    ChannelPhoneNumberId => "phone_number_id",
}

impl std::fmt::Display for Unique {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::{Entity, StoreError, Unique};

    #[test]
    fn messages_stay_readable() {
        assert_eq!(
            StoreError::NotFound(Entity::Session).to_string(),
            "session not found"
        );
        assert_eq!(
            StoreError::Conflict(Unique::MessageMsgId).to_string(),
            "conflict: msg_id already exists"
        );
    }
}
