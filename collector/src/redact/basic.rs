//! HTTP Basic credentials (`Basic dXNlcjpwYXNz`): the base64 of `user:password`. Told
//! from the word "basic" in prose by decoding them.

use base64::Engine;
use base64::engine::DecodePaddingMode;
use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig};

/// Standard base64, padded or not: clients and log formatters differ.
const BASE64: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// Whether `encoded` is base64 of printable text with a `:` in it.
pub(super) fn is_basic_credential(encoded: &str) -> bool {
    let Ok(decoded) = BASE64.decode(encoded) else {
        return false;
    };
    decoded.contains(&b':')
        && std::str::from_utf8(&decoded).is_ok_and(|text| !text.chars().any(char::is_control))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_decode_to_user_and_password() {
        assert!(is_basic_credential("dXNlcjpwYXNz"));
        assert!(is_basic_credential("YWxhZGRpbjpvcGVuc2VzYW1l"));
        assert!(is_basic_credential("OnBhc3M="));
        assert!(is_basic_credential("OnBhc3M"));
        assert!(!is_basic_credential("authentication"));
        assert!(!is_basic_credential("usage"));
        assert!(!is_basic_credential("dXNlcg=="));
        assert!(!is_basic_credential("AAECAwQ6"));
    }
}
