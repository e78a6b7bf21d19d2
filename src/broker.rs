//! The broker `logpipe standalone` runs inside its own process when `LOGPIPE_KAFKA_BROKERS`
//! is unset: tansu with its SQLite storage under `LOGPIPE_DATA_DIR/broker`, started before
//! the roles and stopped after they have drained. Built with the `embedded-broker` feature
//! (on by default); without it, standalone needs `LOGPIPE_KAFKA_BROKERS`.

use logpipe_common::config::{ConfigError, Env, Kind, SharedConfig, VarSpec};
use logpipe_common::service::ServiceContext;
use tokio_util::task::TaskTracker;

pub const BROKER_PORT: VarSpec = VarSpec::new(
    "LOGPIPE_STANDALONE_BROKER_PORT",
    Kind::Port,
    Some("9092"),
    "Loopback port of the embedded broker, which runs when LOGPIPE_KAFKA_BROKERS is unset (its data is under LOGPIPE_DATA_DIR/broker).",
);

#[cfg(feature = "embedded-broker")]
pub use embedded::{Config, start};
#[cfg(not(feature = "embedded-broker"))]
pub use external::{Config, start};

/// The embedded broker's configuration, or `None` when `LOGPIPE_KAFKA_BROKERS` names a
/// cluster; points the roles at the embedded broker.
pub fn load(env: &Env, shared: &mut SharedConfig) -> Result<Option<Config>, ConfigError> {
    if shared.kafka_brokers_given {
        return Ok(None);
    }
    let port = env.port(&BROKER_PORT)?;
    Config::for_port(port, shared).map(Some)
}

#[cfg(feature = "embedded-broker")]
mod embedded {
    use std::net::{Ipv4Addr, SocketAddr};
    use std::time::Duration;

    use logpipe_broker::{BrokerConfig, EmbeddedBroker};
    use tracing::info;

    use super::*;

    /// How long the broker gets to open its storage and accept connections.
    const START_TIMEOUT: Duration = Duration::from_secs(30);

    #[derive(Debug, Clone)]
    pub struct Config(BrokerConfig);

    impl Config {
        pub(super) fn for_port(port: u16, shared: &mut SharedConfig) -> Result<Self, ConfigError> {
            if port == 0 {
                // The broker tells clients its address; it has to be the one they reach.
                return Err(ConfigError::Invalid {
                    var: BROKER_PORT.name.to_owned(),
                    value: port.to_string(),
                    expected: "a TCP port number from 1 to 65535".to_owned(),
                });
            }
            let config = BrokerConfig {
                listen: SocketAddr::from((Ipv4Addr::LOCALHOST, port)),
                dir: shared.data_dir.join("broker"),
            };
            shared.kafka.brokers = vec![config.bootstrap()];
            Ok(Config(config))
        }

        pub fn effective(&self) -> serde_json::Value {
            serde_json::json!({
                "embedded": true,
                "bootstrap": self.0.bootstrap(),
                "dir": self.0.dir,
            })
        }
    }

    /// Starts the broker, then watches it until shutdown, when it is stopped after every
    /// role has drained. A broker that stops on its own fails the process.
    pub async fn start(
        config: Config,
        ctx: &ServiceContext,
        role_tasks: TaskTracker,
    ) -> anyhow::Result<()> {
        let Config(config) = config;
        let mut broker = tokio::task::spawn_blocking({
            let config = config.clone();
            move || EmbeddedBroker::start(&config, START_TIMEOUT)
        })
        .await??;
        info!(
            service = "broker",
            bootstrap = %broker.bootstrap(),
            dir = %config.dir.display(),
            "embedded broker started"
        );
        let shutdown = ctx.shutdown.clone();
        let failed = ctx.clone();
        ctx.tasks.spawn(async move {
            tokio::select! {
                () = shutdown.cancelled() => {}
                error = broker.stopped() => {
                    failed.fail(&anyhow::Error::new(error).context("the embedded broker"));
                }
            }
            role_tasks.close();
            role_tasks.wait().await;
            let _ = tokio::task::spawn_blocking(move || broker.stop()).await;
            info!(service = "broker", "embedded broker stopped");
        });
        Ok(())
    }
}

#[cfg(not(feature = "embedded-broker"))]
mod external {
    use logpipe_common::config::KAFKA_BROKERS;

    use super::*;

    /// Never built: without the embedded broker, standalone needs an external cluster.
    #[derive(Debug, Clone)]
    pub enum Config {}

    impl Config {
        pub(super) fn for_port(
            _port: u16,
            _shared: &mut SharedConfig,
        ) -> Result<Self, ConfigError> {
            Err(ConfigError::Missing {
                var: KAFKA_BROKERS.name.to_owned(),
                expected: "host:port of the Kafka brokers: this build of logpipe has no \
                           embedded broker (cargo feature `embedded-broker`)"
                    .to_owned(),
            })
        }

        pub fn effective(&self) -> serde_json::Value {
            match *self {}
        }
    }

    pub async fn start(
        config: Config,
        _ctx: &ServiceContext,
        _role_tasks: TaskTracker,
    ) -> anyhow::Result<()> {
        match config {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load_from(pairs: &[(&str, &str)]) -> (Result<Option<Config>, ConfigError>, SharedConfig) {
        let env = Env::from_pairs(pairs.iter().copied());
        let mut shared = SharedConfig::load(&env).unwrap();
        (load(&env, &mut shared), shared)
    }

    #[test]
    fn a_cluster_named_in_kafka_brokers_replaces_the_embedded_broker() {
        let (config, shared) = load_from(&[("LOGPIPE_KAFKA_BROKERS", "kafka-0:9092")]);
        assert!(config.unwrap().is_none());
        assert_eq!(shared.kafka.brokers, ["kafka-0:9092"]);
    }

    #[cfg(feature = "embedded-broker")]
    #[test]
    fn the_roles_use_the_embedded_broker_on_loopback() {
        let (config, shared) = load_from(&[
            ("LOGPIPE_DATA_DIR", "/var/lib/logpipe"),
            ("LOGPIPE_STANDALONE_BROKER_PORT", "19092"),
        ]);
        let effective = config.unwrap().unwrap().effective();
        assert_eq!(shared.kafka.brokers, ["127.0.0.1:19092"]);
        assert_eq!(effective["bootstrap"], "127.0.0.1:19092");
        assert_eq!(effective["dir"], "/var/lib/logpipe/broker");
    }

    #[cfg(feature = "embedded-broker")]
    #[test]
    fn port_0_is_refused_because_the_broker_advertises_its_port() {
        let (config, _) = load_from(&[("LOGPIPE_STANDALONE_BROKER_PORT", "0")]);
        assert_eq!(config.unwrap_err().var(), "LOGPIPE_STANDALONE_BROKER_PORT");
    }

    #[cfg(not(feature = "embedded-broker"))]
    #[test]
    fn without_the_embedded_broker_kafka_brokers_is_required() {
        let (config, _) = load_from(&[]);
        assert_eq!(config.unwrap_err().var(), "LOGPIPE_KAFKA_BROKERS");
    }
}
