//! The notifiers file (`LOGPIPE_ALERTING_NOTIFIERS_FILE`): the webhooks that rules name in
//! `notify`, validated as a whole so that every mistake is reported with `file:line` and a
//! bad change is never half-applied.
//!
//! ```yaml
//! oncall:
//!   url: https://alertmanager-bridge.example.com/hook
//!   format: alertmanager        # alertmanager | alertmanager-api | slack | generic
//!   secret_env: ONCALL_WEBHOOK_SECRET   # holds whsec_<base64>; optional
//!   timeout: 5s                 # per attempt; default 5s
//!   max_age: 10m                # retries stop this long after the first attempt; default 10m
//! team-chat:
//!   url: https://hooks.slack.com/services/T000/B000/XXXX
//!   format: slack
//! alertmanager:
//!   url: http://alertmanager.monitoring.svc:9093   # the base; alerts go to /api/v2/alerts
//!   format: alertmanager-api
//!   resend: 1m                  # firing alerts posted again this often; default 1m
//!   bearer_token_env: ALERTMANAGER_TOKEN   # or basic_auth_env (user:password); optional
//! ```
//!
//! Secrets stay in the environment, named by `secret_env`, `bearer_token_env` and
//! `basic_auth_env`; the file holds none. URLs may (a Slack webhook URL is a credential),
//! so they are never shown whole.

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::path::Path;
use std::time::Duration;

use serde::Deserialize;
use serde::de::{Deserializer, MapAccess, Visitor};
use url::Url;

use super::alertmanager::{LEASE_RESENDS, alerts_endpoint};
use super::auth::Auth;
use super::payload::{FORMATS, Format};
use super::retry::RetryPolicy;
use super::signature::Secret;
use crate::rules::FileError;

/// Per-attempt timeout when the notifiers file does not say.
pub(crate) const DEFAULT_TIMEOUT: Duration = Duration::from_secs(5);
/// How often an `alertmanager-api` notifier posts firing alerts again when the notifiers
/// file does not say (Prometheus's default `--rules.alert.resend-delay`).
pub(crate) const DEFAULT_RESEND: Duration = Duration::from_secs(60);
/// The shortest `resend`: each one is a request per notifier.
pub(crate) const MIN_RESEND: Duration = Duration::from_secs(1);

/// One webhook.
#[derive(Clone)]
pub(crate) struct Notifier {
    /// The name rules use in `notify`, and the `notifier` label of the metrics.
    pub name: String,
    /// Where to POST (for `alertmanager-api`, the alerts endpoint under the base the file
    /// names). May carry credentials: `Debug` and logs show only scheme, host and port.
    pub url: Url,
    pub format: Format,
    /// Signs requests when set.
    pub secret: Option<Secret>,
    /// Sent as `Authorization` when set.
    pub auth: Option<Auth>,
    /// Limit of each attempt, connection included.
    pub timeout: Duration,
    pub retry: RetryPolicy,
    /// `alertmanager-api`: how often firing alerts are posted again.
    pub resend: Duration,
}

impl Notifier {
    /// A notifier with the default timeout and retry policy and no signing.
    #[cfg(test)]
    pub(crate) fn new(name: impl Into<String>, url: Url, format: Format) -> Notifier {
        Notifier {
            name: name.into(),
            url,
            format,
            secret: None,
            auth: None,
            timeout: DEFAULT_TIMEOUT,
            retry: RetryPolicy::default(),
            resend: DEFAULT_RESEND,
        }
    }

    /// How long a firing alert posted now holds without being posted again.
    pub(crate) fn lease(&self) -> Duration {
        self.resend.saturating_mul(LEASE_RESENDS)
    }

    /// Whether firing alerts must be posted again before their lease runs out.
    pub(crate) fn renews(&self) -> bool {
        self.format == Format::AlertmanagerApi
    }
}

impl fmt::Debug for Notifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Notifier")
            .field("name", &self.name)
            .field("url", &redacted(&self.url))
            .field("format", &self.format)
            .field("secret", &self.secret)
            .field("auth", &self.auth)
            .field("timeout", &self.timeout)
            .field("retry", &self.retry)
            .field("resend", &self.resend)
            .finish()
    }
}

/// Scheme, host and port only: path, query and user info may hold tokens.
pub(crate) fn redacted(url: &Url) -> String {
    let host = url.host_str().unwrap_or("");
    match url.port() {
        Some(port) => format!("{}://{host}:{port}/…", url.scheme()),
        None => format!("{}://{host}/…", url.scheme()),
    }
}

/// Every notifier of the notifiers file, by name.
#[derive(Debug, Clone, Default)]
pub(crate) struct Notifiers {
    by_name: BTreeMap<String, Notifier>,
}

#[derive(Deserialize)]
#[serde(
    deny_unknown_fields,
    expecting = "a notifier: a map with `url` and `format`"
)]
struct RawNotifier {
    url: String,
    format: String,
    secret_env: Option<String>,
    bearer_token_env: Option<String>,
    basic_auth_env: Option<String>,
    timeout: Option<String>,
    max_age: Option<String>,
    resend: Option<String>,
}

/// The file's entries in order, duplicates kept so that they can be reported.
struct Entries(Vec<(String, RawNotifier)>);

impl<'de> Deserialize<'de> for Entries {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct EntriesVisitor;
        impl<'de> Visitor<'de> for EntriesVisitor {
            type Value = Entries;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a map from notifier names to notifiers")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Entries, A::Error> {
                let mut entries = Vec::new();
                while let Some(entry) = map.next_entry::<String, RawNotifier>()? {
                    entries.push(entry);
                }
                Ok(Entries(entries))
            }
        }
        deserializer.deserialize_map(EntriesVisitor)
    }
}

impl Notifiers {
    /// Reads and validates a notifiers file; `env` looks up the variables that
    /// `secret_env` names. Returns every problem found, in file order.
    pub(crate) fn parse(
        text: &str,
        file: &Path,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Notifiers, Vec<FileError>> {
        let error = |line: usize, message: String| FileError {
            file: file.to_path_buf(),
            line,
            message,
        };
        let entries = match serde_norway::from_str::<Option<Entries>>(text) {
            Ok(entries) => entries.map(|e| e.0).unwrap_or_default(),
            Err(e) => {
                let line = e.location().map(|l| l.line()).unwrap_or(0);
                return Err(vec![error(line, without_location(&e))]);
            }
        };
        let mut errors = Vec::new();
        let mut by_name = BTreeMap::new();
        let mut occurrences: HashMap<String, usize> = HashMap::new();
        for (name, raw) in entries {
            let occurrence = {
                let count = occurrences.entry(name.clone()).or_default();
                *count += 1;
                *count - 1
            };
            let at = |field: Option<&str>| line_of(text, &name, occurrence, field);
            if occurrence > 0 {
                errors.push(error(
                    at(None),
                    format!("notifier `{name}` is defined twice"),
                ));
                continue;
            }
            if name.trim().is_empty() {
                errors.push(error(at(None), "a notifier name is empty".into()));
                continue;
            }
            match validate(&name, raw, env) {
                Ok(notifier) => {
                    by_name.insert(name, notifier);
                }
                Err(problems) => errors.extend(
                    problems
                        .into_iter()
                        .map(|(field, message)| error(at(Some(field)), message)),
                ),
            }
        }
        if errors.is_empty() {
            Ok(Notifiers { by_name })
        } else {
            errors.sort_by_key(|e| e.line);
            Err(errors)
        }
    }

    /// Reads the notifiers file at `path`; see [`Notifiers::parse`].
    pub(crate) fn load(
        path: &Path,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Notifiers, Vec<FileError>> {
        let text = std::fs::read_to_string(path).map_err(|e| {
            vec![FileError {
                file: path.to_path_buf(),
                line: 0,
                message: format!("reading the notifiers file: {e}"),
            }]
        })?;
        Notifiers::parse(&text, path, env)
    }

    pub(crate) fn get(&self, name: &str) -> Option<&Notifier> {
        self.by_name.get(name)
    }

    /// The notifiers whose firing alerts are posted again before their lease runs out.
    pub(crate) fn renewing(&self) -> impl Iterator<Item = &Notifier> {
        self.by_name.values().filter(|notifier| notifier.renews())
    }

    /// The names defined, sorted; rules may only name these.
    #[cfg(test)]
    pub(crate) fn names(&self) -> impl Iterator<Item = &str> {
        self.by_name.keys().map(String::as_str)
    }
}

/// Checks one entry; each problem with the field it is about.
fn validate(
    name: &str,
    raw: RawNotifier,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Notifier, Vec<(&'static str, String)>> {
    let mut problems = Vec::new();
    let url = match Url::parse(raw.url.trim()) {
        Ok(url) if !matches!(url.scheme(), "http" | "https") => {
            problems.push(("url", "`url` must be an http:// or https:// URL".into()));
            None
        }
        Ok(url) if url.host().is_none() => {
            problems.push(("url", "`url` has no host".into()));
            None
        }
        Ok(url) => Some(url),
        // The URL itself stays out of the message: it may carry a token.
        Err(e) => {
            problems.push(("url", format!("`url` is not a valid URL: {e}")));
            None
        }
    };
    let format = Format::from_name(raw.format.trim());
    if format.is_none() {
        let names: Vec<&str> = FORMATS.iter().map(|format| format.name()).collect();
        problems.push((
            "format",
            format!(
                "unknown `format: {}`: expected {} or {}",
                raw.format,
                names[..names.len() - 1].join(", "),
                names[names.len() - 1]
            ),
        ));
    }
    let url = match (url, format) {
        (Some(base), Some(Format::AlertmanagerApi)) => Some(alerts_endpoint(&base)),
        (url, _) => url,
    };
    let secret = match raw.secret_env.as_deref().map(str::trim) {
        None => None,
        Some("") => {
            problems.push(("secret_env", "`secret_env` is empty".into()));
            None
        }
        Some(var) => match env(var) {
            None => {
                problems.push((
                    "secret_env",
                    format!("`secret_env`: the environment variable {var} is not set"),
                ));
                None
            }
            Some(value) => match Secret::parse(&value) {
                Ok(secret) => Some(secret),
                Err(e) => {
                    problems.push((
                        "secret_env",
                        format!(
                            "`secret_env`: {var} does not hold a secret in the \
                             whsec_<base64> form: {e}"
                        ),
                    ));
                    None
                }
            },
        },
    };
    let mut auth = None;
    for (field, value, read) in [
        (
            "bearer_token_env",
            raw.bearer_token_env.as_deref(),
            Auth::bearer as fn(&str) -> Result<Auth, &'static str>,
        ),
        ("basic_auth_env", raw.basic_auth_env.as_deref(), Auth::basic),
    ] {
        let Some(var) = value.map(str::trim) else {
            continue;
        };
        if auth.is_some() {
            problems.push((
                field,
                "`bearer_token_env` and `basic_auth_env` exclude each other".into(),
            ));
            continue;
        }
        match env(var) {
            _ if var.is_empty() => problems.push((field, format!("`{field}` is empty"))),
            None => problems.push((
                field,
                format!("`{field}`: the environment variable {var} is not set"),
            )),
            Some(value) => match read(&value) {
                Ok(read) => auth = Some(read),
                // The reason names the form expected, never the value.
                Err(reason) => problems.push((field, format!("`{field}`: {var} {reason}"))),
            },
        }
    }
    let mut duration = |field: &'static str, text: Option<&str>, default: Duration| match text {
        None => Some(default),
        Some(text) => match humantime::parse_duration(text.trim()) {
            Ok(value) => Some(value),
            Err(_) => {
                problems.push((
                    field,
                    format!("`{field}: {text}` is not a duration such as 5s, 2m or 1h30m"),
                ));
                None
            }
        },
    };
    let timeout = duration("timeout", raw.timeout.as_deref(), DEFAULT_TIMEOUT);
    let max_age = duration(
        "max_age",
        raw.max_age.as_deref(),
        RetryPolicy::default().max_age,
    );
    let resend = duration("resend", raw.resend.as_deref(), DEFAULT_RESEND);
    if timeout == Some(Duration::ZERO) {
        problems.push(("timeout", "`timeout` must be above 0".into()));
    }
    if raw.resend.is_some() && format.is_some_and(|format| format != Format::AlertmanagerApi) {
        problems.push((
            "resend",
            "`resend` applies only to `format: alertmanager-api`".into(),
        ));
    } else if resend.is_some_and(|resend| resend < MIN_RESEND) {
        problems.push(("resend", "`resend` must be at least 1s".into()));
    }
    match (url, format, timeout, max_age, resend) {
        (Some(url), Some(format), Some(timeout), Some(max_age), Some(resend))
            if problems.is_empty() =>
        {
            Ok(Notifier {
                name: name.to_string(),
                url,
                format,
                secret,
                auth,
                timeout,
                retry: RetryPolicy {
                    max_age,
                    ..RetryPolicy::default()
                },
                resend,
            })
        }
        _ => Err(problems),
    }
}

/// serde_norway's message without its trailing ` at line L column C`: the line is in the
/// `file:line` prefix already.
fn without_location(error: &serde_norway::Error) -> String {
    let message = error.to_string();
    if let Some(location) = error.location() {
        let suffix = format!(" at line {} column {}", location.line(), location.column());
        if let Some(stripped) = message.strip_suffix(&suffix) {
            return stripped.to_string();
        }
    }
    message
}

/// The 1-based line of `field` inside the `occurrence`-th top-level entry `name`, or of
/// the entry itself when `field` is `None` or not found there; 0 when neither is found.
/// Serde reports no positions for values that parse but do not validate, so the block-style
/// text is scanned for the key.
fn line_of(text: &str, name: &str, occurrence: usize, field: Option<&str>) -> usize {
    let mut seen = 0;
    let mut entry_line = None;
    for (index, line) in text.lines().enumerate() {
        let trimmed = line.trim_start();
        if trimmed.is_empty() || trimmed.starts_with('#') {
            continue;
        }
        let top_level = trimmed.len() == line.len();
        if top_level {
            if entry_line.is_some() {
                break;
            }
            if key_of(line) == Some(name) {
                if seen == occurrence {
                    entry_line = Some(index + 1);
                    if field.is_none() {
                        break;
                    }
                }
                seen += 1;
            }
        } else if let (Some(_), Some(field)) = (entry_line, field)
            && key_of(trimmed) == Some(field)
        {
            return index + 1;
        }
    }
    entry_line.unwrap_or(0)
}

/// The key of a `key: value` line, plain or quoted.
fn key_of(line: &str) -> Option<&str> {
    let line = line.trim_start();
    let (key, rest) = match line.chars().next()? {
        quote @ ('"' | '\'') => {
            let end = line[1..].find(quote)? + 1;
            (&line[1..end], &line[end + 1..])
        }
        _ => {
            let colon = line
                .char_indices()
                .find(|&(i, c)| {
                    c == ':' && line[i + 1..].chars().next().is_none_or(char::is_whitespace)
                })?
                .0;
            (line[..colon].trim_end(), &line[colon..])
        }
    };
    rest.trim_start().starts_with(':').then_some(key)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::notify::signature::sign;

    const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

    fn env(name: &str) -> Option<String> {
        match name {
            "ONCALL_SECRET" => Some(SECRET.into()),
            "PLAIN_SECRET" => Some("hunter2-plain-text".into()),
            "AM_TOKEN" => Some("t0ken".into()),
            "AM_BASIC" => Some("ops:hunter2".into()),
            _ => None,
        }
    }

    fn parse(text: &str) -> Result<Notifiers, Vec<FileError>> {
        Notifiers::parse(text, Path::new("notifiers.yaml"), &env)
    }

    fn shown(errors: Vec<FileError>) -> Vec<String> {
        errors.iter().map(ToString::to_string).collect()
    }

    fn shown_of(result: Result<Notifiers, Vec<FileError>>) -> Vec<String> {
        shown(result.unwrap_err())
    }

    #[test]
    fn reads_every_field_and_defaults_the_rest() {
        let notifiers = parse(
            "oncall:\n  url: https://bridge.example.com/hook\n  format: alertmanager\n  \
             secret_env: ONCALL_SECRET\n  timeout: 2s\n  max_age: 1h\n\
             chat:\n  url: https://hooks.slack.com/services/T0/B0/XYZ\n  format: slack\n",
        )
        .unwrap();
        assert_eq!(notifiers.names().collect::<Vec<_>>(), ["chat", "oncall"]);
        let oncall = notifiers.get("oncall").unwrap();
        assert_eq!(oncall.url.as_str(), "https://bridge.example.com/hook");
        assert_eq!(oncall.format, Format::Alertmanager);
        let secret = oncall.secret.as_ref().unwrap();
        assert_eq!(
            sign(
                secret,
                "msg_p5jXN8AQM9LWM0D4loKWxJek",
                1_614_265_330,
                br#"{"test": 2432232314}"#
            ),
            "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
        );
        assert_eq!(oncall.timeout, Duration::from_secs(2));
        assert_eq!(oncall.retry.max_age, Duration::from_secs(3600));
        let chat = notifiers.get("chat").unwrap();
        assert_eq!(chat.format, Format::Slack);
        assert!(chat.secret.is_none());
        assert_eq!(chat.timeout, DEFAULT_TIMEOUT);
        assert_eq!(chat.retry, RetryPolicy::default());
    }

    #[test]
    fn an_empty_file_defines_no_notifier() {
        for text in ["", "# none yet\n"] {
            assert_eq!(parse(text).unwrap().names().count(), 0);
        }
    }

    #[test]
    fn unknown_format_is_reported_at_its_line() {
        let errors =
            parse("oncall:\n  url: https://a.example.com/\n  format: pagerduty\n").unwrap_err();
        assert_eq!(
            shown(errors),
            [
                "notifiers.yaml:3: unknown `format: pagerduty`: expected alertmanager, alertmanager-api, slack or generic"
            ]
        );
    }

    #[test]
    fn unset_secret_variable_is_reported_at_its_line() {
        let errors = parse(
            "oncall:\n  url: https://a.example.com/\n  format: generic\n  secret_env: MISSING_SECRET\n",
        )
        .unwrap_err();
        assert_eq!(
            shown(errors),
            ["notifiers.yaml:4: `secret_env`: the environment variable MISSING_SECRET is not set"]
        );
    }

    #[test]
    fn a_secret_not_in_whsec_form_is_reported_without_its_value() {
        let errors = parse(
            "oncall:\n  url: https://a.example.com/\n  format: generic\n  secret_env: PLAIN_SECRET\n",
        )
        .unwrap_err();
        let shown = shown(errors);
        assert_eq!(shown.len(), 1);
        assert!(shown[0].starts_with("notifiers.yaml:4: `secret_env`: PLAIN_SECRET"));
        assert!(!shown[0].contains("hunter2"));
    }

    #[test]
    fn bad_urls_are_reported_at_their_line_without_the_url() {
        for (url, expected) in [
            ("not a url/tok3n", "`url` is not a valid URL"),
            (
                "ftp://files.example.com/tok3n",
                "`url` must be an http:// or https:// URL",
            ),
        ] {
            let text = format!("x:\n  format: slack\n  url: {url}\n");
            let shown = shown(parse(&text).unwrap_err());
            assert_eq!(shown.len(), 1, "{shown:?}");
            assert!(
                shown[0].starts_with(&format!("notifiers.yaml:3: {expected}")),
                "{shown:?}"
            );
            assert!(!shown[0].contains("tok3n"));
        }
    }

    #[test]
    fn bad_durations_are_reported_at_their_line() {
        let shown = shown(
            parse(
                "x:\n  url: https://a.example.com/\n  format: slack\n  timeout: soon\n  max_age: 0s\n\
                 y:\n  url: https://a.example.com/\n  format: slack\n  timeout: 0s\n",
            )
            .unwrap_err(),
        );
        assert_eq!(
            shown,
            [
                "notifiers.yaml:4: `timeout: soon` is not a duration such as 5s, 2m or 1h30m",
                "notifiers.yaml:9: `timeout` must be above 0",
            ]
        );
    }

    #[test]
    fn every_problem_of_every_notifier_is_reported_in_file_order() {
        let shown = shown(
            parse(
                "b:\n  format: nope\n  url: https://a.example.com/\n\
                 a:\n  url: https://a.example.com/\n  format: slack\n  secret_env: MISSING\n",
            )
            .unwrap_err(),
        );
        assert_eq!(shown.len(), 2, "{shown:?}");
        assert!(shown[0].starts_with("notifiers.yaml:2: unknown `format: nope`"));
        assert!(shown[1].starts_with("notifiers.yaml:7: `secret_env`"));
    }

    #[test]
    fn yaml_syntax_errors_carry_serde_norways_line() {
        let shown = shown(
            parse("oncall:\n  url: https://a.example.com/\n  format: slack\n  - x\n").unwrap_err(),
        );
        assert_eq!(shown.len(), 1);
        assert!(
            shown[0].starts_with("notifiers.yaml:4: did not find expected key"),
            "{shown:?}"
        );
        let shown = shown_of(parse(
            "oncall:\n  url: https://a.example.com/\n\tformat: slack\n",
        ));
        assert!(shown[0].starts_with("notifiers.yaml:3: "), "{shown:?}");
    }

    #[test]
    fn unknown_and_missing_keys_carry_their_line() {
        let errors =
            parse("oncall:\n  url: https://a.example.com/\n  format: slack\n  retries: 3\n")
                .unwrap_err();
        assert_eq!(errors[0].line, 4, "{errors:?}");
        assert!(
            errors[0].message.contains("unknown field `retries`"),
            "{errors:?}"
        );
        assert!(!errors[0].message.contains("at line"), "{errors:?}");

        let errors = parse("oncall:\n  format: slack\n").unwrap_err();
        assert!(
            errors[0].message.contains("missing field `url`"),
            "{errors:?}"
        );
        assert!(errors[0].line >= 1);

        let shown = shown_of(parse("- a\n- b\n"));
        assert_eq!(
            shown,
            [
                "notifiers.yaml:1: invalid type: sequence, expected a map from notifier names to notifiers"
            ]
        );
        let shown = shown_of(parse("oncall: https://a.example.com/\n"));
        assert!(
            shown[0].starts_with("notifiers.yaml:1: oncall: invalid type: string"),
            "{shown:?}"
        );
    }

    #[test]
    fn a_name_defined_twice_is_reported_at_the_second() {
        let shown = shown_of(parse(
            "x:\n  url: https://a.example.com/\n  format: slack\n\
             x:\n  url: https://b.example.com/\n  format: slack\n",
        ));
        assert_eq!(shown, ["notifiers.yaml:4: notifier `x` is defined twice"]);
    }

    #[test]
    fn load_reports_a_missing_file() {
        let errors = Notifiers::load(Path::new("/nonexistent/notifiers.yaml"), &env).unwrap_err();
        assert_eq!(errors[0].file, Path::new("/nonexistent/notifiers.yaml"));
        assert!(errors[0].message.starts_with("reading the notifiers file"));
    }

    #[test]
    fn load_reads_a_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("notifiers.yaml");
        std::fs::write(
            &path,
            "x:\n  url: http://a.example.com/\n  format: generic\n",
        )
        .unwrap();
        let notifiers = Notifiers::load(&path, &env).unwrap();
        assert_eq!(notifiers.get("x").unwrap().format, Format::Generic);
    }

    #[test]
    fn debug_output_hides_the_secret_and_the_url_path() {
        let notifiers = parse(
            "chat:\n  url: https://hooks.slack.com/services/T0/B0/s3cr3tT0ken?x=1\n  \
             format: slack\n  secret_env: ONCALL_SECRET\n",
        )
        .unwrap();
        let shown = format!("{notifiers:?}");
        assert!(shown.contains("https://hooks.slack.com/…"), "{shown}");
        assert!(!shown.contains("s3cr3tT0ken"), "{shown}");
        assert!(
            !shown.contains("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"),
            "{shown}"
        );
        assert!(shown.contains("<redacted>"), "{shown}");
    }

    #[test]
    fn alertmanager_api_posts_under_the_base_and_renews_on_its_resend() {
        let notifiers = parse(
            "am:\n  url: http://alertmanager.monitoring:9093/\n  format: alertmanager-api\n  \
             resend: 30s\n  bearer_token_env: AM_TOKEN\n\
             am-default:\n  url: https://ops.example.com/alertmanager\n  format: alertmanager-api\n  \
             basic_auth_env: AM_BASIC\n",
        )
        .unwrap();
        let am = notifiers.get("am").unwrap();
        assert_eq!(
            am.url.as_str(),
            "http://alertmanager.monitoring:9093/api/v2/alerts"
        );
        assert_eq!(am.resend, Duration::from_secs(30));
        assert_eq!(am.lease(), Duration::from_secs(120));
        assert_eq!(am.auth, Some(Auth::Bearer("t0ken".into())));
        let other = notifiers.get("am-default").unwrap();
        assert_eq!(
            other.url.as_str(),
            "https://ops.example.com/alertmanager/api/v2/alerts"
        );
        assert_eq!(other.resend, DEFAULT_RESEND);
        assert!(matches!(other.auth, Some(Auth::Basic { .. })));
        assert_eq!(notifiers.renewing().count(), 2);
        let shown = format!("{notifiers:?}");
        assert!(
            !shown.contains("t0ken") && !shown.contains("hunter2"),
            "{shown}"
        );
    }

    #[test]
    fn resend_and_credentials_are_checked() {
        let shown = shown_of(parse(
            "a:\n  url: https://a.example.com/\n  format: slack\n  resend: 1m\n\
             b:\n  url: https://a.example.com/\n  format: alertmanager-api\n  resend: 100ms\n\
             c:\n  url: https://a.example.com/\n  format: generic\n  bearer_token_env: MISSING\n\
             d:\n  url: https://a.example.com/\n  format: generic\n  basic_auth_env: PLAIN_SECRET\n\
             e:\n  url: https://a.example.com/\n  format: generic\n  bearer_token_env: AM_TOKEN\n  \
             basic_auth_env: AM_BASIC\n",
        ));
        assert_eq!(
            shown,
            [
                "notifiers.yaml:4: `resend` applies only to `format: alertmanager-api`",
                "notifiers.yaml:8: `resend` must be at least 1s",
                "notifiers.yaml:12: `bearer_token_env`: the environment variable MISSING is not set",
                "notifiers.yaml:16: `basic_auth_env`: PLAIN_SECRET is not in the user:password form",
                "notifiers.yaml:21: `bearer_token_env` and `basic_auth_env` exclude each other",
            ]
        );
    }

    #[test]
    fn keys_are_found_plain_quoted_and_after_comments() {
        let text = "# notifiers\n\"oncall\":\n  # the bridge\n  'url': x\n  format: y\nother:\n  format: z\n";
        assert_eq!(line_of(text, "oncall", 0, None), 2);
        assert_eq!(line_of(text, "oncall", 0, Some("url")), 4);
        assert_eq!(line_of(text, "oncall", 0, Some("format")), 5);
        assert_eq!(line_of(text, "other", 0, Some("format")), 7);
        assert_eq!(line_of(text, "oncall", 0, Some("timeout")), 2);
        assert_eq!(line_of(text, "absent", 0, None), 0);
        assert_eq!(key_of("url: http://a:b"), Some("url"));
        assert_eq!(key_of("http://a"), None);
    }
}
