//! Acknowledgments: each notification of a site or movement to the party whose operation
//! crosses it ([`Notification::ack_required`]) waits for that party to acknowledge it; past a
//! deadline the coordinators are told, once.
//!
//! Storage, as documents written in the transaction that changes them:
//! - kind [`PENDING_KIND`], id the notification id, owner the recipient, body a [`Pending`]:
//!   written with the notification, removed by the acknowledgment; what the coordinator's
//!   outstanding list reads, and what the escalation marks (so it escalates once);
//! - kind [`KIND`], id the notification id, owner the recipient, body the [`Ack`].

use chrono::{DateTime, Utc};
use deconflict_core::store::{Change, ReadTx, Tx};
use deconflict_core::DssError;
use serde::{Deserialize, Serialize};

use crate::notification::{self, About, Disclosure, DssType, ExtentKind, Notification, Own};
use crate::publish;

/// The document kind of acknowledgments.
pub const KIND: &str = "acknowledgment";
/// The document kind of notifications waiting for an acknowledgment.
pub const PENDING_KIND: &str = "ack-pending";

/// A notification waiting for its recipient's acknowledgment.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Pending {
    pub notification: String,
    pub recipient: String,
    pub about: About,
    /// The site or movement it tells of.
    pub subject: Own,
    /// When it was made.
    pub created: DateTime<Utc>,
    /// When the coordinators were told it is overdue.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub escalated: Option<DateTime<Utc>>,
}

/// An acknowledgment as stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Ack {
    pub notification: String,
    /// The recipient that acknowledged.
    pub party: String,
    /// The time its log record states (the party's own, when it signed).
    pub time: String,
    /// When the server took it.
    pub received: DateTime<Utc>,
    /// The party's signature (base64 Ed25519) over its log record, when it signed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signature: Option<String>,
    /// The id of its event in the log (the server's recorder), if the server keeps one.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub event: String,
}

/// The site or movement a notification tells of, for those that need an acknowledgment.
pub fn subject(d: &Disclosure) -> Option<Own> {
    match d {
        Disclosure::Site { site, .. } => Some(Own {
            kind: ExtentKind::Site,
            dss_type: DssType::Constraint,
            id: site.id.clone(),
            name: Some(site.content.name.clone()),
        }),
        Disclosure::Movement { movement, .. } => Some(Own {
            kind: ExtentKind::Movement,
            dss_type: DssType::OperationalIntent,
            id: movement.id.clone(),
            name: Some(movement.content.name.clone()),
        }),
        _ => None,
    }
}

fn put<T: Serialize>(
    tx: &mut dyn Tx,
    kind: &str,
    id: &str,
    owner: &str,
    v: &T,
) -> Result<(), DssError> {
    publish::put_record(tx, kind, id, owner, v)
}

/// Notes, in the transaction that makes `n`, that it waits for an acknowledgment (if it does).
pub fn expect(tx: &mut dyn Tx, n: &Notification) -> Result<(), DssError> {
    let Some(subject) = subject(&n.disclosure).filter(|_| n.ack_required) else {
        return Ok(());
    };
    let p = Pending {
        notification: n.id.clone(),
        recipient: n.recipient.clone(),
        about: n.about,
        subject,
        created: n.created,
        escalated: None,
    };
    put(tx, PENDING_KIND, &n.id, &n.recipient, &p)
}

/// The log record of `party`'s acknowledgment of `n` at `time` (RFC 3339, as the party wrote
/// it when it signs): kind `acknowledgment`, subject the notification id, body the `about` and
/// the `entity` (the site's or movement's id). A party that signs signs exactly this record
/// ([`deconflict_tlog::SignedAck`]).
pub fn log_record(n: &Notification, party: &str, time: &str) -> deconflict_tlog::Record {
    let mut body = serde_json::Map::new();
    body.insert("about".into(), n.about.as_str().into());
    if let Some(s) = subject(&n.disclosure) {
        body.insert("entity".into(), s.id.into());
    }
    deconflict_tlog::Record {
        kind: deconflict_tlog::Kind::Acknowledgment,
        time: time.to_owned(),
        party: party.to_owned(),
        subject: n.id.clone(),
        body,
    }
}

/// What an acknowledgment did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    Acknowledged,
    /// It was acknowledged before: nothing changed.
    Already,
}

/// Acknowledges notification `id` for `party`, which must be its recipient; `ack` is what to
/// store (its `event` filled by `record`, called only when something is acknowledged now).
/// Acknowledging again changes nothing and returns the first acknowledgment.
pub fn acknowledge(
    tx: &mut dyn Tx,
    id: &str,
    party: &str,
    ack: Ack,
    record: impl FnOnce(&mut dyn Tx, &Notification) -> Result<String, DssError>,
) -> Result<(Notification, Ack, Outcome), DssError> {
    let not_found = || DssError::NotFound(format!("notification {id} not found"));
    let mut n = notification::get(tx, id)?.ok_or_else(not_found)?;
    if n.recipient != party {
        return Err(DssError::Forbidden(format!(
            "notification {id} went to party \"{}\"; only its recipient acknowledges it",
            n.recipient
        )));
    }
    if let Some(first) = publish::stored::<Ack>(tx, KIND, id)? {
        return Ok((n, first, Outcome::Already));
    }
    if !n.ack_required {
        return Err(DssError::Conflict(format!(
            "notification {id} is about a {}, which asks for no acknowledgment",
            n.about.as_str()
        )));
    }
    let mut ack = ack;
    ack.event = record(tx, &n)?;
    n.acknowledged = Some(ack.received);
    notification::save(tx, &n)?;
    tx.apply(Change::DeleteDocument {
        kind: PENDING_KIND.into(),
        id: id.to_owned(),
    })?;
    put(tx, KIND, id, party, &ack)?;
    Ok((n, ack, Outcome::Acknowledged))
}

/// The acknowledgment of notification `id`, if any.
pub fn get(tx: &dyn ReadTx, id: &str) -> Result<Option<Ack>, DssError> {
    publish::stored(tx, KIND, id)
}

/// Every notification waiting for an acknowledgment, oldest first.
pub fn outstanding(tx: &dyn ReadTx) -> Result<Vec<Pending>, DssError> {
    let mut all: Vec<Pending> = publish::all(tx, PENDING_KIND)?;
    all.sort_by(|a, b| (a.created, &a.notification).cmp(&(b.created, &b.notification)));
    Ok(all)
}

/// Tells each of `coordinators` that the notification of `pending` is still not acknowledged
/// at `now`, and marks it escalated, unless it was acknowledged or escalated meanwhile (so a
/// notification is escalated once, whoever runs this). Returns the escalations made.
pub fn escalate(
    tx: &mut dyn Tx,
    pending: &str,
    coordinators: &[String],
    due: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Result<Vec<Notification>, DssError> {
    let Some(mut p) = publish::stored::<Pending>(tx, PENDING_KIND, pending)? else {
        return Ok(Vec::new());
    };
    if p.escalated.is_some() || coordinators.is_empty() {
        return Ok(Vec::new());
    }
    let mut made = Vec::with_capacity(coordinators.len());
    for c in coordinators {
        let d = Disclosure::Overdue {
            notification: p.notification.clone(),
            recipient: p.recipient.clone(),
            about: p.about,
            subject: p.subject.clone(),
            sent: p.created,
            due,
        };
        made.push(notification::create(tx, c, &p.notification, d, now)?);
    }
    p.escalated = Some(now);
    put(tx, PENDING_KIND, pending, &p.recipient.clone(), &p)?;
    Ok(made)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::notification::{Counterpart, Window};
    use crate::site::{self, Site};
    use crate::testing::commit;
    use deconflict_core::limits::Limits;
    use deconflict_core::memstate::MemState;

    fn now() -> DateTime<Utc> {
        "2030-01-01T00:00:00Z".parse().unwrap()
    }

    fn site_disclosure() -> Disclosure {
        let input: site::SiteInput = serde_json::from_value(serde_json::json!({
            "external_id": "H-1", "name": "Hospital", "category": "hospital",
            "geometry": {"type": "Point", "coordinates": [37.15, 36.2]}, "radius_m": 100
        }))
        .unwrap();
        let v = input
            .validate("ngo", "salt", now(), &Limits::default())
            .unwrap();
        let window = Window {
            start: now(),
            end: now(),
        };
        Disclosure::Site {
            site: Site {
                id: v.id.to_string(),
                party: "ngo".into(),
                content: v.content,
                notified: now(),
                updated: now(),
            },
            ovn: Some("ovn-1".into()),
            intersects: Own {
                kind: ExtentKind::Operation,
                dss_type: DssType::OperationalIntent,
                id: "op-1".into(),
                name: None,
            },
            window,
            notified_by: Counterpart {
                party: "ngo".into(),
                role: None,
                name: String::new(),
                contact: None,
            },
        }
    }

    fn ack(party: &str) -> Ack {
        Ack {
            notification: String::new(),
            party: party.into(),
            time: "2030-01-01T00:05:00.000Z".into(),
            received: now() + chrono::Duration::minutes(5),
            signature: None,
            event: String::new(),
        }
    }

    #[test]
    fn only_the_recipient_acknowledges_once_and_then_nothing_is_outstanding() {
        let mut mem = MemState::default();
        let n = commit(&mut mem, |tx| {
            notification::create(tx, "alpha", "c1", site_disclosure(), now()).unwrap()
        });
        let out = outstanding(&mem).unwrap();
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].recipient, "alpha");
        assert_eq!(out[0].subject.name.as_deref(), Some("Hospital"));

        let e = commit(&mut mem, |tx| {
            acknowledge(tx, &n.id, "bravo", ack("bravo"), |_, _| Ok("e".into()))
        })
        .unwrap_err();
        assert!(matches!(e, DssError::Forbidden(_)), "{e}");
        assert_eq!(
            outstanding(&mem).unwrap().len(),
            1,
            "a refusal changes nothing"
        );

        let (got, first, o) = commit(&mut mem, |tx| {
            acknowledge(
                tx,
                &n.id,
                "alpha",
                ack("alpha"),
                |_, _| Ok("event-1".into()),
            )
        })
        .unwrap();
        assert_eq!(o, Outcome::Acknowledged);
        assert_eq!(first.event, "event-1");
        assert_eq!(got.acknowledged, Some(now() + chrono::Duration::minutes(5)));
        assert!(outstanding(&mem).unwrap().is_empty());
        assert_eq!(
            notification::get(&mem, &n.id)
                .unwrap()
                .unwrap()
                .acknowledged,
            got.acknowledged
        );

        let mut later = ack("alpha");
        later.time = "2030-01-01T01:00:00.000Z".into();
        let (_, again, o) = commit(&mut mem, |tx| {
            acknowledge(tx, &n.id, "alpha", later, |_, _| {
                panic!("not recorded twice")
            })
        })
        .unwrap();
        assert_eq!((o, again), (Outcome::Already, first));
        assert!(matches!(
            commit(&mut mem, |tx| acknowledge(
                tx,
                "nope",
                "alpha",
                ack("alpha"),
                |_, _| Ok(String::new())
            )),
            Err(DssError::NotFound(_))
        ));
    }

    #[test]
    fn an_overdue_notification_is_escalated_to_each_coordinator_once() {
        let mut mem = MemState::default();
        let n = commit(&mut mem, |tx| {
            notification::create(tx, "alpha", "c1", site_disclosure(), now()).unwrap()
        });
        let coords = vec!["coord".to_owned(), "coord2".to_owned()];
        let due = now() + chrono::Duration::hours(1);
        let made = commit(&mut mem, |tx| {
            escalate(tx, &n.id, &coords, due, due).unwrap()
        });
        assert_eq!(made.len(), 2);
        assert_eq!(made[0].recipient, "coord");
        assert_eq!(made[0].about, About::Escalation);
        assert!(!made[0].ack_required);
        match &made[0].disclosure {
            Disclosure::Overdue {
                notification,
                recipient,
                ..
            } => assert_eq!((notification, recipient.as_str()), (&n.id, "alpha")),
            other => panic!("{other:?}"),
        }
        let again = commit(&mut mem, |tx| {
            escalate(tx, &n.id, &coords, due, due).unwrap()
        });
        assert!(again.is_empty(), "escalated once");
        let out = outstanding(&mem).unwrap();
        assert_eq!(
            out[0].escalated,
            Some(due),
            "still outstanding, marked escalated"
        );
    }
}
