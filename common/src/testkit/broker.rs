//! A real broker for tests (tansu, as `logpipe standalone` embeds it, in a process of its
//! own): free loopback port, temporary SQLite storage, stopped when dropped; it can be
//! stopped, killed and restarted on the same port and data for outage and crash drills.

use std::net::TcpListener;
use std::time::Duration;

use rdkafka::admin::AdminClient;
use rdkafka::client::DefaultClientContext;

use crate::broker::{BrokerProcess, locate_broker};
use crate::kafka::{KafkaSettings, TopicSpec, ensure_topics};

const START_TIMEOUT: Duration = Duration::from_secs(30);

#[derive(Debug)]
pub struct TestBroker {
    process: BrokerProcess,
    _dir: tempfile::TempDir,
}

impl TestBroker {
    /// Starts a broker and waits until it answers a metadata request.
    pub fn start() -> anyhow::Result<Self> {
        let binary = locate_broker()?;
        let dir = tempfile::Builder::new()
            .prefix("logpipe-broker-")
            .tempdir()?;
        let port = free_port()?;
        let mut process = BrokerProcess::new(binary, dir.path().to_owned(), port);
        process.start(START_TIMEOUT)?;
        Ok(TestBroker { process, _dir: dir })
    }

    pub fn bootstrap(&self) -> String {
        self.process.bootstrap()
    }

    pub fn settings(&self) -> KafkaSettings {
        let mut settings = KafkaSettings::for_brokers(self.bootstrap());
        settings.request_timeout = Duration::from_secs(10);
        settings
    }

    /// Creates topics through the same step every role runs at startup.
    pub async fn create_topics(&self, topics: &[TopicSpec]) -> anyhow::Result<()> {
        let settings = self.settings();
        let admin: AdminClient<DefaultClientContext> = settings.admin().create()?;
        ensure_topics(&std::sync::Arc::new(admin), &settings, topics).await?;
        Ok(())
    }

    /// Stops the broker (SIGTERM), keeping its port and data.
    pub fn stop(&mut self) {
        self.process.stop();
    }

    /// Kills the broker at once, as a crash would.
    pub fn kill(&mut self) {
        self.process.kill();
    }

    /// Starts it again on the same port and data.
    pub fn restart(&mut self) -> anyhow::Result<()> {
        self.process.start(START_TIMEOUT)?;
        Ok(())
    }

    /// The broker's own output, for failure messages.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.process.log_path()).unwrap_or_default()
    }
}

/// A port free on loopback right now.
pub fn free_port() -> std::io::Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}
