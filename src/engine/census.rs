//! The census: every finished connection counted per service and real
//! server, once, as it is shown to the checks.

use super::*;

impl Stats {
    pub(super) fn add(&mut self, v: &FlowView<'_>) {
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
pub(super) struct SvcCensus {
    pub(super) stats: Stats,
    pub(super) modes: BTreeMap<Mode, (u64, Evidence)>,
    pub(super) first: Option<Evidence>,
    /// Flows whose handshake answer from the VIP was seen somewhere.
    pub(super) replies: u64,
    /// Capture points that saw any reply.
    pub(super) reply_points: crate::source::PointSet,
}

#[derive(Debug, Default, Clone)]
pub(super) struct RsCensus {
    pub(super) stats: Stats,
    /// Capture points that saw a reply of this real server's connections.
    pub(super) reply_points: crate::source::PointSet,
    pub(super) mac: Option<Mac>,
    pub(super) port: Option<u16>,
    pub(super) mode: Option<Mode>,
    /// New connections and failures over time.
    pub(super) series: crate::timeline::Series,
}

pub(super) const MAX_CENSUS: usize = 4096;

impl Engine {
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

    pub(super) fn count(&mut self, v: &FlowView<'_>) {
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
}
