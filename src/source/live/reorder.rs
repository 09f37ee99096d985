//! Puts the packets of several live points back in one time order, the
//! order the file merger gives, as far as the points' own progress allows.
//!
//! Each point delivers its packets in its own time order (the kernel's ring,
//! a tcpdump stream), in batches, and says how far it has come: a batch's
//! newest timestamp, or a heartbeat ("nothing older than T will come") from
//! an interface that has caught up. A packet is released once every other
//! point that is still delivering has come at least as far as its
//! timestamp; so a copy of the same packet seen later at a slower point
//! still goes first if it is older. A point that lags cannot hold the rest
//! forever: a packet that has waited [`HOLD_MAX`] goes, and everything older
//! with it; a point silent for [`IDLE`] holds nothing.
//!
//! Pure: the clock is passed in, so the rules are unit-tested.

use super::Pkt;
use std::collections::VecDeque;
use std::time::{Duration, Instant};

/// A packet waits at most this long for a lagging point to catch up.
pub const HOLD_MAX: Duration = Duration::from_secs(3);
/// A point that delivered nothing (no packet, no heartbeat) for this long
/// is idle: it holds nothing back.
pub const IDLE: Duration = Duration::from_millis(1500);
/// At most this many packets wait; past it the oldest go.
pub const QUEUED_MAX: usize = 131_072;

/// What a reader thread hands over: packets in its order (each names its
/// point), or (empty) a heartbeat.
pub struct Batch {
    /// The points the reader delivers (one, or a pcapng file's interfaces):
    /// `upto` vouches for each.
    pub points: std::ops::Range<u16>,
    pub arrived: Instant,
    pub pkts: Vec<Pkt>,
    /// The newest timestamp in `pkts`; for a heartbeat, the time before
    /// which the reader will send nothing more.
    pub upto: i64,
}

#[derive(Default)]
struct Point {
    /// Packets with the time their batch arrived.
    queue: VecDeque<(Instant, Pkt)>,
    /// How far the point has come: nothing older is still to come from it.
    mark: Option<i64>,
    /// When it last delivered anything.
    last: Option<Instant>,
}

#[derive(Default)]
pub struct Reorder {
    points: Vec<Point>,
    queued: usize,
}

impl Reorder {
    /// `points` points, opened at `now`: one not heard from yet holds the
    /// others as if it had just delivered (for [`IDLE`]).
    pub fn new(points: usize, now: Instant) -> Reorder {
        Reorder {
            points: (0..points)
                .map(|_| Point {
                    last: Some(now),
                    ..Point::default()
                })
                .collect(),
            queued: 0,
        }
    }

    pub fn queued(&self) -> usize {
        self.queued
    }

    /// Takes a batch (a heartbeat too).
    pub fn take(&mut self, b: Batch) {
        for i in b.points.clone() {
            if let Some(p) = self.points.get_mut(usize::from(i)) {
                p.mark = Some(p.mark.map_or(b.upto, |m| m.max(b.upto)));
                p.last = Some(b.arrived);
            }
        }
        for k in b.pkts {
            if let Some(p) = self.points.get_mut(usize::from(k.point)) {
                self.queued += 1;
                p.queue.push_back((b.arrived, k));
            }
        }
    }

    /// Appends to `out`, in time order, every packet that is due at `now`.
    /// `running[i]` says whether point i's reader is still going; with
    /// `flush`, everything goes (every reader has ended).
    pub fn release(&mut self, now: Instant, running: &[bool], flush: bool, out: &mut Vec<Pkt>) {
        // Points that still hold the others back, and how far they have come.
        let holding: Vec<(usize, i64)> = self
            .points
            .iter()
            .enumerate()
            .filter(|(i, p)| {
                running.get(*i).copied().unwrap_or(false)
                    && p.last
                        .is_some_and(|l| now.saturating_duration_since(l) < IDLE)
            })
            .map(|(i, p)| (i, p.mark.unwrap_or(i64::MIN)))
            .collect();
        // Arrived at or before this: held for HOLD_MAX.
        let cutoff = now.checked_sub(HOLD_MAX);
        loop {
            // The oldest head; equal times in point order, as files merge.
            let mut best: Option<(i64, usize)> = None;
            let mut overdue = false;
            for (i, p) in self.points.iter().enumerate() {
                if let Some((at, k)) = p.queue.front() {
                    if best.is_none_or(|(t, _)| k.ts < t) {
                        best = Some((k.ts, i));
                    }
                    overdue |= cutoff.is_some_and(|c| *at <= c);
                }
            }
            let Some((ts, i)) = best else { break };
            let caught_up = holding.iter().all(|&(j, mark)| j == i || mark >= ts);
            if !(flush || overdue || caught_up || self.queued > QUEUED_MAX) {
                break;
            }
            let (_, k) = self.points[i].queue.pop_front().expect("head");
            self.queued -= 1;
            out.push(k);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decode::LinkType;

    fn pkt(point: u16, ts: i64) -> Pkt {
        Pkt::new(point, 0, ts, LinkType::Ethernet, 0, &[])
    }

    fn batch(point: u16, at: Instant, ts: &[i64]) -> Batch {
        Batch {
            points: point..point + 1,
            arrived: at,
            upto: ts.iter().copied().max().unwrap_or(i64::MIN),
            pkts: ts.iter().map(|&t| pkt(point, t)).collect(),
        }
    }

    fn beat(point: u16, at: Instant, upto: i64) -> Batch {
        Batch {
            points: point..point + 1,
            arrived: at,
            upto,
            pkts: Vec::new(),
        }
    }

    fn times(out: &[Pkt]) -> Vec<(u16, i64)> {
        out.iter().map(|p| (p.point, p.ts)).collect()
    }

    #[test]
    fn one_point_goes_at_once() {
        let t0 = Instant::now();
        let mut r = Reorder::new(1, t0);
        r.take(batch(0, t0, &[1, 2, 3]));
        let mut out = Vec::new();
        r.release(t0, &[true], false, &mut out);
        assert_eq!(times(&out), [(0, 1), (0, 2), (0, 3)]);
        assert_eq!(r.queued(), 0);
    }

    #[test]
    fn waits_for_a_slower_point_and_merges_its_older_copy_first() {
        let t0 = Instant::now();
        let mut r = Reorder::new(2, t0);
        let running = [true, true];
        let mut out = Vec::new();
        // Point 1 has said it is at 5; point 0 delivers 10 and 20.
        r.take(beat(1, t0, 5));
        r.take(batch(0, t0, &[10, 20]));
        r.release(t0, &running, false, &mut out);
        assert!(
            out.is_empty(),
            "point 1 may still send copies older than 10"
        );
        // Point 1's copy of the packet, stamped earlier (its clock is behind).
        r.take(batch(1, t0 + Duration::from_millis(30), &[9, 15]));
        r.release(t0 + Duration::from_millis(30), &running, false, &mut out);
        assert_eq!(times(&out), [(1, 9), (0, 10), (1, 15)]);
        // 20 waits until point 1 vouches for it.
        r.take(beat(1, t0 + Duration::from_millis(60), 25));
        r.release(t0 + Duration::from_millis(60), &running, false, &mut out);
        assert_eq!(times(&out)[3..], [(0, 20)]);
    }

    #[test]
    fn a_file_of_several_points_vouches_for_all_of_them() {
        let t0 = Instant::now();
        let mut r = Reorder::new(3, t0);
        let mut out = Vec::new();
        // Points 0 and 1 are one pcapng file's interfaces; 2 is live.
        r.take(Batch {
            points: 0..2,
            arrived: t0,
            upto: 30,
            pkts: vec![pkt(1, 10), pkt(0, 20), pkt(1, 30)],
        });
        r.take(beat(2, t0, 25));
        r.release(t0, &[true; 3], false, &mut out);
        assert_eq!(times(&out), [(1, 10), (0, 20)]);
    }

    #[test]
    fn equal_times_go_in_point_order() {
        let t0 = Instant::now();
        let mut r = Reorder::new(3, t0);
        r.take(batch(2, t0, &[7]));
        r.take(batch(0, t0, &[7]));
        r.take(batch(1, t0, &[7]));
        let mut out = Vec::new();
        r.release(t0, &[true; 3], false, &mut out);
        assert_eq!(times(&out), [(0, 7), (1, 7), (2, 7)]);
    }

    #[test]
    fn a_lagging_point_holds_at_most_hold_max_and_order_is_kept() {
        let t0 = Instant::now();
        let mut r = Reorder::new(2, t0);
        let running = [true, true];
        let mut out = Vec::new();
        r.take(beat(1, t0, 0));
        r.take(batch(0, t0, &[100]));
        r.take(batch(0, t0 + Duration::from_secs(1), &[200]));
        // Point 1 keeps delivering heartbeats but never gets past 0.
        r.take(beat(1, t0 + HOLD_MAX - Duration::from_millis(1), 0));
        r.release(
            t0 + HOLD_MAX - Duration::from_millis(1),
            &running,
            false,
            &mut out,
        );
        assert!(out.is_empty());
        r.release(t0 + HOLD_MAX, &running, false, &mut out);
        // The overdue packet goes; the younger one (arrived 1 s later) waits on.
        assert_eq!(times(&out), [(0, 100)]);
        r.take(beat(1, t0 + HOLD_MAX + Duration::from_secs(1), 0));
        r.release(
            t0 + HOLD_MAX + Duration::from_secs(1),
            &running,
            false,
            &mut out,
        );
        assert_eq!(times(&out), [(0, 100), (0, 200)]);
    }

    #[test]
    fn an_overdue_packet_takes_older_ones_of_other_points_first() {
        let t0 = Instant::now();
        let mut r = Reorder::new(3, t0);
        let running = [true, true, true];
        let mut out = Vec::new();
        r.take(beat(2, t0, 0));
        r.take(batch(0, t0, &[50]));
        r.take(batch(1, t0 + Duration::from_secs(2), &[40]));
        r.take(beat(2, t0 + HOLD_MAX, 0));
        r.release(t0 + HOLD_MAX, &running, false, &mut out);
        assert_eq!(times(&out), [(1, 40), (0, 50)]);
    }

    #[test]
    fn idle_and_ended_points_hold_nothing() {
        let t0 = Instant::now();
        let mut r = Reorder::new(3, t0);
        let mut out = Vec::new();
        r.take(beat(1, t0, 0)); // goes silent
        r.take(beat(2, t0, 0)); // its reader ends
        r.take(batch(0, t0 + IDLE, &[10]));
        r.release(t0 + IDLE, &[true, true, false], false, &mut out);
        assert_eq!(times(&out), [(0, 10)]);
    }

    #[test]
    fn a_point_not_heard_from_yet_holds_for_idle() {
        let t0 = Instant::now();
        let mut r = Reorder::new(2, t0);
        let mut out = Vec::new();
        r.take(batch(0, t0, &[10]));
        r.release(t0, &[true, true], false, &mut out);
        assert!(out.is_empty(), "point 1 may still be starting");
        r.release(t0 + IDLE, &[true, true], false, &mut out);
        assert_eq!(times(&out), [(0, 10)]);
    }

    #[test]
    fn flush_and_the_bound_release_everything_in_order() {
        let t0 = Instant::now();
        let mut r = Reorder::new(2, t0);
        let mut out = Vec::new();
        r.take(beat(1, t0, 0));
        r.take(batch(0, t0, &[3, 4]));
        r.take(batch(1, t0, &[]));
        r.release(t0, &[true, true], true, &mut out);
        assert_eq!(times(&out), [(0, 3), (0, 4)]);
        let many: Vec<i64> = (1..=QUEUED_MAX as i64 + 2).collect();
        r.take(batch(0, t0, &many));
        out.clear();
        r.release(t0, &[true, true], false, &mut out);
        assert_eq!(out.len(), 2, "only what is over the bound goes");
        assert_eq!(r.queued(), QUEUED_MAX);
    }
}
