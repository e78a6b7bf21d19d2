//! Creating topics at startup: tansu and many production clusters do not create topics on
//! first use, and a producer writing to a missing topic sees every message fail.

use std::time::{Duration, Instant};

use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::metadata::Metadata;
use rdkafka::types::RDKafkaErrorCode;
use tracing::info;

use super::KafkaSettings;
use crate::error::{Error, Result};

/// A topic a role needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TopicSpec {
    pub name: String,
    pub partitions: i32,
}

impl TopicSpec {
    pub fn new(name: impl Into<String>, partitions: i32) -> Self {
        TopicSpec {
            name: name.into(),
            partitions,
        }
    }
}

/// Fetches cluster metadata (all topics) on a blocking thread.
pub async fn fetch_metadata(
    admin: &std::sync::Arc<AdminClient<DefaultClientContext>>,
    timeout: Duration,
) -> Result<Metadata> {
    let admin = admin.clone();
    let metadata =
        tokio::task::spawn_blocking(move || admin.inner().fetch_metadata(None, timeout)).await??;
    Ok(metadata)
}

/// Creates the missing ones of `topics` (replication from the cluster's default) and waits
/// until the cluster's metadata lists all of them. Returns the names created.
pub async fn ensure_topics(
    admin: &std::sync::Arc<AdminClient<DefaultClientContext>>,
    settings: &KafkaSettings,
    topics: &[TopicSpec],
) -> Result<Vec<String>> {
    let timeout = settings.request_timeout;
    let metadata = fetch_metadata(admin, timeout).await?;
    let missing: Vec<&TopicSpec> = topics
        .iter()
        .filter(|spec| !has_topic(&metadata, &spec.name))
        .collect();
    if missing.is_empty() {
        return Ok(Vec::new());
    }
    let new_topics: Vec<NewTopic<'_>> = missing
        .iter()
        .map(|spec| NewTopic::new(&spec.name, spec.partitions, TopicReplication::Fixed(-1)))
        .collect();
    let options = AdminOptions::new().operation_timeout(Some(timeout));
    let results = admin.create_topics(new_topics.iter(), &options).await?;
    let mut created = Vec::new();
    for result in results {
        match result {
            Ok(name) => {
                info!(topic = %name, "created topic");
                created.push(name);
            }
            Err((_, RDKafkaErrorCode::TopicAlreadyExists)) => {}
            Err((name, code)) => {
                return Err(Error::KafkaRequest(format!(
                    "creating topic {name}: {code}"
                )));
            }
        }
    }
    wait_for_topics(admin, &missing, timeout).await?;
    Ok(created)
}

/// Whether the metadata lists `name` as a usable topic with partitions.
pub(crate) fn has_topic(metadata: &Metadata, name: &str) -> bool {
    metadata.topics().iter().any(|topic| {
        topic.name() == name && topic.error().is_none() && !topic.partitions().is_empty()
    })
}

async fn wait_for_topics(
    admin: &std::sync::Arc<AdminClient<DefaultClientContext>>,
    topics: &[&TopicSpec],
    timeout: Duration,
) -> Result<()> {
    let deadline = Instant::now() + timeout;
    loop {
        let metadata = fetch_metadata(admin, timeout).await?;
        if topics.iter().all(|spec| has_topic(&metadata, &spec.name)) {
            return Ok(());
        }
        if Instant::now() >= deadline {
            let names: Vec<&str> = topics.iter().map(|spec| spec.name.as_str()).collect();
            return Err(Error::Timeout {
                what: format!("topics {} to appear in metadata", names.join(", ")),
                timeout_ms: timeout.as_millis(),
            });
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
