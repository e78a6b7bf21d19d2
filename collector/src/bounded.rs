//! A byte buffer that keeps at most a fixed number of bytes: joining partial lines and
//! stack traces must not let one endless record take the node's memory.

/// Keeps the first `max_bytes` bytes pushed and notes whether anything was discarded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct BoundedPayload {
    bytes: Vec<u8>,
    max_bytes: usize,
    truncated: bool,
}

impl BoundedPayload {
    pub(crate) fn new(max_bytes: usize) -> Self {
        BoundedPayload {
            bytes: Vec::new(),
            max_bytes,
            truncated: false,
        }
    }

    /// Starts from bytes already owned, without copying them when they fit.
    pub(crate) fn from_vec(mut bytes: Vec<u8>, max_bytes: usize) -> Self {
        let mut truncated = false;
        if bytes.len() > max_bytes {
            let cut = char_boundary_at_or_before(&bytes, max_bytes);
            bytes.truncate(cut);
            bytes.shrink_to_fit();
            truncated = true;
        }
        BoundedPayload {
            bytes,
            max_bytes,
            truncated,
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.bytes.len()
    }

    /// Nothing kept and nothing discarded yet.
    pub(crate) fn is_empty(&self) -> bool {
        self.bytes.is_empty() && !self.truncated
    }

    pub(crate) fn is_truncated(&self) -> bool {
        self.truncated
    }

    /// Appends `chunk`, or as much of it as fits. Once something has been discarded,
    /// everything after it is discarded too, so the payload stays a prefix of the record.
    pub(crate) fn push(&mut self, chunk: &[u8]) {
        if self.truncated || chunk.is_empty() {
            return;
        }
        let room = self.max_bytes - self.bytes.len();
        if chunk.len() <= room {
            self.reserve(chunk.len());
            self.bytes.extend_from_slice(chunk);
            return;
        }
        self.reserve(room);
        self.bytes.extend_from_slice(&chunk[..room]);
        self.truncated = true;
        // The cut splits a character when the first discarded byte continues it.
        if is_continuation(chunk[room]) {
            let cut = char_boundary_at_or_before_end(&self.bytes);
            self.bytes.truncate(cut);
        }
    }

    pub(crate) fn into_vec(self) -> Vec<u8> {
        self.bytes
    }

    /// Grows by doubling, as `Vec` does, but never past `max_bytes`.
    fn reserve(&mut self, additional: usize) {
        let needed = self.bytes.len() + additional;
        if needed > self.bytes.capacity() {
            let target = needed
                .max(self.bytes.capacity().saturating_mul(2))
                .min(self.max_bytes);
            self.bytes.reserve_exact(target - self.bytes.len());
        }
    }
}

fn is_continuation(byte: u8) -> bool {
    byte & 0b1100_0000 == 0b1000_0000
}

/// The largest index `<= at` that does not fall inside a UTF-8 character of `bytes`.
/// Invalid sequences are not looked into: only a well-formed lead byte moves the cut.
fn char_boundary_at_or_before(bytes: &[u8], at: usize) -> usize {
    if at >= bytes.len() || !is_continuation(bytes[at]) {
        return at;
    }
    char_boundary_at_or_before_end(&bytes[..at])
}

/// Where to cut `bytes`, which are followed by a continuation byte, so that the last
/// character is not split: before its lead byte, found at most three bytes back.
fn char_boundary_at_or_before_end(bytes: &[u8]) -> usize {
    let len = bytes.len();
    for back in 1..=len.min(4) {
        let byte = bytes[len - back];
        if !is_continuation(byte) {
            // ASCII takes no continuation, and a character whose bytes are all kept
            // is whole: either way the input was invalid at the cut, so leave it.
            let char_len = match byte {
                0xF0.. => 4,
                0xE0.. => 3,
                0xC0.. => 2,
                _ => 1,
            };
            return if back < char_len { len - back } else { len };
        }
    }
    len
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_everything_that_fits() {
        let mut payload = BoundedPayload::new(10);
        payload.push(b"hello");
        payload.push(b" you");
        payload.push(b"");
        assert!(!payload.is_truncated());
        assert_eq!(payload.into_vec(), b"hello you");
    }

    #[test]
    fn exactly_full_is_not_truncated() {
        let mut payload = BoundedPayload::new(4);
        payload.push(b"ab");
        payload.push(b"cd");
        payload.push(b"");
        assert!(!payload.is_truncated());
        assert_eq!(payload.into_vec(), b"abcd");
    }

    #[test]
    fn keeps_a_prefix_and_discards_everything_after_the_cut() {
        let mut payload = BoundedPayload::new(4);
        payload.push(b"abc");
        payload.push(b"def");
        payload.push(b"g");
        assert!(payload.is_truncated());
        assert_eq!(payload.into_vec(), b"abcd");
    }

    #[test]
    fn does_not_split_a_character() {
        // "é" is two bytes, "€" three, "😀" four.
        for (text, max, kept) in [
            ("aé", 2, "a"),
            ("a€", 3, "a"),
            ("a€", 2, "a"),
            ("😀😀", 7, "😀"),
            ("😀😀", 4, "😀"),
            ("ab", 1, "a"),
        ] {
            let mut payload = BoundedPayload::new(max);
            payload.push(text.as_bytes());
            assert_eq!(payload.into_vec(), kept.as_bytes(), "{text} at {max}");
        }
    }

    #[test]
    fn does_not_split_a_character_across_pushes() {
        let euro = "€".as_bytes();
        let mut payload = BoundedPayload::new(3);
        payload.push(b"a");
        payload.push(&euro[..2]);
        payload.push(&euro[2..]);
        assert!(payload.is_truncated());
        assert_eq!(payload.into_vec(), b"a");
    }

    #[test]
    fn invalid_utf8_is_cut_at_the_limit() {
        let mut payload = BoundedPayload::new(2);
        payload.push(b"a\x80\x80\x80\x80");
        assert_eq!(payload.into_vec(), b"a\x80");
        // A whole "é" followed by a stray continuation byte stays whole.
        let mut payload = BoundedPayload::new(3);
        payload.push(b"a\xc3\xa9\x80");
        assert_eq!(payload.into_vec(), "aé".as_bytes());
    }

    #[test]
    fn from_vec_cuts_on_a_boundary() {
        let payload = BoundedPayload::from_vec("aé".as_bytes().to_vec(), 2);
        assert!(payload.is_truncated());
        assert_eq!(payload.into_vec(), b"a");
        let payload = BoundedPayload::from_vec(b"ab".to_vec(), 2);
        assert!(!payload.is_truncated());
    }

    #[test]
    fn capacity_never_passes_the_limit() {
        let mut payload = BoundedPayload::new(1000);
        for _ in 0..300 {
            payload.push(b"0123456789");
        }
        assert!(payload.bytes.capacity() <= 1000);
        assert_eq!(payload.bytes.len(), 1000);
    }
}
