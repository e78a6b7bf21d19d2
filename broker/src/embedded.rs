//! The broker inside this process, on a runtime of its own: tansu's SQLite calls block
//! their thread while they write, so they never hold up the threads of the caller's roles.

use std::net::TcpStream;
use std::time::{Duration, Instant};

use tansu_broker::NODE_ID;
use tansu_broker::broker::Broker;
use tansu_broker::coordinator::group::administrator::Controller;
use tansu_storage::StorageContainer;
use tokio::runtime::Runtime;
use tokio::task::JoinHandle;

use crate::config::BrokerConfig;
use crate::error::{Error, Result};

/// Threads of the broker's runtime: connections, the storage and its maintenance.
const WORKER_THREADS: usize = 2;
/// How often the start checks that the listener accepts connections.
const READY_POLL: Duration = Duration::from_millis(20);
/// How long a stopping broker's requests get to finish before they are dropped. SQLite
/// rolls back a transaction cut short, so nothing written before is lost.
const STOP_GRACE: Duration = Duration::from_secs(5);
/// The cluster id tansu registers; a database keeps the one it was created with.
const CLUSTER_ID: &str = "logpipe";

/// A running broker. [`EmbeddedBroker::stop`] stops it; dropping it stops it at once.
#[derive(Debug)]
pub struct EmbeddedBroker {
    runtime: Option<Runtime>,
    serving: Option<JoinHandle<Result<()>>>,
    config: BrokerConfig,
}

impl EmbeddedBroker {
    /// Opens (or creates) the storage, registers the broker and returns once its listener
    /// accepts connections, or with the error that stopped it. Blocks the calling thread:
    /// from async code, call it on `spawn_blocking`.
    pub fn start(config: &BrokerConfig, timeout: Duration) -> Result<Self> {
        std::fs::create_dir_all(&config.dir).map_err(|error| Error::DataDir {
            dir: config.dir.clone(),
            reason: error.to_string(),
        })?;
        let storage = config.storage_url()?;
        let listener = config.listener_url();
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(WORKER_THREADS)
            .thread_name("broker")
            .enable_all()
            .build()
            .map_err(Error::Runtime)?;
        let mut broker = runtime.block_on(
            Broker::<Controller<StorageContainer>, StorageContainer>::builder()
                .node_id(NODE_ID)
                .cluster_id(CLUSTER_ID)
                .incarnation_id(uuid::Uuid::now_v7())
                .advertised_listener(listener.clone())
                .storage(storage)
                .listener(listener)
                .silent(true)
                .build(),
        )?;
        // `serve` rather than tansu's `main`, which would stop the broker on the
        // process's SIGTERM itself, before the roles using it have drained.
        let serving = runtime.spawn(async move {
            broker.serve(tokio::time::Instant::now()).await?;
            Ok(())
        });
        let mut embedded = EmbeddedBroker {
            runtime: Some(runtime),
            serving: Some(serving),
            config: config.clone(),
        };
        embedded.wait_accepting(timeout)?;
        tracing::debug!(bootstrap = %config.bootstrap(), "broker accepting connections");
        Ok(embedded)
    }

    fn wait_accepting(&mut self, timeout: Duration) -> Result<()> {
        let deadline = Instant::now() + timeout;
        loop {
            if TcpStream::connect_timeout(&self.config.listen, READY_POLL * 10).is_ok() {
                return Ok(());
            }
            if self.serving.as_ref().is_some_and(JoinHandle::is_finished) {
                let serving = self.serving.take().expect("checked above");
                let runtime = self.runtime.as_ref().expect("running until stopped");
                return Err(match runtime.block_on(serving) {
                    Ok(Ok(())) => Error::Stopped,
                    Ok(Err(error)) => error,
                    Err(panic) => Error::Tansu(panic.to_string()),
                });
            }
            if Instant::now() >= deadline {
                return Err(Error::Timeout {
                    address: self.config.bootstrap(),
                    timeout_ms: timeout.as_millis(),
                });
            }
            std::thread::sleep(READY_POLL);
        }
    }

    /// `host:port` for `bootstrap.servers`.
    pub fn bootstrap(&self) -> String {
        self.config.bootstrap()
    }

    pub fn config(&self) -> &BrokerConfig {
        &self.config
    }

    /// Resolves when the broker stops serving, which it does only on an error: with that
    /// error. Resolves at once when it has already been awaited.
    pub async fn stopped(&mut self) -> Error {
        let Some(serving) = self.serving.as_mut() else {
            return Error::Stopped;
        };
        let outcome = serving.await;
        self.serving = None;
        match outcome {
            Ok(Ok(())) => Error::Stopped,
            Ok(Err(error)) => error,
            Err(panic) => Error::Tansu(panic.to_string()),
        }
    }

    /// Stops the broker: closes its listener and connections and gives in-flight requests
    /// [`STOP_GRACE`] to finish. Blocks: from async code, call it on `spawn_blocking`.
    pub fn stop(mut self) {
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_timeout(STOP_GRACE);
        }
    }
}

impl Drop for EmbeddedBroker {
    fn drop(&mut self) {
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}
