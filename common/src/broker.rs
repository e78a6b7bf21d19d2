//! The `logpipe-broker` executable run as a process of its own: the broker tests stop,
//! kill and restart while the code under test keeps running. It is the broker
//! `logpipe standalone` embeds, built from this workspace (`cargo build -p logpipe-broker`).

use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use rdkafka::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};

use crate::error::{Error, Result};

/// The broker's executable name.
pub const BROKER_BIN: &str = "logpipe-broker";
/// The variable naming the executable, to run another build of it than the one the tests
/// find by themselves.
pub const BROKER_BIN_VAR: &str = "LOGPIPE_BROKER_BIN";
/// How long a stopped broker gets to exit after SIGTERM before it is killed.
const STOP_GRACE: Duration = Duration::from_secs(5);

/// Finds the `logpipe-broker` executable: `$LOGPIPE_BROKER_BIN` if set, else beside the
/// running executable's build (`target/<profile>/`, for test and bench executables in
/// `target/<profile>/deps/`), else in `$CARGO_TARGET_DIR/debug`.
pub fn locate_broker() -> Result<PathBuf> {
    if let Some(path) = std::env::var_os(BROKER_BIN_VAR) {
        let path = PathBuf::from(path);
        return if path.is_file() {
            Ok(path)
        } else {
            Err(Error::Broker(format!(
                "{BROKER_BIN_VAR}={} is not a file: build it with `cargo build -p logpipe-broker`",
                path.display()
            )))
        };
    }
    let beside_build = std::env::current_exe().ok().and_then(|exe| {
        let dir = exe.parent()?;
        let profile_dir = if dir.ends_with("deps") {
            dir.parent()?
        } else {
            dir
        };
        Some(profile_dir.join(BROKER_BIN))
    });
    let in_target_dir = std::env::var_os("CARGO_TARGET_DIR")
        .map(|dir| Path::new(&dir).join("debug").join(BROKER_BIN));
    let candidates: Vec<PathBuf> = beside_build.into_iter().chain(in_target_dir).collect();
    candidates
        .iter()
        .find(|candidate| candidate.is_file())
        .cloned()
        .ok_or_else(|| {
            Error::Broker(format!(
                "{BROKER_BIN} not found (looked for {BROKER_BIN_VAR}, then {}): build it with \
                 `cargo build -p logpipe-broker` (./dev test does) or set {BROKER_BIN_VAR}",
                candidates
                    .iter()
                    .map(|path| path.display().to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            ))
        })
}

/// One broker process listening on `127.0.0.1:<port>` with its SQLite storage in a
/// directory. Dropping it stops the process.
#[derive(Debug)]
pub struct BrokerProcess {
    binary: PathBuf,
    dir: PathBuf,
    port: u16,
    child: Option<Child>,
}

impl BrokerProcess {
    /// A broker that is not running yet; `start` runs it.
    pub fn new(binary: PathBuf, dir: PathBuf, port: u16) -> Self {
        BrokerProcess {
            binary,
            dir,
            port,
            child: None,
        }
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn bootstrap(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The broker's own output, appended across restarts.
    pub fn log_path(&self) -> PathBuf {
        self.dir.join("broker.log")
    }

    /// Starts the process and waits until it answers a metadata request.
    pub fn start(&mut self, timeout: Duration) -> Result<()> {
        if self.is_running() {
            return Ok(());
        }
        std::fs::create_dir_all(&self.dir)?;
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.log_path())?;
        let child = Command::new(&self.binary)
            .current_dir(&self.dir)
            .arg("--listen")
            .arg(self.bootstrap())
            .arg("--dir")
            .arg(&self.dir)
            .env("RUST_LOG", "warn")
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .spawn()
            .map_err(|error| {
                Error::Broker(format!("starting {}: {error}", self.binary.display()))
            })?;
        self.child = Some(child);
        self.wait_ready(timeout)
    }

    /// Whether the process is alive (reaping it if it exited).
    pub fn is_running(&mut self) -> bool {
        match self.child.as_mut().map(Child::try_wait) {
            Some(Ok(None)) => true,
            Some(_) => {
                self.child = None;
                false
            }
            None => false,
        }
    }

    fn wait_ready(&mut self, timeout: Duration) -> Result<()> {
        let deadline = Instant::now() + timeout;
        let address = SocketAddr::from(([127, 0, 0, 1], self.port));
        while TcpStream::connect_timeout(&address, Duration::from_millis(200)).is_err() {
            if !self.is_running() {
                return Err(Error::Broker(format!(
                    "the broker exited during startup; see {}",
                    self.log_path().display()
                )));
            }
            if Instant::now() >= deadline {
                return Err(self.timeout(timeout));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let consumer: BaseConsumer = ClientConfig::new()
            .set("bootstrap.servers", self.bootstrap())
            .set("log_level", "3")
            .create()?;
        loop {
            let remaining = deadline.saturating_duration_since(Instant::now());
            match consumer.fetch_metadata(None, remaining.min(Duration::from_secs(2))) {
                Ok(_) => return Ok(()),
                Err(_) if Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(100))
                }
                Err(_) => return Err(self.timeout(timeout)),
            }
        }
    }

    fn timeout(&self, timeout: Duration) -> Error {
        Error::Timeout {
            what: format!(
                "the broker on port {} (log: {})",
                self.port,
                self.log_path().display()
            ),
            timeout_ms: timeout.as_millis(),
        }
    }

    /// Stops the process: SIGTERM, then SIGKILL after a grace period.
    pub fn stop(&mut self) {
        let Some(mut child) = self.child.take() else {
            return;
        };
        if let Ok(pid) = i32::try_from(child.id()) {
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(pid),
                nix::sys::signal::Signal::SIGTERM,
            );
        }
        let deadline = Instant::now() + STOP_GRACE;
        while Instant::now() < deadline {
            if let Ok(Some(_)) = child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = child.kill();
        let _ = child.wait();
    }

    /// Kills the process at once, as a crash would.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for BrokerProcess {
    fn drop(&mut self) {
        self.stop();
    }
}
