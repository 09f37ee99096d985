//! What the analysis would say now (the TUI, `analyze --live`, `watch`):
//! the running engine's conclusions, kept flows and the VIPs' ARP claims.

use super::*;

/// The `cap` newest flows of `all` (by first packet), in no order.
pub(super) fn newest(mut all: Vec<&Flow>, cap: usize) -> Vec<&Flow> {
    if all.len() > cap {
        all.select_nth_unstable_by_key(cap, |f| std::cmp::Reverse(f.first_ts));
        all.truncate(cap);
    }
    all
}

impl Engine {
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
            flow_checks: self.flow_checks.clone(),
            shared: self.shared.clone(),
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
    pub(super) fn overview_with(self, points: Vec<PointInfo>, live: &[(&Flow, bool)]) -> Overview {
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
}
