//! The input: container logs appended in the kubelet layout at a steady rate, with
//! probe lines whose write time is noted.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::Write;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use logpipe_common::Timestamp;

use crate::{Clock, WRITER_TICK};

/// What each container writes; the index into this is also the probe container.
const CONTAINERS: [(&str, &str, &str, &str); 4] = [
    (
        "shop",
        "checkout-7d9f8b6c5-x2k4p",
        "5f1c2a3e-0b7d-4c1e-9a2f-3b4c5d6e7f80",
        "api",
    ),
    (
        "payments",
        "payments-worker-6b7c8d9f4-mn3zx",
        "8a9b0c1d-2e3f-4a5b-8c7d-9e0f1a2b3c4d",
        "worker",
    ),
    (
        "search",
        "search-indexer-0",
        "1d2e3f4a-5b6c-4d7e-8f90-a1b2c3d4e5f6",
        "app",
    ),
    (
        "kube-system",
        "coredns-5d78c9869d-q7x2w",
        "c3d4e5f6-a7b8-4c9d-8e0f-1a2b3c4d5e6f",
        "coredns",
    ),
];

/// Appends CRI lines (`<time> stdout F <content>`) to one `0.log` per container at a
/// steady rate, and probe lines on request.
pub struct Writer {
    files: Vec<File>,
    pub clock: Clock,
    /// Lines written so far, probes included; read by the lag sampler.
    pub written: Arc<AtomicU64>,
    rng: u64,
    pub next_probe: u64,
    /// Probe id → its write time.
    pub probes: Arc<Mutex<BTreeMap<u64, u64>>>,
}

impl Writer {
    pub fn create(pods: &Path, clock: Clock) -> std::io::Result<Self> {
        let mut files = Vec::new();
        for (namespace, pod, uid, container) in CONTAINERS {
            let dir = pods
                .join(format!("{namespace}_{pod}_{uid}"))
                .join(container);
            std::fs::create_dir_all(&dir)?;
            files.push(
                File::options()
                    .create(true)
                    .append(true)
                    .open(dir.join("0.log"))?,
            );
        }
        Ok(Writer {
            files,
            clock,
            written: Arc::default(),
            rng: 0x9e37_79b9_7f4a_7c15,
            next_probe: 0,
            probes: Arc::default(),
        })
    }

    fn random(&mut self, bound: u64) -> u64 {
        self.rng ^= self.rng << 13;
        self.rng ^= self.rng >> 7;
        self.rng ^= self.rng << 17;
        self.rng % bound
    }

    /// One application line of container `c`, written at `now`.
    fn line(&mut self, c: usize, now: &str) -> String {
        let level = match self.random(100) {
            0 => "error",
            1..=5 => "warn",
            _ => "info",
        };
        let n = self.random(1 << 30);
        match c {
            0 => {
                let paths = [
                    "/api/v1/cart",
                    "/api/v1/checkout",
                    "/api/v1/items",
                    "/healthz",
                ];
                let status = if level == "error" { 502 } else { 200 };
                format!(
                    r#"{{"ts":"{now}","level":"{level}","msg":"request completed","http":{{"method":"GET","path":"{}","status":{status}}},"latency_ms":{},"user_id":{},"trace_id":"{:016x}"}}"#,
                    paths[n as usize % paths.len()],
                    n % 900,
                    n % 99_991,
                    n.wrapping_mul(0x2545_f491_4f6c_dd1d),
                )
            }
            1 => format!(
                r#"{{"level":"{level}","ts":{}.{:06},"caller":"worker/queue.go:88","msg":"job processed","job_id":"job-{n:x}","attempt":{},"duration_ms":{}}}"#,
                Timestamp::now().unix_nanos() / 1_000_000_000,
                n % 1_000_000,
                1 + n % 3,
                n % 5_000,
            ),
            2 => format!(
                r#"{{"time":"{now}","level":"{level}","msg":"flushed segment","shard":{},"docs":{},"bytes":{}}}"#,
                n % 8,
                n % 20_000,
                n % 50_000_000,
            ),
            _ => format!(
                r#"[INFO] 10.244.{}.{}:{} - {} "A IN api.shop.svc.cluster.local. udp 44 false 512" NOERROR qr,aa,rd 106 0.000{}s"#,
                n % 4,
                n % 250,
                30_000 + n % 30_000,
                n % 65_536,
                n % 1_000,
            ),
        }
    }

    /// Appends a probe line to the first container now; returns its id.
    pub fn probe(&mut self) -> u64 {
        let id = self.next_probe;
        self.next_probe += 1;
        let now = Timestamp::now().to_string();
        let line = format!(
            "{now} stdout F {{\"ts\":\"{now}\",\"level\":\"info\",\"msg\":\"latency probe {id}\",\"bench\":\"probe\",\"probe_id\":{id}}}\n"
        );
        self.files[0].write_all(line.as_bytes()).unwrap();
        self.probes.lock().unwrap().insert(id, self.clock.now_us());
        self.written.fetch_add(1, Ordering::Relaxed);
        id
    }

    /// Writes `rate` lines per second for `duration`, one write per container per tick,
    /// and a probe every `probe_every` when given; returns the lines written.
    pub fn run(&mut self, rate: u64, duration: Duration, probe_every: Option<Duration>) -> u64 {
        let start = Instant::now();
        let mut lines = 0u64;
        let mut probes = 0u64;
        let mut buffers = vec![String::new(); self.files.len()];
        while start.elapsed() < duration {
            let elapsed = start.elapsed();
            if let Some(every) = probe_every
                && elapsed.as_micros() as u64 >= probes * every.as_micros() as u64
            {
                self.probe();
                probes += 1;
            }
            let due = (elapsed.as_micros() as u64 * rate / 1_000_000).saturating_sub(lines);
            let now = Timestamp::now().to_string();
            for _ in 0..due {
                let c = (lines % self.files.len() as u64) as usize;
                let line = self.line(c, &now);
                buffers[c].push_str(&now);
                buffers[c].push_str(" stdout F ");
                buffers[c].push_str(&line);
                buffers[c].push('\n');
                lines += 1;
            }
            for (file, buffer) in self.files.iter_mut().zip(&mut buffers) {
                if !buffer.is_empty() {
                    file.write_all(buffer.as_bytes()).unwrap();
                    buffer.clear();
                }
            }
            self.written.fetch_add(due, Ordering::Relaxed);
            std::thread::sleep(WRITER_TICK);
        }
        lines + probes
    }
}
