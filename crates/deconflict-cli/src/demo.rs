//! `deconflict demo`: starts a development server in a fresh data directory with the parties of
//! `demo/deconflict.toml`, loads a fictional scenario set in Aleppo through the public API (as
//! the parties themselves would), prints what happened and what to try next, and serves until
//! Ctrl-C.
//!
//! The scenario: the notification cell `cell` notifies two hospitals, a school and a water
//! pumping station, and two aid convoys; `alpha` plans an operation over the eastern district
//! that is refused (409) until its key holds the hospital's OVN, which it fetches from the
//! hospital's details as any USS would, then accepted; `bravo` plans one across the first
//! convoy's route, refused until its key holds the convoy's OVN; alpha acknowledges the first
//! notification it was sent; the monitoring mission reports shelling near the hospital. Every write is in the tamper-evident log.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{bail, Context};
use chrono::{DateTime, SecondsFormat, Utc};
use deconflict_auth::{DevKeys, DEV_ISSUER};
use deconflict_server::config::{FileConfig, ServeArgs};
use deconflict_server::{shutdown_signal, Config, Server, DATABASE_FILE};
use serde_json::{json, Value};

/// The demonstration parties, as the README's run command loads them.
const PARTIES: &str = include_str!("../../../demo/deconflict.toml");
/// How long the printed tokens stay valid.
const TOKEN_HOURS: u64 = 12;
const SC: &str = "utm.strategic_coordination";
const CP: &str = "utm.constraint_processing";

#[derive(Debug, clap::Args)]
pub struct DemoArgs {
    /// A data directory that holds no database yet.
    #[arg(long, value_name = "DIR", default_value = "./deconflict-demo")]
    pub data_dir: PathBuf,
    /// Address to listen on.
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:8082")]
    pub listen: std::net::SocketAddr,
}

pub async fn run(args: DemoArgs) -> anyhow::Result<()> {
    // The guide on standard output is the point; the request log would bury it.
    crate::logging::init_with_default("warn");
    if args.data_dir.join(DATABASE_FILE).exists() {
        bail!(
            "{} already holds a database: give --data-dir a new directory (or remove it) so \
             that the scenario starts from nothing",
            args.data_dir.display()
        );
    }
    let file: FileConfig = toml::from_str(PARTIES).context("demo/deconflict.toml")?;
    let serve = ServeArgs {
        data_dir: Some(args.data_dir.clone()),
        listen: Some(args.listen),
        dev: Some(true),
        ..ServeArgs::default()
    };
    let config = Config::merge(&serve, file).context("demo configuration")?;
    let server = Server::bind(config).await.context("starting the server")?;
    let base = format!("http://{}", server.local_addr()?);
    let running = tokio::spawn(server.run(shutdown_signal()));
    let keys = DevKeys::load_or_create(&args.data_dir)?;
    let tokens = Tokens::new(&keys);
    let story = load(&base, &tokens).await.context("loading the scenario")?;
    print_guide(&base, &args.data_dir, &tokens, &story);
    running.await??;
    Ok(())
}

/// A token of each demonstration party.
pub struct Tokens {
    pub coord: String,
    pub cell: String,
    pub alpha: String,
    pub bravo: String,
    pub monitor: String,
}

impl Tokens {
    pub fn new(keys: &DevKeys) -> Self {
        let sign = |sub: &str, scopes: &[&str]| {
            let life = Duration::from_secs(TOKEN_HOURS * 3600);
            keys.sign(sub, scopes.iter().copied(), "localhost", DEV_ISSUER, life)
        };
        Self {
            coord: sign("coord", &[SC]),
            cell: sign("cell", &[SC]),
            alpha: sign("alpha", &[SC, CP]),
            bravo: sign("bravo", &[SC, CP]),
            monitor: sign("monitor", &[SC]),
        }
    }
}

/// What loading the scenario did, for the guide (and the end-to-end test).
#[derive(Debug, Default)]
pub struct Story {
    /// (name, DSS id, OVN of its constraint).
    pub sites: Vec<(String, String, String)>,
    /// (name, DSS id, OVN of its intent).
    pub convoys: Vec<(String, String, String)>,
    /// (party, intent id, what the 409 said was missing, the OVN the write was accepted with).
    pub operations: Vec<(String, String, String, String)>,
    pub incident: String,
    /// The notification alpha acknowledged, if it was told of any that needs it.
    pub acknowledged: Option<String>,
}

fn at(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

fn site(id: &str, name: &str, category: &str, lat: f64, lon: f64, radius: u32) -> Value {
    json!({"external_id": id, "name": name, "category": category, "radius_m": radius,
           "geometry": {"type": "Point", "coordinates": [lon, lat]}})
}

fn convoy(id: &str, name: &str, route: &[[f64; 2]], width: u32, leave_min: i64) -> Value {
    let now = Utc::now();
    let min = |m: i64| at(now + chrono::Duration::minutes(m));
    json!({"external_id": id, "name": name, "corridor_width_m": width, "state": "planned",
           "route": {"type": "LineString", "coordinates": route},
           "departure": {"earliest": min(leave_min), "latest": min(leave_min + 15)},
           "arrival": {"earliest": min(leave_min + 60), "latest": min(leave_min + 120)}})
}

/// An Accepted intent over the square of `size` degrees at (`lat`, `lon`), from 5 minutes to an
/// hour from now, with a subscription that processes constraints.
fn operation(lat: f64, lon: f64, size: f64, key: &[String]) -> Value {
    let now = Utc::now();
    let t = |m: i64| {
        json!({"value": now.checked_add_signed(chrono::Duration::minutes(m))
            .map(|t| t.to_rfc3339_opts(SecondsFormat::Millis, true)), "format": "RFC3339"})
    };
    json!({
        "extents": [{
            "volume": {
                "outline_polygon": {"vertices": [
                    {"lat": lat, "lng": lon}, {"lat": lat, "lng": lon + size},
                    {"lat": lat + size, "lng": lon + size}, {"lat": lat + size, "lng": lon}]},
                "altitude_lower": {"value": 0, "reference": "W84", "units": "M"},
                "altitude_upper": {"value": 3000, "reference": "W84", "units": "M"}
            },
            "time_start": t(5), "time_end": t(65)
        }],
        "key": key, "state": "Accepted", "uss_base_url": "https://ops.example",
        "new_subscription": {"uss_base_url": "https://ops.example", "notify_for_constraints": true}
    })
}

struct Api<'a> {
    http: reqwest::Client,
    base: &'a str,
}

impl Api<'_> {
    async fn send(
        &self,
        method: reqwest::Method,
        path: &str,
        token: &str,
        body: Option<&Value>,
    ) -> anyhow::Result<(u16, Value)> {
        let mut req = self
            .http
            .request(method, format!("{}{path}", self.base))
            .bearer_auth(token);
        if let Some(b) = body {
            req = req.json(b);
        }
        let resp = req.send().await.with_context(|| path.to_owned())?;
        let status = resp.status().as_u16();
        let text = resp.text().await?;
        Ok((status, serde_json::from_str(&text).unwrap_or(Value::Null)))
    }

    async fn expect(
        &self,
        method: reqwest::Method,
        path: &str,
        token: &str,
        body: Option<&Value>,
        status: u16,
    ) -> anyhow::Result<Value> {
        let (got, answer) = self.send(method, path, token, body).await?;
        if got != status {
            bail!("{path}: {got} {answer}, {status} expected");
        }
        Ok(answer)
    }
}

fn text(v: &Value, what: &str) -> anyhow::Result<String> {
    v.as_str()
        .map(str::to_owned)
        .with_context(|| format!("{what} missing in the answer"))
}

/// Writes the operation `id`; on 409 fetches the OVNs of what the answer says is missing from
/// their managers' details (`/uss/v1` at their `uss_base_url`, this server for sites and
/// movements) and writes again with them in the key, as a USS does. Returns what was missing
/// and the key it was accepted with.
async fn plan(
    api: &Api<'_>,
    token: &str,
    id: &str,
    area: (f64, f64, f64),
) -> anyhow::Result<(String, Vec<String>)> {
    use reqwest::Method;
    let path = format!("/dss/v1/operational_intent_references/{id}");
    let (lat, lon, size) = area;
    let (status, refused) = api
        .send(
            Method::PUT,
            &path,
            token,
            Some(&operation(lat, lon, size, &[])),
        )
        .await?;
    if status != 409 {
        bail!("{path}: {status} {refused}, 409 expected without a key");
    }
    let mut key = Vec::new();
    let mut missing = Vec::new();
    for (list, details, field) in [
        ("missing_constraints", "constraints", "constraint"),
        (
            "missing_operational_intents",
            "operational_intents",
            "operational_intent",
        ),
    ] {
        for m in refused[list].as_array().into_iter().flatten() {
            let (mid, url) = (text(&m["id"], "id")?, text(&m["uss_base_url"], "url")?);
            let got: Value = api
                .http
                .get(format!("{url}/uss/v1/{details}/{mid}"))
                .bearer_auth(token)
                .send()
                .await?
                .json()
                .await?;
            key.push(text(&got[field]["reference"]["ovn"], "ovn")?);
            missing.push(format!("{field} {mid}"));
        }
    }
    let body = operation(lat, lon, size, &key);
    api.expect(Method::PUT, &path, token, Some(&body), 201)
        .await?;
    Ok((missing.join(", "), key))
}

/// Loads the scenario into the server at `base`.
pub async fn load(base: &str, t: &Tokens) -> anyhow::Result<Story> {
    use reqwest::Method;
    let api = Api {
        http: reqwest::Client::builder()
            .timeout(Duration::from_secs(30))
            .build()?,
        base,
    };
    let mut story = Story::default();
    for s in [
        site(
            "H-1",
            "Eastern District Hospital",
            "hospital",
            36.2009,
            37.1512,
            150,
        ),
        site(
            "H-2",
            "Old City Children's Clinic",
            "clinic",
            36.1990,
            37.1630,
            100,
        ),
        site("S-12", "School 12", "school", 36.2300, 37.1800, 80),
        site(
            "W-3",
            "Northern Pumping Station",
            "water",
            36.2400,
            37.1200,
            60,
        ),
    ] {
        let a = api
            .expect(Method::POST, "/v1/sites", &t.cell, Some(&s), 201)
            .await?;
        story.sites.push((
            text(&a["site"]["name"], "name")?,
            text(&a["site"]["id"], "id")?,
            text(&a["site"]["constraint"]["ovn"], "ovn")?,
        ));
    }
    for c in [
        // From the western crossing into the city, leaving in 10 minutes.
        convoy(
            "C-1",
            "Food convoy from the western crossing",
            &[[37.0800, 36.2100], [37.1100, 36.2080], [37.1400, 36.2050]],
            200,
            10,
        ),
        // To the hospital from the south, leaving in three hours.
        convoy(
            "C-2",
            "Medical supplies convoy to the Eastern District Hospital",
            &[[37.2000, 36.1600], [37.1750, 36.1850], [37.1520, 36.2000]],
            150,
            180,
        ),
    ] {
        let a = api
            .expect(Method::POST, "/v1/movements", &t.cell, Some(&c), 201)
            .await?;
        story.convoys.push((
            text(&a["movement"]["name"], "name")?,
            text(&a["movement"]["id"], "id")?,
            text(&a["movement"]["operational_intent"]["ovn"], "ovn")?,
        ));
    }
    // Alpha over the eastern district, which holds the hospital; Bravo across the first
    // convoy's route west of the city.
    for (party, token, area) in [
        ("alpha", &t.alpha, (36.1950, 37.1470, 0.0100)),
        ("bravo", &t.bravo, (36.2030, 37.0950, 0.0100)),
    ] {
        let id = uuid::Uuid::new_v4().to_string();
        let (missing, key) = plan(&api, token, &id, area)
            .await
            .with_context(|| format!("{party}'s operation"))?;
        story
            .operations
            .push((party.into(), id, missing, key.join(" ")));
    }
    // Alpha acknowledges the first notification that asks for it.
    let told = api
        .expect(Method::GET, "/v1/notifications", &t.alpha, None, 200)
        .await?;
    let first = told["notifications"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|n| n["ack_required"] == json!(true));
    if let Some(n) = first {
        let id = text(&n["id"], "notification id")?;
        let path = format!("/v1/notifications/{id}/ack");
        let (status, answer) = api.send(Method::POST, &path, &t.alpha, None).await?;
        if !(200..300).contains(&status) {
            bail!("{path}: {status} {answer}");
        }
        story.acknowledged = Some(id);
    }
    let incident = json!({
        "time": at(Utc::now() - chrono::Duration::minutes(2)),
        "location": {"type": "Point", "coordinates": [37.1515, 36.2012]}, "radius_m": 100,
        "category": "shelling", "source": "monitoring team on the ground",
        "confidence": "probable",
        "description": "Impacts heard near the hospital's east gate."
    });
    let a = api
        .expect(
            Method::POST,
            "/v1/incidents",
            &t.monitor,
            Some(&incident),
            201,
        )
        .await?;
    story.incident = text(&a["incident"]["id"], "incident id")?;
    Ok(story)
}

fn print_guide(base: &str, data_dir: &std::path::Path, t: &Tokens, story: &Story) {
    let dir = data_dir.display();
    println!("deconflict demo: a fictional scenario in Aleppo, served at {base} (data in {dir})");
    println!();
    println!("The medical NGO's notification cell `cell` notified:");
    for (name, id, _) in &story.sites {
        println!("  site      {name} ({id})");
    }
    for (name, id, _) in &story.convoys {
        println!("  movement  {name} ({id})");
    }
    for (party, id, missing, key) in &story.operations {
        println!("{party} planned operation {id}: refused with 409, its key lacked the OVN of {missing};");
        println!("  accepted once its key held it ({key})");
    }
    if let Some(id) = &story.acknowledged {
        println!("alpha acknowledged notification {id}");
    }
    println!(
        "The monitoring mission reported shelling near the hospital: incident {}",
        story.incident
    );
    println!();
    println!("Tokens (valid {TOKEN_HOURS} h):");
    for (var, token) in [
        ("COORD", &t.coord),
        ("CELL", &t.cell),
        ("ALPHA", &t.alpha),
        ("BRAVO", &t.bravo),
        ("MONITOR", &t.monitor),
    ] {
        println!("  export {var}={token}");
    }
    println!();
    println!("Try:");
    println!("  curl -s {base}/v1/sites -H \"Authorization: Bearer $MONITOR\"");
    println!("  curl -s {base}/v1/movements -H \"Authorization: Bearer $MONITOR\"");
    println!("  curl -s {base}/v1/notifications -H \"Authorization: Bearer $ALPHA\"");
    println!("  curl -s {base}/v1/notifications -H \"Authorization: Bearer $CELL\"");
    println!(
        "  curl -s {base}/v1/incidents/{} -H \"Authorization: Bearer $COORD\"",
        story.incident
    );
    println!(
        "  deconflict report incident {} --url {base} --token \"$COORD\" --format html --out report.html",
        story.incident
    );
    println!("  curl -s {base}/v1/log/checkpoint -H \"Authorization: Bearer $MONITOR\"");
    println!("  deconflict log-export --data-dir {dir} --out bundle.json");
    println!("  deconflict verify bundle.json");
    println!("Ctrl-C stops the server; the data stays in {dir}.");
    println!("ready");
}
