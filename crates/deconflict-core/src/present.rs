//! Domain values to response bodies, with what each viewer may see (an OVN only to its manager).

use chrono::SecondsFormat;

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

/// `viewer` sees the OVN only if it manages the intent.
pub fn operational_intent(
    oi: &OperationalIntent,
    viewer: &str,
    availability: Availability,
) -> wire::OperationalIntentReference {
    wire::OperationalIntentReference {
        id: oi.id.to_string(),
        manager: oi.manager.clone(),
        uss_availability: availability.as_str().to_owned(),
        version: oi.version,
        state: oi.state.as_str().to_owned(),
        ovn: (oi.manager == viewer).then(|| oi.ovn.to_string()),
        time_start: time(oi.extents.start),
        time_end: time(oi.extents.end),
        uss_base_url: oi.uss_base_url.clone(),
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
        manager: c.manager.clone(),
        uss_availability: availability.as_str().to_owned(),
        version: c.version,
        ovn: (c.manager == viewer).then(|| c.ovn.to_string()),
        time_start: time(c.extents.start),
        time_end: time(c.extents.end),
        uss_base_url: c.uss_base_url.clone(),
    }
}

pub fn subscription(s: &Subscription) -> wire::Subscription {
    wire::Subscription {
        id: s.id.to_string(),
        version: s.version.clone(),
        notification_index: s.notification_index,
        time_start: Some(time(s.extents.start)),
        time_end: Some(time(s.extents.end)),
        uss_base_url: s.uss_base_url.clone(),
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
