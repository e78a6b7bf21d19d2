//! Alerting settings.

use std::path::PathBuf;
use std::time::Duration;

use logpipe_common::config::{ConfigError, Env, Kind, SharedConfig, VarSpec};
use logpipe_common::hosts::{ALLOWED_HOSTS, AllowedHosts};
use logpipe_common::tokens::{TOKENS_FILE, Tokens};
use logpipe_language::Scope;
use serde::Serialize;

use crate::notify::{AllowList, Notifiers};
use crate::rules::{self, Rule};

pub(crate) const ALERTS_TOPIC: VarSpec = VarSpec::new(
    "LOGPIPE_ALERTING_ALERTS_TOPIC",
    Kind::Topic,
    Some("alerts"),
    "Topic receiving every notification as sent, for audit.",
);
pub(crate) const RULES_DIR: VarSpec = VarSpec::new(
    "LOGPIPE_ALERTING_RULES_DIR",
    Kind::Path,
    None,
    "Directory of rule files (*.yaml, *.yml, subdirectories included): logpipe rules and Sigma rules, hot-reloaded; an invalid change keeps the previous rules. Unset: no rules.",
);
pub(crate) const SIGMA_NOTIFY: VarSpec = VarSpec::new(
    "LOGPIPE_ALERTING_SIGMA_NOTIFY",
    Kind::List,
    None,
    "Notifiers (names in LOGPIPE_ALERTING_NOTIFIERS_FILE) the alerts of Sigma rules go to. Unset: the log and the alerts topic only.",
);
pub(crate) const NOTIFIERS_FILE: VarSpec = VarSpec::new(
    "LOGPIPE_ALERTING_NOTIFIERS_FILE",
    Kind::Path,
    None,
    "YAML map of notifier name to url, format (alertmanager|alertmanager-api|slack|generic), secret_env, bearer_token_env or basic_auth_env, timeout, max_age, resend (alertmanager-api).",
);
pub(crate) const UI_URL: VarSpec = VarSpec::new(
    "LOGPIPE_ALERTING_UI_URL",
    Kind::Url,
    None,
    "The web UI (the query service) as users reach it, e.g. https://logs.example.com/: Alertmanager alerts link to the search of their events there (generatorURL). Unset: no link.",
);
pub(crate) const WEBHOOK_ALLOW: VarSpec = VarSpec::new(
    "LOGPIPE_ALERTING_WEBHOOK_ALLOW",
    Kind::List,
    None,
    "CIDRs webhooks may reach although private, loopback or link-local (all such targets are refused otherwise).",
);
pub(crate) const CHECKPOINT_INTERVAL_MS: VarSpec = VarSpec::new(
    "LOGPIPE_ALERTING_CHECKPOINT_INTERVAL_MS",
    Kind::Duration,
    Some("1000"),
    "How often rule state, pending notifications and offsets are written to LOGPIPE_DATA_DIR/alerting.",
);
pub(crate) const RELOAD_INTERVAL_MS: VarSpec = VarSpec::new(
    "LOGPIPE_ALERTING_RELOAD_INTERVAL_MS",
    Kind::Duration,
    Some("2000"),
    "How often the rules directory and the notifiers file are checked for changes.",
);

pub(crate) const MAX_ALERTS_PER_RULE: VarSpec = VarSpec::new(
    "LOGPIPE_ALERTING_MAX_ALERTS_PER_RULE",
    Kind::Integer {
        min: 0,
        max: 1_000_000,
    },
    Some("20"),
    "Alerts one rule may send per LOGPIPE_ALERTING_ALERT_LIMIT_WINDOW_MS; the rest are counted and summarized in one alert labelled logpipe_suppressed when the window ends. 0: no limit.",
);
pub(crate) const ALERT_LIMIT_WINDOW_MS: VarSpec = VarSpec::new(
    "LOGPIPE_ALERTING_ALERT_LIMIT_WINDOW_MS",
    Kind::Duration,
    Some("10m"),
    "The window LOGPIPE_ALERTING_MAX_ALERTS_PER_RULE counts in (wall-clock time, aligned to multiples of its length).",
);
pub(crate) const MAX_PENDING_ALERTS: VarSpec = VarSpec::new(
    "LOGPIPE_ALERTING_MAX_PENDING_ALERTS",
    Kind::Integer {
        min: 1,
        max: 1_000_000,
    },
    Some("1000"),
    "Alerts waiting for delivery at most; at the bound the loop stops reading events until deliveries catch up (nothing is dropped).",
);
pub(crate) const MAX_CONCURRENT_DELIVERIES: VarSpec = VarSpec::new(
    "LOGPIPE_ALERTING_MAX_CONCURRENT_DELIVERIES",
    Kind::Integer { min: 1, max: 1024 },
    Some("8"),
    "Alerts delivered to notifiers at once.",
);

/// The variables alerting reads, with the query service's tokens and `Host` names, which
/// guard `GET /api/v1/rules` as they guard the search API.
pub const VARS: [&VarSpec; 14] = [
    &ALERTS_TOPIC,
    &RULES_DIR,
    &SIGMA_NOTIFY,
    &NOTIFIERS_FILE,
    &UI_URL,
    &WEBHOOK_ALLOW,
    &CHECKPOINT_INTERVAL_MS,
    &RELOAD_INTERVAL_MS,
    &MAX_ALERTS_PER_RULE,
    &ALERT_LIMIT_WINDOW_MS,
    &MAX_PENDING_ALERTS,
    &MAX_CONCURRENT_DELIVERIES,
    &TOKENS_FILE,
    &ALLOWED_HOSTS,
];

#[derive(Debug, Clone, Serialize)]
pub struct AlertingConfig {
    pub(crate) alerts_topic: String,
    pub rules_dir: Option<PathBuf>,
    /// The notifiers of Sigma rules.
    pub(crate) sigma_notify: Vec<String>,
    pub(crate) notifiers_file: Option<PathBuf>,
    /// Where alerts link to the search of their events.
    #[serde(serialize_with = "shown_url")]
    pub(crate) ui_url: Option<url::Url>,
    pub(crate) webhook_allow: Vec<String>,
    #[serde(with = "logpipe_common::config::duration_serde::millis")]
    pub(crate) checkpoint_interval: Duration,
    #[serde(with = "logpipe_common::config::duration_serde::millis")]
    pub(crate) reload_interval: Duration,
    pub(crate) max_alerts_per_rule: u32,
    #[serde(with = "logpipe_common::config::duration_serde::human")]
    pub(crate) alert_limit_window: Duration,
    pub(crate) max_pending_alerts: usize,
    pub(crate) max_concurrent_deliveries: usize,
    pub(crate) tokens_file: Option<PathBuf>,
    /// Who may read `GET /api/v1/rules`, and which rules each token sees.
    #[serde(skip)]
    pub(crate) tokens: Tokens<Scope>,
    /// The `Host` names `GET /api/v1/rules` answers to.
    pub(crate) allowed_hosts: AllowedHosts,
    #[serde(skip)]
    pub(crate) allow: AllowList,
    #[serde(skip)]
    pub rules: Vec<Rule>,
    #[serde(skip)]
    pub(crate) notifiers: Option<Notifiers>,
}

impl AlertingConfig {
    /// Reads the alerting variables. `shared.listen` decides whether `GET /api/v1/rules`
    /// may answer without tokens: only on loopback; beyond it, without a tokens file, the
    /// endpoint refuses every request (alerting itself still runs).
    pub fn load(env: &Env, shared: &SharedConfig) -> Result<Self, ConfigError> {
        let rules_dir = env.path_opt(&RULES_DIR)?;
        let sigma_notify = if env.is_set(&SIGMA_NOTIFY) {
            env.list(&SIGMA_NOTIFY)?
        } else {
            Vec::new()
        };
        let notifiers_file = env.path_opt(&NOTIFIERS_FILE)?;
        let webhook_allow = if env.is_set(&WEBHOOK_ALLOW) {
            env.list(&WEBHOOK_ALLOW)?
        } else {
            Vec::new()
        };
        let allow =
            AllowList::parse(&webhook_allow.join(",")).map_err(|error| ConfigError::Invalid {
                var: WEBHOOK_ALLOW.name.to_owned(),
                value: webhook_allow.join(","),
                expected: format!("comma-separated CIDRs ({error})"),
            })?;
        let (rules, notifiers) = load_files(
            rules_dir.as_deref(),
            &sigma_notify,
            notifiers_file.as_deref(),
        )
        .map_err(|(var, value, errors)| ConfigError::Invalid {
            var: var.to_owned(),
            value,
            expected: format!("valid files: {}", errors.join("; ")),
        })?;
        let (tokens_file, mut tokens) = Tokens::from_env(env, Scope::all(), Scope::token)?;
        if !tokens.enabled() && !shared.listen.ip().is_loopback() {
            tokens = Tokens::refuse_all(format!(
                "this alerting service listens on {} without {}, so /api/v1/rules is off",
                shared.listen, TOKENS_FILE.name
            ));
        }
        // After the refusal, so that a refused request hears why rather than of its Host.
        let allowed_hosts = AllowedHosts::from_env(env, tokens.enabled())?;
        Ok(AlertingConfig {
            alerts_topic: env.topic(&ALERTS_TOPIC)?,
            rules_dir,
            sigma_notify,
            notifiers_file,
            ui_url: if env.is_set(&UI_URL) {
                Some(env.url(&UI_URL)?)
            } else {
                None
            },
            webhook_allow,
            checkpoint_interval: env.duration(&CHECKPOINT_INTERVAL_MS)?,
            reload_interval: env.duration(&RELOAD_INTERVAL_MS)?,
            max_alerts_per_rule: env.integer(&MAX_ALERTS_PER_RULE)? as u32,
            alert_limit_window: env.duration(&ALERT_LIMIT_WINDOW_MS)?,
            max_pending_alerts: env.integer(&MAX_PENDING_ALERTS)? as usize,
            max_concurrent_deliveries: env.integer(&MAX_CONCURRENT_DELIVERIES)? as usize,
            tokens_file,
            tokens,
            allowed_hosts,
            allow,
            rules,
            notifiers,
        })
    }
}

fn shown_url<S: serde::Serializer>(url: &Option<url::Url>, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_some(&url.as_ref().map(url::Url::as_str))
}

/// Why the files were refused: the variable naming them, its value, every problem.
pub(crate) type FilesRefused = (&'static str, String, Vec<String>);

/// Rules and notifiers, checked together: every rule's `notify` names a notifier. Sigma
/// rules notify `sigma_notify`.
pub(crate) fn load_files(
    rules_dir: Option<&std::path::Path>,
    sigma_notify: &[String],
    notifiers_file: Option<&std::path::Path>,
) -> Result<(Vec<Rule>, Option<Notifiers>), FilesRefused> {
    let shown =
        |errors: Vec<rules::FileError>| errors.iter().map(|e| e.to_string()).collect::<Vec<_>>();
    let notifiers = match notifiers_file {
        Some(path) => Some(
            Notifiers::load(path, &|name| std::env::var(name).ok()).map_err(|errors| {
                (
                    NOTIFIERS_FILE.name,
                    path.display().to_string(),
                    shown(errors),
                )
            })?,
        ),
        None => None,
    };
    let mut rules = match rules_dir {
        Some(dir) => {
            let loaded = rules::load_tree(dir)
                .map_err(|errors| (RULES_DIR.name, dir.display().to_string(), shown(errors)))?;
            if !loaded.skipped.is_empty() {
                tracing::info!(
                    skipped = loaded.skipped.len(),
                    "Sigma rules left out (`logpipe alerting check` lists why)"
                );
            }
            loaded.rules
        }
        None => Vec::new(),
    };
    for rule in rules.iter_mut().filter(|rule| rule.sigma) {
        rule.notify = sigma_notify.to_vec();
    }
    let where_ = match notifiers_file {
        Some(path) => format!("in {}", path.display()),
        None => format!("({} is unset)", NOTIFIERS_FILE.name),
    };
    let missing = shown(rules::undefined_notifiers(
        &rules,
        notifiers.as_ref(),
        &where_,
    ));
    if !missing.is_empty() {
        let dir = rules_dir
            .map(|d| d.display().to_string())
            .unwrap_or_default();
        return Err((RULES_DIR.name, dir, missing));
    }
    let unknown: Vec<String> = sigma_notify
        .iter()
        .filter(|name| notifiers.as_ref().is_none_or(|n| n.get(name).is_none()))
        .map(|name| format!("notifier `{name}` is not defined {where_}"))
        .collect();
    if !unknown.is_empty() {
        return Err((SIGMA_NOTIFY.name, sigma_notify.join(","), unknown));
    }
    Ok((rules, notifiers))
}
