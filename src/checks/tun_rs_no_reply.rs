//! `tun-rs-no-reply`: TUN; SYNs the director encapsulated (IP-in-IP) to a
//! real server get no reply.
//!
//! Proves the fault (essential evidence):
//! - a flow the director encapsulated to this real server (the IP-in-IP copy
//!   captured);
//! - it failed with no reply at any point (no SYN-ACK / answer, no RST), no
//!   client RST, no ICMP error about it;
//! - UDP: some other flow to the same VIP:port was answered, or its port is
//!   a request/response protocol's and a point on the answer path was
//!   captured (TUN answers bypass the director).
//!
//! Makes it more certain (supporting, not required):
//! - how many of the real server's flows failed, out of how many;
//! - no capture losses at a point that saw them (else lowered, `losses.rs`);
//! - `rp-filter-drops-asymmetric` or `rs-firewall-drops` on the same real
//!   server (joined by `confirm`).

use super::{words, Check, Context, Unanswered};
use crate::finding::{Finding, Severity};
use crate::flow::hosts::HostMap;
use crate::flow::view::FlowView;
use crate::model::Mode;

#[derive(Default, Clone)]
pub struct TunRsNoReply(Unanswered);

impl Check for TunRsNoReply {
    fn on_flow(&mut self, v: &FlowView<'_>, _hosts: &HostMap) {
        self.0.observe(v, Mode::Tun, |v| {
            v.flow.replies.is_empty()
                && v.flow.client_rst().is_none()
                && v.flow.request_error().is_none()
        });
    }

    fn finish(&mut self, ctx: &Context<'_>, out: &mut Vec<Finding>) {
        for (va, rs, t, total) in self.0.each() {
            let vip = va.ip;
            let rs_id = ctx.rs_id(rs);
            let rs = ctx.rs_label(rs);
            out.push(
                Finding::new(
                    "tun-rs-no-reply",
                    Severity::Error,
                    format!("{} of {total} {} forwarded to {rs} got no reply", t.flows, words(va.proto).flows),
                )
                .service(ctx.service(va))
                .maybe_real_server(rs_id)
                .cause(format!("{rs} receives IP-in-IP packets for {vip} but does not answer: no tunl0 (ipip module) with the VIP, strict rp_filter on tunl0 (the route back to the client is via eth0) dropping them, or the inner packet exceeds the MTU."))
                .evidence_set(&t.evidence).affected_of(t.flows, total).absence()
                .fix(format!("On {rs}: modprobe ipip; ip link set tunl0 up; ip addr add {vip}/32 dev tunl0; sysctl -w net.ipv4.conf.tunl0.rp_filter=0 net.ipv4.conf.all.rp_filter=0 net.ipv4.conf.tunl0.arp_ignore=1 net.ipv4.conf.all.arp_announce=2.")),
            );
        }
    }
}
