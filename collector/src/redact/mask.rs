//! What a secret becomes: the mask text, and the ways a rule masks what it matches.

/// What a secret value is replaced with.
pub(super) const MASK: &str = "***";

/// How a rule masks what its pattern matches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mask {
    /// The capture groups named `secret...` become `***`; the whole match does when the
    /// pattern has no such group.
    Secret,
    /// Payment card numbers: 13–19 digits, alone or in groups of at least three separated
    /// by a space or a dash, that pass the Luhn check and start with 2–6 (the card
    /// networks' first digits; epoch times in seconds, milliseconds and nanoseconds
    /// start with 1). Every digit but the last four becomes `*`; separators stay. The
    /// pattern matches digit runs, and the card numbers are looked for inside them.
    PaymentCard,
    /// The value after a key that names a secret (see `key_name`): the pattern's `key`
    /// group is the key, its `secret...` groups the value (see `keyed`); the value of a
    /// cookie header runs to the end of its line.
    KeyedSecret,
    /// `Secret`, for matches whose secret groups decode as HTTP Basic credentials.
    BasicCredentials,
    /// `Secret`, for XML elements whose name names a secret (see `keyed::XML_PATTERN`):
    /// the pattern's `key` and `close` groups are the element's opening and closing names.
    XmlElement,
}
