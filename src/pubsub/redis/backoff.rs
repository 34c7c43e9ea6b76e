//! How long to wait before the next attempt to reach Redis: doubling from a minimum
//! to a maximum, with jitter so that instances which lost Redis together do not all
//! knock at the same instant. Pure: the randomness is a seeded generator.

use std::time::Duration;

/// Successive reconnect delays.
#[derive(Debug)]
pub(crate) struct Backoff {
    min: Duration,
    max: Duration,
    attempt: u32,
    rng: u64,
}

impl Backoff {
    /// Delays from `min` to `max` (`max` below `min` counts as `min`); `seed` picks
    /// the jitter sequence.
    pub(crate) fn new(min: Duration, max: Duration, seed: u64) -> Backoff {
        Backoff {
            min,
            max: max.max(min),
            attempt: 0,
            // xorshift needs a non-zero state.
            rng: seed | 1,
        }
    }

    /// The next delay: `min · 2^attempt`, capped at `max`, then scaled by a random
    /// factor in [0.75, 1.0].
    pub(crate) fn next_delay(&mut self) -> Duration {
        let base = self
            .min
            .saturating_mul(1u32 << self.attempt.min(20))
            .min(self.max);
        self.attempt = self.attempt.saturating_add(1);
        self.rng ^= self.rng << 13;
        self.rng ^= self.rng >> 7;
        self.rng ^= self.rng << 17;
        let quarter = base / 4;
        let jitter = quarter.mul_f64((self.rng % 1024) as f64 / 1024.0);
        base - jitter
    }

    /// After a success: the next failure starts again from `min`.
    pub(crate) fn reset(&mut self) {
        self.attempt = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: Duration = Duration::from_millis(1);

    #[test]
    fn delays_double_up_to_the_maximum_within_their_jitter() {
        let mut backoff = Backoff::new(100 * MS, 1000 * MS, 42);
        for base in [100, 200, 400, 800, 1000, 1000, 1000] {
            let delay = backoff.next_delay();
            assert!(
                delay <= base * MS && delay >= base * MS * 3 / 4,
                "{delay:?} for {base} ms"
            );
        }
    }

    #[test]
    fn a_reset_starts_from_the_minimum_and_many_failures_never_overflow() {
        let mut backoff = Backoff::new(100 * MS, 5000 * MS, 0);
        for _ in 0..1000 {
            assert!(backoff.next_delay() <= 5000 * MS);
        }
        backoff.reset();
        assert!(backoff.next_delay() <= 100 * MS);
    }

    #[test]
    fn the_jitter_differs_between_seeds() {
        let delays = |seed| {
            let mut b = Backoff::new(1000 * MS, 1000 * MS, seed);
            (0..8).map(|_| b.next_delay()).collect::<Vec<_>>()
        };
        assert_ne!(delays(1), delays(2));
    }
}
