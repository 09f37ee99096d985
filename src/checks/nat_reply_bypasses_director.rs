//! `nat-reply-bypasses-director`: NAT; a real server answers the client from
//! its RIP directly (its route to the client does not go via the director),
//! so the reply is never rewritten back to the VIP and the client resets it.
//!
//! Proves the fault (essential evidence):
//! - a flow not forwarded in DR/TUN with a handshake answer (SYN-ACK, UDP
//!   answer; not encapsulated) from an address other than the VIP, and
//! - that answer addressed to another MAC than the NAT director that
//!   forwarded the flow (or than any known director), or no answer from the
//!   VIP at all and either a client RST or the answer (not a RST) going past
//!   every director (a client that drops it silently never resets).
//!
//! Makes it more certain (supporting, not required):
//! - the client's RST (evidence) when the director side is also captured;
//! - `nat-rs-gateway-not-director` on the same real server (joined by
//!   `confirm`).

use super::{words, Check, Context, PerRs};
use crate::finding::{Finding, Severity};
use crate::flow::hosts::HostMap;
use crate::flow::view::{FlowView, RsKey};
use crate::model::{Mode, Proto};

#[derive(Default, Clone)]
pub struct NatReplyBypassesDirector {
    bypass: PerRs,
}

impl Check for NatReplyBypassesDirector {
    fn on_flow(&mut self, v: &FlowView<'_>, hosts: &HostMap) {
        if matches!(v.mode, Some(Mode::Dr | Mode::Tun)) {
            return;
        }
        let rewritten_back = v.replies_from_vip().next().is_some();
        for r in v.replies_not_from_vip() {
            if r.outer.is_some() {
                continue;
            }
            // Addressed to another gateway than the director that forwarded
            // it (or than any director known, when this flow's is not).
            let to_other = r.dst_mac.is_some_and(|a| match v.director_mac {
                Some(d) => a != d,
                None => !hosts.is_director(a),
            });
            let wrong_gateway = v.director_mac.is_some() && to_other;
            // Or (director side not captured) the client got it
            // un-rewritten: it reset it, or the answer went past any
            // director and none came from the VIP (a client whose firewall
            // drops the stray SYN-ACK never resets).
            let unrewritten =
                !rewritten_back && (v.flow.client_rst().is_some() || (!r.rst && to_other));
            if wrong_gateway || unrewritten {
                let mut ev = vec![r.at];
                ev.extend(v.flow.client_rst());
                self.bypass.add(v, RsKey::Ip(r.src), ev);
                return;
            }
        }
    }

    fn finish(&mut self, ctx: &Context<'_>, out: &mut Vec<Finding>) {
        for ((va, key), t) in self.bypass.iter() {
            let (vip, rs) = (&va.ip, key);
            let rs_id = ctx.rs_id(*rs);
            let rs = ctx.rs_label(*rs);
            out.push(
                Finding::new(
                    "nat-reply-bypasses-director",
                    Severity::Error,
                    format!("{rs} answered {} {} from its own address straight to the client, bypassing the director; {}", t.flows, words(va.proto).flows, if va.proto == Proto::Tcp { "the client resets them" } else { "the client drops the answers" }),
                )
                .service(ctx.service(*va))
                .maybe_real_server(rs_id)
                .cause(format!("In NAT the director must rewrite the reply's source from {rs} back to {vip}, so every reply has to cross it. {rs}'s default route (or its route to the clients) points at another gateway, so the client receives {} from {rs}, which matches none of its connections, and {}.", if va.proto == Proto::Tcp { "a SYN-ACK" } else { "the answer" }, if va.proto == Proto::Tcp { "answers with RST" } else { "drops it (or answers with ICMP port unreachable)" }))
                .evidence_set(&t.evidence).affected(t.flows)
                .fix(format!("On {rs}: ip route replace default via <the director's address on this segment>; verify with ip route get <client address>.")),
            );
        }
    }
}
