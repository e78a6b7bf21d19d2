//! Alerting as a logpipe service: the rule loop on its own thread, deliveries on the
//! runtime, rules and notifiers hot-reloaded, and `GET /api/v1/rules` (see `api`).

use std::sync::Arc;
use std::time::SystemTime;

use anyhow::Context;
use axum::Router;
use logpipe_common::config::{ConfigError, Env, SharedConfig, VarSpec};
use logpipe_common::kafka::TopicSpec;
use logpipe_common::service::{Service, ServiceContext};
use rdkafka::producer::FutureProducer;
use tracing::{error, info, warn};

use crate::AlertingConfig;
use crate::api;
use crate::cap::Limit;
use crate::config::load_files;
use crate::notify::Sender;
use crate::runner::{self, RuleSet, Shared};
use crate::telemetry;

const LOOP_MAX_SILENCE: std::time::Duration = std::time::Duration::from_secs(60);

impl Service for AlertingConfig {
    const ROLE: &'static str = "alerting";

    fn vars() -> Vec<&'static VarSpec> {
        crate::VARS.to_vec()
    }

    fn load(env: &Env, shared: &mut SharedConfig) -> Result<Self, ConfigError> {
        AlertingConfig::load(env, shared)
    }

    fn effective(&self) -> serde_json::Value {
        let mut effective = serde_json::to_value(self).unwrap_or_default();
        effective["rules"] = self.rules.iter().map(|r| r.name.clone()).collect();
        effective
    }

    fn topics(&self, shared: &SharedConfig) -> Vec<TopicSpec> {
        vec![
            TopicSpec::new(&shared.topic, shared.topic_partitions),
            TopicSpec::new(&self.alerts_topic, shared.topic_partitions),
        ]
    }

    async fn start(self, ctx: ServiceContext) -> anyhow::Result<Router> {
        let shared = Shared::default();
        *shared.rules.lock().unwrap_or_else(|p| p.into_inner()) = Some(RuleSet {
            generation: 1,
            rules: self.rules.clone(),
            notifiers: self.notifiers.clone().unwrap_or_default(),
        });
        ctx.health.readiness("rules").set_ready();
        info!(rules = self.rules.len(), "rules loaded");

        let (alerts, pending) = tokio::sync::mpsc::unbounded_channel();
        let (renewals, renewals_due) = tokio::sync::mpsc::channel(runner::RENEWAL_QUEUE);
        let heartbeat = ctx.health.heartbeat("alerting_loop", LOOP_MAX_SILENCE);
        let shutdown = ctx.shutdown.clone();
        let config = ctx.shared.clone();
        let loop_shared = shared.clone();
        let settings = runner::LoopSettings {
            checkpoint_interval: self.checkpoint_interval,
            limit: Limit {
                max_alerts: self.max_alerts_per_rule,
                window: self.alert_limit_window,
            },
            max_pending: self.max_pending_alerts,
        };
        let thread = tokio::task::spawn_blocking(move || {
            runner::start(
                &config,
                loop_shared,
                settings,
                alerts,
                renewals,
                shutdown,
                heartbeat,
            )
        })
        .await
        .context("starting the alerting loop")??;
        let failed = ctx.clone();
        ctx.tasks.spawn(async move {
            match tokio::task::spawn_blocking(move || thread.join()).await {
                Ok(Ok(Ok(()))) => {}
                Ok(Ok(Err(error))) => failed.fail(&error.context("alerting")),
                _ => failed.fail(&anyhow::anyhow!("the alerting loop panicked")),
            }
        });

        let producer: FutureProducer = ctx
            .shared
            .kafka
            .producer()
            .create()
            .context("creating the alerts producer")?;
        let sender = Arc::new(Sender::new(self.allow.clone()).with_ui_url(self.ui_url.clone()));
        ctx.tasks.spawn(runner::send_renewals(
            renewals_due,
            shared.clone(),
            sender.clone(),
            ctx.shutdown.clone(),
        ));
        ctx.tasks.spawn(runner::deliver(
            pending,
            shared.clone(),
            sender,
            producer,
            self.alerts_topic.clone(),
            self.max_concurrent_deliveries,
            ctx.shutdown.clone(),
        ));
        ctx.tasks.spawn(watch_files(
            self.clone(),
            shared.clone(),
            ctx.shutdown.clone(),
        ));

        match self.tokens.refused() {
            Some(reason) => warn!(reason, "rules endpoint off"),
            None => info!(
                access_control = self.tokens.enabled(),
                "rules endpoint served"
            ),
        }
        Ok(api::router(shared, self.tokens, self.allowed_hosts))
    }
}

/// Reloads rules and notifiers when their files change; an invalid change keeps the
/// rules in force and says why.
async fn watch_files(
    config: AlertingConfig,
    shared: Shared,
    shutdown: tokio_util::sync::CancellationToken,
) {
    let mut seen = fingerprint(&config);
    loop {
        tokio::select! {
            () = shutdown.cancelled() => return,
            () = tokio::time::sleep(config.reload_interval) => {}
        }
        let now = fingerprint(&config);
        if now == seen {
            continue;
        }
        seen = now;
        match load_files(
            config.rules_dir.as_deref(),
            &config.sigma_notify,
            config.notifiers_file.as_deref(),
        ) {
            Ok((rules, notifiers)) => {
                let mut current = shared.rules.lock().unwrap_or_else(|p| p.into_inner());
                let generation = current.as_ref().map_or(0, |set| set.generation) + 1;
                info!(rules = rules.len(), generation, "rules reloaded");
                *current = Some(RuleSet {
                    generation,
                    rules,
                    notifiers: notifiers.unwrap_or_default(),
                });
                telemetry::reload_applied();
            }
            Err((var, _, errors)) => {
                error!(variable = var, errors = %errors.join("; "), "rules not reloaded: the previous rules stay in force");
                telemetry::reload_refused();
            }
        }
    }
}

/// Names, sizes and modification times of the rule files and the notifiers file.
fn fingerprint(config: &AlertingConfig) -> Vec<(String, u64, Option<SystemTime>)> {
    let mut files = Vec::new();
    if let Some(dir) = &config.rules_dir {
        files.push(dir.clone());
        files.extend(crate::rules::rule_files(dir).unwrap_or_default());
    }
    files.extend(config.notifiers_file.clone());
    let mut out: Vec<_> = files
        .into_iter()
        .map(|path| {
            let meta = std::fs::metadata(&path).ok();
            (
                path.display().to_string(),
                meta.as_ref().map_or(0, |m| m.len()),
                meta.and_then(|m| m.modified().ok()),
            )
        })
        .collect();
    out.sort();
    out
}
