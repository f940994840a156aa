//! The DSS's entities as the rules see them: parsed, validated, with prepared geometry.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use deconflict_geo::{PreparedVolume, Volume4, Volumes};

use crate::codec;
use crate::ids::{EntityId, Ovn};
use crate::names::Name;

pub type Timestamp = DateTime<Utc>;

/// The volumes of an entity as given, in the stored binary form of [`crate::codec`]. Only
/// writing an entity needs them (the rules work on the prepared form), and the encoded form
/// takes less memory than `Vec<Volume4>`.
#[derive(Clone, PartialEq, Eq)]
pub struct StoredVolumes(Box<[u8]>);

impl StoredVolumes {
    pub fn encode(volumes: &[Volume4]) -> Self {
        Self(codec::encode(volumes).into_boxed_slice())
    }
    /// Checks that `bytes` are a valid encoding and keeps them, with the volumes they hold.
    pub fn decode(bytes: Vec<u8>) -> Result<(Self, Vec<Volume4>), codec::CodecError> {
        let volumes = codec::decode(&bytes)?;
        Ok((Self(bytes.into_boxed_slice()), volumes))
    }
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }
    /// The volumes, decoded.
    pub fn volumes(&self) -> Vec<Volume4> {
        // Only `encode` and a checked `decode` make one, so the bytes are valid.
        codec::decode(&self.0).unwrap_or_default()
    }
}

impl std::fmt::Debug for StoredVolumes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "StoredVolumes({} bytes)", self.0.len())
    }
}

/// The 4D extents of an entity: the volumes as given, their prepared form for intersection
/// tests, and the overall time span.
#[derive(Debug, Clone)]
pub struct Extents {
    pub volumes: StoredVolumes,
    pub prepared: Arc<[PreparedVolume]>,
    pub start: Timestamp,
    pub end: Timestamp,
}

impl Extents {
    /// Whether the extents still matter at `now`: an entity whose end has passed is expired.
    pub fn is_live(&self, now: Timestamp) -> bool {
        self.end >= now
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum OiState {
    Accepted,
    Activated,
    Nonconforming,
    Contingent,
}

impl OiState {
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "Accepted" => Self::Accepted,
            "Activated" => Self::Activated,
            "Nonconforming" => Self::Nonconforming,
            "Contingent" => Self::Contingent,
            _ => return None,
        })
    }
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Accepted => "Accepted",
            Self::Activated => "Activated",
            Self::Nonconforming => "Nonconforming",
            Self::Contingent => "Contingent",
        }
    }
    /// Accepted and Activated intents must be deconflicted: writing one needs a key, and other
    /// writers must prove they have seen them. Nonconforming and Contingent ones are adjusted
    /// as flown and cannot deconflict.
    pub fn requires_key(self) -> bool {
        matches!(self, Self::Accepted | Self::Activated)
    }
    /// States needing a subscription so that the operator hears of changes around it.
    pub fn requires_subscription(self) -> bool {
        !matches!(self, Self::Accepted)
    }
}

#[derive(Debug, Clone)]
pub struct OperationalIntent {
    pub id: EntityId,
    pub manager: Name,
    pub version: i32,
    pub ovn: Ovn,
    pub state: OiState,
    pub uss_base_url: Name,
    /// `None` for an Accepted intent created without a subscription.
    pub subscription_id: Option<EntityId>,
    pub extents: Extents,
}

#[derive(Debug, Clone)]
pub struct Constraint {
    pub id: EntityId,
    pub manager: Name,
    pub version: i32,
    pub ovn: Ovn,
    pub uss_base_url: Name,
    pub extents: Extents,
}

#[derive(Debug, Clone)]
pub struct Subscription {
    pub id: EntityId,
    pub manager: Name,
    /// Opaque; changes whenever the manager changes the subscription.
    pub version: String,
    pub notification_index: i32,
    pub uss_base_url: Name,
    pub notify_for_operational_intents: bool,
    pub notify_for_constraints: bool,
    pub implicit: bool,
    pub dependent_operational_intents: Vec<EntityId>,
    pub extents: Extents,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Availability {
    Unknown,
    Normal,
    Down,
}

impl Availability {
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "Unknown" => Self::Unknown,
            "Normal" => Self::Normal,
            "Down" => Self::Down,
            _ => return None,
        })
    }
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Unknown => "Unknown",
            Self::Normal => "Normal",
            Self::Down => "Down",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UssAvailability {
    pub uss: String,
    pub availability: Availability,
    pub version: String,
}

/// An archived `POST /dss/v1/reports` body.
#[derive(Debug, Clone)]
pub struct Report {
    pub id: String,
    pub reporter: String,
    pub received: Timestamp,
    pub body: String,
}

/// A record of a layer built on the DSS (the humanitarian layer's parties, sites and
/// movements): opaque to the DSS rules, committed in the same transaction as the DSS entities a
/// write publishes, so that a record and its constraint or intent never disagree.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Document {
    /// What kind of record, e.g. `site`; ids are unique within a kind.
    pub kind: String,
    pub id: String,
    /// The party that owns it (a JWT `sub`).
    pub owner: String,
    /// The record itself, as its layer serialises it (JSON).
    pub body: String,
}

/// Anything stored that the rules can look up by id and by area.
pub trait Located: Volumes {
    fn id(&self) -> EntityId;
    fn extents(&self) -> &Extents;
}

macro_rules! located {
    ($($t:ty),*) => {$(
        impl Located for $t {
            fn id(&self) -> EntityId { self.id }
            fn extents(&self) -> &Extents { &self.extents }
        }
        impl Volumes for $t {
            fn volumes(&self) -> &[PreparedVolume] { &self.extents.prepared }
        }
    )*};
}
located!(OperationalIntent, Constraint, Subscription);
