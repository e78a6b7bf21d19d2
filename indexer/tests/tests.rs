//! Integration tests of the indexer against a real broker.
