//! Event ids: 128 bits derived from where a record was read, so reading the same record
//! twice (after a crash, in a replay) gives the same id and later stages can deduplicate.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use xxhash_rust::xxh3::Xxh3;

#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct EventId(u128);

impl EventId {
    /// The id of the record at byte `offset` of the input `identity` (a file's identity,
    /// or an ingest batch's) read on `node`. Fields are length-prefixed so that no two
    /// different triples hash the same bytes.
    pub fn derive(node: &str, identity: &str, offset: u64) -> Self {
        let mut hasher = Xxh3::new();
        for part in [node.as_bytes(), identity.as_bytes()] {
            hasher.update(&(part.len() as u64).to_le_bytes());
            hasher.update(part);
        }
        hasher.update(&offset.to_le_bytes());
        EventId(hasher.digest128())
    }

    pub const fn from_u128(value: u128) -> Self {
        EventId(value)
    }

    pub const fn as_u128(self) -> u128 {
        self.0
    }
}

impl EventId {
    /// Lower-case hexadecimal, written without the formatting machinery (once per event).
    pub(crate) fn hex_bytes(self) -> [u8; 32] {
        const DIGITS: &[u8; 16] = b"0123456789abcdef";
        let mut buffer = [0u8; 32];
        for (index, slot) in buffer.iter_mut().enumerate() {
            let shift = (31 - index) * 4;
            *slot = DIGITS[((self.0 >> shift) & 0xf) as usize];
        }
        buffer
    }
}

impl fmt::Display for EventId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(std::str::from_utf8(&self.hex_bytes()).map_err(|_| fmt::Error)?)
    }
}

impl fmt::Debug for EventId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "EventId({self})")
    }
}

/// The text is not 32 hexadecimal digits.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("an event id is 32 hexadecimal digits")]
pub struct InvalidEventId;

/// The value of each byte as a hexadecimal digit; 0xff for what is none.
const HEX_DIGITS: [u8; 256] = {
    let mut table = [0xff; 256];
    let mut b = 0;
    while b < 256 {
        table[b] = match b as u8 {
            digit @ b'0'..=b'9' => digit - b'0',
            letter @ b'a'..=b'f' => letter - b'a' + 10,
            letter @ b'A'..=b'F' => letter - b'A' + 10,
            _ => 0xff,
        };
        b += 1;
    }
    table
};

impl FromStr for EventId {
    type Err = InvalidEventId;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        if text.len() != 32 {
            return Err(InvalidEventId);
        }
        // Two halves of 16 digits, each in a u64: read for every event of every reader.
        let mut id = 0u128;
        for half in text.as_bytes().chunks_exact(16) {
            let mut value = 0u64;
            let mut invalid = 0u8;
            for &b in half {
                let nibble = HEX_DIGITS[usize::from(b)];
                invalid |= nibble;
                value = value << 4 | u64::from(nibble & 0xf);
            }
            if invalid & 0x80 != 0 {
                return Err(InvalidEventId);
            }
            id = id << 64 | u128::from(value);
        }
        Ok(EventId(id))
    }
}

impl Serialize for EventId {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let buffer = self.hex_bytes();
        serializer.serialize_str(std::str::from_utf8(&buffer).map_err(serde::ser::Error::custom)?)
    }
}

impl<'de> Deserialize<'de> for EventId {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        // Borrowed from the input when it can be: no allocation per event.
        let text = super::Text::<'de>::deserialize(deserializer)?;
        text.as_str().parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_record_same_id() {
        let a = EventId::derive("node-3", "dev=2049,ino=77", 123_456);
        let b = EventId::derive("node-3", "dev=2049,ino=77", 123_456);
        assert_eq!(a, b);
        assert_ne!(a, EventId::derive("node-3", "dev=2049,ino=77", 123_457));
        assert_ne!(a, EventId::derive("node-4", "dev=2049,ino=77", 123_456));
        // Moving bytes between fields must change the id.
        assert_ne!(EventId::derive("ab", "c", 0), EventId::derive("a", "bc", 0));
    }

    #[test]
    fn hex_round_trip() {
        let id = EventId::derive("n", "f", 1);
        let text = id.to_string();
        assert_eq!(text.len(), 32);
        assert_eq!(text.parse::<EventId>().unwrap(), id);
        assert_eq!(text, format!("{:032x}", id.as_u128()));
        assert_eq!(
            EventId::from_u128(0xab).to_string(),
            format!("{:032x}", 0xab)
        );
        assert!("xyz".parse::<EventId>().is_err());
        // Upper case reads the same; a bad digit in either half, or a multi-byte
        // character in the 32 bytes, is refused.
        assert_eq!(text.to_uppercase().parse::<EventId>().unwrap(), id);
        let mut chars: Vec<char> = text.chars().collect();
        for at in [0, 15, 16, 31] {
            let saved = chars[at];
            for bad in ['g', 'G', ' ', '/', ':', '@', '`'] {
                chars[at] = bad;
                let bad_text: String = chars.iter().collect();
                assert!(bad_text.parse::<EventId>().is_err(), "{bad_text}");
            }
            chars[at] = saved;
        }
        assert!(format!("é{}", &text[2..]).parse::<EventId>().is_err());
        assert_eq!(
            "0123456789abcdefFEDCBA9876543210"
                .parse::<EventId>()
                .unwrap()
                .as_u128(),
            0x0123_4567_89ab_cdef_fedc_ba98_7654_3210
        );
        assert!(
            "+0000000000000000000000000000001"
                .parse::<EventId>()
                .is_err()
        );
    }
}
