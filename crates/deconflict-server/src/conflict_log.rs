//! The log records of conflicts and notifications, appended through the [`Recorder`] in the
//! transaction that makes them.
//!
//! A `conflict` record names both sides (party, kind, DSS type, entity id), the time window
//! and the notifications it caused. A `notification` record names its recipient, sequence
//! number, what it is about and the SHA-256 of the notification's JSON exactly as delivered
//! ([`delivered`]: the body of its webhook request, the `data:` of its event, the answer of
//! `GET /v1/notifications/{id}` until it is acknowledged): the log proves what was told to
//! whom and when without holding the disclosed details themselves (the log is readable by
//! every party).

use deconflict_core::Result;
use deconflict_humanitarian::conflict::{Conflict, Found};
use deconflict_humanitarian::notification::{Disclosure, Notification};
use deconflict_tlog::{Kind, Record};
use serde_json::{json, Map, Value};
use sha2::{Digest, Sha256};

use crate::recorder::{record_time, Recorder};
use deconflict_core::store::Tx;

/// Records each conflict of `found` and each of its notifications in `tx`.
pub fn record(rec: &Recorder, tx: &mut dyn Tx, found: &[Found]) -> Result<()> {
    if !rec.is_enabled() {
        return Ok(());
    }
    for f in found {
        rec.record(tx, &conflict(&f.conflict))?;
        for n in &f.notifications {
            rec.record(tx, &notification(n)?)?;
        }
    }
    Ok(())
}

fn object(v: Value) -> Map<String, Value> {
    match v {
        Value::Object(m) => m,
        _ => Map::new(),
    }
}

/// The `conflict` record.
pub fn conflict(c: &Conflict) -> Record {
    let sides: Vec<Value> = c
        .sides
        .iter()
        .map(|s| json!({"party": s.party, "kind": s.kind, "dss_type": s.dss_type, "id": s.id}))
        .collect();
    Record {
        kind: Kind::Conflict,
        time: record_time(c.updated),
        party: c.sides[0].party.clone(),
        subject: c.id.clone(),
        body: object(json!({
            "sides": sides,
            "window": {"start": record_time(c.window.start), "end": record_time(c.window.end)},
            "detected": record_time(c.detected),
            "notifications": c.notifications,
        })),
    }
}

/// `n` as it is delivered (the body of its webhook request, the `data:` of its event): its
/// JSON as it was made, without the `acknowledged` a later acknowledgment adds, so that a
/// notification sent again after an acknowledgment still hashes to its record's
/// `content_sha256`.
pub fn delivered(n: &Notification) -> Result<Vec<u8>> {
    let made = Notification {
        acknowledged: None,
        ..n.clone()
    };
    serde_json::to_vec(&made).map_err(|e| {
        deconflict_core::DssError::Internal(format!("serialising a notification: {e}"))
    })
}

/// The SHA-256 (hex) of `n` as it is delivered.
pub fn content_sha256(n: &Notification) -> Result<String> {
    Ok(hex::encode(Sha256::digest(delivered(n)?)))
}

/// The `notification` record.
pub fn notification(n: &Notification) -> Result<Record> {
    // What it is about: the site or movement told to the operation's party, or the
    // recipient's own extent that an operation crosses.
    let about_id = match &n.disclosure {
        Disclosure::Site { site, .. } => site.id.clone(),
        Disclosure::Movement { movement, .. } => movement.id.clone(),
        Disclosure::Operation { intersects, .. } => intersects.id.clone(),
        Disclosure::Overdue { subject, .. } => subject.id.clone(),
    };
    Ok(Record {
        kind: Kind::Notification,
        time: record_time(n.created),
        party: n.recipient.clone(),
        subject: n.id.clone(),
        body: object(json!({
            "seq": n.seq,
            "about": n.about.as_str(),
            "about_id": about_id,
            "conflict": n.conflict,
            "ack_required": n.ack_required,
            "content_sha256": content_sha256(n)?,
        })),
    })
}
