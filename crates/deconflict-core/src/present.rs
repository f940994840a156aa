//! Domain values to response bodies, with what each viewer may see (an OVN only to its manager).
//!
//! Most answers go through the `wire` types and serde. Query answers, the hot read path, are
//! written straight into one buffer by the `write_*` functions instead: the same bytes serde
//! makes of the `wire` types (tests compare them), without a string allocated per field.

use std::io::Write as _;

use chrono::{Datelike, SecondsFormat, Timelike};

use deconflict_geo::{Shape, Volume4};

use crate::ids::EntityId;
use crate::model::{Availability, Constraint, OperationalIntent, Subscription, Timestamp};
use crate::wire;

pub fn time(t: Timestamp) -> wire::Time {
    wire::Time {
        value: t.to_rfc3339_opts(SecondsFormat::AutoSi, true),
        format: "RFC3339".to_owned(),
    }
}

/// Appends `n` as exactly `width` decimal digits (`n < 10^width`).
fn push_digits(out: &mut Vec<u8>, mut n: u32, width: usize) {
    let start = out.len();
    out.resize(start + width, b'0');
    for slot in out[start..].iter_mut().rev() {
        // A digit, so the cast cannot truncate.
        *slot = b'0' + (n % 10) as u8;
        n /= 10;
    }
}

/// Appends `t` as [`time`] formats its value (RFC 3339, `Z`, fractional seconds in groups of
/// three digits only when not zero), without allocating. Years outside 0000–9999 and leap
/// seconds, which no validated request produces, go through chrono.
fn push_rfc3339(out: &mut Vec<u8>, t: Timestamp) {
    let (year, nanos) = (t.year(), t.nanosecond());
    let Ok(year) = u32::try_from(year) else {
        out.extend_from_slice(t.to_rfc3339_opts(SecondsFormat::AutoSi, true).as_bytes());
        return;
    };
    if year > 9999 || nanos >= 1_000_000_000 {
        out.extend_from_slice(t.to_rfc3339_opts(SecondsFormat::AutoSi, true).as_bytes());
        return;
    }
    push_digits(out, year, 4);
    out.push(b'-');
    push_digits(out, t.month(), 2);
    out.push(b'-');
    push_digits(out, t.day(), 2);
    out.push(b'T');
    push_digits(out, t.hour(), 2);
    out.push(b':');
    push_digits(out, t.minute(), 2);
    out.push(b':');
    push_digits(out, t.second(), 2);
    if nanos != 0 {
        out.push(b'.');
        if nanos % 1_000_000 == 0 {
            push_digits(out, nanos / 1_000_000, 3);
        } else if nanos % 1_000 == 0 {
            push_digits(out, nanos / 1_000, 6);
        } else {
            push_digits(out, nanos, 9);
        }
    }
    out.push(b'Z');
}

/// Appends `"name":` (a name that needs no escaping).
fn push_key(out: &mut Vec<u8>, name: &str) {
    out.push(b'"');
    out.extend_from_slice(name.as_bytes());
    out.extend_from_slice(b"\":");
}

/// Appends `s` as a JSON string, escaped as serde_json escapes it. serde_json escapes only
/// control characters, `"` and `\\`; a string without them (ids, URLs, names, nearly all) is
/// copied as it is, which costs a query answer far less than going through the serializer
/// for each of its strings.
fn push_str(out: &mut Vec<u8>, s: &str) -> std::io::Result<()> {
    if s.bytes().all(|b| b >= 0x20 && b != b'"' && b != b'\\') {
        out.reserve(s.len() + 2);
        out.push(b'"');
        out.extend_from_slice(s.as_bytes());
        out.push(b'"');
        return Ok(());
    }
    serde_json::to_writer(&mut *out, s).map_err(std::io::Error::from)
}

fn push_id(out: &mut Vec<u8>, id: EntityId) {
    let mut buf = uuid::Uuid::encode_buffer();
    out.push(b'"');
    out.extend_from_slice(id.0.hyphenated().encode_lower(&mut buf).as_bytes());
    out.push(b'"');
}

fn push_time(out: &mut Vec<u8>, t: Timestamp) {
    out.extend_from_slice(b"{\"value\":\"");
    push_rfc3339(out, t);
    out.extend_from_slice(b"\",\"format\":\"RFC3339\"}");
}

/// The fields an operational intent reference and a constraint reference share, up to and
/// including `version`.
fn push_reference_head(
    out: &mut Vec<u8>,
    id: EntityId,
    manager: &str,
    availability: Availability,
    version: i32,
) -> std::io::Result<()> {
    out.push(b'{');
    push_key(out, "id");
    push_id(out, id);
    out.push(b',');
    push_key(out, "manager");
    push_str(out, manager)?;
    out.push(b',');
    push_key(out, "uss_availability");
    push_str(out, availability.as_str())?;
    out.push(b',');
    push_key(out, "version");
    write!(out, "{version}")
}

/// The fields from `ovn` (shown to the manager only) to `uss_base_url`.
fn push_reference_tail(
    out: &mut Vec<u8>,
    ovn: Option<&str>,
    start: Timestamp,
    end: Timestamp,
    uss_base_url: &str,
) -> std::io::Result<()> {
    if let Some(ovn) = ovn {
        out.push(b',');
        push_key(out, "ovn");
        push_str(out, ovn)?;
    }
    out.push(b',');
    push_key(out, "time_start");
    push_time(out, start);
    out.push(b',');
    push_key(out, "time_end");
    push_time(out, end);
    out.push(b',');
    push_key(out, "uss_base_url");
    push_str(out, uss_base_url)
}

/// Appends the JSON of [`operational_intent`]`(oi, viewer, availability)`.
pub fn write_operational_intent(
    out: &mut Vec<u8>,
    oi: &OperationalIntent,
    viewer: &str,
    availability: Availability,
) -> std::io::Result<()> {
    push_reference_head(out, oi.id, &oi.manager, availability, oi.version)?;
    out.push(b',');
    push_key(out, "state");
    push_str(out, oi.state.as_str())?;
    let ovn = (oi.manager == viewer).then(|| oi.ovn.as_str());
    push_reference_tail(out, ovn, oi.extents.start, oi.extents.end, &oi.uss_base_url)?;
    out.push(b',');
    push_key(out, "subscription_id");
    match oi.subscription_id {
        Some(s) => push_id(out, s),
        None => push_str(out, EntityId::NULL_SUBSCRIPTION)?,
    }
    out.push(b'}');
    Ok(())
}

/// Appends the JSON of [`constraint`]`(c, viewer, availability)`.
pub fn write_constraint(
    out: &mut Vec<u8>,
    c: &Constraint,
    viewer: &str,
    availability: Availability,
) -> std::io::Result<()> {
    push_reference_head(out, c.id, &c.manager, availability, c.version)?;
    let ovn = (c.manager == viewer).then(|| c.ovn.as_str());
    push_reference_tail(out, ovn, c.extents.start, c.extents.end, &c.uss_base_url)?;
    out.push(b'}');
    Ok(())
}

/// `viewer` sees the OVN only if it manages the intent.
pub fn operational_intent(
    oi: &OperationalIntent,
    viewer: &str,
    availability: Availability,
) -> wire::OperationalIntentReference {
    wire::OperationalIntentReference {
        id: oi.id.to_string(),
        manager: oi.manager.to_string(),
        uss_availability: availability.as_str().to_owned(),
        version: oi.version,
        state: oi.state.as_str().to_owned(),
        ovn: (oi.manager == viewer).then(|| oi.ovn.to_string()),
        time_start: time(oi.extents.start),
        time_end: time(oi.extents.end),
        uss_base_url: oi.uss_base_url.to_string(),
        subscription_id: oi
            .subscription_id
            .map(|s| s.to_string())
            .unwrap_or_else(|| EntityId::NULL_SUBSCRIPTION.to_owned()),
    }
}

pub fn constraint(
    c: &Constraint,
    viewer: &str,
    availability: Availability,
) -> wire::ConstraintReference {
    wire::ConstraintReference {
        id: c.id.to_string(),
        manager: c.manager.to_string(),
        uss_availability: availability.as_str().to_owned(),
        version: c.version,
        ovn: (c.manager == viewer).then(|| c.ovn.to_string()),
        time_start: time(c.extents.start),
        time_end: time(c.extents.end),
        uss_base_url: c.uss_base_url.to_string(),
    }
}

pub fn subscription(s: &Subscription) -> wire::Subscription {
    wire::Subscription {
        id: s.id.to_string(),
        version: s.version.clone(),
        notification_index: s.notification_index,
        time_start: Some(time(s.extents.start)),
        time_end: Some(time(s.extents.end)),
        uss_base_url: s.uss_base_url.to_string(),
        notify_for_operational_intents: s.notify_for_operational_intents,
        notify_for_constraints: s.notify_for_constraints,
        implicit_subscription: s.implicit,
        dependent_operational_intents: s
            .dependent_operational_intents
            .iter()
            .map(|i| i.to_string())
            .collect(),
    }
}

/// Stored volumes in the wire form.
pub fn volumes(v: &crate::model::StoredVolumes) -> Vec<wire::Volume4D> {
    v.volumes().iter().map(volume).collect()
}

/// A stored volume in the wire form (metres above the WGS84 ellipsoid, RFC 3339 times).
pub fn volume(v: &Volume4) -> wire::Volume4D {
    let point = |p: &deconflict_geo::LatLng| wire::LatLngPoint {
        lat: p.lat,
        lng: p.lng,
    };
    let altitude = |m: Option<f64>| {
        m.map(|value| wire::Altitude {
            value,
            reference: "W84".to_owned(),
            units: "M".to_owned(),
        })
    };
    let at = |us: Option<i64>| us.map(|us| time(crate::parse::from_micros(us)));
    let (outline_circle, outline_polygon) = match &v.shape {
        Shape::Circle { center, radius_m } => (
            Some(wire::Circle {
                center: Some(point(center)),
                radius: Some(wire::Radius {
                    value: *radius_m,
                    units: "M".to_owned(),
                }),
            }),
            None,
        ),
        Shape::Polygon(vertices) => (
            None,
            Some(wire::Polygon {
                vertices: vertices.iter().map(point).collect(),
            }),
        ),
    };
    wire::Volume4D {
        volume: wire::Volume3D {
            outline_circle,
            outline_polygon,
            altitude_lower: altitude(v.altitude.lower_m),
            altitude_upper: altitude(v.altitude.upper_m),
        },
        time_start: at(v.time.start_us),
        time_end: at(v.time.end_us),
    }
}

#[cfg(test)]
mod tests {
    use chrono::{DateTime, SecondsFormat};
    use proptest::prelude::*;

    use super::{push_rfc3339, push_str};

    proptest! {
        #[test]
        fn strings_are_written_as_serde_json_writes_them(
            s in prop_oneof![
                "[ -~]{0,40}",
                "\\PC{0,20}",
                proptest::collection::vec(
                    prop_oneof![
                        Just('"'), Just('\\'), Just('a'), Just('é'), Just('\u{1}'), Just('\n'),
                        Just('\u{7f}'),
                    ],
                    0..12,
                )
                .prop_map(|cs| cs.into_iter().collect::<String>()),
            ],
        ) {
            let mut out = Vec::new();
            push_str(&mut out, &s).unwrap();
            prop_assert_eq!(String::from_utf8(out).unwrap(), serde_json::to_string(&s).unwrap());
        }

        #[test]
        fn times_are_written_as_chrono_writes_them(
            secs in -62_000_000_000i64..300_000_000_000,
            nanos in prop_oneof![
                Just(0u32),
                (0u32..1000).prop_map(|m| m * 1_000_000),
                (0u32..1_000_000).prop_map(|u| u * 1_000),
                0u32..1_000_000_000,
                1_000_000_000u32..2_000_000_000,
            ],
        ) {
            let Some(t) = DateTime::from_timestamp(secs, nanos) else {
                return Ok(());
            };
            let mut out = Vec::new();
            push_rfc3339(&mut out, t);
            let want = t.to_rfc3339_opts(SecondsFormat::AutoSi, true);
            prop_assert_eq!(String::from_utf8(out).unwrap(), want);
        }
    }
}
