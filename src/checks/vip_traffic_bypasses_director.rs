//! `vip-traffic-bypasses-director`: client→VIP frames that the gateway sends
//! straight to a real server's MAC instead of the director's, so IPVS never
//! schedules them. The consequence of a real server answering ARP for the VIP.
//!
//! Proves the fault (essential evidence):
//! - a client→VIP copy (not encapsulated, in a flow not forwarded in NAT or
//!   TUN) addressed to a MAC that is not a director and not sent by one;
//! - that MAC is a real server: it received forwarded connections in these
//!   captures, or claimed the VIP by ARP/ND, or it is a configured real
//!   server's (its RIP by ARP or the snapshots);
//! - some director seen forwarding in the captures, or (none seen) the MAC
//!   a configured real server's: else the frames may be the director's own.
//!
//! Makes it more certain (supporting, not required):
//! - the MAC's claim of the VIP (ARP/ND), its RIP from captured ARP;
//! - `rs-vip-not-on-loopback` / `rs-arp-ignore` on the same real server
//!   (joined by `confirm`).

use super::{Check, Context};
use crate::decode::{fmt_mac, Mac};
use crate::finding::{Evidence, EvidenceSet, Finding, Severity};
use crate::flow::hosts::HostMap;
use crate::flow::view::FlowView;
use crate::model::{Mode, RsId, Vaddr};
use std::collections::BTreeMap;

/// Key: (VIP, port, destination MAC, source MAC).
type FrameKey = (Vaddr, Mac, Option<Mac>);

#[derive(Default, Clone)]
pub struct VipTrafficBypassesDirector {
    /// (VIP, port, destination MAC, source MAC) of client SYNs that were not
    /// the director's forwarded copies.
    to_mac: BTreeMap<FrameKey, (u64, EvidenceSet)>,
}

const MAX_KEYS: usize = 4096;

impl Check for VipTrafficBypassesDirector {
    fn on_flow(&mut self, v: &FlowView<'_>, _hosts: &HostMap) {
        if matches!(v.mode, Some(Mode::Nat | Mode::Tun)) {
            return;
        }
        let mut seen: Option<Mac> = None;
        for c in &v.flow.opens {
            let (Some(d), true) = (c.dst_mac, c.outer.is_none() && c.dst == v.vaddr.ip) else {
                continue;
            };
            let from_director = v.director_mac.is_some() && c.src_mac == v.director_mac;
            if from_director || Some(d) == v.director_mac || seen == Some(d) {
                continue;
            }
            seen = Some(d);
            let k = (v.vaddr, d, c.src_mac);
            if self.to_mac.len() >= MAX_KEYS && !self.to_mac.contains_key(&k) {
                continue;
            }
            let e = self.to_mac.entry(k).or_default();
            e.0 += 1;
            e.1.push(c.at);
        }
    }

    fn finish(&mut self, ctx: &Context<'_>, out: &mut Vec<Finding>) {
        // Without a director seen forwarding, only a MAC that is a
        // configured real server's (by ARP or the snapshots) tells a
        // bypass from the director itself.
        let director_seen = ctx.hosts.directors().next().is_some();
        let configured_rs = |mac: &Mac| {
            ctx.mac_ip(*mac)
                .is_some_and(|ip| ctx.model.real_server(ip).is_some())
        };
        let mut merged: BTreeMap<(Vaddr, Mac), (u64, EvidenceSet)> = BTreeMap::new();
        for ((va, mac, src), (n, ev)) in &self.to_mac {
            if ctx.hosts.is_director(*mac) || src.is_some_and(|s| ctx.hosts.is_director(s)) {
                continue;
            }
            let e = merged.entry((*va, *mac)).or_default();
            e.0 += n;
            e.1.extend(ev.iter());
        }
        for ((va, mac), (n, ev)) in &merged {
            let (vip, port) = (&va.ip, &va.port);
            // Claiming the VIP makes a real server only beside another
            // claimant (the one host that answers for it is its owner).
            let claims_vip = crate::flow::view::claims_beside_another(ctx.hosts, *vip, *mac);
            let configured = configured_rs(mac);
            if !director_seen && !configured {
                continue; // cannot tell a bypass from the director
            }
            // A director is never a real server: a host whose own address
            // is a virtual service (kube-proxy's NodePort on the node's
            // address), or, in NAT, one that merely claims the VIP (no NAT
            // real server holds it: its owner is a director that forwarded
            // nothing here).
            let nat = ctx
                .model
                .services
                .iter()
                .any(|s| ctx.covers(s.key, *va) && s.mode == Some(Mode::Nat));
            if !configured
                && (ctx.mac_ip(*mac).is_some_and(|ip| ctx.model.is_vip(ip))
                    || (nat && !ctx.hosts.is_real_server(*mac)))
            {
                continue;
            }
            if !ctx.hosts.is_real_server(*mac) && !claims_vip && !configured {
                continue; // e.g. the client's frame to its own gateway
            }
            let certain = if director_seen {
                ""
            } else {
                " No director was seen forwarding in these captures (the real server is known from the configuration): a capture on the director's segment would make it certain."
            };
            let rs_id = ctx.mac_ip(*mac).map_or(RsId::Mac(*mac), RsId::Ip);
            let rs = rs_id.to_string();
            let evidence: Vec<Evidence> = ev.iter().collect();
            out.push(
                Finding::new(
                    "vip-traffic-bypasses-director",
                    Severity::Error,
                    format!("{n} connection(s) to {} were sent straight to real server {rs} ({}), bypassing the director", std::net::SocketAddr::new(*vip, *port), fmt_mac(mac)),
                )
                .service(ctx.service(*va))
                .real_server(rs_id)
                .cause(format!("The gateway's ARP entry for {vip} points at {rs}: it answered ARP for the VIP (VIP on eth0, or arp_ignore/arp_announce not set). These connections are never scheduled by IPVS, persistence and weights are ignored, and if {rs} goes down clients fail.{certain}"))
                .evidence(evidence)
                .fix(format!("On {rs}: move the VIP to lo and set sysctl -w net.ipv4.conf.all.arp_ignore=1 net.ipv4.conf.all.arp_announce=2; then refresh the gateway's entry: on the gateway ip neigh del {vip} dev <iface>, or from the director arping -c 3 -U -I eth0 {vip}.")),
            );
        }
    }
}
