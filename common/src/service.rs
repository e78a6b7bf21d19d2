//! The runtime every role runs in: configuration validated before any work, JSON logs,
//! the Kafka readiness probe and topic creation, the ops server on `PORT`, and graceful
//! shutdown on SIGTERM/SIGINT: not ready first, serving on through the drain window,
//! then the role's own bounded drain.

use std::future::Future;
use std::process::ExitCode;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use serde_json::json;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::{error, info, warn};

use crate::config::{ConfigError, Env, KAFKA_PROPERTY_PREFIX, SharedConfig, VarSpec};
use crate::health::Health;
use crate::kafka::{self, TopicSpec};
use crate::ops;
use crate::release::Release;
use crate::shutdown::{self, Drained};

/// Least time the HTTP server gets to finish open requests once the role's tasks have
/// drained; otherwise it has what is left of the grace period.
const SERVER_CLOSE_GRACE: Duration = Duration::from_secs(1);

/// What a role receives when it starts.
#[derive(Debug, Clone)]
pub struct ServiceContext {
    pub shared: SharedConfig,
    pub health: Health,
    /// Cancelled after SIGTERM's drain window, on SIGINT or on a fatal error: stop taking
    /// work, flush, commit.
    pub shutdown: CancellationToken,
    /// Every long-running task of the role, so shutdown can wait for them.
    pub tasks: TaskTracker,
    failure: Arc<Mutex<Option<String>>>,
}

impl ServiceContext {
    pub fn new(shared: SharedConfig) -> Self {
        ServiceContext {
            shared,
            health: Health::new(),
            shutdown: CancellationToken::new(),
            tasks: TaskTracker::new(),
            failure: Arc::default(),
        }
    }

    /// The same context with its own task tracker, for a group of tasks that must drain
    /// before the rest (standalone's roles before its broker).
    pub fn with_tasks(&self, tasks: TaskTracker) -> Self {
        ServiceContext {
            tasks,
            ..self.clone()
        }
    }

    /// Reports an error the role cannot recover from: the process shuts down and exits 1.
    pub fn fail(&self, error: &anyhow::Error) {
        error!(error = format!("{error:#}"), "fatal error, shutting down");
        let mut failure = self.failure.lock().unwrap_or_else(|p| p.into_inner());
        failure.get_or_insert_with(|| format!("{error:#}"));
        self.shutdown.cancel();
    }

    pub fn failed(&self) -> bool {
        self.failure
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .is_some()
    }
}

/// One role of the `logpipe` binary. The value is the role's validated configuration.
pub trait Service: Sized + Send + 'static {
    /// The subcommand name, e.g. `indexer`.
    const ROLE: &'static str;

    /// The role's own variables (the shared ones are added by the runtime).
    fn vars() -> Vec<&'static VarSpec>;

    /// Reads and validates the role's configuration. May adjust shared settings (the
    /// standalone role points Kafka at the broker it embeds).
    fn load(env: &Env, shared: &mut SharedConfig) -> Result<Self, ConfigError>;

    /// The effective configuration as logged at startup, secrets masked.
    fn effective(&self) -> serde_json::Value;

    /// Topics the role produces to or consumes from, created at startup when missing.
    fn topics(&self, shared: &SharedConfig) -> Vec<TopicSpec>;

    /// Whether the role is ready only while Kafka is reachable. A role that does most of
    /// its work without it (the query service: search reads the indexes, only live tail
    /// reads Kafka) says no; its Kafka check is still probed, logged and shown on
    /// `/readyz`.
    fn needs_kafka(&self) -> bool {
        true
    }

    /// Starts the role's tasks on `ctx.tasks` and returns its HTTP routes, served on `PORT`
    /// beside the ops endpoints.
    fn start(self, ctx: ServiceContext) -> impl Future<Output = anyhow::Result<Router>> + Send;
}

/// Runs role `S` as the whole process. `all_vars` are the variables of every role, so an
/// unknown `LOGPIPE_*` variable is told apart from another role's; `release` is the
/// build, named in the startup line and in `logpipe_build_info`.
pub fn main<S: Service>(env: Env, all_vars: &[&VarSpec], release: &Release) -> ExitCode {
    let (shared, config) = match load::<S>(&env) {
        Ok(loaded) => loaded,
        Err(error) => {
            eprintln!("logpipe {}: invalid configuration: {error}", S::ROLE);
            return ExitCode::from(ConfigError::EXIT_CODE);
        }
    };
    crate::telemetry::init(&shared.log_level);
    for unknown in env.unknown_vars(all_vars, &[KAFKA_PROPERTY_PREFIX]) {
        warn!(
            variable = %unknown.name,
            closest = unknown.closest.unwrap_or("none"),
            "unknown configuration variable"
        );
    }
    info!(
        role = S::ROLE,
        version = release.version,
        commit = release.commit,
        dirty = release.dirty,
        config = %json!({"shared": &shared, S::ROLE: config.effective()}),
        "effective configuration"
    );
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            error!(%error, "failed to start the async runtime");
            return ExitCode::FAILURE;
        }
    };
    let code = runtime.block_on(serve(config, shared, release));
    // Blocking threads still running (a stuck client call) must not hold the exit.
    runtime.shutdown_timeout(Duration::from_millis(200));
    code
}

/// Reads shared and role configuration, in that order.
pub fn load<S: Service>(env: &Env) -> Result<(SharedConfig, S), ConfigError> {
    let mut shared = SharedConfig::load(env)?;
    let config = S::load(env, &mut shared)?;
    Ok((shared, config))
}

async fn serve<S: Service>(config: S, shared: SharedConfig, release: &Release) -> ExitCode {
    // Installed before any role code runs, so no metric is recorded into the void.
    ops::metrics_handle();
    release.record(S::ROLE);
    let ctx = ServiceContext::new(shared.clone());
    if let Err(error) = shutdown::cancel_on_signal(
        ctx.shutdown.clone(),
        ctx.health.clone(),
        shared.shutdown_drain,
    ) {
        error!(%error, "failed to install signal handlers");
        return ExitCode::FAILURE;
    }
    let topics = config.topics(&shared);
    if let Err(error) = kafka::spawn_probe(
        shared.kafka.clone(),
        topics,
        shared.create_topics,
        config.needs_kafka(),
        &ctx.health,
        ctx.shutdown.clone(),
        &ctx.tasks,
    ) {
        error!(%error, "failed to create the kafka client");
        return ExitCode::FAILURE;
    }
    let routes = match config.start(ctx.clone()).await {
        Ok(routes) => routes,
        Err(error) => {
            ctx.fail(&error.context(format!("starting {}", S::ROLE)));
            shutdown::drain(&ctx.tasks, shared.shutdown_grace).await;
            return ExitCode::FAILURE;
        }
    };
    let listener = match TcpListener::bind(shared.listen).await {
        Ok(listener) => listener,
        Err(error) => {
            ctx.fail(&anyhow::Error::new(error).context(format!("binding {}", shared.listen)));
            shutdown::drain(&ctx.tasks, shared.shutdown_grace).await;
            return ExitCode::FAILURE;
        }
    };
    match listener.local_addr() {
        Ok(address) => info!(%address, port = address.port(), "listening"),
        Err(error) => warn!(%error, "listening on an unknown address"),
    }
    let app = ops::router(ctx.health.clone()).merge(routes);
    // Through the drain window the listener goes on accepting; once the role is told to
    // stop, it takes no new connection and open requests finish (a live tail ends).
    let server_stop = ctx.shutdown.clone();
    let server = tokio::spawn(async move {
        axum::serve(listener, app)
            .with_graceful_shutdown(async move { server_stop.cancelled().await })
            .await
    });

    ctx.shutdown.cancelled().await;
    ctx.health.set_shutting_down();
    let stopping = tokio::time::Instant::now();
    let drained = shutdown::drain(&ctx.tasks, shared.shutdown_grace).await;
    let server_grace = shared
        .shutdown_grace
        .saturating_sub(stopping.elapsed())
        .max(SERVER_CLOSE_GRACE);
    if tokio::time::timeout(server_grace, server).await.is_err() {
        warn!("http connections still open at exit");
    }
    if ctx.failed() {
        return ExitCode::FAILURE;
    }
    match drained {
        Drained::Clean => {
            info!("stopped");
            ExitCode::SUCCESS
        }
        Drained::TimedOut => ExitCode::FAILURE,
    }
}
