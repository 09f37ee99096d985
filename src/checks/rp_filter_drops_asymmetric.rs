//! `rp-filter-drops-asymmetric`: DR/TUN over IPv4; the interface where the
//! forwarded client packets arrive has strict reverse-path filtering
//! (effective `rp_filter` = max(all, iface) = 1), but the real server's route
//! back to the client leaves by another interface: the kernel drops them.
//!
//! Proves the fault (essential evidence):
//! - an IPv4 VIP whose IPVS configuration lists the real server in DR or
//!   TUN, and the real server's snapshot;
//! - effective `rp_filter` 1 on the input interface (DR: the RIP's; TUN:
//!   the non-loopback interface holding the VIP, else `tunl0`);
//! - its main-table route to a client seen for the VIP (else its default
//!   route) leaves by another interface.
//!
//! Makes it more certain (supporting, not required):
//! - the clients actually seen (else the default route stands for them);
//! - `dr-rs-no-reply` / `tun-rs-no-reply` in the traffic (joined by
//!   `confirm`).

use super::config_view::{bad_routes_back, dests, line, rip_iface};
use super::{Check, Context};
use crate::finding::{Finding, Severity};
use crate::model::Mode;
use crate::model::RsId;

#[derive(Default, Clone)]
pub struct RpFilterDropsAsymmetric;

impl Check for RpFilterDropsAsymmetric {
    fn wants_flows(&self) -> bool {
        false
    }

    fn finish(&mut self, ctx: &Context<'_>, out: &mut Vec<Finding>) {
        for mode in [Mode::Dr, Mode::Tun] {
            for (svc, vip, rs, h) in dests(ctx, mode) {
                if !vip.is_ipv4() {
                    continue; // IPv6 has no rp_filter sysctl
                }
                // Where the client's packets arrive: DR on the RIP's interface,
                // TUN decapsulated on the tunnel device holding the VIP.
                let input = match mode {
                    Mode::Tun => h
                        .ifaces_with(vip)
                        .into_iter()
                        .find(|i| !h.is_loopback(i))
                        .or_else(|| {
                            h.links
                                .iter()
                                .find(|l| l.name == "tunl0")
                                .map(|l| l.name.as_str())
                        }),
                    _ => rip_iface(h, rs.addr),
                };
                let Some(input) = input else { continue };
                let Some((v, shown)) = h.effective_max(input, "rp_filter") else {
                    continue;
                };
                if v != 1 {
                    continue;
                }
                let (bad, routes) = bad_routes_back(h, &ctx.shared.clients, vip, |r| {
                    r.and_then(|r| r.dev.as_deref()) == Some(input)
                });
                let mut lines = vec![line(h, format!("{shown} (effective {v}: strict)"))];
                lines.extend(routes);
                if bad.is_empty() {
                    continue;
                }
                out.push(
                    Finding::new(
                        "rp-filter-drops-asymmetric",
                        Severity::Error,
                        format!("{} ({}) drops client packets arriving on {input}: strict rp_filter, and its route back to {} leaves by another interface", rs.addr, h.host, bad.join(", ")),
                    )
                    .service(svc.key)
                    .real_server(RsId::Ip(rs.addr))
                    .cause(format!("With rp_filter 1 the kernel accepts a packet only if its route back to the source uses the interface it came in on. Forwarded client packets arrive on {input}, the route to the clients does not use {input}, so they are dropped before any socket sees them."))
                    .config(lines)
                    .fix(format!("On {}: sysctl -w net.ipv4.conf.all.rp_filter=2 net.ipv4.conf.{}.rp_filter=2 (loose mode), or route the clients back via {input}", h.host, input.replace('.', "/"))),
                );
            }
        }
    }
}
