//! Helpers for tests across the workspace: a real tansu broker on a free loopback port,
//! librdkafka's mock cluster for fault injection, a real S3 server (SeaweedFS), events
//! produced to a topic, a consumer at the partitions' end, and the shared test data. The
//! store's `testkit` feature writes test indexes.

mod broker;
mod consumer;
mod events;
pub mod kube_api;
mod mock;
mod object_store;

use std::path::PathBuf;

pub use broker::{TestBroker, free_port};
pub use consumer::{consumer_at_end, messages_from_start};
pub use events::{audit_events, event_with, produce_all, produce_events, sample_event};
pub use kube_api::FakeApiServer;
pub use mock::MockKafka;
pub use object_store::{BUCKET, TestObjectStore};

/// A number from the environment variable `name` (a drill or benchmark size), or
/// `default` when it is unset or not a number.
pub fn env_number<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|value| value.parse().ok())
        .unwrap_or(default)
}

/// The third-party test material in `../shared/data`, beside the checkout. Panics with a
/// clear message when it is missing.
pub fn shared_data() -> PathBuf {
    // The checkout has `shared/` beside it. The package being tested names the checkout
    // at run time; this crate's own directory as built may be another clone's, when the
    // build came from a target directory that clone shared.
    let roots = [
        std::env::var_os("CARGO_MANIFEST_DIR").map(PathBuf::from),
        Some(PathBuf::from(env!("CARGO_MANIFEST_DIR"))),
    ];
    std::env::var_os("LOGPIPE_TEST_DATA")
        .map(PathBuf::from)
        .into_iter()
        .chain(roots.into_iter().flatten().flat_map(|root| {
            root.ancestors()
                .skip(1)
                .take(3)
                .map(|up| up.join("shared/data"))
                .collect::<Vec<_>>()
        }))
        .find(|path| path.join("MANIFEST.tsv").is_file())
        .unwrap_or_else(|| {
            panic!(
                "test data not found: expected ../shared/data beside the checkout (or LOGPIPE_TEST_DATA)"
            )
        })
}

/// The directory of the package being tested, as it runs (`CARGO_MANIFEST_DIR` of the run,
/// else `built`, the one it was built in).
pub fn package_dir(built: &str) -> PathBuf {
    std::env::var_os("CARGO_MANIFEST_DIR").map_or_else(|| PathBuf::from(built), PathBuf::from)
}

/// A tokens file's text: `shop-token` sees `shop` and `shop-*`, `billing-token` sees
/// `billing`, `admin-token` everything.
pub fn tokens_file() -> String {
    use crate::tokens::token_hash;
    format!(
        "- name: shop\n  token_sha256: {}\n  namespaces: [\"shop\", \"shop-*\"]\n\
         - name: billing\n  token_sha256: {}\n  namespaces: [billing]\n\
         - name: admin\n  token_sha256: {}\n  namespaces: [\"*\"]\n\
         - name: checkout\n  token_sha256: {}\n  namespaces: [shop]\n  labels: app=checkout\n",
        token_hash("shop-token"),
        token_hash("billing-token"),
        token_hash("admin-token"),
        token_hash("checkout-token"),
    )
}
