//! Webhook notifiers.
