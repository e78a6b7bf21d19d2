//! Integration tests of the indexer against a real broker (tansu) and real indexes on disk.

mod broker;
mod util;
