//! `vrrp-split-brain` (error): two routers advertise as master for the same
//! virtual router at once, in alternation, for longer than one advert
//! interval. Only a master advertises, and a master that hears a better
//! master's adverts stops: both going on means at least one does not hear
//! the other (a firewall dropping IP protocol 112, multicast filtered, a
//! unicast peer list that leaves one out).
//!
//! Proves the fault (essential evidence):
//! - two routers of one VRID whose adverts alternate 3 times or more, each
//!   within the master-down interval, over more than one advert interval
//!   (`vrrp_common::two_masters`).
//!
//! Makes it more certain (supporting, not required):
//! - capture points where one router's adverts are missing while the
//!   other's are seen; ICMP errors about the adverts;
//! - each router's ARP claims for the VIPs.

use super::vrrp_common::{describe_router, two_masters, vip_claims};
use super::{Check, Context};
use crate::finding::{Finding, Severity};

#[derive(Clone)]
pub struct VrrpSplitBrain;

impl Check for VrrpSplitBrain {
    fn wants_flows(&self) -> bool {
        false
    }

    fn finish(&mut self, ctx: &Context<'_>, out: &mut Vec<Finding>) {
        for x in ctx.hosts.vrrp.vrids.values() {
            for ((i, j), run) in two_masters(x) {
                let (a, b) = (&x.routers[i], &x.routers[j]);
                let long = run.last.time - run.first.time;
                let secs = long as f64 / 1e9;
                let mut why = Vec::new();
                for (r, o) in [(a, b), (b, a)] {
                    let only: Vec<String> = ctx
                        .points
                        .iter()
                        .enumerate()
                        .filter(|(k, _)| {
                            let k = *k as u16;
                            o.points.contains(k) && !r.points.contains(k)
                        })
                        .map(|(_, p)| crate::text::sanitize(&p.name))
                        .collect();
                    if !only.is_empty() {
                        why.push(format!(
                            "{}'s adverts are not seen at {} (where {}'s are)",
                            r.ip,
                            only.join(", "),
                            o.ip
                        ));
                    }
                }
                for b in &x.blocked {
                    why.push(format!(
                        "{} answered VRRP from {} with ICMP {} (frame {} at {})",
                        b.from,
                        b.about,
                        b.kind.as_str(),
                        b.at.frame,
                        ctx.points
                            .get(usize::from(b.at.point))
                            .map_or("?".into(), |p| crate::text::sanitize(&p.name))
                    ));
                }
                let claims = [vip_claims(ctx, a), vip_claims(ctx, b)];
                out.push(
                    Finding::new(
                        "vrrp-split-brain",
                        Severity::Error,
                        format!(
                            "{}: two masters at once for {secs:.1} s ({} alternations): {} and {}{}",
                            x.key,
                            run.count,
                            describe_router(ctx, a, &claims[0]),
                            describe_router(ctx, b, &claims[1]),
                            if why.is_empty() { String::new() } else { format!("; {}", why.join("; ")) }
                        ),
                    )
                    .cause(format!(
                        "Each router advertises as master because it does not hear the other's adverts (a master that hears a higher-priority master steps down). Most often a firewall drops IP protocol 112 on one of them, the switch filters multicast 224.0.0.18 (IGMP snooping without a querier), or keepalived's unicast_peer lists differ. Both then claim the VIPs ({}) and the gateway's ARP entry flips between them.",
                        a.addrs.iter().map(|v| v.to_string()).collect::<Vec<_>>().join(", ")
                    ))
                    .evidence([a.first, b.first, run.first, run.last])
                    .fix(format!(
                        "On both routers let VRRP in: nft insert rule inet filter input ip protocol vrrp accept (IPv6: meta l4proto vrrp accept); check with tcpdump -ni IFACE 'ip proto 112' on each that the other's adverts arrive. With unicast_peer, each must list the other's address. Then one of them ({} and {}) becomes backup by priority.",
                        a.ip, b.ip
                    )),
                );
            }
        }
    }
}
