//! `rs-arp-ignore`: DR over IPv4; a real server that has the VIP (on lo)
//! answers ARP requests for it on its RIP interface, because the effective
//! `arp_ignore` (max of all and the interface) is 0.

use super::config_view::{dests, line, rip_iface};
use super::{Check, Context};
use crate::finding::{Finding, Severity};
use crate::model::Mode;

pub struct RsArpIgnore;

impl Check for RsArpIgnore {
    fn finish(&mut self, ctx: &Context<'_>, out: &mut Vec<Finding>) {
        for (svc, rs, h) in dests(ctx, Mode::Dr) {
            if !svc.vip.is_ipv4() || h.ifaces_with(svc.vip).is_empty() {
                continue; // NDP has no arp_ignore; without the VIP there is nothing to answer
            }
            let Some(dev) = rip_iface(h, rs.addr) else {
                continue;
            };
            let Some((v, shown)) = h.effective_max(dev, "arp_ignore") else {
                continue;
            };
            if v >= 1 {
                continue;
            }
            out.push(
                Finding::new(
                    "rs-arp-ignore",
                    Severity::Error,
                    format!("{} ({}) answers ARP requests for the VIP {} on {dev} (arp_ignore {v})", rs.addr, h.host, svc.vip),
                )
                .service(svc.label())
                .real_server(rs.addr.to_string())
                .cause(format!("With arp_ignore 0 Linux answers ARP for any local address on any interface, the VIP on lo included: the gateway can learn this real server's MAC for {} and send clients to it instead of the director.", svc.vip))
                .config([line(h, format!("{shown} (effective {v})"))])
                .fix(format!("On {}: sysctl -w net.ipv4.conf.all.arp_ignore=1 net.ipv4.conf.{dev}.arp_ignore=1 (persist in /etc/sysctl.d/)", h.host)),
            );
        }
    }
}
