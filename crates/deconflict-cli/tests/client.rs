//! The client commands end to end: the real `deconflict` binary against a real server process
//! started with `--dev`, with tokens from `deconflict dev-token`, as a person would use them.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

const BIN: &str = env!("CARGO_BIN_EXE_deconflict");

/// The server process, killed when the test ends however it ends.
struct Server {
    child: Child,
    url: String,
    data: PathBuf,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start(data: &Path) -> Server {
    start_with(data, &[])
}

/// A server with more flags (`--config FILE`, say).
fn start_with(data: &Path, flags: &[&str]) -> Server {
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let child = Command::new(BIN)
        .args(["serve", "--dev", "--listen"])
        .arg(format!("127.0.0.1:{port}"))
        .arg("--data-dir")
        .arg(data)
        .args(flags)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start the server");
    let server = Server {
        child,
        // `localhost`, because that is the audience dev-token signs for by default.
        url: format!("http://localhost:{port}"),
        data: data.to_owned(),
    };
    let deadline = Instant::now() + Duration::from_secs(20);
    while !healthy(port) {
        assert!(Instant::now() < deadline, "server did not become healthy");
        std::thread::sleep(Duration::from_millis(50));
    }
    server
}

/// `GET /healthy` by hand: the test needs nothing more than a status line.
fn healthy(port: u16) -> bool {
    let Ok(mut s) = TcpStream::connect(("127.0.0.1", port)) else {
        return false;
    };
    let _ = s.set_read_timeout(Some(Duration::from_secs(2)));
    if s.write_all(b"GET /healthy HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        .is_err()
    {
        return false;
    }
    let mut reply = String::new();
    let _ = s.read_to_string(&mut reply);
    reply.starts_with("HTTP/1.1 200")
}

impl Server {
    fn token(&self, sub: &str, scope: &str) -> String {
        let out = Command::new(BIN)
            .args(["dev-token", "--sub", sub, "--scope", scope, "--data-dir"])
            .arg(&self.data)
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", text(&out.stderr));
        text(&out.stdout).trim().to_owned()
    }

    /// `deconflict ARGS` as `token`, with the server's URL and token in the environment, as a
    /// person would set them once in a shell.
    fn run(&self, token: &str, args: &[&str], dir: &Path) -> Run {
        let out = Command::new(BIN)
            .args(args)
            .current_dir(dir)
            .env("DECONFLICT_URL", &self.url)
            .env("DECONFLICT_TOKEN", token)
            .env_remove("DECONFLICT_USS_BASE_URL")
            .env_remove("RUST_BACKTRACE")
            .stdin(Stdio::null())
            .output()
            .unwrap();
        Run(out, args.join(" "))
    }
}

struct Run(Output, String);

impl Run {
    fn stdout(&self) -> String {
        text(&self.0.stdout)
    }
    fn stderr(&self) -> String {
        text(&self.0.stderr)
    }
    fn code(&self) -> Option<i32> {
        self.0.status.code()
    }
    #[track_caller]
    fn ok(self) -> Run {
        assert!(
            self.0.status.success(),
            "`deconflict {}` failed ({:?}):\n{}\n{}",
            self.1,
            self.code(),
            self.stdout(),
            self.stderr()
        );
        self
    }
    #[track_caller]
    fn json(&self) -> Value {
        serde_json::from_str(&self.stdout()).unwrap_or_else(|e| {
            panic!(
                "`deconflict {}`: not JSON ({e}):\n{}",
                self.1,
                self.stdout()
            )
        })
    }
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// A 1 km square near Lausanne, closed as GeoJSON closes rings, with a name and a ceiling.
const FIELD: &str = r#"{"type": "FeatureCollection", "features": [
  {"type": "Feature", "properties": {"name": "field", "altitude_upper": 90},
   "geometry": {"type": "Polygon", "coordinates": [
     [[6.60, 46.50], [6.61, 46.50], [6.61, 46.51], [6.60, 46.51], [6.60, 46.50]]]}}]}"#;

/// A 200 m circle inside FIELD.
const SPOT: &str = r#"{"type": "Feature", "properties": {"radius_m": 200},
   "geometry": {"type": "Point", "coordinates": [6.605, 46.505]}}"#;

#[test]
fn a_person_at_a_shell_deconflicts_two_intents() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(&dir.path().join("data"));
    let cwd = dir.path();
    std::fs::write(cwd.join("field.geojson"), FIELD).unwrap();
    std::fs::write(cwd.join("spot.geojson"), SPOT).unwrap();
    let uss1 = server.token("uss1", "utm.strategic_coordination");
    let uss2 = server.token("uss2", "utm.strategic_coordination");

    // Put, with a new id: the id is told, the JSON is the server's response.
    let put = server
        .run(
            &uss1,
            &[
                "intent",
                "put",
                "field.geojson",
                "--uss-base-url",
                "https://uss1.example",
                "--json",
            ],
            cwd,
        )
        .ok();
    let oi = &put.json()["operational_intent_reference"];
    let id1 = oi["id"].as_str().unwrap().to_owned();
    let ovn1 = oi["ovn"].as_str().unwrap().to_owned();
    assert!(
        put.stderr().contains(&format!("new id: {id1}")),
        "{}",
        put.stderr()
    );
    assert_eq!(oi["state"], "Accepted");

    // Get: a table with the id, the manager and (ours) the OVN.
    let get = server.run(&uss1, &["intent", "get", &id1], cwd).ok();
    for want in [&id1, "uss1", &ovn1, "Accepted"] {
        assert!(get.stdout().contains(want), "{want} in:\n{}", get.stdout());
    }

    // Query by box (table), and by the file itself (JSON).
    let q = server
        .run(
            &uss2,
            &["intent", "query", "--bbox", "6.5,46.4,6.7,46.6"],
            cwd,
        )
        .ok();
    assert!(q.stdout().contains(&id1), "{}", q.stdout());
    let q = server
        .run(&uss2, &["intent", "query", "field.geojson", "--json"], cwd)
        .ok();
    let found = q.json()["operational_intent_references"].clone();
    assert_eq!(found.as_array().unwrap().len(), 1);
    assert_eq!(found[0]["id"], id1.as_str());
    assert!(
        found[0].get("ovn").is_none(),
        "another party's OVN is not shown"
    );

    // A second party's overlapping intent: refused, with uss1's intent named as missing.
    let id2 = "22222222-2222-4222-8222-222222222222";
    let args = [
        "intent",
        "put",
        "spot.geojson",
        "--id",
        id2,
        "--uss-base-url",
        "https://uss2.example",
        "--start",
        "+10m",
        "--end",
        "+40m",
    ];
    let refused = server.run(&uss2, &args, cwd);
    assert_eq!(refused.code(), Some(3), "{}", refused.stderr());
    assert!(refused.stderr().contains("409"), "{}", refused.stderr());
    assert!(refused.stderr().contains(&id1), "{}", refused.stderr());
    assert!(refused.stdout().is_empty());

    // The same with uss1's OVN as key goes through.
    let mut with_key = args.to_vec();
    with_key.extend(["--key", &ovn1, "--json"]);
    let put2 = server.run(&uss2, &with_key, cwd).ok();
    let ovn2 = put2.json()["operational_intent_reference"]["ovn"]
        .as_str()
        .unwrap()
        .to_owned();

    // Delete both; a deleted intent is gone.
    server
        .run(&uss2, &["intent", "delete", id2, &ovn2], cwd)
        .ok();
    let del = server
        .run(&uss1, &["intent", "delete", &id1, &ovn1], cwd)
        .ok();
    assert!(del.stdout().contains("Deleted"), "{}", del.stdout());
    let gone = server.run(&uss1, &["intent", "get", &id1], cwd);
    assert_eq!(gone.code(), Some(3));
    assert!(gone.stderr().contains("404"), "{}", gone.stderr());
}

#[test]
fn bad_input_is_named_and_nothing_is_sent() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(&dir.path().join("data"));
    let cwd = dir.path();
    let uss1 = server.token("uss1", "utm.strategic_coordination");
    let cases = [
        // A line has no area; the feature is named by its index and its name.
        (
            r#"{"type": "FeatureCollection", "features": [
                {"type": "Feature", "properties": {"name": "road"},
                 "geometry": {"type": "LineString", "coordinates": [[6.6, 46.5], [6.7, 46.6]]}}]}"#,
            &["features[0]", "\"road\"", "LineString"][..],
        ),
        // [lat, lng] instead of [lng, lat], caught because 95 is no latitude.
        (
            r#"{"type": "Polygon", "coordinates": [[[46.5, 6.6], [46.5, 95], [46.6, 6.6], [46.5, 6.6]]]}"#,
            &["latitude 95", "longitude first"][..],
        ),
        // A position the geojson crate rejects, located in the collection.
        (
            r#"{"type": "FeatureCollection", "features": [
                {"type": "Feature", "properties": {}, "geometry": {"type": "Polygon",
                 "coordinates": [[[6.6, 46.5], [6.7], [6.7, 46.6], [6.6, 46.5]]]}}]}"#,
            &["features[0]", "position"][..],
        ),
        ("{not json", &["not JSON"][..]),
    ];
    for (i, (body, wants)) in cases.iter().enumerate() {
        let file = format!("bad{i}.geojson");
        std::fs::write(cwd.join(&file), body).unwrap();
        let r = server.run(
            &uss1,
            &[
                "intent",
                "put",
                &file,
                "--uss-base-url",
                "https://uss1.example",
            ],
            cwd,
        );
        assert_eq!(r.code(), Some(1), "case {i}: {}", r.stderr());
        for want in *wants {
            assert!(
                r.stderr().contains(want),
                "case {i}: {want} in: {}",
                r.stderr()
            );
        }
        assert!(r.stderr().contains(&file), "case {i}: {}", r.stderr());
        assert!(
            !r.stderr().contains("new id"),
            "case {i}: failed before any request"
        );
    }
}

#[test]
fn subscriptions_constraints_and_availability() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(&dir.path().join("data"));
    let cwd = dir.path();
    std::fs::write(cwd.join("field.geojson"), FIELD).unwrap();
    // Notifications of constraints need constraint processing on top.
    let sc = server.token(
        "uss1",
        "utm.strategic_coordination utm.constraint_processing",
    );
    let cm = server.token(
        "authority",
        "utm.constraint_management utm.constraint_processing",
    );

    // A subscription over a circle; without anything to be notified of it is not sent.
    let sub = [
        "subscription",
        "put",
        "--circle",
        "46.505,6.605,2000",
        "--uss-base-url",
        "https://uss1.example",
    ];
    let none = server.run(&sc, &sub, cwd);
    assert_eq!(none.code(), Some(1));
    assert!(
        none.stderr().contains("--notify-intents"),
        "{}",
        none.stderr()
    );
    let mut args = sub.to_vec();
    args.extend(["--notify-constraints", "--json"]);
    let s = server.run(&sc, &args, cwd).ok().json();
    let (sid, version) = (
        s["subscription"]["id"].as_str().unwrap().to_owned(),
        s["subscription"]["version"].as_str().unwrap().to_owned(),
    );

    // A constraint over the field reaches that subscription.
    let c = server
        .run(
            &cm,
            &[
                "constraint",
                "put",
                "field.geojson",
                "--uss-base-url",
                "https://authority.example",
            ],
            cwd,
        )
        .ok();
    assert!(
        c.stdout().contains(&sid),
        "subscriber to notify:\n{}",
        c.stdout()
    );
    let q = server
        .run(
            &cm,
            &["constraint", "query", "field.geojson", "--json"],
            cwd,
        )
        .ok()
        .json();
    let cid = q["constraint_references"][0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let covn = q["constraint_references"][0]["ovn"]
        .as_str()
        .unwrap()
        .to_owned();
    server
        .run(&cm, &["constraint", "delete", &cid, &covn], cwd)
        .ok();

    let q = server
        .run(
            &sc,
            &["subscription", "query", "--bbox", "6.5,46.4,6.7,46.6"],
            cwd,
        )
        .ok();
    assert!(q.stdout().contains(&sid), "{}", q.stdout());
    server
        .run(&sc, &["subscription", "delete", &sid, &version], cwd)
        .ok();

    // Availability: readable with strategic coordination, settable only by arbitration.
    let a = server.run(&sc, &["availability", "get", "uss1"], cwd).ok();
    assert!(a.stdout().contains("Unknown"), "{}", a.stdout());
    let denied = server.run(
        &sc,
        &["availability", "set", "uss1", "--availability", "down"],
        cwd,
    );
    assert_eq!(denied.code(), Some(3));
    assert!(denied.stderr().contains("403"), "{}", denied.stderr());
    let aa = server.token("arbiter", "utm.availability_arbitration");
    let set = server
        .run(
            &aa,
            &[
                "availability",
                "set",
                "uss1",
                "--availability",
                "down",
                "--json",
            ],
            cwd,
        )
        .ok()
        .json();
    assert_eq!(set["status"]["availability"], "Down");
}

/// The parties of the humanitarian tests.
const PARTIES: &str = r#"
[[humanitarian.party]]
id = "ngo"
role = "humanitarian"

[[humanitarian.party]]
id = "armed"
role = "armed"
"#;

/// Three hospitals and a school near Aleppo; one row with a category that does not exist.
const SITES_CSV: &str = "lat,lon,name,category,radius_m,id,beds\n\
    36.2021,37.1343,Al Razi hospital,hospital,150,H-1,120\n\
    36.2102,37.1529,Al Quds hospital,hospital,120,H-2,\n\
    36.1950,37.1400,School 4,barracks,80,S-4,\n\
    36.2200,37.1100,Water station,water,60,W-1,\n";

#[test]
fn a_notification_cell_imports_and_exports_its_sites() {
    let dir = tempfile::tempdir().unwrap();
    let cwd = dir.path();
    std::fs::write(cwd.join("parties.toml"), PARTIES).unwrap();
    std::fs::write(cwd.join("sites.csv"), SITES_CSV).unwrap();
    let config = cwd.join("parties.toml");
    let server = start_with(&cwd.join("data"), &["--config", config.to_str().unwrap()]);
    let ngo = server.token("ngo", "utm.strategic_coordination");

    // One bad row: it is reported with its line and reason, and nothing is imported.
    let refused = server.run(&ngo, &["sites", "import", "sites.csv"], cwd);
    assert_eq!(refused.code(), Some(1), "{}", refused.stderr());
    let err = refused.stderr();
    assert!(
        err.contains("line 4") && err.contains("\"barracks\" is not a site category"),
        "{err}"
    );
    assert!(err.contains("nothing was imported"), "{err}");
    let listed = server
        .run(&ngo, &["sites", "list", "--json"], cwd)
        .ok()
        .json();
    assert_eq!(listed["sites"], serde_json::json!([]));

    // --skip-invalid imports the others; the same file again changes nothing.
    let first = server
        .run(
            &ngo,
            &["sites", "import", "sites.csv", "--skip-invalid"],
            cwd,
        )
        .ok();
    assert!(
        first
            .stderr()
            .contains("3 created, 0 updated, 0 unchanged, 1 refused"),
        "{}",
        first.stderr()
    );
    let again = server
        .run(
            &ngo,
            &["sites", "import", "sites.csv", "--skip-invalid"],
            cwd,
        )
        .ok();
    assert!(
        again
            .stderr()
            .contains("0 created, 0 updated, 3 unchanged, 1 refused"),
        "{}",
        again.stderr()
    );
    let table = server.run(&ngo, &["sites", "list"], cwd).ok().stdout();
    assert!(
        table.contains("Al Quds hospital") && table.contains("water"),
        "{table}"
    );

    // Exports in both formats read back to the same sites.
    for (format, file) in [("csv", "out.csv"), ("geojson", "out.geojson")] {
        server
            .run(
                &ngo,
                &["sites", "export", "--format", format, "-o", file],
                cwd,
            )
            .ok();
        let back = server.run(&ngo, &["sites", "import", file], cwd).ok();
        assert!(
            back.stderr()
                .contains("0 created, 0 updated, 3 unchanged, 0 refused"),
            "{format}: {}",
            back.stderr()
        );
    }
    let exported: Value =
        serde_json::from_str(&std::fs::read_to_string(cwd.join("out.geojson")).unwrap()).unwrap();
    assert_eq!(exported["features"].as_array().unwrap().len(), 3);

    // An armed party may read the sites but not import any: the server says why.
    let armed = server.token("armed", "utm.strategic_coordination");
    let no = server.run(&armed, &["sites", "import", "out.csv"], cwd);
    assert_eq!(no.code(), Some(3), "{}", no.stderr());
    assert!(no.stderr().contains("role armed"), "{}", no.stderr());
    let seen = server
        .run(&armed, &["sites", "export", "--format", "csv"], cwd)
        .ok();
    assert_eq!(seen.stdout().lines().count(), 4, "{}", seen.stdout());
}
