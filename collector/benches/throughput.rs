//! Collector throughput and memory, printed as JSON.
//!
//! `cargo bench -p logpipe-collector --bench throughput` writes CRI files (half JSON
//! application lines, half real Apache access-log lines from ../shared/data) and runs each
//! scenario in a child process of its own, so CPU time and peak RSS are the scenario's:
//!
//! - `split`: read the files and split lines (the ceiling);
//! - `decode`: split and decode each line's JSON payload with serde_json alone (the floor
//!   any collector pays);
//! - `null`: the collector's tail loop (parse, join, build events, redact, serialize) into
//!   a sink that acknowledges at once;
//! - `null_metadata`: `null` with pod metadata from an API server (the test kit's
//!   `FakeApiServer`, 500 pods of 50 Deployments on the node, 8 labels and 3 allowed
//!   annotations each, namespace labels), reporting the requests the collector made;
//! - `kafka`: the same into librdkafka's mock cluster with the production settings;
//! - `rss_500_files`: 500 files written at 10 MiB/s in total while the collector ships to
//!   the mock cluster; reports peak RSS.
//!
//! The first five run `LOGPIPE_BENCH_REPEAT` times (default 3) in interleaved rounds and
//! each reports its median run, with every run's MiB per CPU second.
//!
//! `LOGPIPE_BENCH_MIB` sets the data size (default 256), `LOGPIPE_BENCH_RSS_SECS` the
//! length of the 500-file run (default 20).

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use logpipe_collector::checkpoint::CheckpointStore;
use logpipe_collector::discovery::KubeletPaths;
use logpipe_collector::metadata::Metadata;
use logpipe_collector::redact::Redactor;
use logpipe_collector::shipper::Shipper;
use logpipe_collector::tail_loop::{TailLoop, TailSettings};
use logpipe_common::health::Health;
use logpipe_common::testkit::kube_api::{namespace, owned, pod as kube_pod};
use logpipe_common::testkit::{FakeApiServer, MockKafka, env_number, shared_data};
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

const CHILD_ENV: &str = "LOGPIPE_BENCH_CHILD";
const FILES: usize = 8;
const RSS_FILES: usize = 500;
const RSS_RATE_BYTES_PER_SEC: usize = 10 * 1024 * 1024;

/// The allocator the `logpipe` binary runs with.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() {
    if let Ok(scenario) = std::env::var(CHILD_ENV) {
        let args: Vec<String> = std::env::args().collect();
        let dir = PathBuf::from(&args[args.len() - 2]);
        let lines: u64 = args[args.len() - 1].parse().unwrap_or(0);
        let report = run_child(&scenario, &dir, lines);
        println!("{report}");
        return;
    }
    let mib: usize = env_number("LOGPIPE_BENCH_MIB", 256);
    let rss_secs: u64 = env_number("LOGPIPE_BENCH_RSS_SECS", 20);
    let sample = sample_lines();
    let dir = tempfile::tempdir().unwrap();
    let (bytes, lines) = write_files(dir.path(), &sample, FILES, mib * 1024 * 1024);

    let repeat: usize = env_number("LOGPIPE_BENCH_REPEAT", 3);
    let scenarios = ["split", "decode", "null", "null_metadata", "kafka"];
    // Rounds interleave the scenarios, so a slow spell of the shared machine hits them
    // alike; each reports the run with the median MiB per CPU second.
    let mut runs: Vec<Vec<Value>> = vec![Vec::new(); scenarios.len()];
    for _ in 0..repeat.max(1) {
        for (scenario, runs) in scenarios.iter().zip(&mut runs) {
            runs.push(spawn_child(scenario, dir.path(), lines));
        }
    }
    let mut results = serde_json::Map::new();
    for (scenario, mut runs) in scenarios.iter().zip(runs) {
        let per_core = |run: &Value| run["mib_per_cpu_sec"].as_f64().unwrap_or(0.0);
        runs.sort_by(|a, b| per_core(a).total_cmp(&per_core(b)));
        let samples: Vec<f64> = runs.iter().map(per_core).collect();
        let mut report = runs[runs.len() / 2].clone();
        report["mib_per_cpu_sec_runs"] = json!(samples);
        results.insert((*scenario).into(), report);
    }
    let rss = run_rss_scenario(&sample, rss_secs);
    results.insert("rss_500_files".into(), rss);

    let rate = |name: &str| results[name]["mib_per_sec"].as_f64().unwrap_or(0.0);
    let per_core = |name: &str| results[name]["mib_per_cpu_sec"].as_f64().unwrap_or(0.0);
    let output = json!({
        "benchmark": "collector_throughput",
        "data": {"bytes": bytes, "lines": lines, "files": FILES, "content": "CRI lines, half JSON application logs, half Apache access-log text"},
        "scenarios": results,
        "ratios": {
            "null_vs_split": per_core("null") / per_core("split"),
            "null_vs_decode": per_core("null") / per_core("decode"),
            "metadata_vs_null": per_core("null_metadata") / per_core("null"),
            "kafka_vs_null": rate("kafka") / rate("null"),
        },
        "goals": {
            "null_mib_per_cpu_sec_at_least": 100,
            "null_vs_decode_at_least": 0.5,
            "metadata_vs_null_at_least": 0.95,
            "rss_500_files_max_kib_below": 64 * 1024,
        },
    });
    println!("{}", serde_json::to_string_pretty(&output).unwrap());
}

/// Content lines: generated JSON application logs and real Apache access-log lines.
fn sample_lines() -> Vec<String> {
    let apache =
        std::fs::read_to_string(shared_data().join("elastic-examples/apache_logs")).unwrap();
    let mut lines = Vec::new();
    for (n, text) in apache.lines().enumerate() {
        lines.push(text.to_owned());
        let status = [200, 200, 200, 404, 500, 302][n % 6];
        let level = ["info", "info", "warn", "error", "debug"][n % 5];
        lines.push(
            json!({
                "ts": format!("2026-11-27T05:{:02}:{:02}.{:06}Z", (n / 60) % 60, n % 60, n),
                "level": level,
                "msg": format!("request {n} finished"),
                "http": {"method": "GET", "path": format!("/api/v1/items/{}", n * 7 % 1000), "status": status, "latency_ms": (n % 900) as f64 / 3.0},
                "user_id": n % 5000,
                "trace_id": format!("{:032x}", n as u128 * 0x9e37_79b9_7f4a_7c15),
            })
            .to_string(),
        );
    }
    lines
}

fn cri(n: usize, content: &str) -> String {
    format!(
        "2026-11-27T05:{:02}:{:02}.{:09}Z stdout F {content}\n",
        (n / 60) % 60,
        n % 60,
        n
    )
}

/// Writes `files` container logs of `total_bytes` together; returns bytes and lines.
fn write_files(pods: &Path, sample: &[String], files: usize, total_bytes: usize) -> (u64, u64) {
    let mut writers: Vec<std::io::BufWriter<std::fs::File>> = (0..files)
        .map(|i| {
            let dir = pods.join(format!("bench_pod-{i}_uid-{i}/app"));
            std::fs::create_dir_all(&dir).unwrap();
            std::io::BufWriter::new(std::fs::File::create(dir.join("0.log")).unwrap())
        })
        .collect();
    let (mut bytes, mut lines) = (0u64, 0u64);
    let mut n = 0;
    while (bytes as usize) < total_bytes {
        let line = cri(n, &sample[n % sample.len()]);
        writers[n % files].write_all(line.as_bytes()).unwrap();
        bytes += line.len() as u64;
        lines += 1;
        n += 1;
    }
    for writer in &mut writers {
        writer.flush().unwrap();
    }
    (bytes, lines)
}

fn spawn_child(scenario: &str, dir: &Path, lines: u64) -> Value {
    let exe = std::env::current_exe().unwrap();
    let output = Command::new(exe)
        .env(CHILD_ENV, scenario)
        .arg(dir)
        .arg(lines.to_string())
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{scenario}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let stdout = String::from_utf8(output.stdout).unwrap();
    serde_json::from_str(stdout.lines().last().unwrap_or("{}")).unwrap()
}

/// 500 files appended at 10 MiB/s in total while a child collector ships them.
fn run_rss_scenario(sample: &[String], seconds: u64) -> Value {
    let dir = tempfile::tempdir().unwrap();
    let line_bytes = sample
        .iter()
        .take(1000)
        .map(|l| cri(0, l).len())
        .sum::<usize>()
        / 1000;
    let total_lines = RSS_RATE_BYTES_PER_SEC as u64 * seconds / line_bytes as u64;
    let mut paths = Vec::new();
    for i in 0..RSS_FILES {
        let path = dir.path().join(format!("rss_pod-{i}_uid-{i}/app"));
        std::fs::create_dir_all(&path).unwrap();
        let file = path.join("0.log");
        std::fs::write(&file, cri(0, &format!("start of file {i}"))).unwrap();
        paths.push(file);
    }
    let total_lines = total_lines + RSS_FILES as u64;
    let exe = std::env::current_exe().unwrap();
    let child = Command::new(exe)
        .env(CHILD_ENV, "kafka")
        .arg(dir.path())
        .arg(total_lines.to_string())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut files: Vec<std::fs::File> = paths
        .iter()
        .map(|p| std::fs::OpenOptions::new().append(true).open(p).unwrap())
        .collect();
    let started = Instant::now();
    let mut written = 0usize;
    for n in 0..(total_lines as usize - RSS_FILES) {
        let line = cri(n, &sample[n % sample.len()]);
        files[n % RSS_FILES].write_all(line.as_bytes()).unwrap();
        written += line.len();
        let due = Duration::from_secs_f64(written as f64 / RSS_RATE_BYTES_PER_SEC as f64);
        if let Some(wait) = due.checked_sub(started.elapsed()) {
            std::thread::sleep(wait);
        }
    }
    let output = child.wait_with_output().unwrap();
    let mut report: Value = serde_json::from_str(
        String::from_utf8(output.stdout)
            .unwrap()
            .lines()
            .last()
            .unwrap_or("{}"),
    )
    .unwrap();
    report["files"] = json!(RSS_FILES);
    report["write_rate_mib_per_sec"] =
        json!(written as f64 / 1048576.0 / started.elapsed().as_secs_f64());
    report
}

fn run_child(scenario: &str, dir: &Path, lines: u64) -> Value {
    let mut started = Instant::now();
    let mut extra = None;
    // CPU spent before the measured part (the API server's setup), left out.
    let mut setup_cpu = 0.0;
    let (bytes, counted) = match scenario {
        "split" => split(dir, false),
        "decode" => split(dir, true),
        "null" => tail(dir, lines, None, None),
        "null_metadata" => {
            let runtime = tokio::runtime::Runtime::new().unwrap();
            let (api, metadata) = runtime.block_on(api_server());
            setup_cpu = cpu_seconds();
            started = Instant::now();
            let counts = tail(dir, lines, None, Some(metadata));
            let requests = api.requests();
            let mut by_kind = serde_json::Map::new();
            for request in &requests {
                *by_kind.entry(request.clone()).or_insert(json!(0)) =
                    json!(by_kind.get(request).and_then(Value::as_u64).unwrap_or(0) + 1);
            }
            extra = Some(json!({"pods": METADATA_PODS, "api_requests": by_kind}));
            counts
        }
        "kafka" => {
            let mock = MockKafka::new(1).unwrap();
            mock.create_topic("logs", 3).unwrap();
            tail(dir, lines, Some(mock), None)
        }
        other => panic!("unknown scenario {other}"),
    };
    let seconds = started.elapsed().as_secs_f64();
    let usage = nix::sys::resource::getrusage(nix::sys::resource::UsageWho::RUSAGE_SELF).unwrap();
    let cpu = |t: nix::sys::time::TimeVal| t.tv_sec() as f64 + t.tv_usec() as f64 / 1e6;
    let cpu_seconds = cpu_seconds() - setup_cpu;
    let mib = bytes as f64 / 1048576.0;
    json!({
        "lines": counted,
        "bytes": bytes,
        "seconds": seconds,
        "cpu_seconds": cpu_seconds,
        "system_cpu_seconds": cpu(usage.system_time()),
        "lines_per_sec": counted as f64 / seconds,
        "mib_per_sec": mib / seconds,
        "mib_per_cpu_sec": mib / cpu_seconds,
        "peak_rss_kib": usage.max_rss(),
        "metadata": extra,
    })
}

/// CPU seconds this process has used so far.
fn cpu_seconds() -> f64 {
    let usage = nix::sys::resource::getrusage(nix::sys::resource::UsageWho::RUSAGE_SELF).unwrap();
    let cpu = |t: nix::sys::time::TimeVal| t.tv_sec() as f64 + t.tv_usec() as f64 / 1e6;
    cpu(usage.user_time()) + cpu(usage.system_time())
}

/// Pods on the bench's node, as the API server lists them.
const METADATA_PODS: usize = 500;

/// An API server with `METADATA_PODS` pods on the node (the bench files' pods among them)
/// in 50 Deployments, and a metadata cache that has seen them all.
async fn api_server() -> (FakeApiServer, Arc<Metadata>) {
    let api = FakeApiServer::start().await;
    api.apply(
        "namespaces",
        namespace(
            "bench",
            &[
                ("team", "platform"),
                ("env", "production"),
                ("tier", "backend"),
            ],
        ),
    );
    for deployment in 0..50 {
        api.apply(
            "replicasets",
            owned(
                "replicasets",
                "bench",
                &format!("app-{deployment}-5d9f7c"),
                ("Deployment", &format!("app-{deployment}")),
            ),
        );
    }
    for n in 0..METADATA_PODS {
        let deployment = n % 50;
        let app = format!("app-{deployment}");
        let labels = [
            ("app", app.as_str()),
            ("app.kubernetes.io/name", app.as_str()),
            ("app.kubernetes.io/instance", "bench"),
            ("app.kubernetes.io/version", "1.4.2"),
            ("app.kubernetes.io/component", "api"),
            ("app.kubernetes.io/part-of", "shop"),
            ("pod-template-hash", "5d9f7c"),
            ("team", "payments"),
        ];
        // The bench's files are `bench_pod-<i>_uid-<i>`.
        let mut pod = kube_pod(
            "bench",
            &format!("pod-{n}"),
            &format!("uid-{n}"),
            "bench-node",
            &labels,
            Some(("ReplicaSet", &format!("app-{deployment}-5d9f7c"))),
        );
        pod["metadata"]["annotations"] = json!({
            "app.kubernetes.io/managed-by": "helm",
            "helm.sh/chart": "app-1.4.2",
            "logpipe.io/owner": "payments",
            "kubectl.kubernetes.io/last-applied-configuration": "{\"a\":1}",
        });
        api.apply("pods", pod);
    }
    let mut globs = globset::GlobSetBuilder::new();
    for glob in ["app.kubernetes.io/*", "helm.sh/chart", "logpipe.io/*"] {
        globs.add(globset::Glob::new(glob).unwrap());
    }
    let metadata = Arc::new(Metadata::new(
        globs.build().unwrap(),
        Duration::from_secs(2),
        Duration::from_secs(300),
    ));
    let client = logpipe_collector::metadata::connect(Some(&api.kubeconfig()))
        .await
        .unwrap();
    tokio::spawn(logpipe_collector::metadata::run(
        metadata.clone(),
        client,
        "bench-node".into(),
        CancellationToken::new(),
    ));
    while metadata.pods() < METADATA_PODS {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    (api, metadata)
}

fn log_files(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    for pod in std::fs::read_dir(dir).unwrap() {
        let app = pod.unwrap().path().join("app/0.log");
        if app.is_file() {
            files.push(app);
        }
    }
    files
}

/// Reads and splits every file; with `decode`, parses each line's payload as JSON.
fn split(dir: &Path, decode: bool) -> (u64, u64) {
    use std::io::Read;
    let (mut bytes, mut lines) = (0u64, 0u64);
    let mut buffer = vec![0u8; 256 * 1024];
    let mut carry = Vec::new();
    for path in log_files(dir) {
        let mut file = std::fs::File::open(path).unwrap();
        loop {
            let read = file.read(&mut buffer).unwrap();
            if read == 0 {
                break;
            }
            bytes += read as u64;
            let mut start = 0;
            for end in memchr::memchr_iter(b'\n', &buffer[..read]) {
                lines += 1;
                if decode {
                    let line = if carry.is_empty() {
                        &buffer[start..end]
                    } else {
                        carry.extend_from_slice(&buffer[start..end]);
                        &carry[..]
                    };
                    let content = line.splitn(4, |b| *b == b' ').nth(3).unwrap_or_default();
                    let _ = std::hint::black_box(serde_json::from_slice::<Value>(content));
                    carry.clear();
                }
                start = end + 1;
            }
            if decode {
                carry.extend_from_slice(&buffer[start..read]);
            }
        }
    }
    (bytes, lines)
}

/// Runs the tail loop over `dir` until `lines` events were delivered.
fn tail(
    dir: &Path,
    lines: u64,
    kafka: Option<MockKafka>,
    metadata: Option<Arc<Metadata>>,
) -> (u64, u64) {
    let state = tempfile::tempdir().unwrap();
    let (shipper, reports) = match &kafka {
        Some(mock) => Shipper::new(&mock.settings(), "logs").unwrap(),
        None => Shipper::null(),
    };
    let delivered = shipper.delivered_counter();
    let health = Health::new();
    let shutdown = CancellationToken::new();
    let settings = TailSettings {
        node: "bench-node".into(),
        rescan_interval: Duration::from_secs(5),
        checkpoint_interval: Duration::from_secs(1),
        max_line_bytes: 256 * 1024,
        max_in_flight_bytes: 64 * 1024 * 1024,
        rotated_drain: Duration::from_secs(300),
        multiline: Vec::new(),
        message_max_bytes: 1024 * 1024,
        flush_timeout: Duration::from_secs(10),
    };
    let tail_loop = TailLoop::new(
        settings,
        Box::new(KubeletPaths::new(dir.to_owned(), &["*/*/*".into()], &[]).unwrap()),
        CheckpointStore::open(state.path()).unwrap(),
        (shipper, reports),
        Arc::new(Redactor::with_defaults()),
        Arc::new(AtomicBool::new(false)),
        health.heartbeat("tail_loop", Duration::from_secs(60)),
        health.readiness("checkpoints"),
        shutdown.clone(),
    );
    let tail_loop = match metadata {
        Some(metadata) => tail_loop.with_metadata(metadata),
        None => tail_loop,
    };
    let thread = std::thread::spawn(move || tail_loop.run());
    while delivered.load(Ordering::Relaxed) < lines {
        std::thread::sleep(Duration::from_millis(5));
    }
    shutdown.cancel();
    thread.join().unwrap();
    let bytes = log_files(dir)
        .iter()
        .map(|p| std::fs::metadata(p).unwrap().len())
        .sum();
    (bytes, delivered.load(Ordering::Relaxed))
}
