//! Incidents: a strike, shelling, a convoy stopped... as any party of the line reports it, and
//! the notified sites and movements it concerns.
//!
//! **The matching rule.** An incident concerns a site or a movement when both hold:
//!
//! - *place*: the incident's area, widened by [`MATCH_MARGIN_M`], meets what the site or
//!   movement protects. The incident's area is its point (with its `radius_m` of uncertainty,
//!   if given) or its polygon; the site's is the circle of its radius or its polygon; the
//!   movement's is its corridor and the circles of its stops, as published in the DSS;
//! - *time*: the incident's time, give or take [`MATCH_TIME_MARGIN`], falls within the site's
//!   validity window (from `valid_from`, or its first notification, to `valid_until`) or the
//!   movement's window (earliest departure to latest arrival).
//!
//! Matching runs once, when the incident is reported, over every site and movement notified
//! at that moment; the incident keeps a copy of each one it matched as it stood then, so that
//! the accountability record still names a site withdrawn afterwards.

use chrono::{DateTime, Duration, Utc};
use deconflict_core::limits::Limits;
use deconflict_core::store::ReadTx;
use deconflict_core::DssError;
use deconflict_geo::{
    any_intersects, AltitudeRange, PreparedVolume, Shape, ShapeLimits, TimeRange, Volume4,
    ALTITUDE_MAX_M, ALTITUDE_MIN_M,
};
use serde::{Deserialize, Serialize};

use crate::movement::{self, Movement};
use crate::site::{self, Site};
use crate::{corridor, geometry, publish};

/// The document kind of incidents.
pub const KIND: &str = "incident";

/// How far beyond a site's or movement's protected area an incident still concerns it.
pub const MATCH_MARGIN_M: f64 = 250.0;

/// How far outside a site's or movement's time window an incident still concerns it.
pub const MATCH_TIME_MARGIN: Duration = Duration::minutes(30);

/// How far ahead of the server's clock an incident's time may be (clock skew).
pub const FUTURE_TOLERANCE: Duration = Duration::minutes(5);

/// Longest description, in characters.
pub const MAX_DESCRIPTION: usize = 10_000;

crate::named_enum!(
    /// What happened.
    Category, "an incident category", {
        Airstrike = "airstrike",
        DroneStrike = "drone_strike",
        Shelling = "shelling",
        Gunfire = "gunfire",
        Explosion = "explosion",
        Fire = "fire",
        Obstruction = "obstruction",
        Other = "other",
    }
);

crate::named_enum!(
    /// How sure the reporter is.
    Confidence, "a confidence", {
        Confirmed = "confirmed",
        Probable = "probable",
        Unverified = "unverified",
    }
);

/// An incident as reported: the body of `POST /v1/incidents`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IncidentInput {
    /// When it happened.
    pub time: DateTime<Utc>,
    /// A GeoJSON Point (optionally with `radius_m`, the uncertainty) or Polygon.
    pub location: geojson::Geometry,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub radius_m: Option<f64>,
    pub category: String,
    /// Who or what the report comes from (staff on site, a news agency, imagery ...).
    pub source: String,
    pub confidence: String,
    /// Free text.
    #[serde(default)]
    pub description: String,
}

/// What was reported, checked and normalised.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IncidentContent {
    pub time: DateTime<Utc>,
    pub location: geojson::Geometry,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub radius_m: Option<f64>,
    pub category: Category,
    pub source: String,
    pub confidence: Confidence,
    #[serde(default)]
    pub description: String,
}

/// A site or movement an incident concerns, as it stood when the incident was reported.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", content = "record", rename_all = "snake_case")]
pub enum Matched {
    Site(Site),
    Movement(Movement),
}

impl Matched {
    pub fn id(&self) -> &str {
        match self {
            Matched::Site(s) => &s.id,
            Matched::Movement(m) => &m.id,
        }
    }

    pub fn name(&self) -> &str {
        match self {
            Matched::Site(s) => &s.content.name,
            Matched::Movement(m) => &m.content.name,
        }
    }

    /// The humanitarian party that notified it.
    pub fn party(&self) -> &str {
        match self {
            Matched::Site(s) => &s.party,
            Matched::Movement(m) => &m.party,
        }
    }

    pub fn notified(&self) -> DateTime<Utc> {
        match self {
            Matched::Site(s) => s.notified,
            Matched::Movement(m) => m.notified,
        }
    }

    /// `site` or `movement`.
    pub fn kind(&self) -> &'static str {
        match self {
            Matched::Site(_) => site::KIND,
            Matched::Movement(_) => movement::KIND,
        }
    }
}

/// A stored incident.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Incident {
    pub id: String,
    /// The party that reported it.
    pub reporter: String,
    /// When the server received the report.
    pub reported: DateTime<Utc>,
    #[serde(flatten)]
    pub content: IncidentContent,
    /// The sites and movements it concerns (see the module documentation for the rule).
    pub matches: Vec<Matched>,
}

/// The limits of an incident's polygon: those of a constraint.
fn shape_limits(limits: &Limits) -> ShapeLimits {
    site::shape_limits(limits)
}

impl IncidentInput {
    /// Checks every field; errors name the field.
    pub fn check(&self, now: DateTime<Utc>, limits: &Limits) -> Result<IncidentContent, DssError> {
        if self.time > now + FUTURE_TOLERANCE {
            return Err(DssError::bad(
                "time",
                format!(
                    "is in the future ({}; the server's clock says {})",
                    self.time.to_rfc3339(),
                    now.to_rfc3339()
                ),
            ));
        }
        let location = geometry::normalized(&self.location);
        let radius_m = self.radius_m.map(geometry::round_m);
        let content = IncidentContent {
            time: self.time,
            location,
            radius_m,
            category: Category::parse("category", &self.category)?,
            source: crate::text("source", &self.source, 200)?,
            confidence: Confidence::parse("confidence", &self.confidence)?,
            description: description(&self.description)?,
        };
        content.area(limits)?;
        Ok(content)
    }
}

/// Free text: trimmed, at most [`MAX_DESCRIPTION`] characters, line breaks and tabs allowed
/// but no other control characters.
fn description(s: &str) -> Result<String, DssError> {
    let v = s.trim();
    if v.chars().count() > MAX_DESCRIPTION {
        return Err(DssError::bad(
            "description",
            format!("must be at most {MAX_DESCRIPTION} characters"),
        ));
    }
    if v.chars()
        .any(|c| c.is_control() && !matches!(c, '\n' | '\r' | '\t'))
    {
        return Err(DssError::bad(
            "description",
            "must not contain control characters other than line breaks and tabs",
        ));
    }
    Ok(v.to_owned())
}

impl IncidentContent {
    /// The incident's area as reported: a circle of its uncertainty (a point when none is
    /// given) or its polygon.
    fn area(&self, limits: &Limits) -> Result<Shape, DssError> {
        match &self.location.value {
            geojson::Value::Point(p) => {
                let center = geometry::position("location.coordinates", p)?;
                let radius_m = match self.radius_m {
                    Some(r) => geometry::radius("radius_m", r)?,
                    None => 0.0,
                };
                Ok(Shape::Circle { center, radius_m })
            }
            geojson::Value::Polygon(_) => geometry::site_shape(
                "location",
                &self.location,
                self.radius_m,
                "radius_m",
                &shape_limits(limits),
            ),
            other => Err(DssError::bad(
                "location.type",
                format!(
                    "an incident is located by a Point (optionally with radius_m) or a Polygon, not a {}",
                    other.type_name()
                ),
            )),
        }
    }

    /// The incident's area widened by [`MATCH_MARGIN_M`], over its time give or take
    /// [`MATCH_TIME_MARGIN`], as volumes to intersect.
    fn reach(&self, limits: &Limits) -> Result<Vec<PreparedVolume>, DssError> {
        let shapes = match self.area(limits)? {
            Shape::Circle { center, radius_m } => vec![Shape::Circle {
                center,
                radius_m: radius_m + MATCH_MARGIN_M,
            }],
            Shape::Polygon(ring) => {
                // The polygon and a band of the margin along its edges: the polygon widened.
                let mut closed = ring.clone();
                closed.push(ring[0]);
                let mut shapes = corridor::corridor(&closed, 2.0 * MATCH_MARGIN_M).shapes;
                shapes.push(Shape::Polygon(ring));
                shapes
            }
        };
        volumes(
            shapes,
            self.time - MATCH_TIME_MARGIN,
            self.time + MATCH_TIME_MARGIN,
        )
    }
}

/// `shapes` at every altitude over `[start, end]`, prepared for intersection.
fn volumes(
    shapes: Vec<Shape>,
    start: DateTime<Utc>,
    end: DateTime<Utc>,
) -> Result<Vec<PreparedVolume>, DssError> {
    let time = TimeRange::new(start.timestamp_micros(), end.timestamp_micros());
    shapes
        .into_iter()
        .map(|shape| {
            Volume4 {
                shape,
                altitude: AltitudeRange::new(ALTITUDE_MIN_M, ALTITUDE_MAX_M),
                time,
            }
            .prepare(&ShapeLimits::default())
            .map_err(|e| DssError::Internal(format!("a stored shape does not prepare: {e}")))
        })
        .collect()
}

/// The sites and movements notified now that `incident` concerns, sites first, each by name.
pub fn find_matches(
    tx: &dyn ReadTx,
    incident: &IncidentContent,
    now: DateTime<Utc>,
    limits: &Limits,
) -> Result<Vec<Matched>, DssError> {
    let reach = incident.reach(limits)?;
    let mut found = Vec::new();
    for s in publish::all::<Site>(tx, site::KIND)? {
        let (start, end) = s.window(now);
        if any_intersects(&reach, &volumes(vec![s.shape(limits)?], start, end)?) {
            found.push(Matched::Site(s));
        }
    }
    for m in publish::all::<Movement>(tx, movement::KIND)? {
        let (start, end) = (m.content.departure.earliest, m.content.arrival.latest);
        if any_intersects(&reach, &volumes(m.content.shapes()?, start, end)?) {
            found.push(Matched::Movement(m));
        }
    }
    found.sort_by(|a, b| (a.kind(), a.name(), a.id()).cmp(&(b.kind(), b.name(), b.id())));
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::publish::{put_movement, put_site};
    use deconflict_core::memstate::MemState;
    use deconflict_core::store::Tx;

    fn now() -> DateTime<Utc> {
        "2030-01-01T12:00:00Z".parse().unwrap()
    }

    fn input(lng: f64, lat: f64) -> IncidentInput {
        serde_json::from_value(serde_json::json!({
            "time": "2030-01-01T11:00:00Z",
            "location": {"type": "Point", "coordinates": [lng, lat]},
            "category": "Airstrike", "source": "hospital staff", "confidence": "probable",
            "description": "Two explosions.\nThe east wing is damaged."
        }))
        .unwrap()
    }

    fn write<T>(mem: &mut MemState, f: impl FnOnce(&mut dyn Tx) -> Result<T, DssError>) -> T {
        crate::testing::commit(mem, f).unwrap()
    }

    /// A hospital of 100 m at (37.15, 36.20), notified an hour before the incident's time
    /// (so valid from then), and a convoy west to east through (37.20, 36.30) in the morning.
    fn layer() -> MemState {
        let l = Limits::default();
        let mut mem = MemState::default();
        let notified = now() - Duration::hours(2);
        let site: site::SiteInput = serde_json::from_value(serde_json::json!({
            "external_id": "H-1", "name": "Field hospital", "category": "hospital",
            "geometry": {"type": "Point", "coordinates": [37.15, 36.20]}, "radius_m": 100
        }))
        .unwrap();
        let v = site.validate("ngo", "salt", notified, &l).unwrap();
        write(&mut mem, |tx| {
            put_site(tx, "ngo", &v, "https://x.example", &l, notified)
        });
        let convoy: movement::MovementInput = serde_json::from_value(serde_json::json!({
            "external_id": "C-1", "name": "Convoy", "corridor_width_m": 100,
            "route": {"type": "LineString", "coordinates": [[37.10, 36.30], [37.30, 36.30]]},
            "departure": {"earliest": "2030-01-01T06:00:00Z", "latest": "2030-01-01T07:00:00Z"},
            "arrival": {"earliest": "2030-01-01T08:00:00Z", "latest": "2030-01-01T09:00:00Z"}
        }))
        .unwrap();
        let dawn = now() - Duration::hours(7);
        let v = convoy.validate("ngo", "salt", dawn, &l).unwrap();
        write(&mut mem, |tx| {
            put_movement(tx, "ngo", &v, "https://x.example", &l, dawn)
        });
        mem
    }

    fn names(mem: &MemState, i: &IncidentInput) -> Vec<String> {
        let l = Limits::default();
        let c = i.check(now(), &l).unwrap();
        find_matches(mem, &c, now(), &l)
            .unwrap()
            .iter()
            .map(|m| format!("{}:{}", m.kind(), m.name()))
            .collect()
    }

    /// `d` metres north of `lat` (roughly: 1 degree of latitude is 111.2 km).
    fn north(lat: f64, d: f64) -> f64 {
        lat + d / 111_195.0
    }

    #[test]
    fn an_incident_matches_a_site_within_its_radius_plus_the_margin() {
        let mem = layer();
        assert_eq!(names(&mem, &input(37.15, 36.20)), ["site:Field hospital"]);
        // 100 m radius + 250 m margin: 340 m away matches, 360 m does not.
        assert_eq!(names(&mem, &input(37.15, north(36.20, 340.0))).len(), 1);
        assert!(names(&mem, &input(37.15, north(36.20, 360.0))).is_empty());
        // The uncertainty widens the incident.
        let mut wide = input(37.15, north(36.20, 600.0));
        wide.radius_m = Some(300.0);
        assert_eq!(names(&mem, &wide).len(), 1);
    }

    #[test]
    fn an_incident_matches_within_the_time_window_give_or_take_the_margin() {
        let mem = layer();
        // The hospital is protected from two hours before now().
        let mut early = input(37.15, 36.20);
        early.time = now() - Duration::hours(2) - Duration::minutes(20);
        assert_eq!(names(&mem, &early).len(), 1);
        early.time = now() - Duration::hours(2) - Duration::minutes(40);
        assert!(names(&mem, &early).is_empty());
        // The convoy was on the road from 06:00 to 09:00.
        let mut on_road = input(37.20, 36.30);
        on_road.time = "2030-01-01T07:30:00Z".parse().unwrap();
        assert_eq!(names(&mem, &on_road), ["movement:Convoy"]);
        on_road.time = "2030-01-01T10:00:00Z".parse().unwrap();
        assert!(names(&mem, &on_road).is_empty());
    }

    #[test]
    fn a_polygon_incident_is_widened_by_the_margin() {
        let mem = layer();
        // A square whose south edge lies 300 m north of the hospital's edge (400 m from its
        // centre): within the 250 m margin? No. 200 m from the edge: yes.
        let square = |gap: f64| {
            let s = north(36.20, 100.0 + gap);
            let n = s + 0.01;
            let mut i = input(37.15, 36.20);
            i.location = serde_json::from_value(serde_json::json!({"type": "Polygon",
                "coordinates": [[[37.14, s], [37.16, s], [37.16, n], [37.14, n], [37.14, s]]]}))
            .unwrap();
            i
        };
        assert!(names(&mem, &square(300.0)).is_empty());
        assert_eq!(names(&mem, &square(200.0)), ["site:Field hospital"]);
    }

    #[test]
    fn bad_fields_are_named() {
        let l = Limits::default();
        let e = |f: fn(&mut IncidentInput)| {
            let mut i = input(37.15, 36.2);
            f(&mut i);
            i.check(now(), &l).unwrap_err().to_string()
        };
        assert!(e(|i| i.category = "rumour".into())
            .starts_with("category: \"rumour\" is not an incident category; use one of airstrike"));
        assert!(e(|i| i.confidence = "sure".into()).starts_with("confidence:"));
        assert!(e(|i| i.source = " ".into()).starts_with("source:"));
        assert!(e(|i| i.time = now() + Duration::hours(1)).starts_with("time: is in the future"));
        assert!(e(|i| i.radius_m = Some(-1.0)).starts_with("radius_m:"));
        assert!(e(|i| i.description = "a\u{7}b".into()).starts_with("description:"));
        assert!(e(|i| i.location =
            serde_json::from_str(r#"{"type":"Point","coordinates":[37.15,95]}"#).unwrap())
        .starts_with("location.coordinates[1]"));
        assert!(e(|i| i.location =
            serde_json::from_str(r#"{"type":"LineString","coordinates":[[0,0],[1,1]]}"#).unwrap())
        .starts_with("location.type"));
        let ok = input(37.15, 36.2).check(now(), &l).unwrap();
        assert_eq!(ok.category, Category::Airstrike);
        assert_eq!(ok.description, "Two explosions.\nThe east wing is damaged.");
    }
}
