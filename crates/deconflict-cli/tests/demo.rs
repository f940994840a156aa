//! `deconflict demo` end to end, as a newcomer runs it: the real binary starts a server in a
//! fresh folder and loads the scenario through the API (alpha's operation refused until its key
//! holds the hospital's OVN, bravo's until it holds the convoy's); then, as issue 5's "done
//! when" asks, the log is exported and verified offline (exit 0), one byte of the entry that
//! proves alpha planned with the hospital in view is changed, and verification fails naming
//! that entry.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;
use common::free_port;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use deconflict_tlog::{Kind, Record};
use serde_json::Value;

fn deconflict(args: &[&str]) -> (i32, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_deconflict"))
        .args(args)
        .env_remove("DECONFLICT_CONFIG")
        .env_remove("DECONFLICT_STORE")
        .output()
        .expect("run deconflict");
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    (out.status.code().unwrap(), text)
}

/// The word after `prefix` on the first line that has it.
fn after<'a>(lines: &'a [String], prefix: &str) -> &'a str {
    lines
        .iter()
        .find_map(|l| l.trim().strip_prefix(prefix))
        .unwrap_or_else(|| panic!("no line {prefix:?} in {lines:#?}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_demo_loads_its_scenario_and_its_log_verifies_until_a_byte_changes() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("demo");
    let port = free_port();
    let mut demo = Command::new(env!("CARGO_BIN_EXE_deconflict"))
        .args([
            "demo",
            "--listen",
            &format!("127.0.0.1:{port}"),
            "--data-dir",
        ])
        .arg(&data)
        .env_remove("DECONFLICT_CONFIG")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = demo.stdout.take().unwrap();
    let reading = std::thread::spawn(move || {
        let mut lines = Vec::new();
        for line in BufReader::new(stdout).lines() {
            let line = line.unwrap();
            let done = line == "ready";
            lines.push(line);
            if done {
                break;
            }
        }
        lines
    });
    let lines = tokio::task::spawn_blocking(move || reading.join().unwrap())
        .await
        .unwrap();
    assert_eq!(
        lines.last().map(String::as_str),
        Some("ready"),
        "{lines:#?}"
    );
    let text = lines.join("\n");
    assert!(text.contains("alpha planned operation"), "{text}");
    assert!(text.contains("refused with 409"), "{text}");
    assert!(text.contains("alpha acknowledged notification"), "{text}");
    let monitor = after(&lines, "export MONITOR=").to_owned();
    let alpha = after(&lines, "export ALPHA=").to_owned();
    let hospital = after(&lines, "site      Eastern District Hospital (")
        .trim_end_matches(')')
        .to_owned();

    let base = format!("http://127.0.0.1:{port}");
    let client = reqwest::Client::new();
    let get = |path: String, token: &str| {
        let req = client.get(format!("{base}{path}")).bearer_auth(token);
        async move {
            let r = req.send().await.unwrap();
            assert_eq!(r.status(), 200, "{path}");
            r.json::<Value>().await.unwrap()
        }
    };
    let sites = get("/v1/sites".into(), &monitor).await;
    assert_eq!(sites["sites"].as_array().unwrap().len(), 4);
    let movements = get("/v1/movements".into(), &monitor).await;
    assert_eq!(movements["movements"].as_array().unwrap().len(), 2);
    let notified = get("/v1/notifications".into(), &alpha).await;
    assert!(
        notified["notifications"]
            .as_array()
            .is_some_and(|n| !n.is_empty()),
        "alpha was told of what its operation crosses: {notified}"
    );

    // The accountability record of the incident, as the coordinator fetches it from a shell.
    let coord = after(&lines, "export COORD=").to_owned();
    let incident = after(
        &lines,
        "The monitoring mission reported shelling near the hospital: incident ",
    )
    .to_owned();
    let report = |id: &str, format: &str| {
        deconflict(&[
            "report", "incident", id, "--format", format, "--url", &base, "--token", &coord,
        ])
    };
    let (code, md) = report(&incident, "md");
    assert_eq!(code, 0, "{md}");
    assert!(md.contains("Eastern District Hospital"), "{md}");
    assert!(
        md.contains("alpha"),
        "alpha's write and acknowledgment are named: {md}"
    );
    let (code, html) = report(&incident, "html");
    assert_eq!(code, 0, "{html}");
    assert!(
        html.contains("<html") && html.contains("Eastern District Hospital"),
        "{html}"
    );
    let (code, json) = report(&incident, "json");
    assert_eq!(code, 0, "{json}");
    serde_json::from_str::<Value>(&json).expect("the JSON form parses");
    let (code, out) = report("00000000-0000-4000-8000-000000000000", "md");
    assert_eq!(
        code, 3,
        "an unknown incident is the server's refusal: {out}"
    );

    // Every write is in the log once a checkpoint covers it (signed within 2 s).
    let started = Instant::now();
    let mut size = 0;
    while size < 8 {
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "log size {size}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
        let r = client
            .get(format!("{base}/v1/log/checkpoint"))
            .bearer_auth(&monitor)
            .send()
            .await
            .unwrap();
        if r.status() == 200 {
            let note = r.text().await.unwrap();
            size = note.lines().nth(1).unwrap().parse().unwrap();
        }
    }
    demo.kill().unwrap();
    demo.wait().unwrap();

    let bundle = dir.path().join("bundle.json");
    let (d, b) = (data.to_str().unwrap(), bundle.to_str().unwrap());
    let (code, out) = deconflict(&["log-export", "--data-dir", d, "--out", b]);
    assert_eq!(code, 0, "{out}");
    let (code, out) = deconflict(&["verify", b]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("consistent"), "{out}");

    // The entries: the hospital's notification gives its OVN; alpha's write carried it.
    let mut json: Value = serde_json::from_slice(&std::fs::read(&bundle).unwrap()).unwrap();
    let records: Vec<(u64, Record)> = json["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            let r = e["record"].as_str().unwrap().as_bytes();
            (e["index"].as_u64().unwrap(), Record::from_bytes(r).unwrap())
        })
        .collect();
    let ovn = records
        .iter()
        .find(|(_, r)| r.kind == Kind::SiteNotified && r.subject == hospital)
        .map(|(_, r)| r.body["ovn"].as_str().unwrap().to_owned())
        .expect("the hospital's notification is logged");
    let (index, _) = records
        .iter()
        .find(|(_, r)| {
            r.kind == Kind::DssWriteKey
                && r.party == "alpha"
                && r.body["key"].as_array().unwrap().iter().any(|k| k == &ovn)
        })
        .expect("alpha's write with the hospital's OVN in its key is logged");
    assert!(
        !records.iter().any(|(_, r)| r.kind == Kind::DssWriteKey
            && r.party == "alpha"
            && !r.body["key"].as_array().unwrap().iter().any(|k| k == &ovn)),
        "the refused write is not in the log"
    );

    // One byte: alpha becomes alphb in that entry's record.
    let entry = &mut json["entries"][*index as usize];
    let changed = entry["record"]
        .as_str()
        .unwrap()
        .replace("\"party\":\"alpha\"", "\"party\":\"alphb\"");
    entry["record"] = changed.into();
    std::fs::write(&bundle, serde_json::to_vec_pretty(&json).unwrap()).unwrap();
    let (code, out) = deconflict(&["verify", b]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains(&format!("entry {index}:")), "{out}");
}
