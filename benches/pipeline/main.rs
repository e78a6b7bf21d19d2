//! The whole pipeline measured from the outside, printed as JSON: each role a process of
//! the release binary on a real broker, container logs appended to files as the kubelet
//! lays them out, and the two times an operator feels (a line written until search finds
//! it, and until its alert reaches a webhook), against the broker's own latency measured
//! in the same run, plus the highest input rate the pipeline keeps up with.
//!
//! `cargo bench -p logpipe --bench pipeline` builds `target/release/logpipe` with the
//! bench (they are targets of the same package) and runs:
//!
//! - `baseline`: the broker alone, small JSON messages carrying their send time produced
//!   with the production producer settings (acks=all, idempotent, zstd) at
//!   `LOGPIPE_BENCH_RATE` per second (default 1000) for `LOGPIPE_BENCH_SECS` (30) to a
//!   topic of three partitions, received by a consumer with the production consumer
//!   settings (every role's): produce-to-consume p50/p99, the reference for
//!   append-to-searchable and append-to-webhook;
//! - `latency`: collector, indexer and alerting running, lines appended at the same rate
//!   to four containers' `0.log`, and every `LOGPIPE_BENCH_PROBE_MS` (200) a probe line
//!   with a unique id; append-to-searchable is the time until the indexer's search API
//!   finds the probe (polled every 20 ms), append-to-webhook the time until its alert
//!   (a `match` rule, one group per probe) reaches the receiver;
//! - `steps`: the input rate stepped through `LOGPIPE_BENCH_STEPS` (default
//!   1000,2000,4000,8000,16000 lines/s), `LOGPIPE_BENCH_STEP_SECS` (20) each; after each
//!   step, the time until the indexer's total is within one second of input of the lines
//!   written. A step is bounded when that takes at most `LOGPIPE_BENCH_BOUND_SECS` (10)
//!   and the writer kept its rate; stepping stops after the first unbounded step. The
//!   highest bounded rate is the headline figure.
//!
//! `LOGPIPE_BENCH_ONLY=latency` or `=steps` runs one part (the baseline always runs).
//! Nothing is asserted: the figures go to `BENCHMARKS.md`.

mod baseline;
mod roles;
mod webhooks;
mod writer;

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use logpipe_common::kafka::TopicSpec;
use logpipe_common::testkit::{TestBroker, env_number};
use serde_json::{Value, json};

use crate::baseline::broker_baseline;
use crate::roles::Pipeline;
use crate::webhooks::Webhooks;
use crate::writer::Writer;

const TOPIC: &str = "logs";
const BASELINE_TOPIC: &str = "bench-baseline";
const SEARCH_POLL: Duration = Duration::from_millis(20);
const WRITER_TICK: Duration = Duration::from_millis(10);
/// Longest wait for a role to become ready, or for stragglers after a phase.
const SETTLE: Duration = Duration::from_secs(60);
/// Longest wait for the index to hold every line written before the next step.
const DRAIN: Duration = Duration::from_secs(120);
const RULE: &str = "\
name: bench-probe
type: match
query: 'attributes.bench:probe'
group_by: [attributes.probe_id]
severity: info
realert: 1s
notify: [hook]
";

/// Microseconds since the start of the run: every time in the bench, sends and arrivals,
/// is read from this one clock.
#[derive(Debug, Clone, Copy)]
struct Clock(Instant);

impl Clock {
    fn now_us(self) -> u64 {
        self.0.elapsed().as_micros() as u64
    }
}

fn main() {
    let rate: u64 = env_number("LOGPIPE_BENCH_RATE", 1_000);
    let secs: u64 = env_number("LOGPIPE_BENCH_SECS", 30);
    let probe_every = Duration::from_millis(env_number("LOGPIPE_BENCH_PROBE_MS", 200));
    let step_secs: u64 = env_number("LOGPIPE_BENCH_STEP_SECS", 20);
    let bound = Duration::from_secs(env_number("LOGPIPE_BENCH_BOUND_SECS", 10));
    let steps: Vec<u64> = std::env::var("LOGPIPE_BENCH_STEPS")
        .ok()
        .map(|text| {
            text.split(',')
                .filter_map(|n| n.trim().parse().ok())
                .collect()
        })
        .unwrap_or_else(|| vec![1_000, 2_000, 4_000, 8_000, 16_000]);
    let only = std::env::var("LOGPIPE_BENCH_ONLY").unwrap_or_default();
    let wanted = |part: &str| only.is_empty() || only.split(',').any(|p| p == part);
    let machine = machine();
    let clock = Clock(Instant::now());

    let runtime = tokio::runtime::Runtime::new().unwrap();
    let broker = TestBroker::start().unwrap();
    runtime
        .block_on(broker.create_topics(&[
            TopicSpec::new(TOPIC, 3),
            TopicSpec::new("alerts", 1),
            TopicSpec::new("logs-dlq", 1),
            TopicSpec::new(BASELINE_TOPIC, 3),
        ]))
        .unwrap();
    eprintln!("pipeline bench: broker baseline at {rate}/s for {secs} s");
    let baseline = broker_baseline(&broker, clock, rate, secs);

    let hooks = Webhooks::start(&runtime, clock);
    let dir = tempfile::Builder::new()
        .prefix("logpipe-bench-")
        .tempdir()
        .unwrap();
    let pipeline = Pipeline::start(&broker, dir.path(), hooks.address);
    let mut writer = Writer::create(&dir.path().join("pods"), clock).unwrap();

    // Warm-up: one probe through search and the webhook, so every consumer is assigned.
    let warmup = writer.probe();
    pipeline.wait_until_searchable(&[warmup], SETTLE);
    hooks.wait_for(&[warmup], SETTLE);

    let latency = wanted("latency").then(|| {
        eprintln!("pipeline bench: latency at {rate} lines/s for {secs} s");
        measure_latency(
            &pipeline,
            &hooks,
            &mut writer,
            rate,
            secs,
            probe_every,
            &baseline,
        )
    });
    let mut results = Vec::new();
    if wanted("steps") {
        for &step in &steps {
            eprintln!("pipeline bench: step {step} lines/s for {step_secs} s");
            let result = run_step(&pipeline, &mut writer, step, step_secs, bound);
            let bounded = result["bounded"] == true;
            results.push(result);
            if !bounded {
                break;
            }
        }
    }
    let highest = results
        .iter()
        .filter(|step| step["bounded"] == true)
        .filter_map(|step| step["rate_offered"].as_u64())
        .max();
    let output = json!({
        "benchmark": "pipeline",
        "machine": machine,
        "baseline": baseline,
        "latency": latency,
        "steps": results,
        "steps_offered": steps,
        "highest_sustained_rate": highest,
        "roles_cpu_seconds": pipeline.cpu_seconds(),
        "goals": {
            "append_to_searchable_p99_ms_below": 2000,
            "append_to_webhook_p99_ms_below": 1000,
        },
    });
    println!("{}", serde_json::to_string_pretty(&output).unwrap());
}

fn machine() -> Value {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let model = cpuinfo
        .lines()
        .find_map(|line| line.strip_prefix("model name"))
        .and_then(|rest| rest.split_once(':'))
        .map(|(_, model)| model.trim().to_owned());
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    json!({
        "nproc": std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0),
        "model": model,
        "loadavg_at_start": load.split_whitespace().take(3).collect::<Vec<_>>().join(" "),
    })
}

/// p50, p99 and max of latencies in microseconds, in milliseconds.
fn summary(micros: &[u64]) -> Value {
    let mut sorted = micros.to_vec();
    sorted.sort_unstable();
    let pick = |q: f64| {
        let index = ((sorted.len().max(1) - 1) as f64 * q).round() as usize;
        sorted.get(index).map(|&us| us as f64 / 1e3)
    };
    json!({"count": sorted.len(), "p50_ms": pick(0.5), "p99_ms": pick(0.99), "max_ms": pick(1.0)})
}

fn ratio(value: &Value, baseline: &Value) -> Option<f64> {
    Some(value["p99_ms"].as_f64()? / baseline["p99_ms"].as_f64()?)
}

// ---- the broker's own latency ----

fn measure_latency(
    pipeline: &Pipeline,
    hooks: &Webhooks,
    writer: &mut Writer,
    rate: u64,
    secs: u64,
    probe_every: Duration,
    baseline: &Value,
) -> Value {
    let first_probe = writer.next_probe;
    let probes = writer.probes.clone();
    let writing = AtomicBool::new(true);
    let mut found: HashMap<u64, u64> = HashMap::new();
    let clock = writer.clock;
    let lines = std::thread::scope(|scope| {
        let writing = &writing;
        let handle = scope.spawn(|| {
            let lines = writer.run(rate, Duration::from_secs(secs), Some(probe_every));
            writing.store(false, Ordering::Relaxed);
            lines
        });
        // One search per round for every probe written and not found yet.
        let mut deadline = None;
        loop {
            let pending: Vec<u64> = probes
                .lock()
                .unwrap()
                .range(first_probe..)
                .map(|(id, _)| *id)
                .filter(|id| !found.contains_key(id))
                .collect();
            if !writing.load(Ordering::Relaxed) {
                let deadline = *deadline.get_or_insert_with(|| Instant::now() + SETTLE);
                if pending.is_empty() || Instant::now() > deadline {
                    break;
                }
            }
            if !pending.is_empty() {
                let hits = pipeline.found(&pending);
                let at = clock.now_us();
                for id in hits {
                    found.entry(id).or_insert(at);
                }
            }
            std::thread::sleep(SEARCH_POLL);
        }
        handle.join().unwrap()
    });
    let written = probes.lock().unwrap().clone();
    let written: BTreeMap<u64, u64> = written
        .range(first_probe..)
        .map(|(k, v)| (*k, *v))
        .collect();
    let ids: Vec<u64> = written.keys().copied().collect();
    let deadline = Instant::now() + SETTLE;
    while Instant::now() < deadline && hooks.arrivals().len() < ids.len() + 1 {
        std::thread::sleep(Duration::from_millis(100));
    }
    let arrivals = hooks.arrivals();
    let since_write = |times: &HashMap<u64, u64>| -> Vec<u64> {
        written
            .iter()
            .filter_map(|(id, at)| Some(times.get(id)?.saturating_sub(*at)))
            .collect()
    };
    let searchable = summary(&since_write(&found));
    let webhook = summary(&since_write(&arrivals));
    json!({
        "rate_per_sec": rate,
        "seconds": secs,
        "lines_written": lines,
        "probes": ids.len(),
        "search_poll_ms": SEARCH_POLL.as_millis() as u64,
        "append_to_searchable": searchable,
        "append_to_webhook": webhook,
        "searchable_p99_vs_broker_p99": ratio(&searchable, &baseline["consumer"]),
        "webhook_p99_vs_broker_p99": ratio(&webhook, &baseline["consumer"]),
    })
}

/// One step of the input rate, then how long the index takes to catch up with it.
fn run_step(
    pipeline: &Pipeline,
    writer: &mut Writer,
    rate: u64,
    secs: u64,
    bound: Duration,
) -> Value {
    let written = writer.written.clone();
    let before = written.load(Ordering::Relaxed);
    let indexed_before = pipeline.indexed().unwrap_or(0);
    let cpu_before = pipeline.cpu_seconds();
    let started = Instant::now();
    let writing = AtomicBool::new(true);
    let (lines, max_lag) = std::thread::scope(|scope| {
        let writing = &writing;
        let handle = scope.spawn(|| {
            let lines = writer.run(rate, Duration::from_secs(secs), None);
            writing.store(false, Ordering::Relaxed);
            lines
        });
        let mut max_lag = 0u64;
        while writing.load(Ordering::Relaxed) {
            std::thread::sleep(Duration::from_secs(1));
            if let Some(indexed) = pipeline.indexed() {
                max_lag = max_lag.max(written.load(Ordering::Relaxed).saturating_sub(indexed));
            }
        }
        (handle.join().unwrap(), max_lag)
    });
    let wrote_for = started.elapsed().as_secs_f64();
    let target = written.load(Ordering::Relaxed);
    let ended = Instant::now();
    let shipped_at_end = pipeline.shipped();
    let mut lag_at_end = None;
    let mut caught_up = None;
    let mut drained = None;
    let mut indexed = indexed_before;
    while ended.elapsed() < DRAIN {
        if let Some(now) = pipeline.indexed() {
            indexed = now;
            let lag = target.saturating_sub(now);
            lag_at_end.get_or_insert(lag);
            if lag <= rate && caught_up.is_none() {
                caught_up = Some(ended.elapsed().as_secs_f64());
            }
            if lag == 0 {
                drained = Some(ended.elapsed().as_secs_f64());
                break;
            }
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let achieved = lines as f64 / wrote_for;
    let kept_rate = achieved >= 0.95 * rate as f64;
    let bounded = kept_rate && caught_up.is_some_and(|s| s <= bound.as_secs_f64());
    let cpu_after = pipeline.cpu_seconds();
    let cpu: serde_json::Map<String, Value> = ["collector", "indexer", "alerting"]
        .iter()
        .map(|role| {
            let used =
                cpu_after[role].as_f64().unwrap_or(0.0) - cpu_before[role].as_f64().unwrap_or(0.0);
            (role.to_string(), json!((used * 10.0).round() / 10.0))
        })
        .collect();
    json!({
        "rate_offered": rate,
        "rate_achieved": achieved.round(),
        "seconds": wrote_for,
        "lines_written": target - before,
        "events_indexed": indexed.saturating_sub(indexed_before),
        "lag_max_lines": max_lag,
        "lag_at_end_lines": lag_at_end,
        "lag_at_end_in_collector_lines": shipped_at_end.map(|shipped| target.saturating_sub(shipped)),
        "catch_up_secs": caught_up,
        "drained_secs": drained,
        "bounded": bounded,
        "writer_kept_rate": kept_rate,
        "cpu_seconds": cpu,
    })
}
