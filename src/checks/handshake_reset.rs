//! `handshake-reset`: a connection reset during its handshake: the real
//! server answers the SYN with RST (nothing listens), or the client answers
//! the SYN-ACK with RST.
//!
//! Proves the fault (essential evidence):
//! - a TCP flow that never got established, and
//! - a RST from the server side among its handshake answers (error), or a RST
//!   from the client after a SYN-ACK was seen (warning, a symptom).
//!
//! Makes it more certain (supporting, not required):
//! - the real server named from the forwarded copy, else from the RST's (or
//!   SYN-ACK's) source when it is not the VIP;
//! - `rs-no-listener` on the same real server (joined by `confirm`); a root
//!   cause on the same real server explains the client-reset symptom
//!   (`explain`).

use super::{weight_zero_cmd, Check, Context, PerRs};
use crate::finding::{Finding, Severity};
use crate::flow::hosts::HostMap;
use crate::flow::view::{FlowView, RsKey};

#[derive(Default, Clone)]
pub struct HandshakeReset {
    by_server: PerRs,
    by_client: PerRs,
}

impl Check for HandshakeReset {
    fn on_flow(&mut self, v: &FlowView<'_>, _hosts: &HostMap) {
        if v.established {
            return;
        }
        if let Some(r) = v.flow.server_rst() {
            let rs = v.rs.unwrap_or(if r.src != v.vaddr.ip {
                RsKey::Ip(r.src)
            } else {
                RsKey::Unseen
            });
            self.by_server.add(v, rs, [r.at]);
        } else if let (Some(rst), true) = (v.flow.client_rst(), v.flow.synack_seen()) {
            let from = v.flow.replies.iter().find(|r| !r.rst).expect("synack seen");
            let rs = v.rs.unwrap_or(if from.src != v.vaddr.ip {
                RsKey::Ip(from.src)
            } else {
                RsKey::Unseen
            });
            self.by_client.add(v, rs, [from.at, rst]);
        }
    }

    fn finish(&mut self, ctx: &Context<'_>, out: &mut Vec<Finding>) {
        for ((va, key), t) in self.by_server.iter() {
            let port = &va.port;
            let (rs, real_server) = ctx.who(*va, *key);
            out.push(
                Finding::new("handshake-reset", Severity::Error, format!("{rs} refused {} connection(s): RST in answer to the SYN", t.flows))
                    .service(ctx.service(*va))
                    .maybe_real_server(real_server)
                    .cause(format!("Nothing listens on port {port} on {rs} (service down or bound to another address), or a firewall rejects with RST. IPVS keeps scheduling to it because it has no health check that removes it."))
                    .evidence_set(&t.evidence).affected(t.flows)
                    .fix(format!("On {rs}: ss -ltn 'sport = :{port}' and start the service (bound to 0.0.0.0 or the VIP). On the director, until fixed: {}; and add a health checker (keepalived real_server TCP_CHECK / ldirectord).", weight_zero_cmd(ctx.service(*va), real_server, t.rs_port.unwrap_or(*port)))),
            );
        }
        for ((va, key), t) in self.by_client.iter() {
            let (vip, port) = (&va.ip, &va.port);
            let (rs, real_server) = ctx.who(*va, *key);
            out.push(
                Finding::new("handshake-reset", Severity::Warning, format!("clients reset {} connection(s) to {rs} right after its SYN-ACK", t.flows))
                    .service(ctx.service(*va))
                    .maybe_real_server(real_server)
                    .cause("The client answered the SYN-ACK with RST: the SYN-ACK did not match the connection it opened (wrong source address or port: a reply that bypassed the director's rewrite), or the client gave up.")
                    .evidence_set(&t.evidence).affected(t.flows)
                    .fix(format!("Compare the SYN-ACK's source with {}; in NAT make {rs} route replies via the director.", std::net::SocketAddr::new(*vip, *port)))
                    .symptom(),
            );
        }
    }
}
