//! Conflicts and notifications over HTTP: an armed party's operation over a protected site
//! tells each side what it may know and nothing more; each party reads only its own
//! notifications; bad requests are refused naming the field.

use std::time::Duration;

use deconflict_core::limits::Limits;
use deconflict_humanitarian::party::{Party, Role};
use deconflict_server::config::Humanitarian;
use serde_json::{json, Value};

use crate::helpers::*;

pub const COORD: &str = "coord";
pub const NGO: &str = "ngo";
pub const ALPHA: &str = "alpha";
pub const BRAVO: &str = "bravo";
pub const OBSERVER: &str = "monitor";
pub const ALPHA_CONTACT: &str = "Alpha liaison, +1 555 0100";
pub const NGO_CONTACT: &str = "NGO desk, +41 22 000 00 00";

pub fn parties() -> Vec<Party> {
    let p = |id: &str, role, contact: Option<&str>| Party {
        id: id.into(),
        role,
        name: format!("Party {id}"),
        contact: contact.map(Into::into),
        webhook: None,
        public_key: None,
    };
    vec![
        p(COORD, Role::Coordinator, None),
        p(NGO, Role::Humanitarian, Some(NGO_CONTACT)),
        p(ALPHA, Role::Armed, Some(ALPHA_CONTACT)),
        p(BRAVO, Role::Armed, None),
        p(OBSERVER, Role::Observer, None),
    ]
}

pub async fn app(backend: Backend) -> TestApp {
    let humanitarian = Humanitarian {
        parties: parties(),
        ..Humanitarian::default()
    };
    spawn_app_configured(backend, Limits::default(), humanitarian).await
}

pub fn token(app: &TestApp, party: &str) -> String {
    app.token(party, &[SC, CM])
}

/// A hospital inside [`here`].
pub fn hospital() -> Value {
    json!({
        "external_id": "H-1", "name": "Hôpital du lac", "category": "hospital",
        "geometry": {"type": "Point", "coordinates": [6.505, 46.405]}, "radius_m": 150
    })
}

/// The NGO's hospital (notified with `token`) on a whole [`Served`] server.
pub async fn served_hospital(server: &Served, token: &str) {
    let site = reqwest::Client::new()
        .post(format!("{}/v1/sites", server.base))
        .bearer_auth(token)
        .json(&hospital())
        .send()
        .await
        .unwrap();
    assert_eq!(site.status(), 201);
}

/// [`served_hospital`], then Alpha's operation over it (`alpha`: its token); the operation's id.
pub async fn served_site_and_operation(server: &Served, ngo: &str, alpha: &str) -> String {
    served_hospital(server, ngo).await;
    let op = new_id();
    let put = reqwest::Client::new()
        .put(format!("{}{OI}/{op}", server.base))
        .bearer_auth(alpha)
        .json(&intent(here(), &[]))
        .send()
        .await
        .unwrap();
    assert_eq!(put.status(), 201);
    op
}

/// The NGO's hospital and Alpha's operation over it; the site's id and the operation's id.
pub async fn site_and_operation(app: &TestApp) -> (String, String) {
    let site = app.post("/v1/sites", &token(app, NGO), &hospital()).await;
    site.expect(201);
    let op = new_id();
    app.put(
        &format!("{OI}/{op}"),
        &token(app, ALPHA),
        &intent(here(), &[]),
    )
    .await
    .expect(201);
    (site.body["site"]["id"].as_str().unwrap().to_owned(), op)
}

async fn list(app: &TestApp, party: &str) -> Vec<Value> {
    let a = app.get("/v1/notifications", &token(app, party)).await;
    a.expect(200);
    a.body["notifications"].as_array().unwrap().clone()
}

async fn an_operation_over_a_site_tells_each_side_only_its_share(backend: Backend) {
    let app = app(backend).await;
    let (site, op) = site_and_operation(&app).await;
    let constraint_ovn = app
        .get(&format!("/v1/sites/{site}"), &token(&app, NGO))
        .await
        .body["constraint"]["ovn"]
        .clone();
    let op_ovn = app
        .get(&format!("{OI}/{op}"), &token(&app, ALPHA))
        .await
        .body["operational_intent_reference"]["ovn"]
        .clone();
    assert!(op_ovn.is_string());

    let armed = list(&app, ALPHA).await;
    assert_eq!(armed.len(), 1, "{armed:?}");
    let a = &armed[0];
    assert_eq!(a["recipient"], ALPHA);
    assert_eq!(a["seq"], 1);
    assert_eq!(a["about"], "site");
    assert_eq!(a["ack_required"], true);
    assert_eq!(a["disclosure"]["type"], "site");
    assert_eq!(a["disclosure"]["site"]["id"], site.as_str());
    assert_eq!(a["disclosure"]["site"]["name"], "Hôpital du lac");
    assert_eq!(a["disclosure"]["site"]["geometry"]["type"], "Point");
    assert_eq!(a["disclosure"]["ovn"], constraint_ovn);
    assert_eq!(a["disclosure"]["intersects"]["id"], op.as_str());
    assert_eq!(a["disclosure"]["notified_by"]["contact"], NGO_CONTACT);

    let humanitarian = list(&app, NGO).await;
    assert_eq!(humanitarian.len(), 1, "{humanitarian:?}");
    let h = &humanitarian[0];
    assert_eq!(h["about"], "conflict");
    assert_eq!(h["ack_required"], false);
    assert_eq!(h["conflict"], a["conflict"]);
    assert_eq!(h["disclosure"]["intersects"]["id"], site.as_str());
    assert_eq!(h["disclosure"]["operator"]["party"], ALPHA);
    assert_eq!(h["disclosure"]["operator"]["role"], "armed");
    assert_eq!(h["disclosure"]["operator"]["contact"], ALPHA_CONTACT);
    assert!(h["disclosure"]["window"]["start"].is_string());
    let text = h.to_string();
    for secret in [
        op.as_str(),
        op_ovn.as_str().unwrap(),
        "uss.example",
        "46.4",
        "ovn",
    ] {
        assert!(
            !text.contains(secret),
            "{secret} disclosed to the NGO: {text}"
        );
    }

    // Nobody else hears of it, and nobody reads another's notification.
    assert!(list(&app, BRAVO).await.is_empty());
    assert!(list(&app, OBSERVER).await.is_empty());
    assert!(list(&app, COORD).await.is_empty());
    let path = format!("/v1/notifications/{}", a["id"].as_str().unwrap());
    for other in [NGO, BRAVO, OBSERVER] {
        app.get(&path, &token(&app, other))
            .await
            .expect_error(404, "not found");
    }
    app.get(&path, &token(&app, "stranger"))
        .await
        .expect_error(403, "not registered");
    let own = app.get(&path, &token(&app, ALPHA)).await;
    own.expect(200);
    assert_eq!(&own.body, a);
    // The coordinator sees the whole layer.
    app.get(&path, &token(&app, COORD)).await.expect(200);
    let theirs = app
        .get("/v1/notifications?recipient=alpha", &token(&app, COORD))
        .await;
    theirs.expect(200);
    assert_eq!(theirs.body["notifications"][0], *a);
    for other in [NGO, OBSERVER] {
        app.get("/v1/notifications?recipient=alpha", &token(&app, other))
            .await
            .expect_error(403, "other parties' notifications");
    }

    // Writing the same operation again tells nobody anything new; moving it away neither.
    let ovn = op_ovn.as_str().unwrap();
    app.put(
        &format!("{OI}/{op}/{ovn}"),
        &token(&app, ALPHA),
        &intent(elsewhere(), &[]),
    )
    .await
    .expect(200);
    assert_eq!(list(&app, ALPHA).await.len(), 1);
    assert_eq!(list(&app, NGO).await.len(), 1);
}

async fn bad_notification_requests_are_refused_naming_the_field(backend: Backend) {
    let app = app(backend).await;
    let t = token(&app, ALPHA);
    for (path, status, field) in [
        ("/v1/notifications/not-a-uuid", 400, "id"),
        ("/v1/notifications?limit=0", 400, "limit"),
        ("/v1/notifications?limit=1001", 400, "limit"),
        ("/v1/notifications?after=-1", 400, "after"),
        ("/v1/notifications?after=x", 400, "after"),
        ("/v1/notifications?colour=red", 400, "colour"),
    ] {
        app.get(path, &t).await.expect_error(status, field);
    }
    app.get(&format!("/v1/notifications/{}", new_id()), &t)
        .await
        .expect_error(404, "not found");
    app.send(reqwest::Method::GET, "/v1/notifications", None, None)
        .await
        .expect(401);
    let listed = app.get("/v1/notifications?after=5&limit=1", &t).await;
    listed.expect(200);
    assert_eq!(listed.body["head"], 0);
}

/// A client of `/v1/events` over real HTTP.
pub struct EventStream {
    resp: reqwest::Response,
    buf: String,
}

impl EventStream {
    pub async fn open(app: &TestApp, party: &str, last_event_id: Option<&str>) -> Self {
        Self::connect(&app.base, &token(app, party), last_event_id).await
    }

    /// `/v1/events` of the server at `base` with `token`.
    pub async fn connect(base: &str, token: &str, last_event_id: Option<&str>) -> Self {
        let mut req = reqwest::Client::new()
            .get(format!("{base}/v1/events"))
            .bearer_auth(token);
        if let Some(id) = last_event_id {
            req = req.header("Last-Event-ID", id);
        }
        let resp = req.send().await.unwrap();
        assert_eq!(resp.status(), 200);
        assert_eq!(
            resp.headers()["content-type"].to_str().unwrap(),
            "text/event-stream"
        );
        Self {
            resp,
            buf: String::new(),
        }
    }

    /// The next notification's event id and data, or `None` if none comes `within`.
    pub async fn next(&mut self, within: Duration) -> Option<(String, Value)> {
        let (id, event, data) = self.next_event(within).await?;
        assert_eq!(event, "notification");
        Some((id, serde_json::from_str(&data).unwrap()))
    }

    /// The next event's id, type and data as sent, or `None` if none comes `within`.
    pub async fn next_event(&mut self, within: Duration) -> Option<(String, String, String)> {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            while let Some(end) = self.buf.find("\n\n") {
                let block: String = self.buf.drain(..end + 2).collect();
                let (mut id, mut event, mut data) = (None, None, String::new());
                for line in block.lines() {
                    if let Some(v) = line.strip_prefix("id:") {
                        id = Some(v.trim().to_owned());
                    } else if let Some(v) = line.strip_prefix("event:") {
                        event = Some(v.trim().to_owned());
                    } else if let Some(v) = line.strip_prefix("data:") {
                        data.push_str(v.strip_prefix(' ').unwrap_or(v));
                    }
                }
                if let Some(id) = id {
                    return Some((id, event.unwrap(), data));
                }
            }
            let chunk = tokio::time::timeout_at(deadline, self.resp.chunk())
                .await
                .ok()?
                .unwrap()?;
            self.buf.push_str(std::str::from_utf8(&chunk).unwrap());
        }
    }
}

/// An operation of `party` over [`here`]'s area from `from` to `to` minutes ahead.
async fn operation(app: &TestApp, party: &str, from: i64, to: i64) {
    app.put(
        &format!("{OI}/{}", new_id()),
        &token(app, party),
        &intent(volume(46.40, 6.50, 0.01, from, to), &[]),
    )
    .await
    .expect(201);
}

const SOON: Duration = Duration::from_secs(10);

async fn the_event_stream_replays_after_last_event_id_then_goes_live(backend: Backend) {
    let app = app(backend).await;
    let mut ngo = EventStream::open(&app, NGO, None).await;
    let mut observer = EventStream::open(&app, OBSERVER, None).await;
    site_and_operation(&app).await;
    let (id, n) = ngo.next(SOON).await.expect("the first conflict, live");
    assert_eq!(id, "1");
    assert_eq!(n["seq"], 1);
    assert_eq!(n["recipient"], NGO);
    assert_eq!(n["about"], "conflict");
    assert_eq!(n["disclosure"]["operator"]["party"], ALPHA);
    operation(&app, BRAVO, 70, 90).await;
    let (id, n) = ngo.next(SOON).await.expect("the second, live");
    assert_eq!(id, "2");
    assert_eq!(n["disclosure"]["operator"]["party"], BRAVO);
    drop(ngo);

    // One more while nobody listens; then a reconnection after event 1 gets 2 and 3 from
    // the store, then 4 live.
    operation(&app, ALPHA, 100, 120).await;
    let mut again = EventStream::open(&app, NGO, Some("1")).await;
    assert_eq!(again.next(SOON).await.unwrap().0, "2");
    let (id, n) = again.next(SOON).await.unwrap();
    assert_eq!(id, "3");
    assert_eq!(n["disclosure"]["operator"]["party"], ALPHA);
    operation(&app, BRAVO, 130, 150).await;
    assert_eq!(again.next(SOON).await.unwrap().0, "4");
    assert!(again.next(Duration::from_millis(300)).await.is_none());

    // Each armed party streams its own, from its own sequence.
    let mut bravo = EventStream::open(&app, BRAVO, Some("0")).await;
    let (id, n) = bravo.next(SOON).await.unwrap();
    assert_eq!(id, "1");
    assert_eq!(n["recipient"], BRAVO);
    assert_eq!(n["about"], "site");
    // The observer heard nothing of anyone's.
    assert!(observer.next(Duration::from_millis(300)).await.is_none());
}

async fn bad_event_stream_requests_are_refused(backend: Backend) {
    let app = app(backend).await;
    let get = |party: &str, path: &str, last: Option<&str>| {
        let mut req = app
            .client
            .get(format!("{}{path}", app.base))
            .bearer_auth(token(&app, party));
        if let Some(l) = last {
            req = req.header("Last-Event-ID", l);
        }
        async move { answer(req.send().await.unwrap()).await }
    };
    get(NGO, "/v1/events", Some("abc"))
        .await
        .expect_error(400, "Last-Event-ID");
    get(NGO, "/v1/events", Some("-3"))
        .await
        .expect_error(400, "Last-Event-ID");
    // Receipts are never ahead of notifications.
    get(NGO, "/v1/events", Some("5:7"))
        .await
        .expect_error(400, "Last-Event-ID");
    get(NGO, "/v1/events?since=3", None)
        .await
        .expect_error(400, "since");
    get(OBSERVER, "/v1/events?recipient=ngo", None)
        .await
        .expect_error(403, "other parties' notifications");
    get("stranger", "/v1/events", None)
        .await
        .expect_error(403, "not registered");
    app.send(reqwest::Method::GET, "/v1/events", None, None)
        .await
        .expect(401);
    // A coordinator may follow a party's stream.
    let resp = app
        .client
        .get(format!("{}/v1/events?recipient=ngo", app.base))
        .bearer_auth(token(&app, COORD))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
}

/// Through the whole serve path: each conflict and each notification is in the log, the
/// notification by the SHA-256 of exactly what its recipient reads.
async fn conflicts_and_notifications_go_into_the_log(backend: Backend) {
    use deconflict_humanitarian::party::Role;
    use deconflict_tlog::Kind;
    use sha2::{Digest, Sha256};
    let dir = tempfile::tempdir().unwrap();
    let server = Served::start_with(
        backend,
        dir.path(),
        &[(NGO, Role::Humanitarian), (ALPHA, Role::Armed)],
    )
    .await;
    let log = server.state.log.clone().unwrap();
    let client = reqwest::Client::new();
    let (ngo, alpha) = (server.token(NGO, &[SC]), server.token(ALPHA, &[SC]));
    let op = served_site_and_operation(&server, &ngo, &alpha).await;
    let mut conflict = None;
    for (party, token) in [(NGO, &ngo), (ALPHA, &alpha)] {
        let list = answer(
            client
                .get(format!("{}/v1/notifications", server.base))
                .bearer_auth(token)
                .send()
                .await
                .unwrap(),
        )
        .await;
        let id = list.body["notifications"][0]["id"]
            .as_str()
            .unwrap()
            .to_owned();
        let one = answer(
            client
                .get(format!("{}/v1/notifications/{id}", server.base))
                .bearer_auth(token)
                .send()
                .await
                .unwrap(),
        )
        .await;
        let entries = crate::recorded::found(&log, &format!("subject:{id}"), 1).await;
        assert_eq!(entries.len(), 1);
        let r = &entries[0].1;
        assert_eq!(r.kind, Kind::Notification);
        assert_eq!(r.party, party);
        assert_eq!(r.body["seq"], 1);
        assert_eq!(
            r.body["content_sha256"],
            hex::encode(Sha256::digest(one.text.as_bytes())),
            "the log holds the hash of what {party} reads"
        );
        let text = String::from_utf8(r.to_bytes().unwrap()).unwrap();
        assert!(
            !text.contains(&op),
            "a notification's record names no operation: {text}"
        );
        // The recipient keeps the receipt: that entry, proved in a signed checkpoint.
        let get_receipt = |token: &str| {
            client
                .get(format!("{}/v1/notifications/{id}/receipt", server.base))
                .bearer_auth(token)
                .send()
        };
        let receipt = answer(get_receipt(token).await.unwrap()).await;
        receipt.expect(200);
        assert_eq!(receipt.body["index"], entries[0].0);
        assert_eq!(receipt.body["record"].as_str().unwrap(), text);
        crate::receipts::checked_receipt(&receipt.body, log.key.verifier_key());
        // The other side may not read it, nor its receipt (404, as for an unknown id).
        let other = if party == NGO { &alpha } else { &ngo };
        answer(get_receipt(other).await.unwrap()).await.expect(404);
        conflict = Some(one.body["conflict"].as_str().unwrap().to_owned());
    }
    let conflict = conflict.unwrap();
    let entries = crate::recorded::found(&log, &format!("subject:{conflict}"), 1).await;
    let r = &entries[0].1;
    assert_eq!(r.kind, Kind::Conflict);
    assert_eq!(r.party, ALPHA);
    assert_eq!(r.body["sides"][0]["id"], op.as_str());
    assert_eq!(r.body["sides"][1]["kind"], "site");
    assert_eq!(r.body["notifications"].as_array().unwrap().len(), 2);
    server.stop().await;
}

backend_tests!(
    conflicts_and_notifications_go_into_the_log,
    an_operation_over_a_site_tells_each_side_only_its_share,
    bad_notification_requests_are_refused_naming_the_field,
    the_event_stream_replays_after_last_event_id_then_goes_live,
    bad_event_stream_requests_are_refused,
);
