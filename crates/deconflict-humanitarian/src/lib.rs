//! The humanitarian layer of deconflict, over the F3548 DSS: parties and their roles
//! ([`party`]), protected sites ([`site`]) and aid movements ([`movement`]) as humanitarian
//! parties notify them, the corridor of a movement as DSS volumes ([`corridor`]), the import
//! and export of sites in GeoJSON and CSV ([`exchange`]), and their publication into the DSS as
//! constraints and operational intents managed on the party's behalf ([`publish`]); the
//! conflicts every write of an extent makes with other parties' extents ([`conflict`]) and
//! the notifications that tell both sides, with minimum disclosure ([`notification`]), and
//! their acknowledgment ([`acknowledgment`]); and incidents matched against what was notified
//! ([`incident`]).
//!
//! Like `deconflict-core`, this crate does no I/O: publication runs inside a store transaction
//! ([`deconflict_core::store::Tx`]) so that a site or movement and its DSS entity are written
//! together or not at all. Errors are [`deconflict_core::DssError`]s naming the field and the
//! rule, so the server maps them to HTTP like every other refusal.

pub mod acknowledgment;
pub mod conflict;
pub mod corridor;
pub mod delivery;
pub mod exchange;
pub mod geometry;
pub mod incident;
pub mod movement;
pub mod notification;
pub mod party;
pub mod publish;
pub mod report;
pub mod site;

#[cfg(test)]
pub(crate) mod testing {
    //! What the crate's tests share.
    use deconflict_core::memstate::{MemState, Overlay};
    use deconflict_core::store::Tx;

    /// Runs `f` in a transaction over `mem` and commits what it wrote.
    pub(crate) fn commit<T>(mem: &mut MemState, f: impl FnOnce(&mut dyn Tx) -> T) -> T {
        let mut tx = Overlay::new(&*mem);
        let out = f(&mut tx);
        let pending = tx.into_pending();
        mem.apply(pending.changes());
        out
    }
}

use deconflict_core::ids::EntityId;
use deconflict_core::DssError;
use sha2::{Digest, Sha256};

/// The DSS id of the object `external_id` of `party` of `kind`: a UUID in the version 4 form
/// the DSS requires, derived from a hash, so that notifying the same object again (a re-import)
/// names the same entity. `salt` is the deployment's secret ([`publish::id_salt`]): without it
/// anyone could compute the id of a site from public facts and occupy it in the DSS first.
pub fn stable_id(kind: &str, salt: &str, party: &str, external_id: &str) -> EntityId {
    let mut h = Sha256::new();
    h.update(b"deconflict");
    // Each part with its length first, so that no two lists of parts hash alike.
    for part in [kind, salt, party, external_id] {
        h.update((part.len() as u64).to_be_bytes());
        h.update(part.as_bytes());
    }
    let digest = h.finalize();
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&digest[..16]);
    EntityId(uuid::Builder::from_random_bytes(bytes).into_uuid())
}

/// Generates a snake_case enum with its names, a parser naming the field and the allowed
/// values, and its display name.
macro_rules! named_enum {
    ($(#[$doc:meta])* $name:ident, $what:literal, { $($v:ident = $s:literal),* $(,)? }) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
        #[serde(rename_all = "snake_case")]
        pub enum $name { $($v),* }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$v),*];

            pub fn as_str(self) -> &'static str {
                match self { $($name::$v => $s),* }
            }

            pub fn parse(field: &str, s: &str) -> Result<Self, deconflict_core::DssError> {
                let wanted = s.trim().to_ascii_lowercase();
                Self::ALL
                    .iter()
                    .copied()
                    .find(|c| c.as_str() == wanted)
                    .ok_or_else(|| {
                        let all: Vec<_> = Self::ALL.iter().map(|c| c.as_str()).collect();
                        deconflict_core::DssError::bad(
                            field,
                            format!(concat!("\"{}\" is not ", $what, "; use one of {}"), s, all.join(", ")),
                        )
                    })
            }
        }
    };
}
pub(crate) use named_enum;

/// A short text field: trimmed, 1 to `max` characters, no control characters.
pub(crate) fn text(field: &str, value: &str, max: usize) -> Result<String, DssError> {
    let v = value.trim();
    if v.is_empty() {
        return Err(DssError::bad(field, "must not be empty"));
    }
    if v.chars().count() > max {
        return Err(DssError::bad(
            field,
            format!("must be at most {max} characters"),
        ));
    }
    if v.chars().any(char::is_control) {
        return Err(DssError::bad(field, "must not contain control characters"));
    }
    Ok(v.to_owned())
}

/// Serialises a record for the store.
pub(crate) fn to_body<T: serde::Serialize>(value: &T) -> Result<String, DssError> {
    serde_json::to_string(value).map_err(|e| DssError::Internal(format!("serialising: {e}")))
}

/// Reads a stored record back.
pub(crate) fn from_body<T: serde::de::DeserializeOwned>(
    kind: &str,
    body: &str,
) -> Result<T, DssError> {
    serde_json::from_str(body)
        .map_err(|e| DssError::Internal(format!("stored {kind} unreadable: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stable_ids_are_dss_entity_ids_and_depend_on_every_part() {
        let a = stable_id("site", "s", "ngo", "h1");
        assert_eq!(a, stable_id("site", "s", "ngo", "h1"));
        assert!(EntityId::parse(&a.to_string()).is_some(), "{a}");
        assert_ne!(a, stable_id("site", "s", "ngo", "h2"));
        assert_ne!(a, stable_id("site", "s", "ngo2", "h1"));
        assert_ne!(a, stable_id("movement", "s", "ngo", "h1"));
        assert_ne!(a, stable_id("site", "other salt", "ngo", "h1"));
        // No ambiguity from where one part ends and the next begins.
        assert_ne!(
            stable_id("site", "s", "a", "b\0c"),
            stable_id("site", "s", "a\0b", "c")
        );
    }
}
