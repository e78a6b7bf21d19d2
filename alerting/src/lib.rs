//! The alerting role: evaluates rules on the Kafka event stream and calls webhooks.

mod backtest;
mod check;
mod config;
pub mod engine;
pub mod notify;
pub mod prefilter;
pub mod rules;
pub mod runner;
mod service;

pub use backtest::{BacktestArgs, BacktestOutput, backtest};
pub use check::check;
pub use config::{AlertingConfig, VARS};
