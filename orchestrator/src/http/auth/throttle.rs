//! Login throttling: after `LOGIN_MAX_FAILURES` failed sign-ins from one address, or for one user
//! name, sign-in is refused for 30 s, doubling with each further failure up to 15 minutes.
//! Kept in memory: each process throttles what it sees, which is enough to make guessing slow.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Failure counts by key (`ip:...`, `user:...`).
#[derive(Debug, Default)]
pub struct Throttle {
    max_failures: u32,
    entries: Mutex<HashMap<String, Entry>>,
}

#[derive(Debug, Clone, Copy)]
struct Entry {
    failures: u32,
    locked_until: Option<Instant>,
    last: Instant,
}

impl Throttle {
    /// A throttle that locks after `max_failures`.
    pub fn new(max_failures: u32) -> Self {
        Throttle { max_failures: max_failures.max(1), entries: Mutex::default() }
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

    /// Counts a failure for each key.
    pub fn failed(&self, keys: &[String]) {
        let now = Instant::now();
        let mut entries = self.entries.lock().expect("throttle lock");
        // Forget quiet keys so the map cannot grow without bound.
        entries.retain(|_, e| now.duration_since(e.last) < Duration::from_secs(3600));
        for key in keys {
            let e = entries.entry(key.clone()).or_insert(Entry { failures: 0, locked_until: None, last: now });
            e.failures += 1;
            e.last = now;
            if e.failures >= self.max_failures {
                let doublings = (e.failures - self.max_failures).min(5);
                let lock = (Duration::from_secs(30) * 2u32.pow(doublings)).min(Duration::from_secs(900));
                e.locked_until = Some(now + lock);
            }
        }
    }

    /// Forgets the keys' failures (a successful sign-in).
    pub fn succeeded(&self, keys: &[String]) {
        let mut entries = self.entries.lock().expect("throttle lock");
        for key in keys {
            entries.remove(key);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sign_in_locks_after_the_allowed_failures_and_a_success_unlocks_it() {
        let t = Throttle::new(3);
        let keys = vec!["ip:10.0.0.1".to_owned()];
        t.failed(&keys);
        t.failed(&keys);
        assert!(t.wait(&keys).is_none());
        t.failed(&keys);
        let wait = t.wait(&keys).expect("locked after 3 failures");
        assert!(wait <= Duration::from_secs(30) && wait > Duration::from_secs(25));
        assert!(t.wait(&["ip:10.0.0.2".to_owned()]).is_none());
        t.failed(&keys);
        assert!(t.wait(&keys).unwrap() > Duration::from_secs(30), "each further failure doubles the wait");
        t.succeeded(&keys);
        assert!(t.wait(&keys).is_none());
    }
}
