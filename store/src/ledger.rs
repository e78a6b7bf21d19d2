//! The ledger: what every commit round took from each Kafka partition, hash-chained, so
//! that an event altered, removed, inserted or reordered after it was indexed is found
//! (`verify`) and signed digests (`digest`) can vouch for all of it at once.
//!
//! `<index>/ledger.jsonl` holds one record per line, appended and synced after the day
//! indexes of a round are committed and before the positions file moves past it:
//!
//! - a round: per partition the offsets `[from, to)` it covers, each event it indexed as
//!   `[offset, day, id, fingerprint]` (the fingerprint: the first 16 bytes of the SHA-256
//!   of the event's stored bytes, in hex), each offset it skipped with why (`duplicate`,
//!   `dead-letter`), and the partition's running `head`:
//!   `head = SHA-256(previous head ‖ offset (8 bytes, big-endian) ‖ fingerprint)` over its
//!   events in offset order, from 32 zero bytes;
//! - an adoption: the events a day index already held when the ledger began (a store
//!   from before it), `[id, fingerprint]` each;
//! - a removal: a day index removed by retention, and why; `evicted` when it left the
//!   indexer's volume for object storage only (`LOGPIPE_STORE_LOCAL_DAYS`), which keeps it.
//!
//! Every record carries `seq` (0, 1, …) and `prev`, the SHA-256 of the previous line's
//! bytes, so records cannot be dropped, inserted or reordered unseen. Segment merges do
//! not matter: what is chained is each event's stored bytes, not where tantivy keeps them.

use std::collections::BTreeMap;
use std::fs::{self, File, OpenOptions};
use std::io::{self, BufRead, BufReader, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::error::StoreError;
use crate::layout::Day;

pub const LEDGER_FILE: &str = "ledger.jsonl";

/// The reason of a removal that moved a day to object storage rather than deleting it.
pub const EVICTED: &str = "evicted";

/// The head of a partition before its first event.
pub const ZERO_HEAD: [u8; 32] = [0; 32];

/// One line of the ledger.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Record {
    pub seq: u64,
    /// SHA-256 of the previous line's bytes, hex; empty for the first.
    pub prev: String,
    /// When it was written, RFC 3339.
    pub at: String,
    pub body: Body,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Body {
    Round {
        topic: String,
        partitions: BTreeMap<i32, PartitionRound>,
    },
    Removal {
        day: Day,
        reason: String,
    },
    /// Events a day index held when the ledger began (indexed before the store kept one):
    /// `[id, fingerprint]` each, vouched for from this record on.
    Adopted {
        day: Day,
        events: Vec<(String, String)>,
    },
}

/// Most events one adoption record lists.
const ADOPTED_PER_RECORD: usize = 10_000;

/// What one round took from one partition.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct PartitionRound {
    pub from: i64,
    pub to: i64,
    /// `[offset, day, id, fingerprint]` per event indexed, in offset order.
    pub events: Vec<(i64, Day, String, String)>,
    /// `[offset, reason]` per offset taken but not indexed.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub skipped: Vec<(i64, String)>,
    /// The running hash after this round's events, hex.
    pub head: String,
    /// The partition was assigned to this indexer since its last round here: the offsets
    /// from where its chain stood to `from` were taken by another indexer (a rebalance),
    /// and the chain goes on from its last head.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub handover: bool,
    /// The head the chain stood at in `from` on the indexer that held the partition
    /// before (carried over with the consumer group's offset), hex: this round's chain
    /// goes on from it, so the chains of all the partition's indexers are one, and
    /// `verify_all` checks it against the other indexer's ledger.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub carried: Option<String>,
}

/// Rounds' ends remembered per partition, to name the head at a committed offset.
const HISTORY: usize = 1024;

/// The fingerprint of an event's stored bytes.
pub fn fingerprint(stored: &[u8]) -> [u8; 16] {
    let digest = Sha256::digest(stored);
    let mut out = [0; 16];
    out.copy_from_slice(&digest[..16]);
    out
}

/// The head after `offset` with `fingerprint`.
pub fn next_head(head: &[u8; 32], offset: i64, fingerprint: &[u8; 16]) -> [u8; 32] {
    let mut hasher = Sha256::new();
    hasher.update(head);
    hasher.update(offset.to_be_bytes());
    hasher.update(fingerprint);
    hasher.finalize().into()
}

/// `N` bytes written as hex, or `None`.
pub fn unhex<const N: usize>(text: &str) -> Option<[u8; N]> {
    let mut out = [0; N];
    hex::decode_to_slice(text, &mut out).ok()?;
    Some(out)
}

/// SHA-256 of a line's bytes (without its newline), hex.
pub fn line_hash(line: &[u8]) -> String {
    hex::encode(Sha256::digest(line))
}

/// Where each partition's chain stands.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Heads {
    /// Per partition: the next offset to chain and the head so far.
    pub partitions: BTreeMap<i32, (i64, [u8; 32])>,
}

/// The events and skips of the round being taken, per partition, each with its running
/// head (written out as hex when the round is appended).
#[derive(Debug, Default)]
pub struct Round {
    partitions: BTreeMap<i32, (PartitionRound, [u8; 32])>,
}

impl Round {
    pub fn is_empty(&self) -> bool {
        self.partitions.is_empty()
    }

    fn partition(
        &mut self,
        heads: &Heads,
        partition: i32,
        offset: i64,
    ) -> &mut (PartitionRound, [u8; 32]) {
        self.partitions.entry(partition).or_insert_with(|| {
            let head = heads
                .partitions
                .get(&partition)
                .map_or(ZERO_HEAD, |(_, head)| *head);
            let round = PartitionRound {
                from: offset,
                to: offset,
                ..PartitionRound::default()
            };
            (round, head)
        })
    }
}

/// The ledger of one store: appends rounds and removals, and knows the chains' heads.
#[derive(Debug)]
pub struct Ledger {
    path: PathBuf,
    file: File,
    next_seq: u64,
    last_line: String,
    heads: Heads,
    round: Round,
    /// Partitions with a chain here that were assigned again, until their next round.
    assigned: std::collections::BTreeSet<i32>,
    /// Per partition assigned, the head another indexer's chain had at an offset, until
    /// the partition's next round (which goes on from it when it starts there).
    carried: BTreeMap<i32, (i64, [u8; 32])>,
    /// Per partition, the last rounds' ends and heads, oldest first.
    history: BTreeMap<i32, std::collections::VecDeque<(i64, [u8; 32])>>,
    /// Each day a removal names, after the last of them: `true` when that one evicted it
    /// to object storage, `false` when retention removed it.
    removals: BTreeMap<Day, bool>,
}

impl Ledger {
    /// Opens (or starts) the ledger under `root`, reading where every chain stands.
    pub fn open(root: &Path) -> Result<Ledger, StoreError> {
        fs::create_dir_all(root).map_err(|e| StoreError::io(root, e))?;
        let path = root.join(LEDGER_FILE);
        let mut ledger = Ledger {
            file: OpenOptions::new()
                .create(true)
                .append(true)
                .open(&path)
                .map_err(|e| StoreError::io(&path, e))?,
            path,
            next_seq: 0,
            last_line: String::new(),
            heads: Heads::default(),
            round: Round::default(),
            assigned: std::collections::BTreeSet::new(),
            carried: BTreeMap::new(),
            history: BTreeMap::new(),
            removals: BTreeMap::new(),
        };
        let path = ledger.path.clone();
        for line in read_lines(&path)? {
            let (text, record) = line?;
            if let Body::Removal { day, reason } = &record.body {
                ledger.removals.insert(*day, reason == EVICTED);
            }
            if let Body::Round { partitions, .. } = &record.body {
                for (partition, round) in partitions {
                    let head = unhex(&round.head).ok_or_else(|| StoreError::Corrupt {
                        path: ledger.path.clone(),
                        reason: format!("record {}: head is not 32 bytes of hex", record.seq),
                    })?;
                    ledger.heads.partitions.insert(*partition, (round.to, head));
                    ledger.remember(*partition, round.to, head);
                }
            }
            ledger.next_seq = record.seq + 1;
            ledger.last_line = text;
        }
        Ok(ledger)
    }

    pub fn heads(&self) -> &Heads {
        &self.heads
    }

    /// Each day a removal names, after the last of them: `true` when evicted to object
    /// storage, `false` when removed by retention.
    pub fn removals(&self) -> &BTreeMap<Day, bool> {
        &self.removals
    }

    /// Whether `offset` of `partition` is already chained (a replay after a restart).
    pub fn chained(&self, partition: i32, offset: i64) -> bool {
        let pending = self
            .round
            .partitions
            .get(&partition)
            .is_some_and(|(round, _)| offset < round.to);
        pending
            || self
                .heads
                .partitions
                .get(&partition)
                .is_some_and(|(next, _)| offset < *next)
    }

    /// `partition` was assigned to this indexer (at startup or in a rebalance): when its
    /// chain here stands short of where reading resumes, another indexer took the offsets
    /// between, and its next round says so. `carried`: the offset and head the indexer
    /// that held it last committed; the next round goes on from that head when it starts
    /// at that offset and this chain does not stand there itself.
    pub fn assigned(&mut self, partition: i32, carried: Option<(i64, [u8; 32])>) {
        let here = self.heads.partitions.get(&partition).map(|(next, _)| *next);
        if here.is_some() {
            self.assigned.insert(partition);
        }
        match carried {
            Some((offset, head)) if here != Some(offset) => {
                self.carried.insert(partition, (offset, head));
            }
            _ => {
                self.carried.remove(&partition);
            }
        }
    }

    /// The head of `partition`'s chain after the offsets before `offset`, when a recent
    /// round ended there: what the consumer group's offset is committed with.
    pub fn head_at(&self, partition: i32, offset: i64) -> Option<[u8; 32]> {
        self.history
            .get(&partition)?
            .iter()
            .rev()
            .find(|(to, _)| *to == offset)
            .map(|(_, head)| *head)
    }

    fn remember(&mut self, partition: i32, to: i64, head: [u8; 32]) {
        let history = self.history.entry(partition).or_default();
        if history.len() == HISTORY {
            history.pop_front();
        }
        history.push_back((to, head));
    }

    /// The round being taken of `partition`, started at `offset` when new.
    fn partition_round(&mut self, partition: i32, offset: i64) -> &mut (PartitionRound, [u8; 32]) {
        let new = !self.round.partitions.contains_key(&partition);
        let handover = new && self.assigned.remove(&partition);
        let carried = if new {
            self.carried
                .remove(&partition)
                .filter(|(at, _)| *at == offset)
        } else {
            None
        };
        let entry = self.round.partition(&self.heads, partition, offset);
        if handover {
            entry.0.handover = true;
        }
        if let Some((_, head)) = carried {
            entry.1 = head;
            entry.0.carried = Some(hex::encode(head));
        }
        entry
    }

    /// Chains an event indexed (or found already indexed) at `offset`.
    pub fn event(&mut self, partition: i32, offset: i64, day: Day, id: String, stored: &[u8]) {
        let fp = fingerprint(stored);
        let (round, head) = self.partition_round(partition, offset);
        *head = next_head(head, offset, &fp);
        round.events.push((offset, day, id, hex::encode(fp)));
        round.to = offset + 1;
    }

    /// Records an offset taken but not indexed.
    pub fn skipped(&mut self, partition: i32, offset: i64, reason: &str) {
        let (round, _) = self.partition_round(partition, offset);
        round.skipped.push((offset, reason.to_owned()));
        round.to = offset + 1;
    }

    /// Appends the round taken since the last one (nothing when it is empty) and syncs.
    pub fn commit_round(&mut self, topic: &str) -> Result<(), StoreError> {
        if self.round.is_empty() {
            return Ok(());
        }
        let mut partitions = BTreeMap::new();
        for (partition, (mut round, head)) in std::mem::take(&mut self.round.partitions) {
            round.head = hex::encode(head);
            self.heads.partitions.insert(partition, (round.to, head));
            self.remember(partition, round.to, head);
            partitions.insert(partition, round);
        }
        self.append(Body::Round {
            topic: topic.to_owned(),
            partitions,
        })
    }

    /// Records the events `day` holds that no round chained (the store predates the
    /// ledger), in records of at most `ADOPTED_PER_RECORD`, and syncs.
    pub fn adopt(&mut self, day: Day, events: &[(String, [u8; 16])]) -> Result<(), StoreError> {
        for chunk in events.chunks(ADOPTED_PER_RECORD) {
            self.append(Body::Adopted {
                day,
                events: chunk
                    .iter()
                    .map(|(id, fp)| (id.clone(), hex::encode(fp)))
                    .collect(),
            })?;
        }
        Ok(())
    }

    /// Records that `day` was removed by retention, and syncs.
    pub fn removal(&mut self, day: Day, reason: &str) -> Result<(), StoreError> {
        self.append(Body::Removal {
            day,
            reason: reason.to_owned(),
        })?;
        self.removals.insert(day, reason == EVICTED);
        Ok(())
    }

    /// The sequence number and hash of the last line, for a digest.
    pub fn last(&self) -> Option<(u64, String)> {
        (self.next_seq > 0).then(|| (self.next_seq - 1, line_hash(self.last_line.as_bytes())))
    }

    fn append(&mut self, body: Body) -> Result<(), StoreError> {
        let record = Record {
            seq: self.next_seq,
            prev: if self.next_seq == 0 {
                String::new()
            } else {
                line_hash(self.last_line.as_bytes())
            },
            at: logpipe_common::event::Timestamp::now().to_string(),
            body,
        };
        let mut line = serde_json::to_string(&record).unwrap_or_default();
        line.push('\n');
        let io = |e: io::Error| StoreError::io(&self.path, e);
        self.file.write_all(line.as_bytes()).map_err(io)?;
        self.file.sync_data().map_err(io)?;
        line.pop();
        self.last_line = line;
        self.next_seq += 1;
        Ok(())
    }
}

/// The removals among whole ledger `lines` (bytes as written), in order: `true` for an
/// eviction to object storage; lines that are not removal records are passed over.
pub fn removals_in(lines: &[u8]) -> Vec<(Day, bool)> {
    // A record's body follows its seq, prev hash and time: a round's lines (most of the
    // ledger) are told apart by their start, not parsed.
    const REMOVAL: &[u8] = b"\"removal\":";
    lines
        .split(|&b| b == b'\n')
        .filter(|line| {
            line[..line.len().min(256)]
                .windows(REMOVAL.len())
                .any(|window| window == REMOVAL)
        })
        .filter_map(|line| serde_json::from_slice::<Record>(line).ok())
        .filter_map(|record| match record.body {
            Body::Removal { day, reason } => Some((day, reason == EVICTED)),
            Body::Round { .. } | Body::Adopted { .. } => None,
        })
        .collect()
}

/// Every line of the ledger at `path` with its record, in order; a line that does not
/// parse is an error naming it.
pub fn read_lines(
    path: &Path,
) -> Result<impl Iterator<Item = Result<(String, Record), StoreError>>, StoreError> {
    let file = match File::open(path) {
        Ok(file) => Some(file),
        Err(e) if e.kind() == io::ErrorKind::NotFound => None,
        Err(e) => return Err(StoreError::io(path, e)),
    };
    let path = path.to_path_buf();
    Ok(file
        .map(|file| BufReader::new(file).lines())
        .into_iter()
        .flatten()
        .enumerate()
        .map(move |(n, line)| {
            let line = line.map_err(|e| StoreError::io(&path, e))?;
            let record = serde_json::from_str(&line).map_err(|e| StoreError::Corrupt {
                path: path.clone(),
                reason: format!("line {}: {e}", n + 1),
            })?;
            Ok((line, record))
        }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day() -> Day {
        "2026-12-05".parse().unwrap()
    }

    #[test]
    fn rounds_chain_and_survive_a_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let mut ledger = Ledger::open(dir.path()).unwrap();
        assert!(!ledger.chained(0, 0));
        ledger.event(0, 10, day(), "a".into(), b"{\"n\":1}");
        ledger.skipped(0, 11, "duplicate");
        ledger.event(0, 12, day(), "b".into(), b"{\"n\":2}");
        assert!(ledger.chained(0, 12));
        ledger.commit_round("logs").unwrap();
        ledger.commit_round("logs").unwrap();
        let expected = next_head(
            &next_head(&ZERO_HEAD, 10, &fingerprint(b"{\"n\":1}")),
            12,
            &fingerprint(b"{\"n\":2}"),
        );
        assert_eq!(ledger.heads().partitions[&0], (13, expected));
        ledger.removal(day(), "age").unwrap();
        let last = ledger.last().unwrap();
        drop(ledger);

        let ledger = Ledger::open(dir.path()).unwrap();
        assert_eq!(ledger.heads().partitions[&0], (13, expected));
        assert_eq!(ledger.last(), Some(last));
        assert!(ledger.chained(0, 12) && !ledger.chained(0, 13));
        let lines: Vec<_> = read_lines(&dir.path().join(LEDGER_FILE))
            .unwrap()
            .map(Result::unwrap)
            .collect();
        assert_eq!(lines.len(), 2, "an empty round writes nothing");
        assert_eq!(lines[1].1.prev, line_hash(lines[0].0.as_bytes()));
        let Body::Round { partitions, .. } = &lines[0].1.body else {
            panic!("a round")
        };
        assert_eq!(partitions[&0].from, 10);
        assert_eq!(partitions[&0].to, 13);
        assert_eq!(partitions[&0].skipped, [(11, "duplicate".to_string())]);
    }
}
