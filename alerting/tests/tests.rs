//! Integration tests of the alerting service against a real broker (tansu), a real
//! webhook receiver on loopback and a real Alertmanager.

mod alertmanager;
mod service;
mod sigma;
