//! `logpipe verify`: the day indexes, the ledger and the signed digests of a store checked
//! against one another, with no service running.
//!
//! - The ledger: every record in its place (`seq`, and `prev` the hash of the line
//!   before), each round's offsets contiguous with the last and each offset in it either
//!   an event or a recorded skip, each partition's head recomputed from the recorded
//!   fingerprints.
//! - The events: every event the ledger recorded is in its day index with the same
//!   fingerprint (else altered, or removed; removed by policy when a removal record names
//!   its day), and every document of the indexes is one the ledger recorded (else
//!   inserted).
//! - The digests: each signature holds under the trusted public key, each names the
//!   previous digest's hash and the hash of the ledger line it covers, and the chain heads
//!   it states are the ledger's at that line.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::Path;

use ed25519_dalek::VerifyingKey;
use serde::Serialize;
use sha2::{Digest as _, Sha256};
use tantivy::schema::Value;
use tantivy::{DocAddress, TantivyDocument};

use crate::digest::{self, DigestFile};
use crate::error::StoreError;
use crate::layout::{Day, IndexLayout};
use crate::ledger::{self, Body, LEDGER_FILE, ZERO_HEAD, fingerprint, line_hash, next_head, unhex};

/// What kind of problem a finding is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Kind {
    /// An event whose stored bytes differ from those the ledger recorded.
    Altered,
    /// An event the ledger recorded that no day index holds.
    Removed,
    /// A document no ledger record accounts for.
    Inserted,
    /// Offsets of a partition that no round covers, or a round's offset with neither an
    /// event nor a recorded skip.
    Gap,
    /// A ledger record out of place, edited, or unreadable.
    Ledger,
    /// A digest that does not verify, is out of place, or does not match the ledger.
    Digest,
    /// A day index or part of it that cannot be read.
    Unreadable,
}

/// One problem found.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct Finding {
    pub kind: Kind,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub day: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub partition: Option<i32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub offset: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    pub detail: String,
}

/// What `verify` found, and what it checked.
#[derive(Debug, Default, Serialize)]
pub struct Report {
    pub ok: bool,
    pub findings: Vec<Finding>,
    /// Events of days removed by retention, as the ledger records.
    pub removed_by_policy: u64,
    /// Events the ledger adopted when it began (indexed before the store kept one):
    /// vouched for from then on, not from when they were indexed.
    pub adopted: u64,
    /// Events of days evicted from this volume to object storage, as the ledger records:
    /// verified where they are (`logpipe verify` of the object-storage URL).
    pub in_object_storage: u64,
    pub events: u64,
    pub bytes: u64,
    pub ledger_records: u64,
    pub digests: u64,
    /// Ledger records after the last digest (not yet vouched for by a signature).
    pub records_after_last_digest: u64,
    /// Rounds that resumed a partition after another indexer held it (a rebalance): the
    /// offsets between are in that indexer's ledger.
    pub handovers: u64,
    /// Stores verified together (`verify_all`): 1 for one.
    pub stores: u64,
    /// Offsets of a partition that more than one of the stores verified together took
    /// (read again after a crash during a rebalance; each store's own copy checked).
    pub offsets_in_several_stores: u64,
    /// Rounds that went on from the head another indexer's chain had where they began
    /// (carried over with the consumer group's offset).
    pub carried_heads: u64,
    /// Of those, the ones whose carried head the other indexer's ledger, verified
    /// together (`verify_all`), has at that offset: the chains are proven one.
    pub linked_handovers: u64,
    /// Per partition, the offset ranges `[from, to)` of the rounds.
    #[serde(skip)]
    pub rounds: BTreeMap<i32, Vec<(i64, i64)>>,
    /// Per partition, the head at the end of each round, by the offset it ends before.
    #[serde(skip)]
    pub ends: BTreeMap<i32, BTreeMap<i64, [u8; 32]>>,
    /// The heads rounds carried over: partition, offset, head.
    #[serde(skip)]
    pub carried: Vec<(i32, i64, [u8; 32])>,
}

fn finding(kind: Kind, detail: impl Into<String>) -> Finding {
    Finding {
        kind,
        day: None,
        partition: None,
        offset: None,
        id: None,
        detail: detail.into(),
    }
}

/// One stored event: its day, fingerprint and whether the ledger accounted for it.
struct Stored {
    day: Day,
    fingerprint: [u8; 16],
    seen: bool,
}

/// Checks the store under `layout`; digest signatures against `key` when given.
pub fn verify(layout: &IndexLayout, key: Option<&VerifyingKey>) -> Result<Report, StoreError> {
    let mut report = Report::default();
    let mut stored = read_events(layout, &mut report)?;

    // The ledger, in order: records in place, rounds contiguous, heads recomputed.
    let path = layout.root().join(LEDGER_FILE);
    let mut lines: Vec<(String, ledger::Record)> = Vec::new();
    for (n, line) in ledger::read_lines(&path)?.enumerate() {
        match line {
            Ok(line) => lines.push(line),
            Err(error) => report.findings.push(finding(
                Kind::Ledger,
                format!("ledger line {}: {error}", n + 1),
            )),
        }
    }
    report.ledger_records = lines.len() as u64;
    let removal_days = |evicted: bool| -> BTreeSet<Day> {
        lines
            .iter()
            .filter_map(|(_, record)| match &record.body {
                Body::Removal { day, reason } if (reason == ledger::EVICTED) == evicted => {
                    Some(*day)
                }
                _ => None,
            })
            .collect()
    };
    let removed_days = Removals {
        by_policy: removal_days(false),
        evicted: removal_days(true),
    };
    let mut heads: BTreeMap<i32, (i64, [u8; 32])> = BTreeMap::new();
    // The heads after each ledger record, for the digests.
    let mut heads_at: Vec<BTreeMap<i32, (i64, [u8; 32])>> = Vec::with_capacity(lines.len());
    for (n, (_, record)) in lines.iter().enumerate() {
        let expected_prev = if n == 0 {
            String::new()
        } else {
            line_hash(lines[n - 1].0.as_bytes())
        };
        if record.seq != n as u64 || record.prev != expected_prev {
            report.findings.push(finding(
                Kind::Ledger,
                format!(
                    "ledger line {} (record {}) is out of place or the line before it was changed: records were reordered, removed, inserted or edited",
                    n + 1,
                    record.seq
                ),
            ));
        }
        if let Body::Adopted { day, events } = &record.body {
            check_adopted(
                &mut report,
                &mut stored,
                &removed_days,
                *day,
                events,
                record.seq,
            );
        }
        if let Body::Round { partitions, .. } = &record.body {
            for (&partition, round) in partitions {
                check_round(
                    &mut report,
                    &mut stored,
                    &removed_days,
                    &mut heads,
                    partition,
                    round,
                    record.seq,
                );
            }
        }
        heads_at.push(heads.clone());
    }
    for (id, event) in &stored {
        if !event.seen {
            report.findings.push(Finding {
                day: Some(event.day.to_string()),
                id: Some(id.clone()),
                ..finding(Kind::Inserted, "a document no ledger record accounts for")
            });
        }
    }

    check_digests(layout, key, &lines, &heads_at, &mut report)?;
    report.findings.sort();
    report.stores = 1;
    report.ok = report.findings.is_empty();
    Ok(report)
}

/// The stores of several indexers of one topic verified each on its own, then together:
/// per partition, the offsets their rounds cover must follow one another with no gap, so
/// what one indexer's ledger shows as a handover is found in another's.
pub fn verify_all(
    layouts: &[IndexLayout],
    key: Option<&VerifyingKey>,
) -> Result<Report, StoreError> {
    let mut joined = Report::default();
    let mut reports = Vec::new();
    for (n, layout) in layouts.iter().enumerate() {
        let report = verify(layout, key)?;
        let store = |mut finding: Finding| {
            if layouts.len() > 1 {
                finding.detail = format!(
                    "store {} ({}): {}",
                    n + 1,
                    layout.root().display(),
                    finding.detail
                );
            }
            finding
        };
        joined
            .findings
            .extend(report.findings.into_iter().map(store));
        joined.removed_by_policy += report.removed_by_policy;
        joined.in_object_storage += report.in_object_storage;
        joined.adopted += report.adopted;
        joined.events += report.events;
        joined.bytes += report.bytes;
        joined.ledger_records += report.ledger_records;
        joined.digests += report.digests;
        joined.records_after_last_digest += report.records_after_last_digest;
        joined.handovers += report.handovers;
        joined.carried_heads += report.carried_heads;
        joined.stores += 1;
        for (partition, rounds) in report.rounds {
            joined.rounds.entry(partition).or_default().extend(rounds);
        }
        reports.push((report.ends, report.carried));
    }
    // A head carried over must be the one the other indexer's chain has there.
    for (n, (_, carried)) in reports.iter().enumerate() {
        for &(partition, offset, head) in carried {
            let elsewhere: Vec<[u8; 32]> = reports
                .iter()
                .enumerate()
                .filter(|(other, _)| *other != n)
                .filter_map(|(_, (ends, _))| ends.get(&partition)?.get(&offset).copied())
                .collect();
            if elsewhere.contains(&head) {
                joined.linked_handovers += 1;
            } else if let Some(theirs) = elsewhere.first() {
                joined.findings.push(Finding {
                    partition: Some(partition),
                    offset: Some(offset),
                    ..finding(
                        Kind::Ledger,
                        format!(
                            "store {}: the round carried over head {} at offset {offset}, but the chain of the store that held the partition stands at {} there: one of the two was altered",
                            n + 1,
                            hex::encode(head),
                            hex::encode(theirs)
                        ),
                    )
                });
            }
        }
    }
    if layouts.len() > 1 {
        for (partition, rounds) in &mut joined.rounds {
            rounds.sort_unstable();
            let mut covered = rounds[0].0;
            for &(from, to) in rounds.iter() {
                if from > covered {
                    joined.findings.push(Finding {
                        partition: Some(*partition),
                        offset: Some(covered),
                        ..finding(
                            Kind::Gap,
                            format!(
                                "offsets {covered} to {} are in none of the ledgers verified together",
                                from - 1
                            ),
                        )
                    });
                } else if from < covered {
                    joined.offsets_in_several_stores += (covered.min(to) - from) as u64;
                }
                covered = covered.max(to);
            }
        }
    }
    joined.findings.sort();
    joined.ok = joined.findings.is_empty();
    Ok(joined)
}

/// The events a store held when its ledger began, as the ledger adopted them.
fn check_adopted(
    report: &mut Report,
    stored: &mut HashMap<String, Stored>,
    removed_days: &Removals,
    day: Day,
    events: &[(String, String)],
    seq: u64,
) {
    for (id, recorded) in events {
        report.adopted += 1;
        let place = |kind: Kind, detail: String| Finding {
            day: Some(day.to_string()),
            id: Some(id.clone()),
            ..finding(kind, detail)
        };
        let Some(fp) = unhex::<16>(recorded) else {
            report.findings.push(place(
                Kind::Ledger,
                format!("record {seq}: the fingerprint is not 16 bytes of hex"),
            ));
            continue;
        };
        let removed = format!("adopted by ledger record {seq}, in no day index");
        account(
            report,
            stored,
            removed_days,
            Recorded {
                day,
                fp,
                recorded,
                verb: "adopted",
            },
            id,
            removed,
            place,
        );
    }
}

/// An event the ledger names (by a round or an adoption).
struct Recorded<'a> {
    day: Day,
    fp: [u8; 16],
    recorded: &'a str,
    /// How the ledger came to name it, for the findings.
    verb: &'a str,
}

/// Checks the stored event `id` against what the ledger `recorded` of it: present in its
/// day with the same fingerprint, or gone with its day by retention or eviction.
fn account(
    report: &mut Report,
    stored: &mut HashMap<String, Stored>,
    removed_days: &Removals,
    recorded: Recorded<'_>,
    id: &str,
    removed: String,
    place: impl Fn(Kind, String) -> Finding,
) {
    let Recorded {
        day,
        fp,
        recorded,
        verb,
    } = recorded;
    match stored.get_mut(id) {
        None if removed_days.by_policy.contains(&day) => report.removed_by_policy += 1,
        None if removed_days.evicted.contains(&day) => report.in_object_storage += 1,
        None => report.findings.push(place(Kind::Removed, removed)),
        Some(event) => {
            event.seen = true;
            if event.day != day {
                report.findings.push(place(
                    Kind::Altered,
                    format!("{verb} in day {day}, found in day {}", event.day),
                ));
            } else if event.fingerprint != fp {
                report.findings.push(place(
                    Kind::Altered,
                    format!(
                        "stored bytes hash to {}, the ledger {verb} {recorded}",
                        hex::encode(event.fingerprint)
                    ),
                ));
            }
        }
    }
}

/// Per day, each stored event's id and fingerprint.
pub type StoredByDay = BTreeMap<Day, Vec<(String, [u8; 16])>>;

/// Every event the day indexes under `layout` hold, by day: id and fingerprint
/// (documents that cannot be read are left out; `verify` names them).
pub fn stored_events(layout: &IndexLayout) -> Result<StoredByDay, StoreError> {
    let mut report = Report::default();
    let mut by_day: BTreeMap<Day, Vec<(String, [u8; 16])>> = BTreeMap::new();
    for (id, event) in read_events(layout, &mut report)? {
        by_day
            .entry(event.day)
            .or_default()
            .push((id, event.fingerprint));
    }
    for events in by_day.values_mut() {
        events.sort();
    }
    Ok(by_day)
}

/// The days the ledger records leaving the volume.
struct Removals {
    /// Removed by retention.
    by_policy: BTreeSet<Day>,
    /// Evicted to object storage, which keeps them.
    evicted: BTreeSet<Day>,
}

#[allow(clippy::too_many_arguments)]
fn check_round(
    report: &mut Report,
    stored: &mut HashMap<String, Stored>,
    removed_days: &Removals,
    heads: &mut BTreeMap<i32, (i64, [u8; 32])>,
    partition: i32,
    round: &ledger::PartitionRound,
    seq: u64,
) {
    let at = |kind: Kind, offset: Option<i64>, detail: String| Finding {
        partition: Some(partition),
        offset,
        ..finding(kind, detail)
    };
    let (next, mut head) = heads
        .get(&partition)
        .copied()
        .unwrap_or((round.from, ZERO_HEAD));
    if round.from > next && round.handover {
        // Another indexer held the partition for the offsets between.
        report.handovers += 1;
    } else if round.from != next {
        report.findings.push(at(
            Kind::Gap,
            Some(next.min(round.from)),
            format!(
                "record {seq}: the round starts at offset {} where the chain stands at {next}",
                round.from
            ),
        ));
    }
    if let Some(carried) = &round.carried {
        match unhex::<32>(carried) {
            Some(from) => {
                head = from;
                report.carried_heads += 1;
                report.carried.push((partition, round.from, from));
            }
            None => report.findings.push(at(
                Kind::Ledger,
                None,
                format!("record {seq}: the carried head is not 32 bytes of hex"),
            )),
        }
    }
    if unhex::<32>(&round.head).is_none() {
        report.findings.push(at(
            Kind::Ledger,
            None,
            format!("record {seq}: the head is not 32 bytes of hex"),
        ));
    }
    // Every offset of the round: an event or a recorded skip, once.
    let mut offsets: BTreeSet<i64> = BTreeSet::new();
    for offset in round
        .events
        .iter()
        .map(|(offset, ..)| *offset)
        .chain(round.skipped.iter().map(|(offset, _)| *offset))
    {
        if offset < round.from || offset >= round.to || !offsets.insert(offset) {
            report.findings.push(at(
                Kind::Ledger,
                Some(offset),
                format!(
                    "record {seq}: offset {offset} is outside [{}, {}) or listed twice",
                    round.from, round.to
                ),
            ));
        }
    }
    let mut missing = (round.from..round.to).filter(|offset| !offsets.contains(offset));
    if let Some(first) = missing.next() {
        let count = 1 + missing.count();
        report.findings.push(at(
            Kind::Gap,
            Some(first),
            format!("record {seq}: {count} offsets from {first} are neither indexed nor recorded as skipped"),
        ));
    }
    let mut last = i64::MIN;
    for (offset, day, id, recorded) in &round.events {
        if *offset <= last {
            report.findings.push(at(
                Kind::Ledger,
                Some(*offset),
                format!("record {seq}: events out of offset order"),
            ));
        }
        last = *offset;
        let Some(fp) = unhex::<16>(recorded) else {
            report.findings.push(at(
                Kind::Ledger,
                Some(*offset),
                format!("record {seq}: the fingerprint is not 16 bytes of hex"),
            ));
            continue;
        };
        head = next_head(&head, *offset, &fp);
        let place = |kind: Kind, detail: String| Finding {
            day: Some(day.to_string()),
            id: Some(id.clone()),
            ..at(kind, Some(*offset), detail)
        };
        let named = Recorded {
            day: *day,
            fp,
            recorded,
            verb: "recorded",
        };
        let removed = "recorded by the ledger, in no day index".to_owned();
        account(report, stored, removed_days, named, id, removed, place);
    }
    if hex::encode(head) != round.head {
        report.findings.push(at(
            Kind::Ledger,
            None,
            format!("record {seq}: the head does not follow from the fingerprints recorded"),
        ));
    }
    heads.insert(partition, (round.to.max(next), head));
    report
        .ends
        .entry(partition)
        .or_default()
        .insert(round.to, head);
    if round.to > round.from {
        report
            .rounds
            .entry(partition)
            .or_default()
            .push((round.from, round.to));
    }
}

/// Every event of every day index: id → day and fingerprint.
fn read_events(
    layout: &IndexLayout,
    report: &mut Report,
) -> Result<HashMap<String, Stored>, StoreError> {
    let mut stored = HashMap::new();
    let days = layout
        .days()
        .map_err(|error| StoreError::io(layout.root(), error))?;
    for day in days {
        let unreadable = |detail: String| Finding {
            day: Some(day.to_string()),
            ..finding(Kind::Unreadable, detail)
        };
        let (index, fields) = match layout.open(day) {
            Ok(opened) => opened,
            Err(error) => {
                report.findings.push(unreadable(error.to_string()));
                continue;
            }
        };
        let reader = match index.reader() {
            Ok(reader) => reader,
            Err(error) => {
                report.findings.push(unreadable(error.to_string()));
                continue;
            }
        };
        let searcher = reader.searcher();
        for (ordinal, segment) in searcher.segment_readers().iter().enumerate() {
            for doc in segment.doc_ids_alive() {
                let document: TantivyDocument =
                    match searcher.doc(DocAddress::new(ordinal as u32, doc)) {
                        Ok(document) => document,
                        Err(error) => {
                            report.findings.push(unreadable(format!(
                                "segment {} document {doc}: {error}",
                                segment.segment_id().uuid_string()
                            )));
                            continue;
                        }
                    };
                let bytes = document
                    .get_first(fields.event)
                    .and_then(|v| v.as_bytes())
                    .unwrap_or_default();
                // The id is indexed, not stored: the stored event names it.
                #[derive(serde::Deserialize)]
                struct Named {
                    id: String,
                }
                let id = match serde_json::from_slice::<Named>(bytes) {
                    Ok(named) => named.id,
                    Err(error) => {
                        report.findings.push(unreadable(format!(
                            "segment {} document {doc}: the stored event names no id ({error})",
                            segment.segment_id().uuid_string()
                        )));
                        continue;
                    }
                };
                report.events += 1;
                report.bytes += bytes.len() as u64;
                let entry = Stored {
                    day,
                    fingerprint: fingerprint(bytes),
                    seen: false,
                };
                if stored.insert(id.clone(), entry).is_some() {
                    report.findings.push(Finding {
                        id: Some(id),
                        ..unreadable("two documents with one id".into())
                    });
                }
            }
        }
    }
    Ok(stored)
}

fn check_digests(
    layout: &IndexLayout,
    key: Option<&VerifyingKey>,
    lines: &[(String, ledger::Record)],
    heads_at: &[BTreeMap<i32, (i64, [u8; 32])>],
    report: &mut Report,
) -> Result<(), StoreError> {
    let files = digest::files(&layout.root().join(digest::DIGESTS_DIR))?;
    report.digests = files.len() as u64;
    let mut prev = String::new();
    let mut covered: Option<u64> = None;
    for (n, path) in files.iter().enumerate() {
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().to_string())
            .unwrap_or_default();
        let bad = |detail: String| finding(Kind::Digest, format!("digest {name}: {detail}"));
        let bytes = std::fs::read(path).map_err(|e| StoreError::io(path, e))?;
        let file_hash = hex::encode(Sha256::digest(&bytes));
        let parsed = serde_json::from_slice::<DigestFile>(&bytes)
            .map_err(|e| e.to_string())
            .and_then(|file| match key {
                Some(key) => file.verified(key),
                None => file.body(),
            });
        let body = match parsed {
            Ok(body) => body,
            Err(error) => {
                report
                    .findings
                    .push(bad(format!("{error} (forged, replaced or edited)")));
                prev = file_hash;
                continue;
            }
        };
        if body.seq != n as u64 || body.prev_digest != prev {
            report.findings.push(bad(
                "out of place: digests were removed, inserted or reordered".into(),
            ));
        }
        prev = file_hash;
        match lines.get(body.ledger_seq as usize) {
            None => report.findings.push(bad(format!(
                "covers ledger record {}, which the ledger does not have (records were removed)",
                body.ledger_seq
            ))),
            Some((line, _)) if line_hash(line.as_bytes()) != body.ledger_hash => {
                report.findings.push(bad(format!(
                    "ledger record {} is not the one it signed (the ledger was edited)",
                    body.ledger_seq
                )))
            }
            Some(_) => {
                let stated: BTreeMap<i32, (i64, String)> = body.partitions.clone();
                let actual: BTreeMap<i32, (i64, String)> = heads_at[body.ledger_seq as usize]
                    .iter()
                    .map(|(p, (next, head))| (*p, (*next, hex::encode(head))))
                    .collect();
                if stated != actual {
                    report.findings.push(bad(format!(
                        "the chain heads it signed differ from the ledger's at record {}",
                        body.ledger_seq
                    )));
                }
            }
        }
        covered = Some(body.ledger_seq);
    }
    if key.is_some() && files.is_empty() && !lines.is_empty() {
        report.findings.push(finding(
            Kind::Digest,
            "no signed digest, though the ledger has records",
        ));
    }
    report.records_after_last_digest = match covered {
        Some(seq) => (lines.len() as u64).saturating_sub(seq + 1),
        None => lines.len() as u64,
    };
    Ok(())
}

/// A report as text, one finding per line.
pub fn render(report: &Report, root: &Path) -> String {
    use std::fmt::Write as _;
    let mut out = String::new();
    for f in &report.findings {
        let mut place = Vec::new();
        if let Some(day) = &f.day {
            place.push(format!("day {day}"));
        }
        if let Some(p) = f.partition {
            place.push(format!("partition {p}"));
        }
        if let Some(o) = f.offset {
            place.push(format!("offset {o}"));
        }
        if let Some(id) = &f.id {
            place.push(format!("id {id}"));
        }
        let kind = serde_json::to_value(f.kind)
            .ok()
            .and_then(|v| v.as_str().map(str::to_string))
            .unwrap_or_default();
        let _ = writeln!(
            out,
            "{kind}: {}{}{}",
            place.join(", "),
            if place.is_empty() { "" } else { ": " },
            f.detail
        );
    }
    let _ = writeln!(
        out,
        "{}: {} events ({} bytes) in {}{}, {} ledger records, {} digests ({} records after the last), {} events adopted when the ledger began, {} events removed by retention, {} events in days evicted to object storage, {} partitions resumed after another indexer held them ({} going on from its carried head, {} of those matched in its ledger), {} problems",
        if report.ok {
            "verified"
        } else {
            "NOT verified"
        },
        report.events,
        report.bytes,
        root.display(),
        if report.stores > 1 {
            format!(" and {} more stores", report.stores - 1)
        } else {
            String::new()
        },
        report.ledger_records,
        report.digests,
        report.records_after_last_digest,
        report.adopted,
        report.removed_by_policy,
        report.in_object_storage,
        report.handovers,
        report.carried_heads,
        report.linked_handovers,
        report.findings.len()
    );
    out
}
