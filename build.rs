//! Release identity: the commit the binary is built from, whether the tracked files
//! differed from it, and the compiler, for `logpipe --version`, the startup log line and
//! the `logpipe_build_info` metric.
//!
//! Read with `git` from the checkout. Where there is no repository (a container build,
//! whose context leaves `.git` out), `LOGPIPE_BUILD_COMMIT` and `LOGPIPE_BUILD_DIRTY`
//! name them instead; without either the commit is `unknown`.

use std::path::Path;
use std::process::Command;

fn main() {
    println!("cargo:rerun-if-env-changed=LOGPIPE_BUILD_COMMIT");
    println!("cargo:rerun-if-env-changed=LOGPIPE_BUILD_DIRTY");
    let (commit, dirty) = match from_git() {
        Some(found) => found,
        None => (
            non_empty_env("LOGPIPE_BUILD_COMMIT").unwrap_or_else(|| "unknown".into()),
            match non_empty_env("LOGPIPE_BUILD_DIRTY").as_deref() {
                Some("true" | "1") => "true",
                Some("false" | "0") => "false",
                _ => "unknown",
            },
        ),
    };
    let rustc = rustc_version().unwrap_or_else(|| "unknown".into());
    let version = std::env::var("CARGO_PKG_VERSION").unwrap_or_default();
    let described = match dirty {
        "true" => format!("{version} (commit {commit}, modified)"),
        _ => format!("{version} (commit {commit})"),
    };
    println!("cargo:rustc-env=LOGPIPE_BUILD_COMMIT={commit}");
    println!("cargo:rustc-env=LOGPIPE_BUILD_DIRTY={dirty}");
    println!("cargo:rustc-env=LOGPIPE_BUILD_RUSTC={rustc}");
    println!("cargo:rustc-env=LOGPIPE_BUILD_VERSION={described}");
}

/// The commit and whether tracked files differ from it, with the files whose change
/// must run this script again: `HEAD`, the branch it points to, the packed refs, and
/// every tracked file (an edit makes the tree dirty without touching git).
fn from_git() -> Option<(String, &'static str)> {
    let commit = git(&["rev-parse", "HEAD"])?;
    // Without optional locks `status` leaves the index alone, which would otherwise be
    // rewritten here and count as a change next time.
    let status = git(&[
        "--no-optional-locks",
        "status",
        "--porcelain",
        "--untracked-files=no",
    ])?;
    let dirty = if status.is_empty() { "false" } else { "true" };
    let mut watched = vec!["HEAD".to_owned(), "packed-refs".into()];
    if let Some(branch) = git(&["symbolic-ref", "-q", "HEAD"]) {
        watched.push(branch);
    }
    for name in watched {
        if let Some(path) = git(&["rev-parse", "--git-path", &name]) {
            // Paths are relative to the working directory (the package root) or absolute.
            if Path::new(&path).exists() {
                println!("cargo:rerun-if-changed={path}");
            }
        }
    }
    // Relative to the package root, where this script runs, so that a checkout in
    // another folder is judged by its own files.
    if let Some(files) = git(&["ls-files", "-z"]) {
        for file in files.split('\0').filter(|f| !f.is_empty()) {
            println!("cargo:rerun-if-changed={file}");
        }
    }
    Some((commit, dirty))
}

fn git(args: &[&str]) -> Option<String> {
    let output = Command::new("git").args(args).output().ok()?;
    if !output.status.success() {
        return None;
    }
    Some(String::from_utf8(output.stdout).ok()?.trim().to_owned())
}

fn non_empty_env(name: &str) -> Option<String> {
    std::env::var(name)
        .ok()
        .map(|value| value.trim().to_owned())
        .filter(|value| !value.is_empty())
}

/// `1.95.0` from `rustc 1.95.0 (59807616e 2026-04-14)`.
fn rustc_version() -> Option<String> {
    let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".into());
    let output = Command::new(rustc).arg("--version").output().ok()?;
    let text = String::from_utf8(output.stdout).ok()?;
    text.split_whitespace().nth(1).map(str::to_owned)
}
