//! Integration tests of the alerting service against a real broker (tansu) and a real
//! webhook receiver on loopback.

mod service;
