//! The `deconflict` binary's own commands.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::process::Command;

use deconflict_auth::{DevKeys, Verifier, VerifierConfig};

fn deconflict(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_deconflict"))
        .args(args)
        .env_remove("DECONFLICT_DATA_DIR")
        .output()
        .expect("run deconflict")
}

#[test]
fn version_prints_the_crate_version() {
    let out = deconflict(&["version"]);
    assert!(out.status.success());
    assert_eq!(
        String::from_utf8(out.stdout).unwrap().trim(),
        format!("deconflict {}", env!("CARGO_PKG_VERSION"))
    );
}

#[tokio::test]
async fn dev_token_prints_a_token_the_dev_server_trusts() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().to_str().unwrap();
    let out = deconflict(&[
        "dev-token",
        "--data-dir",
        data,
        "--sub",
        "uss7",
        "--scope",
        "utm.strategic_coordination utm.constraint_processing",
        "--lifetime",
        "60",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let token = String::from_utf8(out.stdout).unwrap();
    let keys = DevKeys::load_or_create(dir.path()).unwrap();
    let verifier = Verifier::new(VerifierConfig::default().with_dev_keys(&keys))
        .await
        .unwrap();
    let claims = verifier.verify(token.trim()).unwrap();
    assert_eq!(claims.sub, "uss7");
    assert!(claims.scopes.has("utm.constraint_processing"));
    assert!(claims.scopes.has("utm.strategic_coordination"));

    // A token for another audience is refused by a dev server.
    let out = deconflict(&[
        "dev-token",
        "--data-dir",
        data,
        "--scope",
        "utm.strategic_coordination",
        "--audience",
        "dss.example.com",
    ]);
    let token = String::from_utf8(out.stdout).unwrap();
    assert!(verifier.verify(token.trim()).is_err());
}

#[test]
fn serve_refuses_a_bad_configuration() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("deconflict.toml");
    std::fs::write(&file, "listen = \"nonsense\"\n").unwrap();
    let out = deconflict(&["serve", "--config", file.to_str().unwrap()]);
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("deconflict.toml"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn migrate_creates_or_upgrades_a_sqlite_database_and_prints_its_version() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let run = || deconflict(&["migrate", "--data-dir", data.to_str().unwrap()]);
    let first = run();
    let stdout = String::from_utf8_lossy(&first.stdout).into_owned();
    assert!(
        first.status.success(),
        "{}",
        String::from_utf8_lossy(&first.stderr)
    );
    assert!(data.join("deconflict.sqlite3").exists());
    assert!(stdout.contains("store: sqlite"), "{stdout}");
    assert!(stdout.contains("applied: 1"), "{stdout}");
    let version = stdout
        .lines()
        .find_map(|l| l.strip_prefix("schema version: "))
        .unwrap_or_else(|| panic!("no version in {stdout}"))
        .to_owned();
    assert!(version.parse::<u32>().unwrap() >= 1, "{stdout}");
    let again = run();
    let stdout = String::from_utf8_lossy(&again.stdout);
    assert!(again.status.success());
    assert!(stdout.contains("applied: none"), "{stdout}");
    assert!(
        stdout.contains(&format!("schema version: {version}")),
        "{stdout}"
    );
}

#[test]
fn migrate_applies_the_postgres_schema_once_and_never_prints_the_password() {
    if !common::available(
        "cli::migrate_applies_the_postgres_schema_once",
        &[common::PG_ENV],
    ) {
        return;
    }
    let db = common::TestDb::create();
    let password = db
        .url
        .split_once("://")
        .and_then(|(_, rest)| rest.split_once('@'))
        .and_then(|(user, _)| user.split_once(':'))
        .map(|(_, pw)| pw.to_owned());
    let run = || deconflict(&["migrate", "--store", &db.url]);
    let first = run();
    let out = format!(
        "{}{}",
        String::from_utf8_lossy(&first.stdout),
        String::from_utf8_lossy(&first.stderr)
    );
    assert!(first.status.success(), "{out}");
    assert!(out.contains("applied: 1"), "{out}");
    assert!(out.contains("schema version: "), "{out}");
    if let Some(pw) = password.filter(|p| !p.is_empty()) {
        assert!(!out.contains(&pw), "the password is printed: {out}");
    }
    let again = run();
    assert!(String::from_utf8_lossy(&again.stdout).contains("applied: none"));

    // An unreachable server is an error naming it, and a failure status.
    let down = deconflict(&["migrate", "--store", "postgres://u:pw@127.0.0.1:1/x"]);
    assert!(!down.status.success());
    let err = String::from_utf8_lossy(&down.stderr);
    assert!(err.contains("127.0.0.1:1/x"), "{err}");
    assert!(!err.contains(":pw@"), "{err}");
}
