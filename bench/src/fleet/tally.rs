//! What the sessions count: which messages each received (to find the lost and the
//! duplicated), and a latency histogram that load processes send to the summary and
//! that merges exactly.

use serde_json::{Value, json};

/// Values below this are their own bucket; above, each power of two is split in
/// this many buckets (a bucket is at most 1/32 ≈ 3 % wide).
const LINEAR: u64 = 32;
/// log2 of [`LINEAR`].
const SUB_BITS: u32 = 5;
/// Buckets for every `u64`.
const BUCKETS: usize = (LINEAR + (64 - SUB_BITS as u64) * LINEAR) as usize;

/// A histogram of latencies in microseconds, about 3 % precise.
#[derive(Clone, Debug)]
pub(crate) struct Histogram {
    counts: Vec<u64>,
    total: u64,
    max: u64,
}

impl Default for Histogram {
    fn default() -> Self {
        Histogram {
            counts: vec![0; BUCKETS],
            total: 0,
            max: 0,
        }
    }
}

fn bucket_of(value: u64) -> usize {
    if value < LINEAR {
        return value as usize;
    }
    let exponent = 63 - value.leading_zeros();
    let sub = (value >> (exponent - SUB_BITS)) & (LINEAR - 1);
    (LINEAR + u64::from(exponent - SUB_BITS) * LINEAR + sub) as usize
}

/// The largest value bucket `index` holds.
fn bucket_top(index: usize) -> u64 {
    let index = index as u64;
    if index < LINEAR {
        return index;
    }
    let shift = (index - LINEAR) / LINEAR;
    let sub = (index - LINEAR) % LINEAR;
    ((LINEAR + sub + 1) << shift).saturating_sub(1)
}

impl Histogram {
    /// Counts one value.
    pub(crate) fn record(&mut self, value: u64) {
        self.counts[bucket_of(value)] += 1;
        self.total += 1;
        self.max = self.max.max(value);
    }

    /// Adds every value counted in `other`.
    pub(crate) fn merge(&mut self, other: &Histogram) {
        for (mine, theirs) in self.counts.iter_mut().zip(&other.counts) {
            *mine += theirs;
        }
        self.total += other.total;
        self.max = self.max.max(other.max);
    }

    /// How many values were counted.
    pub(crate) fn total(&self) -> u64 {
        self.total
    }

    /// The largest value counted (exact).
    pub(crate) fn max(&self) -> u64 {
        self.max
    }

    /// The value at quantile `q` (0..=1), as its bucket's top (never above the
    /// largest value); `None` when nothing was counted.
    pub(crate) fn quantile(&self, q: f64) -> Option<u64> {
        if self.total == 0 {
            return None;
        }
        let rank = ((q * self.total as f64).ceil() as u64).clamp(1, self.total);
        let mut seen = 0;
        for (index, &count) in self.counts.iter().enumerate() {
            seen += count;
            if seen >= rank {
                return Some(bucket_top(index).min(self.max));
            }
        }
        Some(self.max)
    }

    /// `{"max": .., "buckets": [[index, count], ..]}`, the non-empty buckets only.
    pub(crate) fn to_json(&self) -> Value {
        let buckets: Vec<[u64; 2]> = self
            .counts
            .iter()
            .enumerate()
            .filter(|(_, count)| **count > 0)
            .map(|(index, &count)| [index as u64, count])
            .collect();
        json!({"max": self.max, "buckets": buckets})
    }

    /// The histogram [`to_json`](Self::to_json) wrote; `None` if `value` is not one.
    pub(crate) fn from_json(value: &Value) -> Option<Histogram> {
        let mut histogram = Histogram {
            max: value.get("max")?.as_u64()?,
            ..Histogram::default()
        };
        for pair in value.get("buckets")?.as_array()? {
            let index = usize::try_from(pair.get(0)?.as_u64()?).ok()?;
            let count = pair.get(1)?.as_u64()?;
            *histogram.counts.get_mut(index)? += count;
            histogram.total += count;
        }
        Some(histogram)
    }
}

/// Which message numbers one session has received.
#[derive(Debug, Default)]
pub(crate) struct Received {
    seen: Vec<u64>,
    distinct: u64,
    duplicated: u64,
}

impl Received {
    /// Marks `seq` received; false when it had been already (a duplicate).
    pub(crate) fn mark(&mut self, seq: u64) -> bool {
        let word = (seq / 64) as usize;
        let bit = 1u64 << (seq % 64);
        if word >= self.seen.len() {
            self.seen.resize(word + 1, 0);
        }
        if self.seen[word] & bit != 0 {
            self.duplicated += 1;
            return false;
        }
        self.seen[word] |= bit;
        self.distinct += 1;
        true
    }

    /// How many different messages arrived.
    pub(crate) fn distinct(&self) -> u64 {
        self.distinct
    }

    /// How many arrived again after their first time.
    pub(crate) fn duplicated(&self) -> u64 {
        self.duplicated
    }

    /// How many of the messages `0..count` never arrived.
    pub(crate) fn missing(&self, count: u64) -> u64 {
        let seen_below = (0..count)
            .filter(|&seq| {
                self.seen
                    .get((seq / 64) as usize)
                    .is_some_and(|word| word & (1 << (seq % 64)) != 0)
            })
            .count() as u64;
        count - seen_below
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_hold_their_values() {
        for value in [0, 1, 31, 32, 33, 63, 64, 65, 1000, 123_456, u64::MAX / 3] {
            let index = bucket_of(value);
            assert!(bucket_top(index) >= value, "{value}");
            assert!(index == 0 || bucket_top(index - 1) < value, "{value}");
        }
        assert!(bucket_of(u64::MAX) < BUCKETS);
    }

    #[test]
    fn quantiles_are_within_three_percent() {
        let mut histogram = Histogram::default();
        for value in 1..=10_000 {
            histogram.record(value);
        }
        let p50 = histogram.quantile(0.5).expect("values");
        assert!((5000..=5160).contains(&p50), "{p50}");
        assert_eq!(histogram.quantile(1.0), Some(10_000));
        assert_eq!(histogram.max(), 10_000);
        assert_eq!(Histogram::default().quantile(0.5), None);
    }

    #[test]
    fn histograms_survive_json_and_merge() {
        let mut a = Histogram::default();
        let mut b = Histogram::default();
        a.record(100);
        b.record(2_000_000);
        b.record(7);
        let mut merged = Histogram::from_json(&a.to_json()).expect("parses");
        merged.merge(&Histogram::from_json(&b.to_json()).expect("parses"));
        assert_eq!(merged.total(), 3);
        assert_eq!(merged.max(), 2_000_000);
        assert_eq!(merged.quantile(0.0), Some(7));
        assert!(Histogram::from_json(&json!({"max": 1})).is_none());
    }

    #[test]
    fn duplicates_and_gaps_are_counted() {
        let mut received = Received::default();
        assert!(received.mark(0));
        assert!(received.mark(2));
        assert!(!received.mark(2));
        assert!(received.mark(130));
        assert_eq!(received.distinct(), 3);
        assert_eq!(received.duplicated(), 1);
        assert_eq!(received.missing(4), 2);
        assert_eq!(received.missing(200), 197);
    }
}
