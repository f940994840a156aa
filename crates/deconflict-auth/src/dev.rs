//! [`DevKeys`]: a local ES256 key pair for trying the DSS out, kept as PEM files under
//! `<data_dir>/dev-keys/` and created on first use, with which dev tokens are minted.
//!
//! Nothing here is for production: whoever can read the data directory can mint tokens.

use std::fs;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::time::Duration;

use jsonwebtoken::jwk::{
    AlgorithmParameters, CommonParameters, EllipticCurve, EllipticCurveKeyParameters,
    EllipticCurveKeyType, Jwk, JwkSet, KeyAlgorithm, PublicKeyUse, ThumbprintHash,
};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use p256::pkcs8::{DecodePrivateKey, EncodePrivateKey, EncodePublicKey, LineEnding};

use crate::error::ConfigError;
use crate::verifier::now_unix;

/// Audiences the server accepts in `--dev` mode.
pub const DEV_AUDIENCES: [&str; 2] = ["localhost", "127.0.0.1"];
/// Issuer put in dev tokens when none is given.
pub const DEV_ISSUER: &str = "deconflict-dev";

const DIR_NAME: &str = "dev-keys";
const PRIVATE_FILE: &str = "es256-private.pem";
const PUBLIC_FILE: &str = "es256-public.pem";

/// A persistent ES256 (P-256) key pair that signs dev tokens.
pub struct DevKeys {
    dir: PathBuf,
    encoding: EncodingKey,
    public_pem: String,
    jwk: Jwk,
    kid: String,
}

impl std::fmt::Debug for DevKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DevKeys")
            .field("dir", &self.dir)
            .field("kid", &self.kid)
            .finish_non_exhaustive()
    }
}

impl DevKeys {
    /// Loads the key pair from `data_dir/dev-keys/`, creating it (private key mode 0600) if
    /// absent. Safe against a concurrent first start: the loser of the race loads the winner's
    /// key instead of overwriting it.
    pub fn load_or_create(data_dir: &Path) -> Result<Self, ConfigError> {
        let dir = data_dir.join(DIR_NAME);
        create_private_dir(&dir)?;
        let private_path = dir.join(PRIVATE_FILE);
        let secret = match fs::read_to_string(&private_path) {
            Ok(text) => {
                tighten_permissions(&private_path)?;
                parse_private_key(&text, &private_path)?
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                create_private_key(&dir, &private_path)?
            }
            Err(e) => return Err(ConfigError::io(&private_path, e)),
        };
        let keys = Self::from_secret(dir, &secret)?;
        keys.write_public_file()?;
        Ok(keys)
    }

    fn from_secret(dir: PathBuf, secret: &p256::SecretKey) -> Result<Self, ConfigError> {
        let bad = |reason: String| ConfigError::BadKey {
            origin: dir.join(PRIVATE_FILE).display().to_string(),
            reason,
        };
        let der = secret
            .to_pkcs8_der()
            .map_err(|e| bad(format!("cannot encode the key: {e}")))?;
        let encoding = EncodingKey::from_ec_der(der.as_bytes());
        let public = secret.public_key();
        let public_pem = public
            .to_public_key_pem(LineEnding::LF)
            .map_err(|e| bad(format!("cannot encode the public key: {e}")))?;
        let point = p256::EncodedPoint::from(public);
        let (Some(x), Some(y)) = (point.x(), point.y()) else {
            return Err(bad("public key has no affine coordinates".to_owned()));
        };
        let mut jwk = Jwk {
            common: CommonParameters {
                public_key_use: Some(PublicKeyUse::Signature),
                key_algorithm: Some(KeyAlgorithm::ES256),
                ..CommonParameters::default()
            },
            algorithm: AlgorithmParameters::EllipticCurve(EllipticCurveKeyParameters {
                key_type: EllipticCurveKeyType::EC,
                curve: EllipticCurve::P256,
                x: b64url(x),
                y: b64url(y),
            }),
        };
        // The RFC 7638 thumbprint is a stable, content-derived key id.
        let kid = jwk
            .thumbprint(ThumbprintHash::SHA256)
            .map_err(|e| bad(format!("cannot compute the key id: {e}")))?;
        jwk.common.key_id = Some(kid.clone());
        Ok(DevKeys {
            dir,
            encoding,
            public_pem,
            jwk,
            kid,
        })
    }

    /// The public key as an SPKI PEM (`-----BEGIN PUBLIC KEY-----`), for
    /// [`crate::VerifierConfig::extra_keys_pem`].
    pub fn public_pem(&self) -> &str {
        &self.public_pem
    }

    /// The key id put in every dev token's header (the key's RFC 7638 thumbprint).
    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// The public key as a JWK (with `kid`, `use: sig`, `alg: ES256`).
    pub fn jwk(&self) -> &Jwk {
        &self.jwk
    }

    /// A JWKS holding just the public key, as served by the dev OAuth router.
    pub fn jwks(&self) -> JwkSet {
        JwkSet {
            keys: vec![self.jwk.clone()],
        }
    }

    /// The directory holding the PEM files.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Mints a token valid for `lifetime` from now.
    ///
    /// ```no_run
    /// # use std::time::Duration;
    /// # let keys = deconflict_auth::DevKeys::load_or_create(std::path::Path::new("data")).unwrap();
    /// let token = keys.sign("uss1", ["utm.strategic_coordination"], "localhost", "deconflict-dev",
    ///                       Duration::from_secs(3600));
    /// ```
    pub fn sign<I, S>(
        &self,
        sub: &str,
        scopes: I,
        audience: &str,
        issuer: &str,
        lifetime: Duration,
    ) -> String
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let lifetime = i64::try_from(lifetime.as_secs()).unwrap_or(i64::MAX);
        self.sign_until(
            sub,
            scopes,
            audience,
            issuer,
            now_unix().saturating_add(lifetime),
        )
    }

    /// Mints a token expiring at `expires_at` (Unix seconds).
    pub fn sign_until<I, S>(
        &self,
        sub: &str,
        scopes: I,
        audience: &str,
        issuer: &str,
        expires_at: i64,
    ) -> String
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        #[derive(serde::Serialize)]
        struct DevClaims<'a> {
            sub: &'a str,
            iss: &'a str,
            aud: &'a str,
            scope: String,
            iat: i64,
            exp: i64,
        }
        let scope = scopes
            .into_iter()
            .map(|s| s.as_ref().trim().to_owned())
            .filter(|s| !s.is_empty())
            .collect::<Vec<_>>()
            .join(" ");
        let claims = DevClaims {
            sub,
            iss: issuer,
            aud: audience,
            scope,
            iat: now_unix(),
            exp: expires_at,
        };
        let mut header = Header::new(Algorithm::ES256);
        header.kid = Some(self.kid.clone());
        // Serializing this struct and ECDSA signing with a key that parsed at load time cannot
        // fail; a panic here would be a bug in jsonwebtoken, not a runtime condition.
        #[allow(clippy::expect_used)]
        jsonwebtoken::encode(&header, &claims, &self.encoding)
            .expect("signing with the loaded dev key cannot fail")
    }

    /// Writes the public PEM next to the private key if it is missing or stale, so it can be
    /// handed to another process (e.g. a separately started DSS) with `--public-key`.
    fn write_public_file(&self) -> Result<(), ConfigError> {
        let path = self.dir.join(PUBLIC_FILE);
        if fs::read_to_string(&path).is_ok_and(|current| current == self.public_pem) {
            return Ok(());
        }
        let tmp = self
            .dir
            .join(format!(".{PUBLIC_FILE}.{}.tmp", std::process::id()));
        fs::write(&tmp, &self.public_pem).map_err(|e| ConfigError::io(&tmp, e))?;
        fs::rename(&tmp, &path).map_err(|e| ConfigError::io(&path, e))
    }
}

fn b64url(bytes: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

fn parse_private_key(text: &str, path: &Path) -> Result<p256::SecretKey, ConfigError> {
    p256::SecretKey::from_pkcs8_pem(text)
        .or_else(|_| p256::SecretKey::from_sec1_pem(text))
        .map_err(|e| ConfigError::BadKey {
            origin: path.display().to_string(),
            reason: format!(
                "not a P-256 private key in PEM ({e}); delete it to have a new one created"
            ),
        })
}

/// Generates a key and publishes it with a hard link from a private temporary file, which
/// fails if another process created the key first; that key is then used instead.
fn create_private_key(dir: &Path, path: &Path) -> Result<p256::SecretKey, ConfigError> {
    let secret = p256::SecretKey::random(&mut rand_core::OsRng);
    let pem = secret
        .to_pkcs8_pem(LineEnding::LF)
        .map_err(|e| ConfigError::BadKey {
            origin: path.display().to_string(),
            reason: format!("cannot encode the new key: {e}"),
        })?;
    let tmp = dir.join(format!(".{PRIVATE_FILE}.{}.tmp", std::process::id()));
    let _ = fs::remove_file(&tmp);
    let written = write_private_file(&tmp, pem.as_bytes());
    let linked = written.and_then(|()| fs::hard_link(&tmp, path));
    let _ = fs::remove_file(&tmp);
    match linked {
        Ok(()) => {
            tracing::info!(path = %path.display(), "created a new dev signing key");
            Ok(secret)
        }
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            let text = fs::read_to_string(path).map_err(|e| ConfigError::io(path, e))?;
            parse_private_key(&text, path)
        }
        Err(e) => Err(ConfigError::io(path, e)),
    }
}

fn write_private_file(path: &Path, contents: &[u8]) -> std::io::Result<()> {
    let mut options = fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        options.mode(0o600);
    }
    let mut file = options.open(path)?;
    file.write_all(contents)?;
    file.sync_all()
}

fn create_private_dir(dir: &Path) -> Result<(), ConfigError> {
    let mut builder = fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt as _;
        builder.mode(0o700);
    }
    builder.create(dir).map_err(|e| ConfigError::io(dir, e))
}

/// A private key readable by others is fixed rather than refused: it is a dev key, and the
/// likely cause is a copy or an archive extraction that dropped the mode.
fn tighten_permissions(path: &Path) -> Result<(), ConfigError> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let meta = fs::metadata(path).map_err(|e| ConfigError::io(path, e))?;
        if meta.permissions().mode() & 0o077 != 0 {
            tracing::warn!(path = %path.display(), "dev private key was readable by others; setting mode 0600");
            fs::set_permissions(path, fs::Permissions::from_mode(0o600))
                .map_err(|e| ConfigError::io(path, e))?;
        }
    }
    #[cfg(not(unix))]
    let _ = path;
    Ok(())
}
