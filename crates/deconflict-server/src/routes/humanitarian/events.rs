//! `GET /v1/events`: a party's notifications as server-sent events, each with `id:` its
//! sequence number. A client that reconnects with `Last-Event-ID` gets every notification
//! after it from the store first, then the new ones as they are made; the store is the only
//! source, so a notification committed while nobody listened is never skipped. The stream
//! ends when the token expires.

use std::collections::VecDeque;
use std::convert::Infallible;
use std::time::Duration;

use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::sse::{Event, KeepAlive, Sse};
use deconflict_humanitarian::notification::{self, Notification};
use deconflict_humanitarian::party::Action;
use futures_util::stream::{self, Stream};
use serde::Deserialize;

use crate::error::ApiError;
use crate::events::wait;
use crate::extract::{Member, QueryParams};
use crate::state::AppState;

/// Notifications read from the store at a time.
const BATCH: usize = 100;
/// The comment line that keeps an idle connection open through proxies.
const KEEP_ALIVE: Duration = Duration::from_secs(15);

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EventsQuery {
    /// Whose (a coordinator's choice; others stream only their own).
    recipient: Option<String>,
}

/// The `Last-Event-ID` header: the sequence number after which to start (0 when absent).
fn last_event_id(headers: &HeaderMap) -> Result<u64, ApiError> {
    let Some(v) = headers.get("last-event-id") else {
        return Ok(0);
    };
    v.to_str()
        .ok()
        .and_then(|s| s.trim().parse::<u64>().ok())
        .ok_or_else(|| {
            ApiError::bad(
                "Last-Event-ID",
                "must be the id of an event of this stream (a non-negative integer)",
            )
        })
}

/// One notification as an event.
pub(crate) fn event(n: &Notification) -> Event {
    let data = serde_json::to_string(n).unwrap_or_else(|_| "{}".into());
    Event::default()
        .id(n.seq.to_string())
        .event("notification")
        .data(data)
}

struct Cursor {
    st: AppState,
    recipient: String,
    after: u64,
    ready: VecDeque<Notification>,
    wake: tokio::sync::watch::Receiver<u64>,
    expires: tokio::time::Instant,
}

impl Cursor {
    /// The next notification, waiting for one if need be; `None` once the token has expired.
    async fn next(&mut self) -> Option<Result<Notification, ApiError>> {
        loop {
            if let Some(n) = self.ready.pop_front() {
                self.after = n.seq;
                return Some(Ok(n));
            }
            if tokio::time::Instant::now() >= self.expires {
                return None;
            }
            // Subscribe-then-read: a notification committed after this read wakes `wait`.
            self.wake.mark_unchanged();
            let (r, after) = (self.recipient.clone(), self.after);
            match self
                .st
                .read(move |tx| notification::after(tx, &r, after, BATCH))
                .await
            {
                Ok(found) if !found.is_empty() => self.ready.extend(found),
                Ok(_) => {
                    tokio::select! {
                        () = wait(&mut self.wake) => {}
                        () = tokio::time::sleep_until(self.expires) => {}
                    }
                }
                Err(e) => return Some(Err(e)),
            }
        }
    }
}

pub async fn stream(
    State(st): State<AppState>,
    who: Member,
    headers: HeaderMap,
    QueryParams(q): QueryParams<EventsQuery>,
) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>, ApiError> {
    let party = who.may(&st, Action::ReadLayer)?;
    let after = last_event_id(&headers)?;
    let recipient = super::notifications::recipient(&party, q.recipient)?;
    let left = who.claims.exp - chrono::Utc::now().timestamp();
    let expires = tokio::time::Instant::now() + Duration::from_secs(left.max(0) as u64);
    let cursor = Cursor {
        wake: st.events.subscribe(),
        st,
        recipient,
        after,
        ready: VecDeque::new(),
        expires,
    };
    let events = stream::unfold(cursor, |mut c| async move {
        match c.next().await? {
            Ok(n) => Some((Ok(event(&n)), c)),
            Err(e) => {
                // A store failure ends the stream; the client reconnects with its last id.
                tracing::warn!(error = ?e, recipient = %c.recipient, "event stream ended");
                None
            }
        }
    });
    Ok(Sse::new(events).keep_alive(KeepAlive::new().interval(KEEP_ALIVE)))
}
