//! Webhook notifiers: the notifiers file, payload formats (Alertmanager v4, Slack,
//! generic JSON), Standard Webhooks signing, and delivery with retries behind an SSRF
//! guard.
//!
//! ```text
//! Notifiers::load(LOGPIPE_ALERTING_NOTIFIERS_FILE) ─┐
//! AllowList::parse(LOGPIPE_ALERTING_WEBHOOK_ALLOW) ─ Sender::new ─ deliver(&Notifier, &Notification)
//! ```

mod allow;
mod error;
mod notification;
mod notifiers;
mod payload;
#[cfg(test)]
mod receiver;
mod retry;
mod sender;
mod signature;

pub use allow::AllowList;
pub use error::{AllowListError, DeliveryError, SecretError, VerifyError};
pub use notification::{Notification, Status};
pub use notifiers::{DEFAULT_TIMEOUT, Notifier, Notifiers};
pub use payload::Format;
pub use retry::{DEFAULT_MAX_AGE, DEFAULT_RETRY_BASE, DEFAULT_RETRY_CAP, RetryPolicy};
pub use sender::{DELIVERED_TOTAL, Delivered, FAILED_TOTAL, RETRIED_TOTAL, Sender};
pub use signature::{
    Secret, TIMESTAMP_TOLERANCE, WEBHOOK_ID, WEBHOOK_SIGNATURE, WEBHOOK_TIMESTAMP, verify,
    verify_at,
};
