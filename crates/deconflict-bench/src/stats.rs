//! Counting outcomes and latencies, and printing them.

use std::collections::BTreeMap;
use std::time::Duration;

use hdrhistogram::Histogram;
use serde::Serialize;

/// How one request ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// A 2xx answer.
    Ok,
    /// 409 Conflict.
    Conflict,
    /// Any other status.
    Status(u16),
    /// No answer: connection refused or reset, timeout.
    Transport,
}

impl Outcome {
    pub fn of_status(status: u16) -> Self {
        match status {
            200..=299 => Self::Ok,
            409 => Self::Conflict,
            s => Self::Status(s),
        }
    }
}

/// What one worker saw; merged into a [`Report`] at the end.
#[derive(Debug, Clone)]
pub struct Recorder {
    hist: Histogram<u64>,
    pub requests: u64,
    pub ok: u64,
    pub conflicts: u64,
    pub errors: u64,
    /// Errors by status, `0` for transport errors.
    pub error_statuses: BTreeMap<u16, u64>,
    /// The first few error bodies, to say what went wrong.
    pub samples: Vec<String>,
}

impl Default for Recorder {
    fn default() -> Self {
        Self::new()
    }
}

/// Latencies are recorded in microseconds, from 1 µs to 5 minutes, 3 significant digits.
const MAX_US: u64 = 300_000_000;

impl Recorder {
    pub fn new() -> Self {
        Self {
            #[allow(clippy::unwrap_used)] // constant, valid bounds
            hist: Histogram::new_with_bounds(1, MAX_US, 3).unwrap(),
            requests: 0,
            ok: 0,
            conflicts: 0,
            errors: 0,
            error_statuses: BTreeMap::new(),
            samples: Vec::new(),
        }
    }

    pub fn record(&mut self, latency: Duration, outcome: Outcome) {
        let us = u64::try_from(latency.as_micros())
            .unwrap_or(MAX_US)
            .clamp(1, MAX_US);
        self.hist.saturating_record(us);
        self.requests += 1;
        match outcome {
            Outcome::Ok => self.ok += 1,
            Outcome::Conflict => self.conflicts += 1,
            Outcome::Status(s) => {
                self.errors += 1;
                *self.error_statuses.entry(s).or_default() += 1;
            }
            Outcome::Transport => {
                self.errors += 1;
                *self.error_statuses.entry(0).or_default() += 1;
            }
        }
    }

    /// Counts a request recorded as a success as an error after all: its answer was not what
    /// the API promises. Listed under its status in `error_statuses`.
    pub fn malformed(&mut self, status: u16, why: impl FnOnce() -> String) {
        self.ok = self.ok.saturating_sub(1);
        self.errors += 1;
        *self.error_statuses.entry(status).or_default() += 1;
        self.sample(|| format!("malformed {status} answer: {}", why()));
    }

    /// Keeps a short sample of what an error said.
    pub fn sample(&mut self, what: impl FnOnce() -> String) {
        if self.samples.len() < 3 {
            let mut s = what();
            s.truncate(300);
            self.samples.push(s);
        }
    }

    pub fn merge(&mut self, other: &Recorder) {
        // Both histograms have the same bounds, so adding cannot fail.
        let _ = self.hist.add(&other.hist);
        self.requests += other.requests;
        self.ok += other.ok;
        self.conflicts += other.conflicts;
        self.errors += other.errors;
        for (s, n) in &other.error_statuses {
            *self.error_statuses.entry(*s).or_default() += n;
        }
        for s in &other.samples {
            if self.samples.len() < 3 {
                self.samples.push(s.clone());
            }
        }
    }

    pub fn report(&self, scenario: &str, concurrency: usize, elapsed: Duration) -> Report {
        let ms = |q: f64| self.hist.value_at_quantile(q) as f64 / 1000.0;
        let secs = elapsed.as_secs_f64().max(1e-9);
        Report {
            scenario: scenario.to_owned(),
            concurrency,
            seconds: round3(secs),
            requests: self.requests,
            ok: self.ok,
            conflicts_409: self.conflicts,
            errors: self.errors,
            throughput_rps: round1(self.requests as f64 / secs),
            ok_per_s: round1(self.ok as f64 / secs),
            p50_ms: round3(ms(0.50)),
            p90_ms: round3(ms(0.90)),
            p99_ms: round3(ms(0.99)),
            max_ms: round3(self.hist.max() as f64 / 1000.0),
            error_statuses: self
                .error_statuses
                .iter()
                .map(|(s, n)| {
                    let k = if *s == 0 {
                        "transport".to_owned()
                    } else {
                        s.to_string()
                    };
                    (k, *n)
                })
                .collect(),
            error_samples: self.samples.clone(),
            notes: BTreeMap::new(),
        }
    }
}

fn round1(x: f64) -> f64 {
    (x * 10.0).round() / 10.0
}
fn round3(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

/// The result of one scenario (or one kind of request in it).
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub scenario: String,
    pub concurrency: usize,
    pub seconds: f64,
    pub requests: u64,
    pub ok: u64,
    pub conflicts_409: u64,
    pub errors: u64,
    /// All requests per second.
    pub throughput_rps: f64,
    /// Successful requests per second.
    pub ok_per_s: f64,
    pub p50_ms: f64,
    pub p90_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub error_statuses: BTreeMap<String, u64>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub error_samples: Vec<String>,
    /// Scenario-specific facts (results per query, verification, ...).
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub notes: BTreeMap<String, serde_json::Value>,
}

impl Report {
    pub fn note(&mut self, key: &str, value: impl Into<serde_json::Value>) {
        self.notes.insert(key.to_owned(), value.into());
    }
}

/// A plain-text table of reports, then their notes and error samples.
pub fn table(reports: &[Report]) -> String {
    let mut out = String::new();
    let header = [
        "scenario", "conc", "secs", "requests", "ok", "409", "errors", "req/s", "ok/s", "p50 ms",
        "p90 ms", "p99 ms", "max ms",
    ];
    let rows: Vec<Vec<String>> = reports
        .iter()
        .map(|r| {
            vec![
                r.scenario.clone(),
                r.concurrency.to_string(),
                format!("{:.1}", r.seconds),
                r.requests.to_string(),
                r.ok.to_string(),
                r.conflicts_409.to_string(),
                r.errors.to_string(),
                format!("{:.0}", r.throughput_rps),
                format!("{:.0}", r.ok_per_s),
                format!("{:.2}", r.p50_ms),
                format!("{:.2}", r.p90_ms),
                format!("{:.2}", r.p99_ms),
                format!("{:.2}", r.max_ms),
            ]
        })
        .collect();
    let widths: Vec<usize> = (0..header.len())
        .map(|i| {
            rows.iter()
                .map(|r| r[i].len())
                .chain([header[i].len()])
                .max()
                .unwrap_or(0)
        })
        .collect();
    let line = |cells: &[String]| {
        let mut l = String::new();
        for (i, c) in cells.iter().enumerate() {
            if i == 0 {
                l.push_str(&format!("{c:<w$}", w = widths[i]));
            } else {
                l.push_str(&format!("  {c:>w$}", w = widths[i]));
            }
        }
        l.push('\n');
        l
    };
    out.push_str(&line(&header.map(str::to_owned)));
    for r in &rows {
        out.push_str(&line(r));
    }
    for r in reports {
        for (k, v) in &r.notes {
            out.push_str(&format!("  {}: {k} = {v}\n", r.scenario));
        }
        if !r.error_statuses.is_empty() {
            out.push_str(&format!(
                "  {}: errors by status {:?}\n",
                r.scenario, r.error_statuses
            ));
        }
        for s in &r.error_samples {
            out.push_str(&format!("  {}: e.g. {s}\n", r.scenario));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_and_quantiles() {
        let mut a = Recorder::new();
        for ms in 1..=100 {
            a.record(Duration::from_millis(ms), Outcome::Ok);
        }
        let mut b = Recorder::new();
        b.record(Duration::from_millis(5), Outcome::Conflict);
        b.record(Duration::from_millis(5), Outcome::of_status(500));
        b.record(Duration::from_millis(5), Outcome::Transport);
        a.merge(&b);
        let r = a.report("x", 2, Duration::from_secs(1));
        assert_eq!(r.requests, 103);
        assert_eq!(r.ok, 100);
        assert_eq!(r.conflicts_409, 1);
        assert_eq!(r.errors, 2);
        assert_eq!(r.error_statuses.get("500"), Some(&1));
        assert_eq!(r.error_statuses.get("transport"), Some(&1));
        assert!((r.p50_ms - 49.0).abs() < 1.0, "{}", r.p50_ms);
        assert!((r.max_ms - 100.0).abs() < 0.2);
        assert!(table(&[r]).contains("x"));
    }
}
