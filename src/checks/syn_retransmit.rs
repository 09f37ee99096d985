//! `syn-retransmit`: clients retransmit their SYN to the VIP, attributed to
//! the real server the connection was scheduled to when that is visible.
//!
//! Proves the fault (essential evidence):
//! - a TCP flow whose SYN was seen again with the same addressing at the
//!   same capture point.
//!
//! Makes it more certain (supporting, not required):
//! - warning when 3 flows or more, or 5% or more of the real server's, need
//!   it (else info);
//! - the real server from the forwarded copy (else "not visible");
//! - a root cause on the same real server (or one about the whole service)
//!   explains it and lowers it to info (`explain`).

use super::{Check, Context, PerRs};
use crate::finding::{Finding, Severity};
use crate::flow::hosts::HostMap;
use crate::flow::view::{FlowView, RsKey};

#[derive(Default, Clone)]
pub struct SynRetransmit {
    retx: PerRs,
    total: PerRs,
    retransmissions: std::collections::BTreeMap<(crate::model::Vaddr, RsKey), u64>,
}

impl Check for SynRetransmit {
    fn on_flow(&mut self, v: &FlowView<'_>, _hosts: &HostMap) {
        if v.flow.proto != crate::model::Proto::Tcp {
            return; // a TCP handshake's symptom
        }
        // Not seen forwarded: the real server that answered from its own
        // address (a NAT reply that bypassed the director) is the one.
        let rs = v.rs.unwrap_or_else(|| {
            v.replies_not_from_vip()
                .find(|r| r.outer.is_none() && !r.rst)
                .map_or(RsKey::Unseen, |r| RsKey::Ip(r.src))
        });
        self.total.add(v, rs, []);
        let n = v.flow.syn_retransmits();
        if n > 0 {
            let c = v
                .flow
                .opens
                .iter()
                .max_by_key(|c| c.count)
                .expect("retransmitted");
            self.retx.add(v, rs, [c.at]);
            *self.retransmissions.entry((v.vaddr, rs)).or_default() += u64::from(n);
        }
    }

    fn finish(&mut self, ctx: &Context<'_>, out: &mut Vec<Finding>) {
        for (k @ (va, key), t) in self.retx.iter() {
            let rs = key;
            let total = self
                .total
                .iter()
                .find(|(kk, _)| *kk == k)
                .map_or(t.flows, |(_, t)| t.flows);
            let n = self.retransmissions.get(k).copied().unwrap_or(0);
            // A stray retransmission in a large sample is normal loss.
            let sev = if t.flows >= 3 || t.flows * 20 >= total {
                Severity::Warning
            } else {
                Severity::Info
            };
            let (who, real_server) = ctx.who(*va, *rs);
            out.push(
                Finding::new(
                "syn-retransmit",
                sev,
                format!("{} of {total} connection(s) to {who} needed SYN retransmissions ({n} in all)", t.flows),
            )
            .service(ctx.service(*va))
            .cause("The client's SYN (or the SYN-ACK) was lost or dropped: the real server does not accept packets for the VIP, drops them (rp_filter, firewall, full backlog), or the reply takes a path that loses it.")
            .evidence_set(&t.evidence).affected(t.flows)
            .fix("Look for a root-cause finding on the same real server; otherwise capture on the real server to see whether the SYNs arrive, and check nstat -az TcpExtListenDrops there.")
            .maybe_real_server(real_server)
            .symptom(),
            );
        }
    }
}
