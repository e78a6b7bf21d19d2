//! `logpipe generate`: the command-line face of the demo workload generator.

use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use logpipe_common::config::{Env, Kind, VarSpec};

use super::generator::{GenerateOptions, Generator};
use super::workload::Framing;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Root of the kubelet layout, e.g. /var/log/pods or a scratch directory.
    dir: PathBuf,
    /// Entries per second (a stack trace is one entry); 0 writes as fast as possible.
    #[arg(long, default_value_t = 100.0)]
    rate: f64,
    /// Stop after this many entries.
    #[arg(long)]
    lines: Option<u64>,
    /// Stop after this long (e.g. 30s, 10m); runs until Ctrl-C otherwise.
    #[arg(long)]
    duration: Option<String>,
    /// Rotate a container's 0.log at this size, as kubelet's containerLogMaxSize.
    #[arg(long, default_value = "10MiB")]
    rotate_size: String,
    /// Rotated files kept per container (kubelet's containerLogMaxFiles less one).
    #[arg(long, default_value_t = 4)]
    keep_rotated: usize,
    /// Seed of the content; the same seed writes the same lines.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Frame every container this way instead of the mix (cri, docker).
    #[arg(long, value_enum)]
    framing: Option<FramingArg>,
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
enum FramingArg {
    Cri,
    Docker,
}

/// Reads a size or duration argument in the configuration's own forms.
fn argument(name: &'static str, kind: Kind, value: &str) -> (Env, VarSpec) {
    (
        Env::from_pairs([(name, value)]),
        VarSpec::new(name, kind, None, ""),
    )
}

pub fn run(args: &Args) -> ExitCode {
    match options(args) {
        Ok(options) => generate(options),
        Err(message) => {
            eprintln!("logpipe generate: {message}");
            ExitCode::from(2)
        }
    }
}

fn options(args: &Args) -> Result<GenerateOptions, String> {
    if !(args.rate >= 0.0 && args.rate.is_finite()) {
        return Err(format!(
            "--rate {}: expected a number of entries per second, 0 or more",
            args.rate
        ));
    }
    let mut options = GenerateOptions::new(&args.dir);
    options.rate = args.rate;
    options.limit = args.lines;
    options.duration = match &args.duration {
        Some(text) => {
            let (env, spec) = argument("--duration", Kind::Duration, text);
            Some(env.duration(&spec).map_err(|e| e.to_string())?)
        }
        None => None,
    };
    let (env, spec) = argument("--rotate-size", Kind::Size, &args.rotate_size);
    options.rotate_bytes = env.size(&spec).map_err(|e| e.to_string())?;
    options.keep_rotated = args.keep_rotated;
    options.seed = args.seed;
    options.framing = args.framing.map(|f| match f {
        FramingArg::Cri => Framing::Cri,
        FramingArg::Docker => Framing::DockerJson,
    });
    Ok(options)
}

fn generate(options: GenerateOptions) -> ExitCode {
    let dir = options.dir.clone();
    let stop = Arc::new(AtomicBool::new(false));
    stop_on_interrupt(stop.clone());
    let mut generator = match Generator::new(options) {
        Ok(generator) => generator,
        Err(error) => {
            eprintln!(
                "logpipe generate: creating logs under {}: {error}",
                dir.display()
            );
            return ExitCode::from(2);
        }
    };
    let terminal = std::io::stderr().is_terminal();
    let result = generator.run(&stop, &mut |summary| {
        if terminal {
            eprint!(
                "\r{} entries, {} lines, {:.1} MiB, {} rotations, {:.0} entries/s   ",
                summary.entries,
                summary.records,
                summary.bytes as f64 / (1024.0 * 1024.0),
                summary.rotations,
                summary.entries as f64 / summary.elapsed_secs.max(0.001),
            );
        }
    });
    if terminal {
        eprintln!();
    }
    match result {
        Ok(summary) => {
            let mut stdout = std::io::stdout().lock();
            let _ = writeln!(
                stdout,
                "{}",
                serde_json::to_string(&summary).unwrap_or_default()
            );
            ExitCode::SUCCESS
        }
        Err(error) => {
            eprintln!("logpipe generate: writing under {}: {error}", dir.display());
            ExitCode::FAILURE
        }
    }
}

/// Sets `stop` on Ctrl-C or SIGTERM, so the summary is still printed.
fn stop_on_interrupt(stop: Arc<AtomicBool>) {
    std::thread::spawn(move || {
        let Ok(runtime) = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
        else {
            return;
        };
        runtime.block_on(async {
            let Ok(mut term) =
                tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
            else {
                return;
            };
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term.recv() => {}
            }
        });
        stop.store(true, Ordering::Relaxed);
    });
}
