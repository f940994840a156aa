//! What a party is sent, in order, over `/v1/events` and over its webhook: each notification
//! as soon as it is in the store, and after it, once its `notification` record is in the log,
//! its receipt ([`crate::recorder::Recorder::receipt_of`]'s entry and inclusion proof in a signed checkpoint).
//!
//! A notification never waits for the log (a stalled log delays receipts, not warnings), so the
//! two run apart: a [`Position`] says up to which sequence number notifications were sent and
//! up to which their receipts were, receipts trailing notifications and each kind in sequence
//! order. The position is the `id:` of each event and the webhook's durable cursor, so a
//! reconnection, a restart or another instance of a pool resumes both where they stood.
//!
//! The notification is sent as [`conflict_log::delivered`] (the bytes its record's
//! `content_sha256` hashes), so the recipient checks the one against the other offline.

use std::collections::VecDeque;
use std::fmt;
use std::time::Duration;

use chrono::{DateTime, Utc};
use deconflict_humanitarian::notification::{self, Notification};
use deconflict_tlog::Kind;
use serde::Serialize;
use tokio::sync::watch;
use tokio::time::Instant;

use crate::conflict_log;
use crate::error::ApiError;
use crate::events::POLL;
use crate::recorder::Receipt;
use crate::state::AppState;

/// Notifications read from the store at a time.
const BATCH: usize = 100;
/// How long a notification may go without a log entry before the outbox is searched for its
/// record (to tell one never recorded from one still on its way, which is the usual case).
const SETTLE: chrono::Duration = chrono::Duration::seconds(60);
/// How soon the log is looked at again for a receipt that was not there, unless the
/// forwarder appended something meanwhile.
const RECHECK: Duration = Duration::from_millis(250);

/// Where a party's feed stands: notifications sent up to sequence number `notified`, receipts
/// up to `receipted` (never more than `notified`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Position {
    pub notified: u64,
    pub receipted: u64,
}

impl Position {
    /// `N` (receipts sent as far as notifications) or `N:R`; `None` for anything else,
    /// receipts ahead of notifications included.
    pub fn parse(s: &str) -> Option<Self> {
        let (n, r) = match s.split_once(':') {
            Some((n, r)) => (n.parse().ok()?, r.parse().ok()?),
            None => {
                let n = s.parse().ok()?;
                (n, n)
            }
        };
        (r <= n).then_some(Self {
            notified: n,
            receipted: r,
        })
    }
}

impl fmt::Display for Position {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.receipted == self.notified {
            write!(f, "{}", self.notified)
        } else {
            write!(f, "{}:{}", self.notified, self.receipted)
        }
    }
}

/// A notification's receipt as sent: the `data:` of an `event: receipt`, the body of a webhook
/// delivery of type `receipt`.
#[derive(Debug, Clone, Serialize)]
pub struct NotificationReceipt {
    /// The notification's id.
    pub notification: String,
    /// Its sequence number.
    pub seq: u64,
    /// `null` only for a notification made while the server kept no log: it has no entry.
    pub receipt: Option<Receipt>,
}

/// One thing to send.
#[derive(Debug, Clone)]
pub enum Item {
    Notification(Box<Notification>),
    Receipt(NotificationReceipt),
}

impl Item {
    /// The event type: `notification` or `receipt`.
    pub fn kind(&self) -> &'static str {
        match self {
            Item::Notification(_) => "notification",
            Item::Receipt(_) => "receipt",
        }
    }

    /// The notification's sequence number.
    pub fn seq(&self) -> u64 {
        match self {
            Item::Notification(n) => n.seq,
            Item::Receipt(r) => r.seq,
        }
    }

    /// The notification's id.
    pub fn notification_id(&self) -> &str {
        match self {
            Item::Notification(n) => &n.id,
            Item::Receipt(r) => &r.notification,
        }
    }

    /// The bytes sent: the notification as delivered (what its record hashes), or the
    /// receipt's JSON.
    pub fn body(&self) -> Result<Vec<u8>, ApiError> {
        match self {
            Item::Notification(n) => Ok(conflict_log::delivered(n)?),
            Item::Receipt(r) => serde_json::to_vec(r)
                .map_err(|e| ApiError::internal(format!("serialising a receipt: {e}"))),
        }
    }
}

/// A notification sent whose receipt is not yet.
struct Unreceipted {
    seq: u64,
    id: String,
    created: DateTime<Utc>,
}

/// One party's feed from a [`Position`]: [`Feed::peek`] what to send next, [`Feed::sent`] once
/// it is sent.
pub struct Feed {
    st: AppState,
    recipient: String,
    pos: Position,
    /// Read, not yet sent: after `pos.notified`.
    ready: VecDeque<Notification>,
    /// Sent, receipt not yet: a run from `pos.receipted + 1` (possibly shorter than up to
    /// `pos.notified`; the rest is read from the store).
    unreceipted: VecDeque<Unreceipted>,
    /// Wakes when the forwarder appended something (`None`: no log, no receipts).
    appended: Option<watch::Receiver<u64>>,
    /// The receipt last looked for in vain, and when.
    missed: Option<(u64, Instant)>,
}

impl Feed {
    /// `recipient`'s feed after `from`. Without a log there are no receipts: they count as sent
    /// with their notifications.
    pub fn new(st: AppState, recipient: String, from: Position) -> Self {
        let appended = st.recorder.appended();
        let mut pos = from;
        if appended.is_none() {
            pos.receipted = pos.notified;
        }
        Self {
            st,
            recipient,
            pos,
            ready: VecDeque::new(),
            unreceipted: VecDeque::new(),
            appended,
            missed: None,
        }
    }

    pub fn recipient(&self) -> &str {
        &self.recipient
    }

    /// Where the feed stands: what [`Feed::sent`] was told.
    pub fn position(&self) -> Position {
        self.pos
    }

    /// The next thing to send, if any is ready: the receipt of the oldest notification sent
    /// without one if its entry is in the log, otherwise the next notification.
    pub async fn peek(&mut self) -> Result<Option<Item>, ApiError> {
        if let Some(r) = self.next_receipt().await? {
            return Ok(Some(Item::Receipt(r)));
        }
        if self.ready.is_empty() {
            let (r, after) = (self.recipient.clone(), self.pos.notified);
            let found = self
                .st
                .read(move |tx| notification::after(tx, &r, after, BATCH))
                .await?;
            self.ready.extend(found);
        }
        Ok(self
            .ready
            .front()
            .map(|n| Item::Notification(Box::new(n.clone()))))
    }

    /// Moves past `item`, which [`Feed::peek`] gave and has been sent.
    pub fn sent(&mut self, item: &Item) {
        match item {
            Item::Notification(n) => {
                if self.ready.front().is_some_and(|r| r.seq == n.seq) {
                    self.ready.pop_front();
                }
                let follows = match self.unreceipted.back() {
                    Some(u) => u.seq + 1 == n.seq,
                    None => self.pos.receipted + 1 == n.seq,
                };
                if self.appended.is_none() {
                    self.pos.receipted = n.seq;
                } else if follows {
                    self.unreceipted.push_back(Unreceipted {
                        seq: n.seq,
                        id: n.id.clone(),
                        created: n.created,
                    });
                }
                self.pos.notified = self.pos.notified.max(n.seq);
            }
            Item::Receipt(r) => {
                if self.unreceipted.front().is_some_and(|u| u.seq == r.seq) {
                    self.unreceipted.pop_front();
                }
                self.pos.receipted = self.pos.receipted.max(r.seq);
            }
        }
    }

    /// Waits until something may be ready: a wake-up of `wake` (notifications committed), the
    /// forwarder appending while a receipt is awaited, or [`POLL`] (another instance's writes).
    pub async fn wait(&mut self, wake: &mut watch::Receiver<u64>) {
        let awaiting = self.pos.receipted < self.pos.notified;
        let appended = async {
            match self.appended.as_mut() {
                Some(a) if awaiting => {
                    let _ = a.changed().await;
                }
                _ => std::future::pending().await,
            }
        };
        tokio::select! {
            () = crate::events::wait(wake) => {}
            () = appended => self.missed = None,
        }
    }

    /// The receipt due next, if it can be sent now.
    async fn next_receipt(&mut self) -> Result<Option<NotificationReceipt>, ApiError> {
        let Some(appended) = self.appended.as_mut() else {
            return Ok(None);
        };
        if self.pos.receipted >= self.pos.notified {
            return Ok(None);
        }
        if appended.has_changed().unwrap_or(false) {
            appended.mark_unchanged();
            self.missed = None;
        }
        if self.unreceipted.is_empty() {
            let (r, after, upto) = (
                self.recipient.clone(),
                self.pos.receipted,
                self.pos.notified,
            );
            let sent = self
                .st
                .read(move |tx| notification::after(tx, &r, after, BATCH))
                .await?;
            self.unreceipted
                .extend(
                    sent.into_iter()
                        .filter(|n| n.seq <= upto)
                        .map(|n| Unreceipted {
                            seq: n.seq,
                            id: n.id,
                            created: n.created,
                        }),
                );
        }
        let Some(due) = self.unreceipted.front() else {
            // No notification up to `notified` after all (a client's Last-Event-ID beyond
            // them): no receipt is owed.
            self.pos.receipted = self.pos.notified;
            return Ok(None);
        };
        if self
            .missed
            .is_some_and(|(seq, at)| seq == due.seq && at.elapsed() < RECHECK.min(POLL))
        {
            return Ok(None);
        }
        let (seq, id) = (due.seq, due.id.clone());
        let recorder = &self.st.recorder;
        let receipt = recorder
            .receipt_now(format!("subject:{id}"), Some(Kind::Notification))
            .await?;
        let found = match receipt {
            Some(r) => Some(Some(r)),
            None if due.created + SETTLE < self.st.now()
                && recorder.never_recorded(&id, Kind::Notification).await? =>
            {
                tracing::warn!(notification = %id, "a notification has no log entry; its receipt is sent empty");
                Some(None)
            }
            None => None,
        };
        match found {
            Some(receipt) => Ok(Some(NotificationReceipt {
                notification: id,
                seq,
                receipt,
            })),
            None => {
                self.missed = Some((seq, Instant::now()));
                Ok(None)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_position_reads_back_as_written() {
        for (n, r) in [(0, 0), (7, 7), (7, 5), (12, 0)] {
            let p = Position {
                notified: n,
                receipted: r,
            };
            assert_eq!(Position::parse(&p.to_string()), Some(p));
        }
        assert_eq!(Position::parse("7:5").unwrap().to_string(), "7:5");
        assert_eq!(Position::parse("7:7").unwrap().to_string(), "7");
        for bad in ["", "a", "-1", "5:7", "5:", ":5", "1:2:3", "1.5"] {
            assert_eq!(Position::parse(bad), None, "{bad:?}");
        }
    }
}
