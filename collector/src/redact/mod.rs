//! Masking secrets (passwords, tokens, keys, credentials, private keys, payment card
//! numbers) in events before they leave the node: once in Kafka and the index, a leaked
//! secret is copied everywhere.
//!
//! A mask keeps what says what the secret was and hides its value: `password=***`,
//! `Bearer ***`, `AKIA***`, `postgres://app:***@db`, and a card number keeps its last
//! four digits and its separators, `****-****-****-1234`. Redacting twice changes nothing
//! more.

mod basic;
mod builtin;
mod card;
#[cfg(test)]
mod corpus;
mod key_lines;
mod key_name;
mod keyed;
mod mask;
mod raw;
mod redactor;
mod rule;
#[cfg(test)]
mod testing;

pub(crate) use key_lines::KeyLines;
pub use mask::Mask;
pub use redactor::Redactor;
pub use rule::RedactRule;
