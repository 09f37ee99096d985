//! `dr-rs-gateway-director`: DR/TUN; a real server's route back to the
//! clients goes via the director. The replies then cross the director, which
//! drops them as martians unless `accept_local=1`, and either way loads it
//! with the traffic DR is meant to keep off it.
//!
//! Proves the fault (essential evidence):
//! - the IPVS configuration (director snapshot or `--ipvs`) lists the real
//!   server in DR or TUN for an address service, and it has a snapshot;
//! - a director snapshot (the one with the service, else any director's);
//! - the real server's main-table route to a client seen for the VIP (else
//!   its default route) has a gateway that is one of that director's
//!   addresses.
//!
//! Makes it more certain (supporting, not required):
//! - clients seen in the traffic (else the default route stands for them);
//! - the director's `net.ipv4.conf.all.accept_local`;
//! - `dr-reply-via-director` in the traffic (joined by `confirm`).

use super::config_view::{dests, director_for, line, probe_name, route_for};
use super::{Check, Context};
use crate::finding::{Finding, Severity};
use crate::model::Mode;
use crate::model::RsId;
use crate::system::HostSnapshot;

#[derive(Default, Clone)]
pub struct DrRsGatewayDirector;

impl Check for DrRsGatewayDirector {
    fn wants_flows(&self) -> bool {
        false
    }

    fn finish(&mut self, ctx: &Context<'_>, out: &mut Vec<Finding>) {
        for mode in [Mode::Dr, Mode::Tun] {
            for (svc, vip, rs, h) in dests(ctx, mode) {
                let Some(dir) = director_for(ctx.snapshots, svc) else {
                    continue;
                };
                let mut lines = Vec::new();
                let mut via = None;
                for p in ctx.shared.clients.probes(vip) {
                    let Some(r) = route_for(h, p, vip.is_ipv6()) else {
                        continue;
                    };
                    if let Some(g) = r.gateway.filter(|g| !dir.ifaces_with(*g).is_empty()) {
                        via = Some(g);
                        lines.push(line(
                            h,
                            format!(
                                "route to {}: {}",
                                probe_name(p),
                                HostSnapshot::describe_route(r)
                            ),
                        ));
                        break;
                    }
                }
                let Some(g) = via else { continue };
                lines.push(line(dir, format!("{g} is the director's address")));
                if let Some(al) = dir.sysctl("net.ipv4.conf.all.accept_local") {
                    lines.push(line(dir, format!("net.ipv4.conf.all.accept_local = {al}")));
                }
                out.push(
                    Finding::new(
                        "dr-rs-gateway-director",
                        Severity::Warning,
                        format!("{} ({}) routes its replies via the director {g}, not the gateway", rs.addr, h.host),
                    )
                    .service(svc.key)
                    .real_server(RsId::Ip(rs.addr))
                    .cause(format!("In {mode} the replies should go from the real server straight to the clients' gateway. Through the director they carry source {} to a host that owns it: dropped as martians unless accept_local=1 there, and the director carries both directions.", vip))
                    .config(lines)
                    .fix(format!("On {}: route the clients via the segment's gateway (ip route replace default via <gateway>), not via {g}", h.host)),
                );
            }
        }
    }
}
