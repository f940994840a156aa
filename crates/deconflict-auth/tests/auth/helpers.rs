//! Key generation and token minting shared by the tests.

use std::sync::OnceLock;
use std::time::{SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use deconflict_auth::{Verifier, VerifierConfig};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use p256::pkcs8::{EncodePrivateKey, EncodePublicKey, LineEnding};
use serde_json::{json, Value};

pub const AUD: &str = "dss.example.com";

/// A signing key with its public half as PEM.
pub struct TestKey {
    pub alg: Algorithm,
    pub encoding: EncodingKey,
    pub public_pem: String,
    /// For RSA, the PKCS#1 (`RSA PUBLIC KEY`) form as well.
    pub public_pem_pkcs1: Option<String>,
}

pub fn es256_key() -> TestKey {
    let secret = p256::SecretKey::random(&mut rand_core::OsRng);
    let der = secret.to_pkcs8_der().unwrap();
    TestKey {
        alg: Algorithm::ES256,
        encoding: EncodingKey::from_ec_der(der.as_bytes()),
        public_pem: secret
            .public_key()
            .to_public_key_pem(LineEnding::LF)
            .unwrap(),
        public_pem_pkcs1: None,
    }
}

/// RSA key generation is slow in debug builds, so the tests share one 2048-bit key and a
/// second, smaller one used only as "some other RSA key".
pub fn rsa_key() -> &'static TestKey {
    static KEY: OnceLock<TestKey> = OnceLock::new();
    KEY.get_or_init(|| make_rsa(2048))
}

pub fn other_rsa_key() -> &'static TestKey {
    static KEY: OnceLock<TestKey> = OnceLock::new();
    KEY.get_or_init(|| make_rsa(1024))
}

fn make_rsa(bits: usize) -> TestKey {
    use rsa::pkcs1::{EncodeRsaPrivateKey, EncodeRsaPublicKey};
    use rsa::pkcs8::EncodePublicKey as _;
    let private = rsa::RsaPrivateKey::new(&mut rand_core::OsRng, bits).unwrap();
    let public = private.to_public_key();
    let pkcs1 = private.to_pkcs1_pem(LineEnding::LF).unwrap();
    TestKey {
        alg: Algorithm::RS256,
        encoding: EncodingKey::from_rsa_pem(pkcs1.as_bytes()).unwrap(),
        public_pem: public.to_public_key_pem(LineEnding::LF).unwrap(),
        public_pem_pkcs1: Some(public.to_pkcs1_pem(LineEnding::LF).unwrap()),
    }
}

pub fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

/// A complete, valid claim set for [`AUD`]; tests remove or change fields.
pub fn claims() -> Value {
    json!({
        "sub": "uss1",
        "iss": "https://auth.example.com",
        "aud": AUD,
        "exp": now() + 600,
        "iat": now(),
        "scope": "utm.strategic_coordination utm.constraint_processing",
    })
}

pub fn sign(key: &TestKey, claims: &Value) -> String {
    sign_with_kid(key, None, claims)
}

pub fn sign_with_kid(key: &TestKey, kid: Option<&str>, claims: &Value) -> String {
    let mut header = Header::new(key.alg);
    header.kid = kid.map(str::to_owned);
    jsonwebtoken::encode(&header, claims, &key.encoding).unwrap()
}

/// A token with an arbitrary header and signature, for attacks the libraries refuse to sign.
pub fn raw_token(header: &Value, claims: &Value, signature: &[u8]) -> String {
    let b64 = |b: &[u8]| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b);
    format!(
        "{}.{}.{}",
        b64(header.to_string().as_bytes()),
        b64(claims.to_string().as_bytes()),
        b64(signature)
    )
}

pub fn config(pems: &[&str]) -> VerifierConfig {
    VerifierConfig {
        audiences: vec![AUD.to_owned()],
        extra_keys_pem: pems.iter().map(|p| (*p).to_owned()).collect(),
        ..VerifierConfig::default()
    }
}

pub async fn verifier(pems: &[&str]) -> Verifier {
    Verifier::new(config(pems)).await.unwrap()
}
