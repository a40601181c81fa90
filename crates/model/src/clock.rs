//! The clock seam: every time-based rule reads a [`Clock`], and every delay waits on one, so
//! tests can move time by hand and a simulation can run on time of its own.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tokio::sync::watch;

/// A wait on a [`Clock`].
pub type Sleep<'a> = Pin<Box<dyn Future<Output = ()> + Send + 'a>>;

/// Wall-clock time in milliseconds since the Unix epoch, and waits on it.
pub trait Clock: Send + Sync + 'static {
    fn now_millis(&self) -> i64;

    /// Resolves once [`Clock::now_millis`] has reached `deadline_ms`: when that time comes, or
    /// as soon as the clock is moved past it.
    fn sleep_until(&self, deadline_ms: i64) -> Sleep<'_>;

    /// Resolves once `d` has passed on this clock (rounded up to a millisecond).
    fn sleep(&self, d: Duration) -> Sleep<'_> {
        let ms = i64::try_from(d.as_nanos().div_ceil(1_000_000)).unwrap_or(i64::MAX);
        self.sleep_until(self.now_millis().saturating_add(ms))
    }
}

/// The real clock, plus an offset that `POST /_tributary/clock/advance` moves forward.
#[derive(Debug)]
pub struct SystemClock {
    offset_ms: AtomicI64,
    /// Bumped on every move, to wake the sleepers.
    moved: watch::Sender<u64>,
}

impl Default for SystemClock {
    fn default() -> Self {
        SystemClock {
            offset_ms: AtomicI64::new(0),
            moved: watch::Sender::new(0),
        }
    }
}

impl SystemClock {
    pub fn new() -> Arc<Self> {
        Arc::new(SystemClock::default())
    }

    /// Moves this clock forward for everybody who reads it, and wakes whoever sleeps on it.
    pub fn advance_millis(&self, ms: i64) {
        self.offset_ms.fetch_add(ms, Ordering::SeqCst);
        self.moved.send_modify(|v| *v += 1);
    }
}

impl Clock for SystemClock {
    fn now_millis(&self) -> i64 {
        let real = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_millis() as i64)
            .unwrap_or(0);
        real + self.offset_ms.load(Ordering::SeqCst)
    }

    fn sleep_until(&self, deadline_ms: i64) -> Sleep<'_> {
        Box::pin(async move {
            // Subscribed before the clock is read: a move in between is not missed.
            let mut moved = self.moved.subscribe();
            loop {
                let now = self.now_millis();
                if now >= deadline_ms {
                    return;
                }
                let left = Duration::from_millis(deadline_ms.abs_diff(now));
                tokio::select! {
                    _ = tokio::time::sleep(left) => {}
                    _ = moved.changed() => {}
                }
            }
        })
    }
}

/// A clock that only moves when told to; for deterministic tests.
#[derive(Debug)]
pub struct ManualClock {
    now_ms: AtomicI64,
    moved: watch::Sender<u64>,
}

impl ManualClock {
    pub fn new(start_ms: i64) -> Arc<Self> {
        Arc::new(ManualClock {
            now_ms: AtomicI64::new(start_ms),
            moved: watch::Sender::new(0),
        })
    }

    /// Moves the clock forward, and wakes the sleepers whose time has come.
    pub fn advance_millis(&self, ms: i64) {
        self.now_ms.fetch_add(ms, Ordering::SeqCst);
        self.moved.send_modify(|v| *v += 1);
    }
}

impl Clock for ManualClock {
    fn now_millis(&self) -> i64 {
        self.now_ms.load(Ordering::SeqCst)
    }

    fn sleep_until(&self, deadline_ms: i64) -> Sleep<'_> {
        Box::pin(async move {
            let mut moved = self.moved.subscribe();
            while self.now_millis() < deadline_ms {
                if moved.changed().await.is_err() {
                    // Unreachable while `self` lives; never wake falsely.
                    std::future::pending::<()>().await;
                }
            }
        })
    }
}

/// `2015-05-20T20:51:10.252` — the stream-label form (UTC, millis, no zone).
pub fn stream_label(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .unwrap_or_default()
        .format("%Y-%m-%dT%H:%M:%S%.3f")
        .to_string()
}

/// `2019-11-14T00:13:49.717Z`.
pub fn iso_millis(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .unwrap_or_default()
        .format("%Y-%m-%dT%H:%M:%S%.3fZ")
        .to_string()
}

/// Lambda's `LastModified` form: `2019-11-14T00:13:49.717+0000`.
pub fn lambda_timestamp(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .unwrap_or_default()
        .format("%Y-%m-%dT%H:%M:%S%.3f+0000")
        .to_string()
}

/// Epoch seconds with a fraction, as AWS JSON protocols encode timestamps.
pub fn epoch_seconds(ms: i64) -> f64 {
    ms as f64 / 1000.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats() {
        assert_eq!(stream_label(1_432_155_070_252), "2015-05-20T20:51:10.252");
        assert_eq!(iso_millis(1_573_690_429_717), "2019-11-14T00:13:49.717Z");
        assert_eq!(
            lambda_timestamp(1_573_690_429_717),
            "2019-11-14T00:13:49.717+0000"
        );
    }

    #[test]
    fn manual_clock_moves_only_when_told() {
        let c = ManualClock::new(1000);
        assert_eq!(c.now_millis(), 1000);
        c.advance_millis(500);
        assert_eq!(c.now_millis(), 1500);
    }

    #[tokio::test]
    async fn a_manual_sleep_ends_when_the_clock_reaches_it() {
        let c = ManualClock::new(1000);
        let mut sleep = c.sleep(Duration::from_millis(300));
        let poll = |s: &mut Sleep<'_>| {
            let waker = std::task::Waker::noop();
            s.as_mut()
                .poll(&mut std::task::Context::from_waker(waker))
                .is_ready()
        };
        assert!(!poll(&mut sleep));
        c.advance_millis(200);
        assert!(!poll(&mut sleep), "200 of 300 ms");
        c.advance_millis(100);
        assert!(poll(&mut sleep));
        assert!(
            poll(&mut c.sleep_until(900)),
            "a past deadline is over at once"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_system_sleep_ends_in_time_or_when_the_clock_is_moved_past_it() {
        let c = SystemClock::new();
        // Moved past the deadline: over long before the hour.
        let started = tokio::time::Instant::now();
        let waiter = {
            let c = c.clone();
            tokio::spawn(async move { c.sleep(Duration::from_secs(3600)).await })
        };
        tokio::task::yield_now().await;
        c.advance_millis(3_600_000);
        waiter.await.unwrap();
        assert!(started.elapsed() < Duration::from_secs(1));
    }
}
