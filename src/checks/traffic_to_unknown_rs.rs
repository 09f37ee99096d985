//! `traffic-to-unknown-rs`: the captures show the director forwarding
//! connections of a service to a real server that the director's IPVS (its
//! snapshot) does not list for that service.
//!
//! Proves the fault (essential evidence):
//! - a director snapshot with an IPVS service covering the VIP:port;
//! - a connection the captures show forwarded to a real server whose address
//!   is known (NAT, TUN: the RIP; DR: through captured ARP for its MAC or
//!   the snapshots) and that no director snapshot lists for the service;
//! - new connections to it did not stop during the capture while the others
//!   went on (else it was removed since: `rs-removed-blackholes-established`).
//!
//! Makes it more certain (supporting, not required):
//! - the number of connections (reported).

use super::config_view::{ipvs_services, line};
use super::{Check, Context};
use crate::finding::{Finding, Severity};
use crate::model::RsId;

#[derive(Default, Clone)]
pub struct TrafficToUnknownRs;

impl Check for TrafficToUnknownRs {
    fn wants_flows(&self) -> bool {
        false
    }

    fn finish(&mut self, ctx: &Context<'_>, out: &mut Vec<Finding>) {
        let svcs: Vec<_> = ipvs_services(ctx.snapshots).collect();
        for (va, ip, t) in ctx.shared.forwarded.each(ctx) {
            let Some(ip) = ip else { continue };
            let mine: Vec<_> = svcs.iter().filter(|(_, k, _)| ctx.covers(*k, va)).collect();
            if mine.is_empty() || ip == va.ip {
                continue; // no snapshot of this service's director
            }
            if mine
                .iter()
                .any(|(_, _, s)| s.destinations.iter().any(|d| d.address == ip))
            {
                continue;
            }
            let (dir, key, s) = mine[0];
            // Removed during the capture: new connections stopped going to
            // it while the others went on (what its established ones then
            // suffered is rs-removed-blackholes-established's).
            if ctx.shared.forwarded.stopped_during_capture(ctx, *key, ip) {
                continue;
            }
            let mut addrs: Vec<_> = s.destinations.iter().map(|d| d.address).collect();
            addrs.sort();
            let listed: Vec<String> = addrs.iter().map(|a| a.to_string()).collect();
            out.push(
                Finding::new(
                    "traffic-to-unknown-rs",
                    Severity::Warning,
                    format!("{} connection(s) to {} went to {ip}, which is not a real server of it in {}'s IPVS", t.flows, key, dir.host),
                )
                .service(*key)
                .real_server(RsId::Ip(ip))
                .cause("Another director (a backup that took over, or a second active one) forwards with a different configuration, or the configuration changed after the capture.".to_string())
                .evidence_set(&t.evidence).affected(t.flows)
                .config([line(dir, format!("{key} real servers: {}", if listed.is_empty() { "none".into() } else { listed.join(", ") }))])
                .fix(format!("Compare ipvsadm -S -n on every director (keepalived configs); remove {ip} where it should not be, or add it on {}", dir.host)),
            );
        }
    }
}
