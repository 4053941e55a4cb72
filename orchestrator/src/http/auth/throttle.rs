//! Login throttling, counted before the password is checked.
//!
//! Each sign-in reserves an attempt ([`Throttle::begin`]) for its source address and for the pair
//! (source, user name) before any password hashing happens, so parallel requests cannot race past
//! the limit: once `LOGIN_MAX_FAILURES` attempts of a key have failed or are under way, the next
//! is refused for 30 s, doubling with each further failure up to 15 minutes. A stranger elsewhere
//! cannot lock an account out: the lock is per source. Guessing one account from many sources is
//! slowed instead ([`Throttle::delay`]): every failure of a user name adds a quarter of a second
//! to its next answers, at most 5 s, forgotten after a success or an hour of quiet.
//! Kept in memory: each process throttles what it sees, which is enough to make guessing slow.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Failure counts by key (`ip:...`, `ip-user:...`, `user:...`).
#[derive(Debug, Default)]
pub struct Throttle {
    max_failures: u32,
    entries: Mutex<HashMap<String, Entry>>,
}

#[derive(Debug, Clone, Copy)]
struct Entry {
    failures: u32,
    in_flight: u32,
    locked_until: Option<Instant>,
    last: Instant,
}

impl Entry {
    /// A key first seen at `now`.
    fn fresh(now: Instant) -> Entry {
        Entry { failures: 0, in_flight: 0, locked_until: None, last: now }
    }
}

/// The keys one sign-in counts against.
pub fn keys(ip: std::net::IpAddr, user: &str) -> Vec<String> {
    vec![format!("ip:{ip}"), format!("ip-user:{ip}|{user}")]
}

/// The key a user name's failures from anywhere are counted under (they slow, never lock).
pub fn user_key(user: &str) -> String {
    format!("user:{user}")
}

/// A reserved attempt; dropped without [`Attempt::failed`] or [`Attempt::succeeded`] (a request
/// that went away), it gives its reservation back.
#[derive(Debug)]
pub struct Attempt<'a> {
    throttle: &'a Throttle,
    keys: Vec<String>,
    settled: bool,
}

impl Attempt<'_> {
    /// The password was wrong: a failure for each key, and for the user name's delay.
    pub fn failed(mut self, user: &str) {
        self.settled = true;
        self.throttle.settle(&self.keys, Some(user));
    }

    /// The password was right: the keys' failures are forgotten.
    pub fn succeeded(mut self, user: &str) {
        self.settled = true;
        self.throttle.settle(&self.keys, None);
        let mut entries = self.throttle.entries.lock().expect("throttle lock");
        for key in self.keys.iter().cloned().chain([user_key(user)]) {
            entries.remove(&key);
        }
    }
}

impl Drop for Attempt<'_> {
    fn drop(&mut self) {
        if !self.settled {
            let mut entries = self.throttle.entries.lock().expect("throttle lock");
            for key in &self.keys {
                if let Some(e) = entries.get_mut(key) {
                    e.in_flight = e.in_flight.saturating_sub(1);
                }
            }
        }
    }
}

impl Throttle {
    /// A throttle that locks a key after `max_failures`.
    pub fn new(max_failures: u32) -> Self {
        Throttle { max_failures: max_failures.max(1), entries: Mutex::default() }
    }

    /// Reserves an attempt for `keys`, or says how long to wait: a key is locked, or as many
    /// attempts as it may still fail are already under way.
    pub fn begin(&self, keys: Vec<String>) -> Result<Attempt<'_>, Duration> {
        let now = Instant::now();
        let mut entries = self.entries.lock().expect("throttle lock");
        // Forget quiet keys so the map cannot grow without bound.
        entries.retain(|_, e| e.in_flight > 0 || now.duration_since(e.last) < Duration::from_secs(3600));
        let mut wait = None::<Duration>;
        for key in &keys {
            if let Some(e) = entries.get(key) {
                if let Some(until) = e.locked_until.filter(|u| *u > now) {
                    wait = Some(wait.unwrap_or_default().max(until - now));
                } else if e.failures + e.in_flight >= self.max_failures {
                    // Attempts under way may all fail: wait for them to end.
                    wait = Some(wait.unwrap_or_default().max(Duration::from_secs(1)));
                }
            }
        }
        if let Some(wait) = wait {
            return Err(wait);
        }
        for key in &keys {
            let e = entries.entry(key.clone()).or_insert_with(|| Entry::fresh(now));
            e.in_flight += 1;
            e.last = now;
        }
        Ok(Attempt { throttle: self, keys, settled: false })
    }

    /// How long to hold the answer to a sign-in as `user`: a quarter of a second per recent
    /// failure of that name from anywhere, at most 5 s.
    pub fn delay(&self, user: &str) -> Duration {
        let entries = self.entries.lock().expect("throttle lock");
        let failures = entries.get(&user_key(user)).map_or(0, |e| e.failures);
        (Duration::from_millis(250) * failures.min(20)).min(Duration::from_secs(5))
    }

    /// How long these keys must still wait, if any is locked.
    pub fn wait(&self, keys: &[String]) -> Option<Duration> {
        let now = Instant::now();
        let entries = self.entries.lock().expect("throttle lock");
        keys.iter()
            .filter_map(|k| entries.get(k)?.locked_until)
            .filter(|until| *until > now)
            .map(|until| until - now)
            .max()
    }

    fn settle(&self, keys: &[String], failed_as: Option<&str>) {
        let now = Instant::now();
        let mut entries = self.entries.lock().expect("throttle lock");
        for key in keys {
            let Some(e) = entries.get_mut(key) else { continue };
            e.in_flight = e.in_flight.saturating_sub(1);
            e.last = now;
            if failed_as.is_some() {
                e.failures += 1;
                if e.failures >= self.max_failures {
                    let doublings = (e.failures - self.max_failures).min(5);
                    let lock = (Duration::from_secs(30) * 2u32.pow(doublings)).min(Duration::from_secs(900));
                    e.locked_until = Some(now + lock);
                }
            }
        }
        if let Some(user) = failed_as {
            let e = entries.entry(user_key(user)).or_insert_with(|| Entry::fresh(now));
            e.failures += 1;
            e.last = now;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sign_in_locks_a_source_after_the_allowed_failures_and_a_success_unlocks_it() {
        let t = Throttle::new(3);
        let ip: std::net::IpAddr = "10.0.0.1".parse().unwrap();
        for _ in 0..2 {
            t.begin(keys(ip, "admin")).unwrap().failed("admin");
        }
        assert!(t.wait(&keys(ip, "admin")).is_none());
        t.begin(keys(ip, "admin")).unwrap().failed("admin");
        let wait = t.begin(keys(ip, "admin")).expect_err("locked after 3 failures");
        assert!(wait <= Duration::from_secs(30) && wait > Duration::from_secs(25));
        // Another source is not locked out of the same account: it is only slowed down.
        let other: std::net::IpAddr = "10.0.0.2".parse().unwrap();
        assert_eq!(t.delay("admin"), Duration::from_millis(750));
        let attempt = t.begin(keys(other, "admin")).expect("another source may still sign in");
        attempt.succeeded("admin");
        assert_eq!(t.delay("admin"), Duration::ZERO);
        assert!(t.wait(&keys(ip, "admin")).is_some(), "the guessing source stays locked");
    }

    #[test]
    fn parallel_attempts_are_counted_before_any_password_is_checked() {
        let t = Throttle::new(5);
        let ip: std::net::IpAddr = "10.0.0.9".parse().unwrap();
        let under_way: Vec<Attempt<'_>> = (0..40).filter_map(|_| t.begin(keys(ip, "admin")).ok()).collect();
        assert_eq!(under_way.len(), 5, "only as many checks as may still fail");
        drop(under_way); // requests that went away give their reservations back
        assert!(t.begin(keys(ip, "admin")).is_ok());
    }
}
