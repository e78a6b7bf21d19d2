//! Integration tests of logpipe-common: the event contract over real third-party payloads
//! and property tests, and the Kafka settings against a real broker and the mock cluster.

mod contract;
mod kafka;
mod util;
