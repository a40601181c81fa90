//! The in-memory CloudWatch metric store: per metric (name + dimensions) one bucket per minute
//! of the server clock holding the statistics CloudWatch keeps for standard-resolution data —
//! Sum, SampleCount, Minimum, Maximum — plus a small log-scale histogram for percentiles.
//! Buckets older than the retention window are dropped.

use std::collections::BTreeMap;

/// CloudWatch keeps Lambda's metrics at one-minute resolution.
pub const MINUTE_MS: i64 = 60_000;

/// The unit a metric is published with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    Count,
    Milliseconds,
}

impl Unit {
    pub fn as_str(self) -> &'static str {
        match self {
            Unit::Count => "Count",
            Unit::Milliseconds => "Milliseconds",
        }
    }
}

/// A metric's identity within the `AWS/Lambda` namespace: its name and its dimensions, sorted
/// by dimension name (CloudWatch treats each combination as a metric of its own).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct MetricId {
    pub name: String,
    pub dimensions: Vec<(String, String)>,
}

impl MetricId {
    pub fn new(name: &str, dimensions: &[(&str, &str)]) -> MetricId {
        let mut dims: Vec<(String, String)> = dimensions
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        dims.sort();
        MetricId {
            name: name.to_owned(),
            dimensions: dims,
        }
    }
}

/// Relative width of a histogram bin: values within ~2% share a bin, so percentiles are
/// accurate to about 1% (CloudWatch's own percentiles are approximations too).
const BIN_BASE: f64 = 1.02;

/// A sparse histogram over log-scale bins; zero and negative values have bins of their own.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Histogram {
    bins: BTreeMap<i32, f64>,
}

impl Histogram {
    fn bin(v: f64) -> i32 {
        if v <= 0.0 {
            // Every non-positive value shares the lowest bin: Lambda's metrics are never below
            // zero, and a zero IteratorAge or Duration is common.
            i32::MIN
        } else {
            (v.ln() / BIN_BASE.ln()).floor() as i32
        }
    }

    fn add(&mut self, v: f64, weight: f64) {
        *self.bins.entry(Self::bin(v)).or_default() += weight;
    }

    fn merge(&mut self, other: &Histogram) {
        for (b, n) in &other.bins {
            *self.bins.entry(*b).or_default() += n;
        }
    }

    /// The value below which `p` percent of the samples fall (nearest rank), as the middle of
    /// its bin, kept within `[min, max]`.
    fn percentile(&self, p: f64, min: f64, max: f64) -> Option<f64> {
        let total: f64 = self.bins.values().sum();
        if total <= 0.0 {
            return None;
        }
        if p <= 0.0 {
            return Some(min);
        }
        if p >= 100.0 {
            return Some(max);
        }
        let rank = (p / 100.0 * total).ceil().max(1.0);
        let mut seen = 0.0;
        for (b, n) in &self.bins {
            seen += n;
            if seen >= rank {
                let mid = if *b == i32::MIN {
                    0.0
                } else {
                    BIN_BASE.powf(f64::from(*b) + 0.5)
                };
                return Some(mid.clamp(min, max));
            }
        }
        Some(max)
    }
}

/// The statistics of one period (a minute bucket, or several merged).
#[derive(Debug, Clone, PartialEq)]
pub struct Stats {
    pub sum: f64,
    pub count: f64,
    pub min: f64,
    pub max: f64,
    hist: Histogram,
}

impl Stats {
    fn one(v: f64) -> Stats {
        let mut hist = Histogram::default();
        hist.add(v, 1.0);
        Stats {
            sum: v,
            count: 1.0,
            min: v,
            max: v,
            hist,
        }
    }

    fn add(&mut self, v: f64) {
        self.sum += v;
        self.count += 1.0;
        self.min = self.min.min(v);
        self.max = self.max.max(v);
        self.hist.add(v, 1.0);
    }

    fn merge(&mut self, other: &Stats) {
        self.sum += other.sum;
        self.count += other.count;
        self.min = self.min.min(other.min);
        self.max = self.max.max(other.max);
        self.hist.merge(&other.hist);
    }

    pub fn average(&self) -> f64 {
        if self.count > 0.0 {
            self.sum / self.count
        } else {
            0.0
        }
    }

    /// A statistic by CloudWatch name: `Sum`, `SampleCount`, `Average`, `Minimum`, `Maximum`,
    /// or a percentile `pNN` / `pNN.NN`.
    pub fn get(&self, stat: &Statistic) -> Option<f64> {
        match stat {
            Statistic::Sum => Some(self.sum),
            Statistic::SampleCount => Some(self.count),
            Statistic::Average => Some(self.average()),
            Statistic::Minimum => Some(self.min),
            Statistic::Maximum => Some(self.max),
            Statistic::Percentile(p) => self.hist.percentile(*p, self.min, self.max),
        }
    }
}

/// A statistic CloudWatch computes.
#[derive(Debug, Clone, PartialEq)]
pub enum Statistic {
    Sum,
    SampleCount,
    Average,
    Minimum,
    Maximum,
    /// `pNN.NN`: 0 ≤ NN ≤ 100.
    Percentile(f64),
}

impl Statistic {
    /// One of the five basic statistics, by its CloudWatch name.
    pub fn basic(name: &str) -> Option<Statistic> {
        Some(match name {
            "Sum" => Statistic::Sum,
            "SampleCount" => Statistic::SampleCount,
            "Average" => Statistic::Average,
            "Minimum" => Statistic::Minimum,
            "Maximum" => Statistic::Maximum,
            _ => return None,
        })
    }

    /// A percentile, `p0` to `p100` with at most two decimals (`p99`, `p99.9`, `p99.99`).
    pub fn percentile(name: &str) -> Option<Statistic> {
        let n = name.strip_prefix('p')?;
        let (int, frac) = n.split_once('.').unwrap_or((n, ""));
        if int.is_empty()
            || int.len() > 3
            || frac.len() > 2
            || !int.bytes().all(|b| b.is_ascii_digit())
            || !frac.bytes().all(|b| b.is_ascii_digit())
            || (n.contains('.') && frac.is_empty())
        {
            return None;
        }
        let p: f64 = n.parse().ok()?;
        (0.0..=100.0)
            .contains(&p)
            .then_some(Statistic::Percentile(p))
    }

    /// A basic statistic or a percentile (what `MetricStat.Stat` accepts here).
    pub fn parse(name: &str) -> Option<Statistic> {
        Self::basic(name).or_else(|| Self::percentile(name))
    }
}

#[derive(Debug)]
struct Series {
    unit: Unit,
    /// By the start of the minute (server clock, epoch ms).
    buckets: BTreeMap<i64, Stats>,
}

/// All metrics, bucketed by minute.
#[derive(Debug)]
pub struct MetricStore {
    retention_ms: i64,
    series: BTreeMap<MetricId, Series>,
}

/// The start of the minute holding `ms`.
pub fn minute_of(ms: i64) -> i64 {
    ms - ms.rem_euclid(MINUTE_MS)
}

impl MetricStore {
    pub fn new(retention_ms: i64) -> MetricStore {
        MetricStore {
            retention_ms: retention_ms.max(MINUTE_MS),
            series: BTreeMap::new(),
        }
    }

    pub fn retention_ms(&self) -> i64 {
        self.retention_ms
    }

    /// Adds one value to the minute bucket of `at_ms`.
    pub fn put(&mut self, id: MetricId, unit: Unit, at_ms: i64, value: f64) {
        let series = self.series.entry(id).or_insert_with(|| Series {
            unit,
            buckets: BTreeMap::new(),
        });
        series
            .buckets
            .entry(minute_of(at_ms))
            .and_modify(|s| s.add(value))
            .or_insert_with(|| Stats::one(value));
    }

    /// Drops the buckets that fell out of the retention window, and metrics left without any.
    pub fn prune(&mut self, now_ms: i64) {
        let keep_from = minute_of(now_ms - self.retention_ms);
        self.series.retain(|_, s| {
            s.buckets = s.buckets.split_off(&keep_from);
            !s.buckets.is_empty()
        });
    }

    /// Statistics per period over `[start_ms, end_ms)`: the minute buckets are grouped into
    /// periods counted from `start_ms`; each datapoint carries its period's start. Periods
    /// without data are left out, as CloudWatch does. `None` when the metric is unknown.
    pub fn statistics(
        &self,
        id: &MetricId,
        start_ms: i64,
        end_ms: i64,
        period_ms: i64,
    ) -> Option<(Unit, Vec<(i64, Stats)>)> {
        let series = self.series.get(id)?;
        let period_ms = period_ms.max(1);
        let mut out: Vec<(i64, Stats)> = Vec::new();
        for (minute, stats) in series.buckets.range(start_ms..end_ms.max(start_ms)) {
            let slot = start_ms + (minute - start_ms).div_euclid(period_ms) * period_ms;
            match out.last_mut() {
                Some((t, s)) if *t == slot => s.merge(stats),
                _ => out.push((slot, stats.clone())),
            }
        }
        Some((series.unit, out))
    }

    /// Every metric, in (name, dimensions) order, with the time of its newest bucket.
    pub fn metrics(&self) -> impl Iterator<Item = (&MetricId, i64)> {
        self.series
            .iter()
            .map(|(id, s)| (id, s.buckets.keys().next_back().copied().unwrap_or(0)))
    }

    pub fn len(&self) -> usize {
        self.series.len()
    }

    pub fn is_empty(&self) -> bool {
        self.series.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const T0: i64 = 1_700_000_040_000; // a minute boundary

    fn id(name: &str) -> MetricId {
        MetricId::new(name, &[("FunctionName", "f")])
    }

    #[test]
    fn dimensions_are_sorted_into_one_identity() {
        assert_eq!(
            MetricId::new("X", &[("b", "2"), ("a", "1")]),
            MetricId::new("X", &[("a", "1"), ("b", "2")])
        );
    }

    #[test]
    fn values_land_in_their_minute() {
        let mut s = MetricStore::new(3 * 3_600_000);
        s.put(id("IteratorAge"), Unit::Milliseconds, T0 + 1_000, 10.0);
        s.put(id("IteratorAge"), Unit::Milliseconds, T0 + 59_999, 30.0);
        s.put(id("IteratorAge"), Unit::Milliseconds, T0 + 60_000, 5.0);
        let (unit, points) = s
            .statistics(&id("IteratorAge"), T0, T0 + 180_000, 60_000)
            .unwrap();
        assert_eq!(unit, Unit::Milliseconds);
        assert_eq!(points.len(), 2);
        assert_eq!(points[0].0, T0);
        assert_eq!(
            (
                points[0].1.sum,
                points[0].1.count,
                points[0].1.min,
                points[0].1.max
            ),
            (40.0, 2.0, 10.0, 30.0)
        );
        assert_eq!(points[0].1.average(), 20.0);
        assert_eq!(points[1].0, T0 + 60_000);
        assert_eq!(points[1].1.max, 5.0);
    }

    #[test]
    fn periods_merge_minutes_from_the_start_time() {
        let mut s = MetricStore::new(3 * 3_600_000);
        for m in 0..6 {
            s.put(
                id("Invocations"),
                Unit::Count,
                T0 + m * 60_000,
                1.0 + m as f64,
            );
        }
        let (_, points) = s
            .statistics(&id("Invocations"), T0 + 60_000, T0 + 360_000, 180_000)
            .unwrap();
        let got: Vec<(i64, f64, f64)> = points.iter().map(|(t, s)| (*t, s.sum, s.max)).collect();
        assert_eq!(
            got,
            vec![
                (T0 + 60_000, 2.0 + 3.0 + 4.0, 4.0),
                (T0 + 240_000, 5.0 + 6.0, 6.0)
            ]
        );
        // The end is exclusive, the start inclusive.
        let (_, points) = s
            .statistics(&id("Invocations"), T0, T0 + 60_000, 60_000)
            .unwrap();
        assert_eq!(points.len(), 1);
        assert!(s.statistics(&id("Errors"), T0, T0 + 1, 60).is_none());
    }

    #[test]
    fn retention_drops_old_minutes_and_empty_metrics() {
        let mut s = MetricStore::new(10 * 60_000);
        s.put(id("A"), Unit::Count, T0, 1.0);
        s.put(id("B"), Unit::Count, T0, 1.0);
        s.put(id("B"), Unit::Count, T0 + 9 * 60_000, 1.0);
        // Ten minutes after the end of A's minute (B's newer minute stays).
        s.prune(T0 + 11 * 60_000);
        let names: Vec<&str> = s.metrics().map(|(m, _)| m.name.as_str()).collect();
        assert_eq!(names, vec!["B"]);
        let (_, points) = s.statistics(&id("B"), 0, i64::MAX, 60_000).unwrap();
        assert_eq!(points.len(), 1);
    }

    #[test]
    fn percentiles_follow_the_samples() {
        let mut s = MetricStore::new(3_600_000);
        for v in 1..=100 {
            s.put(id("Duration"), Unit::Milliseconds, T0, f64::from(v));
        }
        let (_, points) = s
            .statistics(&id("Duration"), T0, T0 + 60_000, 60_000)
            .unwrap();
        let st = &points[0].1;
        let p = |x: f64| st.get(&Statistic::Percentile(x)).unwrap();
        assert_eq!(p(0.0), 1.0);
        assert_eq!(p(100.0), 100.0);
        assert!((p(50.0) - 50.0).abs() <= 1.0, "p50 = {}", p(50.0));
        assert!((p(99.0) - 99.0).abs() <= 1.5, "p99 = {}", p(99.0));
    }

    #[test]
    fn parses_statistics_by_name() {
        assert_eq!(Statistic::parse("Maximum"), Some(Statistic::Maximum));
        assert_eq!(Statistic::parse("p99"), Some(Statistic::Percentile(99.0)));
        assert_eq!(
            Statistic::parse("p99.99"),
            Some(Statistic::Percentile(99.99))
        );
        assert_eq!(Statistic::parse("p100"), Some(Statistic::Percentile(100.0)));
        for bad in ["p101", "p", "p9.", "p99.999", "maximum", "tm99", "px"] {
            assert_eq!(Statistic::parse(bad), None, "{bad}");
        }
    }
}
