//! Running the `logpipe` binary and reading its JSON log lines.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::Value;

pub const BIN: &str = env!("CARGO_BIN_EXE_logpipe");

/// The binary run to completion with exactly these `LOGPIPE_*`/`PORT` variables.
pub fn run(args: &[&str], env: &[(&str, &str)]) -> std::process::Output {
    command(args, env).output().unwrap()
}

fn command(args: &[&str], env: &[(&str, &str)]) -> Command {
    let mut command = Command::new(BIN);
    command.args(args);
    for (name, _) in std::env::vars() {
        if name.starts_with("LOGPIPE_") || name == "PORT" {
            command.env_remove(name);
        }
    }
    command.envs(env.iter().copied());
    command
}

/// A running `logpipe` process whose stdout JSON lines are collected; killed on drop.
pub struct Running {
    child: Child,
    lines: Arc<Mutex<Vec<Value>>>,
}

impl Running {
    pub fn start(args: &[&str], env: &[(&str, &str)]) -> Self {
        let mut child = command(args, env)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let lines = Arc::new(Mutex::new(Vec::new()));
        let sink = lines.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                let value = serde_json::from_str(&line)
                    .unwrap_or_else(|_| panic!("stdout line is not JSON: {line}"));
                sink.lock().unwrap().push(value);
            }
        });
        Running { child, lines }
    }

    pub fn lines(&self) -> Vec<Value> {
        self.lines.lock().unwrap().clone()
    }

    /// Waits for a log line matching `predicate`.
    pub fn wait_for(
        &self,
        what: &str,
        timeout: Duration,
        predicate: impl Fn(&Value) -> bool,
    ) -> Value {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(line) = self.lines().into_iter().find(|line| predicate(line)) {
                return line;
            }
            assert!(
                Instant::now() < deadline,
                "no {what} log line within {timeout:?}; got:\n{:#?}",
                self.lines()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    pub fn wait_for_message(&self, message: &str, timeout: Duration) -> Value {
        self.wait_for(message, timeout, |line| line["message"] == message)
    }

    /// The port the process bound, from its `listening` line.
    pub fn port(&self) -> u16 {
        let line = self.wait_for_message("listening", Duration::from_secs(30));
        line["port"].as_u64().unwrap() as u16
    }

    pub fn pid(&self) -> i32 {
        self.child.id() as i32
    }

    pub fn signal(&self, signal: nix::sys::signal::Signal) {
        let pid = nix::unistd::Pid::from_raw(self.child.id() as i32);
        nix::sys::signal::kill(pid, signal).unwrap();
    }

    /// Waits for the process to exit, at most `timeout`.
    pub fn wait(&mut self, timeout: Duration) -> Option<ExitStatus> {
        let deadline = Instant::now() + timeout;
        while Instant::now() < deadline {
            if let Some(status) = self.child.try_wait().unwrap() {
                return Some(status);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        None
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The processes whose parent is `pid`.
pub fn children(pid: i32) -> Vec<i32> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .filter_map(|entry| entry.ok()?.file_name().to_str()?.parse::<i32>().ok())
        .filter(|child| {
            std::fs::read_to_string(format!("/proc/{child}/stat")).is_ok_and(|stat| {
                // "pid (comm) S ppid …": the fields after the last parenthesis.
                stat.rsplit_once(')')
                    .and_then(|(_, rest)| rest.split_whitespace().nth(1)?.parse::<i32>().ok())
                    == Some(pid)
            })
        })
        .collect()
}

/// GET `path` on the process's port: status and body.
pub fn get(port: u16, path: &str) -> (u16, String) {
    let response = reqwest::blocking::get(format!("http://127.0.0.1:{port}{path}")).unwrap();
    (response.status().as_u16(), response.text().unwrap())
}

/// Polls `path` until it answers `status`.
pub fn wait_for_status(port: u16, path: &str, status: u16, timeout: Duration) -> String {
    let deadline = Instant::now() + timeout;
    loop {
        let (got, body) = get(port, path);
        if got == status {
            return body;
        }
        assert!(
            Instant::now() < deadline,
            "{path} answered {got} {body} after {timeout:?}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// A small deterministic generator; the seed is printed so a failing run can be replayed.
pub struct Rng(u64);

impl Rng {
    pub fn from_time() -> Self {
        let seed = std::env::var("LOGPIPE_DRILL_SEED")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| {
                std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .unwrap()
                    .as_nanos() as u64
                    | 1
            });
        eprintln!("drill seed: {seed} (LOGPIPE_DRILL_SEED)");
        Rng(seed)
    }

    pub fn below(&mut self, bound: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % bound
    }
}

/// What a webhook receiver got: each request's headers, body and arrival time (seconds
/// since the epoch), in arrival order.
pub type Calls = Arc<Mutex<Vec<(axum::http::HeaderMap, axum::body::Bytes, i64)>>>;

/// A webhook receiver on a loopback port of its own, served on `runtime`, recording every
/// `POST /hook`.
pub fn webhook_receiver(runtime: &tokio::runtime::Runtime) -> (std::net::SocketAddr, Calls) {
    use axum::extract::State;
    async fn hook(
        State(calls): State<Calls>,
        headers: axum::http::HeaderMap,
        body: axum::body::Bytes,
    ) -> &'static str {
        let received = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs() as i64)
            .unwrap_or(0);
        calls.lock().unwrap().push((headers, body, received));
        "ok"
    }
    let calls: Calls = Arc::default();
    let router = axum::Router::new()
        .route("/hook", axum::routing::post(hook))
        .with_state(calls.clone());
    let address = runtime.block_on(async {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
        address
    });
    (address, calls)
}

pub use logpipe_store::testkit::write_index;
