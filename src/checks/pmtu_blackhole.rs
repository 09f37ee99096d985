//! `pmtu-blackhole`: any mode; one side's full-size segments are
//! retransmitted again and again and never acknowledged while smaller
//! packets pass: a link on the path has a smaller MTU and the ICMP
//! fragmentation-needed / packet-too-big that should tell the sender is
//! filtered or never reaches it (in DR it is addressed to the VIP, so it
//! lands on the director, which must relay it to the real server).
//!
//! Proves the fault (essential evidence):
//! - an established TCP connection where one sender (the client in a TUN
//!   flow is `tun-pmtu-blackhole`'s) re-sent data 3 times or more on one
//!   leg, its smallest re-sent segment 1280 bytes or more (IP length);
//! - the other side never acknowledged past the first re-sent byte (today a
//!   sender that recovers by its own black-hole detection is not reported:
//!   see AUDIT.md). That smaller packets pass is not checked.
//!
//! Makes it more certain (supporting, not required):
//! - an ICMP fragmentation-needed / packet-too-big about that side's
//!   packets (the MTU it names, who sent it);
//! - the MSS the peer announced (the arithmetic).

use super::lifecycle::{self, PmtuVictim, MAX_KEPT};
use super::{Check, Context};
use crate::finding::{Finding, Severity};
use crate::flow::hosts::HostMap;
use crate::flow::view::FlowView;

#[derive(Default, Clone)]
pub struct PmtuBlackhole {
    victims: Vec<PmtuVictim>,
}

impl Check for PmtuBlackhole {
    fn on_flow(&mut self, v: &FlowView<'_>, _hosts: &HostMap) {
        if let Some(x) = lifecycle::pmtu_victim(v).filter(|x| !x.tunnel) {
            if self.victims.len() < MAX_KEPT {
                self.victims.push(x);
            }
        }
    }

    fn finish(&mut self, ctx: &Context<'_>, out: &mut Vec<Finding>) {
        let general: Vec<PmtuVictim> = self
            .victims
            .iter()
            .filter(|x| !lifecycle::through_tunnel(ctx, x))
            .cloned()
            .collect();
        conclude(ctx, &general, false, out);
    }
}

/// One finding per service and direction for the stalled connections.
pub(super) fn conclude(
    ctx: &Context<'_>,
    victims: &[PmtuVictim],
    tunnel: bool,
    out: &mut Vec<Finding>,
) {
    let code = if tunnel {
        "tun-pmtu-blackhole"
    } else {
        "pmtu-blackhole"
    };
    let mut keys: Vec<_> = victims
        .iter()
        .map(|x| (ctx.service(x.vaddr), x.from_client))
        .collect();
    keys.sort();
    keys.dedup();
    for (svc, from_client) in keys {
        let vs: Vec<&PmtuVictim> = victims
            .iter()
            .filter(|x| ctx.service(x.vaddr) == svc && x.from_client == from_client)
            .collect();
        let n = vs.len() as u64;
        let retx: u64 = vs.iter().map(|x| u64::from(x.retx)).sum();
        let len = vs.iter().map(|x| x.retx_len).min().unwrap_or(0);
        let mss = vs.iter().map(|x| x.peer_mss).find(|&m| m > 0);
        let icmp = vs.iter().find_map(|x| x.icmp);
        let (sender, receiver) = if from_client {
            ("the clients", "the real servers")
        } else {
            ("the real servers", "the clients")
        };
        let mss_txt = mss.map_or(String::new(), |m| {
            format!(
                " (the MSS {} announced: {m})",
                if from_client {
                    "the real server"
                } else {
                    "the client"
                }
            )
        });
        let encap = vs
            .first()
            .map(|x| super::lifecycle::encap_of(ctx, x))
            .unwrap_or_default();
        let overhead = if tunnel {
            encap.overhead(svc.vip().is_some_and(|v| v.is_ipv6()))
        } else {
            0
        };
        let path_mtu = icmp.map(|(m, ..)| m);
        let arithmetic = if tunnel {
            let link = path_mtu.map_or(1500, |m| m + overhead);
            format!(
                "{sender} send segments of {len} bytes{mss_txt}; the director adds {overhead} bytes of {} headers: {} bytes, more than the {link}-byte MTU{} towards the real servers",
                encap.name(),
                u32::from(len) + overhead,
                if path_mtu.is_some() { format!(" (from the ICMP's next-hop MTU + {overhead})") } else { " (1500 assumed: no ICMP or snapshot shows it)".to_string() }
            )
        } else {
            format!(
                "{sender} send segments of {len} bytes{mss_txt}; {}",
                path_mtu.map_or(
                    "a link on the path to ".to_string() + receiver + " has a smaller MTU",
                    |m| format!("the path to {receiver} has an MTU of {m}")
                )
            )
        };
        let icmp_txt = match icmp {
            Some((m, from, _, count)) => format!(
                "{from} answered ICMP fragmentation needed (MTU {m}) {count} time(s), but {} went on sending full-size segments: the ICMP is filtered before it reaches {}.",
                sender,
                if tunnel || from_client { "the clients".to_string() } else { "the real servers (in DR it goes to the VIP, i.e. the director, which relays it only if its firewall lets it in)".to_string() }
            ),
            None => "No ICMP fragmentation-needed / packet-too-big about them was seen: the device with the small MTU does not send it, or it is filtered before any capture point.".into(),
        };
        let fix = if tunnel {
            let adv = path_mtu.map_or(1500 - 20 - 40, |m| m.saturating_sub(40));
            format!(
                "Make the clients' segments fit the tunnel: on each real server lower the MSS it announces, ip route change <route to the clients, e.g. default via GW> advmss {adv}; or clamp it on the director: nft add rule ip mangle prerouting ip daddr {} tcp flags syn tcp option maxseg size set {adv} (in a table/chain you create); and let ICMP fragmentation-needed from the director reach the clients.",
                svc.vip().map_or("VIP".to_string(), |v| v.to_string())
            )
        } else {
            let m = path_mtu.unwrap_or(1400);
            format!(
                "Let ICMP fragmentation-needed reach the sender (on the director: accept icmp type destination-unreachable in its input chain, so IPVS can relay it to the real server); or lower the MTU of {sender}' route to the clients: ip route change default via GW mtu {m}; or clamp the MSS on the router with the small link: nft ... tcp flags syn tcp option maxseg size set rt mtu."
            )
        };
        let mut ev: Vec<_> = vs.iter().take(4).map(|x| x.first_retx).collect();
        ev.extend(icmp.map(|(_, _, e, _)| e));
        let span = lifecycle::span(vs.iter().map(|x| x.first_ts));
        let config = if tunnel {
            lifecycle::director_mtus(ctx)
        } else {
            Vec::new()
        };
        let mut f = Finding::new(
            code,
            Severity::Error,
            format!(
                "{n} connection(s) to {svc} stalled: {sender} retransmitted full-size segments ({len}+ bytes) {retx} times and they were never acknowledged"
            ),
        )
        .service(svc)
        .cause(format!("A path MTU black hole: {arithmetic}. {icmp_txt}"))
        .evidence(ev)
        .config(config)
        .affected(n)
        .fix(fix);
        f.span = span;
        f.moment = vs
            .iter()
            .map(|x| x.first_retx.time)
            .min()
            .map(|t| (t, "first full-size segment retransmitted".to_string()));
        out.push(f);
    }
}
