//! `logpipe standalone`: every role in one process, against a tansu broker it supervises
//! (data under `LOGPIPE_DATA_DIR/broker`) unless `LOGPIPE_KAFKA_BROKERS` points elsewhere.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;
use axum::Router;
use logpipe_alerting::AlertingConfig;
use logpipe_collector::CollectorConfig;
use logpipe_common::broker::{BrokerProcess, locate_tansu};
use logpipe_common::config::{ConfigError, Env, Kind, LISTEN_ADDRESS, SharedConfig, VarSpec};
use logpipe_common::kafka::TopicSpec;
use logpipe_common::service::{Service, ServiceContext};
use logpipe_indexer::IndexerConfig;
use logpipe_query::QueryConfig;
use serde_json::json;
use tokio_util::task::TaskTracker;
use tracing::{info, warn};

use crate::demo::{DEMO, DEMO_RATE, Demo};

pub const BROKER_PORT: VarSpec = VarSpec::new(
    "LOGPIPE_STANDALONE_BROKER_PORT",
    Kind::Port,
    Some("9092"),
    "Loopback port of the supervised broker (when LOGPIPE_KAFKA_BROKERS is unset).",
);
pub const TANSU_BIN: VarSpec = VarSpec::new(
    "LOGPIPE_STANDALONE_TANSU_BIN",
    Kind::Path,
    None,
    "The tansu executable to supervise; found on PATH or in /var/tmp/logpipe/tools/bin when unset.",
);

pub const VARS: [&VarSpec; 4] = [&BROKER_PORT, &TANSU_BIN, &DEMO, &DEMO_RATE];

/// How long the supervised broker gets to answer after it starts.
const BROKER_START_TIMEOUT: Duration = Duration::from_secs(30);
/// How often the supervisor checks the broker is alive.
const BROKER_CHECK_INTERVAL: Duration = Duration::from_secs(1);

#[derive(Debug)]
pub struct Standalone {
    collector: CollectorConfig,
    indexer: IndexerConfig,
    query: QueryConfig,
    alerting: AlertingConfig,
    broker: Option<SupervisedBroker>,
    demo: Demo,
}

#[derive(Debug, Clone)]
struct SupervisedBroker {
    port: u16,
    binary: Option<PathBuf>,
    dir: PathBuf,
}

impl Service for Standalone {
    const ROLE: &'static str = "standalone";

    fn vars() -> Vec<&'static VarSpec> {
        VARS.to_vec()
    }

    fn load(env: &Env, shared: &mut SharedConfig) -> Result<Self, ConfigError> {
        // A laptop install listens on loopback unless told otherwise; beyond loopback the
        // query API needs tokens.
        if !env.is_set(&LISTEN_ADDRESS) {
            shared.listen.set_ip(std::net::Ipv4Addr::LOCALHOST.into());
        }
        let broker = if shared.kafka_brokers_given {
            None
        } else {
            let port = env.port(&BROKER_PORT)?;
            shared.kafka.brokers = vec![format!("127.0.0.1:{port}")];
            Some(SupervisedBroker {
                port,
                binary: env.path_opt(&TANSU_BIN)?,
                dir: shared.data_dir.join("broker"),
            })
        };
        Ok(Standalone {
            collector: CollectorConfig::load(env)?,
            indexer: IndexerConfig::load(env)?,
            query: QueryConfig::load(env, shared)?,
            alerting: AlertingConfig::load(env, shared)?,
            broker,
            demo: Demo::load(env, &shared.data_dir)?,
        })
    }

    fn effective(&self) -> serde_json::Value {
        json!({
            "collector": self.collector.effective(),
            "indexer": self.indexer.effective(),
            "query": self.query.effective(),
            "alerting": self.alerting.effective(),
            "broker": self.broker.as_ref().map(|broker| json!({
                "port": broker.port,
                "dir": broker.dir,
                "tansu": broker.binary,
            })),
            "demo": self.demo.effective(),
        })
    }

    fn topics(&self, shared: &SharedConfig) -> Vec<TopicSpec> {
        let mut topics = self.collector.topics(shared);
        for topic in self
            .indexer
            .topics(shared)
            .into_iter()
            .chain(self.query.topics(shared))
            .chain(self.alerting.topics(shared))
        {
            if !topics.contains(&topic) {
                topics.push(topic);
            }
        }
        topics
    }

    async fn start(mut self, ctx: ServiceContext) -> anyhow::Result<Router> {
        // Roles run on their own tracker so the broker outlives their draining.
        let roles = ctx.with_tasks(TaskTracker::new());
        if let Some(broker) = self.broker.clone() {
            supervise_broker(broker, &ctx, roles.tasks.clone()).await?;
        }
        if self.demo.wanted(&self.collector.pods_dir) {
            self.collector.pods_dir = self.demo.pods_dir();
            if self.alerting.rules_dir.is_none() {
                let dir = self.demo.write_rules()?;
                self.alerting.rules = logpipe_alerting::rules::load_dir(&dir)
                    .map_err(|errors| anyhow::anyhow!("the demo rule is invalid: {errors:?}"))?;
                self.alerting.rules_dir = Some(dir);
            }
            self.demo.start(&roles)?;
        }
        let mut router = Router::new();
        router = router.merge(self.collector.start(roles.clone()).await?);
        // The query role reads the co-located indexer's catalog directly.
        let indexer = self.indexer.start_indexing(roles.clone()).await?;
        router = router.merge(indexer.router);
        let mut query = self.query;
        query.local = Some(indexer.catalog);
        router = router.merge(query.start(roles.clone()).await?);
        router = router.merge(self.alerting.start(roles.clone()).await?);
        let role_tasks = roles.tasks.clone();
        ctx.tasks.spawn(async move {
            roles.shutdown.cancelled().await;
            role_tasks.close();
            role_tasks.wait().await;
        });
        Ok(router)
    }
}

/// Starts the broker, then keeps it running (restarting it if it dies) until shutdown,
/// when it is stopped after every role has drained.
async fn supervise_broker(
    config: SupervisedBroker,
    ctx: &ServiceContext,
    role_tasks: TaskTracker,
) -> anyhow::Result<()> {
    let binary = locate_tansu(config.binary.as_deref())
        .context("the standalone broker needs tansu; or set LOGPIPE_KAFKA_BROKERS")?;
    let process = BrokerProcess::new(binary.clone(), config.dir.clone(), config.port);
    let mut process = start_broker(process).await?;
    info!(
        service = "tansu",
        bootstrap = %process.bootstrap(),
        dir = %config.dir.display(),
        tansu = %binary.display(),
        "supervised broker started"
    );
    let shutdown = ctx.shutdown.clone();
    let failed = ctx.clone();
    ctx.tasks.spawn(async move {
        loop {
            tokio::select! {
                () = shutdown.cancelled() => break,
                () = tokio::time::sleep(BROKER_CHECK_INTERVAL) => {}
            }
            if !process.is_running() {
                warn!(service = "tansu", log = %process.log_path().display(), "supervised broker exited, restarting");
                process = match start_broker(process).await {
                    Ok(process) => process,
                    Err(error) => {
                        failed.fail(&error.context("restarting the supervised broker"));
                        return;
                    }
                };
            }
        }
        role_tasks.close();
        role_tasks.wait().await;
        let _ = tokio::task::spawn_blocking(move || process.stop()).await;
        info!(service = "tansu", "supervised broker stopped");
    });
    Ok(())
}

/// Starts the broker on a blocking thread (it waits until the broker answers).
async fn start_broker(mut process: BrokerProcess) -> anyhow::Result<BrokerProcess> {
    let process =
        tokio::task::spawn_blocking(move || process.start(BROKER_START_TIMEOUT).map(|()| process))
            .await??;
    Ok(process)
}
