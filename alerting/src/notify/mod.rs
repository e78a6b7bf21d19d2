//! Webhook notifiers: the notifiers file, payload formats (Alertmanager v4, Alertmanager's
//! own API, Slack, generic JSON), Standard Webhooks signing, credentials, and delivery
//! with retries behind an SSRF guard.
//!
//! ```text
//! Notifiers::load(LOGPIPE_ALERTING_NOTIFIERS_FILE) ─┐
//! AllowList::parse(LOGPIPE_ALERTING_WEBHOOK_ALLOW) ─ Sender::new ─ deliver(&Notifier, &Notification)
//! ```

mod alertmanager;
mod allow;
mod auth;
mod error;
mod notification;
mod notifiers;
mod payload;
#[cfg(test)]
mod receiver;
mod retry;
mod sender;
mod signature;

pub(crate) use allow::AllowList;
pub use error::{SecretError, VerifyError};
pub(crate) use notification::{EventJson, Notification, Search, Status};
pub(crate) use notifiers::Notifiers;
pub(crate) use sender::Sender;
pub use signature::{
    Secret, TIMESTAMP_TOLERANCE, WEBHOOK_ID, WEBHOOK_SIGNATURE, WEBHOOK_TIMESTAMP, verify,
    verify_at,
};
