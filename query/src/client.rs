//! `logpipe search`: runs a query against the query service's HTTP API and prints the
//! matching events, newest first (oldest first then live with `--follow`). Exit status as
//! grep's: 0 with hits, 1 with none, 2 on an error.

use std::io::{BufRead, BufReader, IsTerminal, Write};
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use logpipe_common::config::Env;
use serde_json::Value;

use logpipe_common::config::SearchConfig;

const REQUEST_TIMEOUT: Duration = Duration::from_secs(60);
const EXIT_HITS: u8 = 0;
const EXIT_NO_HITS: u8 = 1;
const EXIT_ERROR: u8 = 2;

/// How hits are printed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Output {
    /// Time, level, namespace/pod and message, aligned; coloured on a terminal.
    Table,
    /// One `LogEvent` JSON per line.
    Json,
    /// The message only.
    Raw,
}

/// What to search for.
#[derive(Debug, Clone)]
pub struct SearchArgs {
    pub query: String,
    /// Relative (`15m`) or absolute (RFC 3339) start of the time range.
    pub since: Option<String>,
    pub from: Option<String>,
    pub to: Option<String>,
    pub limit: u32,
    pub output: Output,
    /// After the hits, print matching events as they arrive until interrupted.
    pub follow: bool,
}

/// Runs the CLI.
pub fn run_search(env: &Env, args: &SearchArgs) -> ExitCode {
    let config = match SearchConfig::load(env) {
        Ok(config) => config,
        Err(error) => {
            eprintln!("logpipe search: invalid configuration: {error}");
            return ExitCode::from(EXIT_ERROR);
        }
    };
    let colour = std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none();
    let mut printer = Printer {
        output: args.output,
        colour,
        printed: 0,
    };
    match search(&config, args, &mut printer) {
        Ok(()) if printer.printed > 0 => ExitCode::from(EXIT_HITS),
        Ok(()) => ExitCode::from(EXIT_NO_HITS),
        Err(error) => {
            // A closed pipe (`| head`) is not an error.
            if error
                .downcast_ref::<std::io::Error>()
                .is_some_and(|e| e.kind() == std::io::ErrorKind::BrokenPipe)
            {
                return ExitCode::from(EXIT_HITS);
            }
            eprintln!("logpipe search: {error:#}");
            ExitCode::from(EXIT_ERROR)
        }
    }
}

fn client(timeout: Option<Duration>) -> anyhow::Result<reqwest::blocking::Client> {
    Ok(reqwest::blocking::Client::builder()
        .timeout(timeout)
        .redirect(reqwest::redirect::Policy::none())
        .build()?)
}

fn search(config: &SearchConfig, args: &SearchArgs, printer: &mut Printer) -> anyhow::Result<()> {
    let endpoint = config
        .url
        .join("api/v1/search")
        .context("building the search URL")?;
    let mut query = vec![("q", args.query.clone()), ("limit", args.limit.to_string())];
    for (name, value) in [
        ("since", &args.since),
        ("from", &args.from),
        ("to", &args.to),
    ] {
        if let Some(value) = value {
            query.push((name, value.clone()));
        }
    }
    let mut request = client(Some(REQUEST_TIMEOUT))?
        .get(endpoint.clone())
        .query(&query);
    if let Some(token) = &config.token {
        request = request.bearer_auth(token);
    }
    let response = request
        .send()
        .with_context(|| format!("requesting {endpoint}"))?;
    let body = answer(response, &endpoint)?;
    let hits = body["hits"]
        .as_array()
        .context("the answer has no hits array")?;
    let mut out = std::io::stdout().lock();
    if args.follow {
        for hit in hits.iter().rev() {
            printer.print(&mut out, hit)?;
        }
    } else {
        for hit in hits {
            printer.print(&mut out, hit)?;
        }
    }
    out.flush()?;
    if body["partial"].as_bool() == Some(true) {
        eprintln!(
            "logpipe search: partial results, these indexers failed: {}",
            body["failed_shards"]
        );
    }
    if !args.follow && body["cursor"].is_string() {
        eprintln!(
            "logpipe search: {} of {} matches shown; raise --limit or narrow the query",
            hits.len(),
            body["total"]
        );
    }
    drop(out);
    if args.follow {
        follow(config, args, printer)?;
    }
    Ok(())
}

/// Reads the answer's JSON, turning an error status into its message.
fn answer(response: reqwest::blocking::Response, endpoint: &url::Url) -> anyhow::Result<Value> {
    let status = response.status();
    let body: Value = response
        .json()
        .with_context(|| format!("reading the answer of {endpoint} ({status})"))?;
    if !status.is_success() {
        let reason = body["error"].as_str().unwrap_or("no reason given");
        match body["position"].as_u64() {
            Some(position) => anyhow::bail!("{status}: {reason} (at character {position})"),
            None => anyhow::bail!("{status}: {reason}"),
        }
    }
    Ok(body)
}

/// Prints matching events from the live tail until the stream ends or the process is
/// interrupted.
fn follow(config: &SearchConfig, args: &SearchArgs, printer: &mut Printer) -> anyhow::Result<()> {
    let endpoint = config
        .url
        .join("api/v1/tail")
        .context("building the tail URL")?;
    let mut request = client(None)?
        .get(endpoint.clone())
        .query(&[("q", args.query.as_str())]);
    if let Some(token) = &config.token {
        request = request.bearer_auth(token);
    }
    let response = request
        .send()
        .with_context(|| format!("requesting {endpoint}"))?;
    if !response.status().is_success() {
        answer(response, &endpoint)?;
        return Ok(());
    }
    let reader = BufReader::new(response);
    let mut kind = String::new();
    let mut data = String::new();
    for line in reader.lines() {
        let line = line.context("reading the live tail")?;
        if line.is_empty() {
            if kind == "event" && !data.is_empty() {
                let event: Value =
                    serde_json::from_str(&data).context("an event of the live tail")?;
                let mut out = std::io::stdout().lock();
                printer.print(&mut out, &event)?;
                out.flush()?;
            } else if kind == "lagged" {
                eprintln!("logpipe search: the live tail fell behind and skipped events: {data}");
            } else if kind == "end" {
                let reason: Value = serde_json::from_str(&data).unwrap_or_default();
                let reason = reason["reason"].as_str().unwrap_or("the server ended it");
                eprintln!("logpipe search: the live tail ended: {reason}; run again to resume");
            }
            kind.clear();
            data.clear();
        } else if let Some(value) = line.strip_prefix("event:") {
            kind = value.trim().to_string();
        } else if let Some(value) = line.strip_prefix("data:") {
            if !data.is_empty() {
                data.push('\n');
            }
            data.push_str(value.strip_prefix(' ').unwrap_or(value));
        }
    }
    Ok(())
}

struct Printer {
    output: Output,
    colour: bool,
    printed: u64,
}

impl Printer {
    fn print(&mut self, out: &mut impl Write, hit: &Value) -> std::io::Result<()> {
        self.printed += 1;
        match self.output {
            Output::Json => writeln!(out, "{hit}"),
            Output::Raw => writeln!(out, "{}", hit["message"].as_str().unwrap_or_default()),
            Output::Table => {
                let ts = hit["ts"].as_str().unwrap_or("-");
                // 2026-11-27T05:00:00.123456789Z → 2026-11-27 05:00:00.123
                let short = if ts.len() >= 23 {
                    format!("{} {}", &ts[..10], &ts[11..23])
                } else {
                    ts.to_string()
                };
                let level = hit["level"].as_str().unwrap_or("unknown");
                let k8s = &hit["k8s"];
                let origin = match (k8s["namespace"].as_str(), k8s["pod"].as_str()) {
                    (Some(ns), Some(pod)) => format!("{ns}/{pod}"),
                    _ => hit["source"]["name"]
                        .as_str()
                        .or(k8s["node"].as_str())
                        .unwrap_or("-")
                        .to_string(),
                };
                let message = hit["message"]
                    .as_str()
                    .unwrap_or_default()
                    .replace('\n', "⏎");
                if self.colour {
                    let colour = match level {
                        "fatal" => "\x1b[1;35m",
                        "error" => "\x1b[31m",
                        "warn" => "\x1b[33m",
                        "info" => "\x1b[32m",
                        "debug" => "\x1b[36m",
                        _ => "\x1b[2m",
                    };
                    writeln!(
                        out,
                        "\x1b[2m{short}\x1b[0m {colour}{level:<5}\x1b[0m \x1b[34m{origin}\x1b[0m {message}"
                    )
                } else {
                    writeln!(out, "{short} {level:<5} {origin} {message}")
                }
            }
        }
    }
}
