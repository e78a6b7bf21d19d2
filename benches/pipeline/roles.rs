//! Collector, indexer and alerting as processes of the release binary, and what the
//! bench asks them: search, the collector's shipped count, CPU time.

use std::collections::VecDeque;
use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use logpipe_common::testkit::{TestBroker, free_port};
use serde_json::{Value, json};

use crate::{RULE, SEARCH_POLL, SETTLE};

/// One role as a process of the release binary; its output kept for a failure message.
struct Role {
    name: &'static str,
    child: Child,
    port: u16,
    output: Arc<Mutex<VecDeque<String>>>,
}

impl Role {
    fn start(name: &'static str, env: &[(&str, String)]) -> Self {
        let port = free_port().unwrap();
        let mut command = Command::new(binary());
        command.arg(name);
        // Only librdkafka properties pass through, for tuning experiments
        // (`env 'LOGPIPE_KAFKA_PROPERTY_linger.ms=50' cargo bench …`).
        for (var, _) in std::env::vars() {
            let passed = var.starts_with("LOGPIPE_KAFKA_PROPERTY_");
            if (var.starts_with("LOGPIPE_") || var == "PORT") && !passed {
                command.env_remove(var);
            }
        }
        command
            .envs(env.iter().map(|(k, v)| (k, v)))
            .env("PORT", port.to_string())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = command.spawn().unwrap();
        let output = Arc::new(Mutex::new(VecDeque::new()));
        let streams: [Box<dyn std::io::Read + Send>; 2] = [
            Box::new(child.stdout.take().unwrap()),
            Box::new(child.stderr.take().unwrap()),
        ];
        for stream in streams {
            let output = output.clone();
            std::thread::spawn(move || {
                for line in BufReader::new(stream).lines() {
                    let Ok(line) = line else { break };
                    let mut kept = output.lock().unwrap();
                    if kept.len() == 200 {
                        kept.pop_front();
                    }
                    kept.push_back(line);
                }
            });
        }
        Role {
            name,
            child,
            port,
            output,
        }
    }

    fn wait_ready(&mut self) {
        let deadline = Instant::now() + SETTLE;
        let url = format!("http://127.0.0.1:{}/readyz", self.port);
        loop {
            if let Ok(response) = reqwest::blocking::get(&url)
                && response.status().is_success()
            {
                return;
            }
            if let Ok(Some(status)) = self.child.try_wait() {
                self.fail(&format!("exited with {status}"));
            }
            if Instant::now() > deadline {
                self.fail("not ready within 60 s");
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    fn fail(&self, why: &str) -> ! {
        for line in self.output.lock().unwrap().iter() {
            eprintln!("{}: {line}", self.name);
        }
        panic!("{} {why}", self.name);
    }

    /// CPU seconds (user and system) the process has used, from `/proc/<pid>/stat`.
    fn cpu_seconds(&self, ticks_per_sec: f64) -> f64 {
        let stat =
            std::fs::read_to_string(format!("/proc/{}/stat", self.child.id())).unwrap_or_default();
        // Fields after the parenthesised command name; utime and stime are 14 and 15.
        let after = stat.rsplit_once(')').map(|(_, rest)| rest).unwrap_or("");
        let fields: Vec<&str> = after.split_whitespace().collect();
        let ticks = |i: usize| {
            fields
                .get(i)
                .and_then(|f| f.parse::<f64>().ok())
                .unwrap_or(0.0)
        };
        (ticks(11) + ticks(12)) / ticks_per_sec
    }
}

impl Drop for Role {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The `logpipe` binary of this build: cargo names it to benches of its package; next to
/// `target/release/deps/pipeline-*` otherwise.
fn binary() -> PathBuf {
    let path = option_env!("CARGO_BIN_EXE_logpipe")
        .map(PathBuf::from)
        .or_else(|| {
            let exe = std::env::current_exe().ok()?;
            Some(exe.parent()?.parent()?.join("logpipe"))
        })
        .filter(|path| path.is_file());
    path.unwrap_or_else(|| {
        panic!("logpipe binary not found: run `cargo build --release --bin logpipe` first")
    })
}

/// Collector, indexer and alerting, each a process with its data in `dir`.
pub struct Pipeline {
    collector: Role,
    indexer: Role,
    alerting: Role,
    search: reqwest::blocking::Client,
}

impl Pipeline {
    pub fn start(broker: &TestBroker, dir: &Path, hook: SocketAddr) -> Self {
        let pods = dir.join("pods");
        let rules = dir.join("rules");
        std::fs::create_dir_all(&pods).unwrap();
        std::fs::create_dir_all(&rules).unwrap();
        std::fs::write(rules.join("probe.yaml"), RULE).unwrap();
        let notifiers = dir.join("notifiers.yaml");
        std::fs::write(
            &notifiers,
            format!("hook:\n  url: http://{hook}/hook\n  format: generic\n"),
        )
        .unwrap();
        let path = |p: &Path| p.display().to_string();
        let env = |role: &str, extra: &[(&'static str, String)]| {
            let mut env = vec![
                ("LOGPIPE_KAFKA_BROKERS", broker.bootstrap()),
                ("LOGPIPE_DATA_DIR", path(&dir.join(role))),
                ("LOGPIPE_NODE_NAME", "bench-node".to_owned()),
                ("LOGPIPE_LISTEN_ADDRESS", "127.0.0.1".to_owned()),
                ("LOGPIPE_LOG_LEVEL", "info".to_owned()),
            ];
            env.extend_from_slice(extra);
            env
        };
        let mut collector = Role::start(
            "collector",
            &env("collector", &[("LOGPIPE_COLLECTOR_PODS_DIR", path(&pods))]),
        );
        let mut indexer = Role::start("indexer", &env("indexer", &[]));
        let mut alerting = Role::start(
            "alerting",
            &env(
                "alerting",
                &[
                    ("LOGPIPE_ALERTING_RULES_DIR", path(&rules)),
                    ("LOGPIPE_ALERTING_NOTIFIERS_FILE", path(&notifiers)),
                    ("LOGPIPE_ALERTING_WEBHOOK_ALLOW", "127.0.0.0/8".to_owned()),
                ],
            ),
        );
        for role in [&mut collector, &mut indexer, &mut alerting] {
            role.wait_ready();
        }
        Pipeline {
            collector,
            indexer,
            alerting,
            search: reqwest::blocking::Client::builder()
                .timeout(Duration::from_secs(10))
                .build()
                .unwrap(),
        }
    }

    fn search(&self, query: &str, limit: usize, total: bool) -> Option<Value> {
        let url = format!("http://127.0.0.1:{}/api/v1/search", self.indexer.port);
        let response = self
            .search
            .get(url)
            .query(&[
                ("q", query),
                ("since", "6h"),
                ("limit", &limit.to_string()),
                ("total", if total { "true" } else { "false" }),
            ])
            .send()
            .ok()?;
        if !response.status().is_success() {
            return None;
        }
        response.json().ok()
    }

    /// Events the indexer holds (the search API's count over the last hours).
    pub fn indexed(&self) -> Option<u64> {
        self.search("*", 1, true)?["total"].as_u64()
    }

    /// The probes among `ids` that search finds now.
    pub fn found(&self, ids: &[u64]) -> Vec<u64> {
        let terms: Vec<String> = ids
            .iter()
            .map(|id| format!("attributes.probe_id:{id}"))
            .collect();
        let query = format!("attributes.bench:probe AND ({})", terms.join(" OR "));
        let Some(body) = self.search(&query, ids.len(), false) else {
            return Vec::new();
        };
        body["hits"]
            .as_array()
            .map(|hits| {
                hits.iter()
                    .filter_map(|hit| hit["attributes"]["probe_id"].as_u64())
                    .collect()
            })
            .unwrap_or_default()
    }

    pub fn wait_until_searchable(&self, ids: &[u64], timeout: Duration) {
        let deadline = Instant::now() + timeout;
        while self.found(ids).len() < ids.len() {
            if Instant::now() > deadline {
                self.indexer.fail(&format!("did not find probes {ids:?}"));
            }
            std::thread::sleep(SEARCH_POLL);
        }
    }

    /// Events the collector has shipped (acknowledged by Kafka) since it started.
    pub fn shipped(&self) -> Option<u64> {
        let url = format!("http://127.0.0.1:{}/metrics", self.collector.port);
        let text = self.search.get(url).send().ok()?.text().ok()?;
        text.lines()
            .find_map(|line| line.strip_prefix("logpipe_collector_events_shipped_total "))
            .and_then(|value| value.trim().parse::<f64>().ok())
            .map(|value| value as u64)
    }

    pub fn cpu_seconds(&self) -> Value {
        let ticks = clock_ticks();
        json!({
            "collector": self.collector.cpu_seconds(ticks),
            "indexer": self.indexer.cpu_seconds(ticks),
            "alerting": self.alerting.cpu_seconds(ticks),
        })
    }
}

fn clock_ticks() -> f64 {
    Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|out| String::from_utf8(out.stdout).ok())
        .and_then(|text| text.trim().parse().ok())
        .unwrap_or(100.0)
}
