//! The log: batched durable appends, tree heads and proofs for any size it holds.
//!
//! Appends are committed in groups: the records of every `append` call that arrives while a
//! commit runs go into the next transaction together (one fsync for all), each call getting its
//! own indexes back. Memory (see `tree`) is updated only after the commit, so proofs never show
//! an entry that is not durable. Proof requests only take a read lock: a commit does not hold
//! them up.

use crate::checkpoint::{CheckpointError, LogKey, SignedCheckpoint};
use crate::record::{Record, RecordError};
use crate::storage::{LogStorage, StorageError};
use crate::tree::{extend_from, BlockCache, Reader, State};
use std::collections::{HashMap, HashSet};
use std::ops::Range;
use std::sync::{Arc, Condvar, Mutex, RwLock};
use tlog_tiles::{prove_record, prove_tree, record_hash, tree_hash, Hash};

/// Why a log operation failed.
#[derive(Debug, thiserror::Error)]
pub enum LogError {
    #[error(transparent)]
    Storage(#[from] StorageError),
    #[error(transparent)]
    Record(#[from] RecordError),
    #[error(transparent)]
    Checkpoint(#[from] CheckpointError),
    /// The request cannot be answered as asked (the message names the parameter and the rule).
    #[error("{0}")]
    Invalid(String),
    #[error("computing a proof: {0}")]
    Proof(String),
    /// The group commit this append was part of failed.
    #[error("{0}")]
    Group(Arc<LogError>),
}

/// A canonical record and the terms it is found by.
pub type Indexed = (Vec<u8>, Vec<String>);

/// An entry of [`Log::append_once`]: a canonical record, the terms it is found by, and its
/// key, a term no other entry of the log may have (an event's id).
#[derive(Debug, Clone)]
pub struct Keyed {
    pub key: String,
    pub record: Vec<u8>,
    pub terms: Vec<String>,
}

/// An entry waiting for a group commit; `key` is among `terms`, which are distinct (so that
/// storage inserts them without checking for repeats).
struct Entry {
    record: Vec<u8>,
    terms: Vec<String>,
    key: Option<String>,
}

impl Entry {
    fn new(record: Vec<u8>, mut terms: Vec<String>, key: Option<String>) -> Self {
        if let Some(k) = &key {
            terms.push(k.clone());
        }
        terms.sort_unstable();
        terms.dedup();
        Entry { record, terms, key }
    }
}

/// Where a group commit put each entry of one call: its index, `None` if not appended.
type Placed = Result<Vec<Option<u64>>, Arc<LogError>>;

/// Appends waiting for the next group commit, and the outcomes of finished ones.
#[derive(Default)]
struct Inbox {
    waiting: Vec<(u64, Vec<Entry>)>,
    next_ticket: u64,
    committing: bool,
    outcomes: HashMap<u64, Placed>,
}

/// How a [`Log`] is opened.
#[derive(Debug, Clone)]
pub struct LogOptions {
    /// Memory for cached block rows (16,320 bytes each, the hashes of 256 entries); at least
    /// one row is kept whatever this says. A proof needs the row of its entry's block
    /// (inclusion) or of the two sizes' last entries' blocks (consistency) and takes every other
    /// hash from memory, so a proof whose rows are cached makes no storage read (on
    /// PostgreSQL: no round trip). Rows written by this instance are cached as they are
    /// written, rows read for a proof once read. [`DEFAULT_CACHE_BYTES`] (32 MiB) by default:
    /// the rows of the newest (or most recently proved) 526,000 or so entries; the whole of a
    /// 10,000,000-entry log's rows would take 637 MB.
    ///
    /// [`DEFAULT_CACHE_BYTES`]: crate::DEFAULT_CACHE_BYTES
    pub cache_bytes: usize,
}

impl Default for LogOptions {
    fn default() -> Self {
        LogOptions {
            cache_bytes: crate::DEFAULT_CACHE_BYTES,
        }
    }
}

/// An append-only Merkle log on a [`LogStorage`]. Blocking; share it behind an `Arc`.
pub struct Log<S: LogStorage> {
    storage: S,
    state: RwLock<State>,
    appending: Mutex<()>,
    inbox: Mutex<Inbox>,
    committed: Condvar,
    cache: BlockCache,
}

impl<S: LogStorage> Log<S> {
    /// Opens the log kept in `storage`, rebuilding memory from it, with the default
    /// [`LogOptions`].
    pub fn open(storage: S) -> Result<Self, LogError> {
        Self::open_with(storage, LogOptions::default())
    }

    /// Opens the log kept in `storage` with `options`.
    pub fn open_with(storage: S, options: LogOptions) -> Result<Self, LogError> {
        let log = Log {
            storage,
            state: RwLock::new(State::default()),
            appending: Mutex::new(()),
            inbox: Mutex::new(Inbox::default()),
            committed: Condvar::new(),
            cache: BlockCache::with_bytes(options.cache_bytes),
        };
        log.catch_up_locked()?;
        Ok(log)
    }

    pub fn storage(&self) -> &S {
        &self.storage
    }

    /// Entries in the log (as this instance knows it; see [`Log::catch_up`]).
    pub fn size(&self) -> u64 {
        self.read().size
    }

    /// Bytes of hashes this instance holds in memory, block rows cached apart.
    pub fn memory_bytes(&self) -> usize {
        self.read().memory_bytes()
    }

    /// Block rows cached (see [`LogOptions::cache_bytes`]), and the most that are kept.
    pub fn cached_blocks(&self) -> (usize, usize) {
        self.cache.rows()
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, State> {
        self.state.read().unwrap_or_else(|e| e.into_inner())
    }

    /// Appends records, durably, as consecutive entries indexed by their
    /// [`Record::index_terms`]; returns their indexes.
    pub fn append(&self, records: &[Record]) -> Result<Range<u64>, LogError> {
        let entries = records
            .iter()
            .map(|r| Ok((r.to_bytes()?, r.index_terms())))
            .collect::<Result<Vec<_>, RecordError>>()?;
        self.append_indexed(entries)
    }

    /// Appends records already in canonical form ([`Record::to_bytes`]), not indexed; the
    /// bytes are not checked again.
    pub fn append_encoded(&self, records: Vec<Vec<u8>>) -> Result<Range<u64>, LogError> {
        self.append_indexed(records.into_iter().map(|r| (r, Vec::new())).collect())
    }

    /// Appends records in canonical form, each with the terms [`Log::find`] finds it by.
    /// Concurrent calls share one transaction (see the module's doc).
    pub fn append_indexed(&self, records: Vec<Indexed>) -> Result<Range<u64>, LogError> {
        let n = records.len() as u64;
        let entries = records
            .into_iter()
            .map(|(record, terms)| Entry::new(record, terms, None))
            .collect();
        match self.submit(entries)?.first() {
            Some(&Some(first)) => Ok(first..first + n),
            _ => {
                let size = self.size();
                Ok(size..size)
            }
        }
    }

    /// Appends each entry unless the log already holds an entry found by its key (checked in
    /// the append's transaction, so also against a pool's other instances appending at the same
    /// moment; of entries repeating a key, the first is appended). The key becomes one of the
    /// entry's terms. Returns each entry's index, `None` for one not appended.
    pub fn append_once(&self, entries: Vec<Keyed>) -> Result<Vec<Option<u64>>, LogError> {
        let entries = entries
            .into_iter()
            .map(|e| Entry::new(e.record, e.terms, Some(e.key)))
            .collect();
        self.submit(entries)
    }

    /// Has `entries` committed with the next group (see the module's doc).
    fn submit(&self, entries: Vec<Entry>) -> Result<Vec<Option<u64>>, LogError> {
        if entries.is_empty() {
            return Ok(Vec::new());
        }
        let mut inbox = self.inbox();
        let ticket = inbox.next_ticket;
        inbox.next_ticket += 1;
        inbox.waiting.push((ticket, entries));
        loop {
            if let Some(outcome) = inbox.outcomes.remove(&ticket) {
                return outcome.map_err(LogError::Group);
            }
            if inbox.committing {
                inbox = self
                    .committed
                    .wait(inbox)
                    .unwrap_or_else(|e| e.into_inner());
                continue;
            }
            // This call commits the group: everything waiting, its own entries included.
            inbox.committing = true;
            let group = std::mem::take(&mut inbox.waiting);
            drop(inbox);
            let counts: Vec<(u64, usize)> = group.iter().map(|(t, e)| (*t, e.len())).collect();
            let outcome = self.commit(group.into_iter().flat_map(|(_, e)| e).collect());
            inbox = self.inbox();
            inbox.committing = false;
            match outcome {
                Ok(placed) => {
                    let mut placed = placed.into_iter();
                    for (t, n) in counts {
                        inbox
                            .outcomes
                            .insert(t, Ok(placed.by_ref().take(n).collect()));
                    }
                }
                Err(e) => {
                    let e = Arc::new(e);
                    for (t, _) in counts {
                        inbox.outcomes.insert(t, Err(e.clone()));
                    }
                }
            }
            self.committed.notify_all();
        }
    }

    fn inbox(&self) -> std::sync::MutexGuard<'_, Inbox> {
        self.inbox.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Writes one group in one transaction, leaving out the entries whose key the log (or
    /// an earlier entry of the group) has; returns where each entry went.
    fn commit(&self, entries: Vec<Entry>) -> Result<Vec<Option<u64>>, LogError> {
        let leaves: Vec<Hash> = entries.iter().map(|e| record_hash(&e.record)).collect();
        let mut seen = HashSet::new();
        let mut keep: Vec<bool> = entries
            .iter()
            .map(|e| e.key.as_deref().is_none_or(|k| seen.insert(k)))
            .collect();
        let _turn = self.appending.lock().unwrap_or_else(|e| e.into_inner());
        let mut conflicts = 0;
        loop {
            let kept: Vec<usize> = (0..entries.len()).filter(|&i| keep[i]).collect();
            if kept.is_empty() {
                return Ok(vec![None; entries.len()]);
            }
            let (start, blocks, done) = {
                let state = self.read();
                let mut p = state.pending();
                for &i in &kept {
                    p.push(leaves[i]);
                }
                let (blocks, done) = p.finish();
                (state.size, blocks, done)
            };
            let records: Vec<&[u8]> = kept.iter().map(|&i| &entries[i].record[..]).collect();
            let terms: Vec<(&str, u64)> = kept
                .iter()
                .enumerate()
                .flat_map(|(at, &i)| {
                    let index = start + at as u64;
                    entries[i].terms.iter().map(move |t| (t.as_str(), index))
                })
                .collect();
            let keys: Vec<&str> = kept
                .iter()
                .filter_map(|&i| entries[i].key.as_deref())
                .collect();
            match self.storage.append(start, &records, &terms, &keys, &blocks) {
                Ok(()) => {
                    self.cache.put(&blocks);
                    self.state
                        .write()
                        .unwrap_or_else(|e| e.into_inner())
                        .apply(done);
                    let mut next = start;
                    return Ok(keep
                        .iter()
                        .map(|&k| {
                            k.then(|| {
                                next += 1;
                                next - 1
                            })
                        })
                        .collect());
                }
                // Another instance of a pool appended first: learn its entries and build again.
                Err(StorageError::Conflict { .. }) if conflicts < 100 => {
                    conflicts += 1;
                    self.catch_up_locked()?;
                }
                // Some keys are in the log already: build again without their entries.
                Err(StorageError::Present(present)) => {
                    let before = kept.len();
                    for &i in &kept {
                        if entries[i].key.as_ref().is_some_and(|k| present.contains(k)) {
                            keep[i] = false;
                        }
                    }
                    if keep.iter().filter(|&&k| k).count() == before {
                        return Err(StorageError::Corrupt(format!(
                            "keys {present:?} were reported stored but none was appended"
                        ))
                        .into());
                    }
                }
                Err(e) => return Err(e.into()),
            }
        }
    }

    /// Learns the entries other instances (of a pool) appended.
    pub fn catch_up(&self) -> Result<(), LogError> {
        let _turn = self.appending.lock().unwrap_or_else(|e| e.into_inner());
        self.catch_up_locked()
    }

    fn catch_up_locked(&self) -> Result<(), LogError> {
        let (from, known) = {
            let s = self.read();
            (s.blocks(), s.size)
        };
        let loaded = self.storage.load(from)?;
        if loaded.size < known {
            return Err(StorageError::Corrupt(format!(
                "storage holds {} entries, {known} were appended",
                loaded.size
            ))
            .into());
        }
        let tail: Vec<Hash> = loaded.tail.iter().map(|r| record_hash(r)).collect();
        let mut state = self.state.write().unwrap_or_else(|e| e.into_inner());
        extend_from(&mut state, &loaded.block_roots, &tail);
        if state.size != loaded.size {
            return Err(StorageError::Corrupt(format!(
                "rebuilt {} entries of {}",
                state.size, loaded.size
            ))
            .into());
        }
        Ok(())
    }

    /// Runs `f` on a reader of the tree, once `size` is known (catching up if needed).
    fn with_reader<T>(
        &self,
        size: u64,
        f: impl Fn(&Reader<'_>) -> Result<T, tlog_tiles::Error>,
    ) -> Result<T, LogError> {
        for attempt in 0..2 {
            {
                let state = self.read();
                if size <= state.size {
                    let r = Reader {
                        state: &state,
                        source: &self.storage,
                        cache: &self.cache,
                    };
                    return f(&r).map_err(|e| LogError::Proof(e.to_string()));
                }
                if attempt == 1 {
                    return Err(LogError::Invalid(format!(
                        "tree size {size} is larger than the log ({} entries)",
                        state.size
                    )));
                }
            }
            self.catch_up()?;
        }
        unreachable!("the loop returns")
    }

    /// The root hash of the tree of the first `size` entries.
    pub fn root(&self, size: u64) -> Result<Hash, LogError> {
        self.with_reader(size, |r| tree_hash(size, r))
    }

    /// The RFC 9162 inclusion proof (audit path) of entry `index` in the tree of `size` entries.
    pub fn inclusion_proof(&self, index: u64, size: u64) -> Result<Vec<Hash>, LogError> {
        if index >= size {
            return Err(LogError::Invalid(format!(
                "index {index} must be below the tree size {size}"
            )));
        }
        self.with_reader(size, |r| prove_record(size, index, r))
    }

    /// The RFC 9162 consistency proof that the tree of `old` entries is a prefix of the tree
    /// of `new` entries.
    pub fn consistency_proof(&self, old: u64, new: u64) -> Result<Vec<Hash>, LogError> {
        if old == 0 || old > new {
            return Err(LogError::Invalid(format!(
                "the old size ({old}) must be at least 1 and at most the new size ({new})"
            )));
        }
        self.with_reader(new, |r| prove_tree(new, old, r))
    }

    /// The indexes of the entries appended with `term` (see [`Record::index_terms`]), in
    /// increasing order, as stored (a pool's other instances' included). All of them: see
    /// [`Log::find_page`] where a term may have many.
    pub fn find(&self, term: &str) -> Result<Vec<u64>, LogError> {
        self.find_page(term, None, usize::MAX)
    }

    /// [`Log::find`], from the first index above `after` (the start when `None`) and at most
    /// `limit` of them, read as such from storage.
    pub fn find_page(
        &self,
        term: &str,
        after: Option<u64>,
        limit: usize,
    ) -> Result<Vec<u64>, LogError> {
        Ok(self.storage.find(term, after, limit)?)
    }

    /// Records `from..to` in canonical form.
    pub fn records(&self, from: u64, to: u64) -> Result<Vec<Vec<u8>>, LogError> {
        Ok(self.storage.read_records(from, to)?)
    }

    /// Signs and keeps a checkpoint of the current tree.
    pub fn checkpoint(&self, key: &LogKey) -> Result<SignedCheckpoint, LogError> {
        let size = self.size();
        let cp = key.sign(size, self.root(size)?)?;
        self.storage.put_checkpoint(size, cp.note.as_bytes())?;
        Ok(cp)
    }

    /// [`Log::checkpoint`] if the log grew since the latest kept checkpoint.
    pub fn checkpoint_if_new(&self, key: &LogKey) -> Result<Option<SignedCheckpoint>, LogError> {
        self.catch_up()?;
        let latest = self.storage.latest_checkpoint()?.map(|(s, _)| s);
        let size = self.size();
        if size == 0 || latest.is_some_and(|l| l >= size) {
            return Ok(None);
        }
        self.checkpoint(key).map(Some)
    }

    /// The latest kept checkpoint, verified against `key`.
    pub fn latest_checkpoint(&self, key: &LogKey) -> Result<Option<SignedCheckpoint>, LogError> {
        match self.storage.latest_checkpoint()? {
            None => Ok(None),
            Some((_, note)) => {
                let text = String::from_utf8(note)
                    .map_err(|_| StorageError::Corrupt("a checkpoint is not UTF-8".into()))?;
                Ok(Some(SignedCheckpoint::open(&text, key.verifier_key())?))
            }
        }
    }
}
