//! `vip-arp-failover` (info): the VIP moved cleanly from one MAC to another,
//! announced by gratuitous ARP: a director failover, not a conflict.

use super::{Check, Context};
use crate::decode::fmt_mac;
use crate::finding::{Finding, Severity};
use crate::flow::neigh::Ownership;

#[derive(Clone)]
pub struct VipArpFailover;

impl Check for VipArpFailover {
    fn finish(&mut self, ctx: &Context<'_>, out: &mut Vec<Finding>) {
        let mut vips: Vec<_> = ctx
            .model
            .services
            .iter()
            .filter_map(|s| Some((s.key.vip()?, s.key)))
            .collect();
        vips.dedup_by_key(|(v, _)| *v);
        for (vip, label) in vips {
            let Some(claims) = ctx.hosts.neigh.claims(vip) else {
                continue;
            };
            let Ownership::Failover { from, to } = claims.ownership() else {
                continue;
            };
            if ctx.hosts.is_real_server(from) || ctx.hosts.is_real_server(to) {
                continue; // reported by vip-arp-multiple-owners
            }
            let announced = claims
                .by_mac
                .iter()
                .find(|c| c.mac == to)
                .is_some_and(|c| c.gratuitous > 0);
            out.push(
                Finding::new(
                    "vip-arp-failover",
                    Severity::Info,
                    format!(
                        "VIP {vip} moved from {} to {}{}",
                        ctx.describe_mac(from),
                        ctx.describe_mac(to),
                        if announced { ", announced by gratuitous ARP" } else { " (not announced: gateways learn it only when they re-ARP)" }
                    ),
                )
                .service(label)
                .cause("A director failover (keepalived/VRRP): the old owner stopped claiming the VIP before the new one took it.")
                .evidence(claims.switch_evidence.iter())
                .fix(format!("Nothing to fix if the failover was intended. If not, check why {} gave up the VIP (keepalived logs, VRRP adverts).", fmt_mac(&from))),
            );
        }
    }
}
