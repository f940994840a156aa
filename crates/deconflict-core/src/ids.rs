//! Identifiers and version tokens: entity ids (UUIDv4), opaque version numbers, versions.

use std::fmt;

use rand::RngCore;
use uuid::Uuid;

/// The id of an operational intent, constraint or subscription: a UUIDv4.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct EntityId(pub Uuid);

impl EntityId {
    /// Parses the canonical hyphenated UUIDv4 form that `utm.yaml` requires.
    pub fn parse(s: &str) -> Option<Self> {
        if s.len() != 36 {
            return None;
        }
        let id = Uuid::try_parse(s).ok()?;
        let v4 = id.get_version_num() == 4
            && matches!(id.as_bytes()[8] >> 6, 0b10)
            && s.as_bytes()[8] == b'-';
        v4.then_some(Self(id))
    }

    pub fn new_random() -> Self {
        Self(Uuid::new_v4())
    }

    /// InterUSS's "no subscription" id, shown for Accepted intents created without one.
    pub const NULL_SUBSCRIPTION: &'static str = "00000000-0000-4000-8000-000000000000";
}

impl fmt::Display for EntityId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.hyphenated().fmt(f)
    }
}

/// An opaque version number: unguessable, different on every write.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Ovn(pub String);

impl Ovn {
    /// 128 random bits in hex: nobody can forge a key without having read the entity.
    pub fn random() -> Self {
        Self(random_token(16))
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Ovn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A random URL-safe token of `bytes` random bytes (hex, so that it is plain in URLs and logs).
pub fn random_token(bytes: usize) -> String {
    let mut buf = vec![0u8; bytes];
    rand::rng().fill_bytes(&mut buf);
    buf.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entity_id_accepts_only_uuid_v4() {
        assert!(EntityId::parse("2f8343be-6482-4d1b-a474-16847e01af1e").is_some());
        assert!(EntityId::parse("2F8343BE-6482-4D1B-A474-16847E01AF1E").is_some());
        // version 7
        assert!(EntityId::parse("0191b794-9628-745a-a598-aa1fcd4a82bf").is_none());
        // no hyphens, braces, garbage
        assert!(EntityId::parse("2f8343be64824d1ba47416847e01af1e").is_none());
        assert!(EntityId::parse("{2f8343be-6482-4d1b-a474-16847e01af1e}").is_none());
        assert!(EntityId::parse("not-a-uuid").is_none());
        // wrong variant
        assert!(EntityId::parse("2f8343be-6482-4d1b-c474-16847e01af1e").is_none());
    }

    #[test]
    fn ovns_are_long_and_distinct() {
        let a = Ovn::random();
        let b = Ovn::random();
        assert_ne!(a, b);
        assert!(a.as_str().len() >= 16);
    }
}
