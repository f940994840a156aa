//! The canonical log record: one JSON object per event, written in exactly one way (keys sorted
//! by their UTF-8 bytes, no white space, integers only, serde_json's minimal string escaping),
//! so that the bytes a party hashed are the bytes anyone re-derives from the fields. A record
//! names its format version (`v`) and its `kind`; decoding re-encodes and refuses any byte
//! difference, so a non-canonical record is caught, not silently normalised.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::fmt::Write as _;

/// The record format this crate writes and reads.
pub const RECORD_VERSION: u64 = 1;

/// What a record is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    /// A notification sent to a party (of a site, a movement, a conflict ...).
    Notification,
    /// A party's acknowledgment of a notification (see [`crate::SignedAck`]).
    Acknowledgment,
    /// A conflict found between extents.
    Conflict,
    /// An incident report.
    Incident,
    /// A protected site was notified.
    SiteNotified,
    /// A protected site was withdrawn.
    SiteWithdrawn,
    /// An aid movement was notified.
    MovementNotified,
    /// An aid movement was withdrawn.
    MovementWithdrawn,
    /// A DSS write and its key: which OVNs the writer proved it had seen.
    DssWriteKey,
}

impl Kind {
    /// The name written in records.
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Notification => "notification",
            Kind::Acknowledgment => "acknowledgment",
            Kind::Conflict => "conflict",
            Kind::Incident => "incident",
            Kind::SiteNotified => "site_notified",
            Kind::SiteWithdrawn => "site_withdrawn",
            Kind::MovementNotified => "movement_notified",
            Kind::MovementWithdrawn => "movement_withdrawn",
            Kind::DssWriteKey => "dss_write_key",
        }
    }
}

/// One event. `body` holds the kind's own fields (strings, integers, booleans, arrays and
/// objects of them).
#[derive(Debug, Clone, PartialEq)]
pub struct Record {
    pub kind: Kind,
    /// When the event happened, RFC 3339 in UTC as the server stamped it.
    pub time: String,
    /// The party the event is about or from (the JWT `sub`).
    pub party: String,
    /// The entity the event is about (site, movement, notification, intent id ...).
    pub subject: String,
    pub body: Map<String, Value>,
}

/// Why bytes are not a valid record.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum RecordError {
    #[error("not JSON: {0}")]
    Json(String),
    #[error("{field}: {rule}")]
    Field { field: String, rule: String },
    #[error("record format version {0} is not supported (this build reads {RECORD_VERSION})")]
    Version(u64),
    #[error("not in canonical form (keys sorted, no white space, integers only)")]
    NotCanonical,
}

fn field(field: &str, rule: impl Into<String>) -> RecordError {
    RecordError::Field {
        field: field.into(),
        rule: rule.into(),
    }
}

impl Record {
    /// A record of a DSS write: `entity` written by `party` now has `ovn`; `key` is the list of
    /// OVNs the writer presented (its proof of awareness).
    pub fn dss_write_key(
        time: impl Into<String>,
        party: impl Into<String>,
        entity_type: &str,
        entity: impl Into<String>,
        ovn: &str,
        key: &[String],
    ) -> Self {
        let mut body = Map::new();
        body.insert("entity_type".into(), entity_type.into());
        body.insert("ovn".into(), ovn.into());
        body.insert(
            "key".into(),
            Value::Array(key.iter().map(|k| Value::from(k.as_str())).collect()),
        );
        Record {
            kind: Kind::DssWriteKey,
            time: time.into(),
            party: party.into(),
            subject: entity.into(),
            body,
        }
    }

    /// Names, in `body.in_view`, the OVNs of the key that belong to protected sites and
    /// movements the write touches: the only key OVNs anyone looks a write up by. A key under
    /// contention holds dozens of OVNs, and indexing each of them cost every write more than
    /// the rest of its record.
    pub fn with_in_view(mut self, in_view: &[String]) -> Self {
        self.body.insert(
            "in_view".into(),
            Value::Array(in_view.iter().map(|k| Value::from(k.as_str())).collect()),
        );
        self
    }

    /// The terms the log indexes this record under ([`crate::Log::find`]): `subject:<subject>`,
    /// `ovn:<ovn>` for a `body.ovn` string (the OVN a write produced or a site was published
    /// with) and `key:<ovn>` for each string of a `body.in_view` array ([`Record::with_in_view`])
    /// or, in a record without one, of its `body.key` array (the OVNs a writer proved it had
    /// seen).
    pub fn index_terms(&self) -> Vec<String> {
        let mut terms = vec![format!("subject:{}", self.subject)];
        if let Some(Value::String(ovn)) = self.body.get("ovn") {
            terms.push(format!("ovn:{ovn}"));
        }
        let looked_up = self.body.get("in_view").or_else(|| self.body.get("key"));
        if let Some(Value::Array(key)) = looked_up {
            terms.extend(
                key.iter()
                    .filter_map(Value::as_str)
                    .map(|k| format!("key:{k}")),
            );
        }
        terms.sort_unstable();
        terms.dedup();
        terms
    }

    /// The canonical bytes: what the log hashes and stores.
    pub fn to_bytes(&self) -> Result<Vec<u8>, RecordError> {
        let mut out = String::with_capacity(256);
        write_canonical(&self.to_value(), &mut out, "")?;
        Ok(out.into_bytes())
    }

    fn to_value(&self) -> Value {
        let mut m = Map::new();
        m.insert("v".into(), RECORD_VERSION.into());
        m.insert("kind".into(), self.kind.as_str().into());
        m.insert("time".into(), self.time.clone().into());
        m.insert("party".into(), self.party.clone().into());
        m.insert("subject".into(), self.subject.clone().into());
        m.insert("body".into(), Value::Object(self.body.clone()));
        Value::Object(m)
    }

    /// Decodes canonical bytes; anything else (another encoding of the same fields included)
    /// is refused.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, RecordError> {
        let v: Value =
            serde_json::from_slice(bytes).map_err(|e| RecordError::Json(e.to_string()))?;
        let Value::Object(mut m) = v else {
            return Err(field("", "a record is a JSON object"));
        };
        match m.get("v") {
            Some(Value::Number(n)) if n.as_u64() == Some(RECORD_VERSION) => {}
            Some(Value::Number(n)) => return Err(RecordError::Version(n.as_u64().unwrap_or(0))),
            _ => return Err(field("v", "the format version (an integer) is required")),
        }
        let kind: Kind = match m.remove("kind") {
            Some(k) => serde_json::from_value(k)
                .map_err(|_| field("kind", "not a known kind of record"))?,
            None => return Err(field("kind", "required")),
        };
        let mut text = |name: &str| match m.remove(name) {
            Some(Value::String(s)) => Ok(s),
            _ => Err(field(name, "a string is required")),
        };
        let (time, party, subject) = (text("time")?, text("party")?, text("subject")?);
        let body = match m.remove("body") {
            Some(Value::Object(b)) => b,
            _ => return Err(field("body", "an object is required")),
        };
        m.remove("v");
        if let Some(extra) = m.keys().next() {
            return Err(field(extra, "unknown field"));
        }
        let r = Record {
            kind,
            time,
            party,
            subject,
            body,
        };
        if r.to_bytes()? != bytes {
            return Err(RecordError::NotCanonical);
        }
        Ok(r)
    }
}

/// Writes `v` canonically; `path` names the place for errors.
fn write_canonical(v: &Value, out: &mut String, path: &str) -> Result<(), RecordError> {
    match v {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => {
            if let Some(i) = n.as_i64() {
                let _ = write!(out, "{i}");
            } else if let Some(u) = n.as_u64() {
                let _ = write!(out, "{u}");
            } else {
                return Err(field(path, "numbers must be integers"));
            }
        }
        Value::String(s) => write_string(s, out),
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_canonical(item, out, &format!("{path}[{i}]"))?;
            }
            out.push(']');
        }
        Value::Object(m) => {
            let mut keys: Vec<&String> = m.keys().collect();
            keys.sort_unstable_by(|a, b| a.as_bytes().cmp(b.as_bytes()));
            out.push('{');
            for (i, k) in keys.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_string(k, out);
                out.push(':');
                let sub = if path.is_empty() {
                    k.clone()
                } else {
                    format!("{path}.{k}")
                };
                write_canonical(&m[k], out, &sub)?;
            }
            out.push('}');
        }
    }
    Ok(())
}

fn write_string(s: &str, out: &mut String) {
    // serde_json's escaping of a str is fixed (quotes, backslash, control characters only).
    out.push_str(&Value::from(s).to_string());
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Record {
        let mut r = Record::dss_write_key(
            "2026-11-27T20:00:00Z",
            "alpha",
            "operational_intent",
            "7a1c",
            "ovn-2",
            &["ovn-a".into(), "ovn-b".into()],
        );
        r.body.insert("zeta".into(), Value::from(-3));
        r.body.insert("note".into(), Value::from("é \"q\"\n"));
        r
    }

    #[test]
    fn encoding_is_sorted_compact_and_round_trips() {
        let r = sample();
        let b = r.to_bytes().unwrap();
        assert_eq!(
            std::str::from_utf8(&b).unwrap(),
            r#"{"body":{"entity_type":"operational_intent","key":["ovn-a","ovn-b"],"note":"é \"q\"\n","ovn":"ovn-2","zeta":-3},"kind":"dss_write_key","party":"alpha","subject":"7a1c","time":"2026-11-27T20:00:00Z","v":1}"#
        );
        assert_eq!(Record::from_bytes(&b).unwrap(), r);
    }

    #[test]
    fn index_terms_name_the_subject_the_new_ovn_and_the_key() {
        assert_eq!(
            sample().index_terms(),
            ["key:ovn-a", "key:ovn-b", "ovn:ovn-2", "subject:7a1c"]
        );
    }

    #[test]
    fn a_record_naming_what_it_had_in_view_is_found_by_those_ovns_only() {
        let r = sample().with_in_view(&["ovn-b".to_owned()]);
        assert_eq!(r.index_terms(), ["key:ovn-b", "ovn:ovn-2", "subject:7a1c"]);
        let none = sample().with_in_view(&[]);
        assert_eq!(none.index_terms(), ["ovn:ovn-2", "subject:7a1c"]);
        assert_eq!(Record::from_bytes(&r.to_bytes().unwrap()).unwrap(), r);
    }

    #[test]
    fn other_encodings_of_the_same_fields_are_refused() {
        let b = String::from_utf8(sample().to_bytes().unwrap()).unwrap();
        let spaced = b.replacen(',', ", ", 1);
        assert_eq!(
            Record::from_bytes(spaced.as_bytes()),
            Err(RecordError::NotCanonical)
        );
        let float = b.replace("-3", "-3.0");
        assert!(matches!(
            Record::from_bytes(float.as_bytes()),
            Err(RecordError::Field { field, .. }) if field == "body.zeta"
        ));
        let v2 = b.replace("\"v\":1", "\"v\":2");
        assert_eq!(
            Record::from_bytes(v2.as_bytes()),
            Err(RecordError::Version(2))
        );
        let unknown = b.replace("\"v\":1", "\"v\":1,\"x\":1");
        assert!(
            matches!(Record::from_bytes(unknown.as_bytes()), Err(RecordError::Field { field, .. }) if field == "x")
        );
        let kind = b.replace("dss_write_key", "gossip");
        assert!(
            matches!(Record::from_bytes(kind.as_bytes()), Err(RecordError::Field { field, .. }) if field == "kind")
        );
    }

    #[test]
    fn floats_cannot_be_written() {
        let mut r = sample();
        r.body.insert("x".into(), Value::from(1.5));
        assert!(matches!(r.to_bytes(), Err(RecordError::Field { field, .. }) if field == "body.x"));
    }
}
