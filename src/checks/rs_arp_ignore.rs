//! `rs-arp-ignore`: DR over IPv4; a real server that has the VIP (on lo)
//! answers ARP requests for it on its RIP interface, because the effective
//! `arp_ignore` (max of all and the interface) is 0.
//!
//! Proves the fault (essential evidence):
//! - an IPv4 VIP whose IPVS configuration lists the real server in DR, and
//!   its snapshot holding the VIP (that exact address on some interface);
//! - effective `arp_ignore` = max(all, iface) is 0 on the RIP's interface.
//!
//! Makes it more certain (supporting, not required):
//! - `vip-arp-multiple-owners` / `vip-traffic-bypasses-director` on the same
//!   real server in the traffic (joined by `confirm`).

use super::config_view::arp_settings_below;
use super::{Check, Context};
use crate::finding::{Finding, Severity};
use crate::model::RsId;

#[derive(Clone)]
pub struct RsArpIgnore;

impl Check for RsArpIgnore {
    fn wants_flows(&self) -> bool {
        false
    }

    fn finish(&mut self, ctx: &Context<'_>, out: &mut Vec<Finding>) {
        for a in arp_settings_below(ctx, "arp_ignore", 1) {
            let (svc, vip, rs, h, dev, v) = (a.svc, a.vip, a.rs, a.host, a.dev, a.value);
            out.push(
                Finding::new(
                    "rs-arp-ignore",
                    Severity::Error,
                    format!("{} ({}) answers ARP requests for the VIP {} on {dev} (arp_ignore {v})", rs.addr, h.host, vip),
                )
                .service(svc.key)
                .real_server(RsId::Ip(rs.addr))
                .cause(format!("With arp_ignore 0 Linux answers ARP for any local address on any interface, the VIP on lo included: the gateway can learn this real server's MAC for {} and send clients to it instead of the director.", vip))
                .config([a.config])
                .fix(format!("On {}: sysctl -w net.ipv4.conf.all.arp_ignore=1 net.ipv4.conf.{}.arp_ignore=1 (persist in /etc/sysctl.d/)", h.host, dev.replace('.', "/"))),
            );
        }
    }
}
