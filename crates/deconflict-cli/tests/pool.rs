//! A pool: several real `deconflict serve` processes on one PostgreSQL database behave as one
//! DSS. Each test starts its instances (`--dev` on one shared data folder, so that they trust
//! the same dev key; their own ports; `--store` a fresh database) and drives them over HTTP:
//!
//! - a write through one instance is seen through the others at once;
//! - two parties racing for the same airspace through different instances never both win;
//! - under concurrent load through every instance, versions run 1..n without gaps, OVNs never
//!   repeat and a subscription's notification index counts exactly the writes that touched it;
//! - `kill -9` of one instance under load loses no acknowledged write, and the others serve on;
//! - while PostgreSQL is stopped, instances answer 503 (and `/healthy` 503), and they recover by
//!   themselves when it is back.
//!
//! They need the server of `scripts/pg.sh` (`DECONFLICT_TEST_POSTGRES`, and for the outage
//! `DECONFLICT_TEST_PGCTL`). They run one at a time, since one of them stops that server.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;
use common::free_port;

use std::collections::{BTreeSet, HashMap, HashSet};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::Utc;
use common::{available, TestDb, PGCTL_ENV, PG_ENV};
use deconflict_auth::{DevKeys, DEV_ISSUER};
use serde_json::{json, Value};

const SC: &str = "utm.strategic_coordination";
const OI: &str = "/dss/v1/operational_intent_references";
const SUB: &str = "/dss/v1/subscriptions";

/// One test at a time: the outage test stops the server every other test uses.
static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// One `deconflict serve` process.
struct Instance {
    child: Child,
    base: String,
    log: PathBuf,
}

/// Instances sharing one database; killed when dropped, however the test ends.
struct Pool {
    instances: Vec<Instance>,
    keys: DevKeys,
    client: reqwest::Client,
    dir: tempfile::TempDir,
    /// Last: dropped once the instances are gone.
    db: TestDb,
}

impl Pool {
    async fn start(n: usize) -> Self {
        let db = TestDb::create();
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("data");
        // The dev key exists before the instances start, so that they do not race to make it.
        let keys = DevKeys::load_or_create(&data).unwrap();
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(20))
            .build()
            .unwrap();
        let mut pool = Self {
            instances: Vec::new(),
            keys,
            client,
            dir,
            db,
        };
        for i in 0..n {
            let instance = pool.spawn(i);
            pool.instances.push(instance);
        }
        for i in 0..n {
            pool.wait_healthy(i).await;
        }
        pool
    }

    fn spawn(&self, i: usize) -> Instance {
        let port = free_port();
        let log = self.dir.path().join(format!("instance-{i}.log"));
        let child = Command::new(env!("CARGO_BIN_EXE_deconflict"))
            .args(["serve", "--dev", "--listen"])
            .arg(format!("127.0.0.1:{port}"))
            .arg("--data-dir")
            .arg(self.dir.path().join("data"))
            .arg("--store")
            .arg(&self.db.url)
            .env("RUST_LOG", "info")
            .env_remove("DECONFLICT_CONFIG")
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .expect("start an instance");
        Instance {
            child,
            base: format!("http://127.0.0.1:{port}"),
            log,
        }
    }

    async fn wait_healthy(&self, i: usize) {
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            if self.health(i).await == 200 {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!(
            "instance {i} did not become healthy; its log:\n{}",
            self.log(i)
        );
    }

    async fn health(&self, i: usize) -> u16 {
        match self
            .client
            .get(format!("{}/healthy", self.instances[i].base))
            .send()
            .await
        {
            Ok(r) => r.status().as_u16(),
            Err(_) => 0,
        }
    }

    fn log(&self, i: usize) -> String {
        std::fs::read_to_string(&self.instances[i].log).unwrap_or_default()
    }

    fn token(&self, sub: &str) -> String {
        self.keys.sign(
            sub,
            [SC],
            "localhost",
            DEV_ISSUER,
            Duration::from_secs(3600),
        )
    }

    fn url(&self, i: usize, path: &str) -> String {
        format!("{}{path}", self.instances[i].base)
    }

    async fn put(&self, i: usize, path: &str, token: &str, body: &Value) -> Answer {
        let r = self
            .client
            .put(self.url(i, path))
            .bearer_auth(token)
            .json(body)
            .send()
            .await;
        Answer::of(r).await
    }

    async fn get(&self, i: usize, path: &str, token: &str) -> Answer {
        let r = self
            .client
            .get(self.url(i, path))
            .bearer_auth(token)
            .send()
            .await;
        Answer::of(r).await
    }

    async fn post(&self, i: usize, path: &str, token: &str, body: &Value) -> Answer {
        let r = self
            .client
            .post(self.url(i, path))
            .bearer_auth(token)
            .json(body)
            .send()
            .await;
        Answer::of(r).await
    }

    /// The operational intents in `area`, through instance `i`.
    async fn query(&self, i: usize, token: &str, area: &Value) -> Answer {
        self.post(
            i,
            &format!("{OI}/query"),
            token,
            &json!({ "area_of_interest": area }),
        )
        .await
    }

    async fn delete(&self, i: usize, path: &str, token: &str) -> Answer {
        let r = self
            .client
            .delete(self.url(i, path))
            .bearer_auth(token)
            .send()
            .await;
        Answer::of(r).await
    }

    /// `kill -9`.
    fn kill(&mut self, i: usize) {
        self.instances[i].child.kill().unwrap();
        self.instances[i].child.wait().unwrap();
    }

    /// Every instance still runs (none exited on its own).
    fn all_running(&mut self) {
        for i in 0..self.instances.len() {
            let status = self.instances[i].child.try_wait().unwrap();
            assert!(
                status.is_none(),
                "instance {i} exited ({status:?}); its log:\n{}",
                self.log(i)
            );
        }
    }
}

impl Drop for Pool {
    fn drop(&mut self) {
        for instance in &mut self.instances {
            let _ = instance.child.kill();
            let _ = instance.child.wait();
        }
    }
}

/// A response, or the transport error (status 0) when there was none.
#[derive(Debug)]
struct Answer {
    status: u16,
    body: Value,
    text: String,
}

impl Answer {
    async fn of(r: reqwest::Result<reqwest::Response>) -> Self {
        match r {
            Ok(r) => {
                let status = r.status().as_u16();
                let text = r.text().await.unwrap_or_default();
                let body = serde_json::from_str(&text).unwrap_or(Value::Null);
                Self { status, body, text }
            }
            Err(e) => Self {
                status: 0,
                body: Value::Null,
                text: e.to_string(),
            },
        }
    }

    #[track_caller]
    fn expect(&self, status: u16) -> &Self {
        assert_eq!(self.status, status, "body: {}", self.text);
        self
    }

    fn oir(&self) -> &Value {
        &self.body["operational_intent_reference"]
    }

    fn ovn(&self) -> String {
        self.oir()["ovn"].as_str().unwrap().to_owned()
    }

    /// The notification index this write gave subscription `sub`, if it was told.
    fn index_of(&self, sub: &str) -> Option<i64> {
        self.body["subscribers"]
            .as_array()?
            .iter()
            .flat_map(|s| s["subscriptions"].as_array().cloned().unwrap_or_default())
            .find(|s| s["subscription_id"] == sub)
            .and_then(|s| s["notification_index"].as_i64())
    }
}

fn id() -> String {
    uuid::Uuid::new_v4().to_string()
}

/// A square `d` degrees wide with its south-west corner at (`lat`, `lng`), 0-120 m, from now
/// to two hours from now.
fn square(lat: f64, lng: f64, d: f64) -> Value {
    let now = Utc::now();
    let t = |x: chrono::DateTime<Utc>| json!({"value": x.to_rfc3339_opts(chrono::SecondsFormat::Millis, true), "format": "RFC3339"});
    json!({
        "volume": {
            "outline_polygon": {"vertices": [
                {"lat": lat, "lng": lng}, {"lat": lat, "lng": lng + d},
                {"lat": lat + d, "lng": lng + d}, {"lat": lat + d, "lng": lng}]},
            "altitude_lower": {"value": 0, "reference": "W84", "units": "M"},
            "altitude_upper": {"value": 120, "reference": "W84", "units": "M"}
        },
        "time_start": t(now),
        "time_end": t(now + chrono::Duration::hours(2))
    })
}

/// An Accepted intent without a subscription.
fn intent(extent: Value, key: &[String]) -> Value {
    json!({
        "extents": [extent],
        "key": key,
        "state": "Accepted",
        "uss_base_url": "https://pool.example/uss",
    })
}

/// The `n`th of many disjoint 100 m squares (no write among them needs a key), in a block
/// whose south-west corner is (`lat`, `lng`).
fn cell(lat: f64, lng: f64, n: usize) -> Value {
    square(
        lat + (n / 50) as f64 * 0.002,
        lng + (n % 50) as f64 * 0.002,
        0.0009,
    )
}

/// Takes the test lock; `None` (after a notice, or a panic under CI) when PostgreSQL is absent.
async fn serial(test: &str, vars: &[&str]) -> Option<tokio::sync::MutexGuard<'static, ()>> {
    if !available(test, vars) {
        return None;
    }
    Some(SERIAL.lock().await)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_write_through_one_instance_is_seen_through_the_others_at_once() {
    let Some(_serial) = serial("pool::a_write_through_one_instance_is_seen", &[PG_ENV]).await
    else {
        return;
    };
    let pool = Pool::start(3).await;
    let t = pool.token("uss1");
    let oi = id();
    let path = format!("{OI}/{oi}");
    let area = square(45.0, 7.0, 0.01);

    let created = pool.put(0, &path, &t, &intent(area.clone(), &[])).await;
    created.expect(201);
    let ovn1 = created.ovn();
    for i in [1, 2] {
        let got = pool.get(i, &path, &t).await;
        got.expect(200);
        assert_eq!(got.oir()["ovn"], ovn1.as_str(), "through instance {i}");
        let found = pool.query(i, &t, &area).await;
        found.expect(200);
        let ids: Vec<&str> = found.body["operational_intent_references"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|o| o["id"].as_str())
            .collect();
        assert_eq!(ids, vec![oi.as_str()], "query through instance {i}");
    }

    // Another party is held to the first one's intent through any instance.
    let t2 = pool.token("uss2");
    let refused = pool
        .put(
            2,
            &format!("{OI}/{}", id()),
            &t2,
            &intent(area.clone(), &[]),
        )
        .await;
    refused.expect(409);
    assert_eq!(
        refused.body["missing_operational_intents"][0]["id"],
        oi.as_str()
    );

    // Updated through the second, deleted through the third.
    let updated = pool
        .put(1, &format!("{path}/{ovn1}"), &t, &intent(area.clone(), &[]))
        .await;
    updated.expect(200);
    assert_eq!(updated.oir()["version"], 2);
    let ovn2 = updated.ovn();
    let seen = pool.get(0, &path, &t).await;
    assert_eq!(seen.oir()["version"], 2);
    assert_eq!(seen.oir()["ovn"], ovn2.as_str());
    pool.put(0, &format!("{path}/{ovn1}"), &t, &intent(area.clone(), &[]))
        .await
        .expect(409);
    pool.delete(2, &format!("{path}/{ovn2}"), &t)
        .await
        .expect(200);
    pool.get(0, &path, &t).await.expect(404);
    pool.get(1, &path, &t).await.expect(404);

    // A subscription made through one is the manager's through another.
    let sub = id();
    let made = pool
        .put(
            0,
            &format!("{SUB}/{sub}"),
            &t,
            &json!({"extents": area, "uss_base_url": "https://pool.example/uss",
                    "notify_for_operational_intents": true, "notify_for_constraints": false}),
        )
        .await;
    made.expect(200);
    let got = pool.get(2, &format!("{SUB}/{sub}"), &t).await;
    got.expect(200);
    assert_eq!(
        got.body["subscription"]["version"],
        made.body["subscription"]["version"]
    );
}

/// The coherence window of the instances' in-memory images is zero: every write acknowledged
/// through one instance is in the very next answer of the other, by id and by area, while
/// both are busy with other queries and writes (so that catch-ups are in flight when the
/// checking request arrives, which must then wait for one that started after it).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_acknowledged_write_is_in_the_next_answer_of_the_other_instance() {
    let Some(_serial) = serial(
        "pool::every_acknowledged_write_is_in_the_next_answer",
        &[PG_ENV],
    )
    .await
    else {
        return;
    };
    let pool = Arc::new(Pool::start(2).await);
    let (lat, lng) = (20.0, 20.0);
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));

    // Background load on both instances: queries over the block, and writes elsewhere.
    let mut background = Vec::new();
    for c in 0..4 {
        let (pool, stop) = (pool.clone(), stop.clone());
        background.push(tokio::spawn(async move {
            let t = pool.token(&format!("noise-{c}"));
            let mut n = 0;
            while !stop.load(Ordering::Relaxed) {
                let i = (c + n) % 2;
                if c % 2 == 0 {
                    pool.query(i, &t, &square(lat, lng, 0.1)).await.expect(200);
                } else {
                    let area = cell(lat + 1.0, lng + c as f64, n);
                    pool.put(i, &format!("{OI}/{}", id()), &t, &intent(area, &[]))
                        .await
                        .expect(201);
                }
                n += 1;
            }
            n
        }));
    }

    // Checkers: write through one instance, then ask the other at once.
    const CHECKERS: usize = 3;
    const ROUNDS: usize = 40;
    let mut checkers = Vec::new();
    for c in 0..CHECKERS {
        let pool = pool.clone();
        checkers.push(tokio::spawn(async move {
            let t = pool.token(&format!("checker-{c}"));
            let mut misses = Vec::new();
            for round in 0..ROUNDS {
                let (w, r) = if round % 2 == 0 { (0, 1) } else { (1, 0) };
                let oi = id();
                let path = format!("{OI}/{oi}");
                let area = cell(lat + c as f64 * 0.02, lng, round);
                let made = pool.put(w, &path, &t, &intent(area.clone(), &[])).await;
                made.expect(201);
                let got = pool.get(r, &path, &t).await;
                if got.status != 200 || got.oir()["ovn"] != made.ovn().as_str() {
                    misses.push(format!("round {round}: GET {} {}", got.status, got.text));
                }
                let found = pool.query(r, &t, &area).await;
                found.expect(200);
                if !found.text.contains(&oi) {
                    misses.push(format!("round {round}: query {}", found.text));
                }
                pool.delete(r, &format!("{path}/{}", made.ovn()), &t)
                    .await
                    .expect(200);
                let gone = pool.get(w, &path, &t).await;
                if gone.status != 404 {
                    misses.push(format!("round {round}: after delete, GET {}", gone.status));
                }
            }
            misses
        }));
    }
    let mut misses = Vec::new();
    for c in checkers {
        misses.extend(c.await.unwrap());
    }
    stop.store(true, Ordering::Relaxed);
    let mut noise = 0;
    for b in background {
        noise += b.await.unwrap();
    }
    assert!(noise > 0);
    assert!(
        misses.is_empty(),
        "{} of {} checks missed a write acknowledged through the other instance: {misses:#?}",
        misses.len(),
        CHECKERS * ROUNDS * 3
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn parties_racing_through_different_instances_never_both_win() {
    let Some(_serial) = serial(
        "pool::parties_racing_through_different_instances",
        &[PG_ENV],
    )
    .await
    else {
        return;
    };
    let pool = Pool::start(2).await;
    let (t1, t2) = (pool.token("uss1"), pool.token("uss2"));
    const ROUNDS: usize = 40;
    let mut won = 0;
    for round in 0..ROUNDS {
        // A new piece of airspace each round; the parties swap instances every other round.
        let area = cell(40.0, 8.0, round);
        let (a, b) = (id(), id());
        let (ia, ib) = if round % 2 == 0 { (0, 1) } else { (1, 0) };
        let (pa, pb, body) = (
            format!("{OI}/{a}"),
            format!("{OI}/{b}"),
            intent(area.clone(), &[]),
        );
        let (ra, rb) = tokio::join!(pool.put(ia, &pa, &t1, &body), pool.put(ib, &pb, &t2, &body));
        for r in [&ra, &rb] {
            assert!(
                r.status == 201 || r.status == 409,
                "round {round}: {} {}",
                r.status,
                r.text
            );
        }
        assert!(
            !(ra.status == 201 && rb.status == 201),
            "round {round}: both parties got the same airspace"
        );
        // What the DSS holds there agrees with what the parties were told.
        let held = pool.query(ib, &t1, &area).await;
        held.expect(200);
        let held: HashSet<String> = held.body["operational_intent_references"]
            .as_array()
            .unwrap()
            .iter()
            .map(|o| o["id"].as_str().unwrap().to_owned())
            .collect();
        let told: HashSet<String> = [(&ra, a), (&rb, b)]
            .into_iter()
            .filter(|(r, _)| r.status == 201)
            .map(|(_, id)| id)
            .collect();
        assert_eq!(held, told, "round {round}");
        won += told.len();
    }
    // Someone wins nearly every round (both may lose only to repeated serialization failures).
    assert!(
        won >= ROUNDS * 9 / 10,
        "only {won} of {ROUNDS} rounds had a winner"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn versions_ovns_and_notification_indexes_stay_consistent_under_load() {
    let Some(_serial) = serial("pool::versions_ovns_and_notification_indexes", &[PG_ENV]).await
    else {
        return;
    };
    let pool = Arc::new(Pool::start(3).await);
    let watcher = pool.token("watcher");
    let owner = pool.token("uss1");
    let (lat, lng) = (30.0, 10.0);

    // A subscription over the whole block, and one shared intent in it that everybody bumps.
    let sub = id();
    let s = pool
        .put(
            0,
            &format!("{SUB}/{sub}"),
            &watcher,
            &json!({"extents": square(lat - 0.01, lng - 0.01, 0.5),
                    "uss_base_url": "https://watcher.example",
                    "notify_for_operational_intents": true, "notify_for_constraints": false}),
        )
        .await;
    s.expect(200);
    assert_eq!(s.body["subscription"]["notification_index"], 0);
    let shared = id();
    let shared_area = cell(lat, lng, 0);
    let created = pool
        .put(
            1,
            &format!("{OI}/{shared}"),
            &owner,
            &intent(shared_area.clone(), &[]),
        )
        .await;
    created.expect(201);
    assert_eq!(created.index_of(&sub), Some(1), "{}", created.text);

    // What each successful write reported.
    #[derive(Debug, Clone)]
    struct Done {
        version: i64,
        ovn: String,
        index: i64,
    }
    let updates: Arc<Mutex<Vec<Done>>> = Arc::default();
    let creates: Arc<Mutex<Vec<Done>>> = Arc::default();
    let stale = Arc::new(AtomicUsize::new(0));
    let next_cell = Arc::new(AtomicUsize::new(1));
    const CLIENTS: usize = 6;
    const WRITES: usize = 12;
    let mut tasks = Vec::new();
    for c in 0..CLIENTS {
        let (pool, sub, owner) = (pool.clone(), sub.clone(), owner.clone());
        let (shared, shared_area) = (shared.clone(), shared_area.clone());
        let (updates, creates, stale, next_cell) = (
            updates.clone(),
            creates.clone(),
            stale.clone(),
            next_cell.clone(),
        );
        tasks.push(tokio::spawn(async move {
            let i = c % 3;
            let other = pool.token(&format!("uss-{c}"));
            for _ in 0..WRITES {
                if c % 2 == 0 {
                    // Bump the shared intent: read its OVN through this instance, update it.
                    let got = pool.get(i, &format!("{OI}/{shared}"), &owner).await;
                    got.expect(200);
                    let ovn = got.ovn();
                    let r = pool
                        .put(
                            i,
                            &format!("{OI}/{shared}/{ovn}"),
                            &owner,
                            &intent(shared_area.clone(), &[]),
                        )
                        .await;
                    match r.status {
                        200 => updates.lock().unwrap().push(Done {
                            version: r.oir()["version"].as_i64().unwrap(),
                            ovn: r.ovn(),
                            index: r.index_of(&sub).expect("the subscription is told"),
                        }),
                        // Another client updated it first.
                        409 => {
                            stale.fetch_add(1, Ordering::Relaxed);
                        }
                        s => panic!("update through instance {i}: {s} {}", r.text),
                    }
                } else {
                    // A new intent of another party in its own cell of the block.
                    let n = next_cell.fetch_add(1, Ordering::Relaxed);
                    let r = pool
                        .put(
                            i,
                            &format!("{OI}/{}", id()),
                            &other,
                            &intent(cell(lat, lng, n), &[]),
                        )
                        .await;
                    match r.status {
                        201 => creates.lock().unwrap().push(Done {
                            version: r.oir()["version"].as_i64().unwrap(),
                            ovn: r.ovn(),
                            index: r.index_of(&sub).expect("the subscription is told"),
                        }),
                        // Only "despite repeated attempts" may refuse a disjoint create.
                        409 if r.text.contains("repeated attempts") => {}
                        s => panic!("create through instance {i}: {s} {}", r.text),
                    }
                }
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let updates = updates.lock().unwrap().clone();
    let creates = creates.lock().unwrap().clone();
    eprintln!(
        "{} updates ({} refused as stale), {} creates through 3 instances",
        updates.len(),
        stale.load(Ordering::Relaxed),
        creates.len()
    );
    assert!(!updates.is_empty() && creates.len() >= CLIENTS / 2 * WRITES * 9 / 10);

    // Versions of the shared intent: 2..=n+1, each once; the last is what every instance holds.
    let versions: BTreeSet<i64> = updates.iter().map(|d| d.version).collect();
    assert_eq!(versions.len(), updates.len(), "a version was given twice");
    let expected: BTreeSet<i64> = (2..=updates.len() as i64 + 1).collect();
    assert_eq!(versions, expected, "versions have gaps");
    let last = updates.iter().max_by_key(|d| d.version).unwrap();
    for i in 0..3 {
        let got = pool.get(i, &format!("{OI}/{shared}"), &owner).await;
        assert_eq!(got.oir()["version"], last.version, "instance {i}");
        assert_eq!(got.oir()["ovn"], last.ovn.as_str(), "instance {i}");
    }
    assert!(creates.iter().all(|d| d.version == 1));

    // OVNs never repeat.
    let first = created.ovn();
    let ovns: HashSet<&str> = updates
        .iter()
        .chain(&creates)
        .map(|d| d.ovn.as_str())
        .chain([first.as_str()])
        .collect();
    assert_eq!(
        ovns.len(),
        1 + updates.len() + creates.len(),
        "an OVN was given twice"
    );

    // Every successful write told the subscription once, each with its own index: 1..=n.
    let writes = 1 + updates.len() + creates.len();
    let indexes: BTreeSet<i64> = updates
        .iter()
        .chain(&creates)
        .map(|d| d.index)
        .chain([1])
        .collect();
    assert_eq!(indexes, (1..=writes as i64).collect::<BTreeSet<_>>());
    for i in 0..3 {
        let s = pool.get(i, &format!("{SUB}/{sub}"), &watcher).await;
        s.expect(200);
        assert_eq!(
            s.body["subscription"]["notification_index"], writes as i64,
            "instance {i}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_of_one_instance_loses_no_acknowledged_write_and_the_others_serve_on() {
    let Some(_serial) = serial("pool::kill_9_of_one_instance", &[PG_ENV]).await else {
        return;
    };
    let mut pool = Pool::start(3).await;
    let t = pool.token("uss1");

    let bases: Vec<String> = pool.instances.iter().map(|i| i.base.clone()).collect();
    let dead = Arc::new(Mutex::new(HashSet::<usize>::new()));
    /// A write some instance acknowledged.
    #[derive(Debug, Clone)]
    struct Acked {
        id: String,
        ovn: String,
        instance: usize,
        after_kill: bool,
    }
    let acked: Arc<Mutex<Vec<Acked>>> = Arc::default();
    let next = Arc::new(AtomicUsize::new(0));
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let mut tasks = Vec::new();
    for w in 0..9 {
        let (client, bases, t) = (pool.client.clone(), bases.clone(), t.clone());
        let (dead, acked, next, stop) = (dead.clone(), acked.clone(), next.clone(), stop.clone());
        tasks.push(tokio::spawn(async move {
            let mut i = w % 3;
            while !stop.load(Ordering::Relaxed) {
                let n = next.fetch_add(1, Ordering::Relaxed);
                let oi = id();
                let after_kill = !dead.lock().unwrap().is_empty();
                let r = client
                    .put(format!("{}{OI}/{oi}", bases[i]))
                    .bearer_auth(&t)
                    .json(&intent(cell(20.0, 20.0, n), &[]))
                    .send()
                    .await;
                let r = Answer::of(r).await;
                match r.status {
                    201 => acked.lock().unwrap().push(Acked {
                        id: oi,
                        ovn: r.ovn(),
                        instance: i,
                        after_kill,
                    }),
                    // The instance is gone: go on through the next one, as a client would.
                    0 | 503 if dead.lock().unwrap().contains(&i) => i = (i + 1) % 3,
                    s => panic!("write through instance {i}: {s} {}", r.text),
                }
            }
        }));
    }
    let count = |after: bool| {
        acked
            .lock()
            .unwrap()
            .iter()
            .filter(|a| a.after_kill == after)
            .count()
    };
    let deadline = Instant::now() + Duration::from_secs(30);
    while count(false) < 90 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    dead.lock().unwrap().insert(0);
    pool.kill(0);
    let deadline = Instant::now() + Duration::from_secs(30);
    while count(true) < 90 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    stop.store(true, Ordering::Relaxed);
    for task in tasks {
        task.await.unwrap();
    }
    let acked = acked.lock().unwrap().clone();
    let by_killed = acked.iter().filter(|a| a.instance == 0).count();
    eprintln!(
        "{} writes acknowledged ({by_killed} by the killed instance), {} after the kill",
        acked.len(),
        count(true)
    );
    assert!(by_killed > 0, "the killed instance acknowledged nothing");
    assert!(
        count(true) >= 90,
        "the others did not serve on: {}",
        count(true)
    );

    // Every acknowledged write is there, with the OVN its client was given, through both
    // survivors.
    let mut wrong = HashMap::new();
    for Acked { id: oi, ovn, .. } in &acked {
        for i in [1, 2] {
            let got = pool.get(i, &format!("{OI}/{oi}"), &t).await;
            if got.status != 200 || got.oir()["ovn"] != ovn.as_str() {
                wrong.insert(oi.clone(), got.text.clone());
            }
        }
    }
    assert!(
        wrong.is_empty(),
        "acknowledged but lost or changed: {wrong:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_the_database_instances_answer_503_and_recover_by_themselves() {
    let Some(_serial) = serial("pool::without_the_database", &[PG_ENV, PGCTL_ENV]).await else {
        return;
    };
    let mut pool = Pool::start(2).await;
    let t = pool.token("uss1");
    let before = id();
    pool.put(
        0,
        &format!("{OI}/{before}"),
        &t,
        &intent(cell(50.0, 5.0, 0), &[]),
    )
    .await
    .expect(201);

    let pgctl = std::env::var(PGCTL_ENV).unwrap();
    let stopped = Instant::now();
    pg_ctl(&pgctl, "stop");
    // Started again however the checks below end.
    let restart = Restart(pgctl.clone());

    let (read_path, write_path, body) = (
        format!("{OI}/{before}"),
        format!("{OI}/{}", id()),
        intent(cell(50.0, 5.0, 1), &[]),
    );
    let (h0, h1, read, write) = tokio::join!(
        pool.health(0),
        pool.health(1),
        pool.get(1, &read_path, &t),
        pool.put(0, &write_path, &t, &body),
    );
    assert_eq!((h0, h1), (503, 503), "/healthy without the database");
    for r in [&read, &write] {
        r.expect(503);
        assert!(
            r.body["message"]
                .as_str()
                .unwrap_or("")
                .contains("unavailable"),
            "{}",
            r.text
        );
    }
    eprintln!("answered 503 within {:?} of the stop", stopped.elapsed());
    pool.all_running();
    // The log says what is wrong and where, without the password.
    let log = pool.log(0);
    let password = pool
        .db
        .url
        .split_once("://")
        .and_then(|(_, rest)| rest.split_once('@'))
        .and_then(|(user, _)| user.split_once(':'))
        .map(|(_, pw)| pw.to_owned())
        .unwrap_or_default();
    let target = pool.db.url.rsplit('/').next().unwrap().to_owned();
    assert!(
        log.lines().any(|l| l.contains("store unavailable")
            && l.contains("unreachable")
            && l.contains(&target)),
        "{log}"
    );
    assert!(password.is_empty() || !log.contains(&password), "{log}");

    drop(restart);
    let restarted = Instant::now();
    for i in 0..2 {
        pool.wait_healthy(i).await;
    }
    eprintln!("healthy again {:?} after the restart", restarted.elapsed());
    pool.all_running();
    // Nothing was lost, and both serve reads and writes again.
    pool.get(1, &format!("{OI}/{before}"), &t).await.expect(200);
    let after = id();
    pool.put(
        1,
        &format!("{OI}/{after}"),
        &t,
        &intent(cell(50.0, 5.0, 2), &[]),
    )
    .await
    .expect(201);
    pool.get(0, &format!("{OI}/{after}"), &t).await.expect(200);
    pool.kill(0);
    pool.kill(1);
}

fn pg_ctl(script: &str, action: &str) {
    let out = Command::new(script)
        .arg(action)
        .output()
        .unwrap_or_else(|e| panic!("{script} {action}: {e}"));
    assert!(
        out.status.success(),
        "{script} {action}: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Starts PostgreSQL again when dropped, so that a failed check does not leave the server of
/// the rest of the suite stopped.
struct Restart(String);

impl Drop for Restart {
    fn drop(&mut self) {
        pg_ctl(&self.0, "start");
    }
}
