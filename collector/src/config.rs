//! Collector settings.

use std::path::{Path, PathBuf};
use std::time::Duration;

use logpipe_common::config::{ConfigError, Env, Kind, VarSpec};
use serde::Serialize;

use crate::ingest_tokens::{IngestTokens, protected_sources};
use crate::multiline::MultilineConfig;
use crate::redact::{RedactRule, Redactor};

pub(crate) const PODS_DIR: VarSpec = VarSpec::new(
    "LOGPIPE_COLLECTOR_PODS_DIR",
    Kind::Path,
    Some("/var/log/pods"),
    "Directory of container logs in the kubelet layout `<namespace>_<pod>_<uid>/<container>/<n>.log`.",
);
pub(crate) const HOST_FILES: VarSpec = VarSpec::new(
    "LOGPIPE_COLLECTOR_HOST_FILES",
    Kind::List,
    None,
    "Host files to tail besides pod logs, as `name=glob` items, e.g. `kube-audit=/var/log/kubernetes/audit/*.log`.",
);
pub(crate) const INCLUDE: VarSpec = VarSpec::new(
    "LOGPIPE_COLLECTOR_INCLUDE",
    Kind::List,
    Some("*/*/*"),
    "Container logs to collect, as `namespace/pod/container` globs.",
);
pub(crate) const EXCLUDE: VarSpec = VarSpec::new(
    "LOGPIPE_COLLECTOR_EXCLUDE",
    Kind::List,
    None,
    "Container logs to skip, as `namespace/pod/container` globs (e.g. the collector's own pods: `logpipe/logpipe-collector-*/*`).",
);
pub(crate) const RESCAN_INTERVAL_MS: VarSpec = VarSpec::new(
    "LOGPIPE_COLLECTOR_RESCAN_INTERVAL_MS",
    Kind::Duration,
    Some("5000"),
    "Full rescan of the watched directories, the safety net behind inotify.",
);
pub(crate) const CHECKPOINT_INTERVAL_MS: VarSpec = VarSpec::new(
    "LOGPIPE_COLLECTOR_CHECKPOINT_INTERVAL_MS",
    Kind::Duration,
    Some("1000"),
    "Most frequent checkpoint write; checkpoints only ever cover delivered records.",
);
pub(crate) const MAX_LINE_BYTES: VarSpec = VarSpec::new(
    "LOGPIPE_COLLECTOR_MAX_LINE_BYTES",
    Kind::Size,
    Some("256KiB"),
    "Longest record (after joining partial lines); longer ones are truncated and flagged.",
);
pub(crate) const MAX_IN_FLIGHT_BYTES: VarSpec = VarSpec::new(
    "LOGPIPE_COLLECTOR_MAX_IN_FLIGHT_BYTES",
    Kind::Size,
    Some("64MiB"),
    "Event bytes sent but not yet acknowledged by Kafka; reading pauses at this limit.",
);
pub(crate) const ROTATED_DRAIN_MS: VarSpec = VarSpec::new(
    "LOGPIPE_COLLECTOR_ROTATED_DRAIN_MS",
    Kind::Duration,
    Some("300000"),
    "How long a rotated or deleted file is kept open to be read to its end; unread bytes after that are reported as a gap.",
);
pub(crate) const REDACT_DEFAULTS: VarSpec = VarSpec::new(
    "LOGPIPE_COLLECTOR_REDACT_DEFAULTS",
    Kind::Bool,
    Some("true"),
    "Mask values of secret-named keys (password, clientSecret, api_key, Authorization, Cookie, ...), credentials in URLs and headers, JWTs, private keys, vendor tokens (GitHub, Slack, Stripe, npm, Google, AWS, ...) and card numbers (Luhn-checked).",
);
pub(crate) const REDACT_RULES_FILE: VarSpec = VarSpec::new(
    "LOGPIPE_COLLECTOR_REDACT_RULES_FILE",
    Kind::Path,
    None,
    "Extra redaction rules, one `name regex` per line.",
);
pub(crate) const MULTILINE_RULES_FILE: VarSpec = VarSpec::new(
    "LOGPIPE_COLLECTOR_MULTILINE_RULES_FILE",
    Kind::Path,
    None,
    "Stack-trace joining: one `namespace/pod/container-glob start-regex` per line; a record matching the regex starts an event, others are appended to it.",
);
pub(crate) const MULTILINE_MAX_BYTES: VarSpec = VarSpec::new(
    "LOGPIPE_COLLECTOR_MULTILINE_MAX_BYTES",
    Kind::Size,
    Some("1MiB"),
    "Largest joined multi-line event; the rest passes through as separate events.",
);
pub(crate) const MULTILINE_TIMEOUT_MS: VarSpec = VarSpec::new(
    "LOGPIPE_COLLECTOR_MULTILINE_TIMEOUT_MS",
    Kind::Duration,
    Some("1000"),
    "A multi-line event is complete when nothing was appended to it for this long.",
);
pub(crate) const INGEST_MAX_BODY_BYTES: VarSpec = VarSpec::new(
    "LOGPIPE_COLLECTOR_INGEST_MAX_BODY_BYTES",
    Kind::Size,
    Some("10MiB"),
    "Largest request body of `POST /v1/logs` (OTLP or NDJSON) and `POST /v1/push`; larger ones get 413.",
);
pub(crate) const INGEST_MAX_IN_FLIGHT_BYTES: VarSpec = VarSpec::new(
    "LOGPIPE_COLLECTOR_INGEST_MAX_IN_FLIGHT_BYTES",
    Kind::Size,
    Some("64MiB"),
    "Request bodies of `POST /v1/logs` and `/v1/push` held at once, all requests together (at least LOGPIPE_COLLECTOR_INGEST_MAX_BODY_BYTES); a push beyond it gets 503 with Retry-After before its body is read.",
);
pub(crate) const INGEST_TIMEOUT_MS: VarSpec = VarSpec::new(
    "LOGPIPE_COLLECTOR_INGEST_TIMEOUT_MS",
    Kind::Duration,
    Some("30000"),
    "How long `POST /v1/logs` and `/v1/push` wait for Kafka to acknowledge its batch before answering 503.",
);

pub(crate) const INGEST_TOKENS_FILE: VarSpec = VarSpec::new(
    "LOGPIPE_COLLECTOR_INGEST_TOKENS_FILE",
    Kind::Path,
    None,
    "YAML list of ingest tokens (name, token_sha256, sources globs, optional namespace) that `POST /v1/logs` and `/v1/push` require; an OTLP push writes the source named by each resource's service.name. Unset: pushes are taken only on a loopback listener, and never for kube-audit or a host file's name.",
);

pub(crate) const METADATA: VarSpec = VarSpec::new(
    "LOGPIPE_COLLECTOR_METADATA",
    Kind::Text,
    Some("auto"),
    "Pod labels, allowed annotations, owning workload and namespace labels from the API server, added under `k8s`: `api` (the kubeconfig named by KUBECONFIG, else the pod's service account, else `~/.kube/config`), `off`, or `auto` (`api` inside a cluster, where KUBERNETES_SERVICE_HOST is set).",
);
pub(crate) const METADATA_ANNOTATIONS: VarSpec = VarSpec::new(
    "LOGPIPE_COLLECTOR_METADATA_ANNOTATIONS",
    Kind::List,
    Some("app.kubernetes.io/*,helm.sh/chart,logpipe.io/*,team,owner"),
    "Pod annotations added to events, as key globs; values over 1 KiB are left out.",
);
pub(crate) const METADATA_WAIT_MS: VarSpec = VarSpec::new(
    "LOGPIPE_COLLECTOR_METADATA_WAIT_MS",
    Kind::Duration,
    Some("2000"),
    "Longest a new pod's log file waits for its pod's metadata; its events then ship without it, flagged `k8s_metadata_missing`, until it arrives. Not waited for while the API server does not answer.",
);
pub(crate) const METADATA_RETAIN_MS: VarSpec = VarSpec::new(
    "LOGPIPE_COLLECTOR_METADATA_RETAIN_MS",
    Kind::Duration,
    Some("300000"),
    "How long a deleted pod's metadata is kept for its last lines.",
);

pub(crate) const K8S_EVENTS: VarSpec = VarSpec::new(
    "LOGPIPE_COLLECTOR_K8S_EVENTS",
    Kind::Bool,
    Some("false"),
    "Collect the cluster's Kubernetes Events (events.k8s.io: OOMKilling, FailedScheduling, BackOff) as events with source.kind k8s-event. Every collector competes for a Lease and the one holding it watches the Events, so each is collected once per cluster. Uses the same API server credentials as LOGPIPE_COLLECTOR_METADATA.",
);
pub(crate) const K8S_EVENTS_LEASE: VarSpec = VarSpec::new(
    "LOGPIPE_COLLECTOR_K8S_EVENTS_LEASE",
    Kind::Text,
    Some("logpipe/logpipe-k8s-events"),
    "The Lease the collectors compete for, as namespace/name.",
);
pub(crate) const K8S_EVENTS_LEASE_MS: VarSpec = VarSpec::new(
    "LOGPIPE_COLLECTOR_K8S_EVENTS_LEASE_MS",
    Kind::Duration,
    Some("15000"),
    "How long the Lease holds without renewal (renewed every third of it); another collector takes over after this once the holder is gone without giving it up.",
);

pub const VARS: [&VarSpec; 25] = [
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
    &MULTILINE_RULES_FILE,
    &MULTILINE_MAX_BYTES,
    &MULTILINE_TIMEOUT_MS,
    &INGEST_MAX_BODY_BYTES,
    &INGEST_MAX_IN_FLIGHT_BYTES,
    &INGEST_TIMEOUT_MS,
    &INGEST_TOKENS_FILE,
    &METADATA,
    &METADATA_ANNOTATIONS,
    &METADATA_WAIT_MS,
    &METADATA_RETAIN_MS,
    &K8S_EVENTS,
    &K8S_EVENTS_LEASE,
    &K8S_EVENTS_LEASE_MS,
];

/// Which containers' records are joined into multi-line events, and how.
#[derive(Debug, Clone)]
pub struct MultilineRule {
    pub glob: String,
    pub matcher: globset::GlobMatcher,
    pub config: MultilineConfig,
}

impl Serialize for MultilineRule {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let mut rule = serializer.serialize_struct("MultilineRule", 2)?;
        rule.serialize_field("containers", &self.glob)?;
        rule.serialize_field("start_pattern", self.config.start_pattern.as_str())?;
        rule.end()
    }
}

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
    #[serde(with = "logpipe_common::config::duration_serde::millis")]
    pub rescan_interval: Duration,
    #[serde(with = "logpipe_common::config::duration_serde::millis")]
    pub checkpoint_interval: Duration,
    pub max_line_bytes: usize,
    pub max_in_flight_bytes: usize,
    #[serde(with = "logpipe_common::config::duration_serde::millis")]
    pub rotated_drain: Duration,
    pub redact_defaults: bool,
    pub redact_rules_file: Option<PathBuf>,
    /// The rules of `redact_rules_file`, validated at load.
    #[serde(skip)]
    pub redact_rules: Vec<RedactRule>,
    pub multiline: Vec<MultilineRule>,
    pub ingest_max_body_bytes: usize,
    pub ingest_max_in_flight_bytes: usize,
    #[serde(with = "logpipe_common::config::duration_serde::millis")]
    pub ingest_timeout: Duration,
    pub ingest_tokens_file: Option<PathBuf>,
    /// The tokens of `ingest_tokens_file`, read and checked with the configuration.
    #[serde(skip)]
    pub(crate) ingest_tokens: Option<IngestTokens>,
    /// Whether pod metadata is asked of the API server.
    pub metadata: bool,
    /// `KUBECONFIG`: the API server and credentials, when not the pod's service account.
    pub kubeconfig: Option<PathBuf>,
    pub metadata_annotations: Vec<String>,
    #[serde(with = "logpipe_common::config::duration_serde::millis")]
    pub metadata_wait: Duration,
    #[serde(with = "logpipe_common::config::duration_serde::millis")]
    pub metadata_retain: Duration,
    pub k8s_events: bool,
    /// The Lease's namespace and name.
    pub k8s_events_lease: (String, String),
    #[serde(with = "logpipe_common::config::duration_serde::millis")]
    pub k8s_events_lease_duration: Duration,
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
        let ingest_tokens_file = env.path_opt(&INGEST_TOKENS_FILE)?;
        let ingest_tokens = match &ingest_tokens_file {
            Some(path) => Some(
                IngestTokens::load(
                    path,
                    protected_sources(host_files.iter().map(|h| h.name.as_str())),
                )
                .map_err(|error| ConfigError::Invalid {
                    var: INGEST_TOKENS_FILE.name.to_owned(),
                    value: path.display().to_string(),
                    expected: format!("a readable ingest tokens file ({error})"),
                })?,
            ),
            None => None,
        };
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
        let positive_size = |spec: &VarSpec| env.positive_size(spec);
        let ingest_max_body_bytes = positive_size(&INGEST_MAX_BODY_BYTES)?;
        let ingest_max_in_flight_bytes = positive_size(&INGEST_MAX_IN_FLIGHT_BYTES)?;
        if ingest_max_in_flight_bytes < ingest_max_body_bytes {
            return Err(ConfigError::Invalid {
                var: INGEST_MAX_IN_FLIGHT_BYTES.name.to_owned(),
                value: ingest_max_in_flight_bytes.to_string(),
                expected: format!(
                    "at least LOGPIPE_COLLECTOR_INGEST_MAX_BODY_BYTES ({ingest_max_body_bytes} bytes), or no push of the largest size is ever taken"
                ),
            });
        }
        let redact_rules_file = env.path_opt(&REDACT_RULES_FILE)?;
        let redact_rules = match &redact_rules_file {
            Some(path) => read_rules(&REDACT_RULES_FILE, path, Redactor::parse_rules)?,
            None => Vec::new(),
        };
        let max_bytes = positive_size(&MULTILINE_MAX_BYTES)?;
        let flush_timeout = env.duration(&MULTILINE_TIMEOUT_MS)?;
        let multiline = match env.path_opt(&MULTILINE_RULES_FILE)? {
            Some(path) => read_rules(&MULTILINE_RULES_FILE, &path, |text| {
                parse_multiline(text, max_bytes, flush_timeout)
            })?,
            None => Vec::new(),
        };
        let metadata = match env.text(&METADATA)?.as_str() {
            "api" => true,
            "off" => false,
            "auto" => env.foreign("KUBERNETES_SERVICE_HOST").is_some(),
            other => {
                return Err(ConfigError::Invalid {
                    var: METADATA.name.to_owned(),
                    value: other.to_owned(),
                    expected: "api, off or auto".into(),
                });
            }
        };
        let metadata_annotations = env.list(&METADATA_ANNOTATIONS)?;
        for glob in &metadata_annotations {
            if let Err(error) = globset::Glob::new(glob) {
                return Err(ConfigError::Invalid {
                    var: METADATA_ANNOTATIONS.name.to_owned(),
                    value: glob.clone(),
                    expected: format!("annotation key globs ({error})"),
                });
            }
        }
        let lease = env.text(&K8S_EVENTS_LEASE)?;
        let k8s_events_lease = lease
            .split_once('/')
            .filter(|(ns, name)| !ns.is_empty() && !name.is_empty() && !name.contains('/'))
            .map(|(ns, name)| (ns.to_owned(), name.to_owned()))
            .ok_or_else(|| ConfigError::Invalid {
                var: K8S_EVENTS_LEASE.name.to_owned(),
                value: lease.clone(),
                expected: "namespace/name".into(),
            })?;
        let k8s_events_lease_duration = env.duration(&K8S_EVENTS_LEASE_MS)?;
        if k8s_events_lease_duration < Duration::from_secs(1) {
            return Err(ConfigError::Invalid {
                var: K8S_EVENTS_LEASE_MS.name.to_owned(),
                value: k8s_events_lease_duration.as_millis().to_string(),
                expected: "at least 1000 (the Lease counts whole seconds)".into(),
            });
        }
        Ok(CollectorConfig {
            k8s_events: env.bool(&K8S_EVENTS)?,
            k8s_events_lease,
            k8s_events_lease_duration,
            metadata,
            kubeconfig: env.foreign("KUBECONFIG").map(PathBuf::from),
            metadata_annotations,
            metadata_wait: env.duration(&METADATA_WAIT_MS)?,
            metadata_retain: env.duration(&METADATA_RETAIN_MS)?,
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
            redact_rules_file,
            redact_rules,
            multiline,
            ingest_max_body_bytes,
            ingest_max_in_flight_bytes,
            ingest_timeout: env.duration(&INGEST_TIMEOUT_MS)?,
            ingest_tokens,
            ingest_tokens_file,
        })
    }
}

/// Reads and parses a rules file named by `spec`; any problem is a configuration error
/// naming the variable.
fn read_rules<T>(
    spec: &VarSpec,
    path: &Path,
    parse: impl FnOnce(&str) -> anyhow::Result<Vec<T>>,
) -> Result<Vec<T>, ConfigError> {
    let invalid = |reason: String| ConfigError::Invalid {
        var: spec.name.to_owned(),
        value: path.display().to_string(),
        expected: format!("a readable rules file ({reason})"),
    };
    let text = std::fs::read_to_string(path).map_err(|error| invalid(error.to_string()))?;
    parse(&text).map_err(|error| invalid(format!("{error:#}")))
}

/// `namespace/pod/container-glob start-regex` per line; `#` starts a comment line.
fn parse_multiline(
    text: &str,
    max_bytes: usize,
    flush_timeout: Duration,
) -> anyhow::Result<Vec<MultilineRule>> {
    let mut rules = Vec::new();
    for (index, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let number = index + 1;
        let (glob, pattern) = line.split_once(char::is_whitespace).ok_or_else(|| {
            anyhow::anyhow!("line {number}: expected `namespace/pod/container-glob start-regex`")
        })?;
        if glob.split('/').count() != 3 {
            anyhow::bail!("line {number}: {glob:?} is not a namespace/pod/container glob");
        }
        let matcher = globset::Glob::new(glob)
            .map_err(|error| anyhow::anyhow!("line {number}: {error}"))?
            .compile_matcher();
        let start_pattern = regex::bytes::Regex::new(pattern.trim())
            .map_err(|error| anyhow::anyhow!("line {number}: {error}"))?;
        rules.push(MultilineRule {
            glob: glob.to_owned(),
            matcher,
            config: MultilineConfig {
                start_pattern,
                max_bytes,
                flush_timeout,
            },
        });
    }
    Ok(rules)
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
    fn rules_files_are_validated_at_load() {
        let dir = tempfile::tempdir().unwrap();
        let multiline = dir.path().join("multiline.rules");
        std::fs::write(
            &multiline,
            "# java services\nshop/*/api ^\\d{4}-\\d{2}-\\d{2}\n",
        )
        .unwrap();
        let redact = dir.path().join("redact.rules");
        std::fs::write(&redact, "ticket TKT-[0-9]+\n").unwrap();
        let env = Env::from_pairs([
            (
                "LOGPIPE_COLLECTOR_MULTILINE_RULES_FILE",
                multiline.to_str().unwrap(),
            ),
            (
                "LOGPIPE_COLLECTOR_REDACT_RULES_FILE",
                redact.to_str().unwrap(),
            ),
        ]);
        let config = CollectorConfig::load(&env).unwrap();
        assert_eq!(config.multiline.len(), 1);
        assert!(config.multiline[0].matcher.is_match("shop/api-1/api"));
        assert_eq!(config.redact_rules.len(), 1);

        std::fs::write(&multiline, "shop/*/api ^(unclosed\n").unwrap();
        let error = CollectorConfig::load(&env).unwrap_err();
        assert_eq!(error.var(), "LOGPIPE_COLLECTOR_MULTILINE_RULES_FILE");
        assert!(error.to_string().contains("line 1"), "{error}");
        let env = Env::from_pairs([("LOGPIPE_COLLECTOR_REDACT_RULES_FILE", "/nonexistent/rules")]);
        assert_eq!(
            CollectorConfig::load(&env).unwrap_err().var(),
            "LOGPIPE_COLLECTOR_REDACT_RULES_FILE"
        );
    }

    #[test]
    fn metadata_and_events_settings_are_checked() {
        let load = |pairs: &[(&str, &str)]| CollectorConfig::load(&Env::from_pairs(pairs.to_vec()));
        // Off outside a cluster, on inside one, unless said otherwise.
        assert!(!load(&[]).unwrap().metadata);
        assert!(
            load(&[("KUBERNETES_SERVICE_HOST", "10.96.0.1")])
                .unwrap()
                .metadata
        );
        assert!(
            !load(&[
                ("KUBERNETES_SERVICE_HOST", "10.96.0.1"),
                ("LOGPIPE_COLLECTOR_METADATA", "off")
            ])
            .unwrap()
            .metadata
        );
        let config = load(&[("KUBECONFIG", "/etc/kube/config")]).unwrap();
        assert_eq!(config.kubeconfig, Some(PathBuf::from("/etc/kube/config")));
        assert_eq!(
            config.k8s_events_lease,
            ("logpipe".to_string(), "logpipe-k8s-events".to_string())
        );
        for (var, bad) in [
            ("LOGPIPE_COLLECTOR_METADATA", "yes"),
            (
                "LOGPIPE_COLLECTOR_METADATA_ANNOTATIONS",
                "app.kubernetes.io/[*",
            ),
            ("LOGPIPE_COLLECTOR_K8S_EVENTS_LEASE", "no-namespace"),
            ("LOGPIPE_COLLECTOR_K8S_EVENTS_LEASE", "a/b/c"),
            ("LOGPIPE_COLLECTOR_K8S_EVENTS_LEASE_MS", "500"),
            ("LOGPIPE_COLLECTOR_K8S_EVENTS", "maybe"),
        ] {
            let error = load(&[(var, bad)]).unwrap_err();
            assert_eq!(error.var(), var, "{bad}: {error}");
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
