//! The alerting loop: every partition of the events topic read on a thread of its own,
//! every event evaluated by every rule, alerts kept in an outbox until delivered, and
//! rule state, outbox and offsets checkpointed together (`LOGPIPE_DATA_DIR/alerting/`).
//!
//! After a crash the loop resumes at the checkpointed offsets with the checkpointed state
//! and outbox: alerts raised after the checkpoint are raised again with the same ids, and
//! ids already delivered (kept in `delivered.log`, appended and synced at each delivery)
//! are not sent twice.
//!
//! Receivers that forget an alert not told again (Alertmanager, `alertmanager-api`) get
//! the alerts still firing every `resend` of theirs: a renewal, taken from the rules'
//! state, so it survives restarts with it. Only alerts once delivered are renewed, so an
//! alert held back by the per-rule limit stays held back.

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use logpipe_common::config::SharedConfig;
use logpipe_common::event::{LogEventRef, Timestamp};
use logpipe_common::health::Heartbeat;
use logpipe_language::Query;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::producer::{FutureProducer, FutureRecord};
use rdkafka::{Message, Offset, TopicPartitionList};
use serde::{Deserialize, Serialize};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

use crate::cap::{AlertCap, Limit};
use crate::engine::{Alert, Evaluator, RuleState};
use crate::notify::{Notification, Notifiers, Sender};
use crate::routing::{Routed, Router, Scratch};
use crate::rules::Rule;
use crate::telemetry;

const POLL: Duration = Duration::from_millis(100);
/// How often windows slide and absences are checked.
const TICK: Duration = Duration::from_millis(200);
/// A partition silent this long no longer holds the watermark back.
const IDLE_PARTITION: Duration = Duration::from_secs(5);
/// Delivered ids remembered to skip replays.
const DELIVERED_MEMORY: usize = 100_000;
const METADATA_TIMEOUT: Duration = Duration::from_secs(10);
/// Renewals waiting to be sent at most; one more is skipped (the next one catches up).
pub(crate) const RENEWAL_QUEUE: usize = 64;

/// The alerts firing for one notifier whose receiver forgets alerts not told again.
#[derive(Debug)]
pub(crate) struct Renewal {
    pub notifier: String,
    pub notifications: Vec<Notification>,
}

/// What is written at each checkpoint.
#[derive(Debug, Default, Serialize, Deserialize)]
struct Checkpoint {
    /// Next offset per partition.
    offsets: BTreeMap<i32, i64>,
    rules: BTreeMap<String, RuleState>,
    /// Alerts raised but not yet delivered to every notifier.
    outbox: Vec<Alert>,
}

/// Rules and notifiers in force; replaced whole on a valid reload.
#[derive(Debug, Clone)]
pub(crate) struct RuleSet {
    /// Grows with each reload.
    pub generation: u64,
    pub rules: Vec<Rule>,
    pub notifiers: Notifiers,
}

/// One line of `/api/v1/rules`.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct RuleStatus {
    pub name: String,
    #[serde(rename = "type")]
    pub kind: String,
    pub query: String,
    pub file: String,
    pub firing: Vec<BTreeMap<String, String>>,
    /// The watermark the rule was last evaluated at.
    pub evaluated_at: Option<String>,
    pub late_events: u64,
    /// The rule's queries: a caller sees the line only if its scope covers them all.
    #[serde(skip)]
    pub queries: Vec<Query>,
}

/// What the loop shares with the HTTP side and the delivery task.
#[derive(Debug, Clone, Default)]
pub(crate) struct Shared {
    pub rules: Arc<Mutex<Option<RuleSet>>>,
    pub status: Arc<Mutex<Vec<RuleStatus>>>,
    outbox: Arc<Mutex<BTreeMap<String, Alert>>>,
    delivered: Arc<Mutex<Delivered>>,
}

#[derive(Debug, Default)]
struct Delivered {
    ids: HashSet<String>,
    order: VecDeque<String>,
    /// Appended and synced under a lock of its own: the loop looks up `ids` for every
    /// alert it raises and must not wait on a disk.
    log: Option<Arc<DeliveredLog>>,
}

/// `delivered.log`, held open for appending.
#[derive(Debug)]
struct DeliveredLog {
    path: PathBuf,
    file: Mutex<Option<std::fs::File>>,
}

impl DeliveredLog {
    /// Appends `id` and syncs it.
    fn append(&self, id: &str) -> std::io::Result<()> {
        let mut open = self.file.lock().unwrap_or_else(|p| p.into_inner());
        let file = match open.take() {
            Some(file) => file,
            None => std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(&self.path)?,
        };
        let written = (&file)
            .write_all(format!("{id}\n").as_bytes())
            .and_then(|()| file.sync_data());
        // After a failure, opened again for the next one.
        if written.is_ok() {
            *open = Some(file);
        }
        written
    }
}

impl Delivered {
    fn load(path: PathBuf) -> Self {
        let mut delivered = Delivered::default();
        if let Ok(text) = std::fs::read_to_string(&path) {
            for id in text.lines().filter(|l| !l.is_empty()) {
                delivered.remember(id.to_string());
            }
        }
        // Rewritten short, then appended to.
        let kept: String = delivered.order.iter().map(|id| format!("{id}\n")).collect();
        if let Err(error) = logpipe_common::durable::write_atomically(&path, kept.as_bytes()) {
            warn!(%error, path = %path.display(), "rewriting the delivered log failed");
        }
        delivered.log = Some(Arc::new(DeliveredLog {
            path,
            file: Mutex::new(None),
        }));
        delivered
    }

    fn remember(&mut self, id: String) {
        if self.ids.insert(id.clone()) {
            self.order.push_back(id);
            while self.order.len() > DELIVERED_MEMORY {
                if let Some(old) = self.order.pop_front() {
                    self.ids.remove(&old);
                }
            }
        }
    }
}

/// Records a delivery durably (the disk written without holding the delivered ids)
/// before it is forgotten from the outbox.
async fn record_delivered(delivered: &Mutex<Delivered>, id: &str) {
    let log = delivered
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .log
        .clone();
    if let Some(log) = log {
        let line = id.to_string();
        let written = tokio::task::spawn_blocking(move || log.append(&line)).await;
        if let Err(error) = written.map_err(std::io::Error::other).and_then(|w| w) {
            warn!(%error, "recording a delivered alert failed");
        }
    }
    delivered
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .remember(id.to_string());
}

/// Where the loop keeps its files.
pub(crate) fn state_dir(data_dir: &Path) -> PathBuf {
    data_dir.join("alerting")
}

/// Starts the consumer thread; new alerts go to `alerts`.
/// How the loop checkpoints and how many alerts it lets out.
#[derive(Debug, Clone, Copy)]
pub(crate) struct LoopSettings {
    pub checkpoint_interval: Duration,
    /// Alerts per rule and window.
    pub limit: Limit,
    /// Alerts waiting for delivery at most: at the bound, the loop stops reading events.
    pub max_pending: usize,
}

#[allow(clippy::too_many_arguments)]
pub(crate) fn start(
    shared_config: &SharedConfig,
    shared: Shared,
    settings: LoopSettings,
    alerts: mpsc::UnboundedSender<Alert>,
    renewals: mpsc::Sender<Renewal>,
    shutdown: CancellationToken,
    heartbeat: Heartbeat,
) -> anyhow::Result<std::thread::JoinHandle<anyhow::Result<()>>> {
    let dir = state_dir(&shared_config.data_dir);
    std::fs::create_dir_all(&dir)?;
    let checkpoint_path = dir.join("checkpoint.json");
    let checkpoint: Checkpoint = match std::fs::read(&checkpoint_path) {
        Ok(bytes) => serde_json::from_slice(&bytes)?,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => Checkpoint::default(),
        Err(error) => return Err(error.into()),
    };
    let delivered = Delivered::load(dir.join("delivered.log"));
    {
        let mut outbox = shared.outbox.lock().unwrap_or_else(|p| p.into_inner());
        let pending = checkpoint
            .outbox
            .iter()
            .filter(|alert| !delivered.ids.contains(&alert.notification.id));
        for alert in pending {
            outbox.insert(alert.notification.id.clone(), alert.clone());
            let _ = alerts.send(alert.clone());
        }
    }
    *shared.delivered.lock().unwrap_or_else(|p| p.into_inner()) = delivered;
    let consumer: BaseConsumer = shared_config.kafka.consumer("logpipe-alerting").create()?;
    let topic = shared_config.topic.clone();
    // A topic created a moment ago may not list its partitions yet.
    let deadline = Instant::now() + METADATA_TIMEOUT;
    let metadata = loop {
        let metadata = consumer.fetch_metadata(Some(&topic), METADATA_TIMEOUT)?;
        let partitions = metadata
            .topics()
            .iter()
            .map(|t| t.partitions().len())
            .sum::<usize>();
        if partitions > 0 {
            break metadata;
        }
        if Instant::now() > deadline {
            anyhow::bail!("topic {topic} has no partitions");
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    let mut assignment = TopicPartitionList::new();
    for partition in metadata.topics().iter().flat_map(|t| t.partitions()) {
        let offset = match checkpoint.offsets.get(&partition.id()) {
            Some(next) => Offset::Offset(*next),
            // A first start watches from now on, as a new rule would.
            None => Offset::Offset(
                consumer
                    .fetch_watermarks(&topic, partition.id(), METADATA_TIMEOUT)?
                    .1,
            ),
        };
        assignment.add_partition_offset(&topic, partition.id(), offset)?;
    }
    consumer.assign(&assignment)?;
    info!(topic = %topic, partitions = assignment.count(), resumed = !checkpoint.offsets.is_empty(), "alerting consumer assigned");
    let thread = std::thread::Builder::new()
        .name("alerting-loop".into())
        .spawn(move || {
            let mut state = LoopState {
                evaluators: Vec::new(),
                saved: checkpoint.rules,
                offsets: checkpoint.offsets,
                partitions: HashMap::new(),
                loaded: None,
                router: Router::default(),
                scratch: Scratch::default(),
                routed: Vec::new(),
                routing: (0, 0, 0),
            };
            run(
                &consumer,
                &mut state,
                &shared,
                &checkpoint_path,
                settings,
                &alerts,
                &renewals,
                &shutdown,
                &heartbeat,
            )
        })?;
    Ok(thread)
}

struct LoopState {
    evaluators: Vec<Evaluator>,
    /// States of rules not (yet) loaded, kept for when they are.
    saved: BTreeMap<String, RuleState>,
    offsets: BTreeMap<i32, i64>,
    /// Per partition: the newest event time and when the last event came.
    partitions: HashMap<i32, (i64, Instant)>,
    /// The generation of the rule set the evaluators were built from.
    loaded: Option<u64>,
    router: Router,
    scratch: Scratch,
    /// The rules the event at hand matched, the buffer kept between events.
    routed: Vec<Routed>,
    /// Events routed, rules checked and rules matched since the last tick.
    routing: (u64, u64, u64),
}

#[allow(clippy::too_many_arguments)]
fn run(
    consumer: &BaseConsumer,
    state: &mut LoopState,
    shared: &Shared,
    checkpoint_path: &Path,
    settings: LoopSettings,
    alerts: &mpsc::UnboundedSender<Alert>,
    renewals: &mpsc::Sender<Renewal>,
    shutdown: &CancellationToken,
    heartbeat: &Heartbeat,
) -> anyhow::Result<()> {
    let mut last_tick = Instant::now();
    let mut renewed = HashMap::new();
    let mut last_checkpoint = Instant::now();
    let mut cap = AlertCap::new(settings.limit);
    // `windows_ended`: also raise the summaries of the limit windows that ended (once a
    // tick, not for every event).
    let mut raise = |raised: Vec<Alert>, windows_ended: bool| {
        if raised.is_empty() && !windows_ended {
            return;
        }
        let now = Timestamp::now();
        let summaries = if windows_ended {
            cap.summaries(now)
        } else {
            Vec::new()
        };
        for (alert, capped) in summaries
            .into_iter()
            .map(|summary| (summary, false))
            .chain(raised.into_iter().map(|alert| (alert, true)))
        {
            telemetry::alert_raised(&alert.notification.rule, alert.notification.status);
            let known = shared
                .delivered
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .ids
                .contains(&alert.notification.id);
            if known {
                continue;
            }
            if capped && !cap.admit(&alert, now) {
                telemetry::alert_held(&alert.notification.rule);
                continue;
            }
            info!(rule = %alert.notification.rule, id = %alert.notification.id, status = alert.notification.status.as_str(), summary = %alert.notification.summary, "alert");
            shared
                .outbox
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .insert(alert.notification.id.clone(), alert.clone());
            let _ = alerts.send(alert);
        }
    };
    while !shutdown.is_cancelled() {
        heartbeat.beat();
        reload(state, shared);
        let pending = shared
            .outbox
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .len();
        if pending >= settings.max_pending {
            telemetry::pending_alerts(pending);
            // Deliveries are behind: read no events (which would raise more alerts) until
            // they catch up. Nothing is dropped; Kafka holds the events meanwhile.
            std::thread::sleep(POLL);
            continue;
        }
        match consumer.poll(POLL) {
            None => {}
            Some(Err(error)) => warn!(%error, "alerting: kafka error"),
            Some(Ok(message)) => {
                state
                    .offsets
                    .insert(message.partition(), message.offset() + 1);
                if let Some(event) = message
                    .payload()
                    .and_then(|p| LogEventRef::from_bytes(p).ok())
                {
                    let entry = state
                        .partitions
                        .entry(message.partition())
                        .or_insert((i64::MIN, Instant::now()));
                    entry.0 = entry.0.max(event.ts.unix_nanos());
                    entry.1 = Instant::now();
                    let view = state.router.view(&event);
                    let effort = state
                        .router
                        .route(&view, &mut state.scratch, &mut state.routed);
                    state.routing.0 += 1;
                    state.routing.1 += effort.rules_checked as u64;
                    state.routing.2 += state.routed.len() as u64;
                    for routed in &state.routed {
                        raise(
                            state.evaluators[routed.rule].observe_matched(
                                &view,
                                routed.hit,
                                routed.total,
                            ),
                            false,
                        );
                    }
                }
            }
        }
        if last_tick.elapsed() >= TICK {
            last_tick = Instant::now();
            let watermark = watermark(&state.partitions);
            for evaluator in &mut state.evaluators {
                raise(evaluator.advance(watermark), false);
            }
            raise(Vec::new(), true);
            let (events, checked, matched) = std::mem::take(&mut state.routing);
            telemetry::routed(events, checked, matched);
            renew(state, shared, &mut renewed, renewals);
            publish_status(state, shared, watermark);
            telemetry::pending_alerts(
                shared
                    .outbox
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .len(),
            );
        }
        if last_checkpoint.elapsed() >= settings.checkpoint_interval {
            last_checkpoint = Instant::now();
            save(state, shared, checkpoint_path)?;
        }
    }
    save(state, shared, checkpoint_path)?;
    Ok(())
}

/// Event time no partition is expected to go back before: the oldest of the partitions'
/// newest events, ignoring partitions gone quiet; when all are quiet, the wall clock less
/// the quiet period (events still on their way are not late).
fn watermark(partitions: &HashMap<i32, (i64, Instant)>) -> Timestamp {
    let now = Timestamp::now().unix_nanos();
    let quiet = i64::try_from(IDLE_PARTITION.as_nanos()).unwrap_or(i64::MAX);
    let active = partitions
        .values()
        .filter(|(_, seen)| seen.elapsed() < IDLE_PARTITION)
        .map(|(ts, _)| *ts)
        .min();
    Timestamp::from_unix_nanos(match active {
        Some(ts) => ts.min(now),
        None => now - quiet,
    })
}

/// Builds evaluators from a newly loaded rule set, keeping the state of rules whose
/// definition did not change.
fn reload(state: &mut LoopState, shared: &Shared) {
    let guard = shared.rules.lock().unwrap_or_else(|p| p.into_inner());
    let Some(set) = guard.as_ref() else { return };
    if state.loaded == Some(set.generation) {
        return;
    }
    let mut previous: HashMap<String, Evaluator> = state
        .evaluators
        .drain(..)
        .map(|e| (e.rule().name.clone(), e))
        .collect();
    for rule in &set.rules {
        let rule = Arc::new(rule.clone());
        let evaluator = match previous.remove(&rule.name) {
            Some(old) if same_definition(old.rule(), &rule) => {
                Evaluator::restore(rule, old.state().clone())
            }
            _ => match state.saved.remove(&rule.name) {
                Some(saved) => Evaluator::restore(rule, saved),
                None => Evaluator::new(rule),
            },
        };
        state.evaluators.push(evaluator);
    }
    state.loaded = Some(set.generation);
    let rules: Vec<&Rule> = state.evaluators.iter().map(Evaluator::rule).collect();
    state.router = Router::new(&rules);
    info!(rules = state.evaluators.len(), "rules in force");
}

/// Sends each renewing notifier whose `resend` has passed since `renewed` says it was
/// last renewed the alerts firing for it that were delivered.
fn renew(
    state: &LoopState,
    shared: &Shared,
    renewed: &mut HashMap<String, Instant>,
    renewals: &mpsc::Sender<Renewal>,
) {
    let due: Vec<String> = {
        let rules = shared.rules.lock().unwrap_or_else(|p| p.into_inner());
        let Some(set) = rules.as_ref() else { return };
        set.notifiers
            .renewing()
            .filter(|n| {
                renewed
                    .get(&n.name)
                    .is_none_or(|at| at.elapsed() >= n.resend)
            })
            .map(|n| n.name.clone())
            .collect()
    };
    for name in due {
        renewed.insert(name.clone(), Instant::now());
        let firing: Vec<Alert> = state
            .evaluators
            .iter()
            .filter(|evaluator| evaluator.rule().notify.contains(&name))
            .flat_map(Evaluator::firing_alerts)
            .collect();
        if firing.is_empty() {
            continue;
        }
        let notifications: Vec<Notification> = {
            let delivered = shared.delivered.lock().unwrap_or_else(|p| p.into_inner());
            firing
                .into_iter()
                .filter(|alert| delivered.ids.contains(&alert.notification.id))
                .map(|alert| alert.notification)
                .collect()
        };
        if notifications.is_empty() {
            continue;
        }
        let renewal = Renewal {
            notifier: name,
            notifications,
        };
        if let Err(error) = renewals.try_send(renewal) {
            let notifier = match &error {
                mpsc::error::TrySendError::Full(r) | mpsc::error::TrySendError::Closed(r) => {
                    r.notifier.clone()
                }
            };
            warn!(
                notifier,
                "renewal skipped: the renewals before it are still being sent"
            );
        }
    }
}

/// Sends renewals, one at a time, to the notifiers in force.
pub(crate) async fn send_renewals(
    mut renewals: mpsc::Receiver<Renewal>,
    shared: Shared,
    sender: Arc<Sender>,
    shutdown: CancellationToken,
) {
    loop {
        let renewal = tokio::select! {
            () = shutdown.cancelled() => return,
            renewal = renewals.recv() => match renewal { Some(renewal) => renewal, None => return },
        };
        let notifier = shared
            .rules
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .as_ref()
            .and_then(|set| set.notifiers.get(&renewal.notifier).cloned());
        let Some(notifier) = notifier.filter(|n| n.renews()) else {
            continue;
        };
        let accepted = tokio::select! {
            () = shutdown.cancelled() => return,
            accepted = sender.renew(&notifier, &renewal.notifications) => accepted,
        };
        telemetry::alerts_renewed(&notifier.name, accepted);
    }
}

fn same_definition(a: &Rule, b: &Rule) -> bool {
    a.kind == b.kind && a.query == b.query && a.window == b.window && a.group_by == b.group_by
}

fn publish_status(state: &LoopState, shared: &Shared, watermark: Timestamp) {
    let status = state
        .evaluators
        .iter()
        .map(|evaluator| {
            let rule = evaluator.rule();
            telemetry::late_events(&rule.name, evaluator.state().late_events);
            RuleStatus {
                name: rule.name.clone(),
                kind: rule.kind.name().to_string(),
                query: rule.query.to_string(),
                file: rule.file.display().to_string(),
                firing: evaluator
                    .firing()
                    .map(|group| {
                        rule.group_names()
                            .into_iter()
                            .zip(&group.group)
                            .filter_map(|(n, v)| v.clone().map(|v| (n, v)))
                            .collect()
                    })
                    .collect(),
                evaluated_at: Some(watermark.to_string()),
                late_events: evaluator.state().late_events,
                queries: rule.queries().into_iter().cloned().collect(),
            }
        })
        .collect();
    *shared.status.lock().unwrap_or_else(|p| p.into_inner()) = status;
}

fn save(state: &LoopState, shared: &Shared, path: &Path) -> anyhow::Result<()> {
    let mut rules = state.saved.clone();
    for evaluator in &state.evaluators {
        rules.insert(evaluator.rule().name.clone(), evaluator.state().clone());
    }
    let outbox = shared
        .outbox
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .values()
        .cloned()
        .collect();
    let checkpoint = Checkpoint {
        offsets: state.offsets.clone(),
        rules,
        outbox,
    };
    logpipe_common::durable::write_atomically(path, &serde_json::to_vec(&checkpoint)?)?;
    Ok(())
}

/// Delivers alerts to their notifiers and to the alerts topic; an alert leaves the outbox
/// once every notifier has it (or refused it for good).
pub(crate) async fn deliver(
    mut alerts: mpsc::UnboundedReceiver<Alert>,
    shared: Shared,
    sender: Arc<Sender>,
    producer: FutureProducer,
    alerts_topic: String,
    max_concurrent: usize,
    shutdown: CancellationToken,
) {
    let tasks = tokio_util::task::TaskTracker::new();
    let slots = Arc::new(tokio::sync::Semaphore::new(max_concurrent));
    loop {
        let alert = tokio::select! {
            () = shutdown.cancelled() => break,
            alert = alerts.recv() => match alert { Some(alert) => alert, None => break },
        };
        let slot = tokio::select! {
            () = shutdown.cancelled() => break,
            slot = slots.clone().acquire_owned() => match slot { Ok(slot) => slot, Err(_) => break },
        };
        telemetry::deliveries_in_flight(max_concurrent - slots.available_permits());
        let shared = shared.clone();
        let sender = sender.clone();
        let producer = producer.clone();
        let topic = alerts_topic.clone();
        let in_flight = slots.clone();
        tasks.spawn(async move {
            let notifiers = shared
                .rules
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .as_ref()
                .map(|set| set.notifiers.clone())
                .unwrap_or_default();
            let notification = &alert.notification;
            let mut outcomes = serde_json::Map::new();
            for name in &alert.notify {
                let outcome = match notifiers.get(name) {
                    Some(notifier) => match sender.deliver(notifier, notification).await {
                        Ok(delivered) => serde_json::json!({"delivered": true, "attempts": delivered.attempts, "status": delivered.status}),
                        Err(error) => {
                            warn!(rule = %notification.rule, id = %notification.id, notifier = %name, %error, "alert not delivered");
                            serde_json::json!({"delivered": false, "attempts": error.attempts(), "error": error.to_string()})
                        }
                    },
                    None => serde_json::json!({"delivered": false, "error": "no such notifier"}),
                };
                outcomes.insert(name.clone(), outcome);
            }
            let mut record = serde_json::to_value(notification).unwrap_or_default();
            record["notifiers"] = serde_json::Value::Object(outcomes);
            let payload = record.to_string();
            let produced = producer
                .send(
                    FutureRecord::to(&topic).key(&notification.rule).payload(&payload),
                    Duration::from_secs(30),
                )
                .await;
            if let Err((error, _)) = produced {
                warn!(%error, id = %notification.id, "producing to the alerts topic failed");
            }
            record_delivered(&shared.delivered, &notification.id).await;
            shared
                .outbox
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .remove(&notification.id);
            drop(slot);
            telemetry::deliveries_in_flight(max_concurrent - in_flight.available_permits());
        });
    }
    tasks.close();
    tasks.wait().await;
}
