//! Signature, algorithm and claim checks of `Verifier` with PEM-configured keys.

use deconflict_auth::{AuthError, ConfigError, Verifier, VerifierConfig};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::json;

use crate::helpers::*;

#[tokio::test]
async fn es256_token_verifies_and_yields_claims() {
    let key = es256_key();
    let v = verifier(&[&key.public_pem]).await;
    let claims = v.verify(&sign(&key, &claims())).unwrap();
    assert_eq!(claims.sub, "uss1");
    assert_eq!(claims.iss, "https://auth.example.com");
    assert!(claims.scopes.has("utm.strategic_coordination"));
    assert!(claims.scopes.has("utm.constraint_processing"));
    assert!(!claims.scopes.has("utm.constraint_management"));
    assert!(claims.exp > now());
}

#[tokio::test]
async fn rs256_token_verifies_with_spki_and_pkcs1_pem_files() {
    let key = rsa_key();
    let token = sign(key, &claims());
    let dir = tempfile::tempdir().unwrap();
    let spki = dir.path().join("spki.pem");
    let pkcs1 = dir.path().join("pkcs1.pem");
    std::fs::write(&spki, &key.public_pem).unwrap();
    std::fs::write(&pkcs1, key.public_pem_pkcs1.as_ref().unwrap()).unwrap();
    for path in [spki, pkcs1] {
        let v = Verifier::new(VerifierConfig {
            public_key_pems: vec![path.clone()],
            ..config(&[])
        })
        .await
        .unwrap();
        let claims = v
            .verify(&token)
            .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        assert_eq!(claims.sub, "uss1");
    }
}

#[tokio::test]
async fn one_of_several_keys_and_several_keys_per_file() {
    let (a, b) = (es256_key(), es256_key());
    let rsa = rsa_key();
    let both = format!("{}\n{}", a.public_pem, rsa.public_pem);
    let v = verifier(&[&both, &b.public_pem]).await;
    for key in [&a, &b, rsa] {
        v.verify(&sign(key, &claims())).unwrap();
    }
    // A kid on the token does not stop PEM keys, which have none, from being tried.
    v.verify(&sign_with_kid(&b, Some("whatever"), &claims()))
        .unwrap();
}

#[tokio::test]
async fn token_signed_by_another_key_is_refused() {
    let (trusted, other) = (es256_key(), es256_key());
    let v = verifier(&[&trusted.public_pem, &rsa_key().public_pem]).await;
    assert_eq!(
        v.verify(&sign(&other, &claims())),
        Err(AuthError::BadSignature)
    );
    assert_eq!(
        v.verify(&sign(other_rsa_key(), &claims())),
        Err(AuthError::BadSignature)
    );
}

#[tokio::test]
async fn tampered_payload_is_refused() {
    let key = es256_key();
    let v = verifier(&[&key.public_pem]).await;
    let token = sign(&key, &claims());
    let mut parts: Vec<&str> = token.split('.').collect();
    let mut forged = claims();
    forged["sub"] = json!("admin");
    let forged_payload = raw_token(&json!({}), &forged, b"");
    parts[1] = forged_payload.split('.').nth(1).unwrap();
    assert_eq!(v.verify(&parts.join(".")), Err(AuthError::BadSignature));
}

#[tokio::test]
async fn no_matching_key_kind_is_unknown_key() {
    let v = verifier(&[&es256_key().public_pem]).await;
    let err = v.verify(&sign(rsa_key(), &claims())).unwrap_err();
    assert_eq!(
        err,
        AuthError::UnknownKey {
            alg: "RS256",
            kid: None
        }
    );
}

#[tokio::test]
async fn expiry_is_enforced_with_leeway() {
    let key = es256_key();
    let v = Verifier::new(VerifierConfig {
        leeway_secs: 30,
        ..config(&[&key.public_pem])
    })
    .await
    .unwrap();
    let mut c = claims();
    c["exp"] = json!(now() - 10);
    v.verify(&sign(&key, &c)).expect("within leeway");
    c["exp"] = json!(now() - 120);
    let err = v.verify(&sign(&key, &c)).unwrap_err();
    assert!(matches!(err, AuthError::Expired { .. }), "{err:?}");
    assert!(err.to_string().contains("expired"), "{err}");
    c.as_object_mut().unwrap().remove("exp");
    assert_eq!(
        v.verify(&sign(&key, &c)),
        Err(AuthError::MissingClaim("exp"))
    );
    let mut c = claims();
    c["nbf"] = json!(now() + 3600);
    assert!(matches!(
        v.verify(&sign(&key, &c)),
        Err(AuthError::NotYetValid { .. })
    ));
}

#[tokio::test]
async fn audience_must_match_and_may_be_an_array() {
    let key = es256_key();
    let v = Verifier::new(VerifierConfig {
        audiences: vec![AUD.to_owned(), "localhost".to_owned()],
        ..config(&[&key.public_pem])
    })
    .await
    .unwrap();
    let mut c = claims();
    c["aud"] = json!("other.example.com");
    let err = v.verify(&sign(&key, &c)).unwrap_err();
    assert!(matches!(err, AuthError::WrongAudience { .. }), "{err:?}");
    let msg = err.to_string();
    assert!(
        msg.contains("other.example.com") && msg.contains("localhost"),
        "{msg}"
    );

    c["aud"] = json!(["other.example.com", "localhost"]);
    v.verify(&sign(&key, &c)).expect("one of the array matches");
    c["aud"] = json!(["a", "b"]);
    assert!(matches!(
        v.verify(&sign(&key, &c)),
        Err(AuthError::WrongAudience { .. })
    ));
    // With a port, as some clients would wrongly send it, it is another audience.
    c["aud"] = json!("localhost:8082");
    assert!(matches!(
        v.verify(&sign(&key, &c)),
        Err(AuthError::WrongAudience { .. })
    ));
    c.as_object_mut().unwrap().remove("aud");
    assert_eq!(
        v.verify(&sign(&key, &c)),
        Err(AuthError::MissingClaim("aud"))
    );
}

#[tokio::test]
async fn sub_and_iss_are_required() {
    let key = es256_key();
    let v = verifier(&[&key.public_pem]).await;
    for name in ["sub", "iss"] {
        let mut c = claims();
        c.as_object_mut().unwrap().remove(name);
        let err = v.verify(&sign(&key, &c)).unwrap_err();
        assert!(
            matches!(err, AuthError::MissingClaim(n) if n == name),
            "{name}: {err:?}"
        );
        assert!(err.to_string().contains(name));
    }
    let mut c = claims();
    c.as_object_mut().unwrap().remove("scope");
    assert!(v.verify(&sign(&key, &c)).unwrap().scopes.is_empty());
}

#[tokio::test]
async fn alg_none_and_hmac_are_refused() {
    let key = es256_key();
    let v = verifier(&[&key.public_pem, &rsa_key().public_pem]).await;

    let none = raw_token(&json!({"alg": "none", "typ": "JWT"}), &claims(), b"");
    assert_eq!(
        v.verify(&none),
        Err(AuthError::UnsupportedAlgorithm("none".to_owned()))
    );

    // The classic key-confusion attack: HMAC keyed with the (public) PEM text.
    for pem in [&key.public_pem, &rsa_key().public_pem] {
        let forged = jsonwebtoken::encode(
            &Header::new(Algorithm::HS256),
            &claims(),
            &EncodingKey::from_secret(pem.as_bytes()),
        )
        .unwrap();
        let err = v.verify(&forged).unwrap_err();
        assert_eq!(err, AuthError::UnsupportedAlgorithm("HS256".to_owned()));
        assert!(err.to_string().contains("RS256 or ES256"));
    }

    // An ES256 signature presented as RS256 (and vice versa) is not accepted either.
    let es = sign(&key, &claims());
    let mut parts: Vec<String> = es.split('.').map(str::to_owned).collect();
    parts[0] = raw_token(&json!({"alg": "RS256"}), &json!({}), b"")
        .split('.')
        .next()
        .unwrap()
        .to_owned();
    assert_eq!(v.verify(&parts.join(".")), Err(AuthError::BadSignature));
}

#[tokio::test]
async fn garbage_tokens_are_malformed() {
    let v = verifier(&[&es256_key().public_pem]).await;
    for token in ["", "abc", "a.b", "a.b.c", "e30.e30.e30.e30"] {
        let err = v.verify(token).unwrap_err();
        assert!(matches!(err, AuthError::Malformed(_)), "{token:?}: {err:?}");
    }
    // Valid header, undecodable payload: the signature is checked before the payload is
    // parsed, so nothing unauthenticated is ever decoded.
    let t = format!(
        "{}.%%%.AAAA",
        raw_token(&json!({"alg": "ES256"}), &json!({}), b"")
            .split('.')
            .next()
            .unwrap()
    );
    assert_eq!(v.verify(&t), Err(AuthError::BadSignature));
}

#[tokio::test]
async fn verifier_without_keys_refuses_everything_and_says_why() {
    let key = es256_key();
    let v = verifier(&[]).await;
    let err = v.verify(&sign(&key, &claims())).unwrap_err();
    assert_eq!(err, AuthError::NoKeysConfigured);
    assert!(err
        .to_string()
        .contains("no token verification keys are configured"));
}

#[tokio::test]
async fn configuration_errors() {
    let err = Verifier::new(VerifierConfig::default()).await.unwrap_err();
    assert!(matches!(err, ConfigError::NoAudience), "{err}");

    let err = Verifier::new(VerifierConfig {
        public_key_pems: vec!["/nonexistent/key.pem".into()],
        ..config(&[])
    })
    .await
    .unwrap_err();
    assert!(err.to_string().contains("/nonexistent/key.pem"), "{err}");

    let err = Verifier::new(config(&[&other_rsa_key().public_pem]))
        .await
        .unwrap_err();
    assert!(err.to_string().contains("at least 2048 bits"), "{err}");

    let err = Verifier::new(config(&["not a pem"])).await.unwrap_err();
    assert!(matches!(err, ConfigError::BadKey { .. }), "{err}");

    let err = Verifier::new(VerifierConfig {
        jwks_url: Some("ftp://example.com/jwks".into()),
        ..config(&[])
    })
    .await
    .unwrap_err();
    assert!(matches!(err, ConfigError::BadJwksUrl { .. }), "{err}");
}

#[tokio::test]
async fn verify_header_combines_bearer_parsing_and_verification() {
    let key = es256_key();
    let v = verifier(&[&key.public_pem]).await;
    let token = sign(&key, &claims());
    assert_eq!(
        v.verify_header(Some(&format!("Bearer {token}")))
            .unwrap()
            .sub,
        "uss1"
    );
    assert_eq!(v.verify_header(None), Err(AuthError::MissingHeader));
    assert_eq!(v.verify_header(Some(&token)), Err(AuthError::NotBearer));
}

#[tokio::test]
async fn a_token_verified_before_is_still_refused_once_it_expires() {
    let key = es256_key();
    let v = Verifier::new(VerifierConfig {
        leeway_secs: 0,
        ..config(&[&key.public_pem])
    })
    .await
    .unwrap();
    let mut c = claims();
    c["exp"] = json!(now() + 1);
    let token = sign(&key, &c);
    v.verify(&token).expect("valid now");
    // The second use is answered from the memory of verified signatures.
    v.verify(&token).expect("still valid");
    tokio::time::sleep(std::time::Duration::from_millis(2100)).await;
    assert!(matches!(v.verify(&token), Err(AuthError::Expired { .. })));
}
