//! Alerting settings.

use logpipe_common::config::{ConfigError, Env, Kind, VarSpec};
use serde::Serialize;

pub const ALERTS_TOPIC: VarSpec = VarSpec::new(
    "LOGPIPE_ALERTING_ALERTS_TOPIC",
    Kind::Topic,
    Some("alerts"),
    "Topic receiving every notification as sent, for audit.",
);

pub const VARS: [&VarSpec; 1] = [&ALERTS_TOPIC];

#[derive(Debug, Clone, Serialize)]
pub struct AlertingConfig {
    pub alerts_topic: String,
}

impl AlertingConfig {
    pub fn load(env: &Env) -> Result<Self, ConfigError> {
        Ok(AlertingConfig {
            alerts_topic: env.topic(&ALERTS_TOPIC)?,
        })
    }
}
