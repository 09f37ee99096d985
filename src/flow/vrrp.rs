//! VRRP on the wire: per virtual router (address family and VRID), who
//! advertised as master and when. Only a master sends advertisements, so
//! each advertiser is a master for as long as its adverts go on; the master
//! timeline is the run of advertisers in time. Bounded: a few routers per
//! VRID, a few hundred periods per VRID, a few hundred VRIDs.

use crate::decode::vrrp::{Vrrp, KEPT_ADDRS};
use crate::decode::{IcmpKind, Mac};
use crate::finding::Evidence;
use crate::source::PointSet;
use std::collections::BTreeMap;
use std::net::IpAddr;

const MAX_VRIDS: usize = 512;
const MAX_ROUTERS: usize = 16;
/// Periods kept per VRID: the first half and the newest half.
const MAX_PERIODS: usize = 256;
/// Gaps and alternations kept as evidence per VRID.
const MAX_EVENTS: usize = 32;

/// A virtual router: IPv4 (v2 and v3 share the VRID space) or IPv6.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct VridKey {
    pub v6: bool,
    pub vrid: u8,
}

impl std::fmt::Display for VridKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "VRID {}{}",
            self.vrid,
            if self.v6 { " (IPv6)" } else { "" }
        )
    }
}

/// One router advertising for a VRID.
#[derive(Debug, Clone)]
pub struct Router {
    /// Its address (the advert's source): the router's own, not a VIP.
    pub ip: IpAddr,
    /// The advert's source MAC: keepalived's interface MAC, or the
    /// virtual MAC 00:00:5e:00:01:VRID (RFC's, keepalived's use_vmac).
    pub mac: Option<Mac>,
    pub first: Evidence,
    pub last: Evidence,
    /// Distinct adverts (a copy seen at a second point is not counted again).
    pub adverts: u64,
    pub priority: u8,
    pub version: u8,
    pub interval_cs: u16,
    pub auth: Option<u8>,
    /// Addresses it announces (the first few) and how many.
    pub addrs: Vec<IpAddr>,
    pub count: u8,
    /// Digest of the whole address set (`None` when a capture cut it).
    pub set: Option<u64>,
    /// Sent to a unicast peer (keepalived's unicast_peer) rather than the
    /// VRRP multicast group.
    pub unicast: Option<IpAddr>,
    /// Capture points that saw its adverts.
    pub points: PointSet,
    /// Adverts with priority 0 (the master giving up).
    pub resigned: u64,
}

impl Router {
    /// RFC 5798's Master_Down_Interval in ns: 3 × interval + skew, where
    /// skew = (256 − priority) × interval / 256.
    pub fn down_interval_ns(&self) -> i64 {
        let i = i64::from(self.interval_cs.max(1)) * 10_000_000;
        3 * i + (256 - i64::from(self.priority)) * i / 256
    }
}

/// A stretch of time one router was master: its adverts, uninterrupted by
/// another router's and by silences longer than its master-down interval.
#[derive(Debug, Clone, Copy)]
pub struct Period {
    /// Index into [`Vrid::routers`].
    pub router: usize,
    pub from: Evidence,
    pub to: Evidence,
    pub adverts: u64,
    /// The priority it advertised when the period began.
    pub priority: u8,
    /// It ended with a priority-0 advert: the master resigned.
    pub resigned: bool,
}

/// What the wire shows of one virtual router.
#[derive(Debug, Clone)]
pub struct Vrid {
    pub key: VridKey,
    pub routers: Vec<Router>,
    /// Advertisers beyond [`MAX_ROUTERS`] (not kept).
    pub routers_overflow: u64,
    /// The master timeline (first and newest periods when long).
    pub periods: Vec<Period>,
    pub periods_dropped: u64,
    /// Silences longer than the master-down interval (no advert from anyone):
    /// the last advert before and the first after.
    pub gaps: Vec<(Evidence, Evidence)>,
    pub gap_count: u64,
    /// Per pair of routers (lower index first): adverts of one arriving
    /// while the other was still advertising, in alternation; with the
    /// first and last such advert.
    pub alternations: BTreeMap<(usize, usize), Alternation>,
    /// ICMP errors about its adverts (first few).
    pub blocked: Vec<Blocked>,
}

/// One stretch of two routers advertising in alternation, each alternation
/// within the longer master-down interval of the last.
#[derive(Debug, Clone, Copy)]
pub struct Run {
    pub count: u64,
    pub first: Evidence,
    pub last: Evidence,
}

/// The alternation of two routers: its longest run and the current one.
#[derive(Debug, Clone, Copy)]
pub struct Alternation {
    pub best: Run,
    pub current: Run,
    /// Alternations in all runs.
    pub total: u64,
}

impl Vrid {
    fn new(key: VridKey) -> Vrid {
        Vrid {
            key,
            routers: Vec::new(),
            routers_overflow: 0,
            periods: Vec::new(),
            periods_dropped: 0,
            gaps: Vec::new(),
            gap_count: 0,
            alternations: BTreeMap::new(),
            blocked: Vec::new(),
        }
    }

    /// The longest a takeover takes: any router's master-down interval
    /// plus one advert interval of slack.
    pub fn takeover_ns(&self) -> i64 {
        self.routers
            .iter()
            .map(|r| r.down_interval_ns() + i64::from(r.interval_cs.max(1)) * 10_000_000)
            .max()
            .unwrap_or(0)
    }

    /// The current (last) master.
    pub fn master(&self) -> Option<&Router> {
        self.periods.last().map(|p| &self.routers[p.router])
    }

    fn observe(&mut self, at: Evidence, src: IpAddr, mac: Option<Mac>, dst: IpAddr, v: &Vrrp) {
        let idx = match self.routers.iter().position(|r| r.ip == src) {
            Some(i) => i,
            None if self.routers.len() < MAX_ROUTERS => {
                self.routers.push(Router {
                    ip: src,
                    mac,
                    first: at,
                    last: at,
                    adverts: 0,
                    priority: v.priority,
                    version: v.version,
                    interval_cs: v.interval_cs,
                    auth: v.auth,
                    addrs: v.addrs().iter().copied().take(KEPT_ADDRS).collect(),
                    count: v.count,
                    set: v.complete.then_some(v.set),
                    unicast: (!dst.is_multicast()).then_some(dst),
                    points: PointSet::default(),
                    resigned: 0,
                });
                self.routers.len() - 1
            }
            None => {
                self.routers_overflow += 1;
                return;
            }
        };
        // A copy of the same advert at another capture point (within a
        // tenth of the interval): where it was seen, nothing more.
        let r = &self.routers[idx];
        let copy_window = i64::from(r.interval_cs.max(1)) * 1_000_000;
        let is_copy = r.adverts > 0
            && at.point != r.last.point
            && (at.time - r.last.time).abs() < copy_window;
        let r = &mut self.routers[idx];
        r.points.insert(at.point);
        if is_copy {
            return;
        }
        let prev_last = (r.adverts > 0).then_some(r.last);
        r.adverts += 1;
        r.last = at;
        // Its own priority; a priority-0 advert (resigning) is counted apart.
        if v.priority != 0 {
            r.priority = v.priority;
        }
        r.interval_cs = v.interval_cs;
        r.mac = r.mac.or(mac);
        if v.priority == 0 {
            r.resigned += 1;
        }
        if v.complete {
            r.set = Some(v.set);
            r.count = v.count;
            r.addrs = v.addrs().iter().copied().take(KEPT_ADDRS).collect();
        }
        // A silence longer than any router's master-down interval plus one
        // advert interval: longer than a backup takes to take over.
        if let Some(p) = self.periods.last() {
            if at.time - p.to.time > self.takeover_ns() {
                self.gap_count += 1;
                if self.gaps.len() < MAX_EVENTS {
                    self.gaps.push((p.to, at));
                }
            }
        }
        // Alternation: another router advertised since this one's previous
        // advert, and this one's previous advert is recent (it never
        // stopped): both were advertising as master at once.
        if let (Some(prev_at), Some(p)) = (prev_last, self.periods.last()) {
            let other = p.router;
            if other != idx && at.time - prev_at.time <= self.routers[idx].down_interval_ns() {
                let key = (idx.min(other), idx.max(other));
                let within = self.routers[idx]
                    .down_interval_ns()
                    .max(self.routers[other].down_interval_ns());
                let fresh = Run {
                    count: 1,
                    first: prev_at,
                    last: at,
                };
                let e = self.alternations.entry(key).or_insert(Alternation {
                    best: fresh,
                    current: Run { count: 0, ..fresh },
                    total: 0,
                });
                e.total += 1;
                if e.current.count > 0 && at.time - e.current.last.time <= within {
                    e.current.count += 1;
                    e.current.last = at;
                } else {
                    e.current = fresh;
                }
                let span = |r: &Run| r.last.time - r.first.time;
                if (e.current.count, span(&e.current)) > (e.best.count, span(&e.best)) {
                    e.best = e.current;
                }
            }
        }
        // The timeline.
        let down = self.routers[idx].down_interval_ns();
        match self.periods.last_mut() {
            Some(p) if p.router == idx && at.time - p.to.time <= down => {
                p.to = at;
                p.adverts += 1;
                p.resigned = v.priority == 0;
            }
            _ => {
                if self.periods.len() >= MAX_PERIODS {
                    // Keep the first half; the newest replace the middle.
                    self.periods.remove(MAX_PERIODS / 2);
                    self.periods_dropped += 1;
                }
                self.periods.push(Period {
                    router: idx,
                    from: at,
                    to: at,
                    adverts: 1,
                    priority: v.priority,
                    resigned: v.priority == 0,
                });
            }
        }
    }
}

/// An ICMP error about a VRRP advert (protocol unreachable: a host or a
/// firewall refusing VRRP).
#[derive(Debug, Clone, Copy)]
pub struct Blocked {
    pub at: Evidence,
    /// Who sent the ICMP error.
    pub from: IpAddr,
    /// The advertiser whose advert it quotes.
    pub about: IpAddr,
    pub kind: IcmpKind,
}

/// Every virtual router seen, and what protocol 112 carried that was not VRRP.
#[derive(Debug, Clone, Default)]
pub struct VrrpTable {
    pub vrids: BTreeMap<VridKey, Vrid>,
    pub vrids_overflow: u64,
    /// OpenBSD CARP adverts (same protocol number): counted, not judged.
    pub carp: u64,
    /// Protocol-112 packets that are neither (a lying count, a wrong
    /// version or type).
    pub malformed: u64,
}

impl VrrpTable {
    pub fn observe(&mut self, at: Evidence, src: IpAddr, mac: Option<Mac>, dst: IpAddr, v: &Vrrp) {
        let key = VridKey {
            v6: src.is_ipv6(),
            vrid: v.vrid,
        };
        if !self.vrids.contains_key(&key) && self.vrids.len() >= MAX_VRIDS {
            self.vrids_overflow += 1;
            return;
        }
        self.vrids
            .entry(key)
            .or_insert_with(|| Vrid::new(key))
            .observe(at, src, mac, dst, v);
    }

    pub fn is_empty(&self) -> bool {
        self.vrids.is_empty()
    }

    /// An ICMP error from `from` quoting an advert of `about` for `vrid`
    /// (the quote's first two bytes: version/type and VRID). Kept only for
    /// a virtual router whose adverts were seen.
    pub fn blocked(&mut self, at: Evidence, from: IpAddr, about: IpAddr, vrid: u8, kind: IcmpKind) {
        let key = VridKey {
            v6: about.is_ipv6(),
            vrid,
        };
        if let Some(x) = self.vrids.get_mut(&key) {
            if x.routers.iter().any(|r| r.ip == about) && x.blocked.len() < MAX_EVENTS {
                x.blocked.push(Blocked {
                    at,
                    from,
                    about,
                    kind,
                });
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decode::vrrp::{parse, P112};

    fn advert(vrid: u8, prio: u8, addr: [u8; 4]) -> Vrrp {
        let mut b = vec![0x21, vrid, prio, 1, 0, 1, 0, 0];
        b.extend_from_slice(&addr);
        b.extend_from_slice(&[0; 8]);
        match parse(&b, false, true) {
            P112::Vrrp(v) => v,
            x => panic!("{x:?}"),
        }
    }

    fn at(point: u16, s: f64) -> Evidence {
        Evidence {
            point,
            frame: (s * 10.0) as u64,
            time: (s * 1e9) as i64,
        }
    }

    const MC: &str = "224.0.0.18";

    #[test]
    fn a_preemption_is_two_periods_and_no_alternation() {
        let mut t = VrrpTable::default();
        let (a, b) = ("192.0.2.2".parse().unwrap(), "192.0.2.3".parse().unwrap());
        let v = advert(51, 100, [192, 0, 2, 100]);
        let w = advert(51, 150, [192, 0, 2, 100]);
        for s in 0..5 {
            t.observe(at(0, f64::from(s)), a, None, MC.parse().unwrap(), &v);
            // The same advert at a second point: no second count.
            t.observe(
                at(1, f64::from(s) + 0.001),
                a,
                None,
                MC.parse().unwrap(),
                &v,
            );
        }
        for s in 5..10 {
            t.observe(at(0, f64::from(s) + 0.5), b, None, MC.parse().unwrap(), &w);
        }
        let x = &t.vrids[&VridKey {
            v6: false,
            vrid: 51,
        }];
        assert_eq!(x.periods.len(), 2);
        assert_eq!((x.periods[0].adverts, x.periods[1].adverts), (5, 5));
        assert_eq!(x.routers[0].adverts, 5);
        assert!(x.routers[0].points.contains(1));
        assert!(x.alternations.is_empty(), "{:?}", x.alternations);
        assert_eq!(x.gap_count, 0);
        assert_eq!(x.master().unwrap().ip, b);
    }

    #[test]
    fn two_masters_at_once_alternate_and_silences_are_gaps() {
        let mut t = VrrpTable::default();
        let (a, b) = ("192.0.2.2".parse().unwrap(), "192.0.2.3".parse().unwrap());
        let v = advert(51, 150, [192, 0, 2, 100]);
        let w = advert(51, 100, [192, 0, 2, 100]);
        for s in 0..10 {
            t.observe(at(0, f64::from(s)), a, None, MC.parse().unwrap(), &v);
            t.observe(at(0, f64::from(s) + 0.5), b, None, MC.parse().unwrap(), &w);
        }
        // Then 10 s of silence and a's return.
        t.observe(at(0, 20.0), a, None, MC.parse().unwrap(), &v);
        let x = &t.vrids[&VridKey {
            v6: false,
            vrid: 51,
        }];
        let alt = x.alternations[&(0, 1)];
        assert!(alt.best.count >= 18, "{alt:?}");
        assert!(alt.best.last.time - alt.best.first.time > 8_000_000_000);
        assert_eq!(x.gap_count, 1);
        assert_eq!(x.gaps[0].1.time, 20_000_000_000);
    }

    #[test]
    fn intermittent_takeovers_are_separate_runs_not_two_masters() {
        // a's adverts are lost three times: b takes over after its down
        // interval, sends one more advert after a's return, steps down.
        let mut t = VrrpTable::default();
        let (a, b) = ("192.0.2.2".parse().unwrap(), "192.0.2.3".parse().unwrap());
        let v = advert(51, 150, [192, 0, 2, 100]);
        let w = advert(51, 100, [192, 0, 2, 100]);
        let mc = MC.parse().unwrap();
        let mut s = 0.0;
        for _ in 0..3 {
            for _ in 0..3 {
                t.observe(at(0, s), a, None, mc, &v);
                s += 1.0;
            }
            // a silent; b takes over 3.61 s after a's last advert.
            s += 2.61;
            for _ in 0..2 {
                t.observe(at(0, s), b, None, mc, &w);
                s += 1.0;
            }
            t.observe(at(0, s - 0.5), a, None, mc, &v);
            t.observe(at(0, s), b, None, mc, &w);
            s += 1.0;
        }
        let x = &t.vrids[&VridKey {
            v6: false,
            vrid: 51,
        }];
        let alt = x.alternations[&(0, 1)];
        // Each handover interleaves at most two adverts (b's last, a's
        // next): short runs, never the three a split brain needs.
        assert!(alt.total >= 3 && alt.best.count <= 2, "{alt:?}");
        assert!(x.periods.len() >= 6);
        // A backup taking over is no silence.
        assert_eq!(x.gap_count, 0);
    }

    #[test]
    fn bounded_under_a_storm_of_routers_and_vrids() {
        let mut t = VrrpTable::default();
        let v = advert(1, 100, [192, 0, 2, 100]);
        for i in 0..100_000u32 {
            let src = IpAddr::from((0xc633_6400u32 + (i % 1000)).to_be_bytes());
            let mut w = v;
            w.vrid = (i % 255) as u8;
            t.observe(
                at(0, f64::from(i) * 0.001),
                src,
                None,
                MC.parse().unwrap(),
                &w,
            );
        }
        assert!(t.vrids.len() <= 255);
        for x in t.vrids.values() {
            assert!(x.routers.len() <= MAX_ROUTERS);
            assert!(x.periods.len() <= MAX_PERIODS);
            assert!(x.gaps.len() <= MAX_EVENTS);
            assert!(x.alternations.len() <= MAX_ROUTERS * MAX_ROUTERS);
        }
    }
}
