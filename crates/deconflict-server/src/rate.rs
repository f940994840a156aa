//! How many requests each party may send: a token bucket per token `sub`.
//!
//! Parties that do not trust each other share one service; without a bound, one of them with
//! a valid token can keep the shared writer and the cores busy and slow everybody else's
//! requests. `utm.yaml` answers such a client 429 on every endpoint. The bound is off unless
//! configured (`party_rate`), since what a USS may send depends on the deployment.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// The buckets of parties whose bucket has refilled (which therefore need no state) are
/// swept once there are this many, and after that whenever their number has doubled since the
/// last sweep, so that many short-lived `sub`s do not grow the map for ever and a sweep costs
/// a few bucket visits per new party.
const SWEEP_AT: usize = 4096;

/// A bound of `per_second` requests a second for each party, in bursts of up to `per_second`.
#[derive(Debug)]
pub struct PartyRate {
    per_second: u32,
    buckets: Mutex<Buckets>,
}

#[derive(Debug)]
struct Buckets {
    by_party: HashMap<String, Bucket>,
    sweep_at: usize,
}

#[derive(Debug, Clone, Copy)]
struct Bucket {
    /// Requests the party may still send now, as of `at`.
    tokens: f64,
    at: Instant,
}

impl PartyRate {
    pub fn new(per_second: u32) -> Self {
        Self {
            per_second: per_second.max(1),
            buckets: Mutex::new(Buckets {
                by_party: HashMap::default(),
                sweep_at: SWEEP_AT,
            }),
        }
    }

    /// The configured requests per second.
    pub fn per_second(&self) -> u32 {
        self.per_second
    }

    /// Takes one request's token from `party`'s bucket, or says how long until one is free.
    pub fn take(&self, party: &str) -> Result<(), Duration> {
        self.take_at(party, Instant::now())
    }

    fn take_at(&self, party: &str, now: Instant) -> Result<(), Duration> {
        // A full bucket holds one second's requests.
        let full = f64::from(self.per_second);
        let refill = |b: &Bucket| {
            let elapsed = now.saturating_duration_since(b.at).as_secs_f64();
            (b.tokens + elapsed * full).min(full)
        };
        // A panic elsewhere while the lock was held leaves at worst one bucket stale.
        let mut buckets = self
            .buckets
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let Buckets { by_party, sweep_at } = &mut *buckets;
        if by_party.len() >= *sweep_at && !by_party.contains_key(party) {
            by_party.retain(|_, b| refill(b) < full);
            *sweep_at = (by_party.len() * 2).max(SWEEP_AT);
        }
        let bucket = match by_party.get_mut(party) {
            Some(b) => b,
            None => by_party.entry(party.to_owned()).or_insert(Bucket {
                tokens: full,
                at: now,
            }),
        };
        let tokens = refill(bucket);
        bucket.at = now;
        if tokens >= 1.0 {
            bucket.tokens = tokens - 1.0;
            Ok(())
        } else {
            bucket.tokens = tokens;
            Err(Duration::from_secs_f64((1.0 - tokens) / full))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_party_gets_its_burst_then_one_request_per_interval_and_others_are_not_affected() {
        let rate = PartyRate::new(4);
        let t0 = Instant::now();
        for _ in 0..4 {
            assert_eq!(rate.take_at("alpha", t0), Ok(()));
        }
        let wait = rate.take_at("alpha", t0).unwrap_err();
        assert!(
            (Duration::from_millis(249)..=Duration::from_millis(251)).contains(&wait),
            "{wait:?}"
        );
        assert_eq!(rate.take_at("bravo", t0), Ok(()));
        // A quarter of a second later, one more token.
        let later = t0 + Duration::from_millis(250);
        assert_eq!(rate.take_at("alpha", later), Ok(()));
        assert!(rate.take_at("alpha", later).is_err());
        // An idle party's bucket fills up to the burst, not beyond.
        let much_later = t0 + Duration::from_secs(60);
        for _ in 0..4 {
            assert_eq!(rate.take_at("alpha", much_later), Ok(()));
        }
        assert!(rate.take_at("alpha", much_later).is_err());
    }

    #[test]
    fn buckets_of_idle_parties_are_swept() {
        let rate = PartyRate::new(10);
        let t0 = Instant::now();
        for i in 0..SWEEP_AT {
            rate.take_at(&format!("party {i}"), t0).unwrap();
        }
        // A second later every bucket has refilled: the next new party sweeps them.
        let t1 = t0 + Duration::from_secs(1);
        rate.take_at("newcomer", t1).unwrap();
        assert_eq!(rate.buckets.lock().unwrap().by_party.len(), 1);
        // Busy parties are kept, and each sweep that keeps them all puts the next one off
        // until their number has doubled: at 4,096 parties, then at 8,192.
        for i in 0..2 * SWEEP_AT {
            rate.take_at(&format!("busy {i}"), t1).unwrap();
        }
        let buckets = rate.buckets.lock().unwrap();
        assert_eq!(buckets.by_party.len(), 2 * SWEEP_AT + 1);
        assert_eq!(buckets.sweep_at, 4 * SWEEP_AT);
    }
}
