//! `weight-zero-receiving`: the captures show new connections forwarded to a
//! real server that the director's IPVS has at weight 0 (quiesced).

use super::config_view::{describe_dest, ipvs_services, line, Forwarded};
use super::{Check, Context};
use crate::finding::{Finding, Severity};
use crate::flow::hosts::HostMap;
use crate::flow::view::FlowView;

#[derive(Default, Clone)]
pub struct WeightZeroReceiving(Forwarded);

impl Check for WeightZeroReceiving {
    fn on_flow(&mut self, v: &FlowView<'_>, _hosts: &HostMap) {
        self.0.observe(v);
    }

    fn finish(&mut self, ctx: &Context<'_>, out: &mut Vec<Finding>) {
        for (dir, s) in ipvs_services(ctx.snapshots) {
            let (Some(vip), Some(port)) = (s.address, s.port) else {
                continue;
            };
            for d in s.destinations.iter().filter(|d| d.weight == 0) {
                let n = self.0.count(ctx, vip, port, Some(d.address));
                if n == 0 {
                    continue;
                }
                let ev: Vec<_> = self
                    .0
                    .each(ctx)
                    .filter(|(v, p, ip, _)| *v == vip && *p == port && *ip == Some(d.address))
                    .flat_map(|(_, _, _, t)| t.evidence.iter().collect::<Vec<_>>())
                    .collect();
                out.push(
                    Finding::new(
                        "weight-zero-receiving",
                        Severity::Warning,
                        format!("{n} new connection(s) went to {}, which has weight 0 in IPVS", d.address),
                    )
                    .service(s.label())
                    .real_server(d.address.to_string())
                    .cause(if s.persistent {
                        "Persistence templates keep sending returning clients to it until they expire (ipvsadm -Lnc shows TEMPLATE entries), or the weight was set to 0 after the capture.".to_string()
                    } else {
                        "The weight was set to 0 after these connections (the snapshot is newer than the capture), or another director still has it with a weight.".to_string()
                    })
                    .evidence(ev)
                    .config([line(dir, format!("{} {}", s.label(), describe_dest(d)))])
                    .fix(format!("On {}: ipvsadm -Lnc | grep {} (templates); to drain immediately: sysctl -w net.ipv4.vs.expire_quiescent_template=1", dir.host, d.address)),
                );
            }
        }
    }
}
