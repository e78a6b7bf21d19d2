//! Graceful shutdown in two steps. SIGTERM first makes the process not ready and lets it
//! go on serving for the drain window, while load balancers (a Kubernetes Service's
//! endpoints, an ingress) stop sending it requests; then one token that every task
//! watches is cancelled, and the process waits for its tracked tasks to drain, at most
//! for the grace period.

use std::time::Duration;

use tokio::signal::unix::{SignalKind, signal};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::{info, warn};

use crate::health::Health;

/// How draining ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Drained {
    /// Every task finished.
    Clean,
    /// The grace period ran out with tasks still running.
    TimedOut,
}

/// On the first SIGTERM, marks `health` as shutting down (`/readyz` fails from then on)
/// and cancels `token` after `drain`. SIGINT (Ctrl-C at a terminal, where no load
/// balancer is to be waited for) or a second signal cancels it at once, and so does
/// nothing when `token` is cancelled otherwise (a fatal error).
pub fn cancel_on_signal(
    token: CancellationToken,
    health: Health,
    drain: Duration,
) -> std::io::Result<()> {
    let mut terminate = signal(SignalKind::terminate())?;
    let mut interrupt = signal(SignalKind::interrupt())?;
    tokio::spawn(async move {
        let name = tokio::select! {
            _ = terminate.recv() => "SIGTERM",
            _ = interrupt.recv() => "SIGINT",
            () = token.cancelled() => return,
        };
        health.set_shutting_down();
        let drain = if name == "SIGTERM" {
            drain
        } else {
            Duration::ZERO
        };
        info!(
            signal = name,
            drain_ms = drain.as_millis() as u64,
            "shutting down"
        );
        if !drain.is_zero() {
            tokio::select! {
                () = tokio::time::sleep(drain) => {}
                _ = terminate.recv() => info!(signal = "SIGTERM", "drain window cut short"),
                _ = interrupt.recv() => info!(signal = "SIGINT", "drain window cut short"),
                () = token.cancelled() => {}
            }
        }
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
