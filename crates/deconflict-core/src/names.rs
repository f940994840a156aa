//! Interned names: the managers and USS base URLs that thousands of entities share.
//!
//! A query answer reads the manager and the base URL of every entity it lists. With one
//! shared copy of each, those reads hit the CPU cache; with a string per entity, each is a
//! cache miss (two per listed entity: about 3 of a 2 km query's 41 µs of server CPU). A million
//! entities also hold 16 bytes per name instead of a string header and a heap block each.

use std::fmt;
use std::ops::Deref;
use std::sync::{Arc, LazyLock, Mutex, PoisonError};

use foldhash::{HashSet, HashSetExt};

/// A string shared by every entity that holds the same one. Compares, hashes and orders as
/// its text; two equal names are usually one allocation, which makes comparing them cheap.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Name(Arc<str>);

/// Names no longer held by any entity are dropped from the set when it has doubled since the
/// last sweep (and holds at least this many), so that a stream of distinct names (base URLs
/// are chosen by clients) cannot grow it without bound.
const SWEEP_MIN: usize = 1024;

struct Interner {
    names: HashSet<Arc<str>>,
    sweep_at: usize,
}

static INTERNER: LazyLock<Mutex<Interner>> = LazyLock::new(|| {
    Mutex::new(Interner {
        names: HashSet::new(),
        sweep_at: SWEEP_MIN,
    })
});

impl Name {
    /// The shared copy of `s`, made on first use.
    pub fn new(s: &str) -> Self {
        // The set stays consistent whatever a panicking holder was doing: every change to it
        // is one call.
        let mut interner = INTERNER.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(name) = interner.names.get(s) {
            return Self(Arc::clone(name));
        }
        if interner.names.len() >= interner.sweep_at {
            // A count of one is the set's own reference: no `Name` holds it, so none can be
            // cloned while the lock is held.
            interner.names.retain(|name| Arc::strong_count(name) > 1);
            interner.sweep_at = (interner.names.len() * 2).max(SWEEP_MIN);
        }
        let name: Arc<str> = Arc::from(s);
        interner.names.insert(Arc::clone(&name));
        Self(name)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl Deref for Name {
    type Target = str;
    fn deref(&self) -> &str {
        &self.0
    }
}

impl From<&str> for Name {
    fn from(s: &str) -> Self {
        Self::new(s)
    }
}

impl PartialEq<&str> for Name {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

impl PartialEq<String> for Name {
    fn eq(&self, other: &String) -> bool {
        self.as_str() == other
    }
}

impl fmt::Debug for Name {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

impl fmt::Display for Name {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn equal_names_share_one_copy() {
        let a = Name::new("uss-alpha-shared-test");
        let b = Name::new(&String::from("uss-alpha-shared-test"));
        assert!(Arc::ptr_eq(&a.0, &b.0));
        assert_eq!(a, b);
        assert_eq!(a, "uss-alpha-shared-test");
        assert_ne!(a, Name::new("uss-bravo-shared-test"));
    }

    #[test]
    fn names_nobody_holds_are_swept() {
        let kept = Name::new("a name that stays held");
        for i in 0..10 * SWEEP_MIN {
            drop(Name::new(&format!("a passing name {i}")));
        }
        let held = INTERNER
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .names
            .len();
        // Tests run in parallel and intern names of their own, but not thousands.
        assert!(held <= 2 * SWEEP_MIN + 100, "{held} names kept");
        assert!(Arc::ptr_eq(&kept.0, &Name::new("a name that stays held").0));
    }
}
