//! The alerting role: evaluates rules on the Kafka event stream and calls webhooks.
//!
//! # Layout
//! - `config`: the alerting variables and `AlertingConfig`; rules and notifiers files
//!   loaded and checked together.
//! - `rules`: rule files → `Rule`: the model, file parsing, per-type validation with
//!   `file:line` errors, summary templates.
//! - `routing`: which rules an event matches, through shared tables of the terms rules
//!   require (keyword values, words, regexes), each distinct query evaluated once.
//! - `engine`: one rule's evaluation on event time (`Evaluator`) and its checkpointable
//!   state; alerts with deterministic ids.
//! - `cap`: at most so many alerts per rule and window; the rest summarized in one.
//! - `runner`: the consumer loop, the outbox, checkpoints, delivery to notifiers and the
//!   alerts topic, and renewals of firing alerts to Alertmanager.
//! - `notify`: notifiers file, payload formats (Alertmanager's API among them, with
//!   leases), Standard Webhooks signing, credentials, delivery with retries behind the
//!   SSRF guard.
//! - `service`: alerting as a logpipe service: the loop, deliveries and hot reload.
//! - `api`: `GET /api/v1/rules`, behind the query service's tokens, each token seeing
//!   the rules inside its namespaces.
//! - `check`: `logpipe alerting check`, rules validated for CI.
//! - `backtest`: `logpipe alerting backtest`, rules replayed over past events.
//! - `telemetry`: every alerting metric.

mod api;
mod backtest;
mod cap;
mod check;
mod config;
pub mod engine;
pub mod notify;
pub mod routing;
pub mod rules;
mod runner;
mod service;
mod telemetry;

pub use backtest::{BacktestArgs, BacktestOutput, backtest};
pub use check::check;
pub use config::{AlertingConfig, VARS};
