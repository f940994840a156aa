//! The CPU time of the server and of the load generator during a scenario, from
//! `/proc/PID/stat` (Linux), so that a report can state CPU per request: steadier than rates
//! and tails on a machine shared with other work, and the generator's own share shows what
//! the server could not have.

use std::path::PathBuf;

use anyhow::{Context, Result};

use crate::stats::Report;

/// `USER_HZ`: the unit of the times in `/proc/PID/stat`, 100 on every Linux platform.
const TICKS_PER_S: f64 = 100.0;

/// Reads the CPU time (user + system, all threads) of one local process.
#[derive(Debug, Clone)]
pub struct ProcessCpu {
    stat: PathBuf,
    /// `server` or `generator`: the prefix of the notes.
    label: &'static str,
}

impl ProcessCpu {
    /// The server's process.
    pub fn server(pid: u32) -> Self {
        Self {
            stat: PathBuf::from(format!("/proc/{pid}/stat")),
            label: "server",
        }
    }

    /// This process, the load generator.
    pub fn generator() -> Self {
        Self {
            stat: PathBuf::from("/proc/self/stat"),
            label: "generator",
        }
    }

    /// Seconds of CPU the process has used so far.
    pub fn seconds(&self) -> Result<f64> {
        let text = std::fs::read_to_string(&self.stat)
            .with_context(|| format!("reading {}", self.stat.display()))?;
        parse_stat(&text).with_context(|| format!("parsing {}", self.stat.display()))
    }

    /// Adds the CPU used since `before` to the first of `reports`, in all and per HTTP request
    /// (every report's requests but those of `contention operation`, which are not requests).
    pub fn note_since(&self, before: f64, reports: &mut [Report]) -> Result<()> {
        let used = self.seconds()? - before;
        let requests: u64 = reports
            .iter()
            .filter(|r| r.scenario != "contention operation")
            .map(|r| r.requests)
            .sum();
        if let Some(first) = reports.first_mut() {
            let label = self.label;
            first.note(&format!("{label}_cpu_s"), (used * 1000.0).round() / 1000.0);
            if requests > 0 {
                let per = used * 1e6 / requests as f64;
                first.note(
                    &format!("{label}_cpu_us_per_request"),
                    (per * 10.0).round() / 10.0,
                );
            }
        }
        Ok(())
    }
}

/// utime + stime in seconds. The command name (field 2) is in parentheses and may hold spaces,
/// so fields are counted after its closing parenthesis.
fn parse_stat(text: &str) -> Option<f64> {
    let rest = &text[text.rfind(')')? + 1..];
    let mut fields = rest.split_whitespace();
    // After the name: state (3), ..., utime (14), stime (15).
    let utime: f64 = fields.nth(11)?.parse().ok()?;
    let stime: f64 = fields.next()?.parse().ok()?;
    Some((utime + stime) / TICKS_PER_S)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_user_and_system_time_past_a_name_with_spaces() {
        let line = "4242 (tokio rt) S 1 4242 4242 0 -1 4194560 500 0 0 0 1234 566 0 0 20 0 3 0";
        assert_eq!(parse_stat(line), Some(18.0));
        assert_eq!(parse_stat("garbage"), None);
    }

    #[test]
    fn this_process_has_used_some_cpu() {
        let cpu = ProcessCpu::generator();
        let mut x = 0u64;
        for i in 0..20_000_000u64 {
            x = x.wrapping_mul(31).wrapping_add(i);
        }
        assert!(x != 1);
        assert!(cpu.seconds().is_ok_and(|s| s > 0.0));
    }
}
