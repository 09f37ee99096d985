//! `ipvs-dest-unseen`: a real server that IPVS has (weight above 0) gets no
//! connections while the service gets plenty: in the captures (the director
//! forwarded none to it) or, live, in IPVS's own counters.
//!
//! Proves the fault (essential evidence):
//! - a director snapshot whose IPVS service has at least 2 real servers of
//!   weight above 0, this one among them;
//! - offline: the captures show the director forwarding at least 2
//!   connections per such real server to the service and none to this
//!   address; live: IPVS's counters say the same;
//! - a DR real server counts by address when captured ARP or the snapshots
//!   (its own link, the director's neighbour entry) tie its MAC to its RIP
//!   (`Context::rs_id`).
//!
//! Makes it more certain (supporting, not required):
//! - the scheduler (named); a persistent service makes it info (few clients
//!   stick to few real servers).

use super::config_view::{describe_dest, ipvs_services, line};
use super::{Check, Context};
use crate::finding::{Finding, Severity};
use crate::model::RsId;

#[derive(Default, Clone)]
pub struct IpvsDestUnseen;

impl Check for IpvsDestUnseen {
    fn wants_flows(&self) -> bool {
        false
    }

    fn finish(&mut self, ctx: &Context<'_>, out: &mut Vec<Finding>) {
        let live = ctx.points.is_empty();
        for (dir, key, s) in ipvs_services(ctx.snapshots) {
            let active: Vec<_> = s.destinations.iter().filter(|d| d.weight > 0).collect();
            let need = 2 * active.len() as u64;
            let total = if live {
                s.stats.map_or(0, |st| st.conns)
            } else {
                ctx.shared.forwarded.count(ctx, key, None)
            };
            if active.len() < 2 || total < need {
                continue; // too few connections to expect every real server to get one
            }
            let n_active = active.len() as u64;
            for d in active {
                let got = if live {
                    d.stats.map_or(
                        u64::from(d.active_conns) + u64::from(d.inactive_conns),
                        |st| st.conns,
                    )
                } else {
                    ctx.shared.forwarded.count(ctx, key, Some(d.address))
                };
                if got > 0 {
                    continue;
                }
                let (sev, why) = if s.persistent {
                    (Severity::Info, format!("The service is persistent ({} s): clients stick to the real server they got first, so with few clients some real servers get none.", s.timeout))
                } else {
                    (Severity::Warning, format!("With scheduler {} every real server of weight above 0 should get a share. None reached it: it may be overloaded (thresholds), quiesced since, or the director's forwarding to it fails before any capture point.", s.scheduler.as_deref().unwrap_or("?")))
                };
                let seen = if live {
                    "IPVS scheduled"
                } else {
                    "the captures show"
                };
                out.push(
                    Finding::new(
                        "ipvs-dest-unseen",
                        sev,
                        format!("{} is in IPVS with weight {} but {seen} no connection to it, out of {total} to the service", d.address, d.weight),
                    )
                    .service(key)
                    .real_server(RsId::Ip(d.address))
                    .affected(total / n_active)
                    .absence()
                    .cause(why)
                    .config([line(dir, format!("{key} {}", describe_dest(d)))])
                    .fix(format!("On {}: ipvsadm -Ln --stats {} and ipvsadm -Lnc | grep {}; check the real server's health checks", dir.host, key.ipvsadm_arg().unwrap_or_default(), d.address)),
                );
            }
        }
    }
}
