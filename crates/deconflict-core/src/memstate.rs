//! The in-memory image of the store: every entity by id plus a spatio-temporal index, and the
//! overlay a write transaction builds on top of it.
//!
//! Reads are answered from here; writes go to disk first and are applied here after commit.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use deconflict_geo::{any_intersects, PreparedVolume, SpatialIndex};

use crate::error::Result;
use crate::ids::EntityId;
use crate::model::{
    Constraint, Document, Located, OperationalIntent, Subscription, Timestamp, UssAvailability,
};
use crate::store::{Change, Expired, ReadTx, Tx};

/// Entities of one kind, by id and by extent. The index holds the entities themselves and
/// tests candidates on their own prepared volumes, so nothing is stored twice.
#[derive(Debug)]
pub struct Table<E> {
    index: SpatialIndex<EntityId, Arc<E>>,
}

impl<E: Located> Default for Table<E> {
    fn default() -> Self {
        Self {
            index: SpatialIndex::new(),
        }
    }
}

impl<E: Located> Table<E> {
    /// Builds a table in one pass, which is much faster than inserting one at a time.
    pub fn bulk(items: Vec<Arc<E>>) -> Self
    where
        E: Send + Sync,
    {
        Self {
            index: SpatialIndex::bulk_load(items.into_iter().map(|e| (e.id(), e)).collect()),
        }
    }
    pub fn get(&self, id: EntityId) -> Option<Arc<E>> {
        self.index.get(&id).cloned()
    }
    pub fn len(&self) -> usize {
        self.index.len()
    }
    pub fn is_empty(&self) -> bool {
        self.index.is_empty()
    }
    pub fn intersecting(&self, area: &[PreparedVolume]) -> Vec<Arc<E>> {
        let mut out = Vec::new();
        self.index.for_each_hit(area, |_, e| out.push(e.clone()));
        out
    }
    /// The entities in `area` that `keep` accepts; `keep` is asked before the exact test.
    pub fn intersecting_where(
        &self,
        area: &[PreparedVolume],
        keep: &dyn Fn(&E) -> bool,
    ) -> Vec<Arc<E>> {
        let mut out = Vec::new();
        self.index
            .for_each_hit_where(area, |e| keep(e), |_, e| out.push(e.clone()));
        out
    }
    pub fn put(&mut self, e: Arc<E>) {
        self.index.insert(e.id(), e);
    }
    pub fn remove(&mut self, id: EntityId) {
        self.index.remove(&id);
    }
    /// Ids of entities whose extents ended before `cutoff`.
    pub fn ended_before(&self, cutoff: Timestamp) -> Vec<EntityId> {
        self.index
            .values()
            .filter(|e| e.extents().end < cutoff)
            .map(|e| e.id())
            .collect()
    }
}

/// [`Document`]s by kind, then by id (so that a kind lists in id order).
#[derive(Debug, Default)]
pub struct Documents(HashMap<String, BTreeMap<String, Arc<Document>>>);

impl Documents {
    pub fn get(&self, kind: &str, id: &str) -> Option<Arc<Document>> {
        self.0.get(kind).and_then(|m| m.get(id)).cloned()
    }
    pub fn of_kind(&self, kind: &str) -> Vec<Arc<Document>> {
        self.0
            .get(kind)
            .map(|m| m.values().cloned().collect())
            .unwrap_or_default()
    }
    /// The first `limit` of `kind` whose id sorts after `after`.
    pub fn after(&self, kind: &str, after: &str, limit: usize) -> Vec<Arc<Document>> {
        use std::ops::Bound;
        self.0
            .get(kind)
            .map(|m| {
                m.range::<str, _>((Bound::Excluded(after), Bound::Unbounded))
                    .take(limit)
                    .map(|(_, d)| d.clone())
                    .collect()
            })
            .unwrap_or_default()
    }
    pub fn put(&mut self, d: Arc<Document>) {
        self.0
            .entry(d.kind.clone())
            .or_default()
            .insert(d.id.clone(), d);
    }
    pub fn remove(&mut self, kind: &str, id: &str) {
        if let Some(m) = self.0.get_mut(kind) {
            m.remove(id);
        }
    }
}

/// Everything a DSS instance holds, in memory.
#[derive(Debug, Default)]
pub struct MemState {
    pub operational_intents: Table<OperationalIntent>,
    pub constraints: Table<Constraint>,
    pub subscriptions: Table<Subscription>,
    pub availability: HashMap<String, UssAvailability>,
    pub documents: Documents,
}

impl MemState {
    /// Applies committed changes. Reports are archived on disk only.
    pub fn apply(&mut self, changes: &[Change]) {
        for c in changes {
            match c {
                Change::PutOperationalIntent(e) => self.operational_intents.put(e.clone()),
                Change::DeleteOperationalIntent(id) => self.operational_intents.remove(*id),
                Change::PutConstraint(e) => self.constraints.put(e.clone()),
                Change::DeleteConstraint(id) => self.constraints.remove(*id),
                Change::PutSubscription(e) => self.subscriptions.put(e.clone()),
                Change::DeleteSubscription(id) => self.subscriptions.remove(*id),
                Change::PutAvailability(a) => {
                    self.availability.insert(a.uss.clone(), a.clone());
                }
                Change::AddReport(_) => {}
                Change::PutDocument(d) => self.documents.put(d.clone()),
                Change::DeleteDocument { kind, id } => self.documents.remove(kind, id),
            }
        }
    }
}

impl MemState {
    /// What has ended before `cutoff`, for the purge.
    pub fn expired(&self, cutoff: Timestamp) -> Expired {
        Expired {
            operational_intents: self.operational_intents.ended_before(cutoff),
            constraints: self.constraints.ended_before(cutoff),
            subscriptions: self.subscriptions.ended_before(cutoff),
        }
    }
}

impl ReadTx for MemState {
    fn operational_intent(&self, id: EntityId) -> Result<Option<Arc<OperationalIntent>>> {
        Ok(self.operational_intents.get(id))
    }
    fn constraint(&self, id: EntityId) -> Result<Option<Arc<Constraint>>> {
        Ok(self.constraints.get(id))
    }
    fn subscription(&self, id: EntityId) -> Result<Option<Arc<Subscription>>> {
        Ok(self.subscriptions.get(id))
    }
    fn operational_intents_in(
        &self,
        area: &[PreparedVolume],
    ) -> Result<Vec<Arc<OperationalIntent>>> {
        Ok(self.operational_intents.intersecting(area))
    }
    fn constraints_in(&self, area: &[PreparedVolume]) -> Result<Vec<Arc<Constraint>>> {
        Ok(self.constraints.intersecting(area))
    }
    fn operational_intents_in_where(
        &self,
        area: &[PreparedVolume],
        keep: &dyn Fn(&OperationalIntent) -> bool,
    ) -> Result<Vec<Arc<OperationalIntent>>> {
        Ok(self.operational_intents.intersecting_where(area, keep))
    }
    fn constraints_in_where(
        &self,
        area: &[PreparedVolume],
        keep: &dyn Fn(&Constraint) -> bool,
    ) -> Result<Vec<Arc<Constraint>>> {
        Ok(self.constraints.intersecting_where(area, keep))
    }
    fn subscriptions_in(&self, area: &[PreparedVolume]) -> Result<Vec<Arc<Subscription>>> {
        Ok(self.subscriptions.intersecting(area))
    }
    fn availability(&self, uss: &str) -> Result<Option<UssAvailability>> {
        Ok(self.availability.get(uss).cloned())
    }
    fn document(&self, kind: &str, id: &str) -> Result<Option<Arc<Document>>> {
        Ok(self.documents.get(kind, id))
    }
    fn documents(&self, kind: &str) -> Result<Vec<Arc<Document>>> {
        Ok(self.documents.of_kind(kind))
    }
    fn documents_after(&self, kind: &str, after: &str, limit: usize) -> Result<Vec<Arc<Document>>> {
        Ok(self.documents.after(kind, after, limit))
    }
}

/// Pending changes of one kind: `None` marks a deletion.
type PendingRows<E> = HashMap<EntityId, Option<Arc<E>>>;

/// Changes not yet committed, indexed so that reads can see through them.
#[derive(Debug, Default)]
pub struct Pending {
    ois: PendingRows<OperationalIntent>,
    constraints: PendingRows<Constraint>,
    subs: PendingRows<Subscription>,
    availability: HashMap<String, UssAvailability>,
    docs: HashMap<(String, String), Option<Arc<Document>>>,
    changes: Vec<Change>,
}

impl Pending {
    pub fn record(&mut self, change: Change) {
        match &change {
            Change::PutOperationalIntent(e) => {
                self.ois.insert(e.id, Some(e.clone()));
            }
            Change::DeleteOperationalIntent(id) => {
                self.ois.insert(*id, None);
            }
            Change::PutConstraint(e) => {
                self.constraints.insert(e.id, Some(e.clone()));
            }
            Change::DeleteConstraint(id) => {
                self.constraints.insert(*id, None);
            }
            Change::PutSubscription(e) => {
                self.subs.insert(e.id, Some(e.clone()));
            }
            Change::DeleteSubscription(id) => {
                self.subs.insert(*id, None);
            }
            Change::PutAvailability(a) => {
                self.availability.insert(a.uss.clone(), a.clone());
            }
            Change::AddReport(_) => {}
            Change::PutDocument(d) => {
                self.docs
                    .insert((d.kind.clone(), d.id.clone()), Some(d.clone()));
            }
            Change::DeleteDocument { kind, id } => {
                self.docs.insert((kind.clone(), id.clone()), None);
            }
        }
        self.changes.push(change);
    }
    /// Appends `later`'s changes after these.
    pub fn merge(&mut self, later: Pending) {
        for c in later.changes {
            self.record(c);
        }
    }
    pub fn changes(&self) -> &[Change] {
        &self.changes
    }
    pub fn is_empty(&self) -> bool {
        self.changes.is_empty()
    }
}

fn pending_get<E>(
    rows: &PendingRows<E>,
    id: EntityId,
    below: impl FnOnce() -> Result<Option<Arc<E>>>,
) -> Result<Option<Arc<E>>> {
    match rows.get(&id) {
        Some(p) => Ok(p.clone()),
        None => below(),
    }
}

/// What `below` found in `area`, with `rows` laid over it: only the pending rows `keep`
/// accepts are tested against `area`.
fn pending_in<E: Located>(
    rows: &PendingRows<E>,
    area: &[PreparedVolume],
    below: Vec<Arc<E>>,
    keep: &dyn Fn(&E) -> bool,
) -> Vec<Arc<E>> {
    let mut out: Vec<Arc<E>> = below
        .into_iter()
        .filter(|e| !rows.contains_key(&e.id()))
        .collect();
    out.extend(
        rows.values()
            .flatten()
            .filter(|e| keep(e) && any_intersects(&e.extents().prepared, area))
            .cloned(),
    );
    out
}

/// A read view of `top` laid over `base`.
pub struct Layered<'a> {
    pub base: &'a dyn ReadTx,
    pub top: &'a Pending,
}

impl ReadTx for Layered<'_> {
    fn operational_intent(&self, id: EntityId) -> Result<Option<Arc<OperationalIntent>>> {
        pending_get(&self.top.ois, id, || self.base.operational_intent(id))
    }
    fn constraint(&self, id: EntityId) -> Result<Option<Arc<Constraint>>> {
        pending_get(&self.top.constraints, id, || self.base.constraint(id))
    }
    fn subscription(&self, id: EntityId) -> Result<Option<Arc<Subscription>>> {
        pending_get(&self.top.subs, id, || self.base.subscription(id))
    }
    fn operational_intents_in(
        &self,
        area: &[PreparedVolume],
    ) -> Result<Vec<Arc<OperationalIntent>>> {
        Ok(pending_in(
            &self.top.ois,
            area,
            self.base.operational_intents_in(area)?,
            &|_| true,
        ))
    }
    fn constraints_in(&self, area: &[PreparedVolume]) -> Result<Vec<Arc<Constraint>>> {
        Ok(pending_in(
            &self.top.constraints,
            area,
            self.base.constraints_in(area)?,
            &|_| true,
        ))
    }
    fn subscriptions_in(&self, area: &[PreparedVolume]) -> Result<Vec<Arc<Subscription>>> {
        Ok(pending_in(
            &self.top.subs,
            area,
            self.base.subscriptions_in(area)?,
            &|_| true,
        ))
    }
    fn operational_intents_in_where(
        &self,
        area: &[PreparedVolume],
        keep: &dyn Fn(&OperationalIntent) -> bool,
    ) -> Result<Vec<Arc<OperationalIntent>>> {
        Ok(pending_in(
            &self.top.ois,
            area,
            self.base.operational_intents_in_where(area, keep)?,
            keep,
        ))
    }
    fn constraints_in_where(
        &self,
        area: &[PreparedVolume],
        keep: &dyn Fn(&Constraint) -> bool,
    ) -> Result<Vec<Arc<Constraint>>> {
        Ok(pending_in(
            &self.top.constraints,
            area,
            self.base.constraints_in_where(area, keep)?,
            keep,
        ))
    }
    fn availability(&self, uss: &str) -> Result<Option<UssAvailability>> {
        match self.top.availability.get(uss) {
            Some(a) => Ok(Some(a.clone())),
            None => self.base.availability(uss),
        }
    }
    fn document(&self, kind: &str, id: &str) -> Result<Option<Arc<Document>>> {
        match self.top.docs.get(&(kind.to_owned(), id.to_owned())) {
            Some(d) => Ok(d.clone()),
            None => self.base.document(kind, id),
        }
    }
    fn documents(&self, kind: &str) -> Result<Vec<Arc<Document>>> {
        let mut by_id: BTreeMap<String, Arc<Document>> = self
            .base
            .documents(kind)?
            .into_iter()
            .map(|d| (d.id.clone(), d))
            .collect();
        for ((k, id), d) in &self.top.docs {
            if k != kind {
                continue;
            }
            match d {
                Some(d) => by_id.insert(id.clone(), d.clone()),
                None => by_id.remove(id),
            };
        }
        Ok(by_id.into_values().collect())
    }
    fn documents_after(&self, kind: &str, after: &str, limit: usize) -> Result<Vec<Arc<Document>>> {
        let mine: Vec<_> = self
            .top
            .docs
            .iter()
            .filter(|((k, id), _)| k == kind && id.as_str() > after)
            .collect();
        // Ask the base for as many more as this layer may remove, so that `limit` still fill.
        let below = self.base.documents_after(kind, after, limit + mine.len())?;
        let mut by_id: BTreeMap<String, Arc<Document>> =
            below.into_iter().map(|d| (d.id.clone(), d)).collect();
        for ((_, id), d) in mine {
            match d {
                Some(d) => by_id.insert(id.clone(), d.clone()),
                None => by_id.remove(id),
            };
        }
        Ok(by_id.into_values().take(limit).collect())
    }
}

/// A write transaction over `base`: reads see the base with this transaction's own changes
/// laid over it; nothing reaches the base until the owner commits [`Overlay::into_pending`].
pub struct Overlay<'a> {
    base: &'a dyn ReadTx,
    own: Pending,
}

impl<'a> Overlay<'a> {
    pub fn new(base: &'a dyn ReadTx) -> Self {
        Self {
            base,
            own: Pending::default(),
        }
    }
    pub fn into_pending(self) -> Pending {
        self.own
    }
    fn view(&self) -> Layered<'_> {
        Layered {
            base: self.base,
            top: &self.own,
        }
    }
}

impl ReadTx for Overlay<'_> {
    fn operational_intent(&self, id: EntityId) -> Result<Option<Arc<OperationalIntent>>> {
        self.view().operational_intent(id)
    }
    fn constraint(&self, id: EntityId) -> Result<Option<Arc<Constraint>>> {
        self.view().constraint(id)
    }
    fn subscription(&self, id: EntityId) -> Result<Option<Arc<Subscription>>> {
        self.view().subscription(id)
    }
    fn operational_intents_in(
        &self,
        area: &[PreparedVolume],
    ) -> Result<Vec<Arc<OperationalIntent>>> {
        self.view().operational_intents_in(area)
    }
    fn constraints_in(&self, area: &[PreparedVolume]) -> Result<Vec<Arc<Constraint>>> {
        self.view().constraints_in(area)
    }
    fn subscriptions_in(&self, area: &[PreparedVolume]) -> Result<Vec<Arc<Subscription>>> {
        self.view().subscriptions_in(area)
    }
    fn operational_intents_in_where(
        &self,
        area: &[PreparedVolume],
        keep: &dyn Fn(&OperationalIntent) -> bool,
    ) -> Result<Vec<Arc<OperationalIntent>>> {
        self.view().operational_intents_in_where(area, keep)
    }
    fn constraints_in_where(
        &self,
        area: &[PreparedVolume],
        keep: &dyn Fn(&Constraint) -> bool,
    ) -> Result<Vec<Arc<Constraint>>> {
        self.view().constraints_in_where(area, keep)
    }
    fn availability(&self, uss: &str) -> Result<Option<UssAvailability>> {
        self.view().availability(uss)
    }
    fn document(&self, kind: &str, id: &str) -> Result<Option<Arc<Document>>> {
        self.view().document(kind, id)
    }
    fn documents(&self, kind: &str) -> Result<Vec<Arc<Document>>> {
        self.view().documents(kind)
    }
    fn documents_after(&self, kind: &str, after: &str, limit: usize) -> Result<Vec<Arc<Document>>> {
        self.view().documents_after(kind, after, limit)
    }
}

impl Tx for Overlay<'_> {
    fn apply(&mut self, change: Change) -> Result<()> {
        self.own.record(change);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn doc(kind: &str, id: &str, body: &str) -> Arc<Document> {
        Arc::new(Document {
            kind: kind.into(),
            id: id.into(),
            owner: "p".into(),
            body: body.into(),
        })
    }

    /// An Accepted intent over a circle of 100 m at `lng` on the equator.
    fn intent(lng: f64) -> Arc<OperationalIntent> {
        use deconflict_geo::{AltitudeRange, LatLng, Shape, TimeRange, Volume4};
        let v = Volume4 {
            shape: Shape::Circle {
                center: LatLng::new(0.0, lng),
                radius_m: 100.0,
            },
            altitude: AltitudeRange::new(0.0, 120.0),
            time: TimeRange::new(0, 3_600_000_000),
        };
        Arc::new(OperationalIntent {
            id: EntityId::new_random(),
            manager: "p".into(),
            version: 1,
            ovn: crate::ids::Ovn::random(),
            state: crate::model::OiState::Accepted,
            uss_base_url: "https://uss.example".into(),
            subscription_id: None,
            extents: crate::parse::stored_extents(vec![v]).unwrap(),
        })
    }

    fn ids(found: Vec<Arc<OperationalIntent>>) -> Vec<EntityId> {
        let mut ids: Vec<_> = found.iter().map(|o| o.id).collect();
        ids.sort();
        ids
    }

    #[test]
    fn a_filtered_area_lookup_equals_the_lookup_filtered_through_every_layer() {
        let (a, b, far) = (intent(0.0), intent(0.0005), intent(1.0));
        let mut base = MemState::default();
        base.apply(&[
            Change::PutOperationalIntent(a.clone()),
            Change::PutOperationalIntent(b.clone()),
            Change::PutOperationalIntent(far.clone()),
        ]);
        // Pending below the transaction: a new intent c, and b replaced by b2 (same id).
        let c = intent(0.0003);
        let mut b2 = (*intent(0.0004)).clone();
        b2.id = b.id;
        let b2 = Arc::new(b2);
        let mut batch = Pending::default();
        batch.record(Change::PutOperationalIntent(c.clone()));
        batch.record(Change::PutOperationalIntent(b2.clone()));
        let below = Layered {
            base: &base,
            top: &batch,
        };
        let mut tx = Overlay::new(&below);
        let d = intent(0.0002);
        tx.apply(Change::PutOperationalIntent(d.clone())).unwrap();
        let area = a.extents.prepared.clone();
        let everything = tx.operational_intents_in(&area).unwrap();
        assert_eq!(ids(everything.clone()), {
            let mut v = vec![a.id, b.id, c.id, d.id];
            v.sort();
            v
        });
        for skip in [a.id, b.id, c.id, d.id, far.id] {
            let keep = |o: &OperationalIntent| o.id != skip;
            let mut expect = everything.clone();
            expect.retain(|o| keep(o));
            assert_eq!(
                ids(tx.operational_intents_in_where(&area, &keep).unwrap()),
                ids(expect)
            );
        }
        // The pending b2, not the stored b, is what the filter is asked about.
        let found = tx
            .operational_intents_in_where(&area, &|o| o.ovn == b2.ovn)
            .unwrap();
        assert_eq!(found.len(), 1);
        assert!(Arc::ptr_eq(&found[0], &b2));
        assert!(tx
            .operational_intents_in_where(&area, &|o| o.ovn == b.ovn)
            .unwrap()
            .is_empty());
    }

    #[test]
    fn an_overlay_lists_documents_with_its_own_puts_and_deletes_laid_over() {
        let mut base = MemState::default();
        base.apply(&[
            Change::PutDocument(doc("site", "a", "1")),
            Change::PutDocument(doc("site", "b", "1")),
            Change::PutDocument(doc("movement", "a", "1")),
        ]);
        let mut tx = Overlay::new(&base);
        tx.apply(Change::DeleteDocument {
            kind: "site".into(),
            id: "a".into(),
        })
        .unwrap();
        tx.apply(Change::PutDocument(doc("site", "c", "2")))
            .unwrap();
        tx.apply(Change::PutDocument(doc("site", "b", "2")))
            .unwrap();
        let listed: Vec<_> = tx
            .documents("site")
            .unwrap()
            .iter()
            .map(|d| (d.id.clone(), d.body.clone()))
            .collect();
        assert_eq!(listed, [("b".into(), "2".into()), ("c".into(), "2".into())]);
        assert!(tx.document("site", "a").unwrap().is_none());
        assert_eq!(tx.documents("movement").unwrap().len(), 1);
        // A cursor sees the same list: "a", deleted here, neither shows nor eats the limit.
        let after = |after: &str, limit: usize| -> Vec<(String, String)> {
            tx.documents_after("site", after, limit)
                .unwrap()
                .iter()
                .map(|d| (d.id.clone(), d.body.clone()))
                .collect()
        };
        assert_eq!(after("", 1), [("b".into(), "2".into())]);
        assert_eq!(after("b", 10), [("c".into(), "2".into())]);
        assert_eq!(after("", 10), listed);
        assert!(after("c", 10).is_empty());
        assert_eq!(base.documents_after("site", "a", 10).unwrap().len(), 1);
        // The base is untouched until the changes are applied to it.
        assert_eq!(base.documents("site").unwrap().len(), 2);
        let pending = tx.into_pending();
        base.apply(pending.changes());
        assert_eq!(base.documents("site").unwrap().len(), 2);
        assert!(base.document("site", "a").unwrap().is_none());
    }
}
