//! Errors of the notify module: a bad allow list or secret at startup, a signature that
//! does not verify at a receiver, and a notification that could not be delivered.
//!
//! None of them carries a secret or a full webhook URL: a Slack incoming-webhook URL is
//! itself a credential, so messages name the notifier and the host only.

use std::net::IpAddr;
use std::time::Duration;

/// `LOGPIPE_ALERTING_WEBHOOK_ALLOW` could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{entry}` is not a CIDR such as 10.0.0.0/8 or ::1/128, nor an IP address")]
pub(crate) struct AllowListError {
    pub entry: String,
}

/// A signing secret not in the Standard Webhooks `whsec_<base64>` form.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SecretError {
    #[error("the secret does not start with `whsec_`")]
    MissingPrefix,
    #[error("the part after `whsec_` is not standard base64")]
    NotBase64,
    #[error("the secret is empty")]
    Empty,
}

/// Why a receiver should reject a request as not signed by the holder of the secret.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VerifyError {
    #[error("the `{0}` header is missing or not text")]
    MissingHeader(&'static str),
    #[error("`webhook-timestamp` is not unix seconds")]
    BadTimestamp,
    #[error("`webhook-timestamp` is {skew_secs}s away from now, beyond the tolerance")]
    OutsideTolerance { skew_secs: i64 },
    #[error("no `v1` signature matches")]
    NoMatch,
}

/// A notification that was not delivered, after `attempts` tries.
#[derive(Debug, thiserror::Error)]
pub(crate) enum DeliveryError {
    /// The target resolved to an address the SSRF guard forbids; nothing was sent.
    #[error(
        "notifier {notifier}: refusing to send to {host} at {address}: {category} address, \
         not in LOGPIPE_ALERTING_WEBHOOK_ALLOW"
    )]
    Refused {
        notifier: String,
        host: String,
        address: IpAddr,
        category: &'static str,
        attempts: u32,
    },
    /// A 4xx other than 429: the request itself is wrong and sending it again will not help.
    #[error("notifier {notifier}: the receiver answered {status}, not retried: {detail}")]
    Rejected {
        notifier: String,
        status: u16,
        detail: String,
        attempts: u32,
    },
    /// Redirects are not followed: a receiver could otherwise point the sender anywhere,
    /// past the address check.
    #[error(
        "notifier {notifier}: the receiver answered {status}, a redirect, which is not followed"
    )]
    Redirected {
        notifier: String,
        status: u16,
        attempts: u32,
    },
    /// Retries ran out of `max_age`.
    #[error("notifier {notifier}: gave up after {attempts} attempts in {elapsed:?}: {last}")]
    Exhausted {
        notifier: String,
        attempts: u32,
        elapsed: Duration,
        last: String,
    },
    /// The request could not be built (a client setup problem, not the receiver's).
    #[error("notifier {notifier}: {message}")]
    Request {
        notifier: String,
        message: String,
        attempts: u32,
    },
    #[error("notifier {notifier}: encoding the payload: {source}")]
    Encode {
        notifier: String,
        source: serde_json::Error,
    },
}

impl DeliveryError {
    /// How many requests were attempted (0 when none could be made).
    pub(crate) fn attempts(&self) -> u32 {
        match self {
            DeliveryError::Refused { attempts, .. }
            | DeliveryError::Rejected { attempts, .. }
            | DeliveryError::Redirected { attempts, .. }
            | DeliveryError::Exhausted { attempts, .. }
            | DeliveryError::Request { attempts, .. } => *attempts,
            DeliveryError::Encode { .. } => 0,
        }
    }
}
