//! `rs-port-unreachable`: UDP; datagrams the director forwards to a real
//! server are answered with ICMP port unreachable: nothing listens on that
//! port there (in NAT the real server's error comes back through the
//! director, rewritten to the VIP). TCP's equivalent, a RST to the SYN, is
//! `handshake-reset`.
//!
//! Proves the fault (essential evidence):
//! - a UDP flow with an ICMP port unreachable about one of the client's
//!   datagrams (its quote is one of the flow's own packets);
//! - answered before or not (a pinned busy flow refused after the service
//!   restarted counts).
//!
//! Makes it more certain (supporting, not required):
//! - the real server named from the forwarded copy (else the ICMP's sender
//!   when it is not the VIP), the forwarded datagram as evidence;
//! - `rs-no-listener` on the same real server (joined by `confirm`).

use super::{weight_zero_cmd, Check, Context, PerRs};
use crate::decode::IcmpKind;
use crate::finding::{Finding, Severity};
use crate::flow::hosts::HostMap;
use crate::flow::view::{FlowView, RsKey};
use crate::model::Proto;

#[derive(Default, Clone)]
pub struct RsPortUnreachable(PerRs);

impl Check for RsPortUnreachable {
    fn on_flow(&mut self, v: &FlowView<'_>, _hosts: &HostMap) {
        // An answered flow refused later (the service restarted while a
        // busy client's flow stayed pinned to it) counts too.
        if v.flow.proto != Proto::Udp {
            return;
        }
        let Some(e) = v
            .flow
            .icmp
            .iter()
            .find(|i| i.about_request && i.kind == IcmpKind::PortUnreachable)
        else {
            return;
        };
        let rs = v.rs.unwrap_or(if e.from != v.vaddr.ip {
            RsKey::Ip(e.from)
        } else {
            RsKey::Unseen
        });
        let fwd = v.forward.map(|f| f.at);
        self.0.add(v, rs, fwd.into_iter().chain([e.at]));
    }

    fn finish(&mut self, ctx: &Context<'_>, out: &mut Vec<Finding>) {
        for ((va, key), t) in self.0.iter() {
            let port = t.rs_port.unwrap_or(va.port);
            let (rs, id) = ctx.who(*va, *key);
            let svc = ctx.service(*va);
            out.push(
                Finding::new(
                    "rs-port-unreachable",
                    Severity::Error,
                    format!("{rs} answered {} UDP flow(s) with ICMP port unreachable: nothing listens on UDP port {port} there", t.flows),
                )
                .service(svc)
                .maybe_real_server(id)
                .cause(format!("The forwarded datagrams reach {rs}, but no socket is bound to UDP port {port} (on the VIP in DR/TUN, the RIP in NAT), so its kernel answers each with ICMP port unreachable: the service is down, listens on another port or address, or the real server was added to IPVS before its service started. IPVS keeps scheduling to it because no health check removes it."))
                .evidence_set(&t.evidence)
                .affected(t.flows)
                .fix(format!("On {rs}: start the service on UDP port {port} (check: ss -lun 'sport = :{port}'). On the director, until then: {}; and add a UDP health check (keepalived: DNS_CHECK or MISC_CHECK).", weight_zero_cmd(svc, id, port))),
            );
        }
    }
}
