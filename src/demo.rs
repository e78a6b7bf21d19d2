//! The standalone demo: when the kubelet directory has no pods (a laptop), logpipe writes a
//! built-in workload there instead and loads one alert rule that fires on its bursts of
//! checkout errors, so a newcomer sees live data, a histogram and an alert within seconds.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use logpipe_common::config::{ConfigError, Env, Kind, VarSpec};
use logpipe_common::service::ServiceContext;
use tracing::{info, warn};

use crate::generate::{GenerateOptions, Generator};

pub const DEMO: VarSpec = VarSpec::new(
    "LOGPIPE_STANDALONE_DEMO",
    Kind::Text,
    Some("auto"),
    "Built-in demo workload: `auto` writes it when LOGPIPE_COLLECTOR_PODS_DIR has no pods, `on` always, `off` never.",
);
pub const DEMO_RATE: VarSpec = VarSpec::new(
    "LOGPIPE_STANDALONE_DEMO_RATE",
    Kind::Integer {
        min: 1,
        max: 100_000,
    },
    Some("20"),
    "Log entries per second the demo workload writes.",
);

/// Size at which the demo rotates a container's log; with one rotated file kept, the demo
/// holds at most about 60 MiB of logs on disk.
const DEMO_ROTATE_BYTES: u64 = 5 * 1024 * 1024;
const DEMO_KEEP_ROTATED: usize = 1;

/// The demo's alert rule: the workload's checkout API fails half its requests for 20 s
/// every two minutes, starting 10 s after the start.
const DEMO_RULE: &str = "\
# The standalone demo's rule: the checkout API's error bursts. Alerts go to the log and
# the alerts topic; name a notifier in `notify` to send them to a webhook.
name: checkout-errors
type: threshold
query: 'k8s.namespace:shop AND k8s.container:api AND level:error'
window: 1m
threshold: 5
group_by: [k8s.pod]
severity: critical
summary: '{{ count }} checkout errors in {{ group.k8s.pod }} within a minute, latest: {{ event.message }}'
notify: []
realert: 10m
lateness: 10s
";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    Auto,
    On,
    Off,
}

#[derive(Debug, Clone)]
pub struct Demo {
    mode: Mode,
    rate: u32,
    dir: PathBuf,
}

impl Demo {
    pub fn load(env: &Env, data_dir: &Path) -> Result<Self, ConfigError> {
        let value = env.text(&DEMO)?;
        let mode = match value.trim().to_ascii_lowercase().as_str() {
            "auto" => Mode::Auto,
            "on" | "true" => Mode::On,
            "off" | "false" => Mode::Off,
            _ => {
                return Err(ConfigError::Invalid {
                    var: DEMO.name.to_owned(),
                    value,
                    expected: "auto, on or off".into(),
                });
            }
        };
        Ok(Demo {
            mode,
            rate: u32::try_from(env.integer(&DEMO_RATE)?).unwrap_or(u32::MAX),
            dir: data_dir.join("demo"),
        })
    }

    pub fn effective(&self) -> serde_json::Value {
        serde_json::json!({
            "mode": format!("{:?}", self.mode).to_lowercase(),
            "rate": self.rate,
            "dir": self.dir,
        })
    }

    /// Whether the demo runs instead of collecting `pods_dir`.
    pub fn wanted(&self, pods_dir: &Path) -> bool {
        match self.mode {
            Mode::On => true,
            Mode::Off => false,
            Mode::Auto => !has_pods(pods_dir),
        }
    }

    pub fn pods_dir(&self) -> PathBuf {
        self.dir.join("pods")
    }

    /// Writes the demo rule and returns its directory.
    pub fn write_rules(&self) -> anyhow::Result<PathBuf> {
        let dir = self.dir.join("rules");
        std::fs::create_dir_all(&dir)?;
        logpipe_common::durable::write_atomically(
            &dir.join("checkout-errors.yaml"),
            DEMO_RULE.as_bytes(),
        )?;
        Ok(dir)
    }

    /// Starts the workload on a thread of its own; it stops at shutdown.
    pub fn start(&self, ctx: &ServiceContext) -> anyhow::Result<()> {
        let mut options = GenerateOptions::new(self.pods_dir());
        options.rate = f64::from(self.rate);
        options.rotate_bytes = DEMO_ROTATE_BYTES;
        options.keep_rotated = DEMO_KEEP_ROTATED;
        options.seed = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(1);
        let mut generator = Generator::new(options)?;
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let shutdown = ctx.shutdown.clone();
        ctx.tasks.spawn(async move {
            shutdown.cancelled().await;
            flag.store(true, Ordering::Relaxed);
        });
        let failed = ctx.clone();
        std::thread::Builder::new()
            .name("demo-workload".into())
            .spawn(move || {
                if let Err(error) = generator.run(&stop, &mut |_| {}) {
                    warn!(%error, "demo workload stopped");
                    failed.fail(&anyhow::Error::new(error).context("writing the demo workload"));
                }
            })?;
        info!(
            pods_dir = %self.pods_dir().display(),
            rate = self.rate,
            rule = "checkout-errors",
            reason = "no pods in LOGPIPE_COLLECTOR_PODS_DIR, or LOGPIPE_STANDALONE_DEMO=on",
            "demo workload started"
        );
        Ok(())
    }
}

/// Whether `dir` holds at least one pod directory (`<namespace>_<pod>_<uid>`).
fn has_pods(dir: &Path) -> bool {
    std::fs::read_dir(dir).is_ok_and(|entries| {
        entries.flatten().any(|entry| {
            entry.path().is_dir()
                && entry
                    .file_name()
                    .to_str()
                    .is_some_and(|name| logpipe_collector::discovery::parse_pod_dir(name).is_some())
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_demo_rule_is_valid() {
        let dir = tempfile::tempdir().unwrap();
        let demo = Demo::load(&Env::default(), dir.path()).unwrap();
        let rules = logpipe_alerting::rules::load_dir(&demo.write_rules().unwrap()).unwrap();
        assert_eq!(rules.len(), 1);
    }

    #[test]
    fn auto_runs_only_without_pods() {
        let dir = tempfile::tempdir().unwrap();
        let demo = Demo::load(&Env::default(), dir.path()).unwrap();
        let pods = dir.path().join("pods");
        assert!(demo.wanted(&pods));
        std::fs::create_dir_all(pods.join("not-a-pod")).unwrap();
        assert!(demo.wanted(&pods));
        std::fs::create_dir_all(pods.join("shop_api-1_uid")).unwrap();
        assert!(!demo.wanted(&pods));
    }

    #[test]
    fn a_bad_mode_names_the_variable() {
        let env = Env::from_pairs([("LOGPIPE_STANDALONE_DEMO", "maybe")]);
        let error = Demo::load(&env, Path::new("/tmp")).unwrap_err().to_string();
        assert!(error.contains("LOGPIPE_STANDALONE_DEMO"), "{error}");
    }
}
