//! Integration tests of the collector, on the shared third-party test data.
