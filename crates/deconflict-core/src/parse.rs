//! Parsing at the boundary: request bodies and path segments become domain values, or a
//! 400/413 that names the field (`extents[0].volume.outline_polygon.vertices[3].lat`) and the
//! rule it broke.

use std::collections::HashSet;
use std::fmt::Display;
use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use deconflict_geo::{
    AltitudeBound, AltitudeRange, Field, GeoError, LatLng, PointRef, PreparedVolume, Shape,
    ShapeLimits, TimeRange, Volume4, ALTITUDE_MAX_M, ALTITUDE_MIN_M,
};

use crate::error::{DssError, Result};
use crate::ids::{EntityId, Ovn};
use crate::limits::Limits;
use crate::model::{Availability, Extents, OiState, StoredVolumes, Timestamp};
use crate::rules::constraints::PutConstraint;
use crate::rules::operational_intents::{ImplicitSubscription, PutOperationalIntent};
use crate::rules::subscriptions::PutSubscription;
use crate::wire;

pub fn entity_id(field: &str, s: &str) -> Result<EntityId> {
    EntityId::parse(s).ok_or_else(|| {
        DssError::bad(
            field,
            format!("\"{s}\" is not a UUIDv4 in canonical hyphenated form"),
        )
    })
}

/// An OVN or version from a path: length rules of `EntityOVN`, and nothing that could not have
/// come from us.
pub fn ovn(field: &str, s: &str) -> Result<String> {
    checked_ovn(s, || field.to_owned()).map(str::to_owned)
}

/// `s` if it is a well-formed OVN; `field` is only spelled out for a refusal, since a key may
/// hold hundreds of OVNs.
fn checked_ovn(s: &str, field: impl FnOnce() -> String) -> Result<&str> {
    if !(16..=128).contains(&s.len()) {
        return Err(DssError::bad(
            field(),
            "an OVN is 16 to 128 characters long",
        ));
    }
    Ok(s)
}

pub fn version(field: &str, s: &str) -> Result<String> {
    if s.is_empty() || s.len() > 128 {
        return Err(DssError::bad(
            field,
            "a version is 1 to 128 characters long",
        ));
    }
    Ok(s.to_owned())
}

/// A field's path made of its parent's and a suffix, written out only when an error names it:
/// the paths of a valid body (most of them) are never formatted.
#[derive(Clone, Copy)]
struct Sub<P>(P, &'static str);

impl<P: Display> Display for Sub<P> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}{}", self.0, self.1)
    }
}

pub fn time(field: impl Display, t: &wire::Time) -> Result<Timestamp> {
    if t.format != "RFC3339" {
        return Err(DssError::bad(
            format!("{field}.format"),
            format!(
                "\"{}\" is not supported; the format must be RFC3339",
                t.format
            ),
        ));
    }
    if !t.value.ends_with(['Z', 'z']) {
        return Err(DssError::bad(
            format!("{field}.value"),
            "the time zone must be 'Z' (UTC)",
        ));
    }
    DateTime::parse_from_rfc3339(&t.value)
        .map(|d| d.with_timezone(&Utc))
        .map_err(|e| {
            DssError::bad(
                format!("{field}.value"),
                format!("\"{}\" is not an RFC3339 date-time: {e}", t.value),
            )
        })
}

fn altitude(field: impl Display, a: &wire::Altitude) -> Result<f64> {
    if a.reference != "W84" {
        return Err(DssError::bad(
            format!("{field}.reference"),
            format!("\"{}\" is not supported; only W84 is", a.reference),
        ));
    }
    if a.units != "M" {
        return Err(DssError::bad(
            format!("{field}.units"),
            format!("\"{}\" is not supported; only M (metres) is", a.units),
        ));
    }
    if !a.value.is_finite() || !(ALTITUDE_MIN_M..=ALTITUDE_MAX_M).contains(&a.value) {
        return Err(DssError::bad(
            format!("{field}.value"),
            format!(
                "{} is outside [{ALTITUDE_MIN_M}, {ALTITUDE_MAX_M}] metres",
                a.value
            ),
        ));
    }
    Ok(a.value)
}

/// What an extent must carry and how large it may be.
#[derive(Debug, Clone, Copy)]
pub struct ExtentRules {
    pub shape: ShapeLimits,
    /// Entities need altitudes and times on every volume; queries do not.
    pub bounded: bool,
}

/// The outline and its field's name, `outline_polygon` or `outline_circle`.
fn shape(field: impl Display + Copy, v: &wire::Volume3D) -> Result<(Shape, &'static str)> {
    match (&v.outline_polygon, &v.outline_circle) {
        (Some(p), None) => Ok((
            Shape::Polygon(
                p.vertices
                    .iter()
                    .map(|q| LatLng::new(q.lat, q.lng))
                    .collect(),
            ),
            "outline_polygon",
        )),
        (None, Some(c)) => {
            let f = Sub(field, ".outline_circle");
            let center = c
                .center
                .ok_or_else(|| DssError::bad(format!("{f}.center"), "a circle needs a center"))?;
            let radius = c
                .radius
                .as_ref()
                .ok_or_else(|| DssError::bad(format!("{f}.radius"), "a circle needs a radius"))?;
            if radius.units != "M" {
                return Err(DssError::bad(
                    format!("{f}.radius.units"),
                    format!("\"{}\" is not supported; only M (metres) is", radius.units),
                ));
            }
            Ok((
                Shape::Circle {
                    center: LatLng::new(center.lat, center.lng),
                    radius_m: radius.value,
                },
                "outline_circle",
            ))
        }
        (Some(_), Some(_)) => Err(DssError::bad(
            field.to_string(),
            "exactly one outline must be given, not both outline_polygon and outline_circle",
        )),
        (None, None) => Err(DssError::bad(
            field.to_string(),
            "exactly one outline must be given: outline_polygon or outline_circle",
        )),
    }
}

/// Names the field a geometry error is about. `shape_field` is the outline's path.
fn geo_error(vol_field: &str, shape_field: &str, e: GeoError) -> DssError {
    let point = |p: PointRef| match p {
        PointRef::Vertex(i) => format!("{shape_field}.vertices[{i}]"),
        PointRef::Center => format!("{shape_field}.center"),
    };
    let alt = |b: AltitudeBound| match b {
        AltitudeBound::Lower => format!("{vol_field}.volume.altitude_lower"),
        AltitudeBound::Upper => format!("{vol_field}.volume.altitude_upper"),
    };
    let rule = e.to_string();
    let field = match &e {
        GeoError::NonFinite { field } => match field {
            Field::Latitude(p) => format!("{}.lat", point(*p)),
            Field::Longitude(p) => format!("{}.lng", point(*p)),
            Field::Radius => format!("{shape_field}.radius.value"),
            Field::Altitude(b) => format!("{}.value", alt(*b)),
            _ => shape_field.to_owned(),
        },
        GeoError::LatitudeOutOfRange { at, .. } => format!("{}.lat", point(*at)),
        GeoError::LongitudeOutOfRange { at, .. } => format!("{}.lng", point(*at)),
        GeoError::ClosedRing { index } | GeoError::DuplicateVertex { index, .. } => {
            format!("{shape_field}.vertices[{index}]")
        }
        GeoError::TooFewVertices { .. }
        | GeoError::TooManyVertices { .. }
        | GeoError::SelfIntersecting { .. } => format!("{shape_field}.vertices"),
        GeoError::RadiusNotPositive { .. } => format!("{shape_field}.radius.value"),
        GeoError::AltitudeOrder { .. } => format!("{vol_field}.volume.altitude_lower"),
        GeoError::AltitudeOutOfRange { bound, .. } => format!("{}.value", alt(*bound)),
        GeoError::TimeOrder { .. } => format!("{vol_field}.time_end"),
        _ => shape_field.to_owned(),
    };
    match e {
        GeoError::ShapeTooLarge { .. } | GeoError::AreaTooLarge { .. } => {
            DssError::TooLarge { field, rule }
        }
        _ => DssError::BadRequest { field, rule },
    }
}

fn micros(t: Timestamp) -> i64 {
    t.timestamp_micros()
}

pub fn from_micros(us: i64) -> Timestamp {
    DateTime::from_timestamp_micros(us).unwrap_or(DateTime::<Utc>::MIN_UTC)
}

/// One `Volume4D`, validated and prepared.
pub fn volume(
    field: &str,
    v: &wire::Volume4D,
    rules: &ExtentRules,
) -> Result<(Volume4, PreparedVolume)> {
    let (shape, outline) = shape(Sub(field, ".volume"), &v.volume)?;
    let lower = v
        .volume
        .altitude_lower
        .as_ref()
        .map(|a| altitude(Sub(field, ".volume.altitude_lower"), a))
        .transpose()?;
    let upper = v
        .volume
        .altitude_upper
        .as_ref()
        .map(|a| altitude(Sub(field, ".volume.altitude_upper"), a))
        .transpose()?;
    let start = v
        .time_start
        .as_ref()
        .map(|t| time(Sub(field, ".time_start"), t))
        .transpose()?;
    let end = v
        .time_end
        .as_ref()
        .map(|t| time(Sub(field, ".time_end"), t))
        .transpose()?;
    if rules.bounded {
        for (name, missing) in [
            ("volume.altitude_lower", lower.is_none()),
            ("volume.altitude_upper", upper.is_none()),
            ("time_start", start.is_none()),
            ("time_end", end.is_none()),
        ] {
            if missing {
                return Err(DssError::bad(
                    format!("{field}.{name}"),
                    "required on every volume",
                ));
            }
        }
    }
    if let (Some(s), Some(e)) = (start, end) {
        if e < s {
            return Err(DssError::bad(
                format!("{field}.time_end"),
                "time_end must not be before time_start",
            ));
        }
    }
    let vol = Volume4 {
        shape,
        altitude: AltitudeRange {
            lower_m: lower,
            upper_m: upper,
        },
        time: TimeRange {
            start_us: start.map(micros),
            end_us: end.map(micros),
        },
    };
    let prepared = vol
        .prepare(&rules.shape)
        .map_err(|e| geo_error(field, &format!("{field}.volume.{outline}"), e))?;
    Ok((vol, prepared))
}

/// Builds [`Extents`] from volumes that carry both time bounds.
pub fn extents_of(volumes: Vec<Volume4>, prepared: Vec<PreparedVolume>) -> Result<Extents> {
    with_stored(StoredVolumes::encode(&volumes), prepared)
}

fn with_stored(volumes: StoredVolumes, prepared: Vec<PreparedVolume>) -> Result<Extents> {
    let start = prepared.iter().filter_map(|v| v.time().start_us).min();
    let end = prepared.iter().filter_map(|v| v.time().end_us).max();
    let (Some(start), Some(end)) = (start, end) else {
        return Err(DssError::Internal("extents without time bounds".into()));
    };
    Ok(Extents {
        volumes,
        prepared: Arc::from(prepared),
        start: from_micros(start),
        end: from_micros(end),
    })
}

/// Re-prepares stored volumes, which were validated when written; no size limit applies so that
/// a change of configured limits never makes stored data unreadable.
pub fn stored_extents(volumes: Vec<Volume4>) -> Result<Extents> {
    let prepared = prepare_stored(&volumes)?;
    extents_of(volumes, prepared)
}

/// [`stored_extents`] from the stored binary form ([`crate::codec`]); the extents keep `bytes`.
pub fn stored_extents_from_bytes(bytes: Vec<u8>) -> Result<Extents> {
    let (stored, volumes) = StoredVolumes::decode(bytes)
        .map_err(|e| DssError::Internal(format!("stored volumes unreadable: {e}")))?;
    let prepared = prepare_stored(&volumes)?;
    with_stored(stored, prepared)
}

fn prepare_stored(volumes: &[Volume4]) -> Result<Vec<PreparedVolume>> {
    let limits = ShapeLimits {
        max_vertices: usize::MAX,
        max_area_km2: None,
        ..ShapeLimits::default()
    };
    volumes
        .iter()
        .map(|v| v.prepare(&limits))
        .collect::<std::result::Result<Vec<_>, _>>()
        .map_err(|e| DssError::Internal(format!("stored volume no longer valid: {e}")))
}

/// Validated, prepared extents of `vs`; errors name `{field}[i]...`.
pub fn extents(field: &str, vs: &[wire::Volume4D], rules: &ExtentRules) -> Result<Extents> {
    if vs.is_empty() {
        return Err(DssError::bad(field, "at least one volume is required"));
    }
    let mut volumes = Vec::with_capacity(vs.len());
    let mut prepared = Vec::with_capacity(vs.len());
    for (i, v) in vs.iter().enumerate() {
        let (vol, p) = volume(&format!("{field}[{i}]"), v, rules)?;
        volumes.push(vol);
        prepared.push(p);
    }
    extents_of(volumes, prepared)
}

/// Entity extents must not have ended, nor start further ahead than the planning horizon.
/// Errors name the volume that decides: the latest end, or the earliest start.
fn check_window(ext: &Extents, now: Timestamp, horizon_days: i64) -> Result<()> {
    let position = |key: fn(TimeRange) -> Option<i64>, want: Timestamp| {
        ext.prepared
            .iter()
            .position(|v| key(v.time()) == Some(micros(want)))
            .unwrap_or(0)
    };
    if ext.end < now {
        let i = position(|t| t.end_us, ext.end);
        return Err(DssError::bad(
            format!("extents[{i}].time_end"),
            "the end time is in the past",
        ));
    }
    if ext.start > now + Duration::days(horizon_days) {
        let i = position(|t| t.start_us, ext.start);
        return Err(DssError::bad(
            format!("extents[{i}].time_start"),
            format!("the start time is more than {horizon_days} days ahead"),
        ));
    }
    Ok(())
}

pub fn uss_base_url(field: &str, url: &str) -> Result<String> {
    let ok_scheme = url.starts_with("https://") || url.starts_with("http://");
    if !ok_scheme || url.len() > 2048 || url.chars().any(char::is_whitespace) {
        return Err(DssError::bad(
            field,
            "must be an http(s) URL without spaces, at most 2048 characters",
        ));
    }
    if url.ends_with('/') {
        return Err(DssError::bad(field, "must not end with '/'"));
    }
    Ok(url.to_owned())
}

/// `requested_ovn_suffix`: a UUIDv7 whose timestamp is within the clock skew of now.
fn requested_ovn(id: EntityId, suffix: &str, now: Timestamp, skew_secs: i64) -> Result<Ovn> {
    const FIELD: &str = "requested_ovn_suffix";
    let parsed = uuid::Uuid::try_parse(suffix)
        .ok()
        .filter(|u| u.get_version_num() == 7 && suffix.len() == 36)
        .ok_or_else(|| DssError::bad(FIELD, "must be a UUIDv7 in canonical hyphenated form"))?;
    let (secs, nanos) = parsed
        .get_timestamp()
        .map(|ts| ts.to_unix())
        .ok_or_else(|| DssError::bad(FIELD, "must be a UUIDv7 carrying a timestamp"))?;
    let at = DateTime::from_timestamp(secs as i64, nanos).unwrap_or(DateTime::<Utc>::MIN_UTC);
    if (at - now).num_seconds().abs() > skew_secs {
        return Err(DssError::bad(
            FIELD,
            format!("its timestamp {at} is more than {skew_secs} s away from the current time"),
        ));
    }
    Ok(Ovn(format!("{id}_{}", suffix.to_ascii_lowercase())))
}

pub fn put_operational_intent(
    id: &str,
    old_ovn: Option<&str>,
    body: &wire::PutOperationalIntentReferenceParameters,
    limits: &Limits,
    now: Timestamp,
) -> Result<PutOperationalIntent> {
    let id = entity_id("entityid", id)?;
    let old_ovn = old_ovn.map(|o| ovn("ovn", o)).transpose()?;
    let rules = ExtentRules {
        shape: ShapeLimits {
            max_vertices: limits.oi_max_vertices,
            ..ShapeLimits::default()
        },
        bounded: true,
    };
    let ext = extents("extents", &body.extents, &rules)?;
    check_window(&ext, now, limits.oi_max_plan_horizon_days)?;
    let state = OiState::parse(&body.state).ok_or_else(|| {
        DssError::bad(
            "state",
            format!(
                "\"{}\" is not one of Accepted, Activated, Nonconforming, Contingent",
                body.state
            ),
        )
    })?;
    let given = body.key.as_deref().unwrap_or_default();
    let mut key = HashSet::with_capacity(given.len());
    for (i, k) in given.iter().enumerate() {
        key.insert(checked_ovn(k, || format!("key[{i}]"))?.to_owned());
    }
    Ok(PutOperationalIntent {
        id,
        old_ovn,
        extents: ext,
        key,
        state,
        uss_base_url: uss_base_url("uss_base_url", &body.uss_base_url)?,
        subscription_id: body
            .subscription_id
            .as_deref()
            .map(|s| entity_id("subscription_id", s))
            .transpose()?,
        new_subscription: body
            .new_subscription
            .as_ref()
            .map(|n| {
                Ok::<_, DssError>(ImplicitSubscription {
                    uss_base_url: uss_base_url("new_subscription.uss_base_url", &n.uss_base_url)?,
                    notify_for_constraints: n.notify_for_constraints.unwrap_or(false),
                })
            })
            .transpose()?,
        requested_ovn: body
            .requested_ovn_suffix
            .as_deref()
            .map(|s| requested_ovn(id, s, now, limits.clock_skew_secs))
            .transpose()?,
    })
}

pub fn put_constraint(
    id: &str,
    old_ovn: Option<&str>,
    body: &wire::PutConstraintReferenceParameters,
    limits: &Limits,
    now: Timestamp,
) -> Result<PutConstraint> {
    let id = entity_id("entityid", id)?;
    let old_ovn = old_ovn.map(|o| ovn("ovn", o)).transpose()?;
    let rules = ExtentRules {
        shape: ShapeLimits {
            max_vertices: limits.constraint_max_vertices,
            max_area_km2: Some(limits.constraint_max_area_km2),
            ..ShapeLimits::default()
        },
        bounded: true,
    };
    let ext = extents("extents", &body.extents, &rules)?;
    check_window(&ext, now, limits.constraint_max_plan_horizon_days)?;
    if ext.end - ext.start > Duration::hours(limits.constraint_max_duration_hours) {
        return Err(DssError::bad(
            "extents",
            format!(
                "a constraint may last at most {} hours",
                limits.constraint_max_duration_hours
            ),
        ));
    }
    Ok(PutConstraint {
        id,
        old_ovn,
        extents: ext,
        uss_base_url: uss_base_url("uss_base_url", &body.uss_base_url)?,
    })
}

fn area_rules(limits: &Limits) -> ExtentRules {
    ExtentRules {
        shape: ShapeLimits {
            max_vertices: limits.area_max_vertices,
            max_area_km2: Some(limits.area_max_area_km2),
            ..ShapeLimits::default()
        },
        bounded: false,
    }
}

/// A subscription's start defaults to now and its end to the longest duration allowed;
/// altitude, when not given, is every altitude.
pub fn put_subscription(
    id: &str,
    old_version: Option<&str>,
    body: &wire::PutSubscriptionParameters,
    limits: &Limits,
    now: Timestamp,
) -> Result<PutSubscription> {
    let id = entity_id("subscriptionid", id)?;
    let old_version = old_version.map(|v| version("version", v)).transpose()?;
    let (mut vol, _) = volume("extents", &body.extents, &area_rules(limits))?;
    let max = Duration::hours(limits.subscription_max_duration_hours);
    let start = vol.time.start_us.map(from_micros).unwrap_or(now);
    let end = vol.time.end_us.map(from_micros).unwrap_or(start + max);
    if start < now - Duration::seconds(limits.clock_skew_secs) && old_version.is_none() {
        return Err(DssError::bad(
            "extents.time_start",
            "a new subscription may not start in the past",
        ));
    }
    if end < now {
        return Err(DssError::bad(
            "extents.time_end",
            "the end time is in the past",
        ));
    }
    if end - start > max {
        return Err(DssError::bad(
            "extents.time_end",
            format!(
                "a subscription may last at most {} hours",
                limits.subscription_max_duration_hours
            ),
        ));
    }
    vol.time = TimeRange::new(micros(start), micros(end));
    vol.altitude = AltitudeRange {
        lower_m: Some(vol.altitude.lower_m.unwrap_or(ALTITUDE_MIN_M)),
        upper_m: Some(vol.altitude.upper_m.unwrap_or(ALTITUDE_MAX_M)),
    };
    let prepared = vol
        .prepare(&area_rules(limits).shape)
        .map_err(|e| geo_error("extents", "extents.volume", e))?;
    Ok(PutSubscription {
        id,
        old_version,
        extents: extents_of(vec![vol], vec![prepared])?,
        uss_base_url: uss_base_url("uss_base_url", &body.uss_base_url)?,
        notify_for_operational_intents: body.notify_for_operational_intents.unwrap_or(false),
        notify_for_constraints: body.notify_for_constraints.unwrap_or(false),
    })
}

/// The area of a query: required; altitude and time may be left open.
pub fn query_area(body: &wire::QueryParameters, limits: &Limits) -> Result<Vec<PreparedVolume>> {
    let area = body
        .area_of_interest
        .as_ref()
        .ok_or_else(|| DssError::bad("area_of_interest", "required"))?;
    let (_, prepared) = volume("area_of_interest", area, &area_rules(limits))?;
    Ok(vec![prepared])
}

pub fn availability(
    body: &wire::SetUssAvailabilityStatusParameters,
) -> Result<(String, Availability)> {
    let a = Availability::parse(&body.availability).ok_or_else(|| {
        DssError::bad(
            "availability",
            format!(
                "\"{}\" is not one of Unknown, Normal, Down",
                body.availability
            ),
        )
    })?;
    Ok((body.old_version.clone().unwrap_or_default(), a))
}
