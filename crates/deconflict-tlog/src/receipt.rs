//! Receipts: an entry with its inclusion proof in the tree of a signed checkpoint, which a
//! party keeps and checks offline with nothing but the log's public key (`docs/api.md`,
//! "Keeping and checking receipts"). [`Log::receipts`] makes them; [`Receipt::check`] and
//! [`check_content`] check them.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::checkpoint::{CheckpointError, LogKey, SignedCheckpoint};
use crate::log::{Log, LogError};
use crate::record::{Record, RecordError};
use crate::storage::LogStorage;
use crate::{check_inclusion, hash_b64, leaf_hash, Hash};

/// Proof that an entry is in the log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Receipt {
    /// The entry's index in the log.
    pub index: u64,
    /// The RFC 6962 leaf hash of the record, base64.
    pub leaf_hash: String,
    /// The canonical record, as hashed.
    pub record: String,
    /// The signed checkpoint (C2SP signed note) the proof is against.
    pub checkpoint: String,
    /// Its tree size.
    pub tree_size: u64,
    /// The RFC 9162 inclusion proof, base64 hashes.
    pub proof: Vec<String>,
}

/// Why a receipt does not hold; each names the field at fault.
#[derive(Debug, thiserror::Error)]
pub enum ReceiptError {
    #[error("checkpoint: {0}")]
    Checkpoint(#[from] CheckpointError),
    #[error("tree_size: {0}, but the checkpoint is of {1} entries")]
    TreeSize(u64, u64),
    #[error("leaf_hash: not the leaf hash of the record")]
    LeafHash,
    #[error("proof: {0}")]
    Proof(String),
    #[error("record: {0}")]
    Record(#[from] RecordError),
    #[error("content: its SHA-256 {actual} is not the record's content_sha256 {recorded}")]
    Content { actual: String, recorded: String },
}

impl Receipt {
    /// Checks the receipt against the log's public key `verifier_key` (signed-note verifier
    /// form): the checkpoint is signed by it and is of `tree_size` entries, `leaf_hash` is the
    /// record's, and the proof leads from it at `index` to the checkpoint's root. Returns the
    /// record.
    pub fn check(&self, verifier_key: &str) -> Result<Record, ReceiptError> {
        let cp = SignedCheckpoint::open(&self.checkpoint, verifier_key.trim())?;
        if cp.size != self.tree_size {
            return Err(ReceiptError::TreeSize(self.tree_size, cp.size));
        }
        let leaf = leaf_hash(self.record.as_bytes());
        if hash_b64(&leaf) != self.leaf_hash {
            return Err(ReceiptError::LeafHash);
        }
        let proof = self
            .proof
            .iter()
            .enumerate()
            .map(|(i, h)| {
                Hash::parse_hash(h)
                    .map_err(|_| ReceiptError::Proof(format!("[{i}] is not a base64 hash")))
            })
            .collect::<Result<Vec<_>, _>>()?;
        check_inclusion(&proof, cp.size, cp.root, self.index, leaf).map_err(|_| {
            ReceiptError::Proof(format!(
                "does not lead from entry {} to the root of the checkpoint's {} entries",
                self.index, cp.size
            ))
        })?;
        Ok(Record::from_bytes(self.record.as_bytes())?)
    }
}

/// Checks that `content` (a notification exactly as delivered) is what `record` (its
/// `notification` record, from a checked receipt) hashes: `body.content_sha256` is its SHA-256.
pub fn check_content(record: &Record, content: &[u8]) -> Result<(), ReceiptError> {
    let actual = hex::encode(Sha256::digest(content));
    let recorded = record
        .body
        .get("content_sha256")
        .and_then(|v| v.as_str())
        .unwrap_or_default();
    if actual == recorded {
        Ok(())
    } else {
        Err(ReceiptError::Content {
            actual,
            recorded: recorded.to_owned(),
        })
    }
}

impl<S: LogStorage> Log<S> {
    /// The receipts of the entries at `indexes`, all against one checkpoint signed with `key`:
    /// the latest kept if it covers them, else one signed now. Blocking.
    pub fn receipts(&self, indexes: &[u64], key: &LogKey) -> Result<Vec<Receipt>, LogError> {
        let Some(&last) = indexes.iter().max() else {
            return Ok(Vec::new());
        };
        let cp = match self.latest_checkpoint(key)? {
            Some(cp) if cp.size > last => cp,
            _ => {
                // Another instance of a pool may have appended the entry.
                if last >= self.size() {
                    self.catch_up()?;
                }
                self.checkpoint(key)?
            }
        };
        indexes
            .iter()
            .map(|&index| {
                let proof = self.inclusion_proof(index, cp.size)?;
                let record = self
                    .records(index, index + 1)?
                    .pop()
                    .ok_or_else(|| LogError::Invalid(format!("log entry {index} is missing")))?;
                Ok(Receipt {
                    index,
                    leaf_hash: hash_b64(&leaf_hash(&record)),
                    record: String::from_utf8_lossy(&record).into_owned(),
                    checkpoint: cp.note.clone(),
                    tree_size: cp.size,
                    proof: proof.iter().map(hash_b64).collect(),
                })
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::Kind;
    use crate::storage::SqliteLogStorage;

    fn record(i: u64, content: &[u8]) -> Record {
        let mut body = serde_json::Map::new();
        body.insert("seq".into(), i.into());
        body.insert(
            "content_sha256".into(),
            hex::encode(Sha256::digest(content)).into(),
        );
        Record {
            kind: Kind::Notification,
            time: "2026-11-28T03:00:00.000Z".into(),
            party: "ngo".into(),
            subject: format!("n-{i}"),
            body,
        }
    }

    /// A log of 13 notification records (content `told <i>`), its key and receipts of 0, 5, 12.
    fn receipts() -> (tempfile::TempDir, LogKey, Vec<Receipt>) {
        let dir = tempfile::tempdir().unwrap();
        let log =
            Log::open(SqliteLogStorage::open(dir.path().join("log.sqlite3")).unwrap()).unwrap();
        let records: Vec<Record> = (0..13)
            .map(|i| record(i, format!("told {i}").as_bytes()))
            .collect();
        log.append(&records).unwrap();
        let (key, _) = LogKey::generate("deconflict.example/log").unwrap();
        let got = log.receipts(&[0, 5, 12], &key).unwrap();
        (dir, key, got)
    }

    #[test]
    fn receipts_check_with_the_key_and_name_what_was_changed() {
        let (_dir, key, got) = receipts();
        let vkey = key.verifier_key();
        for r in &got {
            assert_eq!(r.tree_size, 13);
            let record = r.check(vkey).unwrap();
            let told = format!("told {}", r.index);
            check_content(&record, told.as_bytes()).unwrap();
            assert!(matches!(
                check_content(&record, b"told something else"),
                Err(ReceiptError::Content { .. })
            ));
        }
        let r = &got[1];
        let err = |changed: Receipt, key: &str| changed.check(key).map(|_| ()).unwrap_err();
        let (other, _) = LogKey::generate("deconflict.example/log").unwrap();
        let cases: Vec<(Receipt, &str, &str)> = vec![
            (r.clone(), other.verifier_key(), "checkpoint:"),
            (
                Receipt {
                    tree_size: 12,
                    ..r.clone()
                },
                vkey,
                "tree_size:",
            ),
            (
                Receipt {
                    record: r.record.replace("n-5", "n-6"),
                    ..r.clone()
                },
                vkey,
                "leaf_hash:",
            ),
            (
                Receipt {
                    index: 4,
                    ..r.clone()
                },
                vkey,
                "proof:",
            ),
            (
                Receipt {
                    proof: r.proof[1..].to_vec(),
                    ..r.clone()
                },
                vkey,
                "proof:",
            ),
            (
                Receipt {
                    proof: vec!["not base64".into()],
                    ..r.clone()
                },
                vkey,
                "proof: [0]",
            ),
            (
                Receipt {
                    checkpoint: r.checkpoint.replace("13", "14"),
                    ..r.clone()
                },
                vkey,
                "checkpoint:",
            ),
        ];
        for (changed, k, named) in cases {
            let e = err(changed, k).to_string();
            assert!(e.starts_with(named), "{e} should start with {named}");
        }
        // A record changed along with its leaf hash no longer leads to the root.
        let record = r.record.replace("n-5", "n-6");
        let forged = Receipt {
            leaf_hash: hash_b64(&leaf_hash(record.as_bytes())),
            record,
            ..r.clone()
        };
        assert!(err(forged, vkey).to_string().starts_with("proof:"));
    }

    #[test]
    fn no_indexes_no_receipts() {
        let dir = tempfile::tempdir().unwrap();
        let log = Log::open(SqliteLogStorage::open(dir.path().join("l.sqlite3")).unwrap()).unwrap();
        let (key, _) = LogKey::generate("deconflict.example/log").unwrap();
        assert!(log.receipts(&[], &key).unwrap().is_empty());
        assert!(
            log.receipts(&[0], &key).is_err(),
            "no entry 0 in an empty log"
        );
    }
}
