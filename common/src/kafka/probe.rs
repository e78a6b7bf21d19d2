//! The Kafka readiness check every role runs: reach the brokers, create missing topics,
//! then keep checking so `/readyz` follows the cluster's reachability.

use std::sync::Arc;
use std::time::Duration;

use rdkafka::admin::AdminClient;
use rdkafka::client::DefaultClientContext;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::{info, warn};

use super::topics::has_topic;
use super::{KafkaSettings, TopicSpec, ensure_topics, fetch_metadata};
use crate::health::Health;

/// Name of the readiness check.
pub const CHECK: &str = "kafka";
/// Delay before retrying an unreachable cluster.
const RETRY_INTERVAL: Duration = Duration::from_secs(2);
/// Delay between checks of a reachable cluster.
const RECHECK_INTERVAL: Duration = Duration::from_secs(10);

/// Starts the probe. `topics` are created when missing if `create_topics` is set; the
/// check passes once the brokers answered and every topic exists. With `required` unset
/// (a role that does most of its work without Kafka) `/readyz` reports the check but
/// does not fail on it.
pub fn spawn_probe(
    settings: KafkaSettings,
    topics: Vec<TopicSpec>,
    create_topics: bool,
    required: bool,
    health: &Health,
    shutdown: CancellationToken,
    tasks: &TaskTracker,
) -> crate::error::Result<()> {
    let readiness = if required {
        health.readiness(CHECK)
    } else {
        health.optional(CHECK)
    };
    let admin: AdminClient<DefaultClientContext> = settings.admin().create()?;
    let admin = Arc::new(admin);
    tasks.spawn(async move {
        let mut reachable = false;
        let mut topics_ready = false;
        let mut last_error: Option<String> = None;
        loop {
            let outcome = async {
                let metadata = fetch_metadata(&admin, settings.request_timeout).await?;
                if !topics_ready {
                    if create_topics {
                        ensure_topics(&admin, &settings, &topics).await?;
                    } else {
                        let missing: Vec<&str> = topics
                            .iter()
                            .filter(|spec| !has_topic(&metadata, &spec.name))
                            .map(|spec| spec.name.as_str())
                            .collect();
                        if !missing.is_empty() {
                            return Err(crate::Error::KafkaRequest(format!(
                                "missing topics {} and LOGPIPE_KAFKA_CREATE_TOPICS is false",
                                missing.join(", ")
                            )));
                        }
                    }
                }
                Ok::<_, crate::Error>(metadata.brokers().len())
            }
            .await;
            let delay = match outcome {
                Ok(brokers) => {
                    topics_ready = true;
                    last_error = None;
                    if !reachable {
                        info!(
                            service = "kafka",
                            bootstrap = %settings.bootstrap_servers(),
                            brokers,
                            "backing service reached"
                        );
                        reachable = true;
                    }
                    readiness.set_ready();
                    metrics::gauge!("logpipe_kafka_reachable").set(1.0);
                    RECHECK_INTERVAL
                }
                Err(error) => {
                    let reason = error.to_string();
                    if reachable || last_error.as_deref() != Some(reason.as_str()) {
                        warn!(
                            service = "kafka",
                            bootstrap = %settings.bootstrap_servers(),
                            %error,
                            "backing service unreachable"
                        );
                    }
                    reachable = false;
                    readiness.set_not_ready(reason.clone());
                    last_error = Some(reason);
                    metrics::gauge!("logpipe_kafka_reachable").set(0.0);
                    metrics::counter!("logpipe_kafka_probe_failures_total").increment(1);
                    RETRY_INTERVAL
                }
            };
            tokio::select! {
                () = shutdown.cancelled() => break,
                () = tokio::time::sleep(delay) => {}
            }
        }
    });
    Ok(())
}
