//! `dr-forward-rewrites-ip`: DR; the director's forwarded frame carries a
//! different IP header than the packet it received (DR must rewrite only the
//! destination MAC).
//!
//! Proves the fault (essential evidence):
//! - a DR flow with both copies of its opening packet captured: the one
//!   arriving at the director (`ingress`) and the one it re-sent to a real
//!   server's MAC (`forward`, `view.rs`);
//! - the two differ in IP ID, TOS or total length (the TTL may differ). UDP
//!   pairs are only made when ID and length match, so for UDP only a TOS
//!   change can show. The IP ID is compared only when both copies were
//!   seen as often: else the director dropped the first SYN and forwarded
//!   a retransmission, another packet with another ID.
//!
//! Makes it more certain (supporting, not required):
//! - more flows to the same real server with the same change (the count is
//!   reported; one flow's two copies are already the proof).

use super::{Check, Context, PerRs};
use crate::finding::{Finding, Severity};
use crate::flow::hosts::HostMap;
use crate::flow::view::FlowView;
use crate::model::Mode;

#[derive(Default, Clone)]
pub struct DrForwardRewritesIp {
    changed: PerRs,
}

impl Check for DrForwardRewritesIp {
    fn on_flow(&mut self, v: &FlowView<'_>, _hosts: &HostMap) {
        let (Some(Mode::Dr), Some(rs), Some(i), Some(f)) = (v.mode, v.rs, v.ingress, v.forward)
        else {
            return;
        };
        // Seen more often arriving than leaving, the first copies are
        // different packets: the director dropped the first SYN (a full
        // conntrack table, IPVS's connection reuse) and forwarded its
        // retransmission, which has its own IP ID.
        let same_packet = i.count == f.count;
        if (same_packet && i.id != f.id) || i.tos != f.tos || i.len != f.len {
            self.changed.add(v, rs, [i.at, f.at]);
        }
    }

    fn finish(&mut self, ctx: &Context<'_>, out: &mut Vec<Finding>) {
        for ((va, key), t) in self.changed.iter() {
            let rs = key;
            let rs_id = ctx.rs_id(*rs);
            let rs = ctx.rs_label(*rs);
            out.push(
                Finding::new(
                    "dr-forward-rewrites-ip",
                    Severity::Error,
                    format!("the director changed the IP header (ID, TOS or length) of {} SYN(s) it forwarded to {rs}", t.flows),
                )
                .service(ctx.service(*va))
                .maybe_real_server(rs_id)
                .cause("Something between receiving and forwarding rewrites packets: an iptables/nftables mangle rule (TOS, TCPMSS clamping) or NAT on the director, or the director is not forwarding in DR mode.")
                .evidence_set(&t.evidence).affected(t.flows)
                .fix("On the director: nft list ruleset; iptables-save -t mangle; ipvsadm -Ln (the real server should show Route).".to_string()),
            );
        }
    }
}
