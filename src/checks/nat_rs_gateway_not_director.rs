//! `nat-rs-gateway-not-director`: NAT; a real server's route back to the
//! clients does not go through the director, so its replies skip the
//! reverse NAT and the clients reset them.
//!
//! Proves the fault (essential evidence):
//! - the IPVS configuration lists the real server in NAT for an address
//!   service, and it has a snapshot;
//! - a director snapshot (the one with the service, else any director's);
//! - the real server's main-table route to a client seen for the VIP (else
//!   its default route) has no gateway that is an address of that director.
//!
//! Makes it more certain (supporting, not required):
//! - clients seen in the traffic; the director's address on the real
//!   server's segment (for the fix);
//! - `nat-reply-bypasses-director` or `nat-rs-no-reply` in the traffic
//!   (joined by `confirm`).

use super::config_view::{bad_routes_back, dests, director_for, line};
use super::{Check, Context};
use crate::finding::{Finding, Severity};
use crate::model::Mode;
use crate::model::RsId;
use crate::system::prefix_contains;

#[derive(Default, Clone)]
pub struct NatRsGatewayNotDirector;

impl Check for NatRsGatewayNotDirector {
    fn wants_flows(&self) -> bool {
        false
    }

    fn finish(&mut self, ctx: &Context<'_>, out: &mut Vec<Finding>) {
        for (svc, vip, rs, h) in dests(ctx, Mode::Nat) {
            let Some(dir) = director_for(ctx.snapshots, svc) else {
                continue; // the director's addresses are unknown
            };
            // A masquerading director (kube-proxy) gets the replies at its
            // own address, whatever the real server's default route.
            if dir.masquerades() {
                continue;
            }
            // The director's address on the real server's segment.
            let dir_leg = dir
                .addresses
                .iter()
                .find(|a| prefix_contains(a.address, a.prefix_len, rs.addr) && a.address != rs.addr)
                .map(|a| a.address);
            let (bad, mut lines) = bad_routes_back(h, &ctx.shared.clients, vip, |r| {
                r.and_then(|r| r.gateway)
                    .is_some_and(|g| !dir.ifaces_with(g).is_empty())
            });
            if bad.is_empty() {
                continue;
            }
            if let Some(leg) = dir_leg {
                lines.push(line(
                    dir,
                    format!("director address on that segment: {leg}"),
                ));
            }
            let fix = match dir_leg {
                Some(leg) if leg.is_ipv6() => {
                    format!("On {}: ip -6 route replace default via {leg}", h.host)
                }
                Some(leg) => format!("On {}: ip route replace default via {leg}", h.host),
                None => format!(
                    "On {}: route the clients via the director ({})",
                    h.host, dir.host
                ),
            };
            out.push(
                Finding::new(
                    "nat-rs-gateway-not-director",
                    Severity::Error,
                    format!("{} ({}) does not route its replies to {} through the director", rs.addr, h.host, bad.join(", ")),
                )
                .service(svc.key)
                .real_server(RsId::Ip(rs.addr))
                .cause(format!("In NAT the director must see the replies to rewrite their source back to {}; replies routed around it reach the client from the RIP, which the client does not know and resets.", vip))
                .config(lines)
                .fix(fix),
            );
        }
    }
}
