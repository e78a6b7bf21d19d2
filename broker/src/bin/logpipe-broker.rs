//! `logpipe-broker`: the broker `logpipe standalone` embeds, as a process of its own, for
//! tests that stop or kill the broker alone (outage and crash drills). Runs until SIGTERM
//! or SIGINT; logs go to stderr, filtered by `RUST_LOG` (default `warn`).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use logpipe_broker::{BrokerConfig, EmbeddedBroker};
use tokio::signal::unix::{SignalKind, signal};

/// How long the broker gets to open its storage and accept connections.
const START_TIMEOUT: Duration = Duration::from_secs(30);

#[derive(Debug, Parser)]
#[command(
    name = "logpipe-broker",
    version,
    about = "A Kafka-compatible broker (tansu) with SQLite storage"
)]
struct Args {
    /// Address to listen on and advertise to clients.
    #[arg(long, default_value = "127.0.0.1:9092")]
    listen: SocketAddr,
    /// Directory of the SQLite database (tansu.db), created when missing.
    #[arg(long)]
    dir: PathBuf,
}

fn main() -> ExitCode {
    let args = Args::parse();
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .init();
    let config = BrokerConfig {
        listen: args.listen,
        dir: args.dir,
    };
    let mut broker = match EmbeddedBroker::start(&config, START_TIMEOUT) {
        Ok(broker) => broker,
        Err(error) => {
            eprintln!("logpipe-broker: {error}");
            return ExitCode::FAILURE;
        }
    };
    eprintln!(
        "logpipe-broker: listening on {} with storage in {}",
        config.bootstrap(),
        config.dir.display()
    );
    let signals = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("logpipe-broker: {error}");
            return ExitCode::FAILURE;
        }
    };
    let failed = signals.block_on(async {
        let (Ok(mut terminate), Ok(mut interrupt)) = (
            signal(SignalKind::terminate()),
            signal(SignalKind::interrupt()),
        ) else {
            return Some(logpipe_broker::Error::Stopped);
        };
        tokio::select! {
            _ = terminate.recv() => None,
            _ = interrupt.recv() => None,
            error = broker.stopped() => Some(error),
        }
    });
    broker.stop();
    match failed {
        Some(error) => {
            eprintln!("logpipe-broker: {error}");
            ExitCode::FAILURE
        }
        None => ExitCode::SUCCESS,
    }
}
