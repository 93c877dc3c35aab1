//! The channel's own reports, through [`Conversations`]: statuses of the messages it was
//! handed, and messages it sent on its own. (User messages it handled itself go through
//! [`Conversations::record_user_messages`].)

use super::{
    channel_message, check_status_reports,
    service::{check_message_count, store_error, Result},
    CallId, ChannelMessage, ChannelSender, ConversationError, Conversations, ReportedStatus,
    StatusReport, StatusReportOutcome, StoredMessage,
};
use crate::{bus::Committed, tenant::Tenant};

impl Conversations {
    /// Applies the channel's status report on messages of `call_id` (渠道发送的消息状态变更事件
    /// 上报), each status by the one precedence rule and each real change reported as
    /// `message.status`; returns every message's status afterwards. A message the session
    /// does not hold, or one whose status a channel does not report, refuses the report
    /// whole. A closed session still takes reports: receipts arrive late.
    pub async fn report_statuses(
        &self,
        tenant: &Tenant,
        call_id: &CallId,
        reports: Vec<StatusReport>,
    ) -> Result<Vec<ReportedStatus>> {
        check_status_reports(&reports).map_err(ConversationError::Invalid)?;
        let outcome = self
            .store
            .report_statuses(
                tenant.id,
                call_id,
                &reports,
                &tenant.company,
                self.clock.now(),
            )
            .await
            .map_err(|e| store_error(e, call_id))?;
        match outcome {
            StatusReportOutcome::Applied(statuses) => {
                if statuses.iter().any(|s| s.changed) {
                    self.bus.publish(&Committed::EventsEnqueued);
                }
                Ok(statuses)
            }
            StatusReportOutcome::Refused(why) => Err(ConversationError::Invalid(why)),
        }
    }

    /// Records messages the channel sent on its own into an open session (渠道发送的消息事件
    /// 上报), with no `message.send`: the channel has sent them. Retries with the same
    /// `msg_id` store nothing new.
    pub async fn record_channel_messages(
        &self,
        tenant: &Tenant,
        call_id: &CallId,
        sender: ChannelSender,
        seat_id: Option<&str>,
        messages: Vec<ChannelMessage>,
    ) -> Result<Vec<StoredMessage>> {
        check_message_count(messages.len())?;
        let session = self.session(tenant.id, call_id).await?;
        let now = self.clock.now();
        let messages = messages
            .into_iter()
            .enumerate()
            .map(|(i, m)| channel_message(i, m, sender, seat_id, &session, now))
            .collect::<std::result::Result<Vec<_>, _>>()
            .map_err(ConversationError::Invalid)?;
        self.store
            .record_channel_messages(tenant.id, call_id, &messages, now)
            .await
            .map_err(|e| store_error(e, call_id))
    }
}
