//! `weight-zero-receiving`: the captures show new connections forwarded to a
//! real server that the director's IPVS has at weight 0 (quiesced).
//!
//! Proves the fault (essential evidence):
//! - a director snapshot whose IPVS service has the real server at weight 0;
//! - new connections of that service the captures show forwarded to its
//!   address (NAT, TUN: the RIP; DR: through captured ARP for its MAC or
//!   the snapshots);
//! - new connections to it did not stop during the capture while the others
//!   went on (else it was drained since and the snapshot is newer).
//!
//! Makes it more certain (supporting, not required):
//! - a persistent service (the cause then names persistence templates).

use super::config_view::{describe_dest, ipvs_services, line};
use super::{Check, Context};
use crate::finding::{Finding, Severity};
use crate::model::RsId;

#[derive(Default, Clone)]
pub struct WeightZeroReceiving;

impl Check for WeightZeroReceiving {
    fn wants_flows(&self) -> bool {
        false
    }

    fn finish(&mut self, ctx: &Context<'_>, out: &mut Vec<Finding>) {
        for (dir, key, s) in ipvs_services(ctx.snapshots) {
            for d in s.destinations.iter().filter(|d| d.weight == 0) {
                let n = ctx.shared.forwarded.count(ctx, key, Some(d.address));
                // Drained during the capture: new connections stopped going
                // to it while the others went on (a clean quiesce).
                if n == 0
                    || ctx
                        .shared
                        .forwarded
                        .stopped_during_capture(ctx, key, d.address)
                {
                    continue;
                }
                let ev: Vec<_> = ctx
                    .shared
                    .forwarded
                    .each(ctx)
                    .filter(|(va, ip, _)| ctx.covers(key, *va) && *ip == Some(d.address))
                    .flat_map(|(_, _, t)| t.evidence.iter().collect::<Vec<_>>())
                    .collect();
                out.push(
                    Finding::new(
                        "weight-zero-receiving",
                        Severity::Warning,
                        format!("{n} new connection(s) went to {}, which has weight 0 in IPVS", d.address),
                    )
                    .service(key)
                    .real_server(RsId::Ip(d.address))
                    .cause(if s.persistent {
                        "Persistence templates keep sending returning clients to it until they expire (ipvsadm -Lnc shows TEMPLATE entries), or the weight was set to 0 after the capture.".to_string()
                    } else {
                        "The weight was set to 0 after these connections (the snapshot is newer than the capture), or another director still has it with a weight.".to_string()
                    })
                    .evidence(ev)
                    .config([line(dir, format!("{key} {}", describe_dest(d)))])
                    .fix(format!("On {}: ipvsadm -Lnc | grep {} (templates); to drain immediately: sysctl -w net.ipv4.vs.expire_quiescent_template=1", dir.host, d.address)),
                );
            }
        }
    }
}
