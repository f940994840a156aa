//! deconflict's tamper-evident log (`docs/log.md`).
//!
//! An append-only Merkle log with RFC 6962 / RFC 9162 hashing (leaf `SHA-256(0x00 || record)`,
//! node `SHA-256(0x01 || left || right)`), holding one canonical [`Record`] per event, persisted
//! on SQLite or PostgreSQL through [`LogStorage`]. The instance signs checkpoints in the C2SP
//! tlog-checkpoint / signed-note format with its Ed25519 key ([`LogKey`]), serves inclusion and
//! consistency proofs in O(log n) hash look-ups ([`Log`]), and exports [`Bundle`]s that anyone
//! verifies offline ([`verify_bundle`]), and gives [`Receipt`]s of single entries that a party
//! keeps and checks offline ([`Receipt::check`]). Acknowledgments signed by the party itself
//! are [`SignedAck`]s.
//!
//! The Merkle arithmetic (stored-hash indexes, proof construction and checking) and the two
//! text formats come from the `tlog_tiles` and `signed_note` crates (Go's `sumdb` ported by
//! Cloudflare); this crate decides how hashes are stored so that proofs stay fast.

mod ack;
mod bundle;
mod checkpoint;
mod log;
mod receipt;
mod record;
pub mod storage;
mod tree;

pub use ack::{AckError, PartyKey, SignedAck};
pub use bundle::{export_bundle, verify_bundle, Bundle, BundleEntry, Problem, Report};
pub use checkpoint::{run_checkpointer, CheckpointError, LogKey, SignedCheckpoint};
pub use log::{Indexed, Keyed, Log, LogError, LogOptions};
pub use receipt::{check_content, Receipt, ReceiptError};
pub use record::{Kind, Record, RecordError, RECORD_VERSION};
pub use storage::{LogStorage, PostgresLogStorage, SqliteLogStorage, StorageError};
/// Proof checks (RFC 9162 2.1.3.2 and 2.1.4.2), for clients holding a checkpoint.
pub use tlog_tiles::{check_record as check_inclusion, check_tree as check_consistency, Hash};
pub use tree::DEFAULT_CACHE_BYTES;

/// Leaves per block: hashes below this level are stored in one row per block (see `tree`).
pub const BLOCK_LEAVES: u64 = 1 << tree::BLOCK_HEIGHT;

/// Standard base64 of a hash, as checkpoints and bundles write it.
pub fn hash_b64(h: &Hash) -> String {
    h.to_string()
}

/// The RFC 6962 leaf hash of a record's canonical bytes.
pub fn leaf_hash(record: &[u8]) -> Hash {
    tlog_tiles::record_hash(record)
}
