//! `vip-arp-multiple-owners`: more than one MAC answers ARP (or announces by
//! gratuitous ARP / unsolicited NA) for a VIP at the same time. The classic
//! LVS-DR "ARP problem": a real server holding the VIP without
//! `arp_ignore=1`/`arp_announce=2` steals the VIP's traffic from the director.
//!
//! Proves the fault (essential evidence):
//! - ARP/ND claims for the VIP of an address service from more than one MAC
//!   that are not one clean hand-over (overlapping, back and forth, more than
//!   two claimants: `Ownership::Conflict`), or a clean move to or from a MAC
//!   that received forwarded connections (a real server).
//!
//! Makes it more certain (supporting, not required):
//! - a claimant known as a director (seen forwarding, or a VRRP router for
//!   the VIP): the others are then named as the wrong owners;
//! - VRRP `vrrp-split-brain` / `vrrp-master-flapping` between the claimants
//!   explains it (info);
//! - `rs-vip-not-on-loopback` / `rs-arp-ignore` on the same real server
//!   (joined by `confirm`).

use super::{config_view, vrrp_common, Check, Context};
use crate::decode::{fmt_mac, Mac};
use crate::finding::{Finding, Severity};
use crate::flow::neigh::Ownership;
use crate::model::{Mode, RsId};

#[derive(Clone)]
pub struct VipArpMultipleOwners;

impl Check for VipArpMultipleOwners {
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
            let macs = match claims.ownership() {
                Ownership::Conflict { macs } => macs,
                // A "failover" to or from a real server is a stolen VIP, not a failover.
                Ownership::Moves(moves)
                    if moves.iter().any(|m| {
                        ctx.hosts.is_real_server(m.from) || ctx.hosts.is_real_server(m.to)
                    }) =>
                {
                    claims.by_mac.iter().map(|c| c.mac).collect()
                }
                _ => continue,
            };
            let all: Vec<String> = macs.iter().map(|m| ctx.describe_mac(*m)).collect();
            let evidence = claims
                .by_mac
                .iter()
                .flat_map(|c| c.evidence.iter())
                .chain(claims.switch_evidence.iter());
            // A MAC that advertises VRRP for this VIP is a director too,
            // forwarding or not.
            let vrrp_router = |m: &Mac| {
                ctx.hosts.vrrp.vrids.values().any(|x| {
                    x.routers
                        .iter()
                        .any(|r| r.mac == Some(*m) && r.addrs.contains(&vip))
                })
            };
            // In NAT no real server holds the VIP: whoever claims it is a
            // director (kube-proxy: every node, its kube-ipvs0 holding it).
            let nat = ctx
                .model
                .services
                .iter()
                .any(|s| s.key.vip() == Some(vip) && s.mode == Some(Mode::Nat));
            let wrong: Vec<_> = macs
                .iter()
                .copied()
                .filter(|m| !nat && !ctx.hosts.is_director(*m) && !vrrp_router(m))
                .collect();
            // Nodes holding it on a dummy interface that answers ARP
            // (kube-proxy with strictARP off): the snapshots say which.
            let dummies: Vec<String> = ctx
                .snapshots
                .iter()
                .filter_map(|h| {
                    let dev = h.dummy_with(vip)?;
                    let (v, _) = h.effective_max(dev, "arp_ignore").unwrap_or((0, String::new()));
                    (v < 1).then(|| {
                        config_view::line(
                            h,
                            format!("{vip} on dummy {dev}, arp_ignore {v} (answers ARP for it on every interface)"),
                        )
                    })
                })
                .collect();
            if wrong.is_empty() || wrong.len() == macs.len() {
                // Directors that VRRP shows at odds: the VRRP finding is the
                // cause, this its consequence on the gateway's ARP cache.
                let explained = wrong
                    .is_empty()
                    .then(|| vrrp_common::explains_arp(ctx, vip, &macs))
                    .flatten();
                // Two directors at once (split brain), or nobody seen forwarding:
                // we cannot tell which claim is the wrong one.
                let what = if nat {
                    "directors (in NAT no real server holds the VIP)"
                } else if wrong.is_empty() {
                    "directors (split brain: both hold the VIP)"
                } else {
                    "hosts"
                };
                let mut f = Finding::new(
                    "vip-arp-multiple-owners",
                    Severity::Error,
                    format!(
                        "{} MACs claim VIP {vip} at the same time: {}; {what}",
                        macs.len(),
                        all.join(", ")
                    ),
                );
                let mut vrrp_words = None;
                if let Some(code) = explained {
                    f.severity = Severity::Info;
                    f.explained_by = Some(code);
                    vrrp_words = Some((
                        format!("The directors' VRRP ({code}) lets more than one of them hold the VIP, each sending gratuitous ARPs and answering ARP for it; the gateway sends VIP traffic to whichever it heard last."),
                        format!("Fix the {code} finding; then only the VRRP master holds {vip} and announces it."),
                    ));
                }
                let kube = (nat || !dummies.is_empty()).then(|| (
                    format!("In NAT no real server holds the VIP, so every host claiming {vip} is a director. Several nodes hold it and answer ARP for it: kube-proxy in IPVS mode binds every LoadBalancer and external IP to the dummy interface kube-ipvs0 on every node, and with strictARP off (the default) each node answers ARP for it on its real interfaces; the gateway sends the VIP's traffic to whichever answered last, and an L2 announcer (MetalLB) loses control of it."),
                    format!("kube-proxy: set ipvs.strictARP: true in its configuration (kubectl edit configmap -n kube-system kube-proxy; it then sets arp_ignore=1 and arp_announce=2), so that only the announcer's node answers for {vip}. Elsewhere: sysctl -w net.ipv4.conf.all.arp_ignore=1 net.ipv4.conf.all.arp_announce=2 on every node but the VIP's owner."),
                ));
                let (cause, fix) = vrrp_words.or(kube).unwrap_or_else(|| (
                    "More than one host answers ARP for the VIP, so the gateway sends VIP traffic to whichever answered last. Either two directors hold the VIP (keepalived/VRRP split brain: check that VRRP adverts pass between them), or a real server holds the VIP on an interface that answers ARP.".to_string(),
                    format!("On every real server: ip addr del {vip}/32 dev eth0 2>/dev/null; ip addr add {vip}/32 dev lo; sysctl -w net.ipv4.conf.all.arp_ignore=1 net.ipv4.conf.all.arp_announce=2. On the directors: make sure only one holds {vip} (keepalived: check that VRRP adverts reach the backup)."),
                ));
                out.push(
                    f.service(label)
                        .cause(cause)
                        .evidence(evidence)
                        .config(dummies)
                        .fix(fix),
                );
                continue;
            }
            for m in wrong {
                let rs_id = ctx.mac_ip(m).map_or(RsId::Mac(m), RsId::Ip);
                let rs = rs_id.to_string();
                let c = claims.by_mac.iter().find(|c| c.mac == m).expect("claimant");
                // IPv6: neighbour solicitations answered, unsolicited advertisements.
                let (req, grat) = if vip.is_ipv6() {
                    (
                        "neighbour solicitation(s)",
                        "unsolicited neighbour advertisement(s)",
                    )
                } else {
                    ("ARP request(s)", "gratuitous ARP(s)")
                };
                let how = match (c.replies, c.gratuitous) {
                    (0, 0) if vip.is_ipv6() => "sends neighbour discovery from".to_string(),
                    (0, 0) => "sends ARP from".to_string(),
                    (r, 0) => format!("answered {r} {req} for"),
                    (0, g) => format!("sent {g} {grat} for"),
                    (r, g) => format!("answered {r} {req} and sent {g} {grat} for"),
                };
                out.push(
                    Finding::new(
                        "vip-arp-multiple-owners",
                        Severity::Error,
                        format!("real server {rs} ({}) {how} VIP {vip}; the director also claims it (claimants: {})", fmt_mac(&m), all.join(", ")),
                    )
                    .service(label)
                    .real_server(rs_id)
                    .cause(format!("{rs} answers ARP for the VIP: the VIP is on an interface other than lo, or arp_ignore/arp_announce are not set (the kernel uses the max of conf.all and conf.<iface>). The gateway then sends clients straight to {rs}, bypassing the director and its scheduling."))
                    .evidence(c.evidence.iter().chain(claims.switch_evidence.iter()))
                    .fix(format!("On {rs}: ip addr del {vip}/32 dev eth0 2>/dev/null; ip addr add {vip}/32 dev lo; sysctl -w net.ipv4.conf.all.arp_ignore=1 net.ipv4.conf.eth0.arp_ignore=1 net.ipv4.conf.all.arp_announce=2 net.ipv4.conf.eth0.arp_announce=2 (persist in /etc/sysctl.d/). Then on the director re-announce: arping -c 3 -U -I eth0 {vip}.")),
                );
            }
        }
    }
}
