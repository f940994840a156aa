//! `deconflict verify` on a real exported bundle: consistent as exported; one changed byte in
//! an entry fails naming that entry.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use deconflict_tlog::{export_bundle, Kind, Log, LogKey, Record, SqliteLogStorage};
use std::process::Command;

fn verify(args: &[&str]) -> (i32, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_deconflict"))
        .arg("verify")
        .args(args)
        .output()
        .expect("run deconflict");
    (
        out.status.code().unwrap(),
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr),
    )
}

#[test]
fn verify_accepts_an_exported_bundle_and_names_a_changed_entry() {
    let dir = tempfile::tempdir().unwrap();
    let log = Log::open(SqliteLogStorage::open(dir.path().join("log.sqlite")).unwrap()).unwrap();
    let (key, _) = LogKey::generate("test.example/log").unwrap();
    let records: Vec<Record> = (0..6)
        .map(|i| Record {
            kind: Kind::SiteNotified,
            time: "2026-11-27T20:00:00Z".into(),
            party: "relief".into(),
            subject: format!("hospital-{i}"),
            body: Default::default(),
        })
        .collect();
    log.append(&records).unwrap();
    log.checkpoint(&key).unwrap();
    let bundle = export_bundle(&log, key.verifier_key()).unwrap();
    let file = dir.path().join("bundle.json");
    std::fs::write(&file, serde_json::to_string_pretty(&bundle).unwrap()).unwrap();
    let path = file.to_str().unwrap();

    let (code, out) = verify(&[path, "--key", key.verifier_key()]);
    assert_eq!(code, 0, "{out}");
    assert!(
        out.starts_with("consistent: 6 entries, 1 checkpoints"),
        "{out}"
    );

    // One byte: hospital-3 becomes hospital-8.
    let text = std::fs::read_to_string(&file).unwrap();
    std::fs::write(&file, text.replacen("hospital-3", "hospital-8", 1)).unwrap();
    let (code, out) = verify(&[path]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("NOT consistent"), "{out}");
    assert!(out.contains("entry 3: not in the tree"), "{out}");

    std::fs::write(&file, "{").unwrap();
    let (code, out) = verify(&[path]);
    assert_eq!(code, 2, "{out}");
    assert!(out.contains("is not a log bundle"), "{out}");
}
