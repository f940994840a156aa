//! `GET /v1/events`: a party's [`Feed`] as server-sent events: `event: notification` for each
//! notification (its JSON as delivered) and, once its entry is in the log, `event: receipt`
//! (its [`NotificationReceipt`]). Each event's `id:` is the feed's [`Position`] after it: a
//! client that reconnects with `Last-Event-ID` gets every notification and receipt after it
//! from the store first, then the new ones as they are made; the store and the log are the
//! only sources, so nothing committed while nobody listened is skipped. The stream ends when
//! the token expires.
//!
//! [`NotificationReceipt`]: crate::feed::NotificationReceipt

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::sse::{Event, KeepAlive, Sse};
use deconflict_humanitarian::party::Action;
use futures_util::stream::{self, Stream};
use serde::Deserialize;

use crate::error::ApiError;
use crate::events::Events;
use crate::extract::{Member, QueryParams};
use crate::feed::{Feed, Item, Position};
use crate::state::AppState;

/// The comment line that keeps an idle connection open through proxies.
const KEEP_ALIVE: Duration = Duration::from_secs(15);

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EventsQuery {
    /// Whose (a coordinator's choice; others stream only their own).
    recipient: Option<String>,
}

/// The `Last-Event-ID` header: the position after which to start (the start when absent).
fn last_event_id(headers: &HeaderMap) -> Result<Position, ApiError> {
    let Some(v) = headers.get("last-event-id") else {
        return Ok(Position::default());
    };
    v.to_str()
        .ok()
        .and_then(|s| Position::parse(s.trim()))
        .ok_or_else(|| {
            ApiError::bad(
                "Last-Event-ID",
                "must be the id of an event of this stream (N or N:R, integers, R at most N)",
            )
        })
}

/// One item as an event, `id:` the position after it.
fn event(item: &Item, after: Position) -> Result<Event, ApiError> {
    let data =
        String::from_utf8(item.body()?).map_err(|_| ApiError::internal("an event is not UTF-8"))?;
    Ok(Event::default()
        .id(after.to_string())
        .event(item.kind())
        .data(data))
}

struct Cursor {
    feed: Feed,
    events: Arc<Events>,
    wake: tokio::sync::watch::Receiver<u64>,
    expires: tokio::time::Instant,
}

impl Cursor {
    /// The next event, waiting for one if need be; `None` once the token has expired or the
    /// server is shutting down.
    async fn next(&mut self) -> Option<Result<Event, ApiError>> {
        let closed = self.events.closed();
        tokio::select! {
            next = self.next_event() => next,
            () = closed => None,
        }
    }

    async fn next_event(&mut self) -> Option<Result<Event, ApiError>> {
        loop {
            if tokio::time::Instant::now() >= self.expires {
                return None;
            }
            // Subscribe-then-read: a notification committed after this read wakes `wait`.
            self.wake.mark_unchanged();
            match self.feed.peek().await {
                Ok(Some(item)) => {
                    self.feed.sent(&item);
                    return Some(event(&item, self.feed.position()));
                }
                Ok(None) => {
                    tokio::select! {
                        () = self.feed.wait(&mut self.wake) => {}
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
        events: Arc::clone(&st.events),
        feed: Feed::new(st, recipient, after),
        expires,
    };
    let events = stream::unfold(cursor, |mut c| async move {
        match c.next().await? {
            Ok(e) => Some((Ok(e), c)),
            Err(e) => {
                // A failure ends the stream; the client reconnects with its last id.
                tracing::warn!(error = ?e, recipient = %c.feed.recipient(), "event stream ended");
                None
            }
        }
    });
    Ok(Sse::new(events).keep_alive(KeepAlive::new().interval(KEEP_ALIVE)))
}
