//! The conflict computation of one new operation against 50,000 protected sites and 1,000
//! movements (issue 4's target: under 5 ms p99), over the in-memory image the server answers
//! from.
//!
//! Fixture (fixed seed): a 100 km × 100 km region; 50,000 sites of four humanitarian parties
//! (points with a radius of 100 to 300 m, protected at every altitude for ten years, so
//! about five sites per km²); 1,000 movements (routes of 5 to 30 km in two to four legs, a
//! 200 m corridor, over the next 24 hours). Each measured operation is a new Accepted intent of
//! an armed party: a circle of 1 km radius, 0 to 120 m, one hour within the next 24 hours, at
//! a random place. Its write is done first, untimed; the time is that of
//! `conflict::on_write` for it (finding what it crosses, recording each conflict, making both
//! sides' notifications), each in a fresh transaction over the same image.
//!
//! Prints percentiles of the wall time and of the thread's CPU time per operation (the wall
//! time of a busy, shared machine includes other processes' turns on the core).
//!
//! `cargo bench -p deconflict-humanitarian --bench conflicts [-- OPERATIONS]`

use std::hint::black_box;
use std::time::Instant;

use chrono::{DateTime, Duration, Utc};
use deconflict_core::ids::EntityId;
use deconflict_core::limits::Limits;
use deconflict_core::memstate::{MemState, Overlay};
use deconflict_core::model::OiState;
use deconflict_core::parse::stored_extents;
use deconflict_core::rules::operational_intents::{self as ois, PutOperationalIntent};
use deconflict_core::rules::Caller;
use deconflict_core::store::Tx;
use deconflict_geo::{AltitudeRange, LatLng, Shape, TimeRange, Volume4};
use deconflict_humanitarian::conflict::{on_write, Written};
use deconflict_humanitarian::movement::MovementInput;
use deconflict_humanitarian::party::{Party, Registry, Role};
use deconflict_humanitarian::publish::{put_movement, put_site};
use deconflict_humanitarian::site::SiteInput;
use hdrhistogram::Histogram;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::json;

const SITES: usize = 50_000;
const MOVEMENTS: usize = 1_000;
const M_PER_DEG: f64 = 111_195.08;
const BASE_LAT: f64 = 36.0;
const BASE_LNG: f64 = 36.5;
/// The region's side in degrees of latitude (100 km); longitude is scaled.
const SIDE_LAT: f64 = 100_000.0 / M_PER_DEG;

fn side_lng() -> f64 {
    SIDE_LAT / BASE_LAT.to_radians().cos()
}

fn point(rng: &mut StdRng) -> (f64, f64) {
    (
        BASE_LAT + rng.random::<f64>() * SIDE_LAT,
        BASE_LNG + rng.random::<f64>() * side_lng(),
    )
}

fn party(id: &str, role: Role) -> Party {
    Party {
        id: id.into(),
        role,
        name: format!("Party {id}"),
        contact: Some(format!("{id} liaison desk")),
        webhook: None,
        public_key: None,
    }
}

/// CPU time this thread has used, in nanoseconds: unlike the wall clock, not inflated when
/// other processes of a busy machine take the core.
fn thread_cpu_ns() -> u64 {
    let t = rustix::time::clock_gettime(rustix::time::ClockId::ThreadCPUTime);
    t.tv_sec as u64 * 1_000_000_000 + t.tv_nsec as u64
}

/// Runs `f` in a transaction over `mem` and applies it.
fn commit(mem: &mut MemState, f: impl FnOnce(&mut dyn Tx)) {
    let mut tx = Overlay::new(&*mem);
    f(&mut tx);
    let pending = tx.into_pending();
    mem.apply(pending.changes());
}

fn main() {
    let operations: usize = std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(10_000);
    let now: DateTime<Utc> = Utc::now();
    let limits = Limits::default();
    let mut rng = StdRng::seed_from_u64(42);
    let ngos = ["ngo-a", "ngo-b", "ngo-c", "ngo-d"];
    let mut parties: Vec<Party> = ngos.iter().map(|n| party(n, Role::Humanitarian)).collect();
    parties.push(party("alpha", Role::Armed));
    let registry = Registry::new(parties).expect("parties");
    let mut mem = MemState::default();

    let started = Instant::now();
    // Small transactions: a transaction's own writes are looked through linearly.
    for chunk in 0..SITES / 500 {
        let sites: Vec<_> = (0..500)
            .map(|i| {
                let (lat, lng) = point(&mut rng);
                let n = chunk * 500 + i;
                let input: SiteInput = serde_json::from_value(json!({
                    "external_id": format!("S-{n}"), "name": format!("Site {n}"),
                    "category": "hospital", "radius_m": rng.random_range(100.0..300.0),
                    "geometry": {"type": "Point", "coordinates": [lng, lat]}
                }))
                .expect("site");
                let party = ngos[n % ngos.len()];
                (
                    party,
                    input.validate(party, "salt", now, &limits).expect("valid"),
                )
            })
            .collect();
        commit(&mut mem, |tx| {
            for (party, v) in &sites {
                put_site(tx, party, v, "https://dss.example", &limits, now).expect("put site");
            }
        });
    }
    let at = |m: i64| (now + Duration::minutes(m)).to_rfc3339();
    for chunk in 0..MOVEMENTS / 100 {
        let movements: Vec<_> = (0..100)
            .map(|i| {
                let n = chunk * 100 + i;
                let (mut lat, mut lng) = point(&mut rng);
                let mut route = vec![[lng, lat]];
                let legs = rng.random_range(2..=4);
                let length_m = rng.random_range(5_000.0..30_000.0);
                let bearing: f64 = rng.random_range(0.0..std::f64::consts::TAU);
                for _ in 0..legs {
                    let b = bearing + rng.random_range(-0.5..0.5);
                    let d = length_m / legs as f64 / M_PER_DEG;
                    lat += d * b.cos();
                    lng += d * b.sin() / lat.to_radians().cos();
                    route.push([lng, lat]);
                }
                let dep = rng.random_range(0..20 * 60);
                let input: MovementInput = serde_json::from_value(json!({
                    "external_id": format!("M-{n}"), "name": format!("Convoy {n}"),
                    "corridor_width_m": 200, "state": "planned",
                    "route": {"type": "LineString", "coordinates": route},
                    "departure": {"earliest": at(dep), "latest": at(dep + 30)},
                    "arrival": {"earliest": at(dep + 120), "latest": at(dep + 240)}
                }))
                .expect("movement");
                let party = ngos[n % ngos.len()];
                (
                    party,
                    input.validate(party, "salt", now, &limits).expect("valid"),
                )
            })
            .collect();
        commit(&mut mem, |tx| {
            for (party, v) in &movements {
                put_movement(tx, party, v, "https://dss.example", &limits, now)
                    .expect("put movement");
            }
        });
    }
    eprintln!(
        "fixture: {} constraints, {} intents in {:.1} s",
        mem.constraints.len(),
        mem.operational_intents.len(),
        started.elapsed().as_secs_f64()
    );

    let alpha = Caller {
        manager: "alpha".into(),
        strategic_coordination: true,
        constraint_processing: false,
    };
    let mut hist = Histogram::<u64>::new(3).expect("histogram");
    let mut cpu = Histogram::<u64>::new(3).expect("histogram");
    let mut notified = 0usize;
    let mut with_conflicts = 0usize;
    for _ in 0..operations {
        let (lat, lng) = point(&mut rng);
        let start = now + Duration::minutes(rng.random_range(0..23 * 60));
        let v = Volume4 {
            shape: Shape::Circle {
                center: LatLng::new(lat, lng),
                radius_m: 1_000.0,
            },
            altitude: AltitudeRange::new(0.0, 120.0),
            time: TimeRange::new(
                start.timestamp_micros(),
                (start + Duration::hours(1)).timestamp_micros(),
            ),
        };
        let id = EntityId::new_random();
        let req = PutOperationalIntent {
            id,
            old_ovn: None,
            extents: stored_extents(vec![v]).expect("extents"),
            key: Default::default(),
            state: OiState::Accepted,
            uss_base_url: "https://alpha.example".into(),
            subscription_id: None,
            new_subscription: None,
            requested_ovn: None,
        };
        let mut tx = Overlay::new(&mem);
        // The key holds every movement it crosses, as the DSS would demand.
        let mut req = req;
        req.key = ois::complete_key(&tx, id, &req.extents, false, now).expect("key");
        ois::put(&mut tx, &alpha, &req, now).expect("put operation");
        let (t, c) = (Instant::now(), thread_cpu_ns());
        let made = on_write(&mut tx, Written::intent(id), &registry, now).expect("conflicts");
        let cpu_us = (thread_cpu_ns() - c) / 1_000;
        let us = t.elapsed().as_micros() as u64;
        hist.record(us.max(1)).expect("record");
        cpu.record(cpu_us.max(1)).expect("record");
        notified += made.iter().map(|f| f.notifications.len()).sum::<usize>();
        with_conflicts += usize::from(!made.is_empty());
        black_box(tx);
    }
    println!(
        "conflicts of one new operation (1 km radius, 1 h) against {SITES} sites and {MOVEMENTS} movements, {operations} operations:"
    );
    for (what, h) in [("wall", &hist), ("thread CPU", &cpu)] {
        println!(
            "  {what}: p50 {} µs, p99 {} µs, p99.9 {} µs, max {} µs, mean {:.0} µs",
            h.value_at_quantile(0.5),
            h.value_at_quantile(0.99),
            h.value_at_quantile(0.999),
            h.max(),
            h.mean()
        );
    }
    println!(
        "  {:.1} notifications per operation; {with_conflicts} of {operations} operations crossed something",
        notified as f64 / operations as f64
    );
}
