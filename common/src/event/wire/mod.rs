//! An event on its way to Kafka with its attributes kept as the application wrote them.
//! Parsing a JSON payload into a tree only to write the same tree out again would be most
//! of the collector's work per record: here each member of the payload's object stays a
//! slice of the record until something must change it (a field taken for `ts`, `level` or
//! `message`, a secret masked), and is written out verbatim. Read back, the message is the
//! same `LogEvent` that `LogEvent::from_raw` builds.
//!
//! - `interpret`: a raw record → a `WireEvent` (time, level, message taken out, the
//!   other members left as slices).
//! - `json`: the `WireEvent` written as the contract's JSON.

mod interpret;
mod json;

use serde_json::Value;
use serde_json::value::RawValue;

use super::{LogEvent, Text};

pub use json::origin_json;

/// One attribute: still the application's text, or a value that was changed.
#[derive(Debug, Clone)]
pub enum Member<'a> {
    Raw(&'a RawValue),
    Parsed(Value),
}

impl Member<'_> {
    /// Whether the value's JSON starts with `byte` (`"` a string, `{` an object), told
    /// without parsing it.
    pub(crate) fn starts_with(&self, byte: u8) -> bool {
        match self {
            Member::Raw(raw) => raw.get().as_bytes().first() == Some(&byte),
            Member::Parsed(Value::String(_)) => byte == b'"',
            Member::Parsed(Value::Object(_)) => byte == b'{',
            Member::Parsed(_) => false,
        }
    }

    /// The value as a tree.
    pub fn to_value(&self) -> Value {
        match self {
            Member::Raw(raw) => serde_json::from_str(raw.get()).unwrap_or(Value::Null),
            Member::Parsed(value) => value.clone(),
        }
    }
}

/// A `LogEvent` whose attributes are `members` (its own `attributes` stay empty).
#[derive(Debug, Clone)]
pub struct WireEvent<'a> {
    pub event: LogEvent,
    pub members: Vec<(Text<'a>, Member<'a>)>,
    /// `event`'s `k8s` and `source` but the source's `offset`, as `origin_json` writes
    /// them: shared by every event of one file, written once for all of them.
    pub origin: Option<&'a [u8]>,
}

impl<'a> WireEvent<'a> {
    /// An event built whole, its attributes as parsed members.
    pub fn from_event(mut event: LogEvent) -> WireEvent<'a> {
        let members = std::mem::take(&mut event.attributes)
            .into_iter()
            .map(|(key, value)| (Text(key.into()), Member::Parsed(value)))
            .collect();
        WireEvent {
            event,
            members,
            origin: None,
        }
    }

    /// The `LogEvent` with its attributes parsed.
    pub fn into_event(self) -> LogEvent {
        let mut event = self.event;
        event.attributes = self
            .members
            .into_iter()
            .map(|(key, member)| {
                let value = member.to_value();
                (key.0.into_owned(), value)
            })
            .collect();
        event
    }
}
