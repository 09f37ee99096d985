//! Live sources as a [`PacketSource`]: the merged streams, handed over in
//! time order, at capture speed times `speed` when a replay is paced.

use super::{Pkt, Streams};
use crate::source::{PacketSource, PointInfo, RawPacket};
use std::collections::VecDeque;
use std::time::{Duration, Instant};

/// Longest wait in one [`PacketSource::pump`], so the caller keeps
/// publishing and answering while the points are quiet.
const WAIT: Duration = Duration::from_millis(50);

pub struct LiveInput {
    streams: Streams,
    /// Released by the merge, not yet due (paced) or not yet handed over.
    pending: VecDeque<Pkt>,
    batch: Vec<Pkt>,
    /// Some point is still delivering.
    more: bool,
    pace: Pace,
}

impl LiveInput {
    /// `speed`: replay at this multiple of capture speed (None: as the
    /// packets come).
    pub fn new(streams: Streams, speed: Option<f64>) -> LiveInput {
        LiveInput {
            streams,
            pending: VecDeque::new(),
            batch: Vec::new(),
            more: true,
            pace: Pace::new(speed),
        }
    }
}

impl PacketSource for LiveInput {
    fn pump(&mut self, sink: &mut dyn FnMut(&RawPacket<'_>, Option<&Pkt>) -> bool) -> bool {
        if self.pending.is_empty() && self.more {
            self.more = self.streams.poll(WAIT, &mut self.batch);
            self.pending.extend(self.batch.drain(..));
        }
        let now = Instant::now();
        while let Some(p) = self.pending.front() {
            if self.pace.due(p.ts).is_some_and(|d| d > now) {
                break;
            }
            let p = self.pending.pop_front().expect("front");
            let live = self.streams.is_live(p.point);
            if !sink(&p.raw(), live.then_some(&p)) {
                self.streams.count_undecodable(p.point);
            }
        }
        if let Some(d) = self.pending.front().and_then(|p| self.pace.due(p.ts)) {
            let now = Instant::now();
            if d > now {
                std::thread::sleep((d - now).min(WAIT));
            }
        }
        self.more || !self.pending.is_empty()
    }

    fn points(&self) -> Vec<PointInfo> {
        self.streams.points()
    }

    fn stop(&mut self) {
        // What the readers sent before they stopped, handed over at once.
        self.streams.stop();
        self.streams.drain(&mut self.batch);
        self.pending.extend(self.batch.drain(..));
        self.more = false;
        self.pace = Pace::new(None);
    }

    fn finish(self: Box<Self>) -> Vec<PointInfo> {
        let mut points = self.streams.points();
        for p in &mut points {
            if let Some(l) = &mut p.live {
                l.running = false;
            }
        }
        points
    }
}

/// Replays at capture speed (times `speed`): when a packet is due.
struct Pace {
    speed: Option<f64>,
    origin: Option<(i64, Instant)>,
}

impl Pace {
    fn new(speed: Option<f64>) -> Pace {
        Pace {
            speed: speed.filter(|s| *s > 0.0),
            origin: None,
        }
    }

    /// When the packet with capture time `ts` is due (None: not paced).
    fn due(&mut self, ts: i64) -> Option<Instant> {
        let speed = self.speed?;
        let (t0, w0) = *self.origin.get_or_insert((ts, Instant::now()));
        let offset = ((ts - t0).max(0) as f64 / speed).min(1e15) as u64;
        Some(w0 + Duration::from_nanos(offset))
    }
}
