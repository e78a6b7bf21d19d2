//! Liveness and readiness state: roles register named readiness checks and heartbeats of
//! their loops; the ops server reports them on `/readyz` and `/healthz`.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use serde::Serialize;

#[derive(Debug, Clone, Default)]
pub struct Health {
    inner: Arc<Mutex<State>>,
}

#[derive(Debug, Default)]
struct State {
    checks: BTreeMap<String, Check>,
    loops: BTreeMap<String, Loop>,
    shutting_down: bool,
}

#[derive(Debug, Clone)]
struct Check {
    ready: bool,
    detail: String,
    /// Whether readiness depends on it; an optional check is only reported.
    required: bool,
    /// Whether its owner has reported a state yet.
    reported: bool,
}

#[derive(Debug, Clone)]
struct Loop {
    last_beat: Instant,
    max_silence: Duration,
}

/// One readiness check, owned by the task that knows its state.
#[derive(Debug, Clone)]
pub struct Readiness {
    health: Health,
    name: String,
}

/// The heartbeat of one loop; liveness fails when it stays silent too long. Dropping it
/// unregisters the loop: a loop that ended on purpose is not stalled.
#[derive(Debug)]
pub struct Heartbeat {
    health: Health,
    name: String,
}

/// What `/readyz` and `/healthz` answer.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Report {
    pub ok: bool,
    /// Every check or loop, with "ok" or why not.
    pub checks: BTreeMap<String, String>,
}

impl Health {
    pub fn new() -> Self {
        Health::default()
    }

    fn state(&self) -> MutexGuard<'_, State> {
        // A panic while holding the lock leaves only plain data behind; keep serving it.
        self.inner
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Registers a readiness check, not ready until told otherwise.
    pub fn readiness(&self, name: impl Into<String>) -> Readiness {
        self.register(name.into(), true)
    }

    /// Registers a check that `/readyz` reports but does not depend on: a backing
    /// service only some of the role's work needs (Kafka for the query service's live
    /// tail, while search goes on without it).
    pub fn optional(&self, name: impl Into<String>) -> Readiness {
        self.register(name.into(), false)
    }

    fn register(&self, name: String, required: bool) -> Readiness {
        self.state().checks.insert(
            name.clone(),
            Check {
                ready: false,
                detail: "starting".into(),
                required,
                reported: false,
            },
        );
        Readiness {
            health: self.clone(),
            name,
        }
    }

    /// Whether the check `name` passes now; `None` when there is no such check or it has
    /// not reported yet.
    pub fn check_passes(&self, name: &str) -> Option<bool> {
        self.state()
            .checks
            .get(name)
            .filter(|check| check.reported)
            .map(|check| check.ready)
    }

    /// Registers a loop that must beat at least every `max_silence`.
    pub fn heartbeat(&self, name: impl Into<String>, max_silence: Duration) -> Heartbeat {
        let name = name.into();
        self.state().loops.insert(
            name.clone(),
            Loop {
                last_beat: Instant::now(),
                max_silence,
            },
        );
        Heartbeat {
            health: self.clone(),
            name,
        }
    }

    /// From now on the process is not ready: it is draining.
    pub fn set_shutting_down(&self) {
        self.state().shutting_down = true;
    }

    pub fn readiness_report(&self) -> Report {
        let state = self.state();
        let mut checks: BTreeMap<String, String> = state
            .checks
            .iter()
            .map(|(name, check)| {
                let shown = match (check.ready, check.required) {
                    (true, _) => "ok".to_owned(),
                    (false, true) => check.detail.clone(),
                    (false, false) => format!("{} (not required)", check.detail),
                };
                (name.clone(), shown)
            })
            .collect();
        if state.shutting_down {
            checks.insert("shutdown".into(), "shutting down".into());
        }
        Report {
            ok: !state.shutting_down
                && state
                    .checks
                    .values()
                    .all(|check| check.ready || !check.required),
            checks,
        }
    }

    pub fn liveness_report(&self) -> Report {
        let state = self.state();
        let now = Instant::now();
        let checks: BTreeMap<String, String> = state
            .loops
            .iter()
            .map(|(name, beat)| {
                let silent = now.duration_since(beat.last_beat);
                let shown = if silent <= beat.max_silence {
                    "ok".to_owned()
                } else {
                    format!("stalled: no progress for {} ms", silent.as_millis())
                };
                (name.clone(), shown)
            })
            .collect();
        Report {
            ok: checks.values().all(|shown| shown == "ok"),
            checks,
        }
    }
}

impl Readiness {
    pub fn set_ready(&self) {
        self.set(true, String::new());
    }

    pub fn set_not_ready(&self, reason: impl Into<String>) {
        self.set(false, reason.into());
    }

    fn set(&self, ready: bool, detail: String) {
        if let Some(check) = self.health.state().checks.get_mut(&self.name) {
            check.ready = ready;
            check.detail = detail;
            check.reported = true;
        }
    }
}

impl Heartbeat {
    pub fn beat(&self) {
        if let Some(beat) = self.health.state().loops.get_mut(&self.name) {
            beat.last_beat = Instant::now();
        }
    }
}

impl Drop for Heartbeat {
    fn drop(&mut self) {
        self.health.state().loops.remove(&self.name);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ready_only_when_every_check_is() {
        let health = Health::new();
        assert!(health.readiness_report().ok, "no checks: ready");
        let kafka = health.readiness("kafka");
        let index = health.readiness("index");
        assert!(!health.readiness_report().ok);
        kafka.set_ready();
        assert!(!health.readiness_report().ok);
        index.set_ready();
        assert!(health.readiness_report().ok);
        kafka.set_not_ready("connection refused");
        let report = health.readiness_report();
        assert!(!report.ok);
        assert_eq!(report.checks["kafka"], "connection refused");
        assert_eq!(report.checks["index"], "ok");
        kafka.set_ready();
        health.set_shutting_down();
        assert!(!health.readiness_report().ok);
    }

    #[test]
    fn optional_checks_are_reported_but_not_required() {
        let health = Health::new();
        let index = health.readiness("index");
        let kafka = health.optional("kafka");
        assert_eq!(health.check_passes("kafka"), None, "not reported yet");
        index.set_ready();
        kafka.set_not_ready("connection refused");
        let report = health.readiness_report();
        assert!(report.ok, "{report:?}");
        assert_eq!(report.checks["kafka"], "connection refused (not required)");
        assert_eq!(health.check_passes("kafka"), Some(false));
        kafka.set_ready();
        assert_eq!(health.check_passes("kafka"), Some(true));
        assert_eq!(health.readiness_report().checks["kafka"], "ok");
        assert_eq!(health.check_passes("nothing"), None);
        health.set_shutting_down();
        assert!(!health.readiness_report().ok);
    }

    #[test]
    fn silent_loop_fails_liveness() {
        let health = Health::new();
        let beat = health.heartbeat("tail", Duration::from_millis(20));
        assert!(health.liveness_report().ok);
        std::thread::sleep(Duration::from_millis(40));
        let report = health.liveness_report();
        assert!(!report.ok);
        assert!(report.checks["tail"].starts_with("stalled"));
        beat.beat();
        assert!(health.liveness_report().ok);
    }
}
