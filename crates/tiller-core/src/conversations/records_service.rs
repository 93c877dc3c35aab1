//! nxlink chat records through [`Conversations`]: the page, then its agents from the seat
//! directory in one lookup ([`super::records`] decides what each record shows).

use super::{
    agent_filter, page_seat_ids, service::Result, show_records, ChatRecordPage, ChatRecordRequest,
    ConversationError, Conversations,
};
use crate::{seats::SeatEmail, TenantId};

impl Conversations {
    /// The number of records matching the request and the page it asks for, each record
    /// with its agent. An `agent_account` that is the e-mail of a seat of the tenant
    /// filters by that seat; any other value is taken for a seat id.
    pub async fn chat_records(
        &self,
        t: TenantId,
        req: &ChatRecordRequest,
    ) -> Result<ChatRecordPage> {
        let mut q = req.query.clone();
        if let Some(account) = req.agent_account.as_deref() {
            let by_email = match SeatEmail::parse(account) {
                Ok(email) => self
                    .store
                    .seat_by_email(t, &email)
                    .await
                    .map_err(ConversationError::Store)?,
                Err(_) => None,
            };
            q.seat_id = Some(agent_filter(account, by_email.as_ref()));
        }
        let (total, records) = self
            .store
            .chat_records(t, &q)
            .await
            .map_err(ConversationError::Store)?;
        let ids = page_seat_ids(&records);
        let seats = if ids.is_empty() {
            Vec::new()
        } else {
            self.store
                .seats_by_ids(t, &ids)
                .await
                .map_err(ConversationError::Store)?
        };
        Ok(ChatRecordPage {
            total,
            records: show_records(records, &seats, req.agent_account.as_deref()),
        })
    }
}
