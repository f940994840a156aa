//! USS availability: who is marked Down may not commit or delete deconflicted intents.

use super::Caller;
use crate::error::{DssError, Result};
use crate::ids::random_token;
use crate::model::{Availability, UssAvailability};
use crate::store::{Change, ReadTx, Tx};
use crate::wire;

fn response(a: &UssAvailability) -> wire::UssAvailabilityStatusResponse {
    wire::UssAvailabilityStatusResponse {
        status: wire::UssAvailabilityStatus {
            uss: a.uss.clone(),
            availability: a.availability.as_str().to_owned(),
        },
        version: a.version.clone(),
    }
}

/// A USS never set is Unknown, at version "".
pub fn get(tx: &dyn ReadTx, uss: &str) -> Result<wire::UssAvailabilityStatusResponse> {
    let a = tx.availability(uss)?.unwrap_or_else(|| UssAvailability {
        uss: uss.to_owned(),
        availability: Availability::Unknown,
        version: String::new(),
    });
    Ok(response(&a))
}

pub fn set(
    tx: &mut dyn Tx,
    _caller: &Caller,
    uss: &str,
    old_version: &str,
    availability: Availability,
) -> Result<wire::UssAvailabilityStatusResponse> {
    let current = tx.availability(uss)?.map(|a| a.version).unwrap_or_default();
    if current != old_version {
        return Err(DssError::Conflict(format!(
            "old_version: \"{old_version}\" is not the current version of {uss}'s availability; read it again"
        )));
    }
    let a = UssAvailability {
        uss: uss.to_owned(),
        availability,
        version: random_token(8),
    };
    tx.apply(Change::PutAvailability(a.clone()))?;
    Ok(response(&a))
}
