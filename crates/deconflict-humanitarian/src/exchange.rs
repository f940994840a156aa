//! Sites in the formats humanitarian data is shared in: GeoJSON FeatureCollections (RFC 7946)
//! and CSV with `lat,lon,name,category,radius_m` and optional named columns. Reading gives one
//! [`Row`] per feature or line, each either a [`SiteInput`] or the reason it was refused;
//! writing gives back the same formats, which read back to the same sites.
//!
//! Properties and columns: `name`, `category`, `radius_m` (for points), `id` or `external_id`
//! (the party's own identifier; a GeoJSON Feature's `id` serves too), `valid_from`,
//! `valid_until` (RFC 3339). A CSV row may give a GeoJSON `geometry` (a Polygon) instead of
//! `lat` and `lon`. Other properties and columns are ignored.

use chrono::{DateTime, Utc};
use geojson::{Feature, FeatureCollection, GeoJson, JsonObject, JsonValue};

use crate::site::{Site, SiteInput};

/// Why a whole file cannot be read (a single bad row is a [`Row`] with an error instead).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum FileError {
    #[error("not GeoJSON: {0}")]
    GeoJson(String),
    #[error("a GeoJSON file of sites is a FeatureCollection, not a {0}")]
    NotACollection(&'static str),
    #[error("CSV: {0}")]
    Csv(String),
    #[error("CSV header: the column {0} is required")]
    MissingColumn(&'static str),
}

/// One feature or CSV line.
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    /// Where it is, for a person: `features[3]` or `line 5`.
    pub at: String,
    pub site: Result<SiteInput, String>,
}

/// The sites of a GeoJSON FeatureCollection, one row per feature.
pub fn read_geojson(text: &str) -> Result<Vec<Row>, FileError> {
    let gj: GeoJson = text
        .parse()
        .map_err(|e: geojson::Error| FileError::GeoJson(e.to_string()))?;
    let fc = match gj {
        GeoJson::FeatureCollection(fc) => fc,
        GeoJson::Feature(_) => return Err(FileError::NotACollection("Feature")),
        GeoJson::Geometry(_) => return Err(FileError::NotACollection("Geometry")),
    };
    Ok(fc
        .features
        .iter()
        .enumerate()
        .map(|(i, f)| Row {
            at: format!("features[{i}]"),
            site: feature(f),
        })
        .collect())
}

fn feature(f: &Feature) -> Result<SiteInput, String> {
    let empty = JsonObject::new();
    let props = f.properties.as_ref().unwrap_or(&empty);
    let text = |key: &str| -> Result<Option<String>, String> {
        match props.get(key) {
            None | Some(JsonValue::Null) => Ok(None),
            Some(JsonValue::String(s)) => Ok(Some(s.clone())),
            Some(JsonValue::Number(n)) => Ok(Some(n.to_string())),
            Some(other) => Err(format!("properties.{key}: must be a string, not {other}")),
        }
    };
    let required = |key: &str| text(key)?.ok_or_else(|| format!("properties.{key}: required"));
    let geometry = f.geometry.clone().ok_or("geometry: required")?;
    let radius_m = match props.get("radius_m") {
        None | Some(JsonValue::Null) => None,
        Some(v) => Some(number("properties.radius_m", v)?),
    };
    let external_id = match text("external_id")?.or(text("id")?) {
        Some(id) => Some(id),
        None => f.id.as_ref().map(|id| match id {
            geojson::feature::Id::String(s) => s.clone(),
            geojson::feature::Id::Number(n) => n.to_string(),
        }),
    };
    Ok(SiteInput {
        external_id,
        name: required("name")?,
        category: required("category")?,
        geometry,
        radius_m,
        valid_from: time("properties.valid_from", text("valid_from")?)?,
        valid_until: time("properties.valid_until", text("valid_until")?)?,
    })
}

fn number(field: &str, v: &JsonValue) -> Result<f64, String> {
    match v {
        JsonValue::Number(n) => n.as_f64().ok_or_else(|| format!("{field}: not a number")),
        JsonValue::String(s) => s
            .trim()
            .parse()
            .map_err(|_| format!("{field}: \"{s}\" is not a number")),
        other => Err(format!("{field}: must be a number, not {other}")),
    }
}

fn time(field: &str, v: Option<String>) -> Result<Option<DateTime<Utc>>, String> {
    v.filter(|s| !s.trim().is_empty())
        .map(|s| {
            DateTime::parse_from_rfc3339(s.trim())
                .map(|t| t.with_timezone(&Utc))
                .map_err(|e| format!("{field}: \"{s}\" is not an RFC 3339 time ({e})"))
        })
        .transpose()
}

/// The sites of a CSV file with a header line, one row per line.
pub fn read_csv(text: &str) -> Result<Vec<Row>, FileError> {
    let mut reader = csv::ReaderBuilder::new()
        .trim(csv::Trim::All)
        .flexible(false)
        .from_reader(text.as_bytes());
    let headers: Vec<String> = reader
        .headers()
        .map_err(|e| FileError::Csv(e.to_string()))?
        .iter()
        .map(|h| h.trim_start_matches('\u{feff}').to_ascii_lowercase())
        .collect();
    let col = |name: &str| headers.iter().position(|h| h == name);
    for required in ["name", "category"] {
        if col(required).is_none() {
            return Err(FileError::MissingColumn(if required == "name" {
                "name"
            } else {
                "category"
            }));
        }
    }
    let has_geometry = col("geometry").is_some();
    if !has_geometry {
        for (c, name) in [("lat", "lat"), ("lon", "lon"), ("radius_m", "radius_m")] {
            if col(c).is_none() {
                return Err(FileError::MissingColumn(name));
            }
        }
    }
    let mut rows = Vec::new();
    for (i, record) in reader.records().enumerate() {
        let at = format!("line {}", i + 2);
        let site = match record {
            Err(e) => Err(e.to_string()),
            Ok(r) => {
                let get = |name: &str| col(name).and_then(|c| r.get(c)).filter(|s| !s.is_empty());
                csv_row(&get)
            }
        };
        rows.push(Row { at, site });
    }
    Ok(rows)
}

fn csv_row<'a>(get: &dyn Fn(&str) -> Option<&'a str>) -> Result<SiteInput, String> {
    let num = |name: &str| -> Result<Option<f64>, String> {
        get(name)
            .map(|s| {
                s.parse::<f64>()
                    .map_err(|_| format!("{name}: \"{s}\" is not a number"))
            })
            .transpose()
    };
    let geometry = match get("geometry") {
        Some(g) => g
            .parse::<geojson::Geometry>()
            .map_err(|e| format!("geometry: not a GeoJSON geometry ({e})"))?,
        None => {
            let lat = num("lat")?.ok_or("lat: required (or a geometry)")?;
            let lon = num("lon")?.ok_or("lon: required (or a geometry)")?;
            geojson::Geometry::new(geojson::Value::Point(vec![lon, lat]))
        }
    };
    Ok(SiteInput {
        external_id: get("external_id").or_else(|| get("id")).map(str::to_owned),
        name: get("name").ok_or("name: required")?.to_owned(),
        category: get("category").ok_or("category: required")?.to_owned(),
        geometry,
        radius_m: num("radius_m")?,
        valid_from: time("valid_from", get("valid_from").map(str::to_owned))?,
        valid_until: time("valid_until", get("valid_until").map(str::to_owned))?,
    })
}

/// Which file format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    GeoJson,
    Csv,
}

impl Format {
    /// By the file's extension: `.csv` is CSV, anything else GeoJSON.
    pub fn of_path(path: &std::path::Path) -> Format {
        match path
            .extension()
            .and_then(|e| e.to_str())
            .map(str::to_ascii_lowercase)
        {
            Some(e) if e == "csv" => Format::Csv,
            _ => Format::GeoJson,
        }
    }
}

/// Reads a file's text in `format`.
pub fn read(text: &str, format: Format) -> Result<Vec<Row>, FileError> {
    match format {
        Format::GeoJson => read_geojson(text),
        Format::Csv => read_csv(text),
    }
}

fn rfc3339(t: &DateTime<Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true)
}

/// Sites as a GeoJSON FeatureCollection, one feature each, its `id` the external id.
pub fn write_geojson(sites: &[Site]) -> String {
    let features = sites
        .iter()
        .map(|s| {
            let c = &s.content;
            let mut p = JsonObject::new();
            p.insert("external_id".into(), c.external_id.clone().into());
            p.insert("name".into(), c.name.clone().into());
            p.insert("category".into(), c.category.as_str().into());
            if let Some(r) = c.radius_m {
                p.insert("radius_m".into(), r.into());
            }
            if let Some(t) = &c.valid_from {
                p.insert("valid_from".into(), rfc3339(t).into());
            }
            if let Some(t) = &c.valid_until {
                p.insert("valid_until".into(), rfc3339(t).into());
            }
            p.insert("site_id".into(), s.id.clone().into());
            p.insert("party".into(), s.party.clone().into());
            Feature {
                bbox: None,
                geometry: Some(c.geometry.clone()),
                id: Some(geojson::feature::Id::String(c.external_id.clone())),
                properties: Some(p),
                foreign_members: None,
            }
        })
        .collect();
    GeoJson::FeatureCollection(FeatureCollection {
        bbox: None,
        features,
        foreign_members: None,
    })
    .to_string()
}

/// Sites as CSV: a point site by `lat`, `lon`; a polygon by its GeoJSON `geometry`.
pub fn write_csv(sites: &[Site]) -> Result<String, FileError> {
    let mut w = csv::Writer::from_writer(Vec::new());
    let csv_err = |e: csv::Error| FileError::Csv(e.to_string());
    w.write_record([
        "id",
        "lat",
        "lon",
        "name",
        "category",
        "radius_m",
        "valid_from",
        "valid_until",
        "geometry",
        "site_id",
        "party",
    ])
    .map_err(csv_err)?;
    for s in sites {
        let c = &s.content;
        let (lat, lon, geometry) = match &c.geometry.value {
            geojson::Value::Point(p) if p.len() >= 2 => {
                (p[1].to_string(), p[0].to_string(), String::new())
            }
            _ => (
                String::new(),
                String::new(),
                GeoJson::Geometry(c.geometry.clone()).to_string(),
            ),
        };
        w.write_record([
            c.external_id.as_str(),
            &lat,
            &lon,
            &c.name,
            c.category.as_str(),
            &c.radius_m.map(|r| r.to_string()).unwrap_or_default(),
            &c.valid_from.as_ref().map(rfc3339).unwrap_or_default(),
            &c.valid_until.as_ref().map(rfc3339).unwrap_or_default(),
            &geometry,
            &s.id,
            &s.party,
        ])
        .map_err(csv_err)?;
    }
    let bytes = w.into_inner().map_err(|e| FileError::Csv(e.to_string()))?;
    String::from_utf8(bytes).map_err(|e| FileError::Csv(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use deconflict_core::limits::Limits;
    use proptest::prelude::*;

    fn now() -> DateTime<Utc> {
        "2030-01-01T00:00:00Z".parse().unwrap()
    }

    #[test]
    fn csv_rows_are_read_and_bad_ones_say_why() {
        let text = "lat,lon,name,category,radius_m,id,beds\n\
                    36.2,37.15,Al Razi hospital,hospital,150,H-1,80\n\
                    36.21,37.16,School 4,school,abc,S-4,\n\
                    ,,,clinic,50,,\n";
        let rows = read_csv(text).unwrap();
        assert_eq!(rows.len(), 3);
        let h = rows[0].site.as_ref().unwrap();
        assert_eq!(h.external_id.as_deref(), Some("H-1"));
        assert_eq!(h.radius_m, Some(150.0));
        assert_eq!(rows[1].at, "line 3");
        assert_eq!(
            rows[1].site.as_ref().unwrap_err(),
            "radius_m: \"abc\" is not a number"
        );
        assert!(rows[2]
            .site
            .as_ref()
            .unwrap_err()
            .starts_with("lat: required"));
        assert!(matches!(
            read_csv("lat,lon,name\n"),
            Err(FileError::MissingColumn("category"))
        ));
    }

    #[test]
    fn geojson_features_are_read_and_bad_ones_say_why() {
        let text = r#"{"type":"FeatureCollection","features":[
            {"type":"Feature","id":"H-1","geometry":{"type":"Point","coordinates":[37.15,36.2]},
             "properties":{"name":"Hospital","category":"hospital","radius_m":150}},
            {"type":"Feature","geometry":{"type":"Point","coordinates":[37.15,36.2]},
             "properties":{"category":"school","radius_m":"100"}},
            {"type":"Feature","geometry":null,"properties":{"name":"x","category":"school"}},
            {"type":"Feature","geometry":{"type":"Point","coordinates":[37.15,36.2]},
             "properties":{"name":"x","category":"school","valid_until":"tomorrow"}}]}"#;
        let rows = read_geojson(text).unwrap();
        assert_eq!(
            rows[0].site.as_ref().unwrap().external_id.as_deref(),
            Some("H-1")
        );
        assert_eq!(
            rows[1].site.as_ref().unwrap_err(),
            "properties.name: required"
        );
        assert_eq!(rows[2].site.as_ref().unwrap_err(), "geometry: required");
        assert!(rows[3]
            .site
            .as_ref()
            .unwrap_err()
            .starts_with("properties.valid_until: \"tomorrow\""));
        assert!(matches!(
            read_geojson(r#"{"type":"Point","coordinates":[1,2]}"#),
            Err(FileError::NotACollection("Geometry"))
        ));
    }

    fn site(i: usize, polygon: bool, radius: f64, lat: f64, lon: f64) -> Site {
        let geometry = if polygon {
            format!(
                r#"{{"type":"Polygon","coordinates":[[[{lon},{lat}],[{},{lat}],[{},{}],[{lon},{lat}]]]}}"#,
                lon + 0.01,
                lon + 0.01,
                lat + 0.01
            )
        } else {
            format!(r#"{{"type":"Point","coordinates":[{lon},{lat}]}}"#)
        };
        let input = SiteInput {
            external_id: Some(format!("S-{i}")),
            name: format!("Site, \"{i}\""),
            category: ["hospital", "school", "un_premises"][i % 3].into(),
            geometry: geometry.parse().unwrap(),
            radius_m: (!polygon).then_some(radius),
            valid_from: None,
            valid_until: i
                .is_multiple_of(2)
                .then(|| "2031-06-01T12:00:00Z".parse().unwrap()),
        };
        let v = input
            .validate("ngo", "salt", now(), &Limits::default())
            .unwrap();
        Site {
            id: v.id.to_string(),
            party: "ngo".into(),
            content: v.content,
            notified: now(),
            updated: now(),
        }
    }

    proptest! {
        /// Export then import gives back the same sites (the same content, hence the same ids:
        /// a re-import changes nothing), in both formats.
        #[test]
        fn exports_read_back_to_the_same_sites(
            specs in prop::collection::vec((any::<bool>(), 1.0f64..5000.0, -60.0f64..60.0, -170.0f64..170.0), 1..20)
        ) {
            let sites: Vec<Site> = specs.iter().enumerate().map(|(i, (p, r, la, lo))| site(i, *p, *r, *la, *lo)).collect();
            let csv = write_csv(&sites).unwrap();
            for (text, format) in [(write_geojson(&sites), Format::GeoJson), (csv, Format::Csv)] {
                let rows = read(&text, format).unwrap();
                prop_assert_eq!(rows.len(), sites.len());
                for (row, s) in rows.iter().zip(&sites) {
                    let input = row.site.as_ref().unwrap();
                    let v = input.validate("ngo", "salt", now(), &Limits::default()).unwrap();
                    prop_assert_eq!(&v.id.to_string(), &s.id);
                    prop_assert_eq!(&v.content, &s.content, "{:?}", format);
                }
            }
        }
    }
}
