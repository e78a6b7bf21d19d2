//! Collector settings.

use std::path::PathBuf;
use std::time::Duration;

use logpipe_common::config::{ConfigError, Env, Kind, VarSpec};
use serde::Serialize;

pub const PODS_DIR: VarSpec = VarSpec::new(
    "LOGPIPE_COLLECTOR_PODS_DIR",
    Kind::Path,
    Some("/var/log/pods"),
    "Directory of container logs in the kubelet layout `<namespace>_<pod>_<uid>/<container>/<n>.log`.",
);
pub const HOST_FILES: VarSpec = VarSpec::new(
    "LOGPIPE_COLLECTOR_HOST_FILES",
    Kind::List,
    None,
    "Host files to tail besides pod logs, as `name=glob` items, e.g. `kube-audit=/var/log/kubernetes/audit/*.log`.",
);
pub const INCLUDE: VarSpec = VarSpec::new(
    "LOGPIPE_COLLECTOR_INCLUDE",
    Kind::List,
    Some("*/*/*"),
    "Container logs to collect, as `namespace/pod/container` globs.",
);
pub const EXCLUDE: VarSpec = VarSpec::new(
    "LOGPIPE_COLLECTOR_EXCLUDE",
    Kind::List,
    None,
    "Container logs to skip, as `namespace/pod/container` globs (e.g. the collector's own pods: `logpipe/logpipe-collector-*/*`).",
);
pub const RESCAN_INTERVAL_MS: VarSpec = VarSpec::new(
    "LOGPIPE_COLLECTOR_RESCAN_INTERVAL_MS",
    Kind::Duration,
    Some("5000"),
    "Full rescan of the watched directories, the safety net behind inotify.",
);
pub const CHECKPOINT_INTERVAL_MS: VarSpec = VarSpec::new(
    "LOGPIPE_COLLECTOR_CHECKPOINT_INTERVAL_MS",
    Kind::Duration,
    Some("1000"),
    "Most frequent checkpoint write; checkpoints only ever cover delivered records.",
);
pub const MAX_LINE_BYTES: VarSpec = VarSpec::new(
    "LOGPIPE_COLLECTOR_MAX_LINE_BYTES",
    Kind::Size,
    Some("256KiB"),
    "Longest record (after joining partial lines); longer ones are truncated and flagged.",
);
pub const MAX_IN_FLIGHT_BYTES: VarSpec = VarSpec::new(
    "LOGPIPE_COLLECTOR_MAX_IN_FLIGHT_BYTES",
    Kind::Size,
    Some("64MiB"),
    "Event bytes sent but not yet acknowledged by Kafka; reading pauses at this limit.",
);
pub const ROTATED_DRAIN_MS: VarSpec = VarSpec::new(
    "LOGPIPE_COLLECTOR_ROTATED_DRAIN_MS",
    Kind::Duration,
    Some("300000"),
    "How long a rotated or deleted file is kept open to be read to its end; unread bytes after that are reported as a gap.",
);
pub const REDACT_DEFAULTS: VarSpec = VarSpec::new(
    "LOGPIPE_COLLECTOR_REDACT_DEFAULTS",
    Kind::Bool,
    Some("true"),
    "Mask bearer tokens, AWS access keys, password/secret/token values and card numbers (Luhn-checked).",
);
pub const REDACT_RULES_FILE: VarSpec = VarSpec::new(
    "LOGPIPE_COLLECTOR_REDACT_RULES_FILE",
    Kind::Path,
    None,
    "Extra redaction rules, one `name regex` per line.",
);
pub const INGEST_MAX_BODY_BYTES: VarSpec = VarSpec::new(
    "LOGPIPE_COLLECTOR_INGEST_MAX_BODY_BYTES",
    Kind::Size,
    Some("10MiB"),
    "Largest request body of `POST /v1/logs`; larger ones get 413.",
);
pub const INGEST_TIMEOUT_MS: VarSpec = VarSpec::new(
    "LOGPIPE_COLLECTOR_INGEST_TIMEOUT_MS",
    Kind::Duration,
    Some("30000"),
    "How long `POST /v1/logs` waits for Kafka to acknowledge its batch before answering 503.",
);

pub const VARS: [&VarSpec; 13] = [
    &PODS_DIR,
    &HOST_FILES,
    &INCLUDE,
    &EXCLUDE,
    &RESCAN_INTERVAL_MS,
    &CHECKPOINT_INTERVAL_MS,
    &MAX_LINE_BYTES,
    &MAX_IN_FLIGHT_BYTES,
    &ROTATED_DRAIN_MS,
    &REDACT_DEFAULTS,
    &REDACT_RULES_FILE,
    &INGEST_MAX_BODY_BYTES,
    &INGEST_TIMEOUT_MS,
];

/// A named set of host files.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct HostFiles {
    pub name: String,
    pub glob: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct CollectorConfig {
    pub pods_dir: PathBuf,
    pub host_files: Vec<HostFiles>,
    pub include: Vec<String>,
    pub exclude: Vec<String>,
    #[serde(with = "millis")]
    pub rescan_interval: Duration,
    #[serde(with = "millis")]
    pub checkpoint_interval: Duration,
    pub max_line_bytes: usize,
    pub max_in_flight_bytes: usize,
    #[serde(with = "millis")]
    pub rotated_drain: Duration,
    pub redact_defaults: bool,
    pub redact_rules_file: Option<PathBuf>,
    pub ingest_max_body_bytes: usize,
    #[serde(with = "millis")]
    pub ingest_timeout: Duration,
}

impl CollectorConfig {
    pub fn load(env: &Env) -> Result<Self, ConfigError> {
        let mut host_files = Vec::new();
        if env.is_set(&HOST_FILES) {
            for item in env.list(&HOST_FILES)? {
                host_files.push(parse_host_files(&item).ok_or_else(|| ConfigError::Invalid {
                    var: HOST_FILES.name.to_owned(),
                    value: item.clone(),
                    expected: "comma-separated name=glob items with an absolute glob, e.g. kube-audit=/var/log/kubernetes/audit/*.log".into(),
                })?);
            }
        }
        let globs = |spec: &VarSpec| -> Result<Vec<String>, ConfigError> {
            if !env.is_set(spec) && spec.default.is_none() {
                return Ok(Vec::new());
            }
            let items = env.list(spec)?;
            for item in &items {
                let valid = item.split('/').count() == 3 && globset::Glob::new(item).is_ok();
                if !valid {
                    return Err(ConfigError::Invalid {
                        var: spec.name.to_owned(),
                        value: item.clone(),
                        expected:
                            "namespace/pod/container globs such as kube-system/*/* or */api-*/api"
                                .into(),
                    });
                }
            }
            Ok(items)
        };
        let positive_size = |spec: &VarSpec| -> Result<usize, ConfigError> {
            let size = env.size(spec)?;
            if size == 0 {
                return Err(ConfigError::Invalid {
                    var: spec.name.to_owned(),
                    value: "0".into(),
                    expected: "a size above zero".into(),
                });
            }
            Ok(usize::try_from(size).unwrap_or(usize::MAX))
        };
        Ok(CollectorConfig {
            pods_dir: env.path(&PODS_DIR)?,
            host_files,
            include: globs(&INCLUDE)?,
            exclude: globs(&EXCLUDE)?,
            rescan_interval: env.duration(&RESCAN_INTERVAL_MS)?,
            checkpoint_interval: env.duration(&CHECKPOINT_INTERVAL_MS)?,
            max_line_bytes: positive_size(&MAX_LINE_BYTES)?,
            max_in_flight_bytes: positive_size(&MAX_IN_FLIGHT_BYTES)?,
            rotated_drain: env.duration(&ROTATED_DRAIN_MS)?,
            redact_defaults: env.bool(&REDACT_DEFAULTS)?,
            redact_rules_file: env.path_opt(&REDACT_RULES_FILE)?,
            ingest_max_body_bytes: positive_size(&INGEST_MAX_BODY_BYTES)?,
            ingest_timeout: env.duration(&INGEST_TIMEOUT_MS)?,
        })
    }
}

fn parse_host_files(item: &str) -> Option<HostFiles> {
    let (name, glob) = item.split_once('=')?;
    let (name, glob) = (name.trim(), glob.trim());
    let valid = !name.is_empty() && glob.starts_with('/') && globset::Glob::new(glob).is_ok();
    valid.then(|| HostFiles {
        name: name.to_owned(),
        glob: glob.to_owned(),
    })
}

mod millis {
    use std::time::Duration;

    pub fn serialize<S: serde::Serializer>(
        value: &Duration,
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        serializer.serialize_u128(value.as_millis())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults() {
        let config = CollectorConfig::load(&Env::default()).unwrap();
        assert_eq!(config.pods_dir, PathBuf::from("/var/log/pods"));
        assert_eq!(config.include, ["*/*/*"]);
        assert!(config.exclude.is_empty());
        assert_eq!(config.max_line_bytes, 256 * 1024);
    }

    #[test]
    fn host_files_are_name_glob_pairs() {
        let env = Env::from_pairs([(
            "LOGPIPE_COLLECTOR_HOST_FILES",
            "kube-audit=/var/log/kubernetes/audit/*.log, syslog=/var/log/syslog",
        )]);
        let config = CollectorConfig::load(&env).unwrap();
        assert_eq!(
            config.host_files[0],
            HostFiles {
                name: "kube-audit".into(),
                glob: "/var/log/kubernetes/audit/*.log".into()
            }
        );
        assert_eq!(config.host_files[1].name, "syslog");
        for bad in ["kube-audit", "=/var/log/x", "audit=relative/*.log"] {
            let env = Env::from_pairs([("LOGPIPE_COLLECTOR_HOST_FILES", bad)]);
            let error = CollectorConfig::load(&env).unwrap_err();
            assert_eq!(error.var(), "LOGPIPE_COLLECTOR_HOST_FILES");
        }
    }

    #[test]
    fn globs_need_three_parts() {
        let env = Env::from_pairs([("LOGPIPE_COLLECTOR_EXCLUDE", "kube-system")]);
        assert_eq!(
            CollectorConfig::load(&env).unwrap_err().var(),
            "LOGPIPE_COLLECTOR_EXCLUDE"
        );
        let env = Env::from_pairs([("LOGPIPE_COLLECTOR_MAX_LINE_BYTES", "0")]);
        assert_eq!(
            CollectorConfig::load(&env).unwrap_err().var(),
            "LOGPIPE_COLLECTOR_MAX_LINE_BYTES"
        );
    }
}
