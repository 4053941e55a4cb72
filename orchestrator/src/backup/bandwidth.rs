//! The upload bandwidth limit (`UPLOAD_BANDWIDTH_LIMIT`): every backup of this process shares
//! one budget of bytes per second for what it sends to the destination (after compression and
//! encryption), so a night of backups leaves room on the office's uplink. A token bucket
//! (`governor`'s GCRA) counted in KiB, with a burst of one second's worth: a run waits before
//! handing each piece to the upload until the budget allows it. Exports are read no faster
//! than they are sent, so memory stays bounded as before.

use std::num::NonZeroU32;

use governor::clock::{Clock, DefaultClock};
use governor::middleware::NoOpMiddleware;
use governor::state::{InMemoryState, NotKeyed};
use governor::{Quota, RateLimiter};

/// The lowest limit taken: 16 KiB/s.
pub const MIN_BYTES_PER_SEC: u64 = 16 * 1024;

const CELL: u64 = 1024;

/// A shared upload budget.
#[derive(Debug)]
pub struct Bandwidth<C: Clock = DefaultClock> {
    limiter: RateLimiter<NotKeyed, InMemoryState, C, NoOpMiddleware<C::Instant>>,
    /// Cells (KiB) that may go at once.
    burst: u32,
    bytes_per_sec: u64,
}

impl Bandwidth {
    /// A budget of `bytes_per_sec` (at least [`MIN_BYTES_PER_SEC`]).
    pub fn new(bytes_per_sec: u64) -> Bandwidth {
        Bandwidth::with_clock(bytes_per_sec, &DefaultClock::default())
    }

    /// Waits until `bytes` more may be sent.
    pub async fn take(&self, bytes: usize) {
        let mut cells = (bytes as u64).div_ceil(CELL);
        while cells > 0 {
            let now = cells.min(u64::from(self.burst)) as u32;
            let n = NonZeroU32::new(now).expect("at least one cell");
            // Never more than the burst at once, so the limiter always can allow it.
            let _ = self.limiter.until_n_ready(n).await;
            cells -= u64::from(now);
        }
    }
}

impl<C: Clock + Clone> Bandwidth<C> {
    /// A budget on `clock` (tests use a clock of their own).
    pub fn with_clock(bytes_per_sec: u64, clock: &C) -> Bandwidth<C> {
        let bytes_per_sec = bytes_per_sec.max(MIN_BYTES_PER_SEC);
        let per_sec = u32::try_from(bytes_per_sec / CELL).unwrap_or(u32::MAX).max(1);
        let rate = NonZeroU32::new(per_sec).expect("at least one cell a second");
        let quota = Quota::per_second(rate).allow_burst(rate);
        Bandwidth { limiter: RateLimiter::direct_with_clock(quota, clock.clone()), burst: per_sec, bytes_per_sec }
    }

    /// The limit, in bytes per second.
    pub fn bytes_per_sec(&self) -> u64 {
        self.bytes_per_sec
    }

    /// Takes `bytes` now if the budget has them (what [`Bandwidth::take`] waits for).
    pub fn try_take(&self, bytes: usize) -> bool {
        let cells = (bytes as u64).div_ceil(CELL).min(u64::from(self.burst)) as u32;
        NonZeroU32::new(cells).is_none_or(|n| matches!(self.limiter.check_n(n), Ok(Ok(()))))
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use governor::clock::FakeRelativeClock;

    use super::*;

    #[test]
    fn a_second_holds_the_limit_and_no_more() {
        let clock = FakeRelativeClock::default();
        let limit = Bandwidth::with_clock(4 * 1024 * 1024, &clock);
        // A full second's worth goes at once (the burst), then nothing until time passes.
        for _ in 0..64 {
            assert!(limit.try_take(64 * 1024));
        }
        assert!(!limit.try_take(64 * 1024), "4 MiB in the first instant, no more");
        clock.advance(Duration::from_millis(250));
        for _ in 0..16 {
            assert!(limit.try_take(64 * 1024), "a quarter second frees 1 MiB");
        }
        assert!(!limit.try_take(64 * 1024));
        assert_eq!(limit.bytes_per_sec(), 4 * 1024 * 1024);
    }

    #[test]
    fn tiny_limits_are_raised_to_the_minimum() {
        let clock = FakeRelativeClock::default();
        assert_eq!(Bandwidth::with_clock(1, &clock).bytes_per_sec(), MIN_BYTES_PER_SEC);
    }

    #[test]
    fn a_piece_larger_than_the_burst_goes_one_burst_at_a_time() {
        // 64 KiB/s with a burst of 64 KiB: the first 64 KiB of a 200 KiB piece go at once, the
        // rest waits (the clock is ours: nothing is timed).
        let clock = FakeRelativeClock::default();
        let limit = Bandwidth::with_clock(64 * 1024, &clock);
        assert!(limit.try_take(200 * 1024), "one burst's worth of a large piece");
        assert!(!limit.try_take(1));
    }
}
