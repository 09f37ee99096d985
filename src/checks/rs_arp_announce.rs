//! `rs-arp-announce`: DR over IPv4; a real server with the VIP may use it as
//! the source of its own ARP requests (effective `arp_announce` below 2),
//! which updates neighbours' caches for the VIP to its MAC.

use super::config_view::{dests, line, rip_iface};
use super::{Check, Context};
use crate::finding::{Finding, Severity};
use crate::model::Mode;

pub struct RsArpAnnounce;

impl Check for RsArpAnnounce {
    fn finish(&mut self, ctx: &Context<'_>, out: &mut Vec<Finding>) {
        for (svc, rs, h) in dests(ctx, Mode::Dr) {
            if !svc.vip.is_ipv4() || h.ifaces_with(svc.vip).is_empty() {
                continue;
            }
            let Some(dev) = rip_iface(h, rs.addr) else {
                continue;
            };
            let Some((v, shown)) = h.effective_max(dev, "arp_announce") else {
                continue;
            };
            if v >= 2 {
                continue;
            }
            out.push(
                Finding::new(
                    "rs-arp-announce",
                    Severity::Warning,
                    format!("{} ({}) may announce the VIP {} as the source of its ARP requests on {dev} (arp_announce {v})", rs.addr, h.host, svc.vip),
                )
                .service(svc.label())
                .real_server(rs.addr.to_string())
                .cause(format!("When the real server answers a client from {} it resolves its gateway with ARP; with arp_announce below 2 that request may carry the VIP as sender, and the gateway then maps {} to this real server's MAC.", svc.vip, svc.vip))
                .config([line(h, format!("{shown} (effective {v})"))])
                .fix(format!("On {}: sysctl -w net.ipv4.conf.all.arp_announce=2 net.ipv4.conf.{dev}.arp_announce=2", h.host)),
            );
        }
    }
}
