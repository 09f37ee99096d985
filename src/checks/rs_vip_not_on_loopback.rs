//! `rs-vip-not-on-loopback`: DR; a real server's snapshot shows the VIP not
//! on `lo`: either nowhere (it drops the forwarded frames: the IP is not
//! local) or on a real interface (it answers ARP for the VIP).
//!
//! Proves the fault (essential evidence):
//! - the IPVS configuration lists the real server in DR for an address
//!   service (firewall-mark services are skipped), and a snapshot of the host
//!   holding its RIP on a non-loopback interface;
//! - that snapshot has the VIP as an address on no interface and no prefix
//!   on lo or `local` route through it covers it, or it is on an interface
//!   that is neither lo nor a dummy (NOARP) device.
//!
//! Makes it more certain (supporting, not required):
//! - `dr-rs-no-reply`, `vip-arp-multiple-owners` or
//!   `vip-traffic-bypasses-director` on the same real server (joined by
//!   `confirm`).

use super::config_view::{addr_cmd, dests, line};
use super::{Check, Context};
use crate::finding::{Finding, Severity};
use crate::model::{Mode, RsId};

#[derive(Clone)]
pub struct RsVipNotOnLoopback;

impl Check for RsVipNotOnLoopback {
    fn wants_flows(&self) -> bool {
        false
    }

    fn finish(&mut self, ctx: &Context<'_>, out: &mut Vec<Finding>) {
        for (svc, vip, rs, h) in dests(ctx, Mode::Dr) {
            let mut on = h.ifaces_with(vip);
            // A prefix or a local route on lo holds it too (many VIPs).
            if on.is_empty() {
                on.extend(h.local_via_loopback(vip));
            }
            // A dummy device (NOARP, like kube-ipvs0) holds it as lo does:
            // ARP for it is the sysctls' to stop, on either.
            let quiet = |i: &str| {
                h.is_loopback(i)
                    || h.links
                        .iter()
                        .any(|l| l.name == i && l.kind.as_deref() == Some("dummy"))
            };
            let on_lo = on.iter().any(|i| quiet(i));
            let wire: Vec<&str> = on.iter().copied().filter(|i| !quiet(i)).collect();
            let rip = rs.addr.to_string();
            let f = if on.is_empty() {
                Finding::new(
                    "rs-vip-not-on-loopback",
                    Severity::Error,
                    format!("{rip} ({}) does not have the VIP {vip} on lo: it drops every connection the director forwards to it", h.host),
                )
                .cause(format!("In DR the director only rewrites the destination MAC; the packet is still addressed to {vip}. A host that does not own {vip} does not accept it (and does not route it back out)."))
                .config([line(h, format!("{vip} is on no interface; {}", h.describe_iface("lo")))])
                .fix(format!("On {}: {}", h.host, addr_cmd("add", vip, "lo")))
            } else if !wire.is_empty() {
                let dev = wire[0];
                Finding::new(
                    "rs-vip-not-on-loopback",
                    Severity::Error,
                    format!("{rip} ({}) has the VIP {vip} on {dev} instead of lo: it answers ARP for the VIP and takes traffic meant for the director", h.host),
                )
                .cause(format!("An address on {dev} is announced and answered for on that segment; the gateway may send client traffic for {vip} straight to this real server, bypassing IPVS."))
                .config([line(h, format!("{vip} on {}{}", wire.join(", "), if on_lo { " (and lo)" } else { "" }))])
                .fix(format!("On {}: {}; {}", h.host, addr_cmd("del", vip, dev), if on_lo { String::new() } else { addr_cmd("add", vip, "lo") }).trim_end_matches("; ").to_string())
            } else {
                continue;
            };
            out.push(f.service(svc.key).real_server(RsId::Ip(rs.addr)));
        }
    }
}
