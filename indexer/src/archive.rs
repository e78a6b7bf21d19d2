//! The index copied to object storage (`LOGPIPE_STORE_URL`) round by round, on a thread of
//! its own so that object storage being slow or down never holds indexing back: commits
//! go on locally and the next round that gets through uploads all they made. An indexer
//! started on an empty volume first restores its days from there.

use std::sync::mpsc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use anyhow::Context;
use logpipe_common::config::host_name;
use logpipe_common::health::Readiness;
use logpipe_store::archive::{Archive, Days};
use logpipe_store::layout::{Day, IndexLayout};
use tracing::{info, warn};

use crate::IndexerConfig;
use crate::pipeline::{ArchiveRequest, Archived, Copied};
use crate::telemetry;

/// The copying thread, once the index is ready to open.
#[derive(Debug)]
pub struct Syncing {
    pub thread: JoinHandle<()>,
    /// What object storage covers, kept current by the thread, and its requests.
    pub archived: Archived,
}

impl Syncing {
    /// Indexing has stopped: one last round, then the end.
    pub fn finish(self) -> std::thread::Result<()> {
        let _ = self.archived.requests.send(ArchiveRequest::Done);
        self.thread.join()
    }
}

/// Starts the thread: it opens the archive, restores `layout` from it when the volume is
/// empty, and then copies what is committed every `store_sync_interval`. Returns once the
/// index may be opened.
pub async fn start(
    config: &IndexerConfig,
    layout: IndexLayout,
    readiness: Readiness,
) -> anyhow::Result<Option<Syncing>> {
    let Some(url) = config.store_url.clone() else {
        return Ok(None);
    };
    let options = config.store_options.clone();
    let (interval, max_lag) = (config.store_sync_interval, config.store_max_lag);
    let (opened_tx, opened_rx) = tokio::sync::oneshot::channel::<anyhow::Result<()>>();
    let (requests, requests_rx) = mpsc::channel::<ArchiveRequest>();
    let archived = Archived {
        copied: Default::default(),
        requests,
    };
    let covered = archived.copied.clone();
    let thread = std::thread::Builder::new()
        .name("indexer-archive".into())
        .spawn(move || {
            let runtime = match tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            {
                Ok(runtime) => runtime,
                Err(error) => {
                    let _ = opened_tx.send(Err(error.into()));
                    return;
                }
            };
            let opened = runtime.block_on(open_and_restore(&url, options, &layout));
            let mut archive = match opened {
                Ok(archive) => {
                    *covered.lock().unwrap_or_else(|p| p.into_inner()) = copied(&archive);
                    let _ = opened_tx.send(Ok(()));
                    archive
                }
                Err(error) => {
                    let _ = opened_tx.send(Err(error));
                    return;
                }
            };
            let round = Round {
                layout: &layout,
                interval,
                max_lag,
                readiness: &readiness,
                covered: &covered,
            };
            round.run(&runtime, &mut archive, &requests_rx);
        })
        .context("starting the archive thread")?;
    opened_rx
        .await
        .context("the archive thread ended while opening")??;
    Ok(Some(Syncing { thread, archived }))
}

/// What `archive`'s last manifest covers.
fn copied(archive: &Archive) -> Copied {
    let Some(manifest) = archive.manifest() else {
        return Copied::default();
    };
    Copied {
        positions: manifest
            .positions
            .as_ref()
            .map(|p| p.offsets.clone())
            .unwrap_or_default(),
        days: manifest.days.clone(),
    }
}

/// Puts evicted `day` back under `layout` from the last manifest, whole or not at all.
async fn fetch_back(archive: &Archive, layout: &IndexLayout, day: Day) -> Result<(), String> {
    let name = day.to_string();
    let meta = archive
        .manifest()
        .and_then(|m| m.days.get(&name))
        .ok_or_else(|| format!("object storage has no day {name}"))?;
    if layout.day_dir(day).join("meta.json").exists() {
        return Ok(());
    }
    archive
        .fetch_day_into(day, meta, layout)
        .await
        .map(|_| ())
        .map_err(|error| error.to_string())
}

async fn open_and_restore(
    url: &str,
    options: Vec<(String, String)>,
    layout: &IndexLayout,
) -> anyhow::Result<Archive> {
    let instance = host_name();
    let archive = Archive::open(url, &instance, options)
        .await
        .with_context(|| format!("opening LOGPIPE_STORE_URL {url}"))?;
    let empty =
        layout.positions()?.is_none() && layout.days().map(|days| days.is_empty()).unwrap_or(true);
    if empty {
        match archive
            .restore(layout, Days::Volume)
            .await
            .context("restoring the index")?
        {
            Some(positions) => {
                info!(
                    url,
                    instance,
                    ?positions,
                    "empty volume: index restored from object storage"
                );
            }
            None => info!(
                url,
                instance, "empty volume, and nothing in object storage yet"
            ),
        }
    }
    info!(url, instance, "index copied to object storage");
    Ok(archive)
}

/// What the rounds work with.
struct Round<'a> {
    layout: &'a IndexLayout,
    interval: Duration,
    max_lag: Duration,
    readiness: &'a Readiness,
    /// Set to what each round copied.
    covered: &'a std::sync::Mutex<Copied>,
}

impl Round<'_> {
    /// Rounds every `interval` until `requests` says indexing stopped, then one more;
    /// fetches evicted days back when asked.
    fn run(
        &self,
        runtime: &tokio::runtime::Runtime,
        archive: &mut Archive,
        requests: &mpsc::Receiver<ArchiveRequest>,
    ) {
        // The start of the last round after which object storage had all that was
        // committed.
        let mut current_at = Instant::now();
        let mut next_round = Instant::now() + self.interval;
        loop {
            let wait = next_round.saturating_duration_since(Instant::now());
            let last = match requests.recv_timeout(wait) {
                Ok(ArchiveRequest::Fetch(day, reply)) => {
                    let fetched = runtime.block_on(fetch_back(archive, self.layout, day));
                    if let Err(error) = &fetched {
                        warn!(%day, %error, "fetching an evicted day back failed");
                    }
                    let _ = reply.send(fetched);
                    continue;
                }
                Err(mpsc::RecvTimeoutError::Timeout) => false,
                Ok(ArchiveRequest::Done) | Err(mpsc::RecvTimeoutError::Disconnected) => true,
            };
            next_round = Instant::now() + self.interval;
            let started = Instant::now();
            let failure = match runtime.block_on(archive.sync(self.layout)) {
                Ok(report) => {
                    telemetry::archive_uploaded(report.uploaded_files, report.uploaded_bytes);
                    // Current when what the round copied is what is committed now.
                    let committed = self.layout.positions().ok().flatten().map(|p| p.offsets);
                    if report.positions == committed {
                        current_at = started;
                    }
                    if report.positions.is_some() {
                        *self.covered.lock().unwrap_or_else(|p| p.into_inner()) = copied(archive);
                    }
                    None
                }
                Err(error) => {
                    warn!(%error, "copy to object storage failed; retried next round");
                    telemetry::archive_failed();
                    Some(error.to_string())
                }
            };
            let lag = current_at.elapsed();
            telemetry::archive_lag(lag);
            if lag > self.max_lag {
                self.readiness.set_not_ready(format!(
                    "object storage {} s behind the index{}",
                    lag.as_secs(),
                    failure.map(|e| format!(": {e}")).unwrap_or_default()
                ));
            } else {
                self.readiness.set_ready();
            }
            if last {
                return;
            }
        }
    }
}
