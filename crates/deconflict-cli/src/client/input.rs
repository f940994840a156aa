//! The FILE of the client commands, and the flags that shape volumes.
//!
//! A FILE is JSON of one of three kinds, told apart by its top level:
//! - GeoJSON (RFC 7946; an object with a `type`): each Polygon, each polygon of a MultiPolygon,
//!   and each Point with a `radius_m` property becomes one volume;
//! - a request body as `utm.yaml` writes it (an object with `extents` or `area_of_interest`);
//! - bare volumes: one `Volume4D` object, or an array of them.
//!
//! Altitudes and times then go through one rule whatever the kind: a flag wins, else what the
//! file says, else (for intents and constraints only) the default. Queries and subscriptions get
//! no defaults, because there a missing bound means "unbounded" to the server, which is what a
//! person asking "what is there?" wants.

use std::io::Read;
use std::path::{Path, PathBuf};

use anyhow::{anyhow, bail, Context};
use chrono::{DateTime, Duration, SecondsFormat, Utc};
use deconflict_core::wire::{
    Altitude, Circle, LatLngPoint, Polygon, Radius, Time, Volume3D, Volume4D,
};
use geojson::{Feature, GeoJson, Geometry, JsonObject, PolygonType};
use serde_json::{Map, Value};

/// Default altitudes of intents and constraints, metres above the WGS84 ellipsoid.
pub const DEFAULT_ALT_LOWER: f64 = 0.0;
pub const DEFAULT_ALT_UPPER: f64 = 120.0;

/// What a FILE held: its volumes, and the rest of the request body if it was one.
#[derive(Debug, Default)]
pub struct Input {
    /// The request body without its volumes (`extents` or `area_of_interest`), or empty.
    pub body: Map<String, Value>,
    pub extents: Vec<Volume4D>,
    /// Things dropped on the way that the person should know about (printed to stderr).
    pub warnings: Vec<String>,
}

/// Altitude and time flags, shared by every command that takes volumes.
#[derive(Debug, Clone, Default, clap::Args)]
#[command(next_help_heading = "Altitudes and times")]
pub struct ExtentArgs {
    /// Lower altitude, metres above the WGS84 ellipsoid [default for intents and constraints:
    /// the file's `altitude_lower`, else 0].
    #[arg(long, allow_negative_numbers = true, value_name = "METRES")]
    pub alt_lower: Option<f64>,
    /// Upper altitude, metres above the WGS84 ellipsoid [default for intents and constraints:
    /// the file's `altitude_upper`, else 120].
    #[arg(long, allow_negative_numbers = true, value_name = "METRES")]
    pub alt_upper: Option<f64>,
    /// Start time: RFC 3339, `now`, or relative to now like `+10m`, `-5m`, `+1h30m`, `+2d`
    /// [default for intents and constraints: the file's `time_start`, else now].
    #[arg(long, allow_hyphen_values = true, value_parser = When::parse, value_name = "TIME")]
    pub start: Option<When>,
    /// End time, as --start (relative times count from now, not from the start) [default for
    /// intents and constraints: the file's `time_end`, else one hour after the start].
    #[arg(long, allow_hyphen_values = true, value_parser = When::parse, value_name = "TIME")]
    pub end: Option<When>,
}

impl ExtentArgs {
    /// Puts the flags into every volume, and with `defaults` fills what is still missing.
    pub fn apply(&self, extents: &mut [Volume4D], now: DateTime<Utc>, defaults: bool) {
        for v in extents {
            if let Some(m) = self.alt_lower {
                v.volume.altitude_lower = Some(metres(m));
            }
            if let Some(m) = self.alt_upper {
                v.volume.altitude_upper = Some(metres(m));
            }
            if let Some(w) = self.start {
                v.time_start = Some(time(w.at(now)));
            }
            if let Some(w) = self.end {
                v.time_end = Some(time(w.at(now)));
            }
            if !defaults {
                continue;
            }
            v.volume
                .altitude_lower
                .get_or_insert_with(|| metres(DEFAULT_ALT_LOWER));
            v.volume
                .altitude_upper
                .get_or_insert_with(|| metres(DEFAULT_ALT_UPPER));
            let start = v.time_start.get_or_insert_with(|| time(now)).clone();
            if v.time_end.is_none() {
                // An unreadable start is the server's to reject; the end still needs a value.
                let start = DateTime::parse_from_rfc3339(&start.value)
                    .map(|t| t.with_timezone(&Utc))
                    .unwrap_or(now);
                v.time_end = Some(time(start + Duration::hours(1)));
            }
        }
    }
}

/// An area to query or subscribe to: FILE, a circle or a box, then the altitude and time flags
/// (never defaulted: an open bound is what a query wants, and the server bounds subscriptions).
#[derive(Debug, Clone, clap::Args)]
#[command(group(clap::ArgGroup::new("area").required(true).args(["file", "circle", "bbox"])))]
pub struct AreaArgs {
    /// GeoJSON, Volume4D JSON or a request body; `-` reads stdin.
    pub file: Option<PathBuf>,
    /// A circle instead of FILE: centre latitude and longitude in degrees (latitude first, as
    /// maps show it), radius in metres.
    #[arg(long, value_name = "LAT,LNG,RADIUS_M", value_parser = numbers::<3>)]
    pub circle: Option<[f64; 3]>,
    /// A box instead of FILE: degrees, in GeoJSON bbox order (longitudes first).
    #[arg(long, value_name = "WEST,SOUTH,EAST,NORTH", value_parser = numbers::<4>)]
    pub bbox: Option<[f64; 4]>,
    #[command(flatten)]
    pub extent: ExtentArgs,
}

impl AreaArgs {
    pub fn read(&self, now: DateTime<Utc>) -> anyhow::Result<Input> {
        let mut input = match (&self.file, self.circle, self.bbox) {
            (Some(path), _, _) => read(path, now)?,
            (_, Some([lat, lng, r]), _) => Input {
                extents: vec![circle_volume(lat, lng, r).context("--circle")?],
                ..Input::default()
            },
            (_, _, Some([w, s, e, n])) => Input {
                extents: vec![box_volume(w, s, e, n).context("--bbox")?],
                ..Input::default()
            },
            // clap's group requires one of them.
            _ => bail!("give FILE, --circle or --bbox"),
        };
        self.extent.apply(&mut input.extents, now, false);
        Ok(input)
    }
}

fn numbers<const N: usize>(s: &str) -> Result<[f64; N], String> {
    let parts: Vec<f64> = s
        .split(',')
        .map(|p| p.trim().parse::<f64>())
        .collect::<Result<_, _>>()
        .map_err(|e| format!("\"{s}\": {e}"))?;
    parts
        .try_into()
        .map_err(|p: Vec<f64>| format!("\"{s}\": {N} comma-separated numbers, not {}", p.len()))
}

fn circle_volume(lat: f64, lng: f64, radius: f64) -> anyhow::Result<Volume4D> {
    let center = point(&[lng, lat], "the centre", 0)?;
    if !(radius.is_finite() && radius > 0.0) {
        bail!("the radius must be a positive number of metres, not {radius}");
    }
    Ok(Props::default().volume(circle(center, radius)))
}

fn box_volume(w: f64, s: f64, e: f64, n: f64) -> anyhow::Result<Volume4D> {
    let corners = [[w, s], [e, s], [e, n], [w, n]];
    let vertices = corners
        .iter()
        .enumerate()
        .map(|(i, p)| point(p, "the box", i))
        .collect::<anyhow::Result<Vec<_>>>()?;
    if !(w < e && s < n) {
        bail!("west must be less than east and south less than north");
    }
    Ok(Props::default().volume(Volume3D {
        outline_circle: None,
        outline_polygon: Some(Polygon { vertices }),
        altitude_lower: None,
        altitude_upper: None,
    }))
}

fn circle(center: LatLngPoint, radius_m: f64) -> Volume3D {
    Volume3D {
        outline_circle: Some(Circle {
            center: Some(center),
            radius: Some(Radius {
                value: radius_m,
                units: "M".to_owned(),
            }),
        }),
        outline_polygon: None,
        altitude_lower: None,
        altitude_upper: None,
    }
}

/// A time given on the command line or in a GeoJSON property: absolute, or relative to now.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum When {
    At(DateTime<Utc>),
    FromNow(Duration),
}

impl When {
    /// `now`, `+1h`, `-5m`, `+1h30m`, `+2d`, `+90s`, or an RFC 3339 time.
    pub fn parse(s: &str) -> Result<When, String> {
        let s = s.trim();
        if s.eq_ignore_ascii_case("now") {
            return Ok(When::FromNow(Duration::zero()));
        }
        if let Some(rest) = s.strip_prefix('+') {
            return relative(rest).map(When::FromNow);
        }
        if let Some(rest) = s.strip_prefix('-') {
            return relative(rest).map(|d| When::FromNow(-d));
        }
        DateTime::parse_from_rfc3339(s)
            .map(|t| When::At(t.with_timezone(&Utc)))
            .map_err(|e| {
                format!(
                    "\"{s}\" is not a time ({e}): give RFC 3339 like 2030-01-31T14:00:00Z, \
                     `now`, or relative to now like +1h, -5m, +1h30m, +2d"
                )
            })
    }

    pub fn at(self, now: DateTime<Utc>) -> DateTime<Utc> {
        match self {
            When::At(t) => t,
            When::FromNow(d) => now + d,
        }
    }
}

/// `1h30m` and the like: whole numbers, each followed by one of s, m, h, d.
fn relative(s: &str) -> Result<Duration, String> {
    let bad = || format!("\"{s}\" is not a duration like 1h, 30m, 1h30m, 2d, 90s");
    let mut total = Duration::zero();
    let mut digits = String::new();
    for c in s.chars() {
        if c.is_ascii_digit() {
            digits.push(c);
            continue;
        }
        let n: i64 = digits.parse().map_err(|_| bad())?;
        digits.clear();
        let unit = match c {
            's' => Duration::try_seconds(n),
            'm' => Duration::try_minutes(n),
            'h' => Duration::try_hours(n),
            'd' => Duration::try_days(n),
            _ => None,
        };
        total += unit.ok_or_else(bad)?;
    }
    if !digits.is_empty() || s.is_empty() {
        return Err(bad());
    }
    Ok(total)
}

pub fn time(t: DateTime<Utc>) -> Time {
    Time {
        value: t.to_rfc3339_opts(SecondsFormat::Millis, true),
        format: "RFC3339".to_owned(),
    }
}

fn metres(value: f64) -> Altitude {
    Altitude {
        value,
        reference: "W84".to_owned(),
        units: "M".to_owned(),
    }
}

/// Reads and sorts out FILE (`-` is stdin). `now` resolves relative times in GeoJSON properties.
pub fn read(path: &Path, now: DateTime<Utc>) -> anyhow::Result<Input> {
    let name = path.display().to_string();
    let text = if name == "-" {
        let mut s = String::new();
        std::io::stdin()
            .read_to_string(&mut s)
            .context("reading standard input")?;
        s
    } else {
        std::fs::read_to_string(path).with_context(|| format!("reading {name}"))?
    };
    parse(&text, now).with_context(|| name.clone())
}

/// The work of [`read`], on text.
pub fn parse(text: &str, now: DateTime<Utc>) -> anyhow::Result<Input> {
    let value: Value = serde_json::from_str(text).context("not JSON")?;
    match value {
        Value::Object(mut map) => {
            if map.get("type").is_some_and(Value::is_string) {
                return from_geojson(Value::Object(map), now);
            }
            for key in ["extents", "area_of_interest"] {
                if let Some(v) = map.remove(key) {
                    let extents = match v {
                        Value::Array(_) => volumes(v, key)?,
                        other => vec![volume(other, key)?],
                    };
                    return Ok(Input {
                        body: map,
                        extents,
                        warnings: Vec::new(),
                    });
                }
            }
            if map.contains_key("volume") {
                return Ok(Input {
                    extents: vec![volume(Value::Object(map), "the volume")?],
                    ..Input::default()
                });
            }
            bail!(
                "neither GeoJSON (no \"type\"), nor a request body (no \"extents\" or \
                 \"area_of_interest\"), nor a Volume4D (no \"volume\")"
            )
        }
        Value::Array(_) => Ok(Input {
            extents: volumes(value, "the list")?,
            ..Input::default()
        }),
        _ => bail!("expected a JSON object (GeoJSON or a request body) or an array of Volume4D"),
    }
}

fn volume(v: Value, what: &str) -> anyhow::Result<Volume4D> {
    serde_path_to_error::deserialize(v)
        .map_err(|e| anyhow!("{what} is not a Volume4D: at `{}`: {}", e.path(), e.inner()))
}

fn volumes(v: Value, what: &str) -> anyhow::Result<Vec<Volume4D>> {
    let list: Vec<Volume4D> = serde_path_to_error::deserialize(v).map_err(|e| {
        anyhow!(
            "{what} is not a list of Volume4D: at `{}`: {}",
            e.path(),
            e.inner()
        )
    })?;
    if list.is_empty() {
        bail!("{what} has no volume");
    }
    Ok(list)
}

fn from_geojson(value: Value, now: DateTime<Utc>) -> anyhow::Result<Input> {
    let gj = match GeoJson::from_json_value(value.clone()) {
        Ok(gj) => gj,
        Err(e) => return Err(locate_geojson_error(&value).unwrap_or_else(|| anyhow!("{e}"))),
    };
    let mut input = Input::default();
    match gj {
        GeoJson::Geometry(g) => shapes(&g, "the geometry", &Props::default(), &mut input)?,
        GeoJson::Feature(f) => feature(&f, "the feature", now, &mut input)?,
        GeoJson::FeatureCollection(fc) => {
            if fc.features.is_empty() {
                bail!("the FeatureCollection has no features");
            }
            for (i, f) in fc.features.iter().enumerate() {
                feature(f, &format!("features[{i}]"), now, &mut input)?;
            }
        }
    }
    Ok(input)
}

/// The geojson crate says what is wrong but not where; in a collection, find the feature.
fn locate_geojson_error(value: &Value) -> Option<anyhow::Error> {
    let features = value.get("features")?.as_array()?;
    features.iter().enumerate().find_map(|(i, f)| {
        Feature::from_json_value(f.clone())
            .err()
            .map(|e| anyhow!("features[{i}]: {e}"))
    })
}

/// The properties of a feature that shape its volumes, already read.
#[derive(Debug, Default)]
struct Props {
    radius_m: Option<f64>,
    altitude_lower: Option<f64>,
    altitude_upper: Option<f64>,
    time_start: Option<DateTime<Utc>>,
    time_end: Option<DateTime<Utc>>,
}

impl Props {
    fn read(p: Option<&JsonObject>, at: &str, now: DateTime<Utc>) -> anyhow::Result<Props> {
        let Some(p) = p else {
            return Ok(Props::default());
        };
        let number = |key: &str| -> anyhow::Result<Option<f64>> {
            match p.get(key) {
                None | Some(Value::Null) => Ok(None),
                Some(v) => v.as_f64().map(Some).ok_or_else(|| {
                    anyhow!("{at}: property `{key}` must be a number of metres, not {v}")
                }),
            }
        };
        let when = |key: &str| -> anyhow::Result<Option<DateTime<Utc>>> {
            match p.get(key) {
                None | Some(Value::Null) => Ok(None),
                Some(Value::String(s)) => When::parse(s)
                    .map(|w| Some(w.at(now)))
                    .map_err(|e| anyhow!("{at}: property `{key}`: {e}")),
                Some(v) => bail!("{at}: property `{key}` must be a time string, not {v}"),
            }
        };
        Ok(Props {
            radius_m: number("radius_m")?,
            altitude_lower: number("altitude_lower")?,
            altitude_upper: number("altitude_upper")?,
            time_start: when("time_start")?,
            time_end: when("time_end")?,
        })
    }

    fn volume(&self, shape: Volume3D) -> Volume4D {
        Volume4D {
            volume: Volume3D {
                altitude_lower: self.altitude_lower.map(metres),
                altitude_upper: self.altitude_upper.map(metres),
                ..shape
            },
            time_start: self.time_start.map(time),
            time_end: self.time_end.map(time),
        }
    }
}

fn feature(f: &Feature, at: &str, now: DateTime<Utc>, input: &mut Input) -> anyhow::Result<()> {
    // A name makes "features[7]" findable in a file of many.
    let at = match f.property("name").and_then(Value::as_str) {
        Some(name) => format!("{at} (\"{name}\")"),
        None => at.to_owned(),
    };
    let props = Props::read(f.properties.as_ref(), &at, now)?;
    let g = f
        .geometry
        .as_ref()
        .ok_or_else(|| anyhow!("{at}: has no geometry"))?;
    shapes(g, &at, &props, input)
}

fn shapes(g: &Geometry, at: &str, props: &Props, input: &mut Input) -> anyhow::Result<()> {
    use geojson::Value as G;
    match &g.value {
        G::Polygon(rings) => {
            let shape = polygon(rings, at, input)?;
            input.extents.push(props.volume(shape));
        }
        G::MultiPolygon(polys) => {
            for (i, rings) in polys.iter().enumerate() {
                let shape = polygon(rings, &format!("{at}, polygon {i}"), input)?;
                input.extents.push(props.volume(shape));
            }
        }
        G::Point(p) => {
            let center = point(p, at, 0)?;
            let radius = props.radius_m.ok_or_else(|| {
                anyhow!(
                    "{at}: a Point needs a `radius_m` property (metres) to become a circle; \
                     put it in a Feature with that property"
                )
            })?;
            if !(radius.is_finite() && radius > 0.0) {
                bail!("{at}: `radius_m` must be a positive number of metres, not {radius}");
            }
            input.extents.push(props.volume(circle(center, radius)));
        }
        G::GeometryCollection(gs) => {
            for (i, g) in gs.iter().enumerate() {
                shapes(g, &format!("{at}, geometries[{i}]"), props, input)?;
            }
        }
        other => bail!(
            "{at}: a {} has no area; use a Polygon, a MultiPolygon, or a Point with a \
             `radius_m` property",
            other.type_name()
        ),
    }
    Ok(())
}

fn polygon(rings: &PolygonType, at: &str, input: &mut Input) -> anyhow::Result<Volume3D> {
    let outer = rings
        .first()
        .ok_or_else(|| anyhow!("{at}: the polygon has no ring"))?;
    if rings.len() > 1 {
        // An outline has no holes; keeping the outer ring claims the holes too, which errs
        // on the safe side for deconfliction.
        input.warnings.push(format!(
            "{at}: {} hole(s) ignored; the volume covers them",
            rings.len() - 1
        ));
    }
    let mut vertices = outer
        .iter()
        .enumerate()
        .map(|(i, p)| point(p, at, i))
        .collect::<anyhow::Result<Vec<_>>>()?;
    // GeoJSON closes a ring by repeating its first position; an F3548 outline does not.
    if vertices.len() > 1 && vertices.first() == vertices.last() {
        vertices.pop();
    }
    if vertices.len() < 3 {
        bail!(
            "{at}: the outer ring has {} distinct vertices; a polygon needs at least 3",
            vertices.len()
        );
    }
    Ok(Volume3D {
        outline_circle: None,
        outline_polygon: Some(Polygon { vertices }),
        altitude_lower: None,
        altitude_upper: None,
    })
}

fn point(p: &[f64], at: &str, i: usize) -> anyhow::Result<LatLngPoint> {
    let (lng, lat) = match p {
        [lng, lat, ..] => (*lng, *lat),
        _ => bail!("{at}: position {i} has {} numbers, not [lng, lat]", p.len()),
    };
    if !(-180.0..=180.0).contains(&lng) {
        bail!("{at}: position {i}: longitude {lng} is outside -180..180");
    }
    if !(-90.0..=90.0).contains(&lat) {
        bail!(
            "{at}: position {i}: latitude {lat} is outside -90..90 (GeoJSON writes [lng, lat], \
             longitude first)"
        );
    }
    Ok(LatLngPoint { lat, lng })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn now() -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2030-01-01T12:00:00Z")
            .unwrap()
            .with_timezone(&Utc)
    }

    fn err(text: &str) -> String {
        format!("{:#}", parse(text, now()).unwrap_err())
    }

    #[test]
    fn relative_times() {
        let at = |s: &str| When::parse(s).unwrap().at(now()).to_rfc3339();
        assert_eq!(at("now"), "2030-01-01T12:00:00+00:00");
        assert_eq!(at("+1h30m"), "2030-01-01T13:30:00+00:00");
        assert_eq!(at("-5m"), "2030-01-01T11:55:00+00:00");
        assert_eq!(at("+2d"), "2030-01-03T12:00:00+00:00");
        assert_eq!(at("2031-02-03T04:05:06+01:00"), "2031-02-03T03:05:06+00:00");
        for bad in ["+", "+1", "+h", "+1y", "tomorrow", "+1h5"] {
            assert!(When::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn a_polygon_feature_with_properties() {
        let input = parse(
            r#"{"type": "Feature", "properties": {"altitude_upper": 60, "time_end": "+3h"},
                "geometry": {"type": "Polygon", "coordinates": [
                    [[7.0, 46.0], [7.1, 46.0], [7.1, 46.1], [7.0, 46.0]]]}}"#,
            now(),
        )
        .unwrap();
        assert_eq!(input.extents.len(), 1);
        let v = &input.extents[0];
        let vs = &v.volume.outline_polygon.as_ref().unwrap().vertices;
        assert_eq!(vs.len(), 3, "closing vertex dropped");
        assert_eq!(
            vs[1],
            LatLngPoint {
                lat: 46.0,
                lng: 7.1
            }
        );
        assert_eq!(v.volume.altitude_upper.as_ref().unwrap().value, 60.0);
        assert!(v.volume.altitude_lower.is_none());
        assert_eq!(
            v.time_end.as_ref().unwrap().value,
            "2030-01-01T15:00:00.000Z"
        );
    }

    #[test]
    fn flags_win_then_the_file_then_defaults() {
        let mut input = parse(
            r#"{"type": "FeatureCollection", "features": [
                {"type": "Feature", "properties": {"radius_m": 50, "altitude_upper": 60,
                  "altitude_lower": 10},
                 "geometry": {"type": "Point", "coordinates": [7.0, 46.0]}},
                {"type": "Feature", "properties": null, "geometry": {"type": "MultiPolygon",
                 "coordinates": [[[[0, 0], [1, 0], [1, 1], [0, 0]]],
                                 [[[2, 2], [3, 2], [3, 3], [2, 2]], [[2.1, 2.1], [2.2, 2.1], [2.2, 2.2]]]]}}
            ]}"#,
            now(),
        )
        .unwrap();
        assert_eq!(input.extents.len(), 3);
        assert_eq!(input.warnings.len(), 1, "{:?}", input.warnings);
        let args = ExtentArgs {
            alt_lower: Some(5.0),
            start: Some(When::FromNow(Duration::hours(2))),
            ..ExtentArgs::default()
        };
        args.apply(&mut input.extents, now(), true);
        let c = &input.extents[0];
        assert_eq!(
            c.volume
                .outline_circle
                .as_ref()
                .unwrap()
                .radius
                .as_ref()
                .unwrap()
                .value,
            50.0
        );
        assert_eq!(c.volume.altitude_lower.as_ref().unwrap().value, 5.0);
        assert_eq!(c.volume.altitude_upper.as_ref().unwrap().value, 60.0);
        let p = &input.extents[1];
        assert_eq!(p.volume.altitude_upper.as_ref().unwrap().value, 120.0);
        assert_eq!(
            p.time_start.as_ref().unwrap().value,
            "2030-01-01T14:00:00.000Z"
        );
        assert_eq!(
            p.time_end.as_ref().unwrap().value,
            "2030-01-01T15:00:00.000Z"
        );
    }

    #[test]
    fn no_defaults_for_queries() {
        let mut input = parse(
            r#"{"type": "Polygon", "coordinates": [[[0, 0], [1, 0], [1, 1], [0, 0]]]}"#,
            now(),
        )
        .unwrap();
        ExtentArgs::default().apply(&mut input.extents, now(), false);
        assert_eq!(input.extents[0].time_start, None);
        assert_eq!(input.extents[0].volume.altitude_lower, None);
    }

    #[test]
    fn request_bodies_and_bare_volumes() {
        let v = r#"{"volume": {"outline_circle": {"center": {"lat": 1, "lng": 2},
                    "radius": {"value": 10, "units": "M"}}}}"#;
        let input = parse(
            &format!(r#"{{"extents": [{v}], "state": "Accepted"}}"#),
            now(),
        )
        .unwrap();
        assert_eq!(input.extents.len(), 1);
        assert_eq!(input.body["state"], "Accepted");
        assert!(!input.body.contains_key("extents"));
        assert_eq!(
            parse(&format!("[{v}, {v}]"), now()).unwrap().extents.len(),
            2
        );
        assert_eq!(parse(v, now()).unwrap().extents.len(), 1);
        let q = parse(&format!(r#"{{"area_of_interest": {v}}}"#), now()).unwrap();
        assert_eq!(q.extents.len(), 1);
    }

    #[test]
    fn errors_say_what_and_where() {
        let e = err(r#"{"type": "FeatureCollection", "features": [
            {"type": "Feature", "properties": {}, "geometry": {"type": "Polygon",
             "coordinates": [[[0, 0], [1, 0], [1, 1], [0, 0]]]}},
            {"type": "Feature", "properties": {}, "geometry": {"type": "Polygon",
             "coordinates": [[[0, 0], [1], [1, 1], [0, 0]]]}}]}"#);
        assert!(e.contains("features[1]"), "{e}");
        let e = err(r#"{"type": "Feature", "properties": {"name": "field"},
            "geometry": {"type": "LineString", "coordinates": [[0, 0], [1, 1]]}}"#);
        assert!(e.contains("\"field\"") && e.contains("LineString"), "{e}");
        let e =
            err(r#"{"type": "Polygon", "coordinates": [[[46, 7], [46, 100], [47, 7], [46, 7]]]}"#);
        assert!(
            e.contains("latitude 100") && e.contains("longitude first"),
            "{e}"
        );
        let e = err(r#"{"type": "Polygon", "coordinates": [[[0, 0], [1, 0], [0, 0]]]}"#);
        assert!(e.contains("2 distinct vertices"), "{e}");
        let e = err(r#"{"type": "Point", "coordinates": [0, 0]}"#);
        assert!(e.contains("radius_m"), "{e}");
        let e = err(
            r#"{"type": "Feature", "properties": {"altitude_upper": "high"},
            "geometry": {"type": "Polygon", "coordinates": [[[0, 0], [1, 0], [1, 1], [0, 0]]]}}"#,
        );
        assert!(e.contains("altitude_upper") && e.contains("number"), "{e}");
        let e = err(r#"[{"volume": {"outline_polygon": {"vertices": "x"}}}]"#);
        assert!(e.contains("[0].volume.outline_polygon.vertices"), "{e}");
        assert!(err("{").contains("not JSON"));
        assert!(err(r#"{"foo": 1}"#).contains("neither GeoJSON"));
        assert!(err(r#"{"type": "FeatureCollection", "features": []}"#).contains("no features"));
    }
}
