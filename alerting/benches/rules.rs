//! Rule evaluation throughput and append-to-webhook latency, printed as JSON.
//!
//! `cargo bench -p logpipe-alerting --bench rules`:
//!
//! - `decode` (the baseline): `LOGPIPE_BENCH_EVENTS` events (default 200,000) as the
//!   collector ships them (JSON, 100 namespaces, 1,000 pods, a level mix, nested
//!   attributes) decoded into the event contract, with no rules;
//! - `rules_10`, `rules_1000`, `rules_10000`: the same events decoded, routed and
//!   evaluated by that many rules shaped like a detection rule set (`rule`): mostly
//!   `match` rules on keyword-scoped words, phrases, regexes, ranges, negations and
//!   alternatives, some that never fire, and aggregations (threshold, ratio, absence,
//!   new value, cardinality) scoped to one of the 1,000 pods; the watermark advanced every
//!   200 ms as the service does. Events per CPU second, the ratio to the baseline,
//!   rules checked (their required terms present, their query consulted), distinct
//!   queries evaluated and rules matched per event;
//! - `dense_10`, `dense_1000`, `dense_10000`: the same with every rule scoped to one of
//!   the 100 namespaces and most of them matching every event of it (`dense_rule`), so at
//!   10,000 rules each event concerns some 50: what evaluation costs per matching rule;
//! - `append_to_webhook`: events appended to a real broker (tansu) at
//!   `LOGPIPE_BENCH_RATE` per second (default 100) for `LOGPIPE_BENCH_SECS` (default 10),
//!   each matching a `match` rule of the alerting service running in-process with a
//!   webhook receiver on loopback: for each, the time from its send to the webhook call,
//!   and in the same run to a bare consumer of the topic (the broker's own latency). The
//!   producer is warmed up first (its id and connection, on a topic of its own) and sends
//!   at the rate from then on;
//! - `sigma`: the Kubernetes audit events of `../shared/data/falco-k8s-audit`, repeated to
//!   `LOGPIPE_BENCH_EVENTS`, evaluated by every Sigma rule of `../shared/data/sigma-rules`
//!   that loads, against decoding the same events (`sigma_decode`, its baseline).
//!
//! Each throughput scenario, baselines included, runs `LOGPIPE_BENCH_REPEAT` times
//! (default 3) from fresh state, and the fastest run counts: the one the machine's
//! neighbours disturbed least. `LOGPIPE_BENCH_RULES=10,1000` picks the rule counts,
//! `LOGPIPE_BENCH_MIX=rules` (or `dense`, `sigma`) one mix; `LOGPIPE_BENCH_ONLY=throughput`
//! skips the latency run.

use std::collections::HashMap;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use logpipe_alerting::engine::Evaluator;
use logpipe_alerting::routing::{Router, Scratch};
use logpipe_alerting::rules::{Rule, load_tree, parse_rule};
use logpipe_common::event::{Level, LogEvent, LogEventRef, Timestamp};
use logpipe_common::testkit::{audit_events, env_number, sample_event, shared_data};
use serde_json::{Value, json};

/// How often the service advances every rule's watermark.
const ADVANCE: Duration = Duration::from_millis(200);

/// The allocator the `logpipe` binary runs with.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() {
    let events: u64 = env_number("LOGPIPE_BENCH_EVENTS", 200_000);
    let payloads = payloads(events);
    let bytes: usize = payloads.iter().map(Vec::len).sum();

    let baseline = fastest(|| {
        measure(|| {
            for payload in &payloads {
                let event: LogEvent = serde_json::from_slice(payload).unwrap();
                std::hint::black_box(event);
            }
        })
    });
    let mut results = serde_json::Map::new();
    results.insert("decode".into(), rates(events, bytes, baseline));
    // What the service reads each event into: strings borrowed, attributes left raw.
    let in_place = fastest(|| {
        measure(|| {
            for payload in &payloads {
                let event = LogEventRef::from_bytes(payload).unwrap();
                std::hint::black_box(event);
            }
        })
    });
    let mut value = rates(events, bytes, in_place);
    value["vs_decode_per_core"] = json!(in_place.per_core(events) / baseline.per_core(events));
    results.insert("decode_in_place".into(), value);
    let counts: Vec<usize> = std::env::var("LOGPIPE_BENCH_RULES")
        .ok()
        .map(|text| {
            text.split(',')
                .filter_map(|n| n.trim().parse().ok())
                .collect()
        })
        .unwrap_or_else(|| vec![10, 1_000, 10_000]);
    for count in counts {
        for (name, make) in [("rules", rule as fn(usize) -> Rule), ("dense", dense_rule)] {
            if std::env::var("LOGPIPE_BENCH_MIX").is_ok_and(|mix| mix != name) {
                continue;
            }
            let rules: Vec<Rule> = (0..count).map(make).collect();
            results.insert(
                format!("{name}_{count}"),
                evaluate(&rules, &payloads, bytes, baseline, in_place),
            );
        }
    }
    if std::env::var("LOGPIPE_BENCH_MIX").map_or(true, |mix| mix == "sigma") {
        sigma(events, &mut results);
    }
    if std::env::var("LOGPIPE_BENCH_ONLY").as_deref() != Ok("throughput") {
        let runtime = tokio::runtime::Runtime::new().unwrap();
        results.insert(
            "append_to_webhook".into(),
            runtime.block_on(append_to_webhook(
                env_number("LOGPIPE_BENCH_RATE", 100),
                env_number("LOGPIPE_BENCH_SECS", 10),
            )),
        );
    }
    let output = json!({
        "benchmark": "alerting",
        "events": events,
        "mean_event_bytes": bytes / events.max(1) as usize,
        "machine": {"cpus": std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0)},
        "results": results,
        "goals": {"rules_1000_events_per_cpu_sec_at_least": 600_000, "rules_10000_events_per_cpu_sec_at_least": 500_000, "append_to_webhook_p99_ms_below": 500},
    });
    println!("{}", serde_json::to_string_pretty(&output).unwrap());
}

/// The Sigma rules for Kubernetes audit events on the audit traces, against decoding them.
fn sigma(events: u64, results: &mut serde_json::Map<String, Value>) {
    let data = shared_data();
    let rules = load_tree(&data.join("sigma-rules/rules")).unwrap().rules;
    let traces = data.join("falco-k8s-audit/trace_files/k8s_audit");
    let mut audit = Vec::new();
    for entry in std::fs::read_dir(&traces).unwrap() {
        audit.extend(audit_events(&entry.unwrap().path()));
    }
    let start = Timestamp::now().unix_nanos() - events as i64 * 1_000_000;
    let payloads: Vec<Vec<u8>> = (0..events)
        .map(|n| {
            let mut event = audit[n as usize % audit.len()].clone();
            event.ts = Timestamp::from_unix_nanos(start + n as i64 * 1_000_000);
            serde_json::to_vec(&event).unwrap()
        })
        .collect();
    let bytes: usize = payloads.iter().map(Vec::len).sum();
    let baseline = fastest(|| {
        measure(|| {
            for payload in &payloads {
                std::hint::black_box(LogEventRef::from_bytes(payload).unwrap());
            }
        })
    });
    results.insert("sigma_decode".into(), rates(events, bytes, baseline));
    let in_place = baseline;
    let mut value = evaluate(&rules, &payloads, bytes, baseline, in_place);
    value["rules"] = json!(rules.len());
    results.insert("sigma".into(), value);
}

/// Events per CPU second of `rules` over `payloads` (read in place, routed, evaluated),
/// the watermark advanced every 200 ms as the service does.
fn evaluate(
    rules: &[Rule],
    payloads: &[Vec<u8>],
    bytes: usize,
    baseline: Measured,
    in_place: Measured,
) -> Value {
    let events = payloads.len() as u64;
    let refs: Vec<&Rule> = rules.iter().collect();
    let router = Router::new(&refs);
    let rules: Vec<Arc<Rule>> = rules.iter().map(|r| Arc::new(r.clone())).collect();
    let (mut alerts, mut checked, mut evaluated, mut matched) = (0usize, 0usize, 0usize, 0usize);
    // Each run from fresh state: the events again from the start.
    let measured = fastest(|| {
        let mut evaluators: Vec<Evaluator> = rules.iter().cloned().map(Evaluator::new).collect();
        let mut scratch = Scratch::default();
        let mut routed = Vec::new();
        let mut advanced = Instant::now();
        (alerts, checked, evaluated, matched) = (0, 0, 0, 0);
        measure(|| {
            for (n, payload) in payloads.iter().enumerate() {
                let event = LogEventRef::from_bytes(payload).unwrap();
                let view = router.view(&event);
                let effort = router.route(&view, &mut scratch, &mut routed);
                checked += effort.rules_checked;
                evaluated += effort.queries_evaluated;
                matched += routed.len();
                for r in &routed {
                    alerts += evaluators[r.rule]
                        .observe_matched(&view, r.hit, r.total)
                        .len();
                }
                if n % 1_024 == 1_023 && advanced.elapsed() >= ADVANCE {
                    advanced = Instant::now();
                    for evaluator in &mut evaluators {
                        alerts += evaluator.advance(event.ts).len();
                    }
                }
            }
        })
    });
    let mut value = rates(events, bytes, measured);
    value["rules_unrouted"] = json!(router.unrouted());
    value["distinct_queries"] = json!(router.distinct_queries());
    value["alerts"] = json!(alerts);
    value["rules_checked_per_event"] = json!(checked as f64 / events as f64);
    value["queries_evaluated_per_event"] = json!(evaluated as f64 / events as f64);
    value["rules_matched_per_event"] = json!(matched as f64 / events as f64);
    value["vs_decode_per_core"] = json!(measured.per_core(events) / baseline.per_core(events));
    value["vs_decode_in_place_per_core"] =
        json!(measured.per_core(events) / in_place.per_core(events));
    value
}

/// Event `n`: 100 namespaces, 1,000 pods, one error in 16, words `code<k>` for word
/// rules and a heartbeat in one of 50.
fn event(n: u64, ts: Timestamp) -> LogEvent {
    let mut event = sample_event(n, ts);
    let namespace = format!("ns-{}", n % 100);
    event.k8s.pod = Some(format!("{namespace}-api-{}", n % 1_000 / 100));
    event.k8s.namespace = Some(namespace);
    event.message = if n.is_multiple_of(50) {
        format!("heartbeat from worker {}", n % 7)
    } else {
        format!("{} code{} after {} ms", event.message, n % 5_000, n % 997)
    };
    event
}

fn payloads(count: u64) -> Vec<Vec<u8>> {
    let start = Timestamp::now().unix_nanos() - count as i64 * 1_000_000;
    (0..count)
        .map(|n| {
            serde_json::to_vec(&event(
                n,
                Timestamp::from_unix_nanos(start + n as i64 * 1_000_000),
            ))
            .unwrap()
        })
        .collect()
}

/// Rule `i` of a set shaped like detection rules: three in four `match` rules looking for
/// something specific (a code in a namespace, a phrase, a regex over words, a range or a
/// negation with a word, alternatives, a pod's errors, words no event has), one in four an
/// aggregation over one pod's events. Values are spread over the events' 5,000 codes and
/// 1,000 pods.
fn rule(i: usize) -> Rule {
    let code = (i * 7_919 + 13) % 5_000;
    let other = (i * 104_729 + 7) % 5_000;
    let p = (i * 6_151 + 3) % 1_000;
    let pod = format!("ns-{}-api-{}", p % 100, p / 100);
    let ns = format!("ns-{}", code % 100);
    let text = match i % 20 {
        0 | 1 => {
            format!("type: match\nquery: 'k8s.namespace:{ns} AND message:code{code}'\nrealert: 1m")
        }
        2 => format!(
            "type: match\nquery: 'message:code{code} AND attributes.http.status:[500 TO *]'\nrealert: 1m"
        ),
        3 | 4 => format!("type: match\nquery: 'message:\"code{code} after\"'\nrealert: 1m"),
        5 | 6 => format!("type: match\nquery: 'message:/code{code}(ms|s)?/'\nrealert: 1m"),
        7 => format!("type: match\nquery: 'message:code{code} AND NOT level:info'\nrealert: 1m"),
        8 => {
            format!("type: match\nquery: 'message:code{code} OR message:code{other}'\nrealert: 1m")
        }
        9 => format!(
            "type: match\nquery: 'k8s.pod:\"{pod}\" AND level:error AND message:timeout'\nrealert: 1m"
        ),
        10 | 11 => format!(
            "type: match\nquery: 'message:\"segfault at {code}\" OR message:oom{code}'\nrealert: 1m"
        ),
        12 => format!(
            "type: match\nquery: 'k8s.pod:/{}-api-[0-4]/ AND message:code{code} AND attributes.http.method:POST'\nrealert: 1m",
            ns
        ),
        13 | 14 => format!(
            "type: match\nquery: 'k8s.namespace:{ns} AND attributes.http.path:admin{code}'\nrealert: 1m"
        ),
        15 => format!(
            "type: threshold\nquery: 'k8s.pod:\"{pod}\" AND level:error'\nwindow: 1m\nthreshold: 50"
        ),
        16 => format!(
            "type: ratio\nquery: 'k8s.pod:\"{pod}\" AND level:error'\ndenominator: 'k8s.pod:\"{pod}\"'\nthreshold: 0.5\nmin_events: 100\nwindow: 1m"
        ),
        17 => {
            format!("type: absence\nquery: 'k8s.pod:\"{pod}\" AND message:heartbeat'\nwindow: 5m")
        }
        18 => format!(
            "type: new_value\nquery: 'k8s.pod:\"{pod}\" AND attributes.http.method:GET'\nfield: attributes.http.path"
        ),
        _ => format!(
            "type: cardinality\nquery: 'k8s.pod:\"{pod}\"'\nfield: attributes.user_id\nthreshold: 1000\nwindow: 1m"
        ),
    };
    bench_rule(i, &text)
}

/// Rule `i` of a dense mix of the six types: scoped to one of 100 namespaces, most of
/// them matching every event there.
fn dense_rule(i: usize) -> Rule {
    let ns = format!("ns-{}", i % 100);
    let pod = format!("{ns}-api-{}", i % 10);
    let text = match i % 6 {
        0 => format!(
            "type: threshold\nquery: 'k8s.namespace:{ns} AND level:error'\nwindow: 1m\nthreshold: 50\ngroup_by: [k8s.pod]"
        ),
        1 => format!(
            "type: match\nquery: 'message:code{} AND attributes.http.status:[500 TO *]'\nrealert: 1m",
            i % 5_000
        ),
        2 => format!("type: absence\nquery: 'k8s.pod:\"{pod}\" AND message:heartbeat'\nwindow: 5m"),
        3 => format!(
            "type: ratio\nquery: 'k8s.namespace:{ns} AND level:error'\ndenominator: 'k8s.namespace:{ns}'\nthreshold: 0.5\nmin_events: 100\nwindow: 1m"
        ),
        4 => format!(
            "type: new_value\nquery: 'k8s.namespace:{ns} AND attributes.http.method:GET'\nfield: attributes.http.path"
        ),
        _ => format!(
            "type: cardinality\nquery: 'k8s.pod:\"{pod}\"'\nfield: attributes.user_id\nthreshold: 1000\nwindow: 1m"
        ),
    };
    bench_rule(i, &text)
}

/// Rule `i` of the bench with the type-specific `text`, notifying `oncall`.
fn bench_rule(i: usize, text: &str) -> Rule {
    parse_rule(
        &format!("name: rule-{i}\n{text}\nnotify: [oncall]\n"),
        Path::new("bench.yaml"),
    )
    .unwrap()
}

#[derive(Debug, Clone, Copy)]
struct Measured {
    wall: f64,
    cpu: f64,
}

impl Measured {
    fn per_core(&self, events: u64) -> f64 {
        events as f64 / self.cpu
    }
}

/// The fastest of `LOGPIPE_BENCH_REPEAT` runs (default 3), by CPU time: on a shared
/// machine, the run the neighbours disturbed least.
fn fastest(mut run: impl FnMut() -> Measured) -> Measured {
    (0..env_number("LOGPIPE_BENCH_REPEAT", 3usize).max(1))
        .map(|_| run())
        .min_by(|a, b| a.cpu.total_cmp(&b.cpu))
        .expect("one run at least")
}

fn measure(work: impl FnOnce()) -> Measured {
    let (started, cpu) = (Instant::now(), cpu_seconds());
    work();
    Measured {
        wall: started.elapsed().as_secs_f64(),
        cpu: cpu_seconds() - cpu,
    }
}

fn cpu_seconds() -> f64 {
    let usage = nix::sys::resource::getrusage(nix::sys::resource::UsageWho::RUSAGE_THREAD).unwrap();
    let seconds = |t: nix::sys::time::TimeVal| t.tv_sec() as f64 + t.tv_usec() as f64 / 1e6;
    seconds(usage.user_time()) + seconds(usage.system_time())
}

fn rates(events: u64, bytes: usize, measured: Measured) -> Value {
    json!({
        "wall_seconds": measured.wall,
        "cpu_seconds": measured.cpu,
        "events_per_sec": events as f64 / measured.wall,
        "events_per_cpu_sec": events as f64 / measured.cpu,
        "mb_per_cpu_sec": bytes as f64 / 1e6 / measured.cpu,
    })
}

// ---- append to webhook ----

async fn append_to_webhook(rate: u64, seconds: u64) -> Value {
    use axum::Router;
    use axum::body::Bytes;
    use axum::extract::State;
    use axum::routing::post;
    use logpipe_common::config::Env;
    use logpipe_common::kafka::TopicSpec;
    use logpipe_common::service::{self, Service, ServiceContext};
    use logpipe_common::testkit::TestBroker;
    use rdkafka::Message;
    use rdkafka::consumer::{BaseConsumer, Consumer};
    use rdkafka::producer::{BaseRecord, DefaultProducerContext, Producer, ThreadedProducer};

    const TOPIC: &str = "logs";
    let clock = Instant::now();
    // Webhook receiver: the arrival time of each alert, by the triggering event's offset.
    type Arrivals = Arc<Mutex<HashMap<u64, u64>>>;
    let arrivals: Arrivals = Arc::default();
    async fn hook(
        State((arrivals, clock)): State<(Arrivals, Instant)>,
        body: Bytes,
    ) -> &'static str {
        let at = clock.elapsed().as_micros() as u64;
        let value: Value = serde_json::from_slice(&body).unwrap_or_default();
        if let Some(n) = value["event"]["source"]["offset"].as_u64() {
            arrivals.lock().unwrap().entry(n).or_insert(at);
        }
        "ok"
    }
    let router = Router::new()
        .route("/hook", post(hook))
        .with_state((arrivals.clone(), clock));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let hook_address = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });

    let broker = TestBroker::start().unwrap();
    broker
        .create_topics(&[
            TopicSpec::new(TOPIC, 3),
            TopicSpec::new("alerts", 1),
            TopicSpec::new("warm-up", 1),
        ])
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("rules")).unwrap();
    std::fs::write(
        dir.path().join("rules/each.yaml"),
        "name: each-error\ntype: match\nquery: 'level:error'\nrealert: 0s\ngroup_by: [id]\nnotify: [hook]\n",
    )
    .unwrap();
    std::fs::write(
        dir.path().join("notifiers.yaml"),
        format!("hook:\n  url: http://{hook_address}/hook\n  format: generic\n"),
    )
    .unwrap();
    let env = Env::from_pairs([
        ("LOGPIPE_KAFKA_BROKERS", broker.bootstrap()),
        (
            "LOGPIPE_DATA_DIR",
            dir.path().join("data").display().to_string(),
        ),
        (
            "LOGPIPE_ALERTING_RULES_DIR",
            dir.path().join("rules").display().to_string(),
        ),
        (
            "LOGPIPE_ALERTING_NOTIFIERS_FILE",
            dir.path().join("notifiers.yaml").display().to_string(),
        ),
        ("LOGPIPE_ALERTING_WEBHOOK_ALLOW", "127.0.0.0/8".to_string()),
        // Every event fires the rule: the per-rule cap would hold all but the first few.
        (
            "LOGPIPE_ALERTING_MAX_ALERTS_PER_RULE",
            (rate * seconds + 1).to_string(),
        ),
    ]);
    let (shared, config) = service::load::<logpipe_alerting::AlertingConfig>(&env).unwrap();
    let ctx = ServiceContext::new(shared);
    let _router = config.start(ctx.clone()).await.unwrap();

    let mut consumer_config = broker.settings().consumer("bench-baseline");
    consumer_config.set("fetch.wait.max.ms", "100");
    let bare: BaseConsumer = consumer_config.create().unwrap();
    let mut assignment = rdkafka::TopicPartitionList::new();
    for partition in 0..3 {
        let (_, high) = bare
            .fetch_watermarks(TOPIC, partition, Duration::from_secs(10))
            .unwrap();
        assignment
            .add_partition_offset(TOPIC, partition, rdkafka::Offset::Offset(high))
            .unwrap();
    }
    bare.assign(&assignment).unwrap();
    tokio::time::sleep(Duration::from_secs(2)).await;

    let total = rate * seconds;
    let sent_at: Arc<Vec<AtomicU64>> = Arc::new((0..total).map(|_| AtomicU64::new(0)).collect());
    let producer = {
        let settings = broker.settings();
        let sent_at = sent_at.clone();
        std::thread::spawn(move || {
            let producer: ThreadedProducer<DefaultProducerContext> =
                settings.producer().create().unwrap();
            // The producer's id and connection first, on a topic of its own: what is
            // measured is an event's way, not the producer's startup.
            producer
                .send(BaseRecord::<(), _>::to("warm-up").payload("warm-up"))
                .map_err(|(error, _)| error)
                .unwrap();
            producer.flush(Duration::from_secs(60)).unwrap();
            // At the rate from the first send, not from the clock's start (the broker's
            // and the service's startup would make a burst of the first events).
            let first = clock.elapsed();
            for n in 0..total {
                let due = first + Duration::from_micros(n * 1_000_000 / rate);
                if let Some(wait) = due.checked_sub(clock.elapsed()) {
                    std::thread::sleep(wait);
                }
                let mut event = event(n, Timestamp::now());
                event.level = Level::Error;
                event.source.offset = Some(n);
                let payload = serde_json::to_vec(&event).unwrap();
                let key = event.kafka_key();
                sent_at[n as usize].store(clock.elapsed().as_micros() as u64, Ordering::Relaxed);
                let mut record = BaseRecord::to(TOPIC).key(&key).payload(&payload);
                while let Err((_, returned)) = producer.send(record) {
                    record = returned;
                    std::thread::sleep(Duration::from_millis(1));
                }
            }
            producer.flush(Duration::from_secs(60)).unwrap();
        })
    };
    let baseline = {
        let sent_at = sent_at.clone();
        std::thread::spawn(move || {
            let mut latencies = Vec::new();
            let deadline = Instant::now() + Duration::from_secs(seconds + 30);
            while (latencies.len() as u64) < total && Instant::now() < deadline {
                if let Some(Ok(message)) = bare.poll(Duration::from_millis(100)) {
                    let arrived = clock.elapsed().as_micros() as u64;
                    let event: LogEvent =
                        serde_json::from_slice(message.payload().unwrap_or_default()).unwrap();
                    let n = event.source.offset.unwrap_or(0) as usize;
                    latencies.push(arrived.saturating_sub(sent_at[n].load(Ordering::Relaxed)));
                }
            }
            latencies
        })
    };
    let deadline = Instant::now() + Duration::from_secs(seconds + 30);
    while (arrivals.lock().unwrap().len() as u64) < total && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    tokio::task::spawn_blocking(move || producer.join().unwrap())
        .await
        .unwrap();
    let baseline = tokio::task::spawn_blocking(move || baseline.join().unwrap())
        .await
        .unwrap();
    let webhook: Vec<u64> = arrivals
        .lock()
        .unwrap()
        .iter()
        .map(|(n, at)| at.saturating_sub(sent_at[*n as usize].load(Ordering::Relaxed)))
        .collect();
    ctx.shutdown.cancel();
    let summary = |micros: &[u64]| {
        let mut sorted = micros.to_vec();
        sorted.sort_unstable();
        let pick = |q: f64| {
            sorted
                .get(((sorted.len().max(1) - 1) as f64 * q).round() as usize)
                .copied()
                .unwrap_or(0) as f64
                / 1e3
        };
        json!({"received": sorted.len(), "p50_ms": pick(0.5), "p99_ms": pick(0.99), "max_ms": pick(1.0)})
    };
    json!({
        "rate_per_sec": rate,
        "events": total,
        "webhook": summary(&webhook),
        "baseline": "bare consumer of the topic",
        "bare_consumer": summary(&baseline),
    })
}
