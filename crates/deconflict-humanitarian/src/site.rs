//! Protected sites: a hospital, a school, a water plant... as a humanitarian party notifies it.
//! A site is a point with a radius of protection or a polygon, a category, a name, an optional
//! validity window and a stable external identifier (the party's own, or one derived from the
//! content), from which its DSS id is derived so that notifying it again changes nothing.

use chrono::{DateTime, Duration, Utc};
use deconflict_core::ids::EntityId;
use deconflict_core::limits::Limits;
use deconflict_core::model::Extents;
use deconflict_core::DssError;
use deconflict_geo::{
    AltitudeRange, Shape, ShapeLimits, TimeRange, Volume4, ALTITUDE_MAX_M, ALTITUDE_MIN_M,
};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::geometry;

/// The document kind of sites.
pub const KIND: &str = "site";

/// A site without an end to its validity is published in the DSS for this long from now (and
/// again whenever it is updated): the DSS needs an end time.
pub const OPEN_ENDED: Duration = Duration::days(3650);

crate::named_enum!(
    /// What a site is.
    Category, "a site category", {
        Hospital = "hospital",
        Clinic = "clinic",
        School = "school",
        Shelter = "shelter",
        Water = "water",
        Power = "power",
        UnPremises = "un_premises",
        Other = "other",
    }
);

/// A site as notified: the body of `POST /v1/sites`, or one row of an import.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SiteInput {
    /// The party's own identifier of the site (a re-import finds the site by it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub external_id: Option<String>,
    pub name: String,
    pub category: String,
    /// A GeoJSON Point (with `radius_m`) or Polygon.
    pub geometry: geojson::Geometry,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub radius_m: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub valid_from: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub valid_until: Option<DateTime<Utc>>,
}

/// What a party says about a site, checked and normalised: two notifications with equal
/// content change nothing.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SiteContent {
    pub external_id: String,
    pub name: String,
    pub category: Category,
    pub geometry: geojson::Geometry,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub radius_m: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub valid_from: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub valid_until: Option<DateTime<Utc>>,
}

/// A stored site.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Site {
    /// Its DSS id: the id of the constraint that publishes it.
    pub id: String,
    /// The humanitarian party that notified it.
    pub party: String,
    #[serde(flatten)]
    pub content: SiteContent,
    /// When it was first notified.
    pub notified: DateTime<Utc>,
    /// When it was last changed.
    pub updated: DateTime<Utc>,
}

/// A checked site, ready to publish for `party`.
#[derive(Debug, Clone)]
pub struct ValidSite {
    pub id: EntityId,
    pub content: SiteContent,
    pub shape: Shape,
}

/// The shape limits of a site: those of a DSS constraint.
pub fn shape_limits(limits: &Limits) -> ShapeLimits {
    ShapeLimits {
        max_vertices: limits.constraint_max_vertices,
        max_area_km2: Some(limits.constraint_max_area_km2),
        ..ShapeLimits::default()
    }
}

impl SiteInput {
    /// Checks every field without knowing the party (what an import checks before it sends
    /// anything); errors name the field.
    pub fn check(
        &self,
        now: DateTime<Utc>,
        limits: &Limits,
    ) -> Result<(SiteContent, Shape), DssError> {
        let name = crate::text("name", &self.name, 200)?;
        let category = Category::parse("category", &self.category)?;
        let geometry = geometry::normalized(&self.geometry);
        let radius_m = self.radius_m.map(geometry::round_m);
        let shape = geometry::site_shape(
            "geometry",
            &geometry,
            radius_m,
            "radius_m",
            &shape_limits(limits),
        )?;
        if let (Some(from), Some(until)) = (self.valid_from, self.valid_until) {
            if until <= from {
                return Err(DssError::bad("valid_until", "must be after valid_from"));
            }
        }
        if let Some(until) = self.valid_until {
            if until < now {
                return Err(DssError::bad("valid_until", "is in the past"));
            }
        }
        if let Some(from) = self.valid_from {
            let horizon = limits.constraint_max_plan_horizon_days;
            if from > now + Duration::days(horizon) {
                return Err(DssError::bad(
                    "valid_from",
                    format!("is more than {horizon} days ahead"),
                ));
            }
        }
        let external_id = match &self.external_id {
            Some(id) => crate::text("external_id", id, 200)?,
            None => derived_external_id(&name, category, &geometry, radius_m),
        };
        Ok((
            SiteContent {
                external_id,
                name,
                category,
                geometry,
                radius_m,
                valid_from: self.valid_from,
                valid_until: self.valid_until,
            },
            shape,
        ))
    }

    /// Checks the site as `party` notifies it; `salt` is the deployment's id salt.
    pub fn validate(
        &self,
        party: &str,
        salt: &str,
        now: DateTime<Utc>,
        limits: &Limits,
    ) -> Result<ValidSite, DssError> {
        let (content, shape) = self.check(now, limits)?;
        Ok(ValidSite {
            id: crate::stable_id(KIND, salt, party, &content.external_id),
            content,
            shape,
        })
    }
}

/// The identifier of a site given without one: derived from what it is and where, so that
/// importing the same file again finds the same sites.
fn derived_external_id(
    name: &str,
    category: Category,
    geometry: &geojson::Geometry,
    radius_m: Option<f64>,
) -> String {
    let mut h = Sha256::new();
    h.update(name.as_bytes());
    h.update([0]);
    h.update(category.as_str().as_bytes());
    h.update([0]);
    h.update(
        geojson::GeoJson::Geometry(geometry.clone())
            .to_string()
            .as_bytes(),
    );
    h.update([0]);
    h.update(radius_m.unwrap_or(0.0).to_bits().to_be_bytes());
    let digest = h.finalize();
    let hex: String = digest[..12].iter().map(|b| format!("{b:02x}")).collect();
    format!("auto-{hex}")
}

impl Site {
    /// When the site's protection starts and ends in the DSS.
    pub fn window(&self, now: DateTime<Utc>) -> (DateTime<Utc>, DateTime<Utc>) {
        let start = self.content.valid_from.unwrap_or(self.notified);
        let end = self
            .content
            .valid_until
            .unwrap_or_else(|| start.max(now) + OPEN_ENDED);
        (start, end)
    }

    /// The extents of its constraint: its shape at every altitude the DSS knows (a strike from
    /// any height reaches the ground), over its validity window.
    pub fn extents(
        &self,
        shape: &Shape,
        now: DateTime<Utc>,
        limits: &Limits,
    ) -> Result<Extents, DssError> {
        let (start, end) = self.window(now);
        let volume = Volume4 {
            shape: shape.clone(),
            altitude: AltitudeRange::new(ALTITUDE_MIN_M, ALTITUDE_MAX_M),
            time: TimeRange::new(start.timestamp_micros(), end.timestamp_micros()),
        };
        let prepared = volume
            .prepare(&shape_limits(limits))
            .map_err(|e| DssError::bad("geometry", e.to_string()))?;
        deconflict_core::parse::extents_of(vec![volume], vec![prepared])
    }

    /// The shape of a stored site.
    pub fn shape(&self, limits: &Limits) -> Result<Shape, DssError> {
        geometry::site_shape(
            "geometry",
            &self.content.geometry,
            self.content.radius_m,
            "radius_m",
            &shape_limits(limits),
        )
    }

    /// The `type` of its constraint details.
    pub fn constraint_type(&self) -> String {
        format!(
            "org.deconflict.protected_site.{}",
            self.content.category.as_str()
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input() -> SiteInput {
        serde_json::from_str(
            r#"{"name":" Al Razi hospital ","category":"Hospital",
                "geometry":{"type":"Point","coordinates":[37.15,36.2]},"radius_m":150}"#,
        )
        .unwrap()
    }

    fn now() -> DateTime<Utc> {
        "2030-01-01T00:00:00Z".parse().unwrap()
    }

    #[test]
    fn a_site_is_normalised_and_gets_a_stable_id() {
        let l = Limits::default();
        let a = input().validate("ngo", "salt", now(), &l).unwrap();
        assert_eq!(a.content.name, "Al Razi hospital");
        assert_eq!(a.content.category, Category::Hospital);
        assert!(a.content.external_id.starts_with("auto-"));
        let b = input()
            .validate("ngo", "salt", now() + Duration::days(1), &l)
            .unwrap();
        assert_eq!(a.id, b.id, "same content, same site");
        let mut moved = input();
        moved.radius_m = Some(200.0);
        assert_ne!(moved.validate("ngo", "salt", now(), &l).unwrap().id, a.id);
        let mut named = input();
        named.external_id = Some("H-17".into());
        let n = named.validate("ngo", "salt", now(), &l).unwrap();
        named.radius_m = Some(300.0);
        assert_eq!(
            named.validate("ngo", "salt", now(), &l).unwrap().id,
            n.id,
            "same external id, same site"
        );
    }

    #[test]
    fn bad_fields_are_named() {
        let l = Limits::default();
        let e = |f: fn(&mut SiteInput)| {
            let mut i = input();
            f(&mut i);
            i.validate("ngo", "salt", now(), &l)
                .unwrap_err()
                .to_string()
        };
        assert!(e(|i| i.name = "  ".into()).starts_with("name:"));
        assert!(e(|i| i.category = "barracks".into())
            .starts_with("category: \"barracks\" is not a site category; use one of hospital"));
        assert!(e(|i| i.radius_m = None).starts_with("radius_m:"));
        assert!(
            e(|i| i.valid_until = Some("2029-01-01T00:00:00Z".parse().unwrap()))
                .starts_with("valid_until: is in the past")
        );
        assert!(e(|i| {
            i.valid_from = Some("2030-02-01T00:00:00Z".parse().unwrap());
            i.valid_until = Some("2030-01-15T00:00:00Z".parse().unwrap());
        })
        .starts_with("valid_until: must be after"));
        assert!(e(|i| i.external_id = Some("".into())).starts_with("external_id:"));
    }

    #[test]
    fn open_ended_sites_are_published_for_years_from_their_notification() {
        let l = Limits::default();
        let v = input().validate("ngo", "salt", now(), &l).unwrap();
        let site = Site {
            id: v.id.to_string(),
            party: "ngo".into(),
            content: v.content,
            notified: now(),
            updated: now(),
        };
        let ext = site.extents(&v.shape, now(), &l).unwrap();
        assert_eq!(ext.start, now());
        assert_eq!(ext.end, now() + OPEN_ENDED);
        let round: Site = serde_json::from_str(&serde_json::to_string(&site).unwrap()).unwrap();
        assert_eq!(round, site);
    }
}
