//! Acknowledgments signed by the acknowledging party itself, so that the log proves the party
//! acknowledged, not just that the server says so. The party signs, with its own Ed25519 key
//! (registered with its role), the bytes `deconflict-ack/1\n` followed by the canonical
//! acknowledgment record without its `signature`; the log keeps the record with the signature
//! in `body.signature` (base64), so anyone holding the party's public key checks it offline.

use crate::record::{Kind, Record, RecordError};
use base64::prelude::*;
use ed25519_dalek::{Signature, Signer, SigningKey, Verifier, VerifyingKey};
use serde_json::Value;

const DOMAIN: &[u8] = b"deconflict-ack/1\n";

/// Why an acknowledgment does not verify.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum AckError {
    #[error("a signed acknowledgment must be a record of kind acknowledgment, not {0}")]
    Kind(&'static str),
    #[error("body.signature: {0}")]
    Signature(String),
    #[error("the record is from party {record:?}, the key is party {key:?}'s")]
    WrongParty { record: String, key: String },
    #[error("the signature does not verify with party {0:?}'s key")]
    Invalid(String),
    #[error("party key: {0}")]
    Key(String),
    #[error(transparent)]
    Record(#[from] RecordError),
}

/// A party's registered public key.
#[derive(Debug, Clone, PartialEq)]
pub struct PartyKey {
    pub party: String,
    pub key: VerifyingKey,
}

impl PartyKey {
    /// From the key's 32 bytes in standard base64.
    pub fn from_base64(party: &str, key: &str) -> Result<Self, AckError> {
        let raw = BASE64_STANDARD
            .decode(key.trim())
            .map_err(|e| AckError::Key(e.to_string()))?;
        let bytes: [u8; 32] = raw
            .try_into()
            .map_err(|_| AckError::Key("an Ed25519 public key is 32 bytes".into()))?;
        let key = VerifyingKey::from_bytes(&bytes).map_err(|e| AckError::Key(e.to_string()))?;
        Ok(Self {
            party: party.into(),
            key,
        })
    }

    pub fn to_base64(&self) -> String {
        BASE64_STANDARD.encode(self.key.as_bytes())
    }
}

/// An acknowledgment record carrying its party's signature.
#[derive(Debug, Clone, PartialEq)]
pub struct SignedAck {
    record: Record,
}

fn signed_bytes(unsigned: &Record) -> Result<Vec<u8>, RecordError> {
    let mut m = DOMAIN.to_vec();
    m.extend(unsigned.to_bytes()?);
    Ok(m)
}

impl SignedAck {
    /// Signs an acknowledgment record (its `party` must be the signer's) with the party's key.
    pub fn sign(mut record: Record, key: &SigningKey) -> Result<Self, AckError> {
        if record.kind != Kind::Acknowledgment {
            return Err(AckError::Kind(record.kind.as_str()));
        }
        record.body.remove("signature");
        let sig = key.sign(&signed_bytes(&record)?);
        record.body.insert(
            "signature".into(),
            Value::from(BASE64_STANDARD.encode(sig.to_bytes())),
        );
        Ok(Self { record })
    }

    /// A signed acknowledgment as the log keeps it (not yet verified: see [`SignedAck::verify`]).
    pub fn from_record(record: Record) -> Result<Self, AckError> {
        if record.kind != Kind::Acknowledgment {
            return Err(AckError::Kind(record.kind.as_str()));
        }
        if !matches!(record.body.get("signature"), Some(Value::String(_))) {
            return Err(AckError::Signature("required (a base64 string)".into()));
        }
        Ok(Self { record })
    }

    /// The record to append to the log.
    pub fn record(&self) -> &Record {
        &self.record
    }

    /// Checks that `key`'s party made this acknowledgment, as it stands.
    pub fn verify(&self, key: &PartyKey) -> Result<(), AckError> {
        if self.record.party != key.party {
            return Err(AckError::WrongParty {
                record: self.record.party.clone(),
                key: key.party.clone(),
            });
        }
        let mut unsigned = self.record.clone();
        let sig = match unsigned.body.remove("signature") {
            Some(Value::String(s)) => s,
            _ => return Err(AckError::Signature("required (a base64 string)".into())),
        };
        let raw = BASE64_STANDARD
            .decode(&sig)
            .map_err(|e| AckError::Signature(e.to_string()))?;
        let sig = Signature::from_slice(&raw).map_err(|e| AckError::Signature(e.to_string()))?;
        key.key
            .verify(&signed_bytes(&unsigned)?, &sig)
            .map_err(|_| AckError::Invalid(key.party.clone()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Map;

    fn ack(party: &str) -> Record {
        let mut body = Map::new();
        body.insert("notification".into(), "n-17".into());
        body.insert("notification_entry".into(), 41.into());
        Record {
            kind: Kind::Acknowledgment,
            time: "2026-11-27T21:00:00Z".into(),
            party: party.into(),
            subject: "site-9".into(),
            body,
        }
    }

    fn party(seed: u8) -> (SigningKey, PartyKey) {
        let sk = SigningKey::from_bytes(&[seed; 32]);
        let pk = PartyKey::from_base64(
            "bravo",
            &BASE64_STANDARD.encode(sk.verifying_key().as_bytes()),
        )
        .unwrap();
        (sk, pk)
    }

    #[test]
    fn the_party_key_verifies_its_own_acknowledgment_through_the_log_form() {
        let (sk, pk) = party(7);
        let signed = SignedAck::sign(ack("bravo"), &sk).unwrap();
        signed.verify(&pk).unwrap();
        // As read back from the log: canonical bytes, decoded again.
        let bytes = signed.record().to_bytes().unwrap();
        let again = SignedAck::from_record(Record::from_bytes(&bytes).unwrap()).unwrap();
        again.verify(&pk).unwrap();
        assert_eq!(PartyKey::from_base64("bravo", &pk.to_base64()).unwrap(), pk);
    }

    #[test]
    fn another_key_a_changed_field_or_another_party_is_refused() {
        let (sk, pk) = party(7);
        let (_, other) = party(8);
        let signed = SignedAck::sign(ack("bravo"), &sk).unwrap();
        assert_eq!(
            signed.verify(&other),
            Err(AckError::Invalid("bravo".into()))
        );

        let mut changed = signed.record().clone();
        changed.time = "2026-11-27T21:00:01Z".into();
        assert_eq!(
            SignedAck::from_record(changed).unwrap().verify(&pk),
            Err(AckError::Invalid("bravo".into()))
        );

        let by_alpha = SignedAck::sign(ack("alpha"), &sk).unwrap();
        assert!(matches!(
            by_alpha.verify(&pk),
            Err(AckError::WrongParty { .. })
        ));

        let mut unsigned = ack("bravo");
        assert!(SignedAck::from_record(unsigned.clone()).is_err());
        unsigned.kind = Kind::Incident;
        assert_eq!(
            SignedAck::sign(unsigned, &sk),
            Err(AckError::Kind("incident"))
        );
    }
}
