//! The `logpipe` binary: one subcommand per role, dispatched here and nothing else.

mod broker;
mod demo;
mod generate;
mod indexer;
mod standalone;

use std::process::ExitCode;

use clap::{Parser, Subcommand};
use logpipe_common::config::{Env, VarSpec, shared_vars};
use logpipe_common::release::Release;
use logpipe_common::service;

/// This build, as `build.rs` found it.
const RELEASE: Release = Release {
    version: env!("CARGO_PKG_VERSION"),
    commit: env!("LOGPIPE_BUILD_COMMIT"),
    dirty: env!("LOGPIPE_BUILD_DIRTY"),
    rustc: env!("LOGPIPE_BUILD_RUSTC"),
};

#[derive(Debug, Parser)]
#[command(
    name = "logpipe",
    version = env!("LOGPIPE_BUILD_VERSION"),
    about = "Log aggregation pipeline for Kubernetes",
    long_about = None
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Tail container logs and host files on this node and ship them to Kafka.
    Collector,
    /// Consume events from Kafka and store them in tantivy for search.
    Indexer,
    /// Serve the search API, the web UI and live tail.
    Query,
    /// Evaluate alert rules on the event stream and call webhooks.
    Alerting {
        #[command(subcommand)]
        command: Option<AlertingCommand>,
    },
    /// Search events through the query service (exit 0 with hits, 1 with none, 2 on errors).
    Search {
        /// Query in the Lucene-style search language, e.g. 'k8s.namespace:shop AND level:error'.
        query: String,
        /// Start of the time range: relative (15m, 24h, 7d) or RFC 3339 [default: 15m].
        #[arg(long, conflicts_with = "from")]
        since: Option<String>,
        /// Start of the time range (RFC 3339).
        #[arg(long)]
        from: Option<String>,
        /// End of the time range (RFC 3339); now by default.
        #[arg(long)]
        to: Option<String>,
        /// Most events to print.
        #[arg(long, default_value_t = 100)]
        limit: u32,
        /// How to print events: table, json (one LogEvent per line) or raw (messages).
        #[arg(long, value_enum, default_value_t = Output::Table)]
        output: Output,
        /// After the hits (oldest first), print matching events as they arrive.
        #[arg(long, short)]
        follow: bool,
    },
    /// Run every role in one process, with an embedded broker unless LOGPIPE_KAFKA_BROKERS is set.
    Standalone,
    /// Write realistic container logs in the kubelet layout under DIR at a steady rate,
    /// with kubelet-style rotation; prints a JSON summary of what was written.
    Generate(generate::Args),
    /// Check a store's day indexes, ledger and signed digests against one another (no
    /// service needed): exit 0 only when every event is as the ledger recorded it. Given
    /// the stores of several indexers of one topic, also check that together their
    /// ledgers cover every partition's offsets with no gap.
    Verify {
        /// The index directory (`LOGPIPE_DATA_DIR/index`), or its copy in object storage:
        /// `LOGPIPE_STORE_URL` followed by the indexer's host name (such as
        /// `s3://bucket/prefix/logpipe-indexer-0`), with the cloud's usual credential
        /// variables; one per indexer to verify them together.
        #[arg(required = true, num_args = 1..)]
        index: Vec<std::path::PathBuf>,
        /// The digests' public key (base64), as the indexer logs it; without it the
        /// signatures are not checked.
        #[arg(long)]
        public_key: Option<String>,
        /// Print the report as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Print every configuration variable with its default and description.
    Config {
        /// Only the variables this role reads (shared ones included).
        role: Option<Role>,
        /// Print Markdown (the form of docs/configuration.md).
        #[arg(long)]
        markdown: bool,
    },
}

#[derive(Debug, Subcommand)]
enum AlertingCommand {
    /// Validate the rule files of DIR (and the notifiers they name): `file:line: message`
    /// per problem, exit status 1 on any.
    Check {
        dir: std::path::PathBuf,
        /// The notifiers file the rules' `notify` names must be defined in.
        #[arg(long)]
        notifiers: Option<std::path::PathBuf>,
    },
    /// Replay past events from the query service through the rules of DIR and print the
    /// alerts they would have raised (exit 1 on rule errors, 2 on configuration or API errors).
    Backtest {
        dir: std::path::PathBuf,
        /// Start of the history: relative (1h, 24h, 7d) or RFC 3339 [default: 24h].
        #[arg(long, conflicts_with = "from")]
        since: Option<String>,
        /// Start of the history (RFC 3339).
        #[arg(long)]
        from: Option<String>,
        /// End of the history (RFC 3339); now by default.
        #[arg(long)]
        to: Option<String>,
        /// How to print alerts: text (one line each) or json (one Notification per line).
        #[arg(long, value_enum, default_value_t = AlertOutput::Text)]
        output: AlertOutput,
    },
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
enum AlertOutput {
    Text,
    Json,
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
enum Output {
    Table,
    Json,
    Raw,
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
enum Role {
    Collector,
    Indexer,
    Query,
    Alerting,
    Search,
    Standalone,
}

/// Every role's variables, in the order `logpipe config` prints them.
fn sections() -> Vec<(&'static str, Vec<&'static VarSpec>)> {
    vec![
        ("shared", shared_vars().to_vec()),
        ("collector", logpipe_collector::VARS.to_vec()),
        ("indexer", logpipe_indexer::VARS.to_vec()),
        ("query", logpipe_query::VARS.to_vec()),
        ("alerting", logpipe_alerting::VARS.to_vec()),
        ("search", logpipe_common::config::SEARCH_VARS.to_vec()),
        ("standalone", standalone::VARS.to_vec()),
    ]
}

fn all_vars() -> Vec<&'static VarSpec> {
    sections().into_iter().flat_map(|(_, vars)| vars).collect()
}

/// mimalloc: faster than the system allocator for the many small, short-lived
/// allocations of decoding events, and it returns freed memory to the system.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let cli = Cli::parse();
    let env = Env::from_process();
    let all = all_vars();
    match cli.command {
        Command::Collector => {
            service::main::<logpipe_collector::CollectorConfig>(env, &all, &RELEASE)
        }
        Command::Indexer => service::main::<indexer::SearchingIndexer>(env, &all, &RELEASE),
        Command::Query => service::main::<logpipe_query::QueryConfig>(env, &all, &RELEASE),
        Command::Alerting { command: None } => {
            service::main::<logpipe_alerting::AlertingConfig>(env, &all, &RELEASE)
        }
        Command::Alerting {
            command: Some(AlertingCommand::Check { dir, notifiers }),
        } => logpipe_alerting::check(&dir, notifiers.as_deref()),
        Command::Alerting {
            command:
                Some(AlertingCommand::Backtest {
                    dir,
                    since,
                    from,
                    to,
                    output,
                }),
        } => logpipe_alerting::backtest(
            &env,
            &logpipe_alerting::BacktestArgs {
                dir,
                since,
                from,
                to,
                output: match output {
                    AlertOutput::Text => logpipe_alerting::BacktestOutput::Text,
                    AlertOutput::Json => logpipe_alerting::BacktestOutput::Json,
                },
            },
        ),
        Command::Standalone => service::main::<standalone::Standalone>(env, &all, &RELEASE),
        Command::Generate(args) => generate::run(&args),
        Command::Verify {
            index,
            public_key,
            json,
        } => verify(&index, public_key.as_deref(), json),
        Command::Search {
            query,
            since,
            from,
            to,
            limit,
            output,
            follow,
        } => logpipe_query::run_search(
            &env,
            &logpipe_query::SearchArgs {
                query,
                since,
                from,
                to,
                limit,
                output: match output {
                    Output::Table => logpipe_query::Output::Table,
                    Output::Json => logpipe_query::Output::Json,
                    Output::Raw => logpipe_query::Output::Raw,
                },
                follow,
            },
        ),
        Command::Config { role, markdown } => {
            let wanted = role.map(|role| format!("{role:?}").to_lowercase());
            let chosen = sections().into_iter().filter(|(name, _)| match &wanted {
                None => true,
                Some(role) if role == "standalone" => *name != "search",
                Some(role) if role == "search" => *name == "search",
                Some(role) => *name == "shared" || name == role,
            });
            let mut chosen: Vec<_> = chosen.collect();
            if wanted.as_deref() == Some("indexer") {
                // The indexer serves the search API over its own partitions with the query
                // service's access control and time limit.
                chosen.push((
                    "query (the indexer's search API)",
                    logpipe_query::serve::VARS.to_vec(),
                ));
            }
            // A closed pipe (`logpipe config | head`) ends the output, not the process with a panic.
            let mut stdout = std::io::stdout().lock();
            for (name, vars) in chosen {
                let section = logpipe_common::config::render_section(name, &vars, markdown);
                if std::io::Write::write_all(&mut stdout, section.as_bytes()).is_err() {
                    break;
                }
            }
            ExitCode::SUCCESS
        }
    }
}

/// The copy of an index at `url` restored into a new temporary directory.
fn restore_copy(url: &str) -> anyhow::Result<tempfile::TempDir> {
    let dir = tempfile::Builder::new()
        .prefix("logpipe-verify-")
        .tempdir()?;
    let layout = logpipe_store::IndexLayout::at(dir.path());
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let restored = runtime.block_on(async {
        let archive = logpipe_store::archive::Archive::open(url, "", std::env::vars()).await?;
        archive
            .restore(&layout, logpipe_store::archive::Days::All)
            .await
    })?;
    match restored {
        Some(_) => Ok(dir),
        None => anyhow::bail!("no copy of an index there (no manifest.json)"),
    }
}

/// `logpipe verify`: 0 when the stores verify, 1 when they do not, 2 when one cannot be
/// read or the key is no key.
fn verify(indexes: &[std::path::PathBuf], public_key: Option<&str>, json: bool) -> ExitCode {
    use logpipe_store::{digest, verify};
    let key = match public_key.map(digest::public_key).transpose() {
        Ok(key) => key,
        Err(reason) => {
            eprintln!("--public-key: {reason}");
            return ExitCode::from(2);
        }
    };
    // A copy in object storage: its last complete round restored into a temporary
    // directory, and verified there.
    let mut restored = Vec::new();
    let mut layouts = Vec::new();
    for index in indexes {
        let root = match index.to_str().filter(|text| text.contains("://")) {
            Some(url) => match restore_copy(url) {
                Ok(dir) => {
                    let root = dir.path().to_path_buf();
                    restored.push(dir);
                    root
                }
                Err(error) => {
                    eprintln!("{url}: {error}");
                    return ExitCode::from(2);
                }
            },
            None => index.clone(),
        };
        if !root.is_dir() {
            eprintln!("{}: no such directory", index.display());
            return ExitCode::from(2);
        }
        layouts.push(logpipe_store::IndexLayout::at(&root));
    }
    let index = &indexes[0];
    match verify::verify_all(&layouts, key.as_ref()) {
        Ok(report) => {
            if json {
                println!(
                    "{}",
                    serde_json::to_string_pretty(&report).unwrap_or_default()
                );
            } else {
                print!("{}", verify::render(&report, index));
            }
            if report.ok {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            }
        }
        Err(error) => {
            eprintln!("{error}");
            ExitCode::from(2)
        }
    }
}
