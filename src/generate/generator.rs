//! The generator: picks a container for each entry by the workload's weights, paces
//! entries to the requested rate, and keeps the counts a test or benchmark checks against.

use std::io;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use logpipe_common::Timestamp;
use serde::Serialize;

use super::workload::{self, Framing, Moment, WORKLOAD};
use super::writer::ContainerLog;

/// kubelet's `containerLogMaxSize` default.
pub const DEFAULT_ROTATE_BYTES: u64 = 10 * 1024 * 1024;
/// kubelet's `containerLogMaxFiles` default (5) less the live file.
pub const DEFAULT_KEEP_ROTATED: usize = 4;
/// How often [`Generator::run`] reports progress.
const PROGRESS_INTERVAL: Duration = Duration::from_millis(250);
/// Longest sleep between checks of the stop flag.
const MAX_SLEEP: Duration = Duration::from_millis(50);

#[derive(Debug, Clone)]
pub struct GenerateOptions {
    /// Root of the kubelet layout (`/var/log/pods` on a node).
    pub dir: PathBuf,
    /// Entries per second; 0 writes as fast as the disk takes them.
    pub rate: f64,
    /// Stop after this many entries.
    pub limit: Option<u64>,
    /// Stop after this long.
    pub duration: Option<Duration>,
    /// Rotate a container's `0.log` once it reaches this size.
    pub rotate_bytes: u64,
    /// Rotated files kept per container; older ones are deleted.
    pub keep_rotated: usize,
    pub seed: u64,
    /// Every container framed this way instead of the workload's mix.
    pub framing: Option<Framing>,
    /// The checkout API's error bursts: the first starts this long after the start…
    pub incident_after: Duration,
    /// …lasts this long…
    pub incident_length: Duration,
    /// …and they repeat this often (zero: only one).
    pub incident_every: Duration,
}

impl GenerateOptions {
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        GenerateOptions {
            dir: dir.into(),
            rate: 100.0,
            limit: None,
            duration: None,
            rotate_bytes: DEFAULT_ROTATE_BYTES,
            keep_rotated: DEFAULT_KEEP_ROTATED,
            seed: 1,
            framing: None,
            incident_after: Duration::from_secs(10),
            incident_length: Duration::from_secs(20),
            incident_every: Duration::from_secs(120),
        }
    }
}

/// What one container got.
#[derive(Debug, Clone, Serialize)]
pub struct ContainerSummary {
    pub namespace: String,
    pub pod: String,
    pub pod_uid: String,
    pub container: String,
    pub framing: Framing,
    /// Entries written: sequence numbers `0..entries` each appear once.
    pub entries: u64,
    /// Lines as the application wrote them (a stack trace is several); each becomes one
    /// event.
    pub records: u64,
    pub bytes: u64,
    pub rotations: u64,
}

/// What was written so far.
#[derive(Debug, Clone, Serialize)]
pub struct Summary {
    pub entries: u64,
    pub records: u64,
    pub bytes: u64,
    pub rotations: u64,
    pub elapsed_secs: f64,
    pub containers: Vec<ContainerSummary>,
}

#[derive(Debug)]
pub struct Generator {
    options: GenerateOptions,
    logs: Vec<ContainerLog>,
    /// Cumulative weights, for picking a container.
    cumulative: Vec<u32>,
    rng: fastrand::Rng,
    started: Instant,
    entries: u64,
}

impl Generator {
    /// Creates the pod directories and opens every container's live file.
    pub fn new(options: GenerateOptions) -> io::Result<Self> {
        let mut logs = Vec::new();
        let mut cumulative = Vec::new();
        let mut total = 0;
        for mut spec in WORKLOAD {
            if let Some(framing) = options.framing {
                spec.framing = framing;
            }
            logs.push(ContainerLog::create(
                &options.dir,
                spec,
                options.rotate_bytes.max(1),
                options.keep_rotated,
            )?);
            total += spec.weight;
            cumulative.push(total);
        }
        Ok(Generator {
            rng: fastrand::Rng::with_seed(options.seed),
            options,
            logs,
            cumulative,
            started: Instant::now(),
            entries: 0,
        })
    }

    fn incident(&self, elapsed: Duration) -> bool {
        let options = &self.options;
        if options.incident_length.is_zero() || elapsed < options.incident_after {
            return false;
        }
        let since = elapsed - options.incident_after;
        let into = if options.incident_every.is_zero() {
            since
        } else {
            Duration::from_nanos(
                (since.as_nanos() % options.incident_every.as_nanos().max(1)) as u64,
            )
        };
        into < options.incident_length
    }

    /// Writes one entry to a container picked by weight.
    pub fn step(&mut self) -> io::Result<()> {
        let total = *self.cumulative.last().unwrap_or(&1);
        let pick = self.rng.u32(..total);
        let index = self.cumulative.partition_point(|&c| c <= pick);
        let now = Timestamp::now();
        let incident = self.incident(self.started.elapsed());
        let log = &mut self.logs[index];
        let moment = Moment {
            now,
            seq: log.entries,
            incident,
        };
        let entry = workload::entry(&log.spec, moment, &mut self.rng);
        log.append(&entry, now)?;
        self.entries += 1;
        Ok(())
    }

    fn finished(&self) -> bool {
        self.options
            .limit
            .is_some_and(|limit| self.entries >= limit)
            || self
                .options
                .duration
                .is_some_and(|duration| self.started.elapsed() >= duration)
    }

    /// Writes at the configured rate until the limit, the duration or `stop`; `progress`
    /// is called a few times a second.
    pub fn run(
        &mut self,
        stop: &AtomicBool,
        progress: &mut dyn FnMut(&Summary),
    ) -> io::Result<Summary> {
        self.started = Instant::now();
        let mut reported = Instant::now();
        while !stop.load(Ordering::Relaxed) && !self.finished() {
            let elapsed = self.started.elapsed();
            let due = if self.options.rate > 0.0 {
                (elapsed.as_secs_f64() * self.options.rate) as u64 + 1
            } else {
                self.entries + 1024
            };
            let due = self.options.limit.map_or(due, |limit| due.min(limit));
            while self.entries < due {
                self.step()?;
            }
            if reported.elapsed() >= PROGRESS_INTERVAL {
                progress(&self.summary());
                reported = Instant::now();
            }
            if self.options.rate > 0.0 && !self.finished() {
                let next = Duration::from_secs_f64(self.entries as f64 / self.options.rate);
                let wait = next.saturating_sub(self.started.elapsed()).min(MAX_SLEEP);
                std::thread::sleep(wait);
            }
        }
        let summary = self.summary();
        progress(&summary);
        Ok(summary)
    }

    pub fn summary(&self) -> Summary {
        let containers: Vec<ContainerSummary> = self
            .logs
            .iter()
            .map(|log| ContainerSummary {
                namespace: log.spec.namespace.to_owned(),
                pod: log.spec.pod.to_owned(),
                pod_uid: log.spec.pod_uid.to_owned(),
                container: log.spec.container.to_owned(),
                framing: log.spec.framing,
                entries: log.entries,
                records: log.records,
                bytes: log.bytes,
                rotations: log.rotations,
            })
            .collect();
        Summary {
            entries: self.entries,
            records: containers.iter().map(|c| c.records).sum(),
            bytes: containers.iter().map(|c| c.bytes).sum(),
            rotations: containers.iter().map(|c| c.rotations).sum(),
            elapsed_secs: self.started.elapsed().as_secs_f64(),
            containers,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use logpipe_collector::discovery;

    #[test]
    fn writes_the_limit_in_the_kubelet_layout() {
        let root = tempfile::tempdir().unwrap();
        let mut options = GenerateOptions::new(root.path());
        options.rate = 0.0;
        options.limit = Some(3000);
        options.rotate_bytes = 64 * 1024;
        let mut generator = Generator::new(options).unwrap();
        let summary = generator.run(&AtomicBool::new(false), &mut |_| {}).unwrap();
        assert_eq!(summary.entries, 3000);
        assert_eq!(
            summary.containers.iter().map(|c| c.entries).sum::<u64>(),
            3000
        );
        assert!(summary.records > summary.entries);
        assert!(summary.rotations > 0);
        assert!(summary.containers.iter().all(|c| c.entries > 0));
        let paths =
            discovery::KubeletPaths::new(root.path().to_owned(), &["*/*/*".into()], &[]).unwrap();
        let found = discovery::PathsProvider::discover(&paths);
        let live = found.iter().filter(|f| !f.rotated).count();
        assert_eq!(live, WORKLOAD.len(), "{found:#?}");
    }

    #[test]
    fn incidents_follow_the_schedule() {
        let root = tempfile::tempdir().unwrap();
        let mut options = GenerateOptions::new(root.path());
        options.incident_after = Duration::from_secs(10);
        options.incident_length = Duration::from_secs(20);
        options.incident_every = Duration::from_secs(120);
        let generator = Generator::new(options).unwrap();
        let at = |s| generator.incident(Duration::from_secs(s));
        assert!(!at(5));
        assert!(at(10));
        assert!(at(29));
        assert!(!at(30));
        assert!(!at(129));
        assert!(at(130));
    }

    #[test]
    fn paces_to_the_rate() {
        let root = tempfile::tempdir().unwrap();
        let mut options = GenerateOptions::new(root.path());
        options.rate = 200.0;
        options.duration = Some(Duration::from_millis(500));
        let mut generator = Generator::new(options).unwrap();
        let summary = generator.run(&AtomicBool::new(false), &mut |_| {}).unwrap();
        // At most the entries due by the end; never a burst ahead of the schedule.
        let allowed = (summary.elapsed_secs * 200.0) as u64 + 2;
        assert!(
            summary.entries <= allowed,
            "{} > {allowed}",
            summary.entries
        );
        assert!(summary.entries > 0);
    }
}
