//! Integration tests of the indexer against a real broker (tansu) and real indexes on disk;
//! librdkafka's mock cluster where a fault must be injected.

mod archive;
mod broker;
mod outage;
mod util;
