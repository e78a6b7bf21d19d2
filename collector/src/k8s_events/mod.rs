//! Kubernetes Events (`events.k8s.io/v1`: OOMKilling, FailedScheduling, BackOff, …)
//! collected once per cluster: the collectors elect one of themselves through a Lease
//! (`lease`), and the one that holds it watches every namespace's Events and ships each
//! as an event with `source.kind: k8s-event` (`convert`). An Event's id is made of its
//! uid and resource version, so whichever collector ships it, and however often a list
//! repeats it, it is one event; an update of the Event (its count grown) is another.

mod convert;
mod lease;

#[cfg(test)]
mod tests;

use std::collections::HashSet;
use std::time::{Duration, Instant};

use futures::StreamExt;
use k8s_openapi::api::events::v1::Event;
use kube::runtime::watcher::{self, Event as Change};
use kube::runtime::{WatchStreamExt, watcher as watch_stream};
use kube::{Api, Client, ResourceExt};
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

use crate::ingest::{IngestState, deliver};
use crate::telemetry;
use lease::Lease;

/// Events shipped in one batch at most.
const BATCH: usize = 256;
/// Wait before shipping again what Kafka did not take.
const RETRY: Duration = Duration::from_secs(1);
/// Versions remembered as shipped, so that a list repeating them sends nothing again.
const MAX_SHIPPED: usize = 100_000;

/// Where the lease is and who competes for it.
#[derive(Debug, Clone)]
pub(crate) struct Election {
    pub namespace: String,
    pub name: String,
    /// This collector's name in the lease: its node.
    pub identity: String,
    pub duration: Duration,
}

/// Competes for the lease until `shutdown`, collecting the Events while it holds it.
pub(crate) async fn run(
    client: Client,
    ingest: IngestState,
    election: Election,
    shutdown: CancellationToken,
) {
    let mut lease = Lease::new(
        client.clone(),
        &election.namespace,
        &election.name,
        &election.identity,
        election.duration,
    );
    let retry = election.duration / 3;
    loop {
        // Campaign.
        loop {
            match lease.try_hold().await {
                Ok(true) => break,
                Ok(false) => {}
                Err(error) => warn!(%error, "could not read the Events lease"),
            }
            tokio::select! {
                () = tokio::time::sleep(retry) => {}
                () = shutdown.cancelled() => return,
            }
        }
        info!(lease = %election.name, "holding the Events lease: collecting the cluster's Events");
        telemetry::k8s_events_leader(true);
        tokio::select! {
            () = keep(&mut lease, election.duration) => {
                warn!(lease = %election.name, "lost the Events lease");
            }
            () = collect(client.clone(), &ingest) => {}
            () = shutdown.cancelled() => {
                lease.release().await;
                telemetry::k8s_events_leader(false);
                return;
            }
        }
        telemetry::k8s_events_leader(false);
    }
}

/// Renews the lease every third of its duration; returns when it is lost, or could not be
/// renewed for a whole duration (another collector may hold it by then).
async fn keep(lease: &mut Lease, duration: Duration) {
    let mut renewed = Instant::now();
    loop {
        tokio::time::sleep(duration / 3).await;
        match lease.try_hold().await {
            Ok(true) => renewed = Instant::now(),
            Ok(false) => return,
            Err(error) => {
                warn!(%error, "could not renew the Events lease");
                if renewed.elapsed() >= duration {
                    return;
                }
            }
        }
    }
}

/// Watches every Event and ships each version once.
async fn collect(client: Client, ingest: &IngestState) {
    let mut changes = watch_stream(Api::<Event>::all(client), watcher::Config::default())
        .default_backoff()
        .ready_chunks(BATCH)
        .boxed();
    let mut shipped: HashSet<(String, String)> = HashSet::new();
    while let Some(chunk) = changes.next().await {
        let mut versions = Vec::new();
        let mut events = Vec::new();
        for change in chunk {
            match change {
                Ok(Change::Apply(event) | Change::InitApply(event)) => {
                    let version = (
                        event.uid().unwrap_or_default(),
                        event.resource_version().unwrap_or_default(),
                    );
                    if !shipped.contains(&version) {
                        versions.push(version);
                        events.push(convert::log_event(&event, &ingest.node));
                    }
                }
                Ok(Change::Delete(_) | Change::Init | Change::InitDone) => {}
                Err(error) => {
                    telemetry::metadata_error("events");
                    warn!(%error, "watching the cluster's Events failed; retrying");
                }
            }
        }
        if events.is_empty() {
            continue;
        }
        while let Err(error) = deliver(ingest, events.iter().cloned()).await {
            warn!(%error, events = events.len(), "Kubernetes Events not delivered; retrying");
            tokio::time::sleep(RETRY).await;
        }
        telemetry::k8s_events(events.len() as u64);
        if shipped.len() + versions.len() > MAX_SHIPPED {
            shipped.clear();
        }
        shipped.extend(versions);
    }
}
