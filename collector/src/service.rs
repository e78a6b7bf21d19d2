//! The collector as a logpipe service: the tail loop on its own thread, the inotify
//! watcher that wakes it, and the HTTP ingest endpoint.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use anyhow::Context;
use axum::Router;
use logpipe_common::config::{ConfigError, Env, SharedConfig, VarSpec};
use logpipe_common::kafka::TopicSpec;
use logpipe_common::service::{Service, ServiceContext};
use notify::{EventKind, RecursiveMode, Watcher};
use tracing::{info, warn};

use crate::CollectorConfig;
use crate::checkpoint::CheckpointStore;
use crate::discovery::{AllPaths, HostPaths, KubeletPaths, PathsProvider};
use crate::ingest::{self, BodyLimits, IngestState};
use crate::ingest_tokens::{IngestTokens, protected_sources};
use crate::k8s_events::{self, Election};
use crate::metadata::{self, Metadata};
use crate::redact::Redactor;
use crate::shipper::Shipper;
use crate::tail_loop::{TailLoop, TailSettings};

/// The tail loop fails liveness when it has not gone round for this long.
const TAIL_LOOP_MAX_SILENCE: Duration = Duration::from_secs(30);
/// Time kept back from the shutdown grace for everything after the final flush.
const SHUTDOWN_MARGIN: Duration = Duration::from_secs(2);

impl Service for CollectorConfig {
    const ROLE: &'static str = "collector";

    fn vars() -> Vec<&'static VarSpec> {
        crate::VARS.to_vec()
    }

    fn load(env: &Env, _shared: &mut SharedConfig) -> Result<Self, ConfigError> {
        CollectorConfig::load(env)
    }

    fn effective(&self) -> serde_json::Value {
        serde_json::to_value(self).unwrap_or_default()
    }

    fn topics(&self, shared: &SharedConfig) -> Vec<TopicSpec> {
        vec![TopicSpec::new(&shared.topic, shared.topic_partitions)]
    }

    async fn start(self, ctx: ServiceContext) -> anyhow::Result<Router> {
        let shared = &ctx.shared;
        let redactor = Arc::new(build_redactor(&self));
        let paths = AllPaths(vec![
            Box::new(KubeletPaths::new(
                self.pods_dir.clone(),
                &self.include,
                &self.exclude,
            )?),
            Box::new(HostPaths::new(&self.host_files)?),
        ]);
        let rescan = Arc::new(AtomicBool::new(false));
        let watcher = watch(&paths, rescan.clone());
        let store_dir = shared.data_dir.join("collector");
        let store = CheckpointStore::open(&store_dir)
            .with_context(|| format!("opening checkpoints in {}", store_dir.display()))?;
        let shipper = Shipper::new(&shared.kafka, &shared.topic)?;
        let message_max_bytes =
            usize::try_from(shared.kafka.message_max_bytes).unwrap_or(usize::MAX);
        let settings = TailSettings {
            node: shared.node_name.clone(),
            rescan_interval: self.rescan_interval,
            checkpoint_interval: self.checkpoint_interval,
            max_line_bytes: self.max_line_bytes,
            max_in_flight_bytes: self.max_in_flight_bytes,
            rotated_drain: self.rotated_drain,
            multiline: self.multiline.clone(),
            message_max_bytes,
            flush_timeout: shared
                .shutdown_grace
                .saturating_sub(SHUTDOWN_MARGIN)
                .max(Duration::from_secs(1)),
        };
        let metadata = match self.metadata {
            true => Some(self.start_metadata(&ctx).await?),
            false => None,
        };
        let tail_loop = TailLoop::new(
            settings,
            Box::new(paths),
            store,
            shipper,
            redactor.clone(),
            rescan,
            ctx.health.heartbeat("tail_loop", TAIL_LOOP_MAX_SILENCE),
            ctx.health.readiness("checkpoints"),
            ctx.shutdown.clone(),
        );
        let tail_loop = match metadata {
            Some(metadata) => tail_loop.with_metadata(metadata),
            None => tail_loop,
        };
        let thread = std::thread::Builder::new()
            .name("tail-loop".into())
            .spawn(move || {
                let _watcher = watcher;
                tail_loop.run();
            })
            .context("starting the tail loop")?;
        let failed = ctx.clone();
        ctx.tasks.spawn(async move {
            match tokio::task::spawn_blocking(move || thread.join()).await {
                Ok(Ok(())) => {}
                _ => failed.fail(&anyhow::anyhow!("the tail loop panicked")),
            }
        });
        info!(pods_dir = %self.pods_dir.display(), host_files = self.host_files.len(), "collector started");

        let tokens = self.ingest_tokens.clone().unwrap_or_else(|| {
            IngestTokens::none(
                shared.listen.ip().is_loopback(),
                protected_sources(self.host_files.iter().map(|h| h.name.as_str())),
            )
        });
        let ingest = IngestState::new(
            &shared.kafka,
            &shared.topic,
            &shared.node_name,
            redactor,
            self.ingest_timeout,
        )?;
        if self.k8s_events {
            let client = metadata::connect(self.kubeconfig.as_deref())
                .await
                .context("Kubernetes Events are collected (LOGPIPE_COLLECTOR_K8S_EVENTS), but no kubeconfig or service account was found")?;
            let (namespace, name) = self.k8s_events_lease.clone();
            ctx.tasks.spawn(k8s_events::run(
                client,
                ingest.clone(),
                Election {
                    namespace,
                    name,
                    identity: shared.node_name.clone(),
                    duration: self.k8s_events_lease_duration,
                },
                ctx.shutdown.clone(),
            ));
        }
        Ok(ingest::router(
            ingest,
            tokens,
            BodyLimits {
                max_body_bytes: self.ingest_max_body_bytes,
                max_in_flight_bytes: self.ingest_max_in_flight_bytes,
            },
        ))
    }
}

impl CollectorConfig {
    /// The pod metadata cache, kept by watches of the API server until shutdown.
    async fn start_metadata(&self, ctx: &ServiceContext) -> anyhow::Result<Arc<Metadata>> {
        let mut annotations = globset::GlobSetBuilder::new();
        for glob in &self.metadata_annotations {
            annotations.add(globset::Glob::new(glob)?);
        }
        let metadata = Arc::new(Metadata::new(
            annotations.build()?,
            self.metadata_wait,
            self.metadata_retain,
        ));
        let client = metadata::connect(self.kubeconfig.as_deref())
            .await
            .context("pod metadata is asked of the API server (LOGPIPE_COLLECTOR_METADATA), but no kubeconfig or service account was found")?;
        ctx.tasks.spawn(metadata::run(
            metadata.clone(),
            client,
            ctx.shared.node_name.clone(),
            ctx.shutdown.clone(),
        ));
        Ok(metadata)
    }
}

fn build_redactor(config: &CollectorConfig) -> Redactor {
    let redactor = if config.redact_defaults {
        Redactor::with_defaults()
    } else {
        Redactor::new(Vec::new())
    };
    redactor.with_rules(config.redact_rules.clone())
}

/// Watches the roots with inotify: a file created, renamed or removed triggers a scan at
/// once. Without a watcher (root missing, inotify limits) the periodic rescan still runs.
fn watch(paths: &AllPaths, rescan: Arc<AtomicBool>) -> Option<notify::RecommendedWatcher> {
    let mut watcher =
        match notify::recommended_watcher(move |event: notify::Result<notify::Event>| {
            if let Ok(event) = event
                && matches!(
                    event.kind,
                    EventKind::Create(_)
                        | EventKind::Remove(_)
                        | EventKind::Modify(notify::event::ModifyKind::Name(_))
                )
            {
                rescan.store(true, Ordering::Relaxed);
            }
        }) {
            Ok(watcher) => watcher,
            Err(error) => {
                warn!(%error, "inotify unavailable, relying on periodic rescans");
                return None;
            }
        };
    for root in paths.watch_roots() {
        if let Err(error) = watcher.watch(&root, RecursiveMode::Recursive) {
            warn!(root = %root.display(), %error, "cannot watch directory, relying on periodic rescans");
        }
    }
    Some(watcher)
}
