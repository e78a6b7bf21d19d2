//! Graceful shutdown: SIGTERM or SIGINT cancels one token that every task watches; the
//! process then waits for its tracked tasks to drain, at most for the grace period.

use std::time::Duration;

use tokio::signal::unix::{SignalKind, signal};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::{info, warn};

/// How draining ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Drained {
    /// Every task finished.
    Clean,
    /// The grace period ran out with tasks still running.
    TimedOut,
}

/// Cancels `token` on the first SIGTERM or SIGINT.
pub fn cancel_on_signal(token: CancellationToken) -> std::io::Result<()> {
    let mut terminate = signal(SignalKind::terminate())?;
    let mut interrupt = signal(SignalKind::interrupt())?;
    tokio::spawn(async move {
        let name = tokio::select! {
            _ = terminate.recv() => "SIGTERM",
            _ = interrupt.recv() => "SIGINT",
            () = token.cancelled() => return,
        };
        info!(signal = name, "shutting down");
        token.cancel();
    });
    Ok(())
}

/// Waits for every task in `tasks` to end, at most `grace`.
pub async fn drain(tasks: &TaskTracker, grace: Duration) -> Drained {
    tasks.close();
    match tokio::time::timeout(grace, tasks.wait()).await {
        Ok(()) => Drained::Clean,
        Err(_) => {
            warn!(
                grace_ms = grace.as_millis() as u64,
                tasks = tasks.len(),
                "tasks still running after the shutdown grace period"
            );
            Drained::TimedOut
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn drain_waits_for_tasks_then_gives_up() {
        let tasks = TaskTracker::new();
        let token = CancellationToken::new();
        let child = token.clone();
        tasks.spawn(async move { child.cancelled().await });
        token.cancel();
        assert_eq!(drain(&tasks, Duration::from_secs(5)).await, Drained::Clean);

        let stuck = TaskTracker::new();
        stuck.spawn(std::future::pending::<()>());
        assert_eq!(
            drain(&stuck, Duration::from_millis(20)).await,
            Drained::TimedOut
        );
    }
}
