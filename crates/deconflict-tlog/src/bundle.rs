//! Offline bundles: the entries of a log with their inclusion proofs, its signed checkpoints
//! with the consistency proofs between them, and its public key, in one JSON file
//! (`docs/log.md`). [`verify_bundle`] needs nothing else, and names each entry or checkpoint
//! that does not hold.

use crate::checkpoint::SignedCheckpoint;
use crate::log::{Log, LogError};
use crate::record::Record;
use crate::storage::LogStorage;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt;
use tlog_tiles::{check_record, check_tree, record_hash, Hash};

/// The `format` of the bundles this crate writes and reads.
pub const BUNDLE_FORMAT: &str = "deconflict-log-bundle/1";

/// An exported log.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Bundle {
    /// Always [`BUNDLE_FORMAT`].
    pub format: String,
    /// The log's public key, signed-note verifier form. Check it against one you got
    /// elsewhere (`deconflict verify --key`).
    pub public_key: String,
    /// Signed checkpoints (signed notes), by increasing size; the last one is the tree every
    /// entry's proof leads to.
    pub checkpoints: Vec<String>,
    /// Consistency proofs between successive checkpoints.
    pub consistency: Vec<ConsistencyStep>,
    /// Entries `0..size` of the last checkpoint, in order.
    pub entries: Vec<BundleEntry>,
}

/// A consistency proof from the tree of `from` entries to the tree of `to`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ConsistencyStep {
    pub from: u64,
    pub to: u64,
    /// Base64 hashes, RFC 9162 order.
    pub proof: Vec<String>,
}

/// One entry and its inclusion proof in the last checkpoint's tree.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct BundleEntry {
    pub index: u64,
    /// The canonical record, as the log hashed it.
    pub record: String,
    /// Base64 hashes, RFC 9162 order.
    pub proof: Vec<String>,
}

fn b64(hs: &[Hash]) -> Vec<String> {
    hs.iter().map(Hash::to_string).collect()
}

/// Exports every entry up to the latest checkpoint, with every kept checkpoint.
pub fn export_bundle<S: LogStorage>(log: &Log<S>, public_key: &str) -> Result<Bundle, LogError> {
    let kept = log.storage().checkpoints()?;
    let Some(&(size, _)) = kept.last() else {
        return Err(LogError::Invalid("the log has no checkpoint yet".into()));
    };
    let mut checkpoints = Vec::with_capacity(kept.len());
    let mut consistency = Vec::new();
    let mut prev = 0;
    for (s, note) in kept {
        checkpoints.push(String::from_utf8(note).map_err(|_| {
            crate::StorageError::Corrupt(format!("the checkpoint of size {s} is not UTF-8"))
        })?);
        if prev > 0 {
            consistency.push(ConsistencyStep {
                from: prev,
                to: s,
                proof: b64(&log.consistency_proof(prev, s)?),
            });
        }
        prev = s;
    }
    let mut entries = Vec::with_capacity(size as usize);
    const CHUNK: u64 = 10_000;
    for from in (0..size).step_by(CHUNK as usize) {
        let to = (from + CHUNK).min(size);
        for (i, r) in (from..).zip(log.records(from, to)?) {
            entries.push(BundleEntry {
                index: i,
                record: String::from_utf8(r).map_err(|_| {
                    crate::StorageError::Corrupt(format!("record {i} is not UTF-8"))
                })?,
                proof: b64(&log.inclusion_proof(i, size)?),
            });
        }
    }
    if entries.len() as u64 != size {
        return Err(crate::StorageError::Corrupt(format!(
            "{} records stored below the checkpoint of size {size}",
            entries.len()
        ))
        .into());
    }
    Ok(Bundle {
        format: BUNDLE_FORMAT.into(),
        public_key: public_key.into(),
        checkpoints,
        consistency,
        entries,
    })
}

/// One thing in a bundle that does not hold.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Problem {
    /// What is wrong: `entry 5`, `checkpoint 2 (size 10)`, `public key` ...
    pub subject: String,
    /// Why.
    pub reason: String,
}

/// The outcome of [`verify_bundle`].
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub entries: usize,
    pub checkpoints: usize,
    /// Size and base64 root of the last valid checkpoint.
    pub latest_size: Option<u64>,
    pub latest_root: Option<String>,
    pub problems: Vec<Problem>,
}

impl Report {
    pub fn is_consistent(&self) -> bool {
        self.problems.is_empty()
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_consistent() {
            write!(
                f,
                "consistent: {} entries, {} checkpoints",
                self.entries, self.checkpoints
            )?;
            if let (Some(s), Some(r)) = (self.latest_size, &self.latest_root) {
                write!(f, "; latest checkpoint: size {s}, root {r}")?;
            }
            return writeln!(f);
        }
        writeln!(f, "NOT consistent: {} problem(s)", self.problems.len())?;
        for p in &self.problems {
            writeln!(f, "  {}: {}", p.subject, p.reason)?;
        }
        Ok(())
    }
}

fn parse_hashes(hs: &[String]) -> Option<Vec<Hash>> {
    hs.iter().map(|h| Hash::parse_hash(h).ok()).collect()
}

/// Checks a bundle offline. With `expected_key`, the bundle's key must be that one.
pub fn verify_bundle(b: &Bundle, expected_key: Option<&str>) -> Report {
    let mut problems = Vec::new();
    let mut problem = |subject: String, reason: String| problems.push(Problem { subject, reason });
    if b.format != BUNDLE_FORMAT {
        problem(
            "format".into(),
            format!("{:?} is not {BUNDLE_FORMAT:?}", b.format),
        );
    }
    if let Some(k) = expected_key {
        if k.trim() != b.public_key {
            problem(
                "public key".into(),
                format!(
                    "the bundle's key {} is not the one given ({k})",
                    b.public_key
                ),
            );
        }
    }

    // Checkpoints: signature, order, forks, consistency.
    let mut valid: Vec<(usize, SignedCheckpoint)> = Vec::new();
    for (i, note) in b.checkpoints.iter().enumerate() {
        match SignedCheckpoint::open(note, &b.public_key) {
            Ok(cp) => valid.push((i, cp)),
            Err(e) => problem(format!("checkpoint {i}"), e.to_string()),
        }
    }
    let mut by_size: BTreeMap<u64, (usize, Hash)> = BTreeMap::new();
    for (i, cp) in &valid {
        match by_size.get(&cp.size) {
            Some((j, root)) if *root != cp.root => problem(
                format!("checkpoints {j} and {i}"),
                format!(
                    "both are signed for size {} with different roots ({root} and {}): the log forked",
                    cp.size, cp.root
                ),
            ),
            Some(_) => {}
            None => {
                by_size.insert(cp.size, (*i, cp.root));
            }
        }
    }
    for w in valid.windows(2) {
        let ((i, a), (j, c)) = (&w[0], &w[1]);
        if c.size < a.size {
            problem(
                format!("checkpoint {j} (size {})", c.size),
                format!("comes after checkpoint {i} of larger size {}", a.size),
            );
        }
    }
    let steps: BTreeMap<(u64, u64), &ConsistencyStep> =
        b.consistency.iter().map(|s| ((s.from, s.to), s)).collect();
    let sizes: Vec<(&u64, &(usize, Hash))> = by_size.iter().collect();
    for w in sizes.windows(2) {
        let ((&from, &(i, old)), (&to, &(j, new))) = (w[0], w[1]);
        if from == 0 {
            continue;
        }
        let subject = format!("checkpoints {i} (size {from}) and {j} (size {to})");
        match steps.get(&(from, to)) {
            None => problem(subject, "no consistency proof between them".into()),
            Some(step) => match parse_hashes(&step.proof) {
                Some(p) if check_tree(&p, to, new, from, old).is_ok() => {}
                _ => problem(
                    subject,
                    "the consistency proof fails: the smaller tree is not a prefix of the larger"
                        .into(),
                ),
            },
        }
    }

    // Entries: each one in order, and proven in the last checkpoint.
    let last = by_size
        .last_key_value()
        .map(|(&size, &(i, root))| (i, size, root));
    let mut expected = 0u64;
    for (pos, e) in b.entries.iter().enumerate() {
        if e.index > expected {
            let missing = if e.index - expected == 1 {
                format!("entry {expected}")
            } else {
                format!("entries {expected} to {}", e.index - 1)
            };
            problem(
                missing,
                format!("missing: the bundle's entries jump to entry {}", e.index),
            );
        } else if e.index < expected {
            problem(
                format!("entry {}", e.index),
                format!(
                    "out of order: at position {pos}, after entry {}",
                    expected - 1
                ),
            );
        }
        expected = expected.max(e.index.saturating_add(1));
        if let Err(err) = Record::from_bytes(e.record.as_bytes()) {
            problem(
                format!("entry {}", e.index),
                format!("not a valid record: {err}"),
            );
        }
        let Some((ci, size, root)) = last else {
            continue;
        };
        let ok = parse_hashes(&e.proof).is_some_and(|p| {
            e.index < size
                && check_record(&p, size, root, e.index, record_hash(e.record.as_bytes())).is_ok()
        });
        if !ok {
            problem(
                format!("entry {}", e.index),
                format!(
                    "not in the tree of checkpoint {ci} (size {size}) at this index: the record or its place was changed"
                ),
            );
        }
    }
    match last {
        None => problem(
            "checkpoints".into(),
            "no valid checkpoint: nothing can be verified".into(),
        ),
        Some((_, size, _)) if expected < size => problem(
            if size - expected == 1 {
                format!("entry {expected}")
            } else {
                format!("entries {expected} to {}", size - 1)
            },
            format!("missing: the last checkpoint covers {size} entries"),
        ),
        _ => {}
    }

    Report {
        entries: b.entries.len(),
        checkpoints: b.checkpoints.len(),
        latest_size: last.map(|l| l.1),
        latest_root: last.map(|l| l.2.to_string()),
        problems,
    }
}
