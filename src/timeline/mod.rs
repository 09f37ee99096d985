//! What happened over time: per real server new-connection and failure
//! counts in time buckets (bounded: the buckets widen as the capture grows),
//! and the events an operator looks for first during an incident —
//! failovers, VRRP master changes, real servers appearing in or vanishing
//! from the traffic, bursts of failures, and the moment each finding's
//! trouble began.

use crate::finding::{Evidence, Finding};
use crate::model::{RsId, ServiceKey};

pub mod fold;

/// Buckets per series: the width doubles when a capture outgrows them.
pub const BUCKETS: usize = 120;
const FIRST_WIDTH_NS: i64 = 1_000_000_000;

/// Connection and failure counts per time bucket.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Series {
    /// Start of bucket 0 (ns since the epoch).
    pub start: i64,
    pub width_ns: i64,
    pub conns: Vec<u32>,
    pub fails: Vec<u32>,
}

impl Series {
    /// Counts a connection begun at `t`.
    pub fn add(&mut self, t: i64, failed: bool) {
        if self.width_ns == 0 {
            self.start = t - t.rem_euclid(FIRST_WIDTH_NS);
            self.width_ns = FIRST_WIDTH_NS;
        }
        // Flows are counted as they end, not as they begin: a long one
        // can come after shorter, later ones. Room before the start:
        if t < self.start {
            let mut k = ((self.start - t + self.width_ns - 1) / self.width_ns) as usize;
            while self.conns.len() + k > BUCKETS {
                self.widen();
                k = ((self.start - t + self.width_ns - 1) / self.width_ns) as usize;
            }
            self.conns.splice(0..0, std::iter::repeat_n(0, k));
            self.fails.splice(0..0, std::iter::repeat_n(0, k));
            self.start -= k as i64 * self.width_ns;
        }
        let mut i = ((t - self.start) / self.width_ns) as usize;
        while i >= BUCKETS {
            self.widen();
            i = ((t - self.start) / self.width_ns) as usize;
        }
        if self.conns.len() <= i {
            self.conns.resize(i + 1, 0);
            self.fails.resize(i + 1, 0);
        }
        self.conns[i] = self.conns[i].saturating_add(1);
        self.fails[i] = self.fails[i].saturating_add(u32::from(failed));
    }

    /// Doubles the bucket width, merging pairs.
    fn widen(&mut self) {
        let merge = |v: &mut Vec<u32>| {
            *v = v
                .chunks(2)
                .map(|c| c.iter().fold(0u32, |a, b| a.saturating_add(*b)))
                .collect();
        };
        merge(&mut self.conns);
        merge(&mut self.fails);
        self.width_ns = self.width_ns.saturating_mul(2);
    }

    /// Merges another series into this one (same or different widths).
    pub fn merge(&mut self, o: &Series) {
        for (i, (&c, &f)) in o.conns.iter().zip(&o.fails).enumerate() {
            let t = o.start + i as i64 * o.width_ns;
            for k in 0..c {
                self.add(t, k < f);
            }
        }
    }

    /// Time of bucket `i`'s start.
    pub fn at(&self, i: usize) -> i64 {
        self.start + i as i64 * self.width_ns
    }

    pub fn is_empty(&self) -> bool {
        self.conns.is_empty()
    }
}

/// One real server's (or a service's) series, as the reports show it.
#[derive(Debug, Clone)]
pub struct RsSeries {
    pub service: ServiceKey,
    pub real_server: Option<RsId>,
    pub series: Series,
}

/// What kind of moment an event is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum EventKind {
    /// The VIP's ARP / ND owner changed (a failover, or a conflict).
    VipOwner,
    /// A VRRP virtual router got a new master.
    VrrpMaster,
    /// A real server got its first new connection.
    RsAppears,
    /// A real server got its last new connection while the others went on.
    RsVanishes,
    /// Many connections failed within one bucket.
    FailureBurst,
    /// A finding's trouble began (its `moment`).
    Finding,
}

impl EventKind {
    pub fn as_str(self) -> &'static str {
        match self {
            EventKind::VipOwner => "vip-owner",
            EventKind::VrrpMaster => "vrrp-master",
            EventKind::RsAppears => "rs-appears",
            EventKind::RsVanishes => "rs-vanishes",
            EventKind::FailureBurst => "failure-burst",
            EventKind::Finding => "finding",
        }
    }
}

/// One moment on the timeline.
#[derive(Debug, Clone)]
pub struct Event {
    pub time: i64,
    pub kind: EventKind,
    pub what: String,
    pub service: Option<ServiceKey>,
    pub real_server: Option<RsId>,
    /// The finding code, for `Finding` events.
    pub code: Option<&'static str>,
    pub evidence: Option<Evidence>,
    /// What the event is about and who acted, for folding runs of it
    /// (VRRP: the virtual router and its new master; a VIP and its new
    /// owner). Not in the JSON report.
    pub about: Option<About>,
}

/// The subject of an event that repeats (a virtual router, a VIP) and who
/// acted this time (the new master or owner).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct About {
    pub subject: String,
    pub actor: String,
}

/// Events kept in a report.
pub const MAX_EVENTS: usize = 200;
/// Failures in one bucket that make a burst (and at least half its connections).
const BURST_MIN: u32 = 3;

/// The events the per-real-server series show: appearances, vanishings
/// (the last new connection, when the service's others got more than two
/// rounds after it) and failure bursts.
pub fn series_events(series: &[RsSeries], label: impl Fn(&RsSeries) -> String) -> Vec<Event> {
    let mut out = Vec::new();
    for s in series.iter().filter(|s| !s.series.is_empty()) {
        let x = &s.series;
        let who = label(s);
        let first = x.conns.iter().position(|&c| c > 0).expect("not empty");
        let last = x.conns.iter().rposition(|&c| c > 0).expect("not empty");
        let others: Vec<&RsSeries> = series
            .iter()
            .filter(|o| o.service == s.service && o.real_server != s.real_server)
            .collect();
        let end = x.at(last + 1);
        // Only when the others show that it was missing: more than two
        // rounds of new connections went to them before (or after) it.
        let rounds = 2 * others.len() as u64;
        let before = conns_where(&others, |o, i| o.at(i + 1) <= x.at(first));
        let others_before = !others.is_empty() && before > rounds;
        if others_before {
            out.push(Event {
                time: x.at(first),
                kind: EventKind::RsAppears,
                what: format!("{who} gets its first new connection"),
                service: Some(s.service),
                real_server: s.real_server,
                code: None,
                evidence: None,
                about: None,
            });
        }
        let after = conns_where(&others, |o, i| o.at(i) >= end);
        if !others.is_empty() && after > rounds {
            out.push(Event {
                time: x.at(last),
                kind: EventKind::RsVanishes,
                what: format!("{who} gets its last new connection; {after} more go to the others"),
                service: Some(s.service),
                real_server: s.real_server,
                code: None,
                evidence: None,
                about: None,
            });
        }
        let mut in_burst = false;
        for (i, (&c, &f)) in x.conns.iter().zip(&x.fails).enumerate() {
            let burst = f >= BURST_MIN && 2 * f >= c;
            if burst && !in_burst {
                out.push(Event {
                    time: x.at(i),
                    kind: EventKind::FailureBurst,
                    what: format!(
                        "{who}: {f} of {c} new connection(s) fail within {} s",
                        x.width_ns / 1_000_000_000
                    ),
                    service: Some(s.service),
                    real_server: s.real_server,
                    code: None,
                    evidence: None,
                    about: None,
                });
            }
            in_burst = burst;
        }
    }
    out
}

/// New connections of `series` in the buckets `keep` selects.
fn conns_where(series: &[&RsSeries], keep: impl Fn(&Series, usize) -> bool) -> u64 {
    series
        .iter()
        .flat_map(|o| {
            let keep = &keep;
            o.series
                .conns
                .iter()
                .enumerate()
                .filter(move |(i, _)| keep(&o.series, *i))
                .map(|(_, &c)| u64::from(c))
        })
        .sum()
}

/// The findings' moments as events.
pub fn finding_events(findings: &[Finding]) -> impl Iterator<Item = Event> + '_ {
    findings.iter().filter_map(|f| {
        let (t, what) = f.moment.as_ref()?;
        Some(Event {
            time: *t,
            kind: EventKind::Finding,
            what: format!("{}: {what}", f.code),
            service: f.service,
            real_server: f.real_server,
            code: Some(f.code),
            evidence: f.evidence.first().copied(),
            about: None,
        })
    })
}

/// Sorts by time and keeps the first [`MAX_EVENTS`].
pub fn finish(mut events: Vec<Event>) -> Vec<Event> {
    events.sort_by_key(|e| (e.time, e.kind));
    events.truncate(MAX_EVENTS);
    events
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: i64 = 1_000_000_000;

    #[test]
    fn buckets_widen_and_stay_bounded() {
        let mut x = Series::default();
        for t in 0..1000 {
            x.add(1_700_000_000 * S + t * S, t % 10 == 0);
        }
        assert!(x.conns.len() <= BUCKETS);
        assert_eq!(x.width_ns, 16 * S, "1 s doubled until 1000 s fit in 120");
        assert_eq!(x.conns.iter().map(|&c| u64::from(c)).sum::<u64>(), 1000);
        assert_eq!(x.fails.iter().map(|&c| u64::from(c)).sum::<u64>(), 100);
        // Hours later, still bounded.
        x.add(1_700_000_000 * S + 100_000 * S, true);
        assert!(x.conns.len() <= BUCKETS);
        // A long connection that began before everything counted so far.
        let before = x.start;
        x.add(1_700_000_000 * S - 50_000 * S, false);
        assert!(x.conns.len() <= BUCKETS);
        assert!(x.start <= 1_700_000_000 * S - 50_000 * S && x.start < before);
        assert_eq!(x.conns[0], 1, "counted where it began");
        assert_eq!(x.conns.iter().map(|&c| u64::from(c)).sum::<u64>(), 1002);
    }

    #[test]
    fn a_real_server_that_stops_getting_connections_vanishes_and_bursts_are_events() {
        let svc = ServiceKey::addr(
            crate::model::Proto::Tcp,
            "192.0.2.100".parse().unwrap(),
            Some(80),
        );
        let rs = |n: u8| Some(RsId::Ip(format!("192.0.2.1{n}").parse().unwrap()));
        let mk = |n: u8, until: i64, fail_from: i64| {
            let mut x = Series::default();
            for t in 0..20 {
                if t < until {
                    x.add(1_700_000_000 * S + t * S, t >= fail_from);
                }
            }
            RsSeries {
                service: svc,
                real_server: rs(n),
                series: x,
            }
        };
        let all = vec![mk(1, 20, 99), mk(2, 20, 99), mk(3, 8, 2)];
        let ev = series_events(&all, |s| s.real_server.unwrap().to_string());
        let kinds: Vec<(EventKind, String)> = ev.iter().map(|e| (e.kind, e.what.clone())).collect();
        assert!(
            kinds
                .iter()
                .any(|(k, w)| *k == EventKind::RsVanishes && w.starts_with("192.0.2.13")),
            "{kinds:?}"
        );
        assert_eq!(
            kinds
                .iter()
                .filter(|(k, _)| *k == EventKind::FailureBurst)
                .count(),
            0,
            "one failure per bucket is no burst"
        );
        assert!(!kinds
            .iter()
            .any(|(k, w)| *k == EventKind::RsVanishes && !w.starts_with("192.0.2.13")));
    }
}
