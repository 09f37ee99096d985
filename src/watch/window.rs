//! Rolling windows for findings: an engine is started every half window
//! and dropped once it is a window old, so two run at once and the older
//! one always covers between half a window and a whole one of the latest
//! traffic. Its analysis is what holds "now": a fault that ended more than
//! a window ago is no longer reported, and a fault that starts after days
//! of healthy traffic is judged against minutes, not days. Each engine is
//! bounded as an `analyze` run is, so nothing grows with uptime.

use crate::engine::{Engine, Options, Overview};
use crate::model::Model;
use crate::source::{PointInfo, RawPacket};
use crate::system::HostSnapshot;
use std::time::{Duration, Instant};

pub struct Windows {
    len: Duration,
    opts: Options,
    model: Model,
    snapshots: Vec<HostSnapshot>,
    /// Oldest first; at most two.
    engines: Vec<(Instant, Engine)>,
}

impl Windows {
    pub fn new(
        len: Duration,
        model: Model,
        opts: Options,
        snapshots: Vec<HostSnapshot>,
    ) -> Windows {
        let mut w = Windows {
            len,
            opts,
            model,
            snapshots,
            engines: Vec::new(),
        };
        w.start(Instant::now());
        w
    }

    fn start(&mut self, now: Instant) {
        let e = Engine::new(self.model.clone(), self.opts.clone())
            .with_snapshots(self.snapshots.clone());
        self.engines.push((now, e));
    }

    pub fn feed(&mut self, p: &RawPacket<'_>) {
        for (_, e) in &mut self.engines {
            e.feed(p);
        }
    }

    /// Time passes without packets: see [`Engine::tick`].
    pub fn tick(&mut self, now_ns: i64) {
        for (_, e) in &mut self.engines {
            e.tick(now_ns);
        }
    }

    /// Starts an engine every half window; drops those a window old.
    pub fn rotate(&mut self, now: Instant) {
        let len = self.len;
        self.engines.retain(|(t, _)| now.duration_since(*t) < len);
        if self
            .engines
            .last()
            .is_none_or(|(t, _)| now.duration_since(*t) >= len / 2)
        {
            self.start(now);
        }
        while self.engines.len() > 2 {
            self.engines.remove(0);
        }
    }

    /// The analysis of the current window (the oldest engine's), and how
    /// long that window is so far.
    pub fn overview(&self, points: Vec<PointInfo>, now: Instant) -> (Overview, Duration) {
        let (t, e) = self.engines.first().expect("one engine at least");
        (e.overview(points), now.duration_since(*t))
    }

    pub fn set_model(&mut self, model: Model) {
        for (_, e) in &mut self.engines {
            e.set_model(model.clone());
        }
        self.model = model;
    }

    pub fn set_snapshots(&mut self, snapshots: Vec<HostSnapshot>) {
        for (_, e) in &mut self.engines {
            e.set_snapshots(snapshots.clone());
        }
        self.snapshots = snapshots;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn two_engines_at_most_and_the_oldest_is_under_a_window_old() {
        let t0 = Instant::now();
        let mut w = Windows::new(
            Duration::from_secs(60),
            Model::default(),
            Options::default(),
            Vec::new(),
        );
        for s in 0..600u64 {
            let now = t0 + Duration::from_secs(s);
            w.rotate(now);
            assert!(w.engines.len() <= 2, "at {s} s: {}", w.engines.len());
            let age = now.duration_since(w.engines[0].0);
            assert!(
                age < Duration::from_secs(60),
                "at {s} s the window is {age:?}"
            );
            if s >= 60 {
                // After the first window: never less than half a window.
                assert!(age >= Duration::from_secs(30), "at {s} s: {age:?}");
            }
        }
    }
}
