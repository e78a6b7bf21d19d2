//! `logpipe alerting backtest DIR`: replays past events from the query service through
//! the rules of DIR and prints the alerts they would have raised, so a rule can be tried
//! on real history before it is deployed.
//!
//! One export request reads every event any rule looks at within the range; the export
//! comes newest first and rules need event-time order, so the whole history is held in
//! memory and sorted. The range the user asks for bounds that history: a backtest over a
//! busy week of broad rules needs the memory of that week's matching events. Only the
//! namespaces the token may see are replayed.

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader, IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use logpipe_common::config::Env;
use logpipe_common::config::SearchConfig;
use logpipe_common::event::{LogEvent, Timestamp};
use logpipe_language::{MAX_QUERY_BYTES, Query};

use crate::engine::{Alert, Evaluator};
use crate::notify::Notification;
use crate::rules::{self, Rule, RuleKind};

const EXIT_RAN: u8 = 0;
const EXIT_RULE_ERRORS: u8 = 1;
const EXIT_ERROR: u8 = 2;
/// The history replayed when neither `--since` nor `--from` is given.
pub(crate) const DEFAULT_SINCE: &str = "24h";
/// Longest wait for the answer, and for each read of the export after it.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(60);
/// Between events, time moves on in steps this long while an alert is firing, so a
/// resolution is raised about when the live loop, ticking on, would have raised it
/// rather than at the next matching event.
const STEP: Duration = Duration::from_secs(1);
/// Events read between two refreshes of the progress line.
const PROGRESS_EVERY: usize = 1_000;

/// How alerts are printed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BacktestOutput {
    /// `<starts_at> <firing|resolved> <rule> <group k=v,...> <summary>`.
    Text,
    /// One `Notification` JSON per line, as the `generic` webhook format sends it.
    Json,
}

/// What to replay.
#[derive(Debug, Clone)]
pub struct BacktestArgs {
    pub dir: PathBuf,
    /// Relative (`24h`) or absolute (RFC 3339) start of the history.
    pub since: Option<String>,
    pub from: Option<String>,
    pub to: Option<String>,
    pub output: BacktestOutput,
}

/// Runs the CLI: exit status 0 when the replay ran (whatever it raised), 1 on rule
/// errors, 2 on a bad range, configuration or query service error.
pub fn backtest(env: &Env, args: &BacktestArgs) -> ExitCode {
    let (from, to) = match range(args, Timestamp::now()) {
        Ok(range) => range,
        Err(error) => {
            eprintln!("logpipe alerting backtest: {error:#}");
            return ExitCode::from(EXIT_ERROR);
        }
    };
    let rules = match rules::load_dir(&args.dir) {
        Ok(rules) => rules,
        Err(errors) => {
            for error in &errors {
                eprintln!("{error}");
            }
            return ExitCode::from(EXIT_RULE_ERRORS);
        }
    };
    let config = match SearchConfig::load(env) {
        Ok(config) => config,
        Err(error) => {
            eprintln!("logpipe alerting backtest: invalid configuration: {error}");
            return ExitCode::from(EXIT_ERROR);
        }
    };
    let events = if rules.is_empty() {
        Vec::new()
    } else {
        match export(&config, &export_query(&rules), from, to) {
            Ok(events) => events,
            Err(error) => {
                eprintln!("logpipe alerting backtest: {error:#}");
                return ExitCode::from(EXIT_ERROR);
            }
        }
    };
    let count = events.len();
    let alerts = replay(&rules, events, from, to);
    if let Err(error) = print(&alerts, args.output) {
        // A closed pipe (`| head`) is not an error.
        if error.kind() != std::io::ErrorKind::BrokenPipe {
            eprintln!("logpipe alerting backtest: writing the alerts: {error}");
            return ExitCode::from(EXIT_ERROR);
        }
    }
    eprintln!("{count} events, {} alerts", alerts.len());
    ExitCode::from(EXIT_RAN)
}

/// Feeds `events`, in any order, to one evaluator per rule as the live loop would have:
/// rules loaded at `from`, events in event-time order (then by id) with the watermark
/// following them, and the watermark finally at `to` so windows close and absences fire.
fn replay(
    rules: &[Rule],
    events: impl IntoIterator<Item = LogEvent>,
    from: Timestamp,
    to: Timestamp,
) -> Vec<Alert> {
    let mut events: Vec<LogEvent> = events.into_iter().collect();
    events.sort_by_key(|event| (event.ts, event.id));
    let mut replay = Replay {
        evaluators: rules
            .iter()
            .map(|rule| Evaluator::new(Arc::new(rule.clone())))
            .collect(),
        clock: from,
        alerts: Vec::new(),
    };
    replay.tick();
    for event in &events {
        replay.advance(event.ts);
        for evaluator in &mut replay.evaluators {
            replay.alerts.extend(evaluator.observe(event));
        }
    }
    replay.advance(to);
    replay.alerts
}

struct Replay {
    evaluators: Vec<Evaluator>,
    /// The watermark every evaluator was last advanced to.
    clock: Timestamp,
    alerts: Vec<Alert>,
}

impl Replay {
    /// Moves the watermark to `until`, in `STEP`s while an alert is firing.
    fn advance(&mut self, until: Timestamp) {
        let step = i64::try_from(STEP.as_nanos()).unwrap_or(i64::MAX);
        while self.clock.unix_nanos().saturating_add(step) < until.unix_nanos()
            && self.evaluators.iter().any(|e| e.firing().next().is_some())
        {
            self.clock = Timestamp::from_unix_nanos(self.clock.unix_nanos() + step);
            self.tick();
        }
        self.clock = self.clock.max(until);
        self.tick();
    }

    fn tick(&mut self) {
        for evaluator in &mut self.evaluators {
            self.alerts.extend(evaluator.advance(self.clock));
        }
    }
}

/// `[from, to)` from the arguments: `--from` or `--since` (a duration before `to`, or an
/// instant; 24h by default) and `--to` (now by default).
fn range(args: &BacktestArgs, now: Timestamp) -> anyhow::Result<(Timestamp, Timestamp)> {
    let instant = |flag: &str, text: &str| {
        Timestamp::parse_rfc3339(text).with_context(|| {
            format!("--{flag} must be an RFC 3339 time such as 2026-11-27T05:00:00Z; got `{text}`")
        })
    };
    let to = match &args.to {
        Some(text) => instant("to", text)?,
        None => now,
    };
    let from = match (&args.from, &args.since) {
        (Some(_), Some(_)) => anyhow::bail!("give either --since or --from, not both"),
        (Some(text), None) => instant("from", text)?,
        (None, since) => {
            let since = since.as_deref().unwrap_or(DEFAULT_SINCE);
            match Timestamp::parse_rfc3339(since) {
                Some(instant) => instant,
                None => {
                    let span = humantime::parse_duration(since).ok().with_context(|| {
                        format!("--since must be a duration such as 24h or 7d, or an RFC 3339 time; got `{since}`")
                    })?;
                    let nanos = i64::try_from(span.as_nanos()).unwrap_or(i64::MAX);
                    Timestamp::from_unix_nanos(to.unix_nanos().saturating_sub(nanos))
                }
            }
        }
    };
    anyhow::ensure!(
        from < to,
        "the time range is empty: from {from} is not before to {to}"
    );
    Ok((from, to))
}

/// The export's query: the union of what the rules read (their queries and ratio rules'
/// denominators). Empty, every event, when a rule reads every event or when the union
/// cannot be written as one query that reads the same (too long, or a query whose
/// written form parses differently).
fn export_query(rules: &[Rule]) -> String {
    let mut parts = BTreeSet::new();
    for rule in rules {
        let denominator = match &rule.kind {
            RuleKind::Ratio { denominator, .. } => Some(denominator.as_ref()),
            _ => None,
        };
        for query in std::iter::once(&rule.query).chain(denominator) {
            let part = format!("({query})");
            if *query == Query::All || Query::parse(&part).ok().as_ref() != Some(query) {
                return String::new();
            }
            parts.insert(part);
        }
    }
    let union = parts.into_iter().collect::<Vec<_>>().join(" OR ");
    if union.len() > MAX_QUERY_BYTES {
        String::new()
    } else {
        union
    }
}

/// Every event matching `query` within `[from, to)`, as the export streams them.
fn export(
    config: &SearchConfig,
    query: &str,
    from: Timestamp,
    to: Timestamp,
) -> anyhow::Result<Vec<LogEvent>> {
    let endpoint = config
        .url
        .join("api/v1/export")
        .context("building the export URL")?;
    let client = reqwest::blocking::Client::builder()
        .timeout(REQUEST_TIMEOUT)
        .redirect(reqwest::redirect::Policy::none())
        .build()?;
    // A form body: the union of many rules' queries may not fit in a URL.
    let form = [
        ("q", query.to_string()),
        ("from", from.to_string()),
        ("to", to.to_string()),
    ];
    let mut request = client.post(endpoint.clone()).form(&form);
    if let Some(token) = &config.token {
        request = request.bearer_auth(token);
    }
    let response = request
        .send()
        .with_context(|| format!("requesting {endpoint}"))?;
    let status = response.status();
    if !status.is_success() {
        let body: serde_json::Value = response.json().unwrap_or_default();
        let reason = body["error"].as_str().unwrap_or("no reason given");
        anyhow::bail!("{endpoint} answered {status}: {reason}");
    }
    let progress = std::io::stderr().is_terminal();
    let mut events = Vec::new();
    for line in BufReader::new(response).lines() {
        let line = line.context("reading the export")?;
        if line.is_empty() {
            continue;
        }
        let event: LogEvent = serde_json::from_str(&line).context("an event of the export")?;
        events.push(event);
        if progress && events.len().is_multiple_of(PROGRESS_EVERY) {
            eprint!("\r{} events read", events.len());
        }
    }
    if progress {
        eprint!("\r\x1b[K");
    }
    Ok(events)
}

fn print(alerts: &[Alert], output: BacktestOutput) -> std::io::Result<()> {
    let mut out = std::io::stdout().lock();
    for alert in alerts {
        match output {
            BacktestOutput::Text => writeln!(out, "{}", text_line(&alert.notification))?,
            BacktestOutput::Json => writeln!(
                out,
                "{}",
                serde_json::to_string(&alert.notification).map_err(std::io::Error::other)?
            )?,
        }
    }
    out.flush()
}

/// `<starts_at> <firing|resolved> <rule> <group k=v,...> <summary>`, on one line.
fn text_line(notification: &Notification) -> String {
    let group = if notification.group.is_empty() {
        "-".to_string()
    } else {
        notification
            .group
            .iter()
            .map(|(name, value)| format!("{name}={value}"))
            .collect::<Vec<_>>()
            .join(",")
    };
    format!(
        "{} {} {} {group} {}",
        notification.starts_at,
        notification.status.as_str(),
        notification.rule,
        notification.summary.replace('\n', "⏎")
    )
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use logpipe_common::event::Level;
    use logpipe_common::testkit::sample_event;
    use logpipe_language::Predicate;

    use super::*;
    use crate::notify::Status;
    use crate::rules::parse_rule;

    const SECOND: i64 = 1_000_000_000;
    const T0: i64 = 1_790_000_000 * SECOND;

    fn at(seconds: i64) -> Timestamp {
        Timestamp::from_unix_nanos(T0 + seconds * SECOND)
    }

    fn rule(text: &str) -> Rule {
        parse_rule(text, Path::new("r.yaml")).unwrap()
    }

    fn rules() -> Vec<Rule> {
        [
            "name: errors\ntype: threshold\nquery: 'k8s.namespace:shop AND level:error'\nwindow: 1m\n\
             threshold: 5\ngroup_by: [k8s.pod]\nsummary: '{{ count }} errors in {{ group.k8s.pod }}'\n\
             notify: [x]\nrealert: 2m\nlateness: 5s\n",
            "name: heartbeat\ntype: absence\nquery: 'message:heartbeat'\nwindow: 30s\n\
             group_by: [k8s.pod]\nnotify: [x]\nlateness: 0s\n",
            "name: error-rate\ntype: ratio\nquery: level:error\ndenominator: 'k8s.namespace:shop'\n\
             threshold: 0.5\nmin_events: 4\nwindow: 1m\nnotify: [x]\n",
            "name: each\ntype: match\nquery: 'message:panic'\nrealert: 1m\nnotify: [x]\n",
        ]
        .map(rule)
        .to_vec()
    }

    /// Ten minutes of a shop: heartbeats from two pods (one stops), bursts of errors from
    /// one, a panic now and then; every event on a whole second.
    fn history() -> Vec<LogEvent> {
        let mut events = Vec::new();
        let mut n = 0;
        let mut event = |seconds: i64, pod: &str, level: Level, message: &str| {
            n += 1;
            let mut event = sample_event(n, at(seconds));
            event.k8s.namespace = Some("shop".into());
            event.k8s.pod = Some(pod.into());
            event.level = level;
            event.message = message.into();
            event
        };
        for s in (0..600).step_by(10) {
            events.push(event(s, "api-1", Level::Info, "heartbeat"));
            if s < 200 {
                events.push(event(s + 1, "api-2", Level::Info, "heartbeat"));
            }
        }
        for burst in [60, 100, 400] {
            for i in 0..6 {
                events.push(event(burst + i, "api-1", Level::Error, "payment failed"));
            }
        }
        for s in [30, 50, 500] {
            events.push(event(s, "api-3", Level::Fatal, "panic: nil map"));
        }
        events
    }

    /// The alerting loop over the same events: every rule's evaluator loaded at `from`,
    /// events in time order, and the watermark ticking on every second of event time.
    fn live(rules: &[Rule], events: &[LogEvent], from: i64, to: i64) -> Vec<Alert> {
        let mut evaluators: Vec<Evaluator> = rules
            .iter()
            .map(|rule| Evaluator::new(Arc::new(rule.clone())))
            .collect();
        let mut alerts = Vec::new();
        for second in from..=to {
            for evaluator in &mut evaluators {
                alerts.extend(evaluator.advance(at(second)));
            }
            for event in events.iter().filter(|e| e.ts == at(second)) {
                for evaluator in &mut evaluators {
                    alerts.extend(evaluator.observe(event));
                }
            }
        }
        alerts
    }

    fn by_start(mut alerts: Vec<Alert>) -> Vec<Alert> {
        alerts.sort_by(|a, b| {
            (a.notification.starts_at, &a.notification.id)
                .cmp(&(b.notification.starts_at, &b.notification.id))
        });
        alerts
    }

    #[test]
    fn events_fed_live_and_through_backtest_raise_the_same_alerts() {
        let rules = rules();
        let mut events = history();
        events.sort_by_key(|event| (event.ts, event.id));
        let live = live(&rules, &events, -10, 615);
        // The export's order: newest first.
        let replayed = replay(&rules, events.into_iter().rev(), at(-10), at(615));

        let statuses = |rule: &str, status: Status| {
            live.iter()
                .filter(|a| a.notification.rule == rule && a.notification.status == status)
                .count()
        };
        assert_eq!(statuses("errors", Status::Firing), 2, "{live:#?}");
        assert_eq!(statuses("errors", Status::Resolved), 2);
        assert_eq!(
            statuses("heartbeat", Status::Firing),
            1,
            "api-2 went silent"
        );
        assert_eq!(statuses("error-rate", Status::Firing), 2);
        assert_eq!(
            statuses("each", Status::Firing),
            2,
            "one panic within realert"
        );
        // The same alerts, ids and resolution times included; an absence is raised when
        // the next event shows it rather than on the tick it began.
        assert_eq!(by_start(replayed), by_start(live));
    }

    #[test]
    fn no_events_still_closes_windows_and_fires_absences() {
        let rules = [rule(
            "name: quiet\ntype: absence\nquery: 'message:heartbeat'\nwindow: 1m\nnotify: [x]\nlateness: 0s\n",
        )];
        let alerts = replay(&rules, Vec::new(), at(0), at(90));
        assert_eq!(alerts.len(), 1, "{alerts:?}");
        assert_eq!(alerts[0].notification.starts_at, at(60));
    }

    /// The export of `rules` holds every event a rule reads and, unless it is everything,
    /// nothing else.
    fn assert_exports_what_rules_read(rules: &[Rule]) {
        let union = export_query(rules);
        let union = Predicate::new(&Query::parse(&union).unwrap());
        let mut other = sample_event(1, at(0));
        other.k8s.namespace = Some("payments".into());
        other.level = Level::Info;
        for event in history().iter().chain([&other]) {
            let wanted = rules.iter().any(|rule| {
                rule.predicate.matches(event)
                    || rule.denominator.as_ref().is_some_and(|d| d.matches(event))
            });
            assert!(
                union.matches(event) == wanted || export_query(rules).is_empty(),
                "{event:?}"
            );
        }
    }

    #[test]
    fn the_export_reads_the_union_of_what_rules_read() {
        let rules = rules();
        assert_eq!(
            export_query(&rules),
            "(k8s.namespace:shop AND level:error) OR (k8s.namespace:shop) OR (level:error) \
             OR (message:heartbeat) OR (message:panic)"
        );
        assert_exports_what_rules_read(&rules);

        let mut negated = rules.clone();
        negated.push(rule(
            "name: not-shop\ntype: match\nquery: '(level:warn) OR (NOT k8s.namespace:shop)'\nnotify: [x]\n",
        ));
        assert_exports_what_rules_read(&negated);

        let mut everything = rules.clone();
        everything.push(rule(
            "name: all\ntype: new_value\nquery: '*'\nfield: k8s.pod\nnotify: [x]\n",
        ));
        assert_eq!(export_query(&everything), "");
    }

    #[test]
    fn the_range_is_since_before_to_or_from_to() {
        let args = |since: Option<&str>, from: Option<&str>, to: Option<&str>| BacktestArgs {
            dir: PathBuf::new(),
            since: since.map(str::to_string),
            from: from.map(str::to_string),
            to: to.map(str::to_string),
            output: BacktestOutput::Text,
        };
        let now = at(86_400 * 2);
        assert_eq!(
            range(&args(None, None, None), now).unwrap(),
            (at(86_400), now)
        );
        assert_eq!(
            range(&args(Some("1h"), None, None), now).unwrap(),
            (at(86_400 * 2 - 3600), now)
        );
        let (from, to) = (at(0).to_string(), at(60).to_string());
        assert_eq!(
            range(&args(None, Some(&from), Some(&to)), now).unwrap(),
            (at(0), at(60))
        );
        for (bad, expected) in [
            (args(Some("soon"), None, None), "--since must be a duration"),
            (
                args(None, Some("yesterday"), None),
                "--from must be an RFC 3339",
            ),
            (
                args(None, Some(&to), Some(&from)),
                "the time range is empty",
            ),
        ] {
            let error = range(&bad, now).unwrap_err().to_string();
            assert!(error.contains(expected), "{error}");
        }
    }

    #[test]
    fn a_text_line_shows_start_status_rule_group_and_summary() {
        let rules = rules();
        let events: Vec<_> = history().into_iter().filter(|e| e.ts < at(70)).collect();
        let alerts = replay(&rules[..1], events, at(0), at(70));
        assert_eq!(
            text_line(&alerts[0].notification),
            format!("{} firing errors k8s.pod=api-1 5 errors in api-1", at(64))
        );
    }
}
