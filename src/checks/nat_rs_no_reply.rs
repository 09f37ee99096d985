//! `nat-rs-no-reply`: NAT; SYNs the director rewrote to a real server's RIP
//! get no reply at all.
//!
//! Proves the fault (essential evidence):
//! - a flow the director rewrote to this RIP (NAT forward seen; UDP: the same
//!   datagram also captured a hop earlier, to the VIP);
//! - it failed with no reply at any point (no SYN-ACK / answer, no RST), no
//!   client RST, no ICMP error about it;
//! - UDP: some other flow to the same VIP:port answered, or the port is a
//!   request/response protocol's (`UDP_ANSWERING`: DNS, NTP, RADIUS, SIP…).
//!
//! Makes it more certain (supporting, not required):
//! - how many of the real server's flows failed, out of how many;
//! - no capture losses at a point that saw them (else lowered, `losses.rs`);
//! - `nat-rs-gateway-not-director` or `rs-firewall-drops` on the same real
//!   server (joined by `confirm`).

use super::{words, Check, Context, Unanswered};
use crate::finding::{Finding, Severity};
use crate::flow::hosts::HostMap;
use crate::flow::view::FlowView;
use crate::model::Mode;

#[derive(Default, Clone)]
pub struct NatRsNoReply(Unanswered);

impl Check for NatRsNoReply {
    fn on_flow(&mut self, v: &FlowView<'_>, _hosts: &HostMap) {
        self.0.observe(v, Mode::Nat, |v| {
            v.flow.replies.is_empty()
                && v.flow.client_rst().is_none()
                && v.flow.request_error().is_none()
        });
    }

    fn finish(&mut self, ctx: &Context<'_>, out: &mut Vec<Finding>) {
        for (va, rs, t, total) in self.0.each() {
            let (vip, port) = (va.ip, va.port);
            let w = words(va.proto);
            let rs_id = ctx.rs_id(rs);
            let rs = ctx.rs_label(rs);
            out.push(
                Finding::new(
                    "nat-rs-no-reply",
                    Severity::Error,
                    format!("{} of {total} {} forwarded to {rs} got no reply through the director", t.flows, w.flows),
                )
                .service(ctx.service(va))
                .maybe_real_server(rs_id)
                .cause(format!("The director rewrote the {} to {rs} but nothing came back through it: {rs} is down or not listening on the mapped port, a firewall drops them, or {rs} answers by another route that bypasses the director (capture on {rs} or the client to tell; check ip route on {rs}).", w.opens))
                .evidence_set(&t.evidence).affected_of(t.flows, total).absence()
                .fix(format!("On {rs}: {}; ip route get <client address> (must go via the director); nft list ruleset. On the director: ipvsadm -Ln --stats {}.", w.ss, ctx.service(va).ipvsadm_arg().unwrap_or_else(|| format!("-t {}", std::net::SocketAddr::new(vip, port))))),
            );
        }
    }
}
