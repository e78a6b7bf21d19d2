//! The demo workload: a handful of pods as a small cluster runs them, each writing the log
//! style its kind of software writes (structured JSON, logfmt, access logs, klog, Java
//! with stack traces), with levels, bursts of errors and the occasional very long line.
//!
//! Every entry carries a per-container sequence number (`"seq": N` in JSON, `seq=N` in
//! text) so that a test can tell a missing line from a repeated one.

use logpipe_common::Timestamp;
use serde_json::json;

/// Which stream an entry goes to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stream {
    Stdout,
    Stderr,
}

impl Stream {
    pub fn as_str(self) -> &'static str {
        match self {
            Stream::Stdout => "stdout",
            Stream::Stderr => "stderr",
        }
    }
}

/// How a container's runtime frames its log file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Framing {
    /// containerd / CRI-O: `<time> <stream> <P|F> <content>`.
    Cri,
    /// Docker's json-file driver: `{"log": …, "stream": …, "time": …}`.
    DockerJson,
}

/// What a container's application writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Style {
    /// A Go or Node service logging JSON with HTTP fields.
    JsonApi,
    /// nginx's combined access log.
    AccessLog,
    /// A zap-style JSON worker with epoch timestamps.
    ZapWorker,
    /// CoreDNS query logs.
    CoreDns,
    /// Prometheus-style logfmt.
    Logfmt,
    /// A Java batch job: text lines, stack traces on failures, large report dumps.
    JavaBatch,
}

/// One container of the workload.
#[derive(Debug, Clone, Copy)]
pub struct Spec {
    pub namespace: &'static str,
    pub pod: &'static str,
    pub pod_uid: &'static str,
    pub container: &'static str,
    pub style: Style,
    pub framing: Framing,
    /// Relative share of the entries.
    pub weight: u32,
}

/// The workload: six containers in five namespaces.
pub const WORKLOAD: [Spec; 6] = [
    Spec {
        namespace: "shop",
        pod: "checkout-7d9f8b6c5-x2k4p",
        pod_uid: "6f1c2a3b-4d5e-4f60-8a71-92b3c4d5e6f7",
        container: "api",
        style: Style::JsonApi,
        framing: Framing::Cri,
        weight: 30,
    },
    Spec {
        namespace: "shop",
        pod: "frontend-5c6d7f8b9-9qwrt",
        pod_uid: "0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d",
        container: "nginx",
        style: Style::AccessLog,
        framing: Framing::DockerJson,
        weight: 25,
    },
    Spec {
        namespace: "payments",
        pod: "payments-worker-6b7c8d9f4-mn3zx",
        pod_uid: "5e6f7a8b-9c0d-4e1f-a2b3-c4d5e6f7a8b9",
        container: "worker",
        style: Style::ZapWorker,
        framing: Framing::Cri,
        weight: 15,
    },
    Spec {
        namespace: "kube-system",
        pod: "coredns-5d78c9869d-h8q2v",
        pod_uid: "9a8b7c6d-5e4f-4a3b-9c2d-1e0f9a8b7c6d",
        container: "coredns",
        style: Style::CoreDns,
        framing: Framing::Cri,
        weight: 15,
    },
    Spec {
        namespace: "monitoring",
        pod: "prometheus-0",
        pod_uid: "3c4d5e6f-7a8b-4c9d-8e0f-1a2b3c4d5e6f",
        container: "prometheus",
        style: Style::Logfmt,
        framing: Framing::DockerJson,
        weight: 8,
    },
    Spec {
        namespace: "batch",
        pod: "report-28891440-7xq2p",
        pod_uid: "7b8c9d0e-1f2a-4b3c-ad4e-5f6a7b8c9d0e",
        container: "report",
        style: Style::JavaBatch,
        framing: Framing::Cri,
        weight: 7,
    },
];

/// One entry as the application wrote it: one or more lines (a stack trace is several).
#[derive(Debug, Clone)]
pub struct Entry {
    pub stream: Stream,
    pub lines: Vec<String>,
}

/// The inputs of one entry besides the container.
#[derive(Debug, Clone, Copy)]
pub struct Moment {
    pub now: Timestamp,
    pub seq: u64,
    /// Whether the periodic incident is on: the checkout API fails half its requests.
    pub incident: bool,
}

const PATHS: [&str; 8] = [
    "/api/cart",
    "/api/cart/items",
    "/api/checkout",
    "/api/orders",
    "/api/products",
    "/api/products/search",
    "/api/session",
    "/healthz",
];
const METHODS: [&str; 4] = ["GET", "GET", "POST", "PUT"];
const AGENTS: [&str; 4] = [
    "Mozilla/5.0 (X11; Linux x86_64; rv:132.0) Gecko/20100101 Firefox/132.0",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_6) AppleWebKit/605.1.15 Safari/605.1.15",
    "kube-probe/1.31",
    "curl/8.5.0",
];
const DOMAINS: [&str; 5] = [
    "checkout.shop.svc.cluster.local.",
    "payments.payments.svc.cluster.local.",
    "kafka-bootstrap.kafka.svc.cluster.local.",
    "api.stripe.com.",
    "prometheus-0.monitoring.svc.cluster.local.",
];
const CURRENCIES: [&str; 3] = ["EUR", "USD", "GBP"];
/// Failures of the checkout API, by what it says.
const CHECKOUT_ERRORS: [&str; 3] = [
    "payment provider timeout",
    "inventory reservation failed",
    "upstream connect error or disconnect/reset before headers",
];

/// Renders the next entry of `spec`.
pub fn entry(spec: &Spec, moment: Moment, rng: &mut fastrand::Rng) -> Entry {
    match spec.style {
        Style::JsonApi => json_api(moment, rng),
        Style::AccessLog => access_log(moment, rng),
        Style::ZapWorker => zap_worker(moment, rng),
        Style::CoreDns => coredns(moment, rng),
        Style::Logfmt => logfmt(moment, rng),
        Style::JavaBatch => java_batch(moment, rng),
    }
}

fn pick<'a>(rng: &mut fastrand::Rng, items: &[&'a str]) -> &'a str {
    items[rng.usize(..items.len())]
}

fn ip(rng: &mut fastrand::Rng) -> String {
    format!("10.244.{}.{}", rng.u8(0..4), rng.u8(2..250))
}

fn trace_id(rng: &mut fastrand::Rng) -> String {
    format!("{:032x}", rng.u128(..))
}

fn json_api(moment: Moment, rng: &mut fastrand::Rng) -> Entry {
    let error_chance = if moment.incident { 0.5 } else { 0.01 };
    let path = pick(rng, &PATHS);
    let method = pick(rng, &METHODS);
    let latency_ms = rng.u32(2..80) + if rng.f32() < 0.05 { 900 } else { 0 };
    let (level, status, msg, stream) = if rng.f64() < error_chance {
        (
            "error",
            502,
            pick(rng, &CHECKOUT_ERRORS).to_owned(),
            Stream::Stderr,
        )
    } else if latency_ms > 500 {
        ("warn", 200, "slow request".to_owned(), Stream::Stdout)
    } else if rng.f32() < 0.1 {
        ("debug", 200, "cache lookup".to_owned(), Stream::Stdout)
    } else {
        ("info", 200, "request completed".to_owned(), Stream::Stdout)
    };
    let line = json!({
        "time": moment.now.to_string(),
        "level": level,
        "msg": msg,
        "seq": moment.seq,
        "trace_id": trace_id(rng),
        "user_id": rng.u32(1000..99_999),
        "http": {"method": method, "path": path, "status": status, "client_ip": ip(rng)},
        "latency_ms": latency_ms,
    });
    Entry {
        stream,
        lines: vec![line.to_string()],
    }
}

fn access_log(moment: Moment, rng: &mut fastrand::Rng) -> Entry {
    let status = match rng.u32(0..100) {
        0..=1 => 500,
        2..=5 => 404,
        6..=8 => 304,
        _ => 200,
    };
    // nginx's own time format: 27/Nov/2026:10:00:00 +0000.
    let seconds = moment.now.unix_nanos().div_euclid(1_000_000_000);
    let time = time::OffsetDateTime::from_unix_timestamp(seconds)
        .ok()
        .and_then(|t| {
            t.format(time::macros::format_description!(
                "[day]/[month repr:short]/[year]:[hour]:[minute]:[second] +0000"
            ))
            .ok()
        })
        .unwrap_or_default();
    let line = format!(
        "{} - - [{time}] \"{} {} HTTP/1.1\" {status} {} \"-\" \"{}\" rt={:.3} seq={}",
        ip(rng),
        pick(rng, &METHODS),
        pick(rng, &PATHS),
        rng.u32(120..24_000),
        pick(rng, &AGENTS),
        rng.f64() * 0.2,
        moment.seq,
    );
    let stream = if status >= 500 {
        Stream::Stderr
    } else {
        Stream::Stdout
    };
    Entry {
        stream,
        lines: vec![line],
    }
}

fn zap_worker(moment: Moment, rng: &mut fastrand::Rng) -> Entry {
    let epoch = moment.now.unix_nanos() as f64 / 1e9;
    let (level, msg) = match rng.u32(0..100) {
        0 => ("error", "charge declined by provider"),
        1..=4 => ("warn", "retrying charge after timeout"),
        _ => ("info", "charge captured"),
    };
    let line = json!({
        "level": level,
        "ts": epoch,
        "caller": "worker/charge.go:142",
        "msg": msg,
        "seq": moment.seq,
        "order_id": format!("ord_{:010}", rng.u64(..10_000_000_000)),
        "amount_cents": rng.u32(199..250_000),
        "currency": pick(rng, &CURRENCIES),
        "attempt": rng.u8(1..4),
    });
    Entry {
        stream: Stream::Stderr,
        lines: vec![line.to_string()],
    }
}

fn coredns(moment: Moment, rng: &mut fastrand::Rng) -> Entry {
    let (rcode, qtype) = if rng.u32(0..100) < 3 {
        ("NXDOMAIN", "AAAA")
    } else {
        ("NOERROR", "A")
    };
    let line = format!(
        "[INFO] {}:{} - {} \"{qtype} IN {} udp {} false 512\" {rcode} qr,aa,rd {} {:.6}s seq={}",
        ip(rng),
        rng.u16(30_000..60_000),
        rng.u16(..),
        pick(rng, &DOMAINS),
        rng.u8(40..90),
        rng.u16(90..300),
        rng.f64() * 0.002,
        moment.seq,
    );
    Entry {
        stream: Stream::Stdout,
        lines: vec![line],
    }
}

fn logfmt(moment: Moment, rng: &mut fastrand::Rng) -> Entry {
    let (level, caller, msg) = match rng.u32(0..100) {
        0..=2 => (
            "warn",
            "scrape.go:1400",
            "\"Error on ingesting samples that are too old or are too far into the future\"",
        ),
        3..=40 => ("info", "head.go:1290", "\"Head GC completed\""),
        _ => ("debug", "scrape.go:1331", "\"Scrape completed\""),
    };
    let line = format!(
        "ts={} caller={caller} level={level} component=\"scrape manager\" msg={msg} target=http://{}:8080/metrics duration_ms={} seq={}",
        moment.now,
        ip(rng),
        rng.u32(1..400),
        moment.seq,
    );
    Entry {
        stream: Stream::Stderr,
        lines: vec![line],
    }
}

fn java_batch(moment: Moment, rng: &mut fastrand::Rng) -> Entry {
    let stamp = moment.now.to_string();
    // "2026-11-27T10:00:00.123456789Z" → "2026-11-27 10:00:00.123"
    let stamp = format!("{} {}", &stamp[..10], &stamp[11..23]);
    let thread = rng.u8(1..5);
    match rng.u32(0..100) {
        0..=3 => Entry {
            stream: Stream::Stderr,
            lines: vec![
                format!(
                    "{stamp} ERROR [report-worker-{thread}] c.e.reports.ReportJob - report generation failed seq={}",
                    moment.seq
                ),
                "java.lang.IllegalStateException: connection pool exhausted (max=16)".to_owned(),
                "\tat com.example.db.Pool.acquire(Pool.java:211)".to_owned(),
                "\tat com.example.reports.OrderRepository.stream(OrderRepository.java:88)"
                    .to_owned(),
                "\tat com.example.reports.ReportJob.run(ReportJob.java:57)".to_owned(),
                "\tat java.base/java.lang.Thread.run(Thread.java:1583)".to_owned(),
                "Caused by: java.net.SocketTimeoutException: Read timed out".to_owned(),
                "\tat java.base/sun.nio.ch.NioSocketImpl.timedRead(NioSocketImpl.java:278)"
                    .to_owned(),
                "\t... 4 more".to_owned(),
            ],
        },
        4 => {
            // A report summary far longer than the runtime's 16 KiB line limit: the runtime
            // splits it into partial lines that the collector joins again.
            let rows: Vec<String> = (0..700)
                .map(|i| format!("{{\"region\":\"r{i}\",\"orders\":{}}}", rng.u32(..5000)))
                .collect();
            Entry {
                stream: Stream::Stdout,
                lines: vec![format!(
                    "{stamp} INFO  [report-worker-{thread}] c.e.reports.ReportJob - report summary seq={} rows=[{}]",
                    moment.seq,
                    rows.join(",")
                )],
            }
        }
        _ => Entry {
            stream: Stream::Stdout,
            lines: vec![format!(
                "{stamp} INFO  [report-worker-{thread}] c.e.reports.ReportJob - exported {} orders in {} ms seq={}",
                rng.u32(10..5000),
                rng.u32(5..900),
                moment.seq
            )],
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_entry_carries_its_sequence_number_once() {
        let mut rng = fastrand::Rng::with_seed(7);
        for spec in &WORKLOAD {
            for seq in 0..300 {
                let moment = Moment {
                    now: Timestamp::from_unix_nanos(1_796_000_000_123_456_789),
                    seq,
                    incident: seq % 2 == 0,
                };
                let entry = entry(spec, moment, &mut rng);
                let first = &entry.lines[0];
                let tagged = first.contains(&format!("\"seq\":{seq},"))
                    || first.contains(&format!("seq={seq}"));
                assert!(tagged, "{first}");
                for line in &entry.lines[1..] {
                    assert!(!line.contains("seq="), "{line}");
                }
                assert!(entry.lines.iter().all(|line| !line.contains('\n')));
            }
        }
    }

    #[test]
    fn the_incident_raises_the_checkout_error_rate() {
        let mut rng = fastrand::Rng::with_seed(1);
        let errors = |incident: bool, rng: &mut fastrand::Rng| {
            (0..1000)
                .filter(|&seq| {
                    let moment = Moment {
                        now: Timestamp::now(),
                        seq,
                        incident,
                    };
                    json_api(moment, rng).lines[0].contains("\"level\":\"error\"")
                })
                .count()
        };
        assert!(errors(true, &mut rng) > 300);
        assert!(errors(false, &mut rng) < 50);
    }
}
