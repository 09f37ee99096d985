//! `vrrp-vip-owner-mismatch` (warning): the last ARP / neighbour claim for a
//! VIP came from a former VRRP master's MAC, while another router has been
//! master since: the gateways' ARP caches still send the VIP's traffic to
//! the old master (a failover without gratuitous ARP, or one that the
//! gateway ignored). Two masters at once are `vrrp-split-brain` instead.
//!
//! Proves the fault (essential evidence):
//! - a VRID with no two masters at once whose current master's MAC is known;
//! - for a VIP its adverts announce (today only the first 4: `KEPT_ADDRS`,
//!   see AUDIT.md), the latest ARP/ND claim comes from the MAC of a router
//!   that was master of this VRID before, made before the current master's
//!   period began;
//! - the current master has held on for 1 s or more and made no claim for
//!   the VIP since it began.
//!
//! Makes it more certain (supporting, not required):
//! - (none checked beyond these; the stale claim and the new master's first
//!   advert are the evidence).

use super::vrrp_common::two_masters;
use super::{Check, Context};
use crate::decode::fmt_mac;
use crate::finding::{Finding, Severity};

#[derive(Clone)]
pub struct VrrpVipOwnerMismatch;

/// How long the new master must have been master after the stale claim
/// before it is a stale cache rather than a race (ns).
const SETTLE_NS: i64 = 1_000_000_000;

impl Check for VrrpVipOwnerMismatch {
    fn wants_flows(&self) -> bool {
        false
    }

    fn finish(&mut self, ctx: &Context<'_>, out: &mut Vec<Finding>) {
        for x in ctx.hosts.vrrp.vrids.values() {
            if !two_masters(x).is_empty() {
                continue;
            }
            let Some(p) = x.periods.last() else { continue };
            let master = &x.routers[p.router];
            let Some(mmac) = master.mac else { continue };
            for vip in &master.addrs {
                let Some(claims) = ctx.hosts.neigh.claims(*vip) else {
                    continue;
                };
                let Some(cur) = claims.current else { continue };
                if cur == mmac {
                    continue;
                }
                // The claimant is a router of this VRID that was master before.
                let Some(old) = x
                    .routers
                    .iter()
                    .position(|r| r.mac == Some(cur))
                    .filter(|&i| i != p.router && x.periods.iter().any(|q| q.router == i))
                else {
                    continue;
                };
                let Some(claim) = claims.by_mac.iter().find(|c| c.mac == cur) else {
                    continue;
                };
                // The stale claim came before the new master took over, and
                // the master has held on since without re-announcing.
                if claim.last.time > p.from.time || p.to.time - p.from.time < SETTLE_NS {
                    continue;
                }
                let announced = claims
                    .by_mac
                    .iter()
                    .find(|c| c.mac == mmac)
                    .is_some_and(|c| c.last.time >= p.from.time);
                if announced {
                    continue;
                }
                let o = &x.routers[old];
                out.push(
                    Finding::new(
                        "vrrp-vip-owner-mismatch",
                        Severity::Warning,
                        format!(
                            "{}: VIP {vip} is last claimed by {} ({}, master before), but {} ({}) is master since {} and has not announced it",
                            x.key,
                            fmt_mac(&cur),
                            o.ip,
                            fmt_mac(&mmac),
                            master.ip,
                            crate::text::fmt_utc(p.from.time)
                        ),
                    )
                    .cause("After the master changed, no gratuitous ARP from the new master reached the gateway (garp settings, a filtered switch port, or the gateway ignores unsolicited ARP: arp_accept=0 and no entry refresh), so its ARP cache still names the old master's MAC until it expires or re-resolves.")
                    .evidence([claim.last, p.from])
                    .fix(format!(
                        "On the new master send gratuitous ARPs: arping -c 3 -U -I IFACE {vip} (keepalived: vrrp_garp_master_delay/vrrp_garp_master_repeat, vrrp_garp_master_refresh); on the gateway check ip neigh show {vip} and that it accepts them (net.ipv4.conf.IFACE.arp_accept=1 on Linux)."
                    )),
                );
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decode::vrrp::{parse, P112};
    use crate::decode::{Neigh, NeighOp};
    use crate::finding::Evidence;
    use crate::flow::hosts::HostMap;
    use crate::model::Model;

    fn at(s: f64) -> Evidence {
        Evidence {
            point: 0,
            frame: (s * 10.0) as u64,
            time: (s * 1e9) as i64,
        }
    }

    /// a master until 5 s (its GARP at 0.1 s), then b: with or without b's
    /// own gratuitous ARP.
    fn run(b_announces: bool) -> Vec<Finding> {
        let mut h = HostMap::default();
        let (ma, mb) = ([2, 0, 0, 0, 0x0d, 0], [2, 0, 0, 0, 0x0f, 0]);
        let adv = |prio: u8| {
            let b = [
                0x21, 51, prio, 1, 0, 1, 0, 0, 192, 0, 2, 100, 0, 0, 0, 0, 0, 0, 0, 0,
            ];
            match parse(&b, false, true) {
                P112::Vrrp(v) => v,
                x => panic!("{x:?}"),
            }
        };
        let vip = "192.0.2.100".parse().unwrap();
        let garp = |h: &mut HostMap, mac, t| {
            let n = Neigh {
                op: NeighOp::Request,
                sender_mac: mac,
                sender_ip: vip,
                target_ip: vip,
                gratuitous: true,
            };
            h.neigh.observe(&n, at(t));
        };
        garp(&mut h, ma, 0.1);
        let mc = "224.0.0.18".parse().unwrap();
        for s in 0..5 {
            h.vrrp.observe(
                at(f64::from(s)),
                "192.0.2.2".parse().unwrap(),
                Some(ma),
                mc,
                &adv(150),
            );
        }
        for s in 8..14 {
            h.vrrp.observe(
                at(f64::from(s)),
                "192.0.2.3".parse().unwrap(),
                Some(mb),
                mc,
                &adv(100),
            );
        }
        if b_announces {
            garp(&mut h, mb, 8.1);
        }
        let model = Model::default();
        crate::checks::conclude(&mut VrrpVipOwnerMismatch, &model, &h)
    }

    #[test]
    fn a_new_master_that_never_announced_the_vip() {
        let out = run(false);
        assert_eq!(out.len(), 1);
        assert!(
            out[0]
                .summary
                .contains("last claimed by 02:00:00:00:0d:00 (192.0.2.2, master before)"),
            "{}",
            out[0].summary
        );
        assert!(run(true).is_empty());
    }
}
