//! `vrrp-master-flapping` (warning): the master of a virtual router keeps
//! changing: a router becomes master again after another took over, three
//! changes or more; or the master's adverts stop for longer than the
//! master-down interval (3 × interval + skew) and resume, twice or more.
//! Orderly takeovers (each new master stays) are not flapping; two masters
//! at once are `vrrp-split-brain`.

use super::vrrp_split_brain::MIN_ALTERNATIONS;
use super::{Check, Context};
use crate::finding::{Finding, Severity};
use crate::flow::vrrp::Vrid;
use crate::text::fmt_time;

#[derive(Clone)]
pub struct VrrpMasterFlapping;

/// Master changes (with a router coming back) that make it flapping.
const MIN_CHANGES: usize = 3;
/// Silences after which the same master resumed.
const MIN_GAPS: u64 = 2;

fn split_brain(x: &Vrid) -> bool {
    x.alternations.values().any(|a| a.count >= MIN_ALTERNATIONS)
}

impl Check for VrrpMasterFlapping {
    fn finish(&mut self, ctx: &Context<'_>, out: &mut Vec<Finding>) {
        for x in ctx.hosts.vrrp.vrids.values() {
            if split_brain(x) {
                continue;
            }
            let changes = x.periods.len().saturating_sub(1) + x.periods_dropped as usize;
            let returns = x
                .periods
                .iter()
                .enumerate()
                .filter(|(i, p)| {
                    x.periods[..*i].iter().any(|q| q.router == p.router)
                        && x.periods[i - 1].router != p.router
                })
                .count();
            let flapping = changes >= MIN_CHANGES && returns > 0;
            let silences = x.gap_count >= MIN_GAPS;
            if !flapping && !silences {
                continue;
            }
            let timeline: Vec<String> = x
                .periods
                .iter()
                .take(8)
                .map(|p| format!("{} from {}", x.routers[p.router].ip, fmt_time(p.from.time)))
                .collect();
            let mut what = Vec::new();
            if flapping {
                what.push(format!(
                    "the master changed {changes} times ({returns} back to an earlier master)"
                ));
            }
            if silences {
                what.push(format!(
                    "the adverts stopped {} times for longer than the master-down interval",
                    x.gap_count
                ));
            }
            let mut f = Finding::new(
                "vrrp-master-flapping",
                Severity::Warning,
                format!(
                    "{}: {}: {}{}",
                    x.key,
                    what.join(", and "),
                    timeline.join(", "),
                    if x.periods.len() > 8 { ", …" } else { "" }
                ),
            )
            .cause("The backup stops hearing the master now and then and takes over; the master's next advert (higher priority) takes it back. Adverts are lost on the way (a congested or lossy link, a busy CPU delaying keepalived, multicast dropped by the switch now and then), or the master itself keeps failing a tracked script or interface.")
            .evidence(
                x.periods
                    .iter()
                    .skip(1)
                    .map(|p| p.from)
                    .chain(x.gaps.iter().flat_map(|g| [g.0, g.1])),
            )
            .fix("Find the lost adverts: tcpdump -ni IFACE 'ip proto 112' on both routers and compare; look for packet loss (ip -s link, tc -s qdisc) and keepalived's log (journalctl -u keepalived: 'Entering MASTER/BACKUP STATE', script failures). A longer advert_int or nopreempt on the backup make short losses harmless.");
            if !flapping {
                // Only silences: a capture point that dropped packets could
                // show the same.
                f = f.absence();
            }
            out.push(f);
        }
    }
}
