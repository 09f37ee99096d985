//! The engine: one streaming pass. Packets are decoded, ARP goes to the host
//! map, TCP to the flow table; finished flows are interpreted, counted per
//! service and real server, and shown to every check. At the end of input the
//! model is completed by inference and the checks conclude.

use crate::checks::{self, Check, Context};
use crate::decode::{self, vrrp::P112, Mac, Net, L4};
use crate::finding::Evidence;
use crate::flow::hosts::HostMap;
use crate::flow::kept::{self, Kept};
use crate::flow::ladder::{self, FlowRow};
use crate::flow::table::{FlowTable, DEFAULT_MAX_FLOWS};
use crate::flow::view::{FlowView, RsKey};
use crate::flow::Flow;
use crate::model::{Cover, Mode, Model, Origin, Proto, RsId, Service, ServiceKey, Vaddr};
use crate::source::{PointInfo, RawPacket};
use crate::system::HostSnapshot;
use std::collections::BTreeMap;
use std::net::IpAddr;

mod census;
mod conclude;
mod overview;

use census::{RsCensus, SvcCensus};

#[derive(Debug, Clone)]
pub struct Options {
    /// `--mode`: the forwarding mode when the traffic does not show it.
    pub mode: Option<Mode>,
    pub max_flows: usize,
    /// Finished connections kept for the flow view (0: none, as in `analyze`).
    pub keep_flows: usize,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            mode: None,
            max_flows: DEFAULT_MAX_FLOWS,
            keep_flows: 0,
        }
    }
}

/// UDP ports of LAN chatter (DHCP, NetBIOS, SSDP, mDNS, LLMNR, LAN sync),
/// often to a subnet broadcast address: never inferred as a service.
const LAN_UDP: &[u16] = &[67, 68, 137, 138, 1900, 5353, 5355, 17500];

use crate::analysis::verdict;
pub use crate::analysis::{Analysis, ArpRow, Overview, RsReport, Stats, SvcReport, Verdict};

/// A census figure: the service address, the real server (its key and
/// port; `None`: the service's own totals), and the counts.
pub type CensusEntry = (Vaddr, Option<(RsKey, Option<u16>)>, Stats);

pub struct Engine {
    model: Model,
    opts: Options,
    flows: FlowTable,
    hosts: HostMap,
    checks: Vec<Box<dyn Check>>,
    /// The checks that see finished flows (indices into `checks`).
    flow_checks: Vec<usize>,
    /// What several checks tally from the flows, kept once.
    shared: checks::Shared,
    #[allow(clippy::vec_box)] // flows move from the table as boxes
    retired: Vec<Box<Flow>>,
    services: BTreeMap<Vaddr, SvcCensus>,
    servers: BTreeMap<(Vaddr, RsKey), RsCensus>,
    pub packets: u64,
    /// Finished flows kept for the flow view: the failed and anomalous ones,
    /// and the newest `opts.keep_flows` healthy ones.
    kept: Kept,
    first_ts: Option<i64>,
    last_ts: i64,
    snapshots: Vec<HostSnapshot>,
}

/// The checks of `checks` that see finished flows.
fn flow_checks(checks: &[Box<dyn Check>]) -> Vec<usize> {
    (0..checks.len())
        .filter(|&i| checks[i].wants_flows())
        .collect()
}

impl Engine {
    pub fn new(model: Model, opts: Options) -> Engine {
        let checks = checks::all();
        Engine {
            flow_checks: flow_checks(&checks),
            shared: checks::Shared::default(),
            flows: FlowTable::new(opts.max_flows),
            kept: Kept::new(opts.keep_flows),
            model,
            opts,
            hosts: HostMap::default(),
            checks,
            retired: Vec::new(),
            services: BTreeMap::new(),
            servers: BTreeMap::new(),
            packets: 0,
            first_ts: None,
            last_ts: i64::MIN,
            snapshots: Vec::new(),
        }
    }

    /// Host configuration snapshots for the checks that cross-check them.
    pub fn with_snapshots(mut self, snapshots: Vec<HostSnapshot>) -> Engine {
        self.snapshots = snapshots;
        self
    }

    /// An engine that only counts (the census): no check sees its flows.
    /// `lvsdiag watch` keeps one for the cumulative counters.
    pub fn without_checks(mut self) -> Engine {
        self.checks.clear();
        self.flow_checks.clear();
        self
    }

    /// Replaces the model (a reload, a new IPVS snapshot): flows from now on
    /// are read with it.
    pub fn set_model(&mut self, model: Model) {
        self.model = model;
    }

    pub fn set_snapshots(&mut self, snapshots: Vec<HostSnapshot>) {
        self.snapshots = snapshots;
    }

    pub fn model(&self) -> &Model {
        &self.model
    }

    /// Time passes without packets (live capture): flows idle long enough
    /// at `now` (ns) are concluded as if a packet had come then.
    pub fn tick(&mut self, now: i64) {
        if self.first_ts.is_none() || now <= self.last_ts {
            return;
        }
        self.last_ts = now;
        self.flows.expire(now, &mut self.retired);
        if !self.retired.is_empty() {
            self.process_retired(false);
        }
    }

    /// VRRP as seen so far.
    pub fn vrrp(&self) -> &crate::flow::vrrp::VrrpTable {
        &self.hosts.vrrp
    }

    /// Feeds one packet. A packet that cannot be decoded returns `false`.
    pub fn feed(&mut self, p: &RawPacket<'_>) -> bool {
        self.packets += 1;
        self.first_ts.get_or_insert(p.ts);
        self.last_ts = self.last_ts.max(p.ts);
        let at = Evidence {
            point: p.point,
            frame: p.frame,
            time: p.ts,
        };
        let here;
        let pkt = match p.decoded {
            Some(Ok(pkt)) => pkt,
            Some(Err(_)) => return false,
            None => match decode::decode(p.link, p.data) {
                Ok(pkt) => {
                    here = pkt;
                    &here
                }
                Err(_) => return false,
            },
        };
        // By reference: a packet is a few hundred bytes, not copied again.
        match &pkt.net {
            Net::Neigh(n) => self.hosts.neigh.observe(n, at),
            Net::Ip(ip) => match &ip.l4 {
                L4::Tcp(tcp) => {
                    self.flows
                        .observe_tcp(at, pkt.l2, ip, tcp, &mut self.retired);
                    if !self.retired.is_empty() {
                        self.process_retired(false);
                    }
                }
                &L4::Udp {
                    sport,
                    dport,
                    digest,
                } => {
                    self.flows.observe_udp(
                        at,
                        pkt.l2,
                        ip,
                        (sport, dport, digest),
                        &mut self.retired,
                    );
                    if !self.retired.is_empty() {
                        self.process_retired(false);
                    }
                }
                &L4::IcmpError {
                    kind,
                    quote: Some(q),
                } if q.proto == 112 => {
                    // About a VRRP advert: the quote's "ports" are its
                    // version/type and VRID bytes.
                    self.hosts
                        .vrrp
                        .blocked(at, ip.src, q.src, (q.sport & 0xff) as u8, kind);
                }
                &L4::IcmpError { kind, quote } => {
                    self.flows.observe_icmp(at, pkt.l2, ip, kind, quote);
                }
                L4::P112(x) => {
                    let v = &mut self.hosts.vrrp;
                    match x {
                        P112::Vrrp(a) => v.observe(at, ip.src, pkt.l2.map(|l| l.src), ip.dst, a),
                        P112::Carp(_) => v.carp += 1,
                        P112::Malformed => v.malformed += 1,
                    }
                }
                L4::Incomplete | L4::Other(_) => {}
            },
            Net::Other => {}
        }
        true
    }

    fn process_retired(&mut self, learn_first: bool) {
        let mut retired = std::mem::take(&mut self.retired);
        let end = self.last_ts;
        if learn_first {
            for f in &retired {
                FlowView::new(f, &self.model, &self.hosts, end).learn(&mut self.hosts);
            }
        }
        for f in retired.drain(..) {
            let back = match self.see(&f, end) {
                Some(notable) => self.kept.push(f, notable),
                None => Some(f),
            };
            if let Some(f) = back {
                self.flows.recycle(f);
            }
        }
        self.retired = retired;
    }

    /// Interprets one finished flow: learns from it, counts it, shows it to
    /// every check. `None` for a flow without an opening packet (nothing to
    /// show); else whether it is worth keeping whatever healthy traffic does.
    fn see(&mut self, f: &Flow, end: i64) -> Option<bool> {
        let v = FlowView::new(f, &self.model, &self.hosts, end);
        v.learn(&mut self.hosts);
        if f.opens.is_empty() {
            return None;
        }
        self.count(&v);
        if !self.checks.is_empty() {
            self.shared.observe(&v);
        }
        for &i in &self.flow_checks {
            self.checks[i].on_flow(&v, &self.hosts);
        }
        Some(self.kept.enabled() && kept::notable(&v))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A published overview reads the live flows in place: it says what the
    /// end of input would, and leaves the engine as it was.
    #[test]
    fn an_overview_of_live_flows_says_what_the_end_would_and_changes_nothing() {
        let path =
            std::env::temp_dir().join(format!("lvsdiag-engine-ov-{}.pcap", std::process::id()));
        crate::generate::dr(&path, 3000).unwrap();
        let opts = Options {
            keep_flows: 500,
            ..Options::default()
        };
        let mut e = Engine::new(Model::default(), opts);
        let n = crate::generate::feed(&mut e, &path).unwrap();
        std::fs::remove_file(&path).ok();
        assert!(e.flows.len() > 1000, "flows still live: {}", e.flows.len());
        let codes = |o: &Overview| {
            let mut v: Vec<String> = o
                .analysis
                .findings
                .iter()
                .map(|f| format!("{} {:?} {}", f.code, f.severity, f.summary))
                .collect();
            v.sort();
            v
        };
        let a = e.overview(vec![PointInfo::ethernet("dr", n)]);
        let b = e.overview(vec![PointInfo::ethernet("dr", n)]);
        let live = e.flows.len();
        let end = e.finish_overview(vec![PointInfo::ethernet("dr", n)]);
        assert!(!codes(&end).is_empty());
        assert_eq!(codes(&a), codes(&end));
        assert_eq!(codes(&b), codes(&end), "the first overview changed nothing");
        assert!(live > 1000);
        let key = |o: &Overview| {
            o.flows
                .iter()
                .map(|r| (r.first_ts, r.cport, r.state.as_str(), r.notable))
                .collect::<Vec<_>>()
        };
        assert!(key(&a) == key(&end), "the same flows are kept");
        let services = |o: &Overview| {
            o.analysis
                .services
                .iter()
                .map(|s| (s.stats.connections, s.stats.failed))
                .collect::<Vec<_>>()
        };
        assert_eq!(services(&a), services(&end));
    }
}
