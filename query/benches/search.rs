//! Search latency over a large index, printed as JSON, against a scan of the same events
//! as NDJSON measured in the same run.
//!
//! `cargo bench -p logpipe-query --bench search` generates `LOGPIPE_BENCH_EVENTS` events
//! (default 10,000,000) spread over the 48 hours before the dataset's end: application
//! events with nested attributes, real Apache access-log lines and, one in fifty, a deeply
//! nested NGINX Plus status document (both from ../shared/data/elastic-examples). It
//! writes them once into day indexes laid out as the indexer lays them out and into one
//! NDJSON file, under `LOGPIPE_BENCH_DIR` (default /var/tmp/logpipe/bench), and reuses
//! them on later runs. Then, `LOGPIPE_BENCH_RUNS` times each (default 20):
//!
//! - `id_lookup`: `id:<a random event's id>` over the whole range, one hit;
//! - `term_range_top100`: `k8s.namespace:shop AND level:error` in the last 6 hours, the
//!   100 newest;
//! - `phrase`: `"answered 502"` over the last 24 hours, the 100 newest;
//! - `histogram_24h`: every event of the last 24 hours in automatic buckets;
//! - `top_values`: the 10 most frequent `k8s.pod` values of the last 24 hours.
//!
//! The baseline answers the same predicates by scanning the NDJSON file: ripgrep (`rg`)
//! when it is installed for the three searches, a memchr loop otherwise and for the two
//! aggregations (which ripgrep cannot compute). The output gives p50/p99 of both and the
//! speed-up.
//!
//! `tail_latency` appends events to a real broker (tansu, three partitions) at
//! `LOGPIPE_BENCH_TAIL_RATE` per second (default 200) for `LOGPIPE_BENCH_TAIL_SECS`
//! (default 10) while the live tail listens; for each event, the time from its send to its
//! arrival at a tail subscriber, and in the same run at a bare consumer of the same topic
//! (the broker's own produce-to-consume latency). `LOGPIPE_BENCH_ONLY=tail` runs it alone.

use std::io::{BufRead, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use logpipe_common::event::{LogEvent, RawRecord, Timestamp};
use logpipe_common::testkit::{env_number, sample_event, shared_data};
use logpipe_language::Query;
use logpipe_language::Scope;
use logpipe_store::document::document_of;
use logpipe_store::search::{self, Request, TimeRange};
use logpipe_store::{Catalog, Day, IndexLayout, Reload};
use serde_json::{Value, json};
use tantivy::IndexWriter;

const HOUR: i64 = 3_600_000_000_000;
const SPAN_HOURS: i64 = 48;
const WRITER_MEMORY: usize = 512 << 20;

/// The allocator the `logpipe` binary runs with.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() {
    let tail = run_tail(
        env_number("LOGPIPE_BENCH_TAIL_RATE", 200),
        env_number("LOGPIPE_BENCH_TAIL_SECS", 10),
    );
    if std::env::var("LOGPIPE_BENCH_ONLY").as_deref() == Ok("tail") {
        let output =
            json!({"benchmark": "query", "machine": machine(), "results": {"tail_latency": tail}});
        println!("{}", serde_json::to_string_pretty(&output).unwrap());
        return;
    }
    let events: u64 = env_number("LOGPIPE_BENCH_EVENTS", 10_000_000);
    let runs: usize = env_number("LOGPIPE_BENCH_RUNS", 20);
    let root =
        std::env::var("LOGPIPE_BENCH_DIR").unwrap_or_else(|_| "/var/tmp/logpipe/bench".into());
    let dir = PathBuf::from(root).join(format!(
        "query-{events}-v{}",
        logpipe_store::schema::SCHEMA_VERSION
    ));
    let (end, build) = dataset(&dir, events);
    let ndjson = dir.join("events.ndjson");
    let catalog = Catalog::open(IndexLayout::under(&dir), Reload::Manual).unwrap();
    let ndjson_bytes = std::fs::metadata(&ndjson).unwrap().len();
    let index_bytes: u64 = catalog.stats().iter().map(|d| d.bytes).sum();

    let at = |hours_before_end: i64| {
        Timestamp::from_unix_nanos(end.unix_nanos() - hours_before_end * HOUR)
    };
    let all = TimeRange {
        from: at(SPAN_HOURS + 1),
        to: at(-1),
    };
    let last = |hours| TimeRange {
        from: at(hours),
        to: end,
    };
    let ripgrep = which("rg");
    let mut rng = 0x9e37_79b9_7f4a_7c15u64;
    let mut random_n = || {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        rng % events
    };

    let mut results = serde_json::Map::new();
    let mut record =
        |name: &str, ours: Vec<Duration>, baseline: Vec<Duration>, how: &str, detail: Value| {
            let (p50, p99) = percentiles(&ours);
            let (b50, b99) = percentiles(&baseline);
            results.insert(
                name.to_string(),
                json!({
                    "p50_ms": ms(p50), "p99_ms": ms(p99),
                    "baseline": how, "baseline_p50_ms": ms(b50), "baseline_p99_ms": ms(b99),
                    "speedup_p50": b50.as_secs_f64() / p50.as_secs_f64().max(1e-9),
                    "detail": detail,
                }),
            );
        };

    // id lookup
    let ids: Vec<String> = (0..runs)
        .map(|_| {
            event(random_n(), events, end, Corpus::load())
                .id
                .to_string()
        })
        .collect();
    let mut ours = Vec::new();
    for id in &ids {
        let request = request(&format!("id:{id}"), all);
        let started = Instant::now();
        let page = search::search(&catalog, &request, 1, None).unwrap();
        ours.push(started.elapsed());
        assert_eq!(page.hits.len(), 1, "id {id} is indexed");
    }
    let (baseline, how) = scan_times(&ndjson, ripgrep.as_deref(), runs.min(5), |i| {
        vec![format!("\"id\":\"{}\"", ids[i % ids.len()])]
    });
    record(
        "id_lookup",
        ours,
        baseline,
        &how,
        json!({"query": "id:<random>", "range": "48h"}),
    );

    // term + time range, top 100
    let q = "k8s.namespace:shop AND level:error";
    let mut total = 0;
    let ours = time(runs, || {
        let page = search::search(&catalog, &request(q, last(6)), 100, None).unwrap();
        total = page.total;
        assert_eq!(page.hits.len(), 100);
    });
    let (baseline, how) = scan_times(&ndjson, ripgrep.as_deref(), runs.min(5), |_| {
        vec![
            "\"level\":\"error\"".into(),
            "\"namespace\":\"shop\"".into(),
        ]
    });
    record(
        "term_range_top100",
        ours,
        baseline,
        &how,
        json!({"query": q, "range": "6h", "total": total}),
    );

    // phrase
    let q = "\"answered 502\"";
    let ours = time(runs, || {
        let page = search::search(&catalog, &request(q, last(24)), 100, None).unwrap();
        total = page.total;
    });
    let (baseline, how) = scan_times(&ndjson, ripgrep.as_deref(), runs.min(5), |_| {
        vec!["answered 502".into()]
    });
    record(
        "phrase",
        ours,
        baseline,
        &how,
        json!({"query": q, "range": "24h", "total": total}),
    );

    // 24-hour histogram
    let mut buckets = 0;
    let ours = time(runs, || {
        let histogram = search::histogram(&catalog, &request("", last(24)), None).unwrap();
        total = histogram.total;
        buckets = histogram.buckets.len();
    });
    let range = last(24);
    let baseline = (0..runs.min(3))
        .map(|_| {
            let started = Instant::now();
            let counted = scan_histogram(&ndjson, range, search::auto_interval(&range));
            assert_eq!(counted, total, "the scan counts what the index counts");
            started.elapsed()
        })
        .collect();
    record(
        "histogram_24h",
        ours,
        baseline,
        "memchr loop",
        json!({"events": total, "buckets": buckets}),
    );

    // top values
    let mut top = Value::Null;
    let ours = time(runs, || {
        let values = search::top_values(&catalog, &request("", last(24)), "k8s.pod", 10).unwrap();
        top = json!(values.values.first().map(|(v, n)| json!([v, n])));
    });
    let baseline = (0..runs.min(3))
        .map(|_| {
            let started = Instant::now();
            scan_top_pods(&ndjson, range);
            started.elapsed()
        })
        .collect();
    record(
        "top_values",
        ours,
        baseline,
        "memchr loop",
        json!({"field": "k8s.pod", "top": top}),
    );

    results.insert("tail_latency".into(), tail);
    let output = json!({
        "benchmark": "query",
        "events": events,
        "ndjson_bytes": ndjson_bytes,
        "index_bytes": index_bytes,
        "days": catalog.stats().len(),
        "dataset_build_seconds": build,
        "runs": runs,
        "machine": machine(),
        "results": results,
        "goals": {"tail_latency_p99_ms_below": 1000, "id_lookup_p50_ms_below": 10, "term_range_top100_p50_ms_below": 50, "histogram_24h_p50_ms_below": 300},
    });
    println!("{}", serde_json::to_string_pretty(&output).unwrap());
}

fn request(q: &str, range: TimeRange) -> Request {
    Request {
        query: Query::parse(q).unwrap(),
        range,
        scope: Scope::all(),
        deadline: Instant::now() + Duration::from_secs(600),
        max_page_bytes: logpipe_store::search::DEFAULT_MAX_PAGE_BYTES,
    }
}

fn time(runs: usize, mut work: impl FnMut()) -> Vec<Duration> {
    work(); // warm-up
    (0..runs)
        .map(|_| {
            let started = Instant::now();
            work();
            started.elapsed()
        })
        .collect()
}

fn percentiles(times: &[Duration]) -> (Duration, Duration) {
    if times.is_empty() {
        return (Duration::ZERO, Duration::ZERO);
    }
    let mut sorted = times.to_vec();
    sorted.sort();
    let pick = |q: f64| sorted[((sorted.len() - 1) as f64 * q).round() as usize];
    (pick(0.5), pick(0.99))
}

fn ms(d: Duration) -> f64 {
    (d.as_secs_f64() * 1e6).round() / 1e3
}

fn which(program: &str) -> Option<PathBuf> {
    std::env::var_os("PATH")?
        .to_str()?
        .split(':')
        .map(|dir| Path::new(dir).join(program))
        .find(|path| path.is_file())
}

fn machine() -> Value {
    let cpus = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(0);
    let model = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|text| {
            text.lines()
                .find(|l| l.starts_with("model name"))
                .map(|l| l.split(':').nth(1).unwrap_or("").trim().to_string())
        })
        .unwrap_or_default();
    json!({"cpus": cpus, "cpu": model})
}

// ---- the dataset ----

struct Corpus {
    apache: Vec<String>,
    nginx: Vec<String>,
}

impl Corpus {
    fn load() -> &'static Corpus {
        static CORPUS: std::sync::OnceLock<Corpus> = std::sync::OnceLock::new();
        CORPUS.get_or_init(|| {
            let data = shared_data().join("elastic-examples");
            let read = |name: &str| -> Vec<String> {
                std::fs::read_to_string(data.join(name))
                    .unwrap_or_else(|e| panic!("{name}: {e}"))
                    .lines()
                    .map(str::to_owned)
                    .collect()
            };
            Corpus {
                apache: read("apache_logs"),
                nginx: read("nginxplus_json_logs.jsonl"),
            }
        })
    }
}

/// Event `n` of a dataset ending at `end`: newest first in `n`, 48 hours in all.
fn event(n: u64, events: u64, end: Timestamp, corpus: &Corpus) -> LogEvent {
    let step = (SPAN_HOURS * HOUR) / events.max(1) as i64;
    let ts = Timestamp::from_unix_nanos(end.unix_nanos() - 1 - n as i64 * step);
    let mut event = sample_event(n, ts);
    let line = match n % 50 {
        0 => Some(&corpus.nginx[(n as usize / 50) % corpus.nginx.len()]),
        n if n % 2 == 1 => Some(&corpus.apache[(n as usize / 2) % corpus.apache.len()]),
        _ => None,
    };
    if let Some(line) = line {
        let identity = format!("bench-{}", n % 50);
        let mut built = LogEvent::from_raw(RawRecord {
            payload: line.as_bytes(),
            runtime_ts: Some(ts),
            observed_ts: ts,
            stream: event.stream,
            k8s: event.k8s.clone(),
            source: event.source.clone(),
            identity: &identity,
            offset: n,
            truncated: false,
        });
        built.id = event.id;
        built.ts = ts;
        event = built;
    }
    event
}

/// Builds the dataset under `dir` unless it is there; its end instant and build seconds.
fn dataset(dir: &Path, events: u64) -> (Timestamp, f64) {
    let marker = dir.join("complete.json");
    if let Ok(text) = std::fs::read_to_string(&marker) {
        let done: Value = serde_json::from_str(&text).unwrap();
        let end = Timestamp::parse_rfc3339(done["end"].as_str().unwrap()).unwrap();
        return (end, done["build_seconds"].as_f64().unwrap_or(0.0));
    }
    let _ = std::fs::remove_dir_all(dir);
    std::fs::create_dir_all(dir).unwrap();
    eprintln!(
        "building the dataset ({events} events) under {}; later runs reuse it",
        dir.display()
    );
    let started = Instant::now();
    let end = Timestamp::now();
    let corpus = Corpus::load();
    let layout = IndexLayout::under(dir);
    let mut ndjson = BufWriter::with_capacity(
        1 << 20,
        std::fs::File::create(dir.join("events.ndjson")).unwrap(),
    );
    let mut writers: Vec<(Day, IndexWriter, logpipe_store::schema::Fields)> = Vec::new();
    for n in 0..events {
        let event = event(n, events, end, corpus);
        let stored = serde_json::to_vec(&event).unwrap();
        ndjson.write_all(&stored).unwrap();
        ndjson.write_all(b"\n").unwrap();
        let day = Day::of(event.ts);
        if writers.last().is_none_or(|(d, _, _)| *d != day) {
            if let Some((_, mut writer, _)) = writers.pop() {
                writer.commit().unwrap();
                writer.wait_merging_threads().unwrap();
            }
            let (index, fields) = layout.open_or_create(day).unwrap();
            writers.push((
                day,
                index.writer_with_num_threads(2, WRITER_MEMORY).unwrap(),
                fields,
            ));
        }
        let (_, writer, fields) = writers.last_mut().unwrap();
        writer.add_document(document_of(fields, &event)).unwrap();
        if n % 1_000_000 == 999_999 {
            eprintln!(
                "  {} events, {:.0} s",
                n + 1,
                started.elapsed().as_secs_f64()
            );
        }
    }
    for (_, mut writer, _) in writers {
        writer.commit().unwrap();
        writer.wait_merging_threads().unwrap();
    }
    ndjson.flush().unwrap();
    let build = started.elapsed().as_secs_f64();
    std::fs::write(
        &marker,
        json!({"end": end.to_string(), "build_seconds": build}).to_string(),
    )
    .unwrap();
    (end, build)
}

// ---- the baseline ----

/// Times `runs` scans of the file for lines containing every pattern: ripgrep when
/// available (piped for several patterns), else a memmem loop.
fn scan_times(
    file: &Path,
    ripgrep: Option<&Path>,
    runs: usize,
    patterns: impl Fn(usize) -> Vec<String>,
) -> (Vec<Duration>, String) {
    let mut times = Vec::new();
    for i in 0..runs {
        let patterns = patterns(i);
        let started = Instant::now();
        match ripgrep {
            Some(rg) => {
                let mut script = format!(
                    "{} -F -- {} {}",
                    rg.display(),
                    shell_quote(&patterns[0]),
                    file.display()
                );
                for pattern in &patterns[1..] {
                    script.push_str(&format!(
                        " | {} -F -c -- {}",
                        rg.display(),
                        shell_quote(pattern)
                    ));
                }
                if patterns.len() == 1 {
                    script = format!(
                        "{} -F -c -- {} {}",
                        rg.display(),
                        shell_quote(&patterns[0]),
                        file.display()
                    );
                }
                let output = Command::new("sh").arg("-c").arg(&script).output().unwrap();
                std::hint::black_box(output.stdout);
            }
            None => {
                std::hint::black_box(scan_count(file, &patterns));
            }
        }
        times.push(started.elapsed());
    }
    let how = if ripgrep.is_some() {
        "ripgrep"
    } else {
        "memchr loop"
    };
    (times, how.to_string())
}

fn shell_quote(text: &str) -> String {
    format!("'{}'", text.replace('\'', "'\\''"))
}

fn scan_count(file: &Path, patterns: &[String]) -> u64 {
    let finders: Vec<memchr::memmem::Finder> = patterns
        .iter()
        .map(|p| memchr::memmem::Finder::new(p.as_bytes()))
        .collect();
    let reader = std::io::BufReader::with_capacity(1 << 20, std::fs::File::open(file).unwrap());
    let mut count = 0;
    for line in reader.split(b'\n') {
        let line = line.unwrap();
        if finders.iter().all(|f| f.find(&line).is_some()) {
            count += 1;
        }
    }
    count
}

/// The `ts` of an NDJSON event line, found by bytes.
fn line_ts(line: &[u8]) -> Option<Timestamp> {
    let at = memchr::memmem::find(line, b"\"ts\":\"")? + 6;
    let end = at + memchr::memchr(b'"', &line[at..])?;
    Timestamp::parse_rfc3339(std::str::from_utf8(&line[at..end]).ok()?)
}

fn scan_histogram(file: &Path, range: TimeRange, interval: Duration) -> u64 {
    let step = interval.as_nanos() as i64;
    let first = range.from.unix_nanos().div_euclid(step) * step;
    let mut counts = vec![0u64; ((range.to.unix_nanos() - first) / step + 1) as usize];
    let reader = std::io::BufReader::with_capacity(1 << 20, std::fs::File::open(file).unwrap());
    for line in reader.split(b'\n') {
        let line = line.unwrap();
        if let Some(ts) = line_ts(&line)
            && ts >= range.from
            && ts < range.to
        {
            counts[((ts.unix_nanos() - first) / step) as usize] += 1;
        }
    }
    counts.iter().sum()
}

fn scan_top_pods(file: &Path, range: TimeRange) -> Vec<(Vec<u8>, u64)> {
    let mut counts: std::collections::HashMap<Vec<u8>, u64> = std::collections::HashMap::new();
    let reader = std::io::BufReader::with_capacity(1 << 20, std::fs::File::open(file).unwrap());
    for line in reader.split(b'\n') {
        let line = line.unwrap();
        let Some(ts) = line_ts(&line) else { continue };
        if ts < range.from || ts >= range.to {
            continue;
        }
        if let Some(at) = memchr::memmem::find(&line, b"\"pod\":\"") {
            let at = at + 7;
            if let Some(len) = memchr::memchr(b'"', &line[at..]) {
                *counts.entry(line[at..at + len].to_vec()).or_default() += 1;
            }
        }
    }
    let mut top: Vec<_> = counts.into_iter().collect();
    top.sort_by_key(|b| std::cmp::Reverse(b.1));
    top.truncate(10);
    top
}

// ---- live tail ----

/// Send-to-arrival latency of the live tail and of a bare consumer, p50/p99/max.
fn run_tail(rate: u64, seconds: u64) -> Value {
    use logpipe_common::config::Env;
    use logpipe_common::kafka::TopicSpec;
    use logpipe_common::service;
    use logpipe_common::testkit::{TestBroker, consumer_at_end};
    use rdkafka::Message;
    use rdkafka::producer::{BaseRecord, DefaultProducerContext, Producer, ThreadedProducer};
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

    const TOPIC: &str = "logs";
    let broker = TestBroker::start().unwrap();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime
        .block_on(broker.create_topics(&[TopicSpec::new(TOPIC, 3)]))
        .unwrap();
    let env = Env::from_pairs([
        ("LOGPIPE_KAFKA_BROKERS", broker.bootstrap()),
        ("LOGPIPE_LISTEN_ADDRESS", "127.0.0.1".to_string()),
    ]);
    let (shared, _) = service::load::<logpipe_query::QueryConfig>(&env).unwrap();
    let hub = logpipe_query::tail::TailHub::new(shared, tokio_util::sync::CancellationToken::new());
    let mut subscription = hub
        .subscribe(logpipe_language::Predicate::new(&Query::All))
        .unwrap();

    // The bare consumer: every partition from its current end, the same fetch wait.
    let bare = consumer_at_end(&broker.settings(), "bench-baseline", TOPIC, 3).unwrap();

    let total = rate * seconds;
    let clock = Instant::now();
    let sent_at: Arc<Vec<AtomicU64>> = Arc::new((0..total).map(|_| AtomicU64::new(0)).collect());
    let producing = Arc::new(AtomicBool::new(true));
    let producer = {
        let settings = broker.settings();
        let sent_at = sent_at.clone();
        let producing = producing.clone();
        std::thread::spawn(move || {
            let producer: ThreadedProducer<DefaultProducerContext> =
                settings.producer().create().unwrap();
            for n in 0..total {
                let due = Duration::from_micros(n * 1_000_000 / rate);
                if let Some(wait) = due.checked_sub(clock.elapsed()) {
                    std::thread::sleep(wait);
                }
                let event = sample_event(n, Timestamp::now());
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
            producing.store(false, Ordering::Relaxed);
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
                    latencies.push(Duration::from_micros(
                        arrived.saturating_sub(sent_at[n].load(Ordering::Relaxed)),
                    ));
                }
            }
            latencies
        })
    };
    let mut latencies = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(seconds + 30);
    while (latencies.len() as u64) < total && Instant::now() < deadline {
        let received = runtime.block_on(async {
            tokio::time::timeout(Duration::from_millis(200), subscription.recv()).await
        });
        if let Ok(logpipe_query::tail::Received::Event(arrival)) = received {
            let arrived = clock.elapsed().as_micros() as u64;
            let n = arrival.event.source.offset.unwrap_or(0) as usize;
            latencies.push(Duration::from_micros(
                arrived.saturating_sub(sent_at[n].load(Ordering::Relaxed)),
            ));
        }
    }
    producer.join().unwrap();
    let baseline = baseline.join().unwrap();
    let summary = |times: &[Duration]| {
        let (p50, p99) = percentiles(times);
        json!({"received": times.len(), "p50_ms": ms(p50), "p99_ms": ms(p99), "max_ms": ms(times.iter().copied().max().unwrap_or_default())})
    };
    let (ours, bare50) = (percentiles(&latencies).0, percentiles(&baseline).0);
    json!({
        "rate_per_sec": rate,
        "events": total,
        "tail": summary(&latencies),
        "baseline": "bare consumer of the topic",
        "bare_consumer": summary(&baseline),
        "p50_over_baseline_ms": ms(ours.saturating_sub(bare50)),
    })
}
