//! `rs-arp-announce`: DR over IPv4; a real server with the VIP may use it as
//! the source of its own ARP requests (effective `arp_announce` below 2),
//! which updates neighbours' caches for the VIP to its MAC.
//!
//! Proves the fault (essential evidence):
//! - an IPv4 VIP whose IPVS configuration lists the real server in DR, and
//!   its snapshot holding the VIP (that exact address on some interface);
//! - effective `arp_announce` = max(all, iface) below 2 on the RIP's
//!   interface.
//!
//! Makes it more certain (supporting, not required):
//! - captured ARP from the real server with the VIP as sender
//!   (`vip-arp-multiple-owners`; not joined).

use super::config_view::arp_settings_below;
use super::{Check, Context};
use crate::finding::{Finding, Severity};
use crate::model::RsId;

#[derive(Clone)]
pub struct RsArpAnnounce;

impl Check for RsArpAnnounce {
    fn wants_flows(&self) -> bool {
        false
    }

    fn finish(&mut self, ctx: &Context<'_>, out: &mut Vec<Finding>) {
        for a in arp_settings_below(ctx, "arp_announce", 2) {
            let (svc, vip, rs, h, dev, v) = (a.svc, a.vip, a.rs, a.host, a.dev, a.value);
            out.push(
                Finding::new(
                    "rs-arp-announce",
                    Severity::Warning,
                    format!("{} ({}) may announce the VIP {} as the source of its ARP requests on {dev} (arp_announce {v})", rs.addr, h.host, vip),
                )
                .service(svc.key)
                .real_server(RsId::Ip(rs.addr))
                .cause(format!("When the real server answers a client from {} it resolves its gateway with ARP; with arp_announce below 2 that request may carry the VIP as sender, and the gateway then maps {} to this real server's MAC.", vip, vip))
                .config([a.config])
                .fix(format!("On {}: sysctl -w net.ipv4.conf.all.arp_announce=2 net.ipv4.conf.{}.arp_announce=2", h.host, dev.replace('.', "/"))),
            );
        }
    }
}
