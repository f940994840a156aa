//! `DevKeys`: persistence, file modes, and tokens the dev-mode verifier accepts.

use std::time::Duration;

use deconflict_auth::{scopes, AuthError, DevKeys, Verifier, VerifierConfig, DEV_ISSUER};

#[test]
fn keys_persist_across_loads_and_private_key_is_0600() {
    let dir = tempfile::tempdir().unwrap();
    let first = DevKeys::load_or_create(dir.path()).unwrap();
    let second = DevKeys::load_or_create(dir.path()).unwrap();
    assert_eq!(first.public_pem(), second.public_pem());
    assert_eq!(first.kid(), second.kid());
    assert!(first.public_pem().starts_with("-----BEGIN PUBLIC KEY-----"));

    let other = tempfile::tempdir().unwrap();
    let third = DevKeys::load_or_create(other.path()).unwrap();
    assert_ne!(
        first.public_pem(),
        third.public_pem(),
        "a new dir gets a new key"
    );

    let files: Vec<_> = std::fs::read_dir(dir.path().join("dev-keys"))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    assert_eq!(files.len(), 2, "no temporary files left behind: {files:?}");
    let public = std::fs::read_to_string(dir.path().join("dev-keys/es256-public.pem")).unwrap();
    assert_eq!(public, first.public_pem());

    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let private = dir.path().join("dev-keys/es256-private.pem");
        let mode = std::fs::metadata(&private).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        // A loosened mode is put back on the next load.
        std::fs::set_permissions(&private, std::fs::Permissions::from_mode(0o644)).unwrap();
        DevKeys::load_or_create(dir.path()).unwrap();
        let mode = std::fs::metadata(&private).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
}

#[test]
fn corrupt_private_key_is_reported_not_replaced() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("dev-keys")).unwrap();
    let private = dir.path().join("dev-keys/es256-private.pem");
    std::fs::write(&private, "garbage").unwrap();
    let err = DevKeys::load_or_create(dir.path()).unwrap_err();
    assert!(err.to_string().contains("es256-private.pem"), "{err}");
    assert_eq!(std::fs::read_to_string(&private).unwrap(), "garbage");
}

#[tokio::test]
async fn dev_tokens_verify_in_dev_mode() {
    let dir = tempfile::tempdir().unwrap();
    let keys = DevKeys::load_or_create(dir.path()).unwrap();
    let v = Verifier::new(VerifierConfig::default().with_dev_keys(&keys))
        .await
        .unwrap();
    assert_eq!(v.audiences(), ["localhost", "127.0.0.1"]);

    let token = keys.sign(
        "uss7",
        [
            scopes::STRATEGIC_COORDINATION,
            scopes::CONSTRAINT_MANAGEMENT,
        ],
        "localhost",
        DEV_ISSUER,
        Duration::from_secs(60),
    );
    let claims = v.verify(&token).unwrap();
    assert_eq!(claims.sub, "uss7");
    assert_eq!(claims.iss, DEV_ISSUER);
    assert!(claims.scopes.has(scopes::CONSTRAINT_MANAGEMENT));

    // Owned strings work too (as from a CLI), and the audience is still checked.
    let owned = vec![scopes::STRATEGIC_COORDINATION.to_owned()];
    let token = keys.sign(
        "uss7",
        &owned,
        "dss.example.com",
        DEV_ISSUER,
        Duration::from_secs(60),
    );
    assert!(matches!(
        v.verify(&token),
        Err(AuthError::WrongAudience { .. })
    ));

    let expired = keys.sign_until("uss7", owned, "127.0.0.1", DEV_ISSUER, 1_000);
    assert!(matches!(v.verify(&expired), Err(AuthError::Expired { .. })));

    // Another data dir's dev key is not trusted.
    let other_dir = tempfile::tempdir().unwrap();
    let other = DevKeys::load_or_create(other_dir.path()).unwrap();
    let token = other.sign(
        "uss7",
        [""; 0],
        "localhost",
        DEV_ISSUER,
        Duration::from_secs(60),
    );
    assert_eq!(v.verify(&token), Err(AuthError::BadSignature));
}
