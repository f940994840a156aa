//! A spatio-temporal index of entities, each owning one or more prepared volumes.
//!
//! An R-tree over 4-D boxes (the 3-D box of each volume's shape on the sphere, and time) finds
//! candidates; the exact test then decides, altitude included, on the volumes the entity itself
//! holds (the index keeps no copy of them). Working in 3-D rather than in latitude/longitude
//! means there is no antimeridian or pole to special-case. The boxes are padded so that the tree never
//! drops a pair the exact test would accept, which keeps [`SpatialIndex::query`] equal to a
//! brute-force scan with [`any_intersects`](crate::any_intersects).

use std::hash::Hash;
use std::sync::Arc;

use foldhash::{HashMap, HashMapExt, HashSet, HashSetExt};
use rstar::{RStarInsertionStrategy, RTree, RTreeObject, RTreeParams, AABB};

use crate::prepared::{intersects, PreparedVolume};

/// Something the index can file: it owns the prepared volumes it is found by.
pub trait Volumes {
    /// The volumes; they must not change while the value is in an index.
    fn volumes(&self) -> &[PreparedVolume];
}

impl Volumes for [PreparedVolume] {
    fn volumes(&self) -> &[PreparedVolume] {
        self
    }
}

impl Volumes for Vec<PreparedVolume> {
    fn volumes(&self) -> &[PreparedVolume] {
        self
    }
}

impl<T: Volumes + ?Sized> Volumes for Box<T> {
    fn volumes(&self) -> &[PreparedVolume] {
        (**self).volumes()
    }
}

impl<T: Volumes + ?Sized> Volumes for Arc<T> {
    fn volumes(&self) -> &[PreparedVolume] {
        (**self).volumes()
    }
}

/// Wider nodes than rstar's default (6): a tree of 100,000 leaves is then 4 levels deep
/// instead of 7, and an area query, which mostly waits on memory for each node it visits
/// (boxes of random places do not stay in the cache), reads a few contiguous arrays instead of
/// many scattered ones.
#[derive(Clone, Copy, Debug)]
struct Fanout;

impl RTreeParams for Fanout {
    const MIN_SIZE: usize = 8;
    const MAX_SIZE: usize = 32;
    const REINSERTION_COUNT: usize = 8;
    type DefaultInsertionStrategy = RStarInsertionStrategy;
}

/// One R-tree leaf: a volume's box, its entity's slot and its position in the entity's list.
///
/// It holds no handle on the entity: rstar's bulk load turns a vector of leaves into a node's
/// children in place when a leaf is as large as a node, and the vectors it splits keep their
/// parents' capacity, so leaves of 64 bytes (an `Arc` added to the key) made 1,000,000 intents
/// take 1.45 GiB instead of 0.84 GiB. `bulk_load_allocates_about_what_it_keeps` in
/// `tests/memory.rs` guards it.
#[derive(Clone, Debug, PartialEq)]
struct Entry {
    envelope: AABB<[f32; 4]>,
    slot: u32,
    volume: u32,
}

impl RTreeObject for Entry {
    type Envelope = AABB<[f32; 4]>;

    fn envelope(&self) -> Self::Envelope {
        self.envelope
    }
}

/// Entities of type `V` keyed by `K`, searchable by 4-D volume.
///
/// Each entity has a slot in a vector, and the tree's leaves name it by slot: a query reads
/// each candidate straight from its slot, where a map lookup by key costs a hash and a cache
/// miss more (about 5 % of an area query's time on the server). The map by key serves
/// [`get`](Self::get), inserts and removals. Slots freed by removals are reused; the vector
/// does not shrink.
#[derive(Clone, Debug)]
pub struct SpatialIndex<K, V> {
    tree: RTree<Entry, Fanout>,
    slots: Vec<Option<(K, V)>>,
    /// Slots emptied by removals, for the next inserts.
    free: Vec<u32>,
    /// foldhash rather than SipHash; its per-process random seed still keeps chosen keys
    /// from colliding on purpose.
    keys: HashMap<K, u32>,
    /// Leaves filed one at a time since the tree was last built in one pass.
    inserted: usize,
}

/// A tree grown by single inserts answers as correctly as one built in one pass, but its
/// nodes lie scattered over the heap among everything else allocated meanwhile, so a query
/// walking it misses the cache more (a server that had just taken 100,000 creates spent about
/// a fifth more CPU per area query than after a restart, which builds the tree in one pass).
/// So once a quarter of the leaves (and at least this many) have come one at a time, the tree
/// is rebuilt in one pass: amortised, a few leaf copies per insert.
const REPACK_MIN: usize = 1024;

/// Rebuilding stops every reader and writer of the index while it runs (about 1 µs per leaf
/// on the 2-core development machine), so a tree this large is left as it grows.
const REPACK_MAX: usize = 300_000;

impl<K: Copy + Eq + Hash, V: Volumes> Default for SpatialIndex<K, V> {
    fn default() -> Self {
        Self::new()
    }
}

/// The box the tree files a volume under: its envelope without the altitude. Most volumes
/// share one band (small drones fly at 0–120 m), and bulk loading cuts the leaves along every
/// axis of the box in turn: a cut along an axis on which everything ties splits the set at
/// random, so each node of the tree it built covered the space of two and a random 2 km query
/// walked about a third more of the tree than without the axis (10.6 against 7.9 µs in the
/// `index` benchmark's random queries).
fn tree_box(v: &PreparedVolume) -> AABB<[f32; 4]> {
    let e = v.envelope();
    let drop_altitude = |p: [f32; 5]| [p[0], p[1], p[2], p[4]];
    AABB::from_corners(drop_altitude(e.lower()), drop_altitude(e.upper()))
}

fn entries(slot: u32, volumes: &[PreparedVolume]) -> impl Iterator<Item = Entry> + use<'_> {
    volumes.iter().zip(0u32..).map(move |(v, volume)| Entry {
        envelope: tree_box(v),
        slot,
        volume,
    })
}

/// Slot numbers are `u32`, which halves what they add to a leaf; four billion entities would
/// not fit in memory long before.
fn slot_number(slot: usize) -> u32 {
    u32::try_from(slot).expect("fewer than 2^32 entities in one index")
}

impl<K: Copy + Eq + Hash, V: Volumes> SpatialIndex<K, V> {
    /// An empty index.
    pub fn new() -> Self {
        Self {
            tree: RTree::new_with_params(),
            slots: Vec::new(),
            free: Vec::new(),
            keys: HashMap::new(),
            inserted: 0,
        }
    }

    /// An index of `items`, built in one pass (much faster than inserting one by one). When a
    /// key appears more than once, the last occurrence wins, as with [`SpatialIndex::insert`].
    ///
    /// Uses every core: the boxes are computed in parallel, then the R-tree is built on one
    /// thread while the map is filled on this one.
    pub fn bulk_load(items: Vec<(K, V)>) -> Self
    where
        K: Send + Sync,
        V: Sync,
    {
        let mut slots: Vec<Option<(K, V)>> = items.into_iter().map(Some).collect();
        let threads = std::thread::available_parallelism().map_or(1, usize::from);
        let chunk = slots.len().div_ceil(threads).max(1);
        let all: Vec<Entry> = std::thread::scope(|scope| {
            let parts: Vec<_> = slots
                .chunks(chunk)
                .zip((0..).step_by(chunk))
                .map(|(part, first)| {
                    scope.spawn(move || {
                        (first..)
                            .zip(part)
                            .filter_map(|(slot, item)| Some((slot, item.as_ref()?)))
                            .flat_map(|(slot, (_, value))| {
                                entries(slot_number(slot), value.volumes())
                            })
                            .collect::<Vec<_>>()
                    })
                })
                .collect();
            let mut all = Vec::new();
            for part in parts {
                // A panic in `envelope` would be a bug; pass it on.
                match part.join() {
                    Ok(part) => all.extend(part),
                    Err(panic) => std::panic::resume_unwind(panic),
                }
            }
            all
        });
        let (tree, keys, free) = std::thread::scope(|scope| {
            let tree = scope.spawn(move || RTree::bulk_load_with_params(all));
            let mut keys = HashMap::with_capacity(slots.len());
            let mut free = Vec::new();
            for (slot, item) in slots.iter().enumerate() {
                if let Some((key, _)) = item {
                    if let Some(earlier) = keys.insert(*key, slot_number(slot)) {
                        free.push(earlier);
                    }
                }
            }
            match tree.join() {
                Ok(tree) => (tree, keys, free),
                Err(panic) => std::panic::resume_unwind(panic),
            }
        });
        if free.is_empty() {
            return Self {
                tree,
                slots,
                free,
                keys,
                inserted: 0,
            };
        }
        // Some keys were repeated: only the last occurrence of each keeps its slot and leaves.
        for &slot in &free {
            slots[slot as usize] = None;
        }
        let live: Vec<Entry> = tree
            .iter()
            .filter(|e| slots[e.slot as usize].is_some())
            .cloned()
            .collect();
        Self {
            tree: RTree::bulk_load_with_params(live),
            slots,
            free,
            keys,
            inserted: 0,
        }
    }

    /// Adds an entity, replacing (and returning) any entity already filed under `key`. An
    /// entity with no volumes is kept (it counts in [`len`](Self::len)) but no query finds it.
    pub fn insert(&mut self, key: K, value: V) -> Option<V> {
        let old = self.remove(&key);
        let slot = match self.free.pop() {
            Some(slot) => slot,
            None => {
                self.slots.push(None);
                slot_number(self.slots.len() - 1)
            }
        };
        for entry in entries(slot, value.volumes()) {
            self.tree.insert(entry);
            self.inserted += 1;
        }
        self.slots[slot as usize] = Some((key, value));
        self.keys.insert(key, slot);
        let size = self.tree.size();
        if self.inserted >= REPACK_MIN.max(size / 4) && size <= REPACK_MAX {
            self.repack();
        }
        old
    }

    /// Rebuilds the tree in one pass (see [`REPACK_MIN`]).
    fn repack(&mut self) {
        let all: Vec<Entry> = self.tree.iter().cloned().collect();
        self.tree = RTree::bulk_load_with_params(all);
        self.inserted = 0;
    }

    /// Removes an entity and returns it, if it was there.
    pub fn remove(&mut self, key: &K) -> Option<V> {
        let slot = self.keys.remove(key)?;
        let (_, old) = self.slots.get_mut(slot as usize)?.take()?;
        for entry in entries(slot, old.volumes()) {
            self.tree.remove(&entry);
        }
        self.free.push(slot);
        Some(old)
    }

    /// Number of entities.
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    /// Whether the index holds no entity.
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// The entity filed under `key`.
    pub fn get(&self, key: &K) -> Option<&V> {
        let slot = *self.keys.get(key)?;
        self.slots.get(slot as usize)?.as_ref().map(|(_, v)| v)
    }

    /// Every entity, in no particular order.
    pub fn values(&self) -> impl Iterator<Item = &V> {
        self.slots.iter().flatten().map(|(_, v)| v)
    }

    /// Calls `hit` once for each entity with at least one volume that exactly intersects at
    /// least one volume of `query`, in no particular order.
    pub fn for_each_hit<'a>(&'a self, query: &[PreparedVolume], hit: impl FnMut(K, &'a V)) {
        self.for_each_hit_where(query, |_| true, hit);
    }

    /// [`for_each_hit`](Self::for_each_hit) limited to the entities `keep` accepts. `keep` is
    /// asked before the exact test, so a cheap filter spares that test for what it rejects.
    pub fn for_each_hit_where<'a>(
        &'a self,
        query: &[PreparedVolume],
        keep: impl Fn(&V) -> bool,
        mut hit: impl FnMut(K, &'a V),
    ) {
        let mut found = HashSet::new();
        let mut candidates = Vec::new();
        for q in query {
            // The candidates are read all at once, before any is tested: each read misses the
            // cache, and reads that do not wait on each other's tests overlap.
            candidates.clear();
            candidates.extend(
                self.tree
                    .locate_in_envelope_intersecting(&tree_box(q))
                    .filter_map(|entry| {
                        let (key, value) = self.slots.get(entry.slot as usize)?.as_ref()?;
                        Some((entry, key, value))
                    }),
            );
            for &(entry, key, value) in &candidates {
                // An entity can only be met twice when it or the query has several volumes.
                let once = query.len() == 1 && value.volumes().len() == 1;
                if !once && found.contains(&entry.slot) {
                    continue;
                }
                let intersects = keep(value)
                    && value
                        .volumes()
                        .get(entry.volume as usize)
                        .is_some_and(|v| intersects(q, v));
                if intersects {
                    if !once {
                        found.insert(entry.slot);
                    }
                    hit(*key, value);
                }
            }
        }
    }

    /// The entities [`for_each_hit`](Self::for_each_hit) finds, each with its key.
    pub fn query_entries(&self, query: &[PreparedVolume]) -> Vec<(K, &V)> {
        let mut out = Vec::new();
        self.for_each_hit(query, |k, v| out.push((k, v)));
        out
    }

    /// Keys of the entities [`query_entries`](Self::query_entries) finds.
    pub fn query(&self, query: &[PreparedVolume]) -> Vec<K> {
        self.query_entries(query)
            .into_iter()
            .map(|(k, _)| k)
            .collect()
    }
}
