//! The analysis as Prometheus metrics: what `lvsdiag watch` serves on
//! `/metrics` and what `analyze --metrics-file` writes for node_exporter's
//! textfile collector.
//!
//! The figures are gathered into an [`Exposition`] (plain data, bounded)
//! and encoded on demand by the `prometheus-client` crate, as a collector of
//! constant metrics: the exporter pattern, where the values mirror state
//! kept elsewhere (here the engine's census) rather than being counted in
//! place. Counters come only from finished connections, so they only grow.
//!
//! Labels that mean what node_exporter's IPVS collector means carry its
//! names (`proto`, `local_address`, `local_port`, `local_mark`,
//! `remote_address`, `remote_port`), so the two join in PromQL. Their values
//! come only from the model (services from IPVS, the configuration, or
//! inferred and capped), never straight from a packet.

use crate::analysis::{Analysis, ArpRow, Stats, HANDSHAKE_BUCKETS};
use crate::decode::Mac;
use crate::finding::Severity;
use crate::flow::vrrp::VrrpTable;
use crate::model::{Proto, ServiceKey};
use crate::source::{LossCause, PointInfo};
use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, NoLabelSet};
use prometheus_client::metrics::MetricType;
use prometheus_client::registry::{Registry, Unit};
use std::collections::BTreeMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};

/// Inferred services given labels of their own; the rest are summed into
/// one `local_address="other"` series. Configured services always have theirs.
pub const MAX_INFERRED_SERVICES: usize = 16;
/// Real servers per service given labels of their own (the rest: `other`).
pub const MAX_RS_PER_SERVICE: usize = 64;
/// Finding, VRRP and VIP-owner series each.
pub const MAX_SERIES: usize = 256;

/// `text/plain; version=0.0.4`, Prometheus' own text format.
pub const TEXT_CONTENT_TYPE: &str = prometheus_client::encoding::prometheus_text::CONTENT_TYPE;
/// OpenMetrics 1.0, for scrapers that ask for it.
pub const OPENMETRICS_CONTENT_TYPE: &str =
    "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// A service and real server in node_exporter's IPVS label names. Empty
/// values are absent labels (a finding about no real server, a host).
#[derive(Debug, Clone, Default, PartialEq, Eq, PartialOrd, Ord)]
pub struct Target {
    pub proto: String,
    pub local_address: String,
    pub local_port: String,
    pub local_mark: String,
    pub remote_address: String,
    pub remote_port: String,
}

impl Target {
    pub fn service(key: &ServiceKey) -> Target {
        match *key {
            ServiceKey::Addr { proto, vip, port } => Target {
                proto: proto_label(proto),
                local_address: vip.to_string(),
                local_port: port.unwrap_or(0).to_string(),
                ..Target::default()
            },
            // As /proc/net/ip_vs (and so node_exporter) shows a mark.
            ServiceKey::Fwmark { mark, .. } => Target {
                proto: "FWM".into(),
                local_port: "0".into(),
                local_mark: format!("{mark:08X}"),
                ..Target::default()
            },
        }
    }

    fn with_rs(mut self, addr: String, port: Option<u16>) -> Target {
        self.remote_address = addr;
        self.remote_port = port.map(|p| p.to_string()).unwrap_or_default();
        self
    }

    fn labels(&self) -> Vec<(&'static str, &str)> {
        [
            ("proto", self.proto.as_str()),
            ("local_address", &self.local_address),
            ("local_port", &self.local_port),
            ("local_mark", &self.local_mark),
            ("remote_address", &self.remote_address),
            ("remote_port", &self.remote_port),
        ]
        .into_iter()
        .filter(|(_, v)| !v.is_empty())
        .collect()
    }
}

fn proto_label(p: Proto) -> String {
    match p {
        Proto::Tcp => "TCP".into(),
        Proto::Udp => "UDP".into(),
        Proto::Sctp => "SCTP".into(),
        Proto::Other(n) => n.to_string(),
    }
}

/// A finding that holds now.
#[derive(Debug, Clone, PartialEq)]
pub struct FindingSeries {
    pub code: &'static str,
    pub severity: Severity,
    pub target: Target,
    /// When it was first seen (seconds since the epoch), while it holds.
    pub first_seen: Option<f64>,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct PointSeries {
    pub name: String,
    pub packets: u64,
    /// (cause, packets): kernel, interface, lvsdiag, file.
    pub drops: Vec<(&'static str, u64)>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct VrrpSeries {
    pub vrid: u8,
    pub router: IpAddr,
    pub master: bool,
}

/// Everything the metrics say, gathered at one moment.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Exposition {
    /// Finished connections per service and real server (cumulative).
    pub connections: Vec<(Target, Stats)>,
    pub findings: Vec<FindingSeries>,
    pub points: Vec<PointSeries>,
    pub vrrp: Vec<VrrpSeries>,
    /// Master changes per VRID since the start (cumulative).
    pub vrrp_changes: Vec<(u8, u64)>,
    /// Each VIP's claimants and whether the latest claim is theirs.
    pub vip_owners: Vec<(IpAddr, Mac, bool)>,
    pub snapshot_age: Option<f64>,
    /// Length of the window the findings are judged over (watch).
    pub window_seconds: Option<f64>,
    /// Series left out (or summed into `other`) by the caps.
    pub capped: u64,
}

/// One row of the census: a service, a real server of it (address or
/// MAC, and port) or `None` for the service's own totals, and its counts.
pub type CensusRow = (ServiceKey, Option<(String, Option<u16>)>, Stats);

impl Exposition {
    /// The connection counters from census rows. A service's connections
    /// that no real server took (none seen) are its own series with no
    /// `remote_address`. Services in `configured` always get labels; others
    /// (inferred) up to [`MAX_INFERRED_SERVICES`], busiest first.
    pub fn set_connections(
        &mut self,
        rows: Vec<CensusRow>,
        configured: &dyn Fn(&ServiceKey) -> bool,
    ) {
        type Servers = Vec<(String, Option<u16>, Stats)>;
        let mut svc: BTreeMap<ServiceKey, (Stats, Servers)> = BTreeMap::new();
        for (k, rs, st) in rows {
            let e = svc.entry(k).or_default();
            match rs {
                None => e.0.merge(&st),
                Some((a, p)) => match e.1.iter_mut().find(|x| x.0 == a && x.1 == p) {
                    Some(x) => x.2.merge(&st),
                    None => e.1.push((a, p, st)),
                },
            }
        }
        let mut inferred: Vec<(&ServiceKey, u64)> = svc
            .iter()
            .filter(|(k, _)| !configured(k))
            .map(|(k, v)| (k, v.0.connections))
            .collect();
        inferred.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
        let labelled: Vec<ServiceKey> = inferred
            .iter()
            .take(MAX_INFERRED_SERVICES)
            .map(|x| *x.0)
            .collect();
        let mut out: BTreeMap<Target, Stats> = BTreeMap::new();
        let mut capped = 0;
        for (k, (total, mut servers)) in svc {
            let own = configured(&k) || labelled.contains(&k);
            let base = if own {
                Target::service(&k)
            } else {
                capped += 1;
                Target {
                    local_address: "other".into(),
                    ..Target::default()
                }
            };
            // Busiest first: those beyond the cap are summed into `other`.
            servers.sort_by(|a, b| b.2.connections.cmp(&a.2.connections).then(a.0.cmp(&b.0)));
            let mut attributed = Stats::default();
            for (i, (addr, port, st)) in servers.into_iter().enumerate() {
                attributed.merge(&st);
                let t = if own && i < MAX_RS_PER_SERVICE {
                    base.clone().with_rs(addr, port)
                } else {
                    capped += u64::from(own);
                    base.clone().with_rs("other".into(), None)
                };
                out.entry(t).or_default().merge(&st);
            }
            let rest = minus(&total, &attributed);
            if rest.connections > 0 {
                out.entry(base).or_default().merge(&rest);
            }
        }
        self.connections = out.into_iter().collect();
        self.capped += capped;
    }

    /// Findings of an analysis, labelled by service and real server.
    pub fn set_findings(&mut self, a: &Analysis, first_seen: &dyn Fn(&FindingSeries) -> f64) {
        let mut out: Vec<FindingSeries> = Vec::new();
        for f in &a.findings {
            let mut target = f.service.as_ref().map(Target::service).unwrap_or_default();
            if let Some(rs) = f.real_server {
                let port = a
                    .real_servers
                    .iter()
                    .find(|r| Some(r.service) == f.service && r.id() == Some(rs))
                    .and_then(|r| r.port);
                target = target.with_rs(rs.to_string(), port);
            }
            let s = FindingSeries {
                code: f.code,
                severity: f.severity,
                target,
                first_seen: None,
            };
            // One series per label set: the worst severity.
            let same = out
                .iter()
                .position(|o| o.code == s.code && o.target == s.target);
            match same {
                Some(i) => out[i].severity = out[i].severity.max(s.severity),
                None if out.len() < MAX_SERIES => out.push(s),
                None => self.capped += 1,
            }
        }
        for s in &mut out {
            s.first_seen = Some(first_seen(s));
        }
        self.findings = out;
    }

    /// Packets and drops per capture point (cumulative).
    pub fn set_points(&mut self, points: &[PointInfo]) {
        self.points = points
            .iter()
            .map(|p| {
                let mut drops = Vec::new();
                if let Some(l) = &p.live {
                    drops.push(("kernel", l.kernel_drops));
                    drops.push(("interface", l.interface_drops));
                    drops.push(("lvsdiag", l.lvsdiag_drops));
                } else {
                    let file: u64 = p
                        .losses
                        .iter()
                        .filter(|l| !matches!(l.cause, LossCause::Lvsdiag))
                        .filter_map(|l| l.packets)
                        .sum();
                    drops.push(("file", file));
                }
                PointSeries {
                    name: p.name.clone(),
                    packets: p.packets,
                    drops,
                }
            })
            .collect();
    }

    /// The VRRP masters (1) and the other advertisers (0) of each virtual
    /// router, and how often the master changed.
    pub fn set_vrrp(&mut self, t: &VrrpTable, keepalived: &[crate::model::keepalived::Config]) {
        let configured = |vrid: u8| {
            keepalived
                .iter()
                .flat_map(|c| &c.vrrp)
                .any(|i| i.vrid == Some(vrid))
        };
        // Configured VRIDs first, then the others, within the cap.
        let mut keys: Vec<_> = t.vrids.keys().copied().collect();
        keys.sort_by_key(|k| (!configured(k.vrid), *k));
        self.vrrp.clear();
        self.vrrp_changes.clear();
        for k in keys {
            let v = &t.vrids[&k];
            let master = v.master().map(|r| r.ip);
            for r in &v.routers {
                if self.vrrp.len() >= MAX_SERIES {
                    self.capped += 1;
                    continue;
                }
                self.vrrp.push(VrrpSeries {
                    vrid: k.vrid,
                    router: r.ip,
                    master: master == Some(r.ip),
                });
            }
            let periods = v.periods.len() as u64 + v.periods_dropped;
            if self.vrrp_changes.len() < MAX_SERIES {
                self.vrrp_changes.push((k.vrid, periods.saturating_sub(1)));
            }
        }
    }

    pub fn set_vip_owners(&mut self, arp: &[ArpRow]) {
        self.vip_owners = arp
            .iter()
            .take(MAX_SERIES)
            .map(|r| (r.ip, r.mac, r.current))
            .collect();
        self.capped += arp.len().saturating_sub(MAX_SERIES) as u64;
    }

    /// The exposition of one finished analysis (`analyze --metrics-file`).
    pub fn of_analysis(a: &Analysis, arp: &[ArpRow]) -> Exposition {
        let mut e = Exposition::default();
        let mut rows: Vec<CensusRow> = a
            .services
            .iter()
            .map(|s| (s.service.key, None, s.stats))
            .collect();
        rows.extend(a.real_servers.iter().map(|r| {
            let addr = r.id().map(|i| i.to_string()).unwrap_or_default();
            (r.service, Some((addr, r.port)), r.stats)
        }));
        // The report's services are the model completed: every one is known.
        e.set_connections(rows, &|_| true);
        let first = |s: &FindingSeries| {
            a.findings
                .iter()
                .filter(|f| f.code == s.code)
                .filter_map(|f| {
                    f.span
                        .map(|x| x.0)
                        .or(f.evidence.iter().map(|e| e.time).min())
                })
                .min()
                .map_or(0.0, |t| t as f64 / 1e9)
        };
        e.set_findings(a, &first);
        e.set_points(&a.points);
        e.set_vrrp(&a.vrrp, &a.keepalived);
        e.set_vip_owners(arp);
        e
    }
}

/// `a - b`, field by field (never below zero).
fn minus(a: &Stats, b: &Stats) -> Stats {
    let mut h = a.handshake;
    for (x, y) in h.iter_mut().zip(b.handshake) {
        *x = x.saturating_sub(y);
    }
    Stats {
        connections: a.connections.saturating_sub(b.connections),
        established: a.established.saturating_sub(b.established),
        failed: a.failed.saturating_sub(b.failed),
        syn_retransmits: a.syn_retransmits.saturating_sub(b.syn_retransmits),
        resets: a.resets.saturating_sub(b.resets),
        icmp_errors: a.icmp_errors.saturating_sub(b.icmp_errors),
        rtt_total_ns: a.rtt_total_ns.saturating_sub(b.rtt_total_ns).max(0),
        rtt_count: a.rtt_count.saturating_sub(b.rtt_count),
        unanswered: a.unanswered.saturating_sub(b.unanswered),
        handshake: h,
    }
}

/// The latest exposition, shared between whoever computes it and the
/// encoder (a scrape reads it under the lock; nothing waits long).
#[derive(Debug, Clone, Default)]
pub struct Shared(pub Arc<Mutex<Exposition>>);

impl Shared {
    pub fn set(&self, e: Exposition) {
        if let Ok(mut g) = self.0.lock() {
            *g = e;
        }
    }
}

/// A registry with the lvsdiag collector and `lvsdiag_build_info`.
pub fn registry(shared: Shared) -> Registry {
    let mut r = Registry::default();
    r.register(
        "lvsdiag_build",
        "lvsdiag's version",
        prometheus_client::metrics::info::Info::new(vec![(
            "version".to_string(),
            env!("CARGO_PKG_VERSION").to_string(),
        )]),
    );
    r.register_collector(Box::new(shared));
    r
}

/// The registry's exposition: Prometheus text 0.0.4, or OpenMetrics 1.0.
pub fn encode(r: &Registry, openmetrics: bool) -> String {
    let mut s = String::new();
    let ok = if openmetrics {
        prometheus_client::encoding::text::encode(&mut s, r)
    } else {
        prometheus_client::encoding::prometheus_text::encode(&mut s, r)
    };
    debug_assert!(ok.is_ok());
    s
}

/// Whether an HTTP Accept header asks for OpenMetrics.
pub fn wants_openmetrics(accept: &str) -> bool {
    accept
        .split(',')
        .any(|p| p.trim().starts_with("application/openmetrics-text"))
}

/// Writes `text` to `path` atomically (a temporary file beside it, then a
/// rename), as node_exporter's textfile collector needs.
pub fn write_atomic(path: &std::path::Path, text: &str) -> Result<(), String> {
    use std::io::Write;
    let shown = crate::text::sanitize(&path.display().to_string());
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(std::path::Path::new("."));
    let name = path
        .file_name()
        .ok_or_else(|| format!("{shown}: not a file name; give --metrics-file DIR/NAME.prom"))?;
    let tmp = dir.join(format!(
        ".{}.{}.tmp",
        name.to_string_lossy(),
        std::process::id()
    ));
    let res = std::fs::File::create(&tmp)
        .and_then(|mut f| {
            f.write_all(text.as_bytes())?;
            f.sync_all()
        })
        .and_then(|_| std::fs::rename(&tmp, path));
    res.map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        format!("{shown}: cannot write the metrics: {e}")
    })
}

fn severity_rank(s: Severity) -> u8 {
    match s {
        Severity::Info => 0,
        Severity::Warning => 1,
        Severity::Error => 2,
    }
}

impl Collector for Shared {
    fn encode(&self, mut enc: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let Ok(e) = self.0.lock() else {
            return Ok(());
        };
        let e = &*e;
        // Connections by outcome.
        {
            let mut m = enc.encode_descriptor(
                "lvsdiag_connections",
                "Connections through the load balancer that ended, by service, real server and outcome (established: completed; failed: never answered, or refused by ICMP; reset: ended by a reset, before or after the handshake)",
                None,
                MetricType::Counter,
            )?;
            for (t, st) in &e.connections {
                let (ok, failed, reset) = st.outcomes();
                for (outcome, v) in [("established", ok), ("failed", failed), ("reset", reset)] {
                    let mut l = t.labels();
                    l.push(("outcome", outcome));
                    m.encode_family(&l)?
                        .encode_counter::<NoLabelSet, u64, u64>(&v, None)?;
                }
            }
        }
        {
            let mut m = enc.encode_descriptor(
                "lvsdiag_syn_retransmits",
                "SYN retransmissions (and repeated first datagrams) of those connections",
                None,
                MetricType::Counter,
            )?;
            for (t, st) in &e.connections {
                m.encode_family(&t.labels())?
                    .encode_counter::<NoLabelSet, u64, u64>(&st.syn_retransmits, None)?;
            }
        }
        {
            let mut m = enc.encode_descriptor(
                "lvsdiag_handshake",
                "Time from a connection's first SYN (or datagram) to its answer, at the point that saw it longest",
                Some(&Unit::Seconds),
                MetricType::Histogram,
            )?;
            for (t, st) in &e.connections {
                let buckets: Vec<(f64, u64)> = HANDSHAKE_BUCKETS
                    .iter()
                    .copied()
                    .zip(st.handshake)
                    .collect();
                m.encode_family(&t.labels())?
                    .encode_histogram::<NoLabelSet>(
                        st.rtt_total_ns as f64 / 1e9,
                        st.rtt_count,
                        &buckets,
                        None,
                    )?;
            }
        }
        {
            let mut m = enc.encode_descriptor(
                "lvsdiag_finding",
                "1 while a finding holds in the current window, by code, severity, service and real server",
                None,
                MetricType::Gauge,
            )?;
            for f in &e.findings {
                let mut l = f.target.labels();
                l.push(("code", f.code));
                l.push(("severity", f.severity.as_str()));
                m.encode_family(&l)?.encode_gauge(&1i64)?;
            }
        }
        {
            let mut m = enc.encode_descriptor(
                "lvsdiag_finding_severity",
                "The worst severity among the findings that hold (0 info, 1 warning, 2 error; absent: none)",
                None,
                MetricType::Gauge,
            )?;
            if let Some(w) = e.findings.iter().map(|f| f.severity).max() {
                m.encode_gauge(&i64::from(severity_rank(w)))?;
            }
        }
        {
            let mut m = enc.encode_descriptor(
                "lvsdiag_finding_first_seen_timestamp_seconds",
                "When each finding that holds was first seen",
                None,
                MetricType::Gauge,
            )?;
            for f in &e.findings {
                if let Some(t) = f.first_seen {
                    let mut l = f.target.labels();
                    l.push(("code", f.code));
                    l.push(("severity", f.severity.as_str()));
                    m.encode_family(&l)?.encode_gauge(&t)?;
                }
            }
        }
        {
            let mut m = enc.encode_descriptor(
                "lvsdiag_capture_packets",
                "Packets read at each capture point",
                None,
                MetricType::Counter,
            )?;
            for p in &e.points {
                m.encode_family(&[("point", p.name.as_str())])?
                    .encode_counter::<NoLabelSet, u64, u64>(&p.packets, None)?;
            }
        }
        {
            let mut m = enc.encode_descriptor(
                "lvsdiag_capture_drops",
                "Packets a capture point lost, by cause (kernel: capture buffer full; interface: the NIC or driver; lvsdiag: could not keep up; file: as the capture file records)",
                None,
                MetricType::Counter,
            )?;
            for p in &e.points {
                for (cause, n) in &p.drops {
                    m.encode_family(&[("point", p.name.as_str()), ("cause", cause)])?
                        .encode_counter::<NoLabelSet, u64, u64>(n, None)?;
                }
            }
        }
        {
            let mut m = enc.encode_descriptor(
                "lvsdiag_vrrp_master",
                "1 for each virtual router's current master (the last to advertise as one), 0 for its other advertisers",
                None,
                MetricType::Gauge,
            )?;
            for v in &e.vrrp {
                let (vrid, router) = (v.vrid.to_string(), v.router.to_string());
                m.encode_family(&[("vrid", vrid.as_str()), ("router", router.as_str())])?
                    .encode_gauge(&i64::from(v.master))?;
            }
        }
        {
            let mut m = enc.encode_descriptor(
                "lvsdiag_vrrp_master_changes",
                "Times each virtual router's master changed",
                None,
                MetricType::Counter,
            )?;
            for (vrid, n) in &e.vrrp_changes {
                let vrid = vrid.to_string();
                m.encode_family(&[("vrid", vrid.as_str())])?
                    .encode_counter::<NoLabelSet, u64, u64>(n, None)?;
            }
        }
        {
            let mut m = enc.encode_descriptor(
                "lvsdiag_vip_owner",
                "For each VIP and MAC that claimed it in ARP/NDP: 1 when the latest claim is that MAC's",
                None,
                MetricType::Gauge,
            )?;
            for (vip, mac, cur) in &e.vip_owners {
                let (vip, mac) = (vip.to_string(), crate::decode::fmt_mac(mac));
                m.encode_family(&[("vip", vip.as_str()), ("mac", mac.as_str())])?
                    .encode_gauge(&i64::from(*cur))?;
            }
        }
        if let Some(age) = e.snapshot_age {
            let mut m = enc.encode_descriptor(
                "lvsdiag_snapshot_age",
                "Age of the live configuration snapshot (IPVS, links, sysctls) the checks use",
                Some(&Unit::Seconds),
                MetricType::Gauge,
            )?;
            m.encode_gauge(&age)?;
        }
        if let Some(w) = e.window_seconds {
            let mut m = enc.encode_descriptor(
                "lvsdiag_window",
                "Length of the traffic window the findings are judged over",
                Some(&Unit::Seconds),
                MetricType::Gauge,
            )?;
            m.encode_gauge(&w)?;
        }
        {
            let mut m = enc.encode_descriptor(
                "lvsdiag_series_capped",
                "Label sets left out or summed into \"other\" by the cardinality caps",
                None,
                MetricType::Gauge,
            )?;
            m.encode_gauge(&(e.capped as i64))?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(port: u16) -> ServiceKey {
        ServiceKey::addr(Proto::Tcp, "192.0.2.10".parse().unwrap(), Some(port))
    }

    fn stats(conns: u64, failed: u64, resets: u64) -> Stats {
        Stats {
            connections: conns,
            failed: failed + resets,
            unanswered: failed,
            resets,
            ..Stats::default()
        }
    }

    #[test]
    fn counters_split_by_outcome_and_leave_the_unattributed_to_the_service() {
        let mut e = Exposition::default();
        e.set_connections(
            vec![
                (key(80), None, stats(10, 3, 1)),
                (
                    key(80),
                    Some(("198.51.100.11".into(), Some(8080))),
                    stats(6, 3, 0),
                ),
            ],
            &|_| true,
        );
        let text = encode(&registry(Shared(Arc::new(Mutex::new(e)))), false);
        let want = [
            r#"lvsdiag_connections_total{proto="TCP",local_address="192.0.2.10",local_port="80",remote_address="198.51.100.11",remote_port="8080",outcome="failed"} 3"#,
            r#"lvsdiag_connections_total{proto="TCP",local_address="192.0.2.10",local_port="80",remote_address="198.51.100.11",remote_port="8080",outcome="established"} 3"#,
            // The 4 connections no real server was seen to take.
            r#"lvsdiag_connections_total{proto="TCP",local_address="192.0.2.10",local_port="80",outcome="reset"} 1"#,
            r#"lvsdiag_connections_total{proto="TCP",local_address="192.0.2.10",local_port="80",outcome="established"} 3"#,
            "# TYPE lvsdiag_handshake_seconds histogram",
            r#"lvsdiag_build_info{version=""#,
        ];
        for w in want {
            assert!(text.contains(w), "missing {w} in\n{text}");
        }
        let om = encode(&registry(Shared::default()), true);
        assert!(om.ends_with("# EOF\n"), "{om}");
    }

    #[test]
    fn inferred_services_beyond_the_cap_are_summed_into_other() {
        let mut e = Exposition::default();
        let rows: Vec<CensusRow> = (0..100u16)
            .map(|p| (key(1000 + p), None, stats(u64::from(p) + 1, 0, 0)))
            .collect();
        e.set_connections(rows, &|k| *k == key(1000));
        // 16 inferred, the configured one, and `other`.
        assert_eq!(e.connections.len(), MAX_INFERRED_SERVICES + 2);
        let other = e
            .connections
            .iter()
            .find(|(t, _)| t.local_address == "other")
            .unwrap();
        // Ports 1001..=1083 (the busiest 16 are 1084..=1099): 2+..+84.
        assert_eq!(other.1.connections, (2..=84).sum::<u64>());
        assert!(e.capped > 0);
    }

    #[test]
    fn fwmark_services_are_labelled_as_node_exporter_labels_them() {
        let t = Target::service(&ServiceKey::Fwmark {
            mark: 10,
            v6: false,
        });
        assert_eq!(t.proto, "FWM");
        assert_eq!(t.local_mark, "0000000A");
        assert_eq!(t.local_port, "0");
        assert!(t.local_address.is_empty());
    }

    #[test]
    fn openmetrics_is_served_only_when_asked_for() {
        assert!(wants_openmetrics(
            "application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1"
        ));
        assert!(!wants_openmetrics("text/plain;version=0.0.4"));
        assert!(!wants_openmetrics("*/*"));
    }
}
