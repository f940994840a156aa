//! `deconflict log-export` then `deconflict verify` on the log of a data directory: consistent
//! as exported; one changed byte in an entry fails naming that entry.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use deconflict_server::Config;
use deconflict_tlog::{Kind, Record};
use std::process::Command;

fn deconflict(args: &[&str]) -> (i32, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_deconflict"))
        .args(args)
        .env_remove("DECONFLICT_DATA_DIR")
        .env_remove("DECONFLICT_STORE")
        .env_remove("DECONFLICT_CONFIG")
        .output()
        .expect("run deconflict");
    (
        out.status.code().unwrap(),
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr),
    )
}

#[test]
fn an_exported_log_verifies_and_a_changed_byte_names_its_entry() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let (code, out) = deconflict(&["log-export", "--data-dir", data.to_str().unwrap()]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("no log key"), "{out}");

    // The log a server keeps in its data directory, with a few events.
    let config = Config {
        data_dir: data.clone(),
        ..Config::default()
    };
    std::fs::create_dir_all(&data).unwrap();
    let served = deconflict_server::tlog::open_blocking(&config).unwrap();
    let (log, key) = (&served.log, &served.key);
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
    log.checkpoint(key).unwrap();
    let file = dir.path().join("bundle.json");
    let path = file.to_str().unwrap();
    let (code, out) = deconflict(&[
        "log-export",
        "--data-dir",
        data.to_str().unwrap(),
        "--out",
        path,
    ]);
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains("exported 6 entries and 1 checkpoints"),
        "{out}"
    );

    let (code, out) = deconflict(&["verify", path, "--key", key.verifier_key()]);
    assert_eq!(code, 0, "{out}");
    assert!(
        out.starts_with("consistent: 6 entries, 1 checkpoints"),
        "{out}"
    );

    // One byte: hospital-3 becomes hospital-8.
    let text = std::fs::read_to_string(&file).unwrap();
    std::fs::write(&file, text.replacen("hospital-3", "hospital-8", 1)).unwrap();
    let (code, out) = deconflict(&["verify", path]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("NOT consistent"), "{out}");
    assert!(out.contains("entry 3: not in the tree"), "{out}");

    std::fs::write(&file, "{").unwrap();
    let (code, out) = deconflict(&["verify", path]);
    assert_eq!(code, 2, "{out}");
    assert!(out.contains("is not a log bundle"), "{out}");
}
