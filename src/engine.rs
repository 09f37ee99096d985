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

impl Stats {
    fn add(&mut self, v: &FlowView<'_>) {
        self.connections += 1;
        self.established += u64::from(v.established);
        self.failed += u64::from(v.failed);
        self.syn_retransmits += u64::from(v.flow.syn_retransmits());
        let reset = v.flow.server_rst().is_some() || v.flow.client_rst().is_some();
        self.resets += u64::from(reset);
        self.unanswered += u64::from(!v.established && !reset);
        self.icmp_errors += u64::from(v.flow.request_error().is_some());
        if let Some(r) = ladder::rtt(v.flow) {
            self.rtt_total_ns = self.rtt_total_ns.saturating_add(r);
            self.rtt_count += 1;
            self.observe_handshake(r);
        }
    }
}

#[derive(Debug, Default, Clone)]
struct SvcCensus {
    stats: Stats,
    modes: BTreeMap<Mode, (u64, Evidence)>,
    first: Option<Evidence>,
    /// Flows whose handshake answer from the VIP was seen somewhere.
    replies: u64,
    /// Capture points that saw any reply.
    reply_points: crate::source::PointSet,
}

#[derive(Debug, Default, Clone)]
struct RsCensus {
    stats: Stats,
    /// Capture points that saw a reply of this real server's connections.
    reply_points: crate::source::PointSet,
    mac: Option<Mac>,
    port: Option<u16>,
    mode: Option<Mode>,
    /// New connections and failures over time.
    series: crate::timeline::Series,
}

const MAX_CENSUS: usize = 4096;

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

impl Engine {
    pub fn new(model: Model, opts: Options) -> Engine {
        Engine {
            flows: FlowTable::new(opts.max_flows),
            kept: Kept::new(opts.keep_flows),
            model,
            opts,
            hosts: HostMap::default(),
            checks: checks::all(),
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

    /// The census of finished connections so far, per service address and
    /// per real server of it (`None`: the service's own totals). Only
    /// finished connections count, so each figure only grows.
    pub fn census(&self) -> Vec<CensusEntry> {
        let mut out: Vec<_> = self
            .services
            .iter()
            .map(|(k, s)| (*k, None, s.stats))
            .collect();
        out.extend(
            self.servers
                .iter()
                .map(|((k, rs), r)| (*k, Some((*rs, r.port)), r.stats)),
        );
        out
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

    /// The ARP/NDP claims for these VIPs: each MAC that claimed one.
    pub fn vip_claims(&self, vips: impl Iterator<Item = IpAddr>) -> Vec<ArpRow> {
        let mut arp: Vec<ArpRow> = Vec::new();
        for vip in vips {
            if arp.iter().any(|a| a.ip == vip) {
                continue;
            }
            if let Some(c) = self.hosts.neigh.claims(vip) {
                for cl in &c.by_mac {
                    arp.push(ArpRow {
                        ip: vip,
                        mac: cl.mac,
                        first: cl.first,
                        last: cl.last,
                        count: cl.count,
                        gratuitous: cl.gratuitous,
                        replies: cl.replies,
                        current: c.current == Some(cl.mac),
                        director: self.hosts.is_director(cl.mac),
                        real_server: self.hosts.is_real_server(cl.mac),
                    });
                }
            }
        }
        arp
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
            if let Some(notable) = self.see(&f, end) {
                self.kept.push(f, notable);
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
        for c in &mut self.checks {
            c.on_flow(&v, &self.hosts);
        }
        Some(self.kept.enabled() && kept::notable(&v))
    }

    fn count(&mut self, v: &FlowView<'_>) {
        let k = v.vaddr;
        if self.services.len() < MAX_CENSUS || self.services.contains_key(&k) {
            let s = self.services.entry(k).or_default();
            s.stats.add(v);
            let first = v.flow.opens[0].at;
            if s.first.is_none_or(|e| first.time < e.time) {
                s.first = Some(first);
            }
            s.replies += u64::from(v.replies_from_vip().next().is_some());
            for r in &v.flow.replies {
                s.reply_points.insert(r.at.point);
            }
            if let (Some(m), Some(f)) = (v.mode, v.forward) {
                let e = s.modes.entry(m).or_insert((0, f.at));
                e.0 += 1;
                if f.at.time < e.1.time {
                    e.1 = f.at;
                }
            }
        }
        if let Some(rs) = v.rs {
            let k = (v.vaddr, rs);
            if self.servers.len() < MAX_CENSUS || self.servers.contains_key(&k) {
                let r = self.servers.entry(k).or_default();
                r.stats.add(v);
                for rep in &v.flow.replies {
                    r.reply_points.insert(rep.at.point);
                }
                r.mac = r.mac.or(v.rs_mac);
                r.port = r.port.or(v.rs_port);
                r.mode = r.mode.or(v.mode);
                r.series.add(v.flow.first_ts, v.failed);
            }
        }
    }

    /// What the analysis would say if the input ended now, with the kept
    /// flows and the ARP claims for the VIPs; the engine goes on. The live
    /// flows are read in place, never copied: the cost is the checks' and
    /// the census' state (bounded) and one look at each live flow (what the
    /// hosts' roles are is what the finished flows taught; the end of input
    /// also learns from the live ones first).
    pub fn overview(&self, points: Vec<PointInfo>) -> Overview {
        let mut s = Engine {
            model: self.model.clone(),
            opts: self.opts.clone(),
            flows: self.flows.empty_like(),
            hosts: self.hosts.clone(),
            checks: self.checks.clone(),
            retired: Vec::new(),
            services: self.services.clone(),
            servers: self.servers.clone(),
            packets: self.packets,
            kept: self.kept.clone(),
            first_ts: self.first_ts,
            last_ts: self.last_ts,
            snapshots: self.snapshots.clone(),
        };
        let end = s.last_ts;
        let mut live = Vec::new();
        for f in self.flows.iter() {
            if let Some(notable) = s.see(f, end) {
                if s.kept.enabled() {
                    live.push((f, notable));
                }
            }
        }
        s.overview_with(points, &live)
    }

    /// Ends the pass like [`Engine::finish`], also returning the kept flows
    /// and the ARP claims for the VIPs.
    pub fn finish_overview(self, points: Vec<PointInfo>) -> Overview {
        self.overview_with(points, &[])
    }

    /// The overview, with `live` flows (already seen by the checks) shown
    /// beside the kept ones.
    fn overview_with(self, points: Vec<PointInfo>, live: &[(&Flow, bool)]) -> Overview {
        let mut rows = Vec::new();
        let mut arp = Vec::new();
        let mut not_kept = 0;
        let analysis = self.finish_with(points, |e, ctx| {
            let model = ctx.model;
            let end = e.last_ts;
            // The newest of each kind, live or finished.
            let notable: Vec<&Flow> = e
                .kept
                .notable()
                .map(|f| &**f)
                .chain(live.iter().filter(|l| l.1).map(|l| l.0))
                .collect();
            not_kept =
                e.kept.notable_dropped + notable.len().saturating_sub(kept::MAX_NOTABLE) as u64;
            let healthy: Vec<&Flow> = e
                .kept
                .healthy()
                .map(|f| &**f)
                .chain(live.iter().filter(|l| !l.1).map(|l| l.0))
                .collect();
            let mut shown = newest(notable, kept::MAX_NOTABLE);
            shown.extend(newest(healthy, e.kept.healthy_cap()));
            shown.sort_by_key(|f| (f.first_ts, f.client, f.cport));
            for f in shown {
                let v = FlowView::new(f, model, &e.hosts, end);
                let expected = model.find(v.vaddr).and_then(|s| s.mode);
                let label = v.rs.and_then(|k| ctx.rs_id(k)).map(|id| id.to_string());
                rows.push(FlowRow::new(&v, expected, label));
            }
            arp = e.vip_claims(model.services.iter().filter_map(|s| s.key.vip()));
        });
        Overview {
            id: crate::analysis::next_overview_id(),
            analysis,
            flows: rows,
            flows_not_kept: not_kept,
            arp,
        }
    }

    /// Ends the pass: retires all flows, completes the model, runs the checks.
    pub fn finish(self, points: Vec<PointInfo>) -> Analysis {
        self.finish_with(points, |_, _| {})
    }

    fn finish_with(
        mut self,
        points: Vec<PointInfo>,
        mut also: impl FnMut(&Engine, &Context<'_>),
    ) -> Analysis {
        self.flows.drain(&mut self.retired);
        // Oldest first, as they would have ended: the newest are kept.
        self.retired
            .sort_unstable_by_key(|f| (f.first_ts, f.client, f.cport));
        self.process_retired(true);
        let mut notes = Vec::new();
        let model = self.complete_model(&points, &mut notes);

        let ctx = Context {
            model: &model,
            hosts: &self.hosts,
            points: &points,
            snapshots: &self.snapshots,
        };
        let mut findings = Vec::new();
        for c in &mut self.checks {
            c.finish(&ctx, &mut findings);
        }
        checks::confirm(&mut findings);
        let seen = |svc: ServiceKey, rs: Option<RsId>| {
            let mut seen = checks::losses::Seen::default();
            for (va, c) in &self.services {
                if ctx.service(*va) == svc {
                    seen.reply_points.union(&c.reply_points);
                    seen.connections += c.stats.connections;
                    seen.failed += c.stats.failed;
                }
            }
            // The real server's own reply path, when its replies were seen.
            let mut own = crate::source::PointSet::default();
            for ((va, key), c) in &self.servers {
                if ctx.service(*va) == svc && rs.is_some() && rs == ctx.rs_id(*key) {
                    own.union(&c.reply_points);
                }
            }
            if !own.is_empty() {
                seen.reply_points = own;
            }
            seen
        };
        checks::losses::weigh(&mut findings, &points, &seen);
        checks::explain(&mut findings);
        // By severity, then as the report lists them: by label.
        findings.sort_by_cached_key(|f| {
            (
                std::cmp::Reverse(f.severity),
                f.service_label(),
                f.rs_label(),
                f.code,
            )
        });

        let real_servers = self.real_servers(&model, &ctx);
        let lossy: Vec<String> = points
            .iter()
            .filter(|p| !p.losses.is_empty())
            .map(|p| p.name.clone())
            .collect();
        let services = model
            .services
            .iter()
            .map(|s| {
                let mut stats = Stats::default();
                for (_, c) in self.services.iter().filter(|(va, _)| s.matches(**va)) {
                    stats.merge(&c.stats);
                }
                let (verdict, verdict_why) = verdict(s.key, &stats, &findings, &lossy);
                SvcReport {
                    stats,
                    service: s.clone(),
                    verdict,
                    verdict_why,
                }
            })
            .collect();
        self.visibility_notes(&model, &points, &mut notes);
        let snapshots = self
            .snapshots
            .iter()
            .map(|s| {
                let pts = points
                    .iter()
                    .filter(|p| {
                        p.name == s.host
                            || p.name
                                .strip_prefix(s.host.as_str())
                                .is_some_and(|r| r.starts_with('-'))
                    })
                    .map(|p| p.name.clone())
                    .collect();
                (s.host.clone(), pts)
            })
            .collect();
        let (events, timeline) = self.timeline(&model, &ctx, &findings);
        also(&self, &ctx);
        Analysis {
            points,
            services,
            real_servers,
            findings,
            notes,
            packets: self.packets,
            flows: self.flows.stats,
            snapshots,
            vrrp: self.hosts.vrrp.clone(),
            keepalived: model.keepalived.clone(),
            events,
            timeline,
        }
    }

    /// The per-real-server series (a MAC-keyed one joined to its RIP's)
    /// and the events: failovers, VRRP master changes, real servers
    /// appearing and vanishing, failure bursts, the findings' moments.
    fn timeline(
        &self,
        model: &Model,
        ctx: &Context<'_>,
        findings: &[crate::finding::Finding],
    ) -> (Vec<crate::timeline::Event>, Vec<crate::timeline::RsSeries>) {
        use crate::timeline::{self, Event, EventKind, RsSeries};
        let mut series: Vec<RsSeries> = Vec::new();
        for ((va, key), c) in &self.servers {
            let Some(svc) = model.find(*va) else { continue };
            let id = ctx.rs_id(*key);
            match series
                .iter_mut()
                .find(|s| s.service == svc.key && s.real_server == id)
            {
                Some(s) => s.series.merge(&c.series),
                None => series.push(RsSeries {
                    service: svc.key,
                    real_server: id,
                    series: c.series.clone(),
                }),
            }
        }
        series.sort_by_cached_key(|s| (s.service.to_string(), s.real_server));
        let mut events = timeline::series_events(&series, |s| {
            s.real_server
                .map_or_else(|| "an unseen real server".into(), |r| r.to_string())
        });
        // The VIPs' owners changing (failovers; conflicts too).
        let mut vips = Vec::new();
        for s in &model.services {
            let Some(vip) = s.key.vip() else { continue };
            if vips.contains(&vip) {
                continue;
            }
            vips.push(vip);
            let Some(c) = self.hosts.neigh.claims(vip) else {
                continue;
            };
            for (i, cl) in c.by_mac.iter().enumerate().skip(1) {
                let prev = &c.by_mac[i - 1];
                events.push(Event {
                    time: cl.first.time,
                    kind: EventKind::VipOwner,
                    what: format!(
                        "VIP {vip} claimed by {} (before: {})",
                        ctx.describe_mac(cl.mac),
                        ctx.describe_mac(prev.mac)
                    ),
                    service: Some(s.key),
                    real_server: None,
                    code: None,
                    evidence: Some(cl.first),
                });
            }
        }
        // VRRP masters.
        for x in self.hosts.vrrp.vrids.values() {
            for p in x.periods.iter().skip(1) {
                let r = &x.routers[p.router];
                events.push(Event {
                    time: p.from.time,
                    kind: EventKind::VrrpMaster,
                    what: format!("VRRP {}: {} master (priority {})", x.key, r.ip, p.priority),
                    service: None,
                    real_server: None,
                    code: None,
                    evidence: Some(p.from),
                });
            }
        }
        events.extend(timeline::finding_events(findings));
        (timeline::finish(events), series)
    }

    /// Adds services seen in the traffic to the given model: those the
    /// director visibly forwards, and, when none is visible, the most used
    /// destinations (mode unknown).
    fn complete_model(&self, points: &[PointInfo], notes: &mut Vec<String>) -> Model {
        let mut model = self.model.clone();
        let pname = |e: &Evidence| {
            points
                .get(usize::from(e.point))
                .map_or("?".to_string(), |p| p.name.clone())
        };
        for s in &mut model.services {
            if s.mode.is_none() {
                let seen = self
                    .services
                    .iter()
                    .filter(|(va, _)| s.matches(**va))
                    .find_map(|(_, c)| c.modes.keys().next().copied());
                s.mode = seen.or(self.opts.mode);
            }
        }
        let mut unexplained = Vec::new();
        for (va, c) in &self.services {
            if model.find(*va).is_some() {
                continue;
            }
            // Forwarded to a firewall-mark service's real servers: its traffic.
            if let (Some(i), Some((_, (n, e)))) =
                (self.fwmark_owner(&model, *va), c.modes.iter().next())
            {
                model.services[i].cover(Cover {
                    proto: Some(va.proto),
                    vip: va.ip,
                    port: Some(va.port),
                    from: format!(
                        "inferred: {n} {} forwarded to its real servers, first at {} frame {}",
                        checks::words(va.proto).flows,
                        pname(e),
                        e.frame
                    ),
                });
                continue;
            }
            if let Some((mode, (n, e))) = c.modes.iter().max_by_key(|(_, (n, _))| *n) {
                let how = match mode {
                    Mode::Dr => "same IP packet re-sent to another MAC",
                    Mode::Nat => "destination rewritten to a real server",
                    Mode::Tun => "encapsulated (IP-in-IP, GUE or GRE) to a real server",
                };
                let mut s = Service::new(
                    va.key(),
                    Origin::Inferred(format!(
                        "{mode} forwarding seen in {n} {} ({how}), first at {} frame {}",
                        checks::words(va.proto).flows,
                        pname(e),
                        e.frame
                    )),
                );
                s.mode = Some(*mode);
                model.add(s);
            } else if !(self.is_backend(va.ip)
                || va.proto == Proto::Udp && LAN_UDP.contains(&va.port))
            {
                unexplained.push((*va, c));
            }
        }
        if model.services.is_empty() {
            unexplained.sort_by_key(|(_, c)| std::cmp::Reverse(c.stats.connections));
            for (va, c) in unexplained.into_iter().take(3) {
                let e = c.first.expect("flow has an opening packet");
                let w = checks::words(va.proto);
                let first = if va.proto == Proto::Tcp {
                    "SYN"
                } else {
                    "datagram"
                };
                let mut s = Service::new(
                    va.key(),
                    Origin::Inferred(format!(
                        "{} {} to it, first {first} at {} frame {}; no capture point shows a director forwarding them, so the mode is unknown",
                        c.stats.connections,
                        w.flows,
                        pname(&e),
                        e.frame
                    )),
                );
                s.mode = self.opts.mode;
                model.add(s);
            }
        } else {
            // Failed connections to a destination no director was seen
            // forwarding (a director that forwards nothing for it, or not
            // a service at all): said, not dropped silently.
            unexplained.sort_by_key(|(va, _)| *va);
            for (va, c) in unexplained
                .iter()
                .filter(|(_, c)| c.stats.failed > 0)
                .take(3)
            {
                notes.push(format!(
                    "{} of {} {} to {} failed and no capture point shows a director forwarding them: give --vip {} (or the director's snapshot) if it is a virtual service, to have them judged.",
                    c.stats.failed,
                    c.stats.connections,
                    checks::words(va.proto).flows,
                    va.key(),
                    va.key()
                ));
            }
        }
        if model.services.is_empty() && !points.is_empty() {
            notes.push("No connections through a VIP were found: no TCP handshakes or UDP exchanges in these captures. Give --vip ADDR:PORT or --ipvs FILE if the service is there.".into());
        }
        model
    }

    /// The firewall-mark service whose real servers got every connection to
    /// `va` that shows its real server.
    fn fwmark_owner(&self, model: &Model, va: Vaddr) -> Option<usize> {
        let rips: Vec<IpAddr> = self
            .servers
            .keys()
            .filter(|(v, _)| *v == va)
            .filter_map(|(_, k)| match k {
                RsKey::Ip(ip) => Some(*ip),
                RsKey::Mac(m) => self.hosts.ip_of(
                    *m,
                    |ip| model.is_vip(ip),
                    |ip| model.real_server(ip).is_some(),
                ),
                RsKey::Unseen => None,
            })
            .collect();
        if rips.is_empty() {
            return None;
        }
        model.services.iter().position(|s| {
            matches!(s.key, ServiceKey::Fwmark { .. })
                && rips
                    .iter()
                    .all(|ip| s.real_servers.iter().any(|r| r.addr == *ip))
        })
    }

    /// A destination that is a real server (health checks, NAT back-end leg).
    fn is_backend(&self, ip: IpAddr) -> bool {
        self.model.real_server(ip).is_some()
            || self.hosts.rips.contains_key(&ip)
            || self.hosts.macs.iter().any(|(m, r)| {
                r.received > 0
                    && self
                        .hosts
                        .neigh
                        .claims(ip)
                        .is_some_and(|c| c.by_mac.iter().any(|c| c.mac == *m))
            })
    }

    fn real_servers(&self, model: &Model, ctx: &Context<'_>) -> Vec<RsReport> {
        let mut out: Vec<RsReport> = Vec::new();
        for ((va, key), c) in &self.servers {
            let Some(svc) = model.find(*va) else {
                continue;
            };
            let ip = ctx.rs_id(*key).and_then(RsId::ip);
            let label = svc.key;
            // Merge a MAC-keyed entry into the IP-keyed one once the MAC's IP is known.
            if let Some(existing) = out
                .iter_mut()
                .find(|r| r.service == label && ip.is_some() && r.ip == ip)
            {
                existing.stats.merge(&c.stats);
                existing.mac = existing.mac.or(c.mac);
                continue;
            }
            let weight = ip
                .and_then(|ip| svc.real_servers.iter().find(|r| r.addr == ip))
                .map(|r| r.weight);
            out.push(RsReport {
                service: label,
                ip,
                mac: c.mac,
                port: c.port,
                mode: c.mode,
                weight,
                stats: c.stats,
            });
        }
        // Configured real servers that saw no traffic.
        for s in &model.services {
            for r in &s.real_servers {
                let label = s.key;
                if !out
                    .iter()
                    .any(|o| o.service == label && o.ip == Some(r.addr))
                {
                    out.push(RsReport {
                        service: label,
                        ip: Some(r.addr),
                        mac: None,
                        port: r.port,
                        mode: Some(r.mode),
                        weight: Some(r.weight),
                        stats: Stats::default(),
                    });
                }
            }
        }
        out.sort_by_cached_key(|r| (r.service.to_string(), r.ip, r.mac));
        out
    }

    fn visibility_notes(&self, model: &Model, points: &[PointInfo], notes: &mut Vec<String>) {
        if points.is_empty() {
            return; // a live configuration check: no captures to describe
        }
        for p in points
            .iter()
            .filter(|p| !p.link_type.has_dst_mac() && p.packets > 0)
        {
            notes.push(format!(
                "{} is a {} capture, which carries no destination MACs: at this point DR forwarding, traffic bypassing the director and the reply path cannot be seen. Capture on the interface itself (tcpdump -i eth0), not with -i any.",
                p.name,
                p.link_type.name()
            ));
        }
        let any_forward = self.services.values().any(|c| !c.modes.is_empty());
        if !model.services.is_empty() && !any_forward {
            notes.push("No capture point shows the director forwarding a connection, so which real server each connection went to is unknown. Add a capture on the director's interfaces.".into());
        }
        for s in &model.services {
            let (mut connections, mut replies) = (0, 0);
            for (_, c) in self.services.iter().filter(|(va, _)| s.matches(**va)) {
                connections += c.stats.connections;
                replies += c.replies;
            }
            if s.mode == Some(Mode::Dr) && connections > 0 && replies == 0 {
                notes.push(format!(
                    "No capture point shows {}'s replies (in DR they go from the real servers straight to the gateway): the return path is not checked, and a real server counts as failing only when its clients never complete the handshake. Capture on the gateway or the real servers to see it.",
                    s.label()
                ));
            }
        }
        for vip in model.services.iter().filter_map(|s| s.key.vip()) {
            if self.hosts.neigh.claims(vip).is_none() {
                notes.push(format!(
                    "No ARP for VIP {vip} was captured: who answers ARP for it cannot be checked. Capture while the gateway re-resolves it (ip neigh del {vip} dev <iface> on the gateway).",
                ));
                break;
            }
        }
        if self.flows.stats.evicted > 0 {
            notes.push(format!(
                "The flow table was full: {} connection(s) were concluded early (evicted); raise --max-flows for exact counts.",
                self.flows.stats.evicted
            ));
        }
        if self.hosts.neigh.dropped > 0 {
            notes.push(format!(
                "{} ARP claim(s) were not tracked (neighbour table full).",
                self.hosts.neigh.dropped
            ));
        }
        for p in points.iter().filter(|p| !p.losses.is_empty()) {
            let (n, mut causes) = crate::source::sum_losses(&p.losses);
            causes.sort();
            notes.push(format!(
                "{} lost {} ({}): what is not seen there is no proof that it did not happen; each finding that rests on an absence says whether these drops could explain it.",
                p.name,
                n.map_or("packets (its capture ended early)".to_string(), |n| format!("{n} packet(s)")),
                causes.join(", ")
            ));
        }
        for p in points {
            if let Some(e) = &p.error {
                notes.push(e.clone());
            }
            if p.undecodable > 0 {
                notes.push(format!("{}: {} frame(s) could not be decoded (truncated or malformed) and were skipped.", p.name, p.undecodable));
            }
        }
    }
}

/// The `cap` newest flows of `all` (by first packet), in no order.
fn newest(mut all: Vec<&Flow>, cap: usize) -> Vec<&Flow> {
    if all.len() > cap {
        all.select_nth_unstable_by_key(cap, |f| std::cmp::Reverse(f.first_ts));
        all.truncate(cap);
    }
    all
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
