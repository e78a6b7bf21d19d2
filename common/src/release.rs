//! Which build a process is: the version, the commit it was built from and whether the
//! tree had changes, and the compiler. The binary's build script finds them; every role
//! logs them at startup and exports them as the `logpipe_build_info` metric, so a log
//! line or a scrape names the exact code that ran.

use serde::Serialize;

/// The identity of the running build.
#[derive(Debug, Clone, Copy, Serialize, PartialEq, Eq)]
pub struct Release {
    /// The package version, e.g. `0.1.0`.
    pub version: &'static str,
    /// The full commit hash, or `unknown` when the build had neither git nor
    /// `LOGPIPE_BUILD_COMMIT`.
    pub commit: &'static str,
    /// `true` when tracked files differed from the commit, `false`, or `unknown`.
    pub dirty: &'static str,
    /// The compiler version, e.g. `1.95.0`.
    pub rustc: &'static str,
}

impl Release {
    /// A build that knows only its version (tests, embedders).
    pub const fn unknown(version: &'static str) -> Self {
        Release {
            version,
            commit: "unknown",
            dirty: "unknown",
            rustc: "unknown",
        }
    }

    /// Sets `logpipe_build_info{version, commit, dirty, rustc, role} 1`.
    pub fn record(&self, role: &'static str) {
        metrics::gauge!(
            "logpipe_build_info",
            "version" => self.version,
            "commit" => self.commit,
            "dirty" => self.dirty,
            "rustc" => self.rustc,
            "role" => role,
        )
        .set(1.0);
    }
}
