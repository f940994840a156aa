//! Signed checkpoints (C2SP tlog-checkpoint in a C2SP signed note) and the instance's Ed25519
//! key, through the `tlog_tiles` and `signed_note` crates. A checkpoint is
//!
//! ```text
//! <origin>
//! <tree size>
//! <base64 root hash>
//!
//! — <key name> <base64 of 4-byte key id and 64-byte Ed25519 signature>
//! ```
//!
//! The key name is the origin. Keys are kept in signed-note's text forms: the private
//! `PRIVATE+KEY+<name>+<id>+<base64>` and the public (verifier) `<name>+<id>+<base64>`.

use crate::log::Log;
use crate::storage::LogStorage;
use base64::prelude::*;
use signed_note::{Note, StandardSigner, StandardVerifier, VerifierList};
use std::future::Future;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;
use tlog_tiles::{Checkpoint, Hash};

/// Why a key or a checkpoint is not usable.
#[derive(Debug, thiserror::Error)]
pub enum CheckpointError {
    #[error("the key is malformed: {0}")]
    Key(String),
    #[error("the origin {0:?} is not a valid key name (non-empty, no spaces, no '+')")]
    Origin(String),
    #[error("reading or writing the key file {path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
    #[error("not a signed note: {0}")]
    Note(String),
    #[error("the signature does not verify with the log's key: {0}")]
    Signature(String),
    #[error("not a checkpoint (origin, size, base64 root hash)")]
    Malformed,
    #[error("the checkpoint's origin {found:?} is not the log's ({expected:?})")]
    WrongOrigin { found: String, expected: String },
}

/// The instance's signing key for checkpoints.
#[derive(Clone)]
pub struct LogKey {
    signer: StandardSigner,
    origin: String,
    vkey: String,
}

impl LogKey {
    /// A new random key for `origin`.
    pub fn generate(origin: &str) -> Result<(Self, String), CheckpointError> {
        if !signed_note::is_key_name_valid(origin) {
            return Err(CheckpointError::Origin(origin.into()));
        }
        let (skey, _) = signed_note::generate_key(&mut rand_core::OsRng, origin);
        Ok((Self::from_private(&skey)?, skey))
    }

    /// The key in its private text form.
    pub fn from_private(skey: &str) -> Result<Self, CheckpointError> {
        let signer =
            StandardSigner::new(skey.trim()).map_err(|e| CheckpointError::Key(e.to_string()))?;
        // signed_note does not expose the public half: derive it from the key bytes.
        let mut parts = skey.trim().splitn(5, '+');
        let (origin, b64) = (
            parts.nth(2).unwrap_or_default(),
            parts.nth(1).unwrap_or_default(),
        );
        let raw = BASE64_STANDARD
            .decode(b64)
            .map_err(|e| CheckpointError::Key(e.to_string()))?;
        let secret: [u8; 32] = raw
            .get(1..)
            .and_then(|s| s.try_into().ok())
            .ok_or_else(|| CheckpointError::Key("not an Ed25519 key".into()))?;
        let public = ed25519_dalek::SigningKey::from_bytes(&secret).verifying_key();
        Ok(Self {
            signer,
            origin: origin.to_string(),
            vkey: signed_note::new_ed25519_verifier_key(origin, &public),
        })
    }

    /// The key kept in the file at `path`, created (readable by its owner only) if missing.
    pub fn load_or_create(path: &Path, origin: &str) -> Result<Self, CheckpointError> {
        let io = |source| CheckpointError::Io {
            path: path.display().to_string(),
            source,
        };
        match std::fs::read_to_string(path) {
            Ok(skey) => {
                let key = Self::from_private(&skey)?;
                if key.origin != origin {
                    return Err(CheckpointError::WrongOrigin {
                        found: key.origin,
                        expected: origin.into(),
                    });
                }
                Ok(key)
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let (key, skey) = Self::generate(origin)?;
                if let Some(dir) = path.parent() {
                    std::fs::create_dir_all(dir).map_err(io)?;
                }
                // Written whole under a temporary name, then linked into place, which fails if
                // another process (an instance of a pool sharing the folder) got there first:
                // then its key is the one.
                let nonce = rand_core::RngCore::next_u64(&mut rand_core::OsRng);
                let tmp = path.with_extension(format!("tmp-{nonce:016x}"));
                let mut opts = std::fs::OpenOptions::new();
                opts.write(true).create(true).truncate(true);
                #[cfg(unix)]
                std::os::unix::fs::OpenOptionsExt::mode(&mut opts, 0o600);
                let mut f = opts.open(&tmp).map_err(io)?;
                std::io::Write::write_all(&mut f, format!("{skey}\n").as_bytes()).map_err(io)?;
                f.sync_all().map_err(io)?;
                let linked = std::fs::hard_link(&tmp, path);
                let _ = std::fs::remove_file(&tmp);
                match linked {
                    Ok(()) => Ok(key),
                    Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                        Self::load_or_create(path, origin)
                    }
                    Err(e) => Err(io(e)),
                }
            }
            Err(e) => Err(io(e)),
        }
    }

    /// The checkpoints' origin line and the key's name.
    pub fn origin(&self) -> &str {
        &self.origin
    }

    /// The public key in signed-note verifier form (`<name>+<id>+<base64>`), for verifiers.
    pub fn verifier_key(&self) -> &str {
        &self.vkey
    }

    /// Signs a checkpoint of a tree of `size` entries with root `root`.
    pub fn sign(&self, size: u64, root: Hash) -> Result<SignedCheckpoint, CheckpointError> {
        let cp = Checkpoint::new(&self.origin, size, root, "")
            .map_err(|_| CheckpointError::Origin(self.origin.clone()))?;
        let mut note =
            Note::new(&cp.to_bytes(), &[]).map_err(|e| CheckpointError::Note(e.to_string()))?;
        note.add_sigs(&[&self.signer])
            .map_err(|e| CheckpointError::Signature(e.to_string()))?;
        let note = String::from_utf8(note.to_bytes()).map_err(|_| CheckpointError::Malformed)?;
        Ok(SignedCheckpoint {
            origin: self.origin.clone(),
            size,
            root,
            note,
        })
    }
}

/// A checkpoint whose signature was made or verified with the log's key.
#[derive(Debug, Clone, PartialEq)]
pub struct SignedCheckpoint {
    pub origin: String,
    pub size: u64,
    pub root: Hash,
    /// The whole signed note, as served and kept.
    pub note: String,
}

impl SignedCheckpoint {
    /// Verifies a signed note with the verifier key `vkey` and reads the checkpoint in it.
    pub fn open(note: &str, vkey: &str) -> Result<Self, CheckpointError> {
        let verifier =
            StandardVerifier::new(vkey).map_err(|e| CheckpointError::Key(e.to_string()))?;
        let origin = signed_note::Verifier::name(&verifier).to_string();
        let parsed =
            Note::from_bytes(note.as_bytes()).map_err(|e| CheckpointError::Note(e.to_string()))?;
        parsed
            .verify(&VerifierList::new(vec![Box::new(verifier)]))
            .map_err(|e| CheckpointError::Signature(e.to_string()))?;
        let cp = Checkpoint::from_bytes(parsed.text()).map_err(|_| CheckpointError::Malformed)?;
        if cp.origin() != origin {
            return Err(CheckpointError::WrongOrigin {
                found: cp.origin().into(),
                expected: origin,
            });
        }
        Ok(Self {
            origin,
            size: cp.size(),
            root: *cp.hash(),
            note: note.to_string(),
        })
    }
}

/// Signs a checkpoint every `every` while the log has grown since the last one, until
/// `shutdown` completes. The server runs it as a task; failures are logged and retried.
pub async fn run_checkpointer<S: LogStorage>(
    log: Arc<Log<S>>,
    key: LogKey,
    every: Duration,
    shutdown: impl Future<Output = ()>,
) {
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            _ = &mut shutdown => return,
            _ = tick.tick() => {}
        }
        let (log, key) = (log.clone(), key.clone());
        match tokio::task::spawn_blocking(move || log.checkpoint_if_new(&key)).await {
            Ok(Ok(Some(cp))) => tracing::debug!(size = cp.size, "log checkpoint signed"),
            Ok(Ok(None)) => {}
            Ok(Err(e)) => tracing::warn!(error = %e, "signing a log checkpoint failed"),
            Err(e) => tracing::warn!(error = %e, "the log checkpointer's task failed"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // The example key and note of Go's golang.org/x/mod/sumdb/note documentation (the
    // signed-note format's reference implementation).
    const SKEY: &str =
        "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz";
    const VKEY: &str = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW";

    #[test]
    fn the_published_example_key_gives_the_published_public_key_and_signature() {
        let key = LogKey::from_private(SKEY).unwrap();
        assert_eq!(key.verifier_key(), VKEY);
        assert_eq!(key.origin(), "PeterNeumann");
        let text = "If you think cryptography is the answer to your problem,\n\
                    then you don't know what your problem is.\n";
        let mut n = Note::new(text.as_bytes(), &[]).unwrap();
        n.add_sigs(&[&key.signer]).unwrap();
        assert_eq!(
            String::from_utf8(n.to_bytes()).unwrap(),
            format!(
                "{text}\n— PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n"
            )
        );
    }

    #[test]
    fn checkpoints_round_trip_and_any_change_is_refused() {
        let (key, skey) = LogKey::generate("deconflict.example/log").unwrap();
        assert!(skey.starts_with("PRIVATE+KEY+deconflict.example/log+"));
        let root = tlog_tiles::record_hash(b"x");
        let cp = key.sign(42, root).unwrap();
        let lines: Vec<&str> = cp.note.lines().collect();
        assert_eq!(lines[0], "deconflict.example/log");
        assert_eq!(lines[1], "42");
        assert_eq!(lines[2], root.to_string());
        assert_eq!(lines[3], "");
        assert!(lines[4].starts_with("— deconflict.example/log "));
        // 4-byte key id + 64-byte signature.
        let sig = BASE64_STANDARD
            .decode(lines[4].rsplit(' ').next().unwrap())
            .unwrap();
        assert_eq!(sig.len(), 68);
        assert_eq!(&key.verifier_key()[23..31], &hex_id(&sig[..4]));

        assert_eq!(
            SignedCheckpoint::open(&cp.note, key.verifier_key()).unwrap(),
            cp
        );
        let forged = cp.note.replace("\n42\n", "\n43\n");
        assert!(matches!(
            SignedCheckpoint::open(&forged, key.verifier_key()),
            Err(CheckpointError::Signature(_))
        ));
        let (other, _) = LogKey::generate("deconflict.example/log").unwrap();
        assert!(SignedCheckpoint::open(&cp.note, other.verifier_key()).is_err());
        assert!(LogKey::generate("has space").is_err());
    }

    fn hex_id(b: &[u8]) -> String {
        b.iter().map(|x| format!("{x:02x}")).collect()
    }

    #[test]
    fn the_key_file_is_created_once_then_reused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("keys/log.key");
        let a = LogKey::load_or_create(&path, "o.example").unwrap();
        let b = LogKey::load_or_create(&path, "o.example").unwrap();
        assert_eq!(a.verifier_key(), b.verifier_key());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        assert!(matches!(
            LogKey::load_or_create(&path, "other.example"),
            Err(CheckpointError::WrongOrigin { .. })
        ));
    }

    #[test]
    fn processes_racing_to_make_the_key_end_with_one_key() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("log.key");
        let keys: Vec<String> = std::thread::scope(|s| {
            let racers: Vec<_> = (0..8)
                .map(|_| s.spawn(|| LogKey::load_or_create(&path, "o.example").unwrap()))
                .collect();
            racers
                .into_iter()
                .map(|r| r.join().unwrap().verifier_key().to_string())
                .collect()
        });
        assert!(keys.iter().all(|k| k == &keys[0]), "{keys:?}");
        assert_eq!(
            std::fs::read_dir(dir.path()).unwrap().count(),
            1,
            "no temporary file left"
        );
    }
}
