//! Signed digests of the ledger: where every partition's chain stands, the hash of the
//! ledger's last record and of the previous digest, signed with Ed25519. A digest copied
//! off the volume (the indexer also produces each to a Kafka topic) vouches for every
//! event the ledger had chained when it was written, and nobody without the key can write
//! another.
//!
//! `<index>/digests/<seq, ten digits>.json` is `{"signed": "<the digest's JSON>",
//! "signature": "<base64>"}`: the signature is over the bytes of `signed` as written.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use ed25519_dalek::{Signature, Signer, SigningKey, Verifier, VerifyingKey};
use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};

use crate::error::StoreError;
use crate::ledger::Ledger;

pub const DIGESTS_DIR: &str = "digests";
pub const DIGEST_VERSION: u32 = 1;

/// The key digests are signed with: an Ed25519 seed of 32 bytes.
pub struct DigestKey(SigningKey);

impl std::fmt::Debug for DigestKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "DigestKey({})", self.public_base64())
    }
}

impl DigestKey {
    /// Reads a key written as base64 of its 32-byte seed.
    pub fn from_base64(text: &str) -> Result<DigestKey, String> {
        let bytes = BASE64
            .decode(text.trim())
            .map_err(|e| format!("not base64: {e}"))?;
        let seed: [u8; 32] = bytes.try_into().map_err(|bytes: Vec<u8>| {
            format!("{} bytes, not a 32-byte Ed25519 seed", bytes.len())
        })?;
        Ok(DigestKey(SigningKey::from_bytes(&seed)))
    }

    /// `signed` with its signature under this key.
    pub fn sign(&self, signed: String) -> DigestFile {
        let signature = BASE64.encode(self.0.sign(signed.as_bytes()).to_bytes());
        DigestFile { signed, signature }
    }

    /// The public key verifiers are given, base64.
    pub fn public_base64(&self) -> String {
        BASE64.encode(self.0.verifying_key().to_bytes())
    }
}

/// Reads a public key written as base64 of its 32 bytes.
pub fn public_key(text: &str) -> Result<VerifyingKey, String> {
    let bytes = BASE64
        .decode(text.trim())
        .map_err(|e| format!("not base64: {e}"))?;
    let bytes: [u8; 32] = bytes.try_into().map_err(|bytes: Vec<u8>| {
        format!("{} bytes, not a 32-byte Ed25519 public key", bytes.len())
    })?;
    VerifyingKey::from_bytes(&bytes).map_err(|e| format!("not an Ed25519 public key: {e}"))
}

/// What a digest says.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DigestBody {
    pub version: u32,
    pub seq: u64,
    pub at: String,
    pub topic: String,
    /// The last ledger record it covers, and the SHA-256 of that line.
    pub ledger_seq: u64,
    pub ledger_hash: String,
    /// Per partition: the next offset to chain and the head.
    pub partitions: BTreeMap<i32, (i64, String)>,
    /// SHA-256 of the previous digest file; empty for the first.
    pub prev_digest: String,
    /// The signer's public key, base64 (a verifier checks it against the one it trusts).
    pub public_key: String,
}

/// A digest file as written.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DigestFile {
    pub signed: String,
    pub signature: String,
}

impl DigestFile {
    /// The body, if the signature holds under `key`.
    pub fn verified(&self, key: &VerifyingKey) -> Result<DigestBody, String> {
        let signature = BASE64
            .decode(&self.signature)
            .ok()
            .and_then(|bytes| <[u8; 64]>::try_from(bytes).ok())
            .map(|bytes| Signature::from_bytes(&bytes))
            .ok_or("the signature is not 64 bytes of base64")?;
        key.verify(self.signed.as_bytes(), &signature)
            .map_err(|_| "the signature does not verify under the public key".to_string())?;
        self.body()
    }

    /// The body, signature unchecked.
    pub fn body(&self) -> Result<DigestBody, String> {
        serde_json::from_str(&self.signed).map_err(|e| format!("not a digest: {e}"))
    }
}

/// The digests of one store: where the next goes and what it chains to.
#[derive(Debug)]
pub struct Digests {
    dir: PathBuf,
    next_seq: u64,
    last_file_hash: String,
    /// The ledger record the last digest covered.
    covered: Option<u64>,
}

impl Digests {
    pub fn open(root: &Path) -> Result<Digests, StoreError> {
        let dir = root.join(DIGESTS_DIR);
        fs::create_dir_all(&dir).map_err(|e| StoreError::io(&dir, e))?;
        let mut digests = Digests {
            dir,
            next_seq: 0,
            last_file_hash: String::new(),
            covered: None,
        };
        if let Some(path) = files(&digests.dir)?.pop() {
            let bytes = fs::read(&path).map_err(|e| StoreError::io(&path, e))?;
            let body = serde_json::from_slice::<DigestFile>(&bytes)
                .map_err(|e| e.to_string())
                .and_then(|file| file.body())
                .map_err(|reason| StoreError::Corrupt {
                    path: path.clone(),
                    reason,
                })?;
            digests.next_seq = body.seq + 1;
            digests.last_file_hash = hex::encode(Sha256::digest(&bytes));
            digests.covered = Some(body.ledger_seq);
        }
        Ok(digests)
    }

    /// Writes a digest of `ledger` signed with `key`, unless the last one covers the
    /// ledger's last record already; returns the file's bytes.
    pub fn write(
        &mut self,
        key: &DigestKey,
        ledger: &Ledger,
        topic: &str,
    ) -> Result<Option<Vec<u8>>, StoreError> {
        let Some((ledger_seq, ledger_hash)) = ledger.last() else {
            return Ok(None);
        };
        if self.covered == Some(ledger_seq) {
            return Ok(None);
        }
        let body = DigestBody {
            version: DIGEST_VERSION,
            seq: self.next_seq,
            at: logpipe_common::event::Timestamp::now().to_string(),
            topic: topic.to_owned(),
            ledger_seq,
            ledger_hash,
            partitions: ledger
                .heads()
                .partitions
                .iter()
                .map(|(p, (next, head))| (*p, (*next, hex::encode(head))))
                .collect(),
            prev_digest: self.last_file_hash.clone(),
            public_key: key.public_base64(),
        };
        let file = key.sign(serde_json::to_string(&body).unwrap_or_default());
        let bytes = serde_json::to_vec(&file).unwrap_or_default();
        let path = self.dir.join(format!("{:010}.json", body.seq));
        let tmp = path.with_extension("tmp");
        let io = |e| StoreError::io(&path, e);
        fs::write(&tmp, &bytes).map_err(io)?;
        fs::File::open(&tmp)
            .and_then(|f| f.sync_all())
            .map_err(io)?;
        fs::rename(&tmp, &path).map_err(io)?;
        self.next_seq += 1;
        self.last_file_hash = hex::encode(Sha256::digest(&bytes));
        self.covered = Some(ledger_seq);
        Ok(Some(bytes))
    }
}

/// The digest files under `dir`, in order.
pub fn files(dir: &Path) -> Result<Vec<PathBuf>, StoreError> {
    let mut out = Vec::new();
    let entries = match fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(out),
        Err(e) => return Err(StoreError::io(dir, e)),
    };
    for entry in entries {
        let path = entry.map_err(|e| StoreError::io(dir, e))?.path();
        if path.extension().is_some_and(|e| e == "json") {
            out.push(path);
        }
    }
    out.sort();
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(crate) fn key(seed: u8) -> DigestKey {
        DigestKey::from_base64(&BASE64.encode([seed; 32])).unwrap()
    }

    #[test]
    fn digests_are_signed_chained_and_only_written_when_the_ledger_moved() {
        let dir = tempfile::tempdir().unwrap();
        let mut ledger = Ledger::open(dir.path()).unwrap();
        let mut digests = Digests::open(dir.path()).unwrap();
        assert!(digests.write(&key(1), &ledger, "logs").unwrap().is_none());
        ledger.event(0, 0, "2026-12-05".parse().unwrap(), "a".into(), b"{}");
        ledger.commit_round("logs").unwrap();
        let first = digests.write(&key(1), &ledger, "logs").unwrap().unwrap();
        assert!(digests.write(&key(1), &ledger, "logs").unwrap().is_none());
        ledger
            .removal("2026-12-05".parse().unwrap(), "age")
            .unwrap();
        let second = digests.write(&key(1), &ledger, "logs").unwrap().unwrap();

        let public = public_key(&key(1).public_base64()).unwrap();
        let file: DigestFile = serde_json::from_slice(&second).unwrap();
        let body = file.verified(&public).unwrap();
        assert_eq!(body.seq, 1);
        assert_eq!(body.ledger_seq, 1);
        assert_eq!(body.prev_digest, hex::encode(Sha256::digest(&first)));
        // Another key's signature, or an edited body, does not verify.
        let other = public_key(&key(2).public_base64()).unwrap();
        assert!(file.verified(&other).is_err());
        let edited = DigestFile {
            signed: file.signed.replace("\"ledger_seq\":1", "\"ledger_seq\":0"),
            ..file
        };
        assert!(edited.verified(&public).is_err());
        // A reopened store continues the chain.
        let reopened = Digests::open(dir.path()).unwrap();
        assert_eq!(reopened.next_seq, 2);
        assert_eq!(
            reopened.last_file_hash,
            hex::encode(Sha256::digest(&second))
        );
        assert!(
            DigestKey::from_base64("c2hvcnQ=")
                .unwrap_err()
                .contains("5 bytes")
        );
    }
}
