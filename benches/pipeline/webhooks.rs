//! A webhook receiver on loopback noting when each probe's alert arrives.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::{Clock, SEARCH_POLL};

type Arrivals = Arc<Mutex<HashMap<u64, u64>>>;

/// A webhook receiver on loopback: the first arrival time of each probe's alert.
pub struct Webhooks {
    pub address: SocketAddr,
    arrivals: Arrivals,
}

impl Webhooks {
    pub fn start(runtime: &tokio::runtime::Runtime, clock: Clock) -> Self {
        use axum::body::Bytes;
        use axum::extract::State;
        use axum::routing::post;

        async fn hook(
            State((arrivals, clock)): State<(Arrivals, Clock)>,
            body: Bytes,
        ) -> &'static str {
            let at = clock.now_us();
            let value: Value = serde_json::from_slice(&body).unwrap_or_default();
            if value["status"] == "firing"
                && let Some(id) = value["event"]["attributes"]["probe_id"].as_u64()
            {
                arrivals.lock().unwrap().entry(id).or_insert(at);
            }
            "ok"
        }
        let arrivals: Arrivals = Arc::default();
        let router = axum::Router::new()
            .route("/hook", post(hook))
            .with_state((arrivals.clone(), clock));
        let address = runtime.block_on(async {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            let address = listener.local_addr().unwrap();
            tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
            address
        });
        Webhooks { address, arrivals }
    }

    pub fn arrivals(&self) -> HashMap<u64, u64> {
        self.arrivals.lock().unwrap().clone()
    }

    pub fn wait_for(&self, ids: &[u64], timeout: Duration) {
        let deadline = Instant::now() + timeout;
        while Instant::now() < deadline {
            let arrivals = self.arrivals();
            if ids.iter().all(|id| arrivals.contains_key(id)) {
                return;
            }
            std::thread::sleep(SEARCH_POLL);
        }
        panic!("no webhook call for probes {ids:?} within {timeout:?}");
    }
}
