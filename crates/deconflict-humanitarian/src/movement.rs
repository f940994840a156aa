//! Aid movements: a convoy's route with a corridor width, a departure and an arrival window,
//! and optional stops. Published into the DSS as an operational intent of the humanitarian
//! party: Accepted while planned, Activated while under way.

use chrono::{DateTime, Duration, Utc};
use deconflict_core::ids::EntityId;
use deconflict_core::limits::Limits;
use deconflict_core::model::{Extents, OiState};
use deconflict_core::DssError;
use deconflict_geo::{
    AltitudeRange, LatLng, Shape, ShapeLimits, TimeRange, Volume4, ALTITUDE_MAX_M, ALTITUDE_MIN_M,
};
use serde::{Deserialize, Serialize};

use crate::{corridor, geometry};

/// The document kind of movements.
pub const KIND: &str = "movement";

/// Widest corridor, in metres.
pub const MAX_CORRIDOR_WIDTH_M: f64 = 20_000.0;

/// Longest route, in metres.
pub const MAX_ROUTE_M: f64 = 1_000_000.0;

/// Most stops on one movement.
pub const MAX_STOPS: usize = 100;

/// A time window: earliest and latest.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Window {
    pub earliest: DateTime<Utc>,
    pub latest: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Stop {
    pub name: String,
    /// A GeoJSON Point.
    pub location: geojson::Geometry,
    /// The area protected around the stop; half the corridor width when not given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub radius_m: Option<f64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MovementState {
    /// Notified, not started: Accepted in the DSS.
    #[default]
    Planned,
    /// On the road: Activated in the DSS.
    UnderWay,
}

impl MovementState {
    pub fn dss_state(self) -> OiState {
        match self {
            MovementState::Planned => OiState::Accepted,
            MovementState::UnderWay => OiState::Activated,
        }
    }
}

/// A movement as notified: the body of `POST /v1/movements`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MovementInput {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub external_id: Option<String>,
    pub name: String,
    /// A GeoJSON LineString.
    pub route: geojson::Geometry,
    pub corridor_width_m: f64,
    pub departure: Window,
    pub arrival: Window,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub stops: Vec<Stop>,
    #[serde(default)]
    pub state: MovementState,
}

/// What a party says about a movement, checked and normalised.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MovementContent {
    pub external_id: String,
    pub name: String,
    pub route: geojson::Geometry,
    pub corridor_width_m: f64,
    pub departure: Window,
    pub arrival: Window,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub stops: Vec<Stop>,
    pub state: MovementState,
}

/// A stored movement.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Movement {
    /// Its DSS id: the id of the operational intent that publishes it.
    pub id: String,
    pub party: String,
    #[serde(flatten)]
    pub content: MovementContent,
    pub notified: DateTime<Utc>,
    pub updated: DateTime<Utc>,
}

/// A checked movement, ready to publish for `party`.
#[derive(Debug, Clone)]
pub struct ValidMovement {
    pub id: EntityId,
    pub content: MovementContent,
    pub shapes: Vec<Shape>,
}

impl MovementInput {
    /// Checks every field; errors name the field. A movement needs an external id, since its
    /// content (times, state) changes as it goes.
    pub fn validate(
        &self,
        party: &str,
        salt: &str,
        now: DateTime<Utc>,
        limits: &Limits,
    ) -> Result<ValidMovement, DssError> {
        let external_id = match &self.external_id {
            Some(id) => crate::text("external_id", id, 200)?,
            None => crate::text("external_id", "", 200).map_err(|_| {
                DssError::bad(
                    "external_id",
                    "required: the movement's own identifier (a convoy number)",
                )
            })?,
        };
        let name = crate::text("name", &self.name, 200)?;
        let w = geometry::round_m(self.corridor_width_m);
        if !w.is_finite() || w <= 0.0 || w > MAX_CORRIDOR_WIDTH_M {
            return Err(DssError::bad(
                "corridor_width_m",
                format!("is {w}; it must be more than 0 and at most {MAX_CORRIDOR_WIDTH_M} m"),
            ));
        }
        let route = geometry::normalized(&self.route);
        let points = geometry::line("route", &route)?;
        let length: f64 = points
            .windows(2)
            .map(|p| corridor::distance_m(p[0], p[1]))
            .sum();
        if length > MAX_ROUTE_M {
            return Err(DssError::TooLarge {
                field: "route".into(),
                rule: format!(
                    "the route is {:.0} km long; at most {:.0} km, split longer movements",
                    length / 1000.0,
                    MAX_ROUTE_M / 1000.0
                ),
            });
        }
        check_windows(&self.departure, &self.arrival, now, limits)?;
        if self.stops.len() > MAX_STOPS {
            return Err(DssError::bad("stops", format!("at most {MAX_STOPS} stops")));
        }
        let mut stops = Vec::with_capacity(self.stops.len());
        for (i, s) in self.stops.iter().enumerate() {
            let field = format!("stops[{i}]");
            let stop = Stop {
                name: crate::text(&format!("{field}.name"), &s.name, 200)?,
                location: geometry::normalized(&s.location),
                radius_m: s.radius_m.map(geometry::round_m),
            };
            stop_circle(&field, &stop, w)?;
            stops.push(stop);
        }
        let content = MovementContent {
            external_id,
            name,
            route,
            corridor_width_m: w,
            departure: self.departure,
            arrival: self.arrival,
            stops,
            state: self.state,
        };
        Ok(ValidMovement {
            id: crate::stable_id(KIND, salt, party, &content.external_id),
            shapes: content.shapes()?,
            content,
        })
    }
}

/// The circle a stop protects (`field` names the stop in errors).
fn stop_circle(field: &str, s: &Stop, corridor_width_m: f64) -> Result<Shape, DssError> {
    let geojson::Value::Point(p) = &s.location.value else {
        return Err(DssError::bad(
            format!("{field}.location.type"),
            "a stop is a Point",
        ));
    };
    let center = geometry::position(&format!("{field}.location.coordinates"), p)?;
    let radius_m = match s.radius_m {
        Some(r) => geometry::radius(&format!("{field}.radius_m"), r)?,
        None => corridor_width_m / 2.0,
    };
    Ok(Shape::Circle { center, radius_m })
}

impl MovementContent {
    /// The shapes it covers: its corridor and its stops.
    pub fn shapes(&self) -> Result<Vec<Shape>, DssError> {
        let points = route_points(self)?;
        let mut shapes = corridor::corridor(&points, self.corridor_width_m).shapes;
        for (i, s) in self.stops.iter().enumerate() {
            shapes.push(stop_circle(
                &format!("stops[{i}]"),
                s,
                self.corridor_width_m,
            )?);
        }
        Ok(shapes)
    }
}

fn check_windows(
    dep: &Window,
    arr: &Window,
    now: DateTime<Utc>,
    limits: &Limits,
) -> Result<(), DssError> {
    if dep.latest < dep.earliest {
        return Err(DssError::bad(
            "departure.latest",
            "must not be before departure.earliest",
        ));
    }
    if arr.latest < arr.earliest {
        return Err(DssError::bad(
            "arrival.latest",
            "must not be before arrival.earliest",
        ));
    }
    if arr.earliest < dep.earliest {
        return Err(DssError::bad(
            "arrival.earliest",
            "must not be before departure.earliest",
        ));
    }
    if arr.latest < dep.latest {
        return Err(DssError::bad(
            "arrival.latest",
            "must not be before departure.latest",
        ));
    }
    if arr.latest < now {
        return Err(DssError::bad("arrival.latest", "is in the past"));
    }
    let horizon = limits.oi_max_plan_horizon_days;
    if dep.earliest > now + Duration::days(horizon) {
        return Err(DssError::bad(
            "departure.earliest",
            format!("is more than {horizon} days ahead"),
        ));
    }
    Ok(())
}

impl ValidMovement {
    /// The extents of its operational intent: the corridor and the stops at every altitude, from
    /// the earliest departure to the latest arrival (the convoy may be anywhere on its route
    /// then).
    pub fn extents(&self, limits: &Limits) -> Result<Extents, DssError> {
        let time = TimeRange::new(
            self.content.departure.earliest.timestamp_micros(),
            self.content.arrival.latest.timestamp_micros(),
        );
        let shape_limits = ShapeLimits {
            max_vertices: limits.oi_max_vertices,
            ..ShapeLimits::default()
        };
        let mut volumes = Vec::with_capacity(self.shapes.len());
        let mut prepared = Vec::with_capacity(self.shapes.len());
        for shape in &self.shapes {
            let v = Volume4 {
                shape: shape.clone(),
                altitude: AltitudeRange::new(ALTITUDE_MIN_M, ALTITUDE_MAX_M),
                time,
            };
            prepared.push(
                v.prepare(&shape_limits)
                    .map_err(|e| DssError::bad("route", format!("its corridor: {e}")))?,
            );
            volumes.push(v);
        }
        deconflict_core::parse::extents_of(volumes, prepared)
    }
}

/// The positions of a stored movement's route.
pub fn route_points(m: &MovementContent) -> Result<Vec<LatLng>, DssError> {
    geometry::line("route", &m.route)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> DateTime<Utc> {
        "2030-01-01T00:00:00Z".parse().unwrap()
    }

    fn input() -> MovementInput {
        serde_json::from_str(
            r#"{"external_id":"convoy-7","name":"Convoy 7",
                "route":{"type":"LineString","coordinates":[[37.10,36.20],[37.15,36.21],[37.16,36.25]]},
                "corridor_width_m":200,
                "departure":{"earliest":"2030-01-01T06:00:00Z","latest":"2030-01-01T07:00:00Z"},
                "arrival":{"earliest":"2030-01-01T09:00:00Z","latest":"2030-01-01T11:00:00Z"},
                "stops":[{"name":"checkpoint","location":{"type":"Point","coordinates":[37.15,36.21]}}]}"#,
        )
        .unwrap()
    }

    #[test]
    fn a_movement_becomes_corridor_volumes_over_its_whole_window() {
        let l = Limits::default();
        let v = input().validate("ngo", "salt", now(), &l).unwrap();
        assert_eq!(v.id, crate::stable_id(KIND, "salt", "ngo", "convoy-7"));
        let ext = v.extents(&l).unwrap();
        assert_eq!(ext.start, v.content.departure.earliest);
        assert_eq!(ext.end, v.content.arrival.latest);
        assert!(ext.prepared.len() > 5);
        assert_eq!(v.content.state.dss_state(), OiState::Accepted);
    }

    #[test]
    fn bad_fields_are_named() {
        let l = Limits::default();
        let e = |f: fn(&mut MovementInput)| {
            let mut i = input();
            f(&mut i);
            i.validate("ngo", "salt", now(), &l)
                .unwrap_err()
                .to_string()
        };
        assert!(e(|i| i.external_id = None).starts_with("external_id: required"));
        assert!(e(|i| i.corridor_width_m = 0.0).starts_with("corridor_width_m:"));
        assert!(e(|i| i.corridor_width_m = f64::INFINITY).starts_with("corridor_width_m:"));
        assert!(
            e(|i| i.departure.latest = "2030-01-01T05:00:00Z".parse().unwrap())
                .starts_with("departure.latest:")
        );
        assert!(
            e(|i| i.arrival.earliest = "2030-01-01T05:00:00Z".parse().unwrap())
                .starts_with("arrival.earliest:")
        );
        assert!(e(|i| {
            i.departure.earliest = "2029-12-01T00:00:00Z".parse().unwrap();
            i.departure.latest = "2029-12-01T00:00:00Z".parse().unwrap();
            i.arrival.earliest = "2029-12-02T00:00:00Z".parse().unwrap();
            i.arrival.latest = "2029-12-02T00:00:00Z".parse().unwrap();
        })
        .starts_with("arrival.latest: is in the past"));
        assert!(e(
            |i| i.stops[0].location = geojson::Geometry::new(geojson::Value::LineString(vec![]))
        )
        .starts_with("stops[0].location.type"));
        assert!(
            e(|i| i.route = geojson::Geometry::new(geojson::Value::Point(vec![1.0, 2.0])))
                .starts_with("route.type")
        );
        assert!(e(
            |i| i.route = geojson::Geometry::new(geojson::Value::LineString(vec![
                vec![0.0, 0.0],
                vec![10.0, 0.0]
            ]))
        )
        .starts_with("route: the route is 1112 km"));
    }
}
