//! `logpipe search`: runs a query against the query service's HTTP API and prints the
//! matching events as JSON lines, newest first.

use std::io::Write;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use logpipe_common::config::{ConfigError, Env};

use crate::config::{SEARCH_TOKEN, SEARCH_URL};

const REQUEST_TIMEOUT: Duration = Duration::from_secs(60);

/// What to search for.
#[derive(Debug, Clone)]
pub struct SearchArgs {
    pub query: String,
    /// Relative (`15m`) or absolute (RFC 3339) start of the time range.
    pub since: String,
    pub limit: u32,
}

#[derive(Debug, Clone)]
pub struct SearchConfig {
    pub url: url::Url,
    pub token: Option<String>,
}

impl SearchConfig {
    pub fn load(env: &Env) -> Result<Self, ConfigError> {
        Ok(SearchConfig {
            url: env.url(&SEARCH_URL)?,
            token: env
                .text_opt(&SEARCH_TOKEN)?
                .filter(|token| !token.is_empty()),
        })
    }
}

/// Runs the CLI: exit 0 with results, 1 when the service failed or refused, 2 on invalid
/// configuration.
pub fn run_search(env: &Env, args: &SearchArgs) -> ExitCode {
    let config = match SearchConfig::load(env) {
        Ok(config) => config,
        Err(error) => {
            eprintln!("logpipe search: invalid configuration: {error}");
            return ExitCode::from(ConfigError::EXIT_CODE);
        }
    };
    match search(&config, args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("logpipe search: {error:#}");
            ExitCode::FAILURE
        }
    }
}

fn search(config: &SearchConfig, args: &SearchArgs) -> anyhow::Result<()> {
    let endpoint = config
        .url
        .join("api/v1/search")
        .context("building the search URL")?;
    let client = reqwest::blocking::Client::builder()
        .timeout(REQUEST_TIMEOUT)
        .redirect(reqwest::redirect::Policy::none())
        .build()?;
    let mut request = client.get(endpoint.clone()).query(&[
        ("q", args.query.as_str()),
        ("since", args.since.as_str()),
        ("limit", &args.limit.to_string()),
    ]);
    if let Some(token) = &config.token {
        request = request.bearer_auth(token);
    }
    let response = request
        .send()
        .with_context(|| format!("requesting {endpoint}"))?;
    let status = response.status();
    let body: serde_json::Value = response
        .json()
        .with_context(|| format!("reading the answer of {endpoint} ({status})"))?;
    if !status.is_success() {
        let reason = body["error"].as_str().unwrap_or("no reason given");
        anyhow::bail!("{endpoint} answered {status}: {reason}");
    }
    let hits = body["hits"]
        .as_array()
        .context("the answer has no hits array")?;
    let mut out = std::io::stdout().lock();
    for hit in hits {
        writeln!(out, "{hit}")?;
    }
    if body["partial"].as_bool() == Some(true) {
        eprintln!("logpipe search: partial results: {}", body["failed_shards"]);
    }
    Ok(())
}
