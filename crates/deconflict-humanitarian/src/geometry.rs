//! GeoJSON geometries (RFC 7946) of sites and routes, checked field by field and turned into
//! DSS shapes. Positions are `[longitude, latitude]` (an altitude, if given, is ignored).

use deconflict_core::DssError;
use deconflict_geo::{GeoError, LatLng, PointRef, Shape, ShapeLimits};
use geojson::{Geometry, Value};

/// Radius of a point site's protection at most, in metres.
pub const MAX_RADIUS_M: f64 = 50_000.0;

/// `g` with every position cut to `[lon, lat]` and rounded to 1e-9 degree (0.1 mm), and no
/// bounding box or foreign members: what a site or route is stored as. Rounding makes equal
/// content compare equal however a file or a JSON parser rounded its last digits, so that a
/// re-import or a round trip through an export changes nothing.
pub fn normalized(g: &Geometry) -> Geometry {
    fn pos(p: &[f64]) -> Vec<f64> {
        p.iter().take(2).map(|x| (x * 1e9).round() / 1e9).collect()
    }
    let value = match &g.value {
        Value::Point(p) => Value::Point(pos(p)),
        Value::MultiPoint(ps) => Value::MultiPoint(ps.iter().map(|p| pos(p)).collect()),
        Value::LineString(ps) => Value::LineString(ps.iter().map(|p| pos(p)).collect()),
        Value::MultiLineString(ls) => Value::MultiLineString(
            ls.iter()
                .map(|l| l.iter().map(|p| pos(p)).collect())
                .collect(),
        ),
        Value::Polygon(rs) => Value::Polygon(
            rs.iter()
                .map(|r| r.iter().map(|p| pos(p)).collect())
                .collect(),
        ),
        other => other.clone(),
    };
    Geometry::new(value)
}

/// A length in metres rounded to the millimetre, for the same reason as [`normalized`].
pub fn round_m(x: f64) -> f64 {
    (x * 1e3).round() / 1e3
}

/// One position, `[lon, lat]`, as a point on the Earth.
pub fn position(field: &str, p: &[f64]) -> Result<LatLng, DssError> {
    if !(2..=3).contains(&p.len()) {
        return Err(DssError::bad(
            field,
            format!(
                "a position is [longitude, latitude], not {} numbers",
                p.len()
            ),
        ));
    }
    let (lng, lat) = (p[0], p[1]);
    if !lng.is_finite() || !(-180.0..=180.0).contains(&lng) {
        return Err(DssError::bad(
            format!("{field}[0]"),
            format!("the longitude is {lng}; longitudes lie in [-180, 180]"),
        ));
    }
    if !lat.is_finite() || !(-90.0..=90.0).contains(&lat) {
        return Err(DssError::bad(
            format!("{field}[1]"),
            format!("the latitude is {lat}; latitudes lie in [-90, 90]"),
        ));
    }
    Ok(LatLng::new(lat, lng))
}

/// The shape a site protects: a circle around a point, or a polygon's outer ring (holes are
/// ignored, which only widens the protection).
pub fn site_shape(
    field: &str,
    geometry: &Geometry,
    radius_m: Option<f64>,
    radius_field: &str,
    limits: &ShapeLimits,
) -> Result<Shape, DssError> {
    let shape = match &geometry.value {
        Value::Point(p) => {
            let center = position(&format!("{field}.coordinates"), p)?;
            let radius_m = radius_m.ok_or_else(|| {
                DssError::bad(
                    radius_field,
                    "required for a Point: the radius of protection around it, in metres",
                )
            })?;
            radius(radius_field, radius_m)?;
            Shape::Circle { center, radius_m }
        }
        Value::Polygon(rings) => {
            if radius_m.is_some() {
                return Err(DssError::bad(
                    radius_field,
                    "only a Point takes a radius; a Polygon is protected as drawn",
                ));
            }
            Shape::Polygon(ring(&format!("{field}.coordinates[0]"), rings.first())?)
        }
        other => {
            return Err(DssError::bad(
                format!("{field}.type"),
                format!(
                    "a site is a Point (with radius_m) or a Polygon, not a {}",
                    other.type_name()
                ),
            ))
        }
    };
    check_shape(field, &shape, radius_field, limits)?;
    Ok(shape)
}

/// A positive, finite radius of at most [`MAX_RADIUS_M`].
pub fn radius(field: &str, r: f64) -> Result<f64, DssError> {
    if !r.is_finite() || r <= 0.0 || r > MAX_RADIUS_M {
        return Err(DssError::bad(
            field,
            format!("the radius is {r}; it must be more than 0 and at most {MAX_RADIUS_M} m"),
        ));
    }
    Ok(r)
}

/// The vertices of a closed linear ring, without the closing repeat.
fn ring(field: &str, ring: Option<&Vec<Vec<f64>>>) -> Result<Vec<LatLng>, DssError> {
    let ring = ring.ok_or_else(|| DssError::bad(field, "a Polygon needs an outer ring"))?;
    let mut points = ring
        .iter()
        .enumerate()
        .map(|(i, p)| position(&format!("{field}[{i}]"), p))
        .collect::<Result<Vec<_>, _>>()?;
    if points.len() < 4 || points.first() != points.last() {
        return Err(DssError::bad(
            field,
            "a ring is at least 4 positions and its last position repeats the first (RFC 7946 §3.1.6)",
        ));
    }
    points.pop();
    Ok(points)
}

/// The positions of a LineString: at least two, no two consecutive ones equal.
pub fn line(field: &str, geometry: &Geometry) -> Result<Vec<LatLng>, DssError> {
    let Value::LineString(positions) = &geometry.value else {
        return Err(DssError::bad(
            format!("{field}.type"),
            format!(
                "a route is a LineString, not a {}",
                geometry.value.type_name()
            ),
        ));
    };
    let points = positions
        .iter()
        .enumerate()
        .map(|(i, p)| position(&format!("{field}.coordinates[{i}]"), p))
        .collect::<Result<Vec<_>, _>>()?;
    if points.len() < 2 {
        return Err(DssError::bad(
            format!("{field}.coordinates"),
            "a route has at least two positions",
        ));
    }
    for (i, w) in points.windows(2).enumerate() {
        if w[0] == w[1] {
            return Err(DssError::bad(
                format!("{field}.coordinates[{}]", i + 1),
                "repeats the position before it",
            ));
        }
        if (w[1].lng - w[0].lng).abs() > 180.0 {
            return Err(DssError::bad(
                format!("{field}.coordinates[{}]", i + 1),
                "the segment crosses the antimeridian; split the route there (RFC 7946 §3.1.9)",
            ));
        }
    }
    Ok(points)
}

/// Runs the DSS's own shape checks (self-intersection, size, vertex count), naming the field
/// in GeoJSON terms.
fn check_shape(
    field: &str,
    shape: &Shape,
    radius_field: &str,
    limits: &ShapeLimits,
) -> Result<(), DssError> {
    shape.validate(limits).map_err(|e| {
        let rule = e.to_string();
        let at = match &e {
            GeoError::RadiusNotPositive { .. } => radius_field.to_owned(),
            GeoError::LatitudeOutOfRange { at, .. } | GeoError::LongitudeOutOfRange { at, .. } => {
                match at {
                    PointRef::Vertex(i) => format!("{field}.coordinates[0][{i}]"),
                    _ => format!("{field}.coordinates"),
                }
            }
            GeoError::ClosedRing { index } | GeoError::DuplicateVertex { index, .. } => {
                format!("{field}.coordinates[0][{index}]")
            }
            _ => format!("{field}.coordinates"),
        };
        match e {
            GeoError::ShapeTooLarge { .. } | GeoError::AreaTooLarge { .. } => {
                DssError::TooLarge { field: at, rule }
            }
            _ => DssError::bad(at, rule),
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn geom(json: &str) -> Geometry {
        json.parse().unwrap()
    }

    fn err(r: Result<Shape, DssError>) -> String {
        r.unwrap_err().to_string()
    }

    #[test]
    fn points_need_a_radius_and_polygons_refuse_one() {
        let l = ShapeLimits::default();
        let p = geom(r#"{"type":"Point","coordinates":[37.15,36.2]}"#);
        assert!(err(site_shape("geometry", &p, None, "radius_m", &l)).starts_with("radius_m:"));
        assert!(err(site_shape("geometry", &p, Some(0.0), "radius_m", &l)).starts_with("radius_m:"));
        assert!(
            err(site_shape("geometry", &p, Some(f64::NAN), "radius_m", &l))
                .starts_with("radius_m:")
        );
        let s = site_shape("geometry", &p, Some(150.0), "radius_m", &l).unwrap();
        assert_eq!(
            s,
            Shape::Circle {
                center: LatLng::new(36.2, 37.15),
                radius_m: 150.0
            }
        );
        let poly = geom(
            r#"{"type":"Polygon","coordinates":[[[37.15,36.2],[37.16,36.2],[37.16,36.21],[37.15,36.2]]]}"#,
        );
        assert!(
            err(site_shape("geometry", &poly, Some(5.0), "radius_m", &l)).starts_with("radius_m:")
        );
        match site_shape("geometry", &poly, None, "radius_m", &l).unwrap() {
            Shape::Polygon(v) => assert_eq!(v.len(), 3),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn errors_name_the_position() {
        let l = ShapeLimits::default();
        let p = geom(r#"{"type":"Point","coordinates":[37.15,91]}"#);
        assert!(err(site_shape("geometry", &p, Some(1.0), "radius_m", &l))
            .starts_with("geometry.coordinates[1]: the latitude is 91"));
        let open = geom(
            r#"{"type":"Polygon","coordinates":[[[37.15,36.2],[37.16,36.2],[37.16,36.21],[37.15,36.3]]]}"#,
        );
        assert!(err(site_shape("geometry", &open, None, "radius_m", &l))
            .starts_with("geometry.coordinates[0]: a ring"));
        let bow = geom(r#"{"type":"Polygon","coordinates":[[[0,0],[1,1],[1,0],[0,1],[0,0]]]}"#);
        assert!(err(site_shape("geometry", &bow, None, "radius_m", &l))
            .starts_with("geometry.coordinates"));
        let line = geom(r#"{"type":"LineString","coordinates":[[0,0],[1,1]]}"#);
        assert!(err(site_shape("geometry", &line, None, "radius_m", &l))
            .starts_with("geometry.type: a site is a Point"));
    }

    #[test]
    fn routes_are_line_strings_without_repeats() {
        let r = line(
            "route",
            &geom(r#"{"type":"LineString","coordinates":[[0,0],[0,0.1],[0.1,0.1]]}"#),
        )
        .unwrap();
        assert_eq!(r.len(), 3);
        let e = line(
            "route",
            &geom(r#"{"type":"LineString","coordinates":[[0,0],[0,0]]}"#),
        )
        .unwrap_err()
        .to_string();
        assert!(e.starts_with("route.coordinates[1]"), "{e}");
        let e = line(
            "route",
            &geom(r#"{"type":"LineString","coordinates":[[179.9,0],[-179.9,0]]}"#),
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("antimeridian"), "{e}");
        let e = line("route", &geom(r#"{"type":"Point","coordinates":[0,0]}"#))
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("route.type"), "{e}");
    }
}
