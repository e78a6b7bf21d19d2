//! A supervised `tansu` broker: the Kafka-compatible broker `logpipe standalone` runs when
//! no external cluster is configured, and the one tests run against.

use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use rdkafka::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};

use crate::error::{Error, Result};

/// Where `./dev` installs tools when they are not on `PATH`.
pub const TOOLS_BIN_DIR: &str = "/var/tmp/logpipe/tools/bin";
/// The broker's executable name.
pub const TANSU: &str = "tansu";
/// How long a stopped broker gets to exit after SIGTERM before it is killed.
const STOP_GRACE: Duration = Duration::from_secs(5);

/// Finds the tansu executable: `explicit` if given, else on `PATH`, else in
/// [`TOOLS_BIN_DIR`].
pub fn locate_tansu(explicit: Option<&Path>) -> Result<PathBuf> {
    if let Some(path) = explicit {
        return if path.is_file() {
            Ok(path.to_owned())
        } else {
            Err(Error::Broker(format!(
                "tansu executable {} not found",
                path.display()
            )))
        };
    }
    let on_path = std::env::var_os("PATH")
        .into_iter()
        .flat_map(|paths| std::env::split_paths(&paths).collect::<Vec<_>>())
        .map(|dir| dir.join(TANSU));
    on_path
        .chain(std::iter::once(Path::new(TOOLS_BIN_DIR).join(TANSU)))
        .find(|candidate| candidate.is_file())
        .ok_or_else(|| {
            Error::Broker(format!(
                "tansu not found on PATH or in {TOOLS_BIN_DIR}: run ./dev setup to install it"
            ))
        })
}

/// One tansu process listening on `127.0.0.1:<port>` with its SQLite storage in a
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
        self.dir.join("tansu.log")
    }

    /// Starts the process and waits until it answers a metadata request.
    pub fn start(&mut self, timeout: Duration) -> Result<()> {
        if self.is_running() {
            return Ok(());
        }
        std::fs::create_dir_all(&self.dir)?;
        self.stop_orphan();
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.log_path())?;
        let url = format!("tcp://127.0.0.1:{}", self.port);
        // The SQLite path is relative to the working directory.
        let child = Command::new(&self.binary)
            .current_dir(&self.dir)
            .args([
                "broker",
                "--listener-url",
                &url,
                "--advertised-listener-url",
                &url,
            ])
            .args(["--storage-engine", "sqlite://tansu.db"])
            .env("RUST_LOG", "warn")
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .spawn()
            .map_err(|error| {
                Error::Broker(format!("starting {}: {error}", self.binary.display()))
            })?;
        if let Err(error) = std::fs::write(self.pid_path(), child.id().to_string()) {
            tracing::warn!(%error, path = %self.pid_path().display(), "recording the broker's pid failed");
        }
        self.child = Some(child);
        self.wait_ready(timeout)
    }

    fn pid_path(&self) -> PathBuf {
        self.dir.join("tansu.pid")
    }

    /// A supervisor killed with SIGKILL leaves its broker running, holding the port and
    /// the storage. The next start finds it by the pid file, checks it is a tansu working
    /// in this directory, and stops it.
    fn stop_orphan(&self) {
        let Some(pid) = std::fs::read_to_string(self.pid_path())
            .ok()
            .and_then(|text| text.trim().parse::<i32>().ok())
        else {
            return;
        };
        let proc = PathBuf::from(format!("/proc/{pid}"));
        let is_tansu = std::fs::read(proc.join("cmdline"))
            .is_ok_and(|cmdline| String::from_utf8_lossy(&cmdline).contains("tansu"));
        let here = match (
            std::fs::read_link(proc.join("cwd")),
            std::fs::canonicalize(&self.dir),
        ) {
            (Ok(cwd), Ok(dir)) => cwd == dir,
            _ => false,
        };
        if !(is_tansu && here) {
            return;
        }
        tracing::warn!(pid, dir = %self.dir.display(), "stopping a broker left running by an earlier supervisor");
        let _ = nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(pid),
            nix::sys::signal::Signal::SIGKILL,
        );
        let deadline = Instant::now() + STOP_GRACE;
        while process_alive(pid) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
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
                    "tansu exited during startup; see {}",
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
                "tansu on port {} (log: {})",
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

/// Whether a process runs: it exists and is not a zombie waiting to be reaped.
pub fn process_alive(pid: i32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|stat| {
        // "pid (comm) S …": the state follows the last parenthesis.
        stat.rsplit_once(')')
            .and_then(|(_, rest)| rest.trim_start().chars().next())
            .is_some_and(|state| state != 'Z' && state != 'X')
    })
}
