//! Standard Webhooks signing (<https://www.standardwebhooks.com>): the receiver checks
//! `webhook-signature`, an HMAC-SHA256 over `{webhook-id}.{webhook-timestamp}.{body}`, and
//! rejects old timestamps, so a captured request can be neither forged nor replayed later.
//! Using the published scheme means receivers verify with an existing library.

use std::fmt;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, Mac};
use reqwest::header::HeaderMap;
use sha2::Sha256;

use super::error::{SecretError, VerifyError};

/// The notification id, the same on every retry so a receiver can drop duplicates.
pub const WEBHOOK_ID: &str = "webhook-id";
/// Unix seconds of the attempt.
pub const WEBHOOK_TIMESTAMP: &str = "webhook-timestamp";
/// Space-separated `v1,<base64>` signatures.
pub const WEBHOOK_SIGNATURE: &str = "webhook-signature";

/// How far `webhook-timestamp` may be from the receiver's clock, as the specification
/// recommends.
pub const TIMESTAMP_TOLERANCE: Duration = Duration::from_secs(5 * 60);

const SECRET_PREFIX: &str = "whsec_";
const VERSION_PREFIX: &str = "v1,";

/// A signing key. Its `Debug` output never shows the key, and it has no `PartialEq`: a
/// comparison that is not constant-time has no place near a key.
#[derive(Clone)]
pub struct Secret(Vec<u8>);

impl Secret {
    /// Reads `whsec_<base64>`: the key is the decoded bytes.
    pub fn parse(text: &str) -> Result<Secret, SecretError> {
        let encoded = text
            .trim()
            .strip_prefix(SECRET_PREFIX)
            .ok_or(SecretError::MissingPrefix)?;
        let key = STANDARD
            .decode(encoded)
            .map_err(|_| SecretError::NotBase64)?;
        if key.is_empty() {
            return Err(SecretError::Empty);
        }
        Ok(Secret(key))
    }

    fn mac(&self) -> Hmac<Sha256> {
        Hmac::<Sha256>::new_from_slice(&self.0).expect("HMAC takes keys of any length")
    }

    fn signed_mac(&self, id: &str, timestamp: i64, body: &[u8]) -> Hmac<Sha256> {
        let mut mac = self.mac();
        mac.update(id.as_bytes());
        mac.update(b".");
        mac.update(timestamp.to_string().as_bytes());
        mac.update(b".");
        mac.update(body);
        mac
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

/// The `webhook-signature` value for one attempt.
pub(crate) fn sign(secret: &Secret, id: &str, timestamp: i64, body: &[u8]) -> String {
    let tag = secret
        .signed_mac(id, timestamp, body)
        .finalize()
        .into_bytes();
    format!("{VERSION_PREFIX}{}", STANDARD.encode(tag))
}

/// Checks a received request as a Standard Webhooks receiver does: one of the `v1`
/// signatures matches (compared in constant time) and the timestamp is within
/// [`TIMESTAMP_TOLERANCE`] of now.
pub fn verify(secret: &Secret, headers: &HeaderMap, body: &[u8]) -> Result<(), VerifyError> {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0);
    verify_at(secret, headers, body, now)
}

/// `verify` as of `now` (seconds since the epoch): for a request checked some time
/// after it arrived, `now` is when it did.
pub fn verify_at(
    secret: &Secret,
    headers: &HeaderMap,
    body: &[u8],
    now: i64,
) -> Result<(), VerifyError> {
    let header = |name: &'static str| {
        headers
            .get(name)
            .and_then(|value| value.to_str().ok())
            .ok_or(VerifyError::MissingHeader(name))
    };
    let id = header(WEBHOOK_ID)?;
    let timestamp: i64 = header(WEBHOOK_TIMESTAMP)?
        .trim()
        .parse()
        .map_err(|_| VerifyError::BadTimestamp)?;
    let signatures = header(WEBHOOK_SIGNATURE)?;
    let skew_secs = now.saturating_sub(timestamp);
    if skew_secs.unsigned_abs() > TIMESTAMP_TOLERANCE.as_secs() {
        return Err(VerifyError::OutsideTolerance { skew_secs });
    }
    let expected = secret.signed_mac(id, timestamp, body);
    let matches = signatures
        .split_whitespace()
        .filter_map(|entry| entry.strip_prefix(VERSION_PREFIX))
        .filter_map(|encoded| STANDARD.decode(encoded).ok())
        .any(|tag| expected.clone().verify_slice(&tag).is_ok());
    if matches {
        Ok(())
    } else {
        Err(VerifyError::NoMatch)
    }
}

#[cfg(test)]
mod tests {
    use reqwest::header::HeaderValue;

    use super::*;

    const VECTOR_SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    const VECTOR_ID: &str = "msg_p5jXN8AQM9LWM0D4loKWxJek";
    const VECTOR_TIMESTAMP: i64 = 1_614_265_330;
    const VECTOR_BODY: &[u8] = br#"{"test": 2432232314}"#;
    const VECTOR_SIGNATURE: &str = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=";

    fn headers(id: &str, timestamp: i64, signature: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(WEBHOOK_ID, HeaderValue::from_str(id).unwrap());
        headers.insert(WEBHOOK_TIMESTAMP, HeaderValue::from(timestamp));
        headers.insert(WEBHOOK_SIGNATURE, HeaderValue::from_str(signature).unwrap());
        headers
    }

    #[test]
    fn reproduces_the_published_test_vector() {
        let secret = Secret::parse(VECTOR_SECRET).unwrap();
        assert_eq!(
            sign(&secret, VECTOR_ID, VECTOR_TIMESTAMP, VECTOR_BODY),
            VECTOR_SIGNATURE
        );
    }

    #[test]
    fn verifies_the_published_test_vector_at_its_time() {
        let secret = Secret::parse(VECTOR_SECRET).unwrap();
        let signed = headers(VECTOR_ID, VECTOR_TIMESTAMP, VECTOR_SIGNATURE);
        assert_eq!(
            verify_at(&secret, &signed, VECTOR_BODY, VECTOR_TIMESTAMP + 10),
            Ok(())
        );
    }

    #[test]
    fn accepts_any_matching_signature_among_several() {
        let secret = Secret::parse(VECTOR_SECRET).unwrap();
        let several = format!("v1,bm9wZQ== v2,abc {VECTOR_SIGNATURE}");
        let signed = headers(VECTOR_ID, VECTOR_TIMESTAMP, &several);
        assert_eq!(
            verify_at(&secret, &signed, VECTOR_BODY, VECTOR_TIMESTAMP),
            Ok(())
        );
    }

    #[test]
    fn rejects_a_changed_body_id_or_key() {
        let secret = Secret::parse(VECTOR_SECRET).unwrap();
        let signed = headers(VECTOR_ID, VECTOR_TIMESTAMP, VECTOR_SIGNATURE);
        assert_eq!(
            verify_at(&secret, &signed, br#"{"test": 1}"#, VECTOR_TIMESTAMP),
            Err(VerifyError::NoMatch)
        );
        let other_id = headers("msg_other", VECTOR_TIMESTAMP, VECTOR_SIGNATURE);
        assert_eq!(
            verify_at(&secret, &other_id, VECTOR_BODY, VECTOR_TIMESTAMP),
            Err(VerifyError::NoMatch)
        );
        let other_key = Secret::parse("whsec_c2VjcmV0LWtleS1mb3ItdGVzdHM=").unwrap();
        assert_eq!(
            verify_at(&other_key, &signed, VECTOR_BODY, VECTOR_TIMESTAMP),
            Err(VerifyError::NoMatch)
        );
    }

    #[test]
    fn rejects_timestamps_outside_the_tolerance() {
        let secret = Secret::parse(VECTOR_SECRET).unwrap();
        let signed = headers(VECTOR_ID, VECTOR_TIMESTAMP, VECTOR_SIGNATURE);
        assert_eq!(
            verify_at(&secret, &signed, VECTOR_BODY, VECTOR_TIMESTAMP + 301),
            Err(VerifyError::OutsideTolerance { skew_secs: 301 })
        );
        assert_eq!(
            verify_at(&secret, &signed, VECTOR_BODY, VECTOR_TIMESTAMP - 301),
            Err(VerifyError::OutsideTolerance { skew_secs: -301 })
        );
    }

    #[test]
    fn rejects_missing_headers() {
        let secret = Secret::parse(VECTOR_SECRET).unwrap();
        let mut signed = headers(VECTOR_ID, VECTOR_TIMESTAMP, VECTOR_SIGNATURE);
        signed.remove(WEBHOOK_SIGNATURE);
        assert_eq!(
            verify_at(&secret, &signed, VECTOR_BODY, VECTOR_TIMESTAMP),
            Err(VerifyError::MissingHeader(WEBHOOK_SIGNATURE))
        );
    }

    #[test]
    fn secrets_must_be_whsec_base64() {
        let error = |text: &str| Secret::parse(text).err();
        assert_eq!(
            error("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"),
            Some(SecretError::MissingPrefix)
        );
        assert_eq!(error("whsec_not base64!"), Some(SecretError::NotBase64));
        assert_eq!(error("whsec_"), Some(SecretError::Empty));
    }

    #[test]
    fn debug_output_hides_the_key() {
        let secret = Secret::parse(VECTOR_SECRET).unwrap();
        let shown = format!("{secret:?}");
        assert_eq!(shown, "Secret(<redacted>)");
    }
}
