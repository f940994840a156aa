//! Trusted verification keys: parsed once from PEM text or JWK entries into ready
//! `DecodingKey`s, so a request only pays for the signature check.

use jsonwebtoken::jwk::{AlgorithmParameters, EllipticCurve, Jwk, KeyAlgorithm, PublicKeyUse};
use jsonwebtoken::{Algorithm, DecodingKey};
use p256::pkcs8::DecodePublicKey;

use crate::error::ConfigError;

/// The two signature schemes F3548 deployments use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum KeyKind {
    /// RSA, used with RS256.
    Rsa,
    /// EC on P-256, used with ES256.
    EcP256,
}

impl KeyKind {
    pub(crate) fn algorithm(self) -> Algorithm {
        match self {
            KeyKind::Rsa => Algorithm::RS256,
            KeyKind::EcP256 => Algorithm::ES256,
        }
    }

    pub(crate) fn alg_name(self) -> &'static str {
        match self {
            KeyKind::Rsa => "RS256",
            KeyKind::EcP256 => "ES256",
        }
    }

    /// The key kind for a JWS `alg` header value, if it is one we accept.
    pub(crate) fn for_alg(alg: &str) -> Option<Self> {
        match alg {
            "RS256" => Some(KeyKind::Rsa),
            "ES256" => Some(KeyKind::EcP256),
            _ => None,
        }
    }
}

/// One key a token may be signed with.
#[derive(Clone)]
pub(crate) struct TrustedKey {
    /// Key id; `None` for PEM keys, which then match tokens with any `kid`.
    pub kid: Option<String>,
    pub kind: KeyKind,
    pub key: DecodingKey,
    /// Where the key came from, for logs.
    pub origin: String,
}

impl std::fmt::Debug for TrustedKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TrustedKey")
            .field("kid", &self.kid)
            .field("kind", &self.kind)
            .field("origin", &self.origin)
            .finish_non_exhaustive()
    }
}

/// Parses every PEM block in `text` (a file may hold several keys, e.g. during a rotation).
pub(crate) fn keys_from_pem(text: &str, origin: &str) -> Result<Vec<TrustedKey>, ConfigError> {
    let bad = |reason: String| ConfigError::BadKey {
        origin: origin.to_owned(),
        reason,
    };
    let blocks = pem_blocks(text);
    if blocks.is_empty() {
        return Err(bad(
            "no PEM block (-----BEGIN PUBLIC KEY-----) found".to_owned()
        ));
    }
    let mut keys = Vec::with_capacity(blocks.len());
    for (label, block) in blocks {
        let kind = match label {
            "PUBLIC KEY" => {
                if p256::PublicKey::from_public_key_pem(block).is_ok() {
                    KeyKind::EcP256
                } else {
                    KeyKind::Rsa
                }
            }
            "RSA PUBLIC KEY" => KeyKind::Rsa,
            "PRIVATE KEY" | "RSA PRIVATE KEY" | "EC PRIVATE KEY" | "ENCRYPTED PRIVATE KEY" => {
                return Err(bad(format!(
                    "this is a private key ({label}); configure the matching public key instead"
                )))
            }
            "CERTIFICATE" => {
                return Err(bad(
                    "certificates are not supported; extract the public key \
                     (e.g. `openssl x509 -pubkey -noout -in cert.pem`)"
                        .to_owned(),
                ))
            }
            other => {
                return Err(bad(format!(
                    "unsupported PEM block `{other}`; expected `PUBLIC KEY` or `RSA PUBLIC KEY`"
                )))
            }
        };
        let key = match kind {
            KeyKind::EcP256 => DecodingKey::from_ec_pem(block.as_bytes()),
            KeyKind::Rsa => DecodingKey::from_rsa_pem(block.as_bytes()),
        }
        .map_err(|e| {
            bad(format!(
                "not a usable RSA or EC P-256 public key ({e}); other curves are not supported"
            ))
        })?;
        if kind == KeyKind::Rsa {
            // jsonwebtoken only stores the DER here; parse it now so a broken key fails at
            // start-up instead of on every request.
            let jwk = Jwk::from_decoding_key(&key, Some(Algorithm::RS256))
                .map_err(|e| bad(format!("not a usable RSA public key: {e}")))?;
            if let AlgorithmParameters::RSA(p) = &jwk.algorithm {
                check_rsa_size(&p.n).map_err(bad)?;
            }
        }
        keys.push(TrustedKey {
            kid: None,
            kind,
            key,
            origin: origin.to_owned(),
        });
    }
    Ok(keys)
}

/// Splits `text` into `(label, block)` pairs, each block running from its BEGIN to its END line.
fn pem_blocks(text: &str) -> Vec<(&str, &str)> {
    const BEGIN: &str = "-----BEGIN ";
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find(BEGIN) {
        let after = &rest[start + BEGIN.len()..];
        let Some(label_end) = after.find("-----") else {
            break;
        };
        let label = &after[..label_end];
        let end_marker = format!("-----END {label}-----");
        let Some(end) = rest[start..].find(&end_marker) else {
            break;
        };
        let block_end = start + end + end_marker.len();
        out.push((label, &rest[start..block_end]));
        rest = &rest[block_end..];
    }
    out
}

/// Converts one JWK into a trusted key. `Ok(None)` means the entry is fine but not for us
/// (an encryption key, another algorithm or curve); `Err` means it claims to be usable but is
/// broken.
pub(crate) fn key_from_jwk(jwk: &Jwk, origin: &str) -> Result<Option<TrustedKey>, String> {
    if matches!(
        jwk.common.public_key_use,
        Some(PublicKeyUse::Encryption | PublicKeyUse::Other(_))
    ) {
        return Ok(None);
    }
    let wanted = match (&jwk.algorithm, jwk.common.key_algorithm) {
        (AlgorithmParameters::RSA(_), None | Some(KeyAlgorithm::RS256)) => KeyKind::Rsa,
        (AlgorithmParameters::EllipticCurve(p), None | Some(KeyAlgorithm::ES256))
            if p.curve == EllipticCurve::P256 =>
        {
            KeyKind::EcP256
        }
        _ => return Ok(None),
    };
    let key = match (&jwk.algorithm, wanted) {
        (AlgorithmParameters::EllipticCurve(p), KeyKind::EcP256) => {
            // Check the point is on the curve now rather than failing on every request.
            let x = b64url_decode(&p.x).map_err(|e| format!("bad `x`: {e}"))?;
            let y = b64url_decode(&p.y).map_err(|e| format!("bad `y`: {e}"))?;
            if x.len() != 32 || y.len() != 32 {
                return Err("P-256 coordinates must be 32 bytes each".to_owned());
            }
            let mut point = Vec::with_capacity(65);
            point.push(0x04);
            point.extend_from_slice(&x);
            point.extend_from_slice(&y);
            p256::PublicKey::from_sec1_bytes(&point)
                .map_err(|_| "the point is not on the P-256 curve".to_owned())?;
            DecodingKey::from_ec_der(&point)
        }
        (AlgorithmParameters::RSA(p), _) => {
            check_rsa_size(&p.n)?;
            DecodingKey::from_jwk(jwk).map_err(|e| e.to_string())?
        }
        _ => DecodingKey::from_jwk(jwk).map_err(|e| e.to_string())?,
    };
    Ok(Some(TrustedKey {
        kid: jwk.common.key_id.clone(),
        kind: wanted,
        key,
        origin: origin.to_owned(),
    }))
}

/// RSA moduli shorter than this are refused (NIST SP 800-131A disallows them for signatures).
const MIN_RSA_BITS: usize = 2048;

fn check_rsa_size(n_b64: &str) -> Result<(), String> {
    let n = b64url_decode(n_b64).map_err(|e| format!("bad RSA modulus: {e}"))?;
    let significant = n.iter().skip_while(|b| **b == 0).count();
    if significant * 8 < MIN_RSA_BITS {
        return Err(format!(
            "RSA key of about {} bits is too short; at least {MIN_RSA_BITS} bits are required",
            significant * 8
        ));
    }
    Ok(())
}

fn b64url_decode(s: &str) -> Result<Vec<u8>, base64::DecodeError> {
    use base64::Engine as _;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(s.trim_end_matches('='))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pem_blocks_splits_several_and_ignores_text_around() {
        let text = "comment\n-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n\
                    junk\n-----BEGIN RSA PUBLIC KEY-----\nBBBB\n-----END RSA PUBLIC KEY-----\n";
        let blocks = pem_blocks(text);
        assert_eq!(blocks.len(), 2);
        assert_eq!(blocks[0].0, "PUBLIC KEY");
        assert!(blocks[0].1.ends_with("-----END PUBLIC KEY-----"));
        assert_eq!(blocks[1].0, "RSA PUBLIC KEY");
    }

    #[test]
    fn private_keys_and_garbage_are_refused_with_a_reason() {
        let err = keys_from_pem(
            "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n",
            "k.pem",
        )
        .unwrap_err();
        assert!(err.to_string().contains("private key"), "{err}");
        let err = keys_from_pem("hello", "k.pem").unwrap_err();
        assert!(err.to_string().contains("no PEM block"), "{err}");
        let err = keys_from_pem(
            "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n",
            "k.pem",
        )
        .unwrap_err();
        assert!(err.to_string().starts_with("k.pem: "), "{err}");
    }
}
