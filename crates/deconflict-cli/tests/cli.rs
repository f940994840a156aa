//! The `deconflict` binary's own commands.

#![allow(clippy::unwrap_used, clippy::expect_used)]

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
