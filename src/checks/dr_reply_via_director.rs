//! `dr-reply-via-director`: DR; a real server's replies from the VIP are
//! addressed to the director's MAC: its default route points at the director
//! instead of the gateway, so the return path crosses the director.
//!
//! Proves the fault (essential evidence):
//! - a flow forwarded in DR (forwarded copy seen, real server and director's
//!   MAC known);
//! - a handshake answer from the VIP (SYN-ACK, UDP answer) addressed to that
//!   director MAC and not sent by it (captured on the director's segment or
//!   at the real server).
//!
//! Makes it more certain (supporting, not required):
//! - failed flows among them (error instead of warning);
//! - `dr-rs-gateway-director` from the real server's snapshot (joined by
//!   `confirm`).

use super::{Check, Context, PerRs};
use crate::finding::{Finding, Severity};
use crate::flow::hosts::HostMap;
use crate::flow::view::FlowView;
use crate::model::Mode;

#[derive(Default, Clone)]
pub struct DrReplyViaDirector {
    via: PerRs,
    failed: PerRs,
}

impl Check for DrReplyViaDirector {
    fn on_flow(&mut self, v: &FlowView<'_>, _hosts: &HostMap) {
        let (Some(Mode::Dr), Some(rs), Some(d)) = (v.mode, v.rs, v.director_mac) else {
            return;
        };
        let via: Vec<_> = v
            .replies_from_vip()
            .filter(|r| r.dst_mac == Some(d) && r.src_mac != Some(d))
            .map(|r| r.at)
            .collect();
        if via.is_empty() {
            return;
        }
        self.via.add(v, rs, via);
        if v.failed {
            self.failed.add(v, rs, []);
        }
    }

    fn finish(&mut self, ctx: &Context<'_>, out: &mut Vec<Finding>) {
        for (k @ (va, key), t) in self.via.iter() {
            let (vip, rs) = (&va.ip, key);
            let failed = self
                .failed
                .iter()
                .find(|(kk, _)| *kk == k)
                .map_or(0, |(_, t)| t.flows);
            let rs_id = ctx.rs_id(*rs);
            let rs = ctx.rs_label(*rs);
            let (sev, outcome) = if failed > 0 {
                (
                    Severity::Error,
                    format!("{failed} of them failed: the director drops replies from its own VIP"),
                )
            } else {
                (Severity::Warning, "they still work, but the director carries the return traffic DR is meant to keep off it".to_string())
            };
            out.push(
                Finding::new(
                    "dr-reply-via-director",
                    sev,
                    format!("{rs} sent replies for {} connection(s) to the director's MAC instead of the gateway; {outcome}", t.flows),
                )
                .service(ctx.service(*va))
                .maybe_real_server(rs_id)
                .cause(format!("{rs}'s default route (or its route to the clients) points at the director. In DR the real server must reply from the VIP straight to the clients through its own gateway; a director receiving packets from its own VIP treats them as martians unless it forwards and accepts them."))
                .evidence_set(&t.evidence).affected(t.flows)
                .fix(format!("On {rs}: ip route replace default via <the segment's gateway, not the director>; check with ip route get <client address> from {vip}.")),
            );
        }
    }
}
