//! A spatio-temporal index of entities, each owning one or more prepared volumes.
//!
//! An R-tree over 5-D boxes (the 3-D box of each volume's bounding cap on the sphere, altitude,
//! time) finds candidates; the exact test then decides. Working in 3-D rather than in
//! latitude/longitude means there is no antimeridian or pole to special-case. The boxes are
//! padded so that the tree never drops a pair the exact test would accept, which keeps
//! [`SpatialIndex::query`] equal to a brute-force scan with [`any_intersects`](crate::any_intersects).

use std::collections::{HashMap, HashSet};
use std::hash::Hash;

use rstar::{RTree, RTreeObject, AABB};

use crate::prepared::{intersects, PreparedVolume};

/// One R-tree leaf: a volume's box, its entity and its position in the entity's list.
#[derive(Clone, Debug, PartialEq)]
struct Entry<K> {
    envelope: AABB<[f32; 5]>,
    key: K,
    volume: u32,
}

impl<K> RTreeObject for Entry<K> {
    type Envelope = AABB<[f32; 5]>;

    fn envelope(&self) -> Self::Envelope {
        self.envelope
    }
}

/// Entities keyed by `K`, searchable by 4-D volume.
#[derive(Clone, Debug)]
pub struct SpatialIndex<K> {
    tree: RTree<Entry<K>>,
    volumes: HashMap<K, Box<[PreparedVolume]>>,
}

impl<K: Copy + Eq + Hash> Default for SpatialIndex<K> {
    fn default() -> Self {
        Self::new()
    }
}

fn entries<K: Copy>(
    key: K,
    volumes: &[PreparedVolume],
) -> impl Iterator<Item = Entry<K>> + use<'_, K> {
    volumes.iter().zip(0u32..).map(move |(v, volume)| Entry {
        envelope: v.envelope(),
        key,
        volume,
    })
}

impl<K: Copy + Eq + Hash> SpatialIndex<K> {
    /// An empty index.
    pub fn new() -> Self {
        Self {
            tree: RTree::new(),
            volumes: HashMap::new(),
        }
    }

    /// An index of `items`, built in one pass (much faster than inserting one by one). When a
    /// key appears more than once, the last occurrence wins, as with [`SpatialIndex::insert`].
    pub fn bulk_load(items: Vec<(K, Vec<PreparedVolume>)>) -> Self {
        let mut volumes = HashMap::with_capacity(items.len());
        for (key, vols) in items {
            volumes.insert(key, vols.into_boxed_slice());
        }
        let all: Vec<Entry<K>> = volumes
            .iter()
            .flat_map(|(key, vols)| entries(*key, vols))
            .collect();
        Self {
            tree: RTree::bulk_load(all),
            volumes,
        }
    }

    /// Adds an entity, replacing any entity already filed under `key`. An entity with no
    /// volumes is kept (it counts in [`len`](Self::len)) but no query finds it.
    pub fn insert(&mut self, key: K, volumes: Vec<PreparedVolume>) {
        self.remove(&key);
        for entry in entries(key, &volumes) {
            self.tree.insert(entry);
        }
        self.volumes.insert(key, volumes.into_boxed_slice());
    }

    /// Removes an entity; returns whether it was there.
    pub fn remove(&mut self, key: &K) -> bool {
        let Some(old) = self.volumes.remove(key) else {
            return false;
        };
        for entry in entries(*key, &old) {
            self.tree.remove(&entry);
        }
        true
    }

    /// Number of entities.
    pub fn len(&self) -> usize {
        self.volumes.len()
    }

    /// Whether the index holds no entity.
    pub fn is_empty(&self) -> bool {
        self.volumes.is_empty()
    }

    /// The volumes filed under `key`.
    pub fn get(&self, key: &K) -> Option<&[PreparedVolume]> {
        self.volumes.get(key).map(|v| &v[..])
    }

    /// Keys of the entities with at least one volume that exactly intersects at least one
    /// volume of `query`, each once, in no particular order.
    pub fn query(&self, query: &[PreparedVolume]) -> Vec<K> {
        let mut found = HashSet::new();
        let mut out = Vec::new();
        for q in query {
            for entry in self.tree.locate_in_envelope_intersecting(&q.envelope()) {
                if found.contains(&entry.key) {
                    continue;
                }
                let hit = self
                    .volumes
                    .get(&entry.key)
                    .and_then(|v| v.get(entry.volume as usize))
                    .is_some_and(|v| intersects(q, v));
                if hit {
                    found.insert(entry.key);
                    out.push(entry.key);
                }
            }
        }
        out
    }
}
