//! Notifications: what deconflict tells a party, with minimum disclosure, and where it keeps
//! them. Each party (the recipient, a JWT `sub`) has its own gap-free sequence of
//! notifications numbered from 1 (the `id:` of its server-sent events and the cursor of its
//! webhook), and each notification also has an opaque id (a UUID) by which it is read and
//! acknowledged.
//!
//! Storage, as [`Document`]s written in the transaction that caused them:
//! - kind `notification:{recipient}`, id the sequence number in 20 digits (so ids sort in
//!   sequence order), body the [`Notification`]: the recipient's notifications in order;
//! - kind [`KIND`] (`notification`), id the notification id, owner the recipient, body the
//!   sequence number: the way from an id to its notification;
//! - kind [`HEAD_KIND`], id the recipient, body the last sequence number given.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use deconflict_core::model::Document;
use deconflict_core::store::{Change, ReadTx, Tx};
use deconflict_core::DssError;
use serde::{Deserialize, Serialize};

use crate::movement::Movement;
use crate::party::Role;
use crate::site::Site;

/// The document kind that maps a notification id to its recipient and sequence number.
pub const KIND: &str = "notification";
/// The document kind of each recipient's last sequence number.
pub const HEAD_KIND: &str = "notification-head";

/// The document kind of `recipient`'s notifications.
pub fn recipient_kind(recipient: &str) -> String {
    format!("{KIND}:{recipient}")
}

/// The document id of sequence number `seq`: fixed width, so that ids sort as numbers.
fn seq_id(seq: u64) -> String {
    format!("{seq:020}")
}

/// What a notification is about, from the recipient's side.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum About {
    /// A protected site that one of the recipient's operations intersects (its details follow).
    Site,
    /// An aid movement that one of the recipient's operations intersects (its details follow).
    Movement,
    /// Another party's operation intersects one of the recipient's extents: that it does,
    /// when, and whom to call; not the operation itself.
    Conflict,
    /// To a coordinator: a notification that asked for an acknowledgment has none past the
    /// deadline.
    Escalation,
}

impl About {
    pub fn as_str(self) -> &'static str {
        match self {
            About::Site => "site",
            About::Movement => "movement",
            About::Conflict => "conflict",
            About::Escalation => "escalation",
        }
    }
}

/// What an extent of the deconfliction line is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ExtentKind {
    /// A protected site (a constraint deconflict publishes for a humanitarian party).
    Site,
    /// An aid movement (an operational intent deconflict publishes for a humanitarian party).
    Movement,
    /// Anything else written on the DSS: an operational intent or a constraint of a party.
    Operation,
}

/// Which DSS entity an extent is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DssType {
    OperationalIntent,
    Constraint,
}

/// One of the recipient's own extents, named in a notification about it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Own {
    pub kind: ExtentKind,
    pub dss_type: DssType,
    /// Its DSS entity id (also the id of the site or movement).
    pub id: String,
    /// The site's or movement's name; absent for an operation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
}

/// The other party of a conflict and how to reach it, from the party registry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Counterpart {
    /// Its JWT `sub`.
    pub party: String,
    /// Absent when the writer is not a registered party (a plain USS).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<Role>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub name: String,
    /// Its liaison channel as registered (a phone number, an address...).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub contact: Option<String>,
}

/// When two extents intersect: from the earliest to the latest moment shared by a pair of
/// their intersecting volumes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Window {
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
}

/// What the recipient is told: minimum disclosure. The party whose operation intersects a
/// site or movement learns it in full (with the OVN to put in its key); the party whose site,
/// movement or operation an operation intersects learns only that it does, when, and whom to
/// call, never the operation's geometry, id or OVN.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Disclosure {
    /// A site that `intersects` (the recipient's operation) crosses.
    Site {
        site: Site,
        /// The OVN of its constraint now.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        ovn: Option<String>,
        intersects: Own,
        window: Window,
        notified_by: Counterpart,
    },
    /// A movement that `intersects` (the recipient's operation) crosses.
    Movement {
        movement: Movement,
        /// The OVN of its operational intent now.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        ovn: Option<String>,
        intersects: Own,
        window: Window,
        notified_by: Counterpart,
    },
    /// An operation of `operator` intersects the recipient's `intersects`.
    Operation {
        intersects: Own,
        window: Window,
        operator: Counterpart,
    },
    /// To a coordinator: `notification`, telling `recipient` of `subject` at `sent`, is still
    /// not acknowledged past `due`.
    Overdue {
        notification: String,
        recipient: String,
        about: About,
        subject: Own,
        sent: DateTime<Utc>,
        due: DateTime<Utc>,
    },
}

impl Disclosure {
    pub fn about(&self) -> About {
        match self {
            Disclosure::Site { .. } => About::Site,
            Disclosure::Movement { .. } => About::Movement,
            Disclosure::Operation { .. } => About::Conflict,
            Disclosure::Overdue { .. } => About::Escalation,
        }
    }
}

/// A notification as stored and delivered.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Notification {
    /// Opaque and unguessable (a UUID): `/v1/notifications/{id}`.
    pub id: String,
    /// The party told (a JWT `sub`).
    pub recipient: String,
    /// Its place in the recipient's sequence, from 1, without gaps: the `id:` of its
    /// server-sent event.
    pub seq: u64,
    pub about: About,
    /// The conflict that caused it.
    pub conflict: String,
    pub disclosure: Disclosure,
    pub created: DateTime<Utc>,
    /// Whether the recipient must acknowledge it: a site or movement told to the party whose
    /// operation intersects it.
    pub ack_required: bool,
    /// When the recipient acknowledged it (set by the acknowledgment, `POST
    /// /v1/notifications/{id}/ack`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub acknowledged: Option<DateTime<Utc>>,
}

fn to_body<T: Serialize>(v: &T) -> Result<String, DssError> {
    crate::to_body(v)
}

fn stored_seq(d: &Document) -> Result<u64, DssError> {
    d.body.parse().map_err(|_| {
        DssError::Internal(format!("stored {} {} has no sequence number", d.kind, d.id))
    })
}

/// The last sequence number given to `recipient` (0 before the first).
pub fn head(tx: &dyn ReadTx, recipient: &str) -> Result<u64, DssError> {
    tx.document(HEAD_KIND, recipient)?
        .map_or(Ok(0), |d| stored_seq(&d))
}

/// Stores a new notification to `recipient` with the next sequence number, in `tx`.
pub fn create(
    tx: &mut dyn Tx,
    recipient: &str,
    conflict: &str,
    disclosure: Disclosure,
    now: DateTime<Utc>,
) -> Result<Notification, DssError> {
    let seq = head(tx, recipient)? + 1;
    let about = disclosure.about();
    let n = Notification {
        id: uuid::Uuid::new_v4().to_string(),
        recipient: recipient.to_owned(),
        seq,
        about,
        conflict: conflict.to_owned(),
        disclosure,
        created: now,
        ack_required: matches!(about, About::Site | About::Movement),
        acknowledged: None,
    };
    let doc = |kind: &str, id: &str, body: String| {
        Change::PutDocument(Arc::new(Document {
            kind: kind.to_owned(),
            id: id.to_owned(),
            owner: recipient.to_owned(),
            body,
        }))
    };
    tx.apply(doc(HEAD_KIND, recipient, seq.to_string()))?;
    tx.apply(doc(KIND, &n.id, seq.to_string()))?;
    save(tx, &n)?;
    crate::acknowledgment::expect(tx, &n)?;
    Ok(n)
}

/// Writes `n` back (an acknowledgment sets [`Notification::acknowledged`]); its id, recipient
/// and sequence number must be those it was created with.
pub fn save(tx: &mut dyn Tx, n: &Notification) -> Result<(), DssError> {
    tx.apply(Change::PutDocument(Arc::new(Document {
        kind: recipient_kind(&n.recipient),
        id: seq_id(n.seq),
        owner: n.recipient.clone(),
        body: to_body(n)?,
    })))
}

/// The notification with id `id`, whoever it went to (the caller checks who may see it).
pub fn get(tx: &dyn ReadTx, id: &str) -> Result<Option<Notification>, DssError> {
    let Some(pointer) = tx.document(KIND, id)? else {
        return Ok(None);
    };
    let seq = stored_seq(&pointer)?;
    let kind = recipient_kind(&pointer.owner);
    let found: Option<Notification> = crate::publish::stored(tx, &kind, &seq_id(seq))?;
    found
        .map(Some)
        .ok_or_else(|| DssError::Internal(format!("notification {id} is indexed but missing")))
}

/// `recipient`'s notifications after sequence number `after`, at most `limit`, in order.
pub fn after(
    tx: &dyn ReadTx,
    recipient: &str,
    after: u64,
    limit: usize,
) -> Result<Vec<Notification>, DssError> {
    let kind = recipient_kind(recipient);
    tx.documents_after(&kind, &seq_id(after), limit)?
        .iter()
        .map(|d| crate::from_body(KIND, &d.body))
        .collect()
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::testing::commit;
    use deconflict_core::memstate::MemState;

    fn now() -> DateTime<Utc> {
        "2030-01-01T00:00:00Z".parse().unwrap()
    }

    fn disclosure() -> Disclosure {
        Disclosure::Operation {
            intersects: Own {
                kind: ExtentKind::Site,
                dss_type: DssType::Constraint,
                id: "site-1".into(),
                name: Some("Hospital".into()),
            },
            window: Window {
                start: now(),
                end: now() + chrono::Duration::hours(1),
            },
            operator: Counterpart {
                party: "alpha".into(),
                role: Some(Role::Armed),
                name: "Alpha".into(),
                contact: Some("+1 555 0100".into()),
            },
        }
    }

    /// Runs `f` in a transaction over `mem` and commits it.
    #[test]
    fn each_recipient_has_its_own_gap_free_sequence() {
        let mut mem = MemState::default();
        let (a1, b1, a2) = commit(&mut mem, |tx| {
            (
                create(tx, "ngo", "c1", disclosure(), now()).unwrap(),
                create(tx, "other", "c1", disclosure(), now()).unwrap(),
                create(tx, "ngo", "c2", disclosure(), now()).unwrap(),
            )
        });
        let a3 = commit(&mut mem, |tx| {
            create(tx, "ngo", "c3", disclosure(), now()).unwrap()
        });
        assert_eq!((a1.seq, a2.seq, a3.seq, b1.seq), (1, 2, 3, 1));
        assert_eq!(head(&mem, "ngo").unwrap(), 3);
        assert_eq!(head(&mem, "nobody").unwrap(), 0);
        let seqs = |after_seq, limit| -> Vec<u64> {
            after(&mem, "ngo", after_seq, limit)
                .unwrap()
                .iter()
                .map(|n| n.seq)
                .collect()
        };
        assert_eq!(seqs(0, 10), [1, 2, 3]);
        assert_eq!(seqs(1, 1), [2]);
        assert!(seqs(3, 10).is_empty());
        assert_eq!(get(&mem, &a2.id).unwrap().unwrap(), a2);
        assert_eq!(get(&mem, &b1.id).unwrap().unwrap().recipient, "other");
        assert!(get(&mem, "no-such-id").unwrap().is_none());
        assert_ne!(a1.id, a2.id);
        assert_eq!(a1.about, About::Conflict);
        assert!(
            !a1.ack_required,
            "a humanitarian party has nothing to acknowledge"
        );
    }

    #[test]
    fn an_acknowledgment_is_saved_in_place() {
        let mut mem = MemState::default();
        let mut n = commit(&mut mem, |tx| {
            create(tx, "ngo", "c1", disclosure(), now()).unwrap()
        });
        n.acknowledged = Some(now());
        commit(&mut mem, |tx| save(tx, &n).unwrap());
        assert_eq!(get(&mem, &n.id).unwrap().unwrap(), n);
        assert_eq!(after(&mem, "ngo", 0, 10).unwrap(), [n]);
        assert_eq!(head(&mem, "ngo").unwrap(), 1);
    }

    #[test]
    fn the_disclosure_to_the_humanitarian_side_carries_no_geometry_and_no_ovn() {
        let json = serde_json::to_value(disclosure()).unwrap();
        assert_eq!(json["type"], "operation");
        let text = json.to_string();
        for absent in ["ovn", "geometry", "volumes", "outline", "coordinates"] {
            assert!(!text.contains(absent), "{absent} in {text}");
        }
        assert_eq!(json["operator"]["contact"], "+1 555 0100");
    }
}
