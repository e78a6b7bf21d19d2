//! Collector settings.

use std::path::PathBuf;

use logpipe_common::config::{ConfigError, Env, Kind, VarSpec};
use serde::Serialize;

pub const PODS_DIR: VarSpec = VarSpec::new(
    "LOGPIPE_COLLECTOR_PODS_DIR",
    Kind::Path,
    Some("/var/log/pods"),
    "Directory of container logs in the kubelet layout `<namespace>_<pod>_<uid>/<container>/<n>.log`.",
);

pub const VARS: [&VarSpec; 1] = [&PODS_DIR];

#[derive(Debug, Clone, Serialize)]
pub struct CollectorConfig {
    pub pods_dir: PathBuf,
}

impl CollectorConfig {
    pub fn load(env: &Env) -> Result<Self, ConfigError> {
        Ok(CollectorConfig {
            pods_dir: env.path(&PODS_DIR)?,
        })
    }
}
