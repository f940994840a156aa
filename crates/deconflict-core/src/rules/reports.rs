//! `POST /dss/v1/reports`: archived as received, with an id of ours.

use super::Caller;
use crate::error::Result;
use crate::ids::EntityId;
use crate::model::{Report, Timestamp};
use crate::store::{Change, Tx};
use crate::wire;

pub fn make(
    tx: &mut dyn Tx,
    caller: &Caller,
    report: &wire::ErrorReport,
    now: Timestamp,
) -> Result<wire::ErrorReport> {
    let mut stored = report.clone();
    stored.report_id = Some(EntityId::new_random().to_string());
    let body = serde_json::to_string(&stored)
        .map_err(|e| crate::error::DssError::Internal(e.to_string()))?;
    tx.apply(Change::AddReport(Report {
        id: stored.report_id.clone().unwrap_or_default(),
        reporter: caller.manager.clone(),
        received: now,
        body,
    }))?;
    Ok(stored)
}
