//! `vip-arp-failover` (info): the VIP moved cleanly from one MAC to another,
//! announced by gratuitous ARP: a director failover, not a conflict.
//!
//! Proves the fault (essential evidence):
//! - ARP/ND claims for the VIP of an address service moved cleanly, once
//!   or more (`Ownership::Moves`: each owner held it 3 s or more; one
//!   finding per move);
//! - neither MAC received forwarded connections (not a real server).
//!
//! Makes it more certain (supporting, not required):
//! - gratuitous ARP from the new owner (else "not announced");
//! - the VRRP master change between the two routers advertising the VIP.

use super::{Check, Context};
use crate::decode::fmt_mac;
use crate::finding::{Finding, Severity};
use crate::flow::neigh::Ownership;

#[derive(Clone)]
pub struct VipArpFailover;

impl Check for VipArpFailover {
    fn wants_flows(&self) -> bool {
        false
    }

    fn finish(&mut self, ctx: &Context<'_>, out: &mut Vec<Finding>) {
        let mut vips: Vec<_> = ctx
            .model
            .services
            .iter()
            .filter_map(|s| Some((s.key.vip()?, s.key)))
            .collect();
        // One per VIP, whichever of its services comes first.
        vips.sort_by_key(|(v, _)| *v);
        vips.dedup_by_key(|(v, _)| *v);
        for (vip, label) in vips {
            let Some(claims) = ctx.hosts.neigh.claims(vip) else {
                continue;
            };
            let Ownership::Moves(moves) = claims.ownership() else {
                continue;
            };
            if moves
                .iter()
                .any(|m| ctx.hosts.is_real_server(m.from) || ctx.hosts.is_real_server(m.to))
            {
                continue; // reported by vip-arp-multiple-owners
            }
            for (i, m) in moves.iter().enumerate() {
                let (from, to) = (m.from, m.to);
                // Announced: a gratuitous claim by the new owner.
                let announced = claims
                    .by_mac
                    .iter()
                    .find(|c| c.mac == to)
                    .is_some_and(|c| c.gratuitous > 0);
                let vrrp = transition(ctx, vip, from, to);
                let nth = if moves.len() > 1 {
                    format!(" (move {} of {})", i + 1, moves.len())
                } else {
                    String::new()
                };
                out.push(
                    Finding::new(
                        "vip-arp-failover",
                        Severity::Info,
                        format!(
                            "VIP {vip} moved from {} to {}{}{}{nth}",
                            ctx.describe_mac(from),
                            ctx.describe_mac(to),
                            if announced { ", announced by gratuitous ARP" } else { " (not announced: gateways learn it only when they re-ARP)" },
                            vrrp.as_ref().map_or(String::new(), |(t, _)| format!("; {t}"))
                        ),
                    )
                    .evidence(vrrp.map(|(_, e)| e))
                    .service(label)
                    .cause(if moves.len() > 1 { "Director failovers (keepalived/VRRP; a failback when the preferred director returns, preemption being keepalived's default): each owner stopped claiming the VIP before the next took it." } else { "A director failover (keepalived/VRRP): the old owner stopped claiming the VIP before the new one took it." })
                    .evidence([m.at])
                    .fix(format!("Nothing to fix if the failover was intended. If not, check why {} gave up the VIP (keepalived logs, VRRP adverts).", fmt_mac(&from))),
                );
            }
        }
    }
}

/// The VRRP transition behind a move of `vip` from MAC `from` to `to`: the
/// virtual router advertising it whose master changed from the router at
/// `from` to the one at `to`, in words, with the new master's first advert.
fn transition(
    ctx: &Context<'_>,
    vip: std::net::IpAddr,
    from: crate::decode::Mac,
    to: crate::decode::Mac,
) -> Option<(String, crate::finding::Evidence)> {
    for x in ctx.hosts.vrrp.vrids.values() {
        let idx = |m| {
            x.routers
                .iter()
                .position(|r| r.mac == Some(m) && r.addrs.contains(&vip))
        };
        let (Some(a), Some(b)) = (idx(from), idx(to)) else {
            continue;
        };
        let Some(w) = x
            .periods
            .windows(2)
            .find(|w| w[0].router == a && w[1].router == b)
        else {
            continue;
        };
        let (ra, rb) = (&x.routers[a], &x.routers[b]);
        let how = if w[0].resigned {
            format!("{} resigned (priority 0 advert)", ra.ip)
        } else {
            format!("{}'s adverts stopped", ra.ip)
        };
        return Some((
            format!(
                "VRRP {}: {how}, {} (priority {}) master from {}",
                x.key,
                rb.ip,
                w[1].priority,
                crate::text::fmt_utc(w[1].from.time)
            ),
            w[1].from,
        ));
    }
    None
}
