//! `dr-rs-no-reply`: DR; SYNs forwarded to a real server's MAC get no SYN-ACK
//! from the VIP, and the client never completes the handshake.
//!
//! Proves the fault (essential evidence):
//! - a flow the director forwarded in DR to this real server (forwarded copy
//!   captured, `Unanswered::observe`);
//! - it failed with no answer at all: no SYN-ACK / UDP answer at any point, no
//!   RST either way, no ICMP error about it, and the client re-sent its SYN
//!   (or it stayed unanswered 3 s, UDP 1 s, before the capture ended);
//! - UDP: evidence that the service answers at all, because DR answers bypass
//!   the director: some other flow to the same VIP:port was answered, or its
//!   port is a request/response protocol's and a point on the answer path
//!   (the client's side, the real server) was captured (`Unanswered::each`).
//!
//! Makes it more certain (supporting, not required):
//! - how many of the real server's flows failed, out of how many;
//! - no capture losses at a point that saw them (else lowered, `losses.rs`);
//! - `rs-vip-not-on-loopback`, `rp-filter-drops-asymmetric` or
//!   `rs-firewall-drops` on the same real server (joined by `confirm`).

use super::config_view::addr_cmd;
use super::{weight_zero_cmd, words, Check, Context, Unanswered};
use crate::finding::{Finding, Severity};
use crate::flow::hosts::HostMap;
use crate::flow::view::FlowView;
use crate::model::Mode;

#[derive(Default, Clone)]
pub struct DrRsNoReply(Unanswered);

impl Check for DrRsNoReply {
    fn on_flow(&mut self, v: &FlowView<'_>, _hosts: &HostMap) {
        self.0.observe(v, Mode::Dr, |v| {
            !v.flow.synack_seen()
                && v.flow.server_rst().is_none()
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
                    "dr-rs-no-reply",
                    Severity::Error,
                    format!("{} of {total} {} the director forwarded to {rs} got no {}: {rs} does not answer for the VIP", t.flows, w.flows, w.answer),
                )
                .service(ctx.service(va))
                .maybe_real_server(rs_id)
                .cause(format!("{rs} receives the forwarded {} (destination MAC rewritten, IP still {vip}) but does not answer: most often the VIP is not configured on its lo, so the kernel drops packets to an address it does not own; else strict rp_filter drops them (the route back to the client is via another interface), a firewall drops them, or nothing listens on port {port}.", w.opens))
                .evidence_set(&t.evidence).affected_of(t.flows, total).absence()
                .fix(format!("On {rs}: {}{}; check a listener: {} 'sport = :{port}'; check the firewall: nft list ruleset. Until fixed, take it out of rotation on the director: {}",
                    addr_cmd("add", vip, "lo"),
                    if vip.is_ipv4() {
                        "; sysctl -w net.ipv4.conf.all.arp_ignore=1 net.ipv4.conf.all.arp_announce=2; if the client route leaves by another interface: sysctl -w net.ipv4.conf.all.rp_filter=2 net.ipv4.conf.eth0.rp_filter=2"
                    } else {
                        " (IPv6 has no ARP sysctls; a VIP on lo is not answered for in NDP)"
                    },
                    w.ss,
                    weight_zero_cmd(ctx.service(va), rs_id, t.rs_port.unwrap_or(port)))),
            );
        }
    }
}
