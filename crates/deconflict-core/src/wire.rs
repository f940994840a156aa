//! Request and response bodies of the F3548 DSS API (`/dss/v1`), shaped as `utm.yaml` writes them.
//!
//! These types only carry JSON; nothing here is validated. `parse` turns requests into domain
//! values and `present` turns domain values into responses. Unknown fields are ignored and
//! `null` means "omitted", as the API's preamble requires.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Time {
    pub value: String,
    #[serde(default = "rfc3339")]
    pub format: String,
}

fn rfc3339() -> String {
    "RFC3339".to_owned()
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Altitude {
    pub value: f64,
    pub reference: String,
    pub units: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct LatLngPoint {
    pub lat: f64,
    pub lng: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Polygon {
    pub vertices: Vec<LatLngPoint>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Radius {
    pub value: f64,
    pub units: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Circle {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub center: Option<LatLngPoint>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub radius: Option<Radius>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Volume3D {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub outline_circle: Option<Circle>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub outline_polygon: Option<Polygon>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub altitude_lower: Option<Altitude>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub altitude_upper: Option<Altitude>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Volume4D {
    pub volume: Volume3D,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time_start: Option<Time>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time_end: Option<Time>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ErrorResponse {
    pub message: String,
}

// ---- operational intents ----

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OperationalIntentReference {
    pub id: String,
    pub manager: String,
    pub uss_availability: String,
    pub version: i32,
    pub state: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ovn: Option<String>,
    pub time_start: Time,
    pub time_end: Time,
    pub uss_base_url: String,
    pub subscription_id: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ImplicitSubscriptionParameters {
    pub uss_base_url: String,
    #[serde(default)]
    pub notify_for_constraints: Option<bool>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PutOperationalIntentReferenceParameters {
    pub extents: Vec<Volume4D>,
    #[serde(default)]
    pub key: Option<Vec<String>>,
    pub state: String,
    pub uss_base_url: String,
    #[serde(default)]
    pub subscription_id: Option<String>,
    #[serde(default)]
    pub new_subscription: Option<ImplicitSubscriptionParameters>,
    #[serde(default)]
    pub requested_ovn_suffix: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SubscriptionState {
    pub subscription_id: String,
    pub notification_index: i32,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SubscriberToNotify {
    pub subscriptions: Vec<SubscriptionState>,
    pub uss_base_url: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GetOperationalIntentReferenceResponse {
    pub operational_intent_reference: OperationalIntentReference,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChangeOperationalIntentReferenceResponse {
    pub subscribers: Vec<SubscriberToNotify>,
    pub operational_intent_reference: OperationalIntentReference,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct QueryParameters {
    #[serde(default)]
    pub area_of_interest: Option<Volume4D>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct QueryOperationalIntentReferenceResponse {
    pub operational_intent_references: Vec<OperationalIntentReference>,
}

// ---- constraints ----

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ConstraintReference {
    pub id: String,
    pub manager: String,
    pub uss_availability: String,
    pub version: i32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ovn: Option<String>,
    pub time_start: Time,
    pub time_end: Time,
    pub uss_base_url: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PutConstraintReferenceParameters {
    pub extents: Vec<Volume4D>,
    pub uss_base_url: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GetConstraintReferenceResponse {
    pub constraint_reference: ConstraintReference,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChangeConstraintReferenceResponse {
    pub subscribers: Vec<SubscriberToNotify>,
    pub constraint_reference: ConstraintReference,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct QueryConstraintReferencesResponse {
    pub constraint_references: Vec<ConstraintReference>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct AirspaceConflictResponse {
    pub message: String,
    pub missing_operational_intents: Vec<OperationalIntentReference>,
    pub missing_constraints: Vec<ConstraintReference>,
}

// ---- subscriptions ----

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Subscription {
    pub id: String,
    pub version: String,
    pub notification_index: i32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time_start: Option<Time>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time_end: Option<Time>,
    pub uss_base_url: String,
    pub notify_for_operational_intents: bool,
    pub notify_for_constraints: bool,
    pub implicit_subscription: bool,
    pub dependent_operational_intents: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PutSubscriptionParameters {
    pub extents: Volume4D,
    pub uss_base_url: String,
    #[serde(default)]
    pub notify_for_operational_intents: Option<bool>,
    #[serde(default)]
    pub notify_for_constraints: Option<bool>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PutSubscriptionResponse {
    pub subscription: Subscription,
    pub operational_intent_references: Vec<OperationalIntentReference>,
    pub constraint_references: Vec<ConstraintReference>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GetSubscriptionResponse {
    pub subscription: Subscription,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct QuerySubscriptionsResponse {
    pub subscriptions: Vec<Subscription>,
}

// ---- availability and reports ----

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SetUssAvailabilityStatusParameters {
    #[serde(default)]
    pub old_version: Option<String>,
    pub availability: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UssAvailabilityStatus {
    pub uss: String,
    pub availability: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UssAvailabilityStatusResponse {
    pub status: UssAvailabilityStatus,
    pub version: String,
}

/// `ErrorReport`: the exchange record is archived as given, so it stays a JSON value.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ErrorReport {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub report_id: Option<String>,
    pub exchange: serde_json::Map<String, serde_json::Value>,
}

// ---- USS-to-USS details (`/uss/v1`), for entities deconflict manages itself ----

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ConstraintDetails {
    pub volumes: Vec<Volume4D>,
    #[serde(default, rename = "type", skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Constraint {
    pub reference: ConstraintReference,
    pub details: ConstraintDetails,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GetConstraintDetailsResponse {
    pub constraint: Constraint,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OperationalIntentDetails {
    #[serde(default)]
    pub volumes: Vec<Volume4D>,
    #[serde(default)]
    pub off_nominal_volumes: Vec<Volume4D>,
    #[serde(default)]
    pub priority: i32,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OperationalIntent {
    pub reference: OperationalIntentReference,
    pub details: OperationalIntentDetails,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GetOperationalIntentDetailsResponse {
    pub operational_intent: OperationalIntent,
}
