//! Exported bundles verify offline, and each kind of tampering is found and named: a changed
//! entry, reordered entries, a dropped entry, a forked log, a changed checkpoint, another key.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::records;
use deconflict_tlog::{export_bundle, verify_bundle, Bundle, Log, LogKey, SqliteLogStorage};

fn bundle() -> (Bundle, LogKey, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let log = Log::open(SqliteLogStorage::open(dir.path().join("log.sqlite")).unwrap()).unwrap();
    let (key, _) = LogKey::generate("test.example/log").unwrap();
    for (from, to) in [(0, 5), (5, 12), (12, 20)] {
        log.append(&records(from, to)).unwrap();
        log.checkpoint(&key).unwrap();
    }
    (export_bundle(&log, key.verifier_key()).unwrap(), key, dir)
}

fn subjects(b: &Bundle) -> Vec<String> {
    verify_bundle(b, None)
        .problems
        .into_iter()
        .map(|p| p.subject)
        .collect()
}

#[test]
fn an_exported_bundle_is_consistent() {
    let (b, key, _dir) = bundle();
    assert_eq!(b.entries.len(), 20);
    assert_eq!(b.checkpoints.len(), 3);
    assert_eq!(b.consistency.len(), 2);
    let r = verify_bundle(&b, Some(key.verifier_key()));
    assert!(r.is_consistent(), "{r}");
    assert_eq!(r.latest_size, Some(20));
    assert!(r
        .to_string()
        .starts_with("consistent: 20 entries, 3 checkpoints"));
    // Survives the trip through its JSON file form.
    let again: Bundle = serde_json::from_str(&serde_json::to_string(&b).unwrap()).unwrap();
    assert_eq!(again, b);
}

#[test]
fn a_changed_entry_is_named() {
    let (mut b, _, _dir) = bundle();
    b.entries[7].record = b.entries[7].record.replace("site-7", "site-8");
    assert_eq!(subjects(&b), ["entry 7"]);
    let r = verify_bundle(&b, None);
    assert!(
        r.to_string()
            .contains("entry 7: not in the tree of checkpoint 2 (size 20)"),
        "{r}"
    );
}

#[test]
fn reordered_entries_are_named() {
    // Whole entries moved: their indexes are out of order.
    let (mut b, _, _dir) = bundle();
    b.entries.swap(3, 4);
    let s = subjects(&b);
    assert!(s.contains(&"entry 3".to_string()), "{s:?}");
    // Records swapped, indexes kept: both records fail their place.
    let (mut b, _, _dir) = bundle();
    let r3 = b.entries[3].record.clone();
    b.entries[3].record = std::mem::replace(&mut b.entries[4].record, r3);
    assert_eq!(subjects(&b), ["entry 3", "entry 4"]);
}

#[test]
fn a_dropped_entry_is_named() {
    let (mut b, _, _dir) = bundle();
    b.entries.remove(5);
    assert_eq!(subjects(&b), ["entry 5"]);
    let (mut b, _, _dir) = bundle();
    b.entries.pop();
    assert_eq!(subjects(&b), ["entry 19"]);
}

#[test]
fn a_forked_log_is_named() {
    let (mut b, key, _dir) = bundle();
    // A second checkpoint of size 12 with another root, signed with the log's key: the log
    // showed two different histories.
    let other = key
        .sign(12, tlog_tiles::record_hash(b"another history"))
        .unwrap();
    b.checkpoints.push(other.note);
    let r = verify_bundle(&b, None);
    let s: Vec<&str> = r.problems.iter().map(|p| p.subject.as_str()).collect();
    assert!(s.contains(&"checkpoints 1 and 3"), "{r}");
    assert!(r.to_string().contains("the log forked"), "{r}");
}

#[test]
fn a_changed_checkpoint_or_another_key_is_named() {
    let (mut b, _, _dir) = bundle();
    b.checkpoints[1] = b.checkpoints[1].replacen("\n12\n", "\n13\n", 1);
    let r = verify_bundle(&b, None);
    assert_eq!(r.problems[0].subject, "checkpoint 1", "{r}");
    assert!(r.problems[0].reason.contains("signature"), "{r}");
    // Its neighbours are now joined by no proof, and that is said too.
    assert_eq!(
        r.problems[1].subject,
        "checkpoints 0 (size 5) and 2 (size 20)"
    );

    let (b, _, _dir) = bundle();
    let (stranger, _) = LogKey::generate("test.example/log").unwrap();
    let r = verify_bundle(&b, Some(stranger.verifier_key()));
    assert_eq!(r.problems[0].subject, "public key");

    // Someone re-signing a rewritten history with their own key and shipping that key.
    let (mut b, _, _dir) = bundle();
    b.public_key = stranger.verifier_key().into();
    let s = subjects(&b);
    assert_eq!(&s[..3], ["checkpoint 0", "checkpoint 1", "checkpoint 2"]);
}

mod mutated {
    use super::*;
    use proptest::prelude::*;

    /// One exported bundle for every case (building a log per case would be slow).
    fn exported() -> &'static Bundle {
        static B: std::sync::OnceLock<Bundle> = std::sync::OnceLock::new();
        B.get_or_init(|| bundle().0)
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 64, .. ProptestConfig::default() })]

        /// Any byte changed anywhere in a bundle file: it is refused as a file, or verified
        /// without a panic; a change inside an entry's record is always found and named.
        #[test]
        fn a_changed_byte_never_panics_and_a_changed_record_is_named(
            pos in any::<prop::sample::Index>(),
            byte in any::<u8>(),
            entry in 0usize..20,
        ) {
            let b = exported();
            let text = serde_json::to_vec(b).unwrap();
            let mut t = text;
            let i = pos.index(t.len());
            t[i] = byte;
            if let Ok(changed) = serde_json::from_slice::<Bundle>(&t) {
                let _ = verify_bundle(&changed, None);
            }
            // Inside a record: change one character to another printable one.
            let mut c = b.clone();
            let r = &mut c.entries[entry].record;
            let k = pos.index(r.len());
            let old = r.as_bytes()[k];
            let new = if old == b'~' { b'!' } else { old + 1 };
            if new.is_ascii_graphic() && old.is_ascii() {
                r.replace_range(k..k + 1, std::str::from_utf8(&[new]).unwrap());
                let report = verify_bundle(&c, None);
                let wanted = format!("entry {entry}");
                prop_assert!(report.problems.iter().any(|p| p.subject == wanted), "{report}");
            }
        }
    }
}
