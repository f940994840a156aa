//! Where the tree's hashes live, so that a proof needs O(log n) look-ups and at most two reads.
//!
//! Every complete subtree's hash is kept (the "stored hashes" of Go's `sumdb/tlog`, about two
//! per leaf). The leaves are cut into aligned blocks of 2^[`BLOCK_HEIGHT`] = 256: the hashes of
//! levels 0 to 7 inside a complete block (510 hashes, 16,320 bytes) are written once, as one
//! row, when the block completes; the hashes of level 8 and up (one per block and their
//! parents, about 2/256 per leaf) stay in memory, and so do the hashes of the incomplete last
//! block. An inclusion proof then touches the block of its leaf and memory; a consistency proof
//! the blocks of the two tree sizes' last leaves and memory. Complete blocks never change, so
//! their rows are kept in a bounded [`BlockCache`]: a proof whose rows are cached reads nothing.

use crate::storage::StorageError;
use std::collections::HashMap;
use std::num::NonZeroUsize;
use std::sync::{Arc, Mutex};
use tlog_tiles::{node_hash, split_stored_hash_index, Hash, HashReader, HASH_SIZE};

/// Levels stored per block row.
pub const BLOCK_HEIGHT: u8 = 8;
const BLOCK: u64 = 1 << BLOCK_HEIGHT;
/// Hashes in one block row: levels 0..8 of 256 leaves.
pub const BLOCK_HASHES: usize = 2 * BLOCK as usize - 2;
/// Bytes of one block row.
pub const BLOCK_BYTES: usize = BLOCK_HASHES * HASH_SIZE;

/// Offset of hash `i` of `level` (< 8) inside a block row (level-major: 256 leaves, 128 ...).
fn block_offset(level: u8, i: u64) -> usize {
    let before = 2 * BLOCK - ((2 * BLOCK) >> level);
    (before + i) as usize
}

/// The hashes of the tree that memory holds: everything of level >= 8, and the incomplete
/// last block.
#[derive(Debug, Clone, Default)]
pub struct State {
    pub size: u64,
    /// `upper[j][n]`: hash of the complete subtree `n` of level `8 + j`.
    upper: Vec<Vec<Hash>>,
    /// `tail[l]`: hashes of level `l` in the incomplete block, from its start.
    tail: [Vec<Hash>; BLOCK_HEIGHT as usize],
}

impl State {
    /// Memory's copy of the hash of subtree `n` at `level`, or `None` when it lives in a block
    /// row (or does not exist).
    fn get(&self, level: u8, n: u64) -> Option<Hash> {
        if level >= BLOCK_HEIGHT {
            let j = usize::from(level - BLOCK_HEIGHT);
            return self.upper.get(j)?.get(n as usize).copied();
        }
        let tail_block = self.size / BLOCK;
        let shift = BLOCK_HEIGHT - level;
        if n >> shift != tail_block {
            return None;
        }
        self.tail[usize::from(level)]
            .get((n - (tail_block << shift)) as usize)
            .copied()
    }

    /// The complete blocks memory knows of.
    pub fn blocks(&self) -> u64 {
        self.size / BLOCK
    }

    /// Starts a batch of appends on top of this state.
    pub fn pending(&self) -> Pending<'_> {
        Pending {
            base: self,
            size: self.size,
            tail: self.tail.clone(),
            upper_added: vec![Vec::new(); self.upper.len()],
            blocks: Vec::new(),
        }
    }

    /// Applies a batch built by [`State::pending`] on this very state.
    pub fn apply(&mut self, done: Done) {
        self.size = done.size;
        self.tail = done.tail;
        for (j, added) in done.upper_added.into_iter().enumerate() {
            if j == self.upper.len() {
                self.upper.push(Vec::new());
            }
            self.upper[j].extend(added);
        }
    }

    /// Bytes of hashes held in memory (for the stated overhead).
    pub fn memory_bytes(&self) -> usize {
        let n: usize = self.upper.iter().map(Vec::len).sum::<usize>()
            + self.tail.iter().map(Vec::len).sum::<usize>();
        n * HASH_SIZE
    }
}

/// A complete block, ready to be written: its index, root and row.
#[derive(Debug, Clone)]
pub struct BlockRow {
    pub block: u64,
    pub root: Hash,
    pub hashes: Vec<u8>,
}

/// Appends computed on top of a [`State`], not yet applied.
pub struct Pending<'a> {
    base: &'a State,
    size: u64,
    tail: [Vec<Hash>; BLOCK_HEIGHT as usize],
    upper_added: Vec<Vec<Hash>>,
    pub blocks: Vec<BlockRow>,
}

/// What [`Pending::finish`] hands to [`State::apply`].
pub struct Done {
    size: u64,
    tail: [Vec<Hash>; BLOCK_HEIGHT as usize],
    upper_added: Vec<Vec<Hash>>,
}

impl Pending<'_> {
    fn upper(&self, j: usize, n: u64) -> Hash {
        let base = self.base.upper.get(j).map_or(0, Vec::len);
        let n = n as usize;
        if n < base {
            self.base.upper[j][n]
        } else {
            self.upper_added[j][n - base]
        }
    }

    fn push_upper(&mut self, j: usize, h: Hash) {
        if j == self.upper_added.len() {
            self.upper_added.push(Vec::new());
        }
        self.upper_added[j].push(h);
    }

    /// Appends one leaf hash, computing every subtree it completes.
    pub fn push(&mut self, leaf: Hash) {
        let mut n = self.size;
        self.size += 1;
        self.tail[0].push(leaf);
        let mut h = leaf;
        let mut level: u8 = 0;
        while n & 1 == 1 {
            let left = if level < BLOCK_HEIGHT {
                let t = &self.tail[usize::from(level)];
                t[t.len() - 2]
            } else {
                self.upper(usize::from(level - BLOCK_HEIGHT), n - 1)
            };
            h = node_hash(left, h);
            level += 1;
            n >>= 1;
            if level < BLOCK_HEIGHT {
                self.tail[usize::from(level)].push(h);
            } else {
                if level == BLOCK_HEIGHT {
                    self.close_block(n, h);
                }
                self.push_upper(usize::from(level - BLOCK_HEIGHT), h);
            }
        }
    }

    fn close_block(&mut self, block: u64, root: Hash) {
        let mut hashes = Vec::with_capacity(BLOCK_BYTES);
        for level in &mut self.tail {
            for h in level.drain(..) {
                hashes.extend_from_slice(&h.0);
            }
        }
        debug_assert_eq!(hashes.len(), BLOCK_BYTES);
        self.blocks.push(BlockRow {
            block,
            root,
            hashes,
        });
    }

    /// The batch, for [`State::apply`].
    pub fn finish(self) -> (Vec<BlockRow>, Done) {
        (
            self.blocks,
            Done {
                size: self.size,
                tail: self.tail,
                upper_added: self.upper_added,
            },
        )
    }
}

/// Rebuilds memory from storage: the roots of complete blocks from `state.blocks()` on, then the
/// leaf hashes of the incomplete block.
pub fn extend_from(state: &mut State, block_roots: &[Hash], tail_leaves: &[Hash]) {
    let mut upper_added: Vec<Vec<Hash>> = vec![Vec::new(); state.upper.len().max(1)];
    let mut blocks = state.blocks();
    let base_len = |s: &State, j: usize| s.upper.get(j).map_or(0, Vec::len);
    for root in block_roots {
        let mut n = blocks;
        blocks += 1;
        let mut h = *root;
        upper_added[0].push(h);
        let mut j = 0;
        while n & 1 == 1 {
            let idx = (n - 1) as usize;
            let b = base_len(state, j);
            let left = if idx < b {
                state.upper[j][idx]
            } else {
                upper_added[j][idx - b]
            };
            h = node_hash(left, h);
            j += 1;
            n >>= 1;
            if j == upper_added.len() {
                upper_added.push(Vec::new());
            }
            upper_added[j].push(h);
        }
    }
    let tail = Default::default();
    state.apply(Done {
        size: blocks * BLOCK,
        tail,
        upper_added,
    });
    let mut p = state.pending();
    for leaf in tail_leaves {
        p.push(*leaf);
    }
    let (closed, done) = p.finish();
    debug_assert!(closed.is_empty(), "the tail holds less than a block");
    state.apply(done);
}

/// Reads block rows.
pub trait BlockSource {
    fn read_block(&self, block: u64) -> Result<Vec<u8>, StorageError>;
    /// The rows of `blocks` (distinct), in order: one look-up each unless the source reads
    /// several at once more cheaply (PostgreSQL: one round trip).
    fn read_blocks(&self, blocks: &[u64]) -> Result<Vec<Vec<u8>>, StorageError> {
        blocks.iter().map(|&b| self.read_block(b)).collect()
    }
}

/// Memory a log's block cache may take unless told otherwise: 32 MiB, 2,056 block rows, the
/// rows of about 526,000 entries (see [`crate::LogOptions`]).
pub const DEFAULT_CACHE_BYTES: usize = 32 << 20;

/// A bounded cache of complete block rows, least recently used out first, shared by every
/// reader of one log. Complete blocks never change, so a cached row stays right whoever
/// appends after it (another instance of a pool included); the incomplete last block is never
/// cached (memory's `State` holds it).
pub struct BlockCache {
    rows: Mutex<lru::LruCache<u64, Arc<Vec<u8>>>>,
}

impl BlockCache {
    /// A cache of at most `bytes` of rows (at least one row).
    pub fn with_bytes(bytes: usize) -> Self {
        let rows = NonZeroUsize::new(bytes / BLOCK_BYTES).unwrap_or(NonZeroUsize::MIN);
        BlockCache {
            rows: Mutex::new(lru::LruCache::new(rows)),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, lru::LruCache<u64, Arc<Vec<u8>>>> {
        self.rows.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The rows of `blocks` (distinct), from the cache or, those it lacks, read in one go
    /// (see [`BlockSource::read_blocks`]) and kept.
    fn get(
        &self,
        src: &dyn BlockSource,
        blocks: &[u64],
    ) -> Result<HashMap<u64, Arc<Vec<u8>>>, StorageError> {
        let mut found = HashMap::with_capacity(blocks.len());
        let mut missing = Vec::new();
        {
            let mut rows = self.lock();
            for &b in blocks {
                match rows.get(&b) {
                    Some(row) => {
                        found.insert(b, row.clone());
                    }
                    None => missing.push(b),
                }
            }
        }
        if missing.is_empty() {
            return Ok(found);
        }
        let read = src.read_blocks(&missing)?;
        if read.len() != missing.len() {
            return Err(StorageError::Corrupt(format!(
                "{} of the blocks {missing:?} read",
                read.len()
            )));
        }
        let mut rows = self.lock();
        for (block, row) in missing.into_iter().zip(read) {
            if row.len() != BLOCK_BYTES {
                return Err(StorageError::Corrupt(format!(
                    "block {block} has {} bytes, {BLOCK_BYTES} expected",
                    row.len()
                )));
            }
            let row = Arc::new(row);
            rows.put(block, row.clone());
            found.insert(block, row);
        }
        Ok(found)
    }

    /// Keeps rows just written (the newest entries are the ones most proofs are asked for).
    pub fn put(&self, written: &[BlockRow]) {
        let mut rows = self.lock();
        for r in written {
            rows.put(r.block, Arc::new(r.hashes.clone()));
        }
    }

    /// Rows held, and the most it holds.
    pub fn rows(&self) -> (usize, usize) {
        let rows = self.lock();
        (rows.len(), rows.cap().get())
    }
}

/// `tlog_tiles`' view of the tree: memory first, block rows for the rest.
pub struct Reader<'a> {
    pub state: &'a State,
    pub source: &'a dyn BlockSource,
    pub cache: &'a BlockCache,
}

fn hash_at(row: &[u8], off: usize) -> Hash {
    let mut h = [0u8; HASH_SIZE];
    h.copy_from_slice(&row[off..off + HASH_SIZE]);
    Hash(h)
}

/// Memory first, then block rows: cached, or the uncached ones read in one go.
impl HashReader for Reader<'_> {
    fn read_hashes(&self, indexes: &[u64]) -> Result<Vec<Hash>, tlog_tiles::Error> {
        let mut out = Vec::with_capacity(indexes.len());
        // Hashes of block rows: (position in `out`, block, byte offset).
        let mut in_rows: Vec<(usize, u64, usize)> = Vec::new();
        for &i in indexes {
            let (level, n) = split_stored_hash_index(i);
            if let Some(h) = self.state.get(level, n) {
                out.push(h);
                continue;
            }
            if level >= BLOCK_HEIGHT || (n + 1) << level > self.state.size {
                return Err(tlog_tiles::Error::IndexesNotInTree);
            }
            let block = n >> (BLOCK_HEIGHT - level);
            let off = block_offset(level, n - (block << (BLOCK_HEIGHT - level))) * HASH_SIZE;
            in_rows.push((out.len(), block, off));
            out.push(Hash([0; HASH_SIZE]));
        }
        if in_rows.is_empty() {
            return Ok(out);
        }
        let mut blocks: Vec<u64> = in_rows.iter().map(|&(_, b, _)| b).collect();
        blocks.sort_unstable();
        blocks.dedup();
        let rows = self
            .cache
            .get(self.source, &blocks)
            .map_err(|e| tlog_tiles::Error::InvalidInput(format!("reading block rows: {e}")))?;
        for (at, block, off) in in_rows {
            out[at] = hash_at(&rows[&block], off);
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tlog_tiles::{record_hash, stored_hash_index};

    struct Rows(Mutex<HashMap<u64, Vec<u8>>>);
    struct Plain(Vec<Hash>);
    impl HashReader for Plain {
        fn read_hashes(&self, indexes: &[u64]) -> Result<Vec<Hash>, tlog_tiles::Error> {
            Ok(indexes.iter().map(|&i| self.0[i as usize]).collect())
        }
    }
    impl BlockSource for Rows {
        fn read_block(&self, block: u64) -> Result<Vec<u8>, StorageError> {
            self.0
                .lock()
                .unwrap()
                .get(&block)
                .cloned()
                .ok_or(StorageError::Corrupt("missing".into()))
        }
    }

    /// Every stored hash agrees with Go's layout computed the plain way.
    #[test]
    fn every_stored_hash_is_found_where_the_layout_says() {
        let n = 3 * BLOCK + 77;
        let mut state = State::default();
        let rows = Rows(Mutex::new(HashMap::new()));
        let mut plain = Plain(Vec::new());
        for i in 0..n {
            let leaf = record_hash(&i.to_le_bytes());
            let mut p = state.pending();
            p.push(leaf);
            let (blocks, done) = p.finish();
            for b in blocks {
                rows.0.lock().unwrap().insert(b.block, b.hashes);
            }
            state.apply(done);
            let new = tlog_tiles::stored_hashes_for_record_hash(i, leaf, &plain).unwrap();
            plain.0.extend(new);
        }
        let cache = BlockCache::with_bytes(BLOCK_BYTES);
        let r = Reader {
            state: &state,
            source: &rows,
            cache: &cache,
        };
        let all: Vec<u64> = (0..plain.0.len() as u64).collect();
        assert_eq!(r.read_hashes(&all).unwrap(), plain.0);
        assert!(r.read_hashes(&[stored_hash_index(0, n)]).is_err());

        // Rebuilt from block roots and tail leaves, memory is the same.
        let roots: Vec<Hash> = (0..3).map(|b| state.get(8, b).unwrap()).collect();
        let tail: Vec<Hash> = (3 * BLOCK..n)
            .map(|i| record_hash(&i.to_le_bytes()))
            .collect();
        let mut again = State::default();
        extend_from(&mut again, &roots[..1], &[]);
        extend_from(&mut again, &roots[1..], &tail);
        assert_eq!(again.size, n);
        assert_eq!(again.upper, state.upper);
        assert_eq!(again.tail, state.tail);
    }
}
