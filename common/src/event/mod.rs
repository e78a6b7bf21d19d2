//! The event contract: one JSON `LogEvent` per Kafka message, shared by every role.

mod borrowed;
mod build;
mod id;
mod level;
mod model;
mod timestamp;
mod wire;

pub use borrowed::{AttributesObject, K8sRef, LogEventRef, Pairs, RawAttributes, SourceRef, Text};
pub use build::RawRecord;
pub use id::EventId;
pub use level::Level;
pub use model::{CONTRACT_VERSION, Flag, K8s, LogEvent, Source, SourceKind, Stream};
pub use timestamp::Timestamp;
pub use wire::{Member, WireEvent, origin_json};
