//! Configurable limits on what a request may ask for, with the F3548 test-tooling defaults.

use serde::{Deserialize, Serialize};

/// Limits applied when parsing requests. Defaults are the ASTM F3548-21 constants used by the
/// standard's test tooling (see `docs/configuration.md`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Limits {
    /// Vertices of one operational intent extent.
    pub oi_max_vertices: usize,
    /// How far ahead an operational intent may start, in days.
    pub oi_max_plan_horizon_days: i64,
    /// Vertices of one constraint extent.
    pub constraint_max_vertices: usize,
    /// Area of one constraint extent, km^2.
    pub constraint_max_area_km2: f64,
    /// Duration of a constraint, hours.
    pub constraint_max_duration_hours: i64,
    /// How far ahead a constraint may start, in days.
    pub constraint_max_plan_horizon_days: i64,
    /// Duration of a subscription, hours.
    pub subscription_max_duration_hours: i64,
    /// Vertices of a subscription or query area.
    pub area_max_vertices: usize,
    /// Area of a query or subscription, km^2 (413 beyond).
    pub area_max_area_km2: f64,
    /// Clock skew tolerated on start times, seconds.
    pub clock_skew_secs: i64,
    /// Entities one query may answer; a query matching more gets 413 rather than a truncated
    /// answer, since a truncated answer would hide entities.
    pub query_max_results: usize,
    /// Request body size, bytes.
    pub max_body_bytes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            oi_max_vertices: 10_000,
            oi_max_plan_horizon_days: 30,
            constraint_max_vertices: 1_000,
            constraint_max_area_km2: 10_000.0,
            constraint_max_duration_hours: 24,
            constraint_max_plan_horizon_days: 56,
            subscription_max_duration_hours: 24,
            area_max_vertices: 10_000,
            area_max_area_km2: 2_500_000.0,
            clock_skew_secs: 300,
            query_max_results: 10_000,
            max_body_bytes: 4 * 1024 * 1024,
        }
    }
}
