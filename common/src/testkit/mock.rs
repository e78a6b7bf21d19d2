//! librdkafka's in-process mock cluster, for fault injection without processes: brokers
//! going down and up, request errors, latency. Not a stand-in for the real broker in
//! end-to-end tests.

use std::time::Duration;

use rdkafka::mocking::{MockCluster, MockCoordinator};
use rdkafka::producer::DefaultProducerContext;
use rdkafka::types::{RDKafkaApiKey, RDKafkaRespErr};

use crate::kafka::KafkaSettings;

pub struct MockKafka {
    cluster: MockCluster<'static, DefaultProducerContext>,
}

impl std::fmt::Debug for MockKafka {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MockKafka")
            .field("bootstrap", &self.bootstrap())
            .finish()
    }
}

impl MockKafka {
    /// A cluster of `brokers` brokers, numbered from 1.
    pub fn new(brokers: i32) -> anyhow::Result<Self> {
        Ok(MockKafka {
            cluster: MockCluster::new(brokers)?,
        })
    }

    pub fn bootstrap(&self) -> String {
        self.cluster.bootstrap_servers()
    }

    pub fn settings(&self) -> KafkaSettings {
        KafkaSettings::for_brokers(self.bootstrap())
    }

    pub fn create_topic(&self, topic: &str, partitions: i32) -> anyhow::Result<()> {
        self.cluster.create_topic(topic, partitions, 1)?;
        Ok(())
    }

    /// Moves the leadership of `topic`'s `partition` to `broker`, so that taking that
    /// broker down is an outage of this partition alone.
    pub fn partition_leader(&self, topic: &str, partition: i32, broker: i32) -> anyhow::Result<()> {
        self.cluster
            .partition_leader(topic, partition, Some(broker))?;
        Ok(())
    }

    /// Makes `broker` the coordinator of consumer group `group`.
    pub fn group_coordinator(&self, group: &str, broker: i32) -> anyhow::Result<()> {
        self.cluster
            .coordinator(MockCoordinator::Group(group.to_owned()), broker)?;
        Ok(())
    }

    pub fn broker_down(&self, broker: i32) -> anyhow::Result<()> {
        self.cluster.broker_down(broker)?;
        Ok(())
    }

    pub fn broker_up(&self, broker: i32) -> anyhow::Result<()> {
        self.cluster.broker_up(broker)?;
        Ok(())
    }

    /// Makes the next `count` requests of API `api_key` fail with `error`.
    pub fn fail_requests(&self, api_key: RDKafkaApiKey, error: RDKafkaRespErr, count: usize) {
        self.cluster.request_errors(api_key, &vec![error; count]);
    }

    /// Adds round-trip latency to every request to `broker`.
    pub fn delay(&self, broker: i32, latency: Duration) -> anyhow::Result<()> {
        self.cluster.broker_round_trip_time(broker, latency)?;
        Ok(())
    }
}
